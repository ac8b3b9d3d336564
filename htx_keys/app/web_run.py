"""What every command that drives the website shares: turning its parsed options
(`WebOptions`) into settings, a store, a saved-session store and a checked `Prepared` before
a browser starts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from automation.config import Settings
from automation.runner import Reporter
from automation.session import SessionStore, open_session_store
from automation.store import KeyRecord, Store, open_store
from htx_keys.app.audit import audited_on_key
from htx_keys.app.code_sources import without_unused
from htx_keys.app.preflight import Prepared, RunOptions, prepare
from htx_keys.app.web_options import WebOptions

# Asks the person at a terminal for the named secrets that are missing; the CLI gives one
# (hidden prompts), a library caller need not.
SecretPrompt = Callable[[Settings, tuple[str, ...]], Settings]
Ask = Callable[[str], str | None]


def no_prompt(settings: Settings, names: tuple[str, ...]) -> Settings:
    return settings


def run_secret_names(
    session: SessionStore | None, settings: Settings | None = None
) -> tuple[str, ...]:
    """The secrets a browser run needs: the password only when no saved session signs in,
    the IMAP password only when the mailbox is read (not with the code command alone)."""
    saved = session is not None and session.load() is not None
    names = ("totp_secret", "imap_password") + (() if saved else ("password",))
    return names if settings is None else without_unused(settings, names)


@dataclass
class WebRun:
    """The parsed web options of one command, turned into what a run needs."""

    settings: Settings
    store: Store
    session: SessionStore
    options: RunOptions
    reporter: Reporter
    ask_secrets: SecretPrompt = no_prompt

    @classmethod
    def from_options(
        cls,
        web: WebOptions,
        *,
        quiet: bool,
        verify: bool = True,
        on_key: Callable[[KeyRecord], None] | None = None,
        ask: Ask | None = None,
        ask_secrets: SecretPrompt = no_prompt,
        require: tuple[str, ...] = ("email",),
    ) -> WebRun:
        settings = web.settings()
        settings.require(*require)
        session = open_session_store(settings.session, settings.base_url, settings.email or "")
        reporter = Reporter(quiet=quiet)
        options = RunOptions(
            headed=web.headed,
            timeout_ms=web.timeout * 1000,
            artifacts_root=web.output,
            artifacts=web.artifacts,
            chapter_ms=web.chapter_seconds * 1000,
            verify=verify,
            session=session,
            ask=ask,
            on_key=audited_on_key(settings, on_key, reporter),  # every key made is audited
        )
        store = open_store(settings.store, settings.state_dir)
        return cls(settings, store, session, options, reporter, ask_secrets)

    def ask_for(self, *names: str) -> None:
        """Ask for the named secrets that are missing (on a terminal)."""
        self.settings = self.ask_secrets(self.settings, names)

    def prepare(self, *, creating: bool = False) -> Prepared:
        """Ask for missing secrets on a terminal, then every check that needs no browser; the
        store must be able to take a key only when one is to be created."""
        self.ask_for(*run_secret_names(self.session, self.settings))
        return prepare(self.settings, None, self.store if creating else None, self.options)

    @property
    def tag(self) -> str:
        return self.settings.note_tag
