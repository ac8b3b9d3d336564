"""`htx-keys exec [options] -- CMD ARGS`: a key that lives as long as one command.

Provision a key (stored like any other, so nothing is lost if this process dies), run CMD with
HTX_ACCESS_KEY / HTX_SECRET_KEY in its environment (and without the account's secrets and
saved session), then delete the key on HTX and here, whatever way CMD ended: success, failure,
Ctrl-C, SIGTERM or a hang-up (SIGHUP). The exit status is CMD's.

Signals while CMD runs: SIGTERM and SIGHUP are passed on to CMD (CI cancelling a job usually
signals only the main process; a closed SSH session hangs up on this one); SIGINT is not,
since Ctrl-C at a terminal reaches CMD by itself. Either way the key is revoked once CMD has
ended. The browser's login is kept in memory between
creating and revoking, so revoking needs no second login.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from automation.errors import HtxKeysError, InputError, NotFound, VerifyError
from automation.schema import without_secrets
from automation.store import KeyRecord, check_store, short
from flows.htx.limits import KeyRequest
from htx_keys.app.lifecycle import forget, not_revoked
from htx_keys.app.output import KeyOutput
from htx_keys.app.provisioning import check_new_key
from htx_keys.app.subuser import check_sub_user_request, pick_parent, provision_sub_user
from htx_keys.app.subuser_lifecycle import revoke_sub_user_key
from htx_keys.app.web_run import WebRun
from htx_keys.app.web_session import web_session


def default_note() -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"exec {socket.gethostname()[:40]} {stamp}"


def run_with_key(
    run: WebRun,
    request: KeyRequest,
    command: list[str],
    sub_uid: int | None,
    parent_key: str | None,
    out: KeyOutput,
    report: Callable[[HtxKeysError], None],
) -> int:
    """Make the key, run the command with it, revoke it however the command ended; the
    command's exit status. A key that cannot be revoked after a failed command is reported
    through `report` (the command's status is what the caller acts on)."""
    check_store(run.store)
    if sub_uid is not None:
        record, revoke = _sub_user_key(run, request, sub_uid, parent_key, out)
    else:
        record, revoke = _web_key(run, request)
    status = 1
    try:
        status = run_child(command, record, run)
    finally:
        try:
            revoke()
        except HtxKeysError as exc:
            if status == 0:
                raise
            report(exc)
    return status


def _web_key(run: WebRun, request: KeyRequest) -> tuple[KeyRecord, Callable[[], None]]:
    """A key made in the website, and how to revoke it there (with the same login)."""
    prep = run.prepare(creating=True)
    if not run.settings.password:
        run.reporter.info(
            "warning: no HTX_PASSWORD: should the saved session expire while the command runs, "
            "the key can only be revoked by hand"
        )
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
        if run.options.verify:
            verification = check_new_key(run.settings.api_url, record, run.reporter)
            if verification.status == "failed":
                raise VerifyError(f"The new key does not work: {verification.reason}")
    except BaseException:
        if record is not None:
            _revoke(run, prep, record, state)
        raise
    made = record
    return made, lambda: _revoke(run, prep, made, state)


def _sub_user_key(
    run: WebRun, request: KeyRequest, sub_uid: int, parent_key: str | None, out: KeyOutput
) -> tuple[KeyRecord, Callable[[], None]]:
    """A sub-user's key made over REST by the parent, and how to delete it the same way."""
    check_sub_user_request(request)
    run.ask_for("totp_secret")
    run.settings.require("totp_secret")
    parent = pick_parent(run.store, run.settings.email or "", parent_key)
    made: list[KeyRecord] = []

    def seen(record: KeyRecord) -> None:
        made.append(record)  # from this moment on, a failure revokes it
        if run.options.on_key is not None:  # the output's, audited
            run.options.on_key(record)

    def revoke() -> None:
        record = made[0]
        local = revoke_sub_user_key(
            run.settings, run.store, parent, sub_uid, record.access_key, run.reporter
        )
        run.reporter.info(f"key {short(record.access_key)} revoked; {local}")

    try:
        provision_sub_user(
            run.settings, request, run.store, parent, sub_uid, run.reporter,
            verify=False, on_key=seen,
        )  # fmt: skip
        if run.options.verify:
            verification = check_new_key(run.settings.api_url, made[0], run.reporter, parent)
            if verification.status == "failed":
                raise VerifyError(f"The new key does not work: {verification.reason}")
    except BaseException:
        if made:
            revoke()
        raise
    return made[0], revoke


def find_program(name: str) -> str:
    """The command's path, checked before anything is made: a typo costs no key."""
    if os.sep in name:
        if os.path.isfile(name) and os.access(name, os.X_OK):
            return name
        raise InputError(f"{name}: not an executable file")
    found = shutil.which(name)
    if found is None:
        raise InputError(f"{name}: command not found (on PATH)")
    return found


def child_environment(record: KeyRecord) -> dict[str, str]:
    """This environment without the account's secrets and saved session (the command gets a
    key, not the account), plus the key."""
    env = without_secrets(os.environ)
    env.update(HTX_ACCESS_KEY=record.access_key, HTX_SECRET_KEY=record.secret_key)
    return env


def passed_on() -> list[signal.Signals]:
    """The signals passed on to CMD: SIGTERM, and a hang-up (the terminal or SSH connection
    closed) where there is one (not on Windows). A signal ignored when this process started
    (`nohup htx-keys exec ...`) stays ignored."""
    names = ("SIGTERM", "SIGHUP")
    wanted = [getattr(signal, name) for name in names if hasattr(signal, name)]
    return [s for s in wanted if s == signal.SIGTERM or signal.getsignal(s) != signal.SIG_IGN]


def run_child(command: list[str], record: KeyRecord, run: WebRun) -> int:
    """Run the command to its end; SIGTERM and SIGHUP are passed on, Ctrl-C reaches it by
    itself."""
    children: list[subprocess.Popen[bytes]] = []
    stopped: list[int] = []

    def on_term(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        run.reporter.info(f"{name}: passing it on; the key is revoked once the command ends")
        stopped.append(signum)
        for child in children:
            child.send_signal(signum)

    def on_int(_signum: int, _frame: object) -> None:
        run.reporter.info("Ctrl-C: the key is revoked once the command ends")
        stopped.append(signal.SIGINT)

    handlers = {**{s: on_term for s in passed_on()}, signal.SIGINT: on_int}
    previous = {s: signal.signal(s, handler) for s, handler in handlers.items()}
    try:
        if stopped:  # a signal came before the command started: it never runs
            return 128 + stopped[0]
        run.reporter.info(f"running {command[0]} with key {short(record.access_key)}")
        try:
            children.append(subprocess.Popen(command, env=child_environment(record)))
        except (OSError, ValueError) as exc:
            run.reporter.info(f"cannot run {command[0]}: {getattr(exc, 'strerror', None) or exc}")
            return 126
        if stopped and stopped[-1] != signal.SIGINT:  # came while the command was starting
            children[0].send_signal(stopped[-1])
        code = children[0].wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    status = 128 - code if code < 0 else code  # -N: ended by signal N
    run.reporter.info(f"{command[0]} exited with status {status}")
    return status


def _revoke(run: WebRun, prep: Any, record: KeyRecord, state: dict[str, Any] | None) -> None:
    """Delete the key on HTX and here; a second signal meanwhile is reported, not ignored."""
    again = replace(prep, saved_state=state) if state else prep
    try:
        with web_session(again, run.options, run.reporter) as session:
            session.delete(record.access_key)
    except NotFound:
        run.reporter.info(f"key {short(record.access_key)} was already gone from HTX")
    except (HtxKeysError, KeyboardInterrupt) as exc:
        raise not_revoked(
            exc,
            f"The key {record.access_key}",
            run.store.location,
            f"htx-keys keys revoke {record.access_key}",
        ) from None
    run.reporter.info(
        f"key {short(record.access_key)} revoked; {forget(run.store, record.access_key)}"
    )
