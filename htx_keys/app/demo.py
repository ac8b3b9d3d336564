"""`htx-keys demo`: the whole job on the embedded default, started and stopped in one command."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from automation.config import TOTP_PERIOD, browser_values
from automation.platform_dirs import native_dir
from automation.runner import Reporter
from automation.store import Store, keyring_usable, open_store
from flows.htx.limits import check_request
from htx_keys.app.output import Made
from htx_keys.app.preflight import RunOptions, prepare
from htx_keys.app.provisioning import provision
from htx_keys.app.replica import demo_site

DEMO_SERVICE = "htx-keys-demo"  # keeps made-up sandbox keys apart from real ones


def demo_data_dir() -> Path:
    """$XDG_DATA_HOME/htx-keys (~/.local/share/htx-keys), or the platform's data folder."""
    native = native_dir("data", os.environ)
    if native is not None:
        return native
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "htx-keys"


def demo_store(reporter: Reporter) -> Store:
    usable, reason = keyring_usable(DEMO_SERVICE)
    if usable:
        return open_store(f"keyring:{DEMO_SERVICE}")
    path = demo_data_dir() / "demo-keys.json"
    reporter.info(f"no usable OS keyring ({reason}); the key goes to {path} (mode 0600)")
    return open_store(f"json:{path}")


def run_demo(
    *,
    quiet: bool,
    headed: bool,
    browser: Mapping[str, Any] | None = None,
    totp_period: int = TOTP_PERIOD,
) -> Made:
    """Start the replica and its mail server, make a key, stop both; what was made.
    `browser`: the browser flags given (browser, cdp_endpoint, ws_endpoint,
    allow_insecure_transport; None: not given), over the environment and ./.env."""
    reporter = Reporter(quiet=quiet)
    started = time.monotonic()
    reach = browser_values(browser or {})  # checked before anything starts
    with demo_site(reporter, browser=reach, totp_period=totp_period) as settings:
        request = check_request("htx-keys demo", ["read", "trade"], [])
        # The seed is made up for this run: nothing to remember between runs.
        options = RunOptions(headed=headed, use_totp_state=False)
        prep = prepare(settings, request, demo_store(reporter), options)
        result = provision(prep, options, reporter)
    reporter.info(
        f"demo finished in {time.monotonic() - started:.1f} s; sandbox and mail server stopped"
    )
    return Made(result.record, result.stored_in, result.verification)
