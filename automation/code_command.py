"""Verification codes from a command of the user's: an API, a forwarding service, an SMS gateway.

`HTX_KEYS_CODE_COMMAND` is a command line, split the way a shell would (schema.py
split_command_line) and run without a shell, each time a step needs an emailed or SMS code.
What is wanted goes in its environment, never in its arguments (argv is visible in `ps`):

    HTX_CODE_KIND      email or sms
    HTX_CODE_SENT_AT   when Send was pressed: ISO 8601 UTC, whole seconds rounded down
    HTX_CODE_ACCOUNT   the account's login (its email address)
    HTX_CODE_ATTEMPT   1; 2 and 3 when HTX refused the code(s) before it
    HTX_CODE_TIMEOUT   whole seconds it has before the tool gives up (the mail timeout)

It prints the code on stdout and exits 0. Its environment is the tool's without the account's
secrets and saved session (schema.py without_secrets): it is given what it needs to find a
code, not the account. Its stderr is kept for the error message.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from automation.errors import CodeCommandError, ConfigError, HtxKeysError
from automation.redaction import REDACTOR
from automation.schema import (
    check_command_line,
    find_program,
    split_command_line,
    without_secrets,
)

Kind = Literal["email", "sms"]
KIND_NAMES: dict[Kind, str] = {"email": "email", "sms": "SMS"}
CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")  # HTX's codes: six digits, not part of a longer number
PROGRESS_EVERY = 5.0
STOP_GRACE_S = 2.0  # after SIGTERM, before SIGKILL
MAX_SHOWN = 160  # characters of the command's stderr shown in an error


class CodeSource(Protocol):
    """Where a step's email (or SMS) code comes from: automation.mail.Inbox, or the command.

    `mark()` is called right before Send is pressed; `wait_for_code()` returns a code that
    arrived after it, a different one on each call (HTX refused the one before)."""

    def mark(self) -> None: ...
    def wait_for_code(self, timeout: float = 120.0) -> str: ...


@dataclass(frozen=True)
class CodeCommand:
    argv: tuple[str, ...]

    @property
    def name(self) -> str:
        """How messages name it: the program's file name (its arguments may be private)."""
        return os.path.basename(self.argv[0])


def find_code_command(
    text: str, label: str, error: type[HtxKeysError] = ConfigError
) -> CodeCommand:
    """Split the command line and find its program (on PATH, or a path to an executable);
    `error` (a ConfigError, or an InputError for a flag) names `label` when it cannot."""
    try:
        argv = split_command_line(check_command_line(text, label))
    except ConfigError as exc:
        raise error(exc.message) from None
    return CodeCommand((find_program(argv[0], label, error), *argv[1:]))


