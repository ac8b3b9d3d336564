"""`htx-keys demo`: the whole job on the embedded default, started and stopped in one command."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from automation.config import Settings, default_state_dir
from automation.redaction import REDACTOR
from automation.runner import Reporter
from automation.store import Store, keyring_usable, open_store
from flows.htx.limits import check_request
from htx_keys.options import report_key
from htx_keys.provisioning import RunOptions, prepare, provision
from sandbox.accounts import demo_account
from sandbox.mailer import MailTarget
from sandbox.mailserver import EmbeddedImap
from sandbox.server import SandboxConfig, SandboxServer

DEMO_SERVICE = "htx-keys-demo"  # keeps made-up sandbox keys apart from real ones


def demo_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "htx-keys"


def demo_store(reporter: Reporter) -> Store:
    usable, reason = keyring_usable(DEMO_SERVICE)
    if usable:
        return open_store(f"keyring:{DEMO_SERVICE}")
    path = demo_data_dir() / "demo-keys.json"
    reporter.info(f"no usable OS keyring ({reason}); the key goes to {path} (mode 0600)")
    return open_store(f"json:{path}")


@contextmanager
def demo_site(reporter: Reporter, *, browser: str | None = None) -> Iterator[Settings]:
    """The sandbox website and an embedded IMAP server on free loopback ports, with a made-up
    account; yields the settings that reach them, and stops both on the way out."""
    account = demo_account()
    REDACTOR.add(account.password, label="demo password")
    REDACTOR.add(account.totp_secret, label="demo TOTP seed")
    with tempfile.TemporaryDirectory(prefix="htx-keys-demo-") as tmp:
        imap = EmbeddedImap(Path(tmp), user="demo")
        reporter.info("starting the embedded IMAP server (pymap, STARTTLS)")
        imap.start()
        try:
            REDACTOR.add(imap.password, label="demo IMAP password")
            target = MailTarget.parse(imap.delivery_url(), ca_file=imap.ca_file)
            with SandboxServer(SandboxConfig(accounts=[account], mail_target=target)) as server:
                reporter.info(f"HTX sandbox at {server.base_url}, mail on {imap.host}:{imap.port}")
                yield Settings(
                    base_url=server.base_url,
                    api_url=server.base_url,  # the replica serves its REST API on one origin
                    email=account.email,
                    password=account.password,
                    totp_secret=account.totp_secret,
                    imap_host=imap.host,
                    imap_port=imap.port,
                    imap_user=imap.user,
                    imap_password=imap.password,
                    imap_security="starttls",
                    imap_ca_file=imap.ca_file,
                    mail_from="*@htx.com",
                    browser=browser,
                    state_dir=default_state_dir(),
                )
        finally:
            imap.stop()


def run_demo(
    *,
    fmt: str,
    quiet: bool,
    headed: bool,
    browser: str | None,
    cdp_endpoint: str | None = None,
    ws_endpoint: str | None = None,
) -> None:
    reporter = Reporter(quiet=quiet)
    started = time.monotonic()
    with demo_site(reporter, browser=browser) as settings:
        request = check_request("htx-keys demo", ["read", "trade"], [])
        # The seed is made up for this run: nothing to remember between runs.
        options = RunOptions(
            headed=headed,
            use_totp_state=False,
            cdp_endpoint=cdp_endpoint,
            ws_endpoint=ws_endpoint,
        )
        prep = prepare(settings, request, demo_store(reporter), options)
        result = provision(prep, options, reporter)
    reporter.info(
        f"demo finished in {time.monotonic() - started:.1f} s; sandbox and mail server stopped"
    )
    report_key(result.record, result.stored_in, result.verification, fmt)
