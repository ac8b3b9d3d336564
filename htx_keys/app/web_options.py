"""The options of a command that drives the website, parsed: one typed object the CLI's
`web_options` decorator builds. Light on purpose: the CLI imports it to declare commands."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automation.modes import ArtifactModes, Mode

if TYPE_CHECKING:
    from automation.config import Settings

# provision --accounts: how many accounts run at once by default, and at most (each running
# account costs a browser context, a Playwright driver and a thread).
DEFAULT_JOBS = 4
MAX_JOBS = 16


@dataclass(frozen=True)
class WebOptions:
    """The options of a command that drives the website (see htx_keys.cli.options)."""

    store_spec: str | None = None
    session_spec: str | None = None  # None: HTX_KEYS_SESSION, else keyring
    headed: bool = False
    browser_path: str | None = None
    browser_channel: str | None = None
    cdp_endpoint: str | None = None
    ws_endpoint: str | None = None
    timeout: float = 30.0
    output: Path | None = None
    trace: Mode = "off"
    video: Mode = "off"
    screenshot: Mode = "retain-on-failure"
    chapter_seconds: float = 1.5
    base_url: str | None = None
    api_url: str | None = None
    env_file: Path | None = None
    account: str | None = None
    config_file: Path | None = None
    allow_insecure_transport: bool = False
    code_command: str | None = None

    def settings(self) -> Settings:
        for flag, several in (
            ("--ws-endpoint", self.ws_endpoints),
            ("--cdp-endpoint", self.cdp_endpoints),
        ):
            if len(several) > 1:
                from automation.errors import InputError

                raise InputError(
                    f"{flag} was given {len(several)} endpoints: several go with "
                    "provision --accounts or --all-accounts; give one"
                )
        return command_settings(
            self.base_url,
            self.api_url,
            self.env_file,
            self.account,
            self.config_file,
            **self.browser_flags(),
            store=self.store_spec,
            session=self.session_spec,
            code_command=self.code_command,
        )

    def browser_flags(self) -> dict[str, Any]:
        """How to reach a browser, as settings from the flags (None: not given): --browser,
        --browser-channel, --cdp-endpoint, --ws-endpoint and --allow-insecure-transport."""
        return {
            "browser": self.browser_path,
            "browser_channel": self.browser_channel,
            "cdp_endpoint": self.cdp_endpoint,
            "ws_endpoint": self.ws_endpoint,
            "allow_insecure_transport": self.allow_insecure_transport or None,
        }

    @property
    def ws_endpoints(self) -> list[str]:
        """--ws-endpoint's values (repeated or comma separated, for provision --accounts)."""
        return split_endpoints(self.ws_endpoint)

    @property
    def cdp_endpoints(self) -> list[str]:
        return split_endpoints(self.cdp_endpoint)

    @property
    def artifacts(self) -> ArtifactModes:
        return ArtifactModes(self.trace, self.video, self.screenshot)


def split_endpoints(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def command_settings(
    base_url: str | None,
    api_url: str | None,
    env_file: Path | None,
    account: str | None,
    config_file: Path | None,
    **given: Any,
) -> Settings:
    """A command's settings from its site and account flags, and the other setting flags it
    has (store, session, browser, cdp_endpoint, ws_endpoint, allow_insecure_transport; None:
    not given): flags, then the environment, the .env file, defaults."""
    from automation.config import load_settings

    flags = {"base_url": base_url, "api_url": api_url, **given}
    return load_settings(flags, env_file, account=account, config_file=config_file)
