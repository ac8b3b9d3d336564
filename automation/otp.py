"""Google Authenticator (TOTP, RFC 6238) codes that the exchange will accept.

Two rules shape this module:

* HTX accepts each code once (RFC 6238 section 5.2: a verifier rejects a time step it has already
  accepted). The tool logs in with one code and confirms the key with another, and two runs may
  start seconds apart, so each code must come from a time step nobody has used yet: this process
  or any other using the same seed. Used steps are recorded in memory and, when ``state_dir`` is
  given, in a small JSON file shared under a lock file (automation/locks.py).
* A code generated with two seconds left may expire while the page submits it, so a code is only
  handed out with at least ``min_remaining`` seconds left in its step (by default a tenth of the
  period: 3 s of HTX's 30 s); otherwise we wait for the next step.

The state file holds only ``{"last_step": N}`` and is named after a fingerprint of the seed (the
first 16 hex digits of its SHA-256), never the seed itself; a period other than HTX's 30 s (a
test sandbox) has a file of its own, since its steps count in other units.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyotp

from automation.errors import ConfigError, OtpError
from automation.files import atomic_write
from automation.locks import file_lock
from automation.redaction import REDACTOR

__all__ = ["Totp", "validate_secret"]

_BAD_SECRET = "HTX_TOTP_SECRET is not a valid base32 Google Authenticator seed"
_B32_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
# Sites show seeds in groups ("JBSW Y3DP ...") and some use dashes; neither is part of the seed.
_SEPARATORS = " \t\r\n-"
# 16 base32 characters = 80 bits, the shortest seed authenticator apps accept.
_MIN_SECRET_CHARS = 16
# A recorded step further ahead than this means the clock went back (or the file is bogus);
# waiting for it would hang the run, so stop and say so instead.
_MAX_WAIT_STEPS = 3
# HTX's period, and every authenticator app's.
_LIVE_PERIOD = 30
# The share of a period a code must have left when handed out: 3 s at 30 s. A share rather
# than fixed seconds, so a sandbox's short period (tests) does not wait most of each step.
_MIN_REMAINING_SHARE = 0.1


class _SeedTotp(pyotp.TOTP):
    """pyotp's TOTP without its 112-bit minimum on the seed.

    pyotp (since 2.10) refuses seeds shorter than 112 bits, following NIST SP 800-63B for
    *issuing* secrets. We do not issue them: HTX, like most sites, hands out 16-character
    (80-bit) Google Authenticator seeds, and we must compute the same codes the phone app does.
    """

    def byte_secret(self) -> bytes:
        return base64.b32decode(self.secret, casefold=True)


def validate_secret(secret: str) -> str:
    """Normalise a base32 seed (no separators, upper case, '=' padding) or raise ConfigError.

    The value itself never appears in the message: it is a long-lived secret.
    """
    cleaned = "".join(ch for ch in secret if ch not in _SEPARATORS).upper().rstrip("=")
    if len(cleaned) < _MIN_SECRET_CHARS or not set(cleaned) <= _B32_ALPHABET:
        raise ConfigError(_BAD_SECRET, hint="Copy the setup key shown when GA was bound")
    padded = cleaned + "=" * (-len(cleaned) % 8)
    try:
        base64.b32decode(padded)  # rejects lengths no base32 encoder can produce
    except (binascii.Error, ValueError):
        raise ConfigError(_BAD_SECRET, hint="Copy the setup key shown when GA was bound") from None
    return padded


class Totp:
    """Hands out TOTP codes, each from a fresh time step with enough time left to be used."""

    def __init__(
        self,
        secret: str,
        *,
        period: int = 30,
        digits: int = 6,
        min_remaining: float | None = None,
        state_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: Callable[[float], None] | None = None,
        on_sleep: Callable[[float], None] | None = None,
    ) -> None:
        if period <= 0:
            raise ValueError("period must be positive")
        if min_remaining is None:
            min_remaining = period * _MIN_REMAINING_SHARE
        if not 0 <= min_remaining < period:
            raise ValueError("min_remaining must be at least 0 and shorter than the period")
        normalised = validate_secret(secret)
        REDACTOR.add(normalised, label="TOTP seed")  # the normalised form differs from the input
        self._totp = _SeedTotp(normalised, digits=digits, interval=period)
        self._period = period
        self._min_remaining = min_remaining
        self._clock = clock
        self._sleep = sleep
        self._on_wait = on_wait  # told of a wait worth announcing (over half a second)
        self._on_sleep = on_sleep  # told of every wait, short ones too
        self._last_step: int | None = None
        self._state_file: Path | None = None
        self._lock_file: Path | None = None
        if state_dir is not None:
            fingerprint = hashlib.sha256(normalised.encode("ascii")).hexdigest()[:16]
            state_dir = Path(state_dir)
            state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Steps of another period count in other units: a 5 s ledger would read as a step
            # from the future to a 30 s run. HTX's period keeps the name it always had.
            name = f"totp-{fingerprint}" + ("" if period == _LIVE_PERIOD else f"-{period}s")
            self._state_file = state_dir / f"{name}.json"
            # A separate lock file: the state file is replaced on every write, and a lock on a
            # replaced inode would not exclude anyone.
            self._lock_file = state_dir / f"{name}.lock"

    @property
    def state_file(self) -> Path | None:
        return self._state_file

    @property
    def period(self) -> int:
        return self._period

    def ready_at(self) -> float:
        """The earliest wall time at which next_code() returns without waiting."""
        with self._locked():
            return self._ready_at(self._clock(), self._known_last_step())

    def next_code(self) -> str:
        """Wait until a fresh step with enough time left, record it as used, return its code."""
        announced = False
        while True:
            with self._locked():
                now = self._clock()
                last = self._known_last_step()
                ready = self._ready_at(now, last)
                if ready <= now:
                    step = self._step(now)
                    # Record before returning: if the caller crashes after submitting, the
                    # step is still burnt for every later run.
                    self._record(step)
                    code = self._totp.generate_otp(step)
                    REDACTOR.add(code, label="GA code")
                    return code
            wait = ready - now
            if wait > _MAX_WAIT_STEPS * self._period:
                raise OtpError(
                    "A Google Authenticator code from the future is recorded as used:"
                    " did the system clock go back?",
                    hint=f"Fix the clock, or delete {self._state_file} if it is wrong",
                )
            if not announced and wait > 0.5 and self._on_wait is not None:
                self._on_wait(wait)
                announced = True
            self._sleep(wait)
            if self._on_sleep is not None:
                self._on_sleep(wait)

    def mark_rejected(self) -> None:
        """The site refused the last code: never use its step or the current one again.

        A refusal usually means the step was already used elsewhere (the phone app, another
        run). The current step is burnt too, because by now the other user may well have
        taken it; the cost is at most one period of waiting.
        """
        with self._locked():
            self._record(self._step(self._clock()))

    # -- internals -----------------------------------------------------------------------------

    def _step(self, when: float) -> int:
        return int(when // self._period)

    def _ready_at(self, now: float, last: int | None) -> float:
        step, start = self._step(now), now
        if last is not None and step <= last:
            step, start = last + 1, (last + 1) * self._period
        if (step + 1) * self._period - start < self._min_remaining:
            step, start = step + 1, (step + 1) * self._period
        return max(start, now)

    def _known_last_step(self) -> int | None:
        steps = [s for s in (self._last_step, self._read_state()) if s is not None]
        return max(steps) if steps else None

    def _record(self, step: int) -> None:
        last = self._known_last_step()
        if last is not None and last > step:
            step = last  # never move the record backwards
        self._last_step = step
        if self._state_file is not None:
            self._write_state(step)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if self._lock_file is None:
            yield
            return
        # Held for a file read and write, never across a wait for the next step.
        with file_lock(self._lock_file, error=OtpError):
            yield

    def _read_state(self) -> int | None:
        if self._state_file is None:
            return None
        try:
            data = json.loads(self._state_file.read_text(encoding="utf-8"))
            return int(data["last_step"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            # Unreadable record: assume the step in which it was last written is taken, rather
            # than risk a reuse (the next write repairs the file).
            try:
                return self._step(self._state_file.stat().st_mtime)
            except OSError:
                return self._step(self._clock())

    def _write_state(self, step: int) -> None:
        assert self._state_file is not None
        atomic_write(self._state_file, json.dumps({"last_step": step}).encode())
