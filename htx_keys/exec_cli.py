"""`htx-keys exec [options] -- CMD ARGS`: a key that lives as long as one command.

Provision a key (stored like any other, so nothing is lost if this process dies), run CMD with
HTX_ACCESS_KEY / HTX_SECRET_KEY in its environment, then delete the key on HTX and here,
whatever way CMD ended: success, failure, Ctrl-C or SIGTERM. The exit status is CMD's.

Signals while CMD runs: SIGTERM is passed on to CMD (CI cancelling a job usually signals only
the main process); SIGINT is not, since Ctrl-C at a terminal reaches CMD by itself. Either
way the key is revoked once CMD has ended. The browser's login is kept in memory between
creating and revoking, so revoking needs no second login.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
from dataclasses import replace
from typing import Any

import click

from automation.errors import HtxKeysError, Interrupted, VerifyError
from automation.store import KeyRecord, check_store, short
from flows.htx.limits import check_request
from htx_keys.ci_output import KeyOutput
from htx_keys.lifecycle import forget
from htx_keys.options import ip_option, permission_option
from htx_keys.provisioning import check_new_key
from htx_keys.web_run import WebRun, web_options
from htx_keys.web_session import web_session


def default_note() -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"exec {socket.gethostname()[:40]} {stamp}"


@click.command()
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--note", help="The key's note [default: exec HOST TIME].")
@permission_option(metavar="read|trade")
@ip_option()
@click.option("--no-verify", is_flag=True, help="Do not check the key before running CMD.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "github"]),
    default="text",
    show_default=True,
    help="github: print ::add-mask:: for the pair the moment it is read, so the job's log "
    "never shows it, whatever CMD prints.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@web_options
def exec_command(
    command: tuple[str, ...],
    note: str | None,
    permissions: tuple[str, ...],
    ips: tuple[str, ...],
    no_verify: bool,
    fmt: str,
    quiet: bool,
    **web: Any,
) -> None:
    """Run CMD with a fresh key in HTX_ACCESS_KEY / HTX_SECRET_KEY, then revoke the key.

    Write the command after `--`: htx-keys exec -p trade -- python bot.py. The key is
    revoked when CMD ends, also when it fails or is stopped (Ctrl-C, SIGTERM); the exit
    status is CMD's (128+N when a signal N ended it). With --format github the pair is
    masked in the job's log before CMD starts.
    """
    out = KeyOutput(fmt)
    out.check()
    run = WebRun.from_options(web, quiet=quiet, verify=not no_verify, on_key=out.on_key)
    request = check_request(
        note or default_note(),
        permissions or run.settings.default_permissions or ("read",),
        ips or run.settings.default_ips,
        tag=run.tag,
    )
    check_store(run.store)
    prep = run.prepare()
    record: KeyRecord | None = None
    state: dict[str, Any] | None = None
    try:
        with web_session(prep, run.options, run.reporter) as session:
            try:
                record, _stored_in = session.create(request, run.store)
                state = session.storage_state()
            finally:
                record = record or (session.created[-1] if session.created else None)
        assert record is not None
        if not no_verify:
            verification = check_new_key(run.settings.api_url, record, run.reporter)
            if verification.status == "failed":
                raise VerifyError(f"The new key does not work: {verification.reason}")
    except BaseException:
        if record is not None:
            _revoke(run, prep, record, state)
        raise
    status = run_child(command, record, run)
    _revoke(run, prep, record, state)
    raise click.exceptions.Exit(status)


def run_child(command: tuple[str, ...], record: KeyRecord, run: WebRun) -> int:
    env = dict(os.environ, HTX_ACCESS_KEY=record.access_key, HTX_SECRET_KEY=record.secret_key)
    run.reporter.info(f"running {command[0]} with key {short(record.access_key)}")
    try:
        child = subprocess.Popen(list(command), env=env)
    except OSError as exc:
        run.reporter.info(f"cannot run {command[0]}: {exc.strerror or exc}")
        return 127 if isinstance(exc, FileNotFoundError) else 126

    def on_term(signum: int, _frame: object) -> None:
        run.reporter.info("SIGTERM: passing it on; the key is revoked once the command ends")
        child.send_signal(signum)

    def on_int(_signum: int, _frame: object) -> None:
        run.reporter.info("Ctrl-C: the key is revoked once the command ends")

    previous = signal.signal(signal.SIGTERM, on_term), signal.signal(signal.SIGINT, on_int)
    try:
        code = child.wait()
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
    status = 128 - code if code < 0 else code  # -N: ended by signal N
    run.reporter.info(f"{command[0]} exited with status {status}")
    return status


def _revoke(run: WebRun, prep: Any, record: KeyRecord, state: dict[str, Any] | None) -> None:
    """Delete the key on HTX and here; a second signal meanwhile is reported, not ignored."""
    again = replace(prep, saved_state=state) if state else prep
    try:
        with web_session(again, run.options, run.reporter) as session:
            session.delete(record.access_key)
    except (HtxKeysError, KeyboardInterrupt) as exc:
        message = exc.message if isinstance(exc, HtxKeysError) else "interrupted"
        error = Interrupted if isinstance(exc, KeyboardInterrupt) else HtxKeysError
        raise error(
            f"The key {record.access_key} was not revoked ({message}); it is stored in "
            f"{run.store.location}",
            hint=f"revoke it with `htx-keys keys revoke {record.access_key}`",
        ) from None
    run.reporter.info(
        f"key {short(record.access_key)} revoked; {forget(run.store, record.access_key)}"
    )
