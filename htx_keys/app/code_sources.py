"""Where a run's verification codes come from: the mailbox, the code command, or a person.

- Email codes: the IMAP mailbox when its settings are given (HTX_IMAP_HOST), else the code
  command (HTX_KEYS_CODE_COMMAND) when there is one. Without a mailbox the IMAP settings are
  not needed at all.
- SMS codes: the code command when there is one, else the person at a headed run's terminal,
  else the run stops (exit 12).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from automation.code_command import CodeCommand, CodeSource, CommandCodes, find_code_command
from automation.config import Settings
from automation.mail import Inbox
from automation.mail_settings import MailSettings
from automation.runner import Reporter

# The settings only the mailbox needs.
MAILBOX_SETTINGS = ("imap_host", "imap_password")


def imap_in_use(settings: Settings) -> bool:
    """Whether email codes are read from the mailbox: always, unless a code command is set
    and the IMAP host is not."""
    return bool(settings.imap_host) or not settings.code_command


def without_unused(settings: Settings, names: tuple[str, ...]) -> tuple[str, ...]:
    """`names` less the mailbox's settings when no mailbox is read."""
    if imap_in_use(settings):
        return names
    return tuple(name for name in names if name not in MAILBOX_SETTINGS)


def code_command_of(settings: Settings) -> CodeCommand | None:
    """The code command, split and its program found; a ConfigError before anything starts."""
    if not settings.code_command:
        return None
    return find_code_command(settings.code_command, settings.env_name("code_command"))


def describe(mail: MailSettings | None, command: CodeCommand | None) -> str:
    """Where the codes come from, for the line a run starts with."""
    parts = []
    if mail is not None:
        parts.append(f"mailbox of {mail.user} on {mail.host}:{mail.effective_port}")
    if command is not None:
        kinds = "SMS codes" if mail is not None else "email and SMS codes"
        parts.append(f"{kinds} from the code command ({command.name})")
    return "; ".join(parts)


@contextmanager
def code_sources(
    settings: Settings,
    mail: MailSettings | None,
    command: CodeCommand | None,
    reporter: Reporter,
) -> Iterator[tuple[CodeSource, CodeSource | None]]:
    """(email codes, SMS codes or None). The mailbox connects in the background: call
    `ready` once the browser has started, so a wrong IMAP password fails before anything
    is made."""
    account = settings.email or ""
    sms = None
    if command is not None:
        sms = CommandCodes(command, "sms", account, on_progress=reporter.info)
    if mail is not None:
        # Connecting (TLS, login) overlaps whatever the caller starts next, the browser;
        # the caller opens it (and so fails on a wrong password) before the site is touched.
        inbox = Inbox(mail, on_progress=reporter.info)
        inbox.connect_in_background()
        try:
            yield inbox, sms
        finally:
            inbox.close()
        return
    if command is None:  # prepare() asks for one of the two
        raise ValueError("neither a mailbox nor a code command")
    yield CommandCodes(command, "email", account, on_progress=reporter.info), sms


def ready(source: CodeSource) -> None:
    """Wait for the mailbox's connection (started by code_sources); its error if it failed."""
    if isinstance(source, Inbox):
        source.open()
