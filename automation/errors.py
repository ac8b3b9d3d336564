"""The error hierarchy and the exit status of each class of failure.

Every failure the tool expects has its own exception class and its own exit status, so a
script or CI job can tell "the mailbox never got the code" from "the site changed its page".
Messages are one line, never contain a secret, and say what to do where that is known.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1  # unexpected failure
    USAGE = 2  # bad input: flags, values (click uses 2 for usage errors too)
    CONFIG = 3  # a setting is missing or malformed
    LOGIN = 4  # the site refused the credentials or the GA code at login
    SITE = 5  # the page did not behave as expected (changed page, timeout, server error)
    MAIL = 6  # the mailbox could not be reached, or the code never came
    OTP = 7  # no usable Google Authenticator code
    STORE = 8  # the key could not be stored where asked (it was saved to a rescue file)
    REJECTED = 9  # the exchange refused the request (limits, validation, codes)
    VERIFY = 10  # the key was created but does not work as asked
    CAPTCHA = 11  # a captcha needs a person (headless run); `htx-keys login --headed` once
    HUMAN = 12  # the site asks for something only a person has (an SMS code) and none is here
    DOCTOR = 13  # `htx-keys doctor` found a check that fails
    ATTENTION = 14  # keys need a person: expiring soon (`keys list --expiring-within`), orphans
    NOT_FOUND = 15  # no such key, on HTX or here
    CODE_COMMAND = 16  # the code command failed, timed out or printed no code
    SOME_FAILED = 17  # provision --accounts: one account or more failed (each says why)
    PICTURES_CHANGED = 18  # `record --compare`: a step's picture differs from the old guide's
    INTERRUPTED = 130  # Ctrl-C / SIGTERM


class HtxKeysError(Exception):
    """Base class: an expected failure with a one-line message and an exit status."""

    exit_status: int = ExitStatus.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InputError(HtxKeysError):
    """A value given by the user is invalid (note, IP, permission, store spec...)."""

    exit_status = ExitStatus.USAGE


class ConfigError(HtxKeysError):
    """A required setting is missing or malformed (e.g. HTX_TOTP_SECRET is not base32)."""

    exit_status = ExitStatus.CONFIG


class LoginError(HtxKeysError):
    exit_status = ExitStatus.LOGIN


class SessionEnded(LoginError):
    """The site ended the login in the middle of a run: a call was refused for want of a session
    and the page went to the login form. Nothing the refused call asked for was done."""


class SiteError(HtxKeysError):
    """The site did not show what the flow expected: a changed page, a timeout, a 5xx."""

    exit_status = ExitStatus.SITE


class MailError(HtxKeysError):
    """The mailbox could not be reached or read (connection, TLS, login)."""

    exit_status = ExitStatus.MAIL


class MailTimeout(MailError):
    """No matching verification mail arrived in time."""


class OtpError(HtxKeysError):
    exit_status = ExitStatus.OTP


class StoreError(HtxKeysError):
    exit_status = ExitStatus.STORE


class RejectedError(HtxKeysError):
    """The exchange refused the request and said why (limit reached, wrong code...)."""

    exit_status = ExitStatus.REJECTED


class VerifyError(HtxKeysError):
    exit_status = ExitStatus.VERIFY


class Interrupted(HtxKeysError):
    """Ctrl-C or SIGTERM, caught where something had to be saved first."""

    exit_status = ExitStatus.INTERRUPTED


class CaptchaRequired(HtxKeysError):
    """The site shows a captcha: the tool never solves one, a person must."""

    exit_status = ExitStatus.CAPTCHA


class HumanNeeded(HtxKeysError):
    """The site asks for something only a person can give (an SMS code)."""

    exit_status = ExitStatus.HUMAN


class NotFound(HtxKeysError):
    """The key asked for is neither on HTX nor in the store."""

    exit_status = ExitStatus.NOT_FOUND


class NeedsAttention(HtxKeysError):
    """A check for scheduled runs found keys a person should look at."""

    exit_status = ExitStatus.ATTENTION


class CodeCommandError(HtxKeysError):
    """The code command (HTX_KEYS_CODE_COMMAND) failed, timed out or printed no code."""

    exit_status = ExitStatus.CODE_COMMAND


class SomeFailed(HtxKeysError):
    """Several accounts were provisioned and one or more of them failed; the output has a
    line (or object) per account saying which and why."""

    exit_status = ExitStatus.SOME_FAILED


class ExitWith(HtxKeysError):
    """A command's own exit status, already explained in its output: doctor's failed checks
    (13), exec's command's status. The CLI exits with it and prints nothing more."""

    def __init__(self, status: int) -> None:
        super().__init__("")
        self.exit_status = status
