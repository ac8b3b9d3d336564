"""What every command that drives the website shares: its options, and turning them into
settings, a store, a saved-session store and a checked `Prepared` before a browser starts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from automation.config import Settings
from automation.runner import Reporter
from automation.session import SessionStore, open_session_store
from automation.store import KeyRecord, Store, open_store
from htx_keys.account_cli import account_options
from htx_keys.options import (
    artifact_modes,
    artifact_options,
    ask_person,
    browser_options,
    command_settings,
    prompt_run_secrets,
    session_option,
    site_options,
    store_option,
)
from htx_keys.provisioning import Prepared, RunOptions, prepare

F = TypeVar("F", bound=Callable[..., Any])
WEB_KEYS = (
    "store_spec",
    "session_spec",
    "headed",
    "browser_path",
    "cdp_endpoint",
    "ws_endpoint",
    "timeout",
    "output",
    "trace",
    "video",
    "screenshot",
    "base_url",
    "api_url",
    "env_file",
    "account",
    "config_file",
)


def timeout_option(func: F) -> F:
    return click.option(
        "--timeout",
        type=click.FloatRange(min=1),
        default=30.0,
        show_default=True,
        help="Seconds to wait for each page to answer.",
    )(func)


def output_dir_option(func: F) -> F:
    return click.option(
        "--output",
        type=click.Path(file_okay=False, path_type=Path),
        help="Where a run's pictures, trace and video go, in OUTPUT/<run-id>/ "
        "[default: the state dir's runs/].",
    )(func)


def web_options(func: F) -> F:
    """Store, saved session, browser, timeouts, artifacts, site and account."""
    for decorate in (
        account_options,
        site_options,
        browser_options,
        session_option,
        artifact_options(trace="off", video="off", screenshot="retain-on-failure"),
        output_dir_option,
        timeout_option,
        store_option,
    ):
        func = decorate(func)
    return func


@dataclass
class WebRun:
    """The parsed web options of one command."""

    settings: Settings
    store: Store
    session: SessionStore
    options: RunOptions
    reporter: Reporter

    @classmethod
    def from_options(
        cls,
        values: dict[str, Any],
        *,
        quiet: bool,
        verify: bool = True,
        on_key: Callable[[KeyRecord], None] | None = None,
    ) -> WebRun:
        v = {k: values.get(k) for k in WEB_KEYS}
        settings = command_settings(
            v["base_url"],
            v["api_url"],
            v["env_file"],
            v["account"],
            v["config_file"],
            store=v["store_spec"],
            browser=v["browser_path"],
        )
        settings.require("email")
        session = open_session_store(
            v["session_spec"] or "keyring", settings.base_url, settings.email or ""
        )
        options = RunOptions(
            headed=bool(v["headed"]),
            timeout_ms=float(v["timeout"] or 30.0) * 1000,
            artifacts_root=v["output"],
            artifacts=artifact_modes(
                v["trace"] or "off", v["video"] or "off", v["screenshot"] or "retain-on-failure"
            ),
            verify=verify,
            cdp_endpoint=v["cdp_endpoint"],
            ws_endpoint=v["ws_endpoint"],
            session=session,
            ask=ask_person,
            on_key=on_key,
        )
        return cls(settings, open_store(settings.store), session, options, Reporter(quiet=quiet))

    def prepare(self, *, creating: bool = False) -> Prepared:
        """Ask for missing secrets on a terminal, then every check that needs no browser; the
        store must be able to take a key only when one is to be created."""
        self.settings = prompt_run_secrets(self.settings, self.session)
        return prepare(self.settings, None, self.store if creating else None, self.options)

    @property
    def tag(self) -> str:
        return self.settings.note_tag