def sent_at_text(when: float) -> str:
    return dt.datetime.fromtimestamp(int(when), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CommandCodes:
    """The codes of one kind (email or SMS) for one account, from the code command."""

    def __init__(
        self,
        command: CodeCommand,
        kind: Kind,
        account: str,
        *,
        on_progress: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        poll_interval: float = 2.0,
    ) -> None:
        self.command = command
        self.kind = kind
        self.account = account
        self._on_progress = on_progress
        self._clock = clock
        self._poll = poll_interval
        self._sent_at: float | None = None
        self._attempt = 0
        self._handed_out: set[str] = set()  # codes returned since the mark: never twice
        self._repeated = False  # this wait has seen the command print a code already tried

    @property
    def what(self) -> str:
        return f"{KIND_NAMES[self.kind]} code"

    def mark(self) -> None:
        """Remember when Send is pressed: call right BEFORE pressing it."""
        self._sent_at = self._clock()
        self._attempt = 0
        self._handed_out.clear()

    def wait_for_code(self, timeout: float = 120.0) -> str:
        """Run the command (again, while it prints only codes already tried) until it gives a
        new code, within `timeout` seconds in all."""
        if self._sent_at is None:
            raise RuntimeError("CommandCodes.mark() must be called before pressing Send")
        self._attempt += 1
        deadline = time.monotonic() + timeout
        self._repeated = False
        while True:
            code = self._run(deadline, timeout)
            if code not in self._handed_out:
                self._handed_out.add(code)
                return code
            repeated, self._repeated = self._repeated, True
            if time.monotonic() + self._poll >= deadline:
                raise self._timed_out(timeout)
            if not repeated:
                self._report(f"the code command printed a {self.what} already tried; asking again")
            time.sleep(self._poll)

    def _timed_out(self, timeout: float) -> CodeCommandError:
        name = self.command.name
        if self._repeated:
            return CodeCommandError(
                f"The code command ({name}) printed only {self.what}s HTX already refused, "
                f"for {timeout:g} s",
                hint="it should print the newest code sent after HTX_CODE_SENT_AT",
            )
        return CodeCommandError(
            f"The code command ({name}) gave no {self.what} within {timeout:g} s",
            hint="it is told the time it has in HTX_CODE_TIMEOUT; HTX_MAIL_TIMEOUT sets it",
        )

    # -- internals -----------------------------------------------------------------------------

    def _environment(self, left: float) -> dict[str, str]:
        assert self._sent_at is not None
        env = without_secrets(os.environ)
        env.update(
            HTX_CODE_KIND=self.kind,
            HTX_CODE_SENT_AT=sent_at_text(self._sent_at),
            HTX_CODE_ACCOUNT=self.account,
            HTX_CODE_ATTEMPT=str(self._attempt),
            HTX_CODE_TIMEOUT=str(max(1, int(left))),
        )
        return env

    def _run(self, deadline: float, timeout: float) -> str:
        name = self.command.name
        try:
            proc = subprocess.Popen(
                self.command.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._environment(deadline - time.monotonic()),
                # Its own session, so that stopping it stops whatever it started too.
                start_new_session=os.name == "posix",
            )
        except OSError as exc:
            raise CodeCommandError(
                f"Cannot run the code command ({name}): {exc.strerror or exc}"
            ) from None
        try:
            out, err = self._communicate(proc, deadline, timeout)
        finally:
            _stop(proc)
        text = out.decode("utf-8", "replace")
        codes: list[str] = list(dict.fromkeys(CODE.findall(text)))
        for code in codes:  # whatever it printed may be a code: never shown
            REDACTOR.add(code, label=self.what)
        stderr = _last_line(err.decode("utf-8", "replace"))
        said = f": {stderr}" if stderr else ""
        if proc.returncode != 0:
            how = (
                f"was ended by signal {-proc.returncode}"
                if proc.returncode < 0
                else f"exited with status {proc.returncode}"
            )
            raise CodeCommandError(f"The code command ({name}) {how}{said}")
        if not codes:
            raise CodeCommandError(
                f"The code command ({name}) printed no 6-digit {self.what}{said}",
                hint="it must print the code on stdout",
            )
        if len(codes) > 1:
            raise CodeCommandError(
                f"The code command ({name}) printed {len(codes)} different 6-digit numbers; "
                "it must print one code",
            )
        return codes[0]

    def _communicate(
        self, proc: subprocess.Popen[bytes], deadline: float, timeout: float
    ) -> tuple[bytes, bytes]:
        start = time.monotonic()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                _stop(proc)
                raise self._timed_out(timeout)
            try:
                return proc.communicate(timeout=min(PROGRESS_EVERY, left))
            except subprocess.TimeoutExpired:
                # Waiting again loses no output (subprocess keeps what it read).
                self._report(
                    f"waiting for the {self.what} from the code command "
                    f"({time.monotonic() - start:.0f} s)…"
                )

    def _report(self, text: str) -> None:
        if self._on_progress is not None:
            self._on_progress(text)


def _last_line(text: str) -> str:
    """The command's last word on stderr, scrubbed and cut to one short line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    # A 6-digit number there can only be a code (one it did not print on stdout): masked too.
    line = CODE.sub(REDACTOR.MASK, REDACTOR.scrub(" ".join(lines[-1].split())))
    return (line[: MAX_SHOWN - 1] + "…") if len(line) > MAX_SHOWN else line


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End the command and whatever it started (its own session on POSIX)."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, STOP_GRACE_S), (getattr(signal, "SIGKILL", None), 5.0)):
        with contextlib.suppress(OSError):
            if os.name == "posix" and sig is not None:
                os.killpg(proc.pid, sig)
            else:
                proc.kill()
        try:
            proc.communicate(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
