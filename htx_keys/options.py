"""Options shared by several commands, as small decorators (shot-scraper's style)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from automation.artifacts import MODES, ArtifactModes, Mode
from automation.config import ENV_NAMES, SECRET_SETTINGS, Settings, load_settings, with_values
from automation.errors import VerifyError
from automation.session import SessionStore
from automation.store import KeyRecord
from flows.htx.limits import MAX_IPS
from flows.htx.verify import Verification

F = TypeVar("F", bound=Callable[..., Any])
IP_HELP = (
    f"IP address or IPv4 range to bind; repeatable or comma separated (max {MAX_IPS}). "
    "Without one the key expires after 90 days."
)


def site_options(func: F) -> F:
    """--env-file, --base-url and --api-url: every command that talks to HTX takes them."""
    func = click.option(
        "--env-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Read settings from this .env file instead of ./.env.",
    )(func)
    func = click.option(
        "--api-url",
        metavar="URL",
        help=f"HTX's REST API [env {ENV_NAMES['api_url']}; default https://api.huobi.pro].",
    )(func)
    func = click.option(
        "--base-url",
        metavar="URL",
        help=f"The HTX website [env {ENV_NAMES['base_url']}; default https://www.htx.com].",
    )(func)
    return func


def artifact_options(trace: Mode, video: Mode, screenshot: Mode) -> Callable[[F], F]:
    """--trace/--video/--screenshot with pytest-playwright's names and meanings."""
    helps = {
        "screenshot": "Masked pictures: on = one per step (and the failed one), "
        "retain-on-failure = the failed step's only, off = none.",
        "video": "A video of the run, fields with secrets blurred: kept (on), kept only when "
        "the run fails (retain-on-failure), or not recorded (off).",
        "trace": "A Playwright trace (playwright show-trace), scrubbed of every secret: kept "
        "(on), kept only when the run fails (retain-on-failure), or not recorded (off).",
    }
    defaults = {"trace": trace, "video": video, "screenshot": screenshot}

    def decorate(func: F) -> F:
        for name in ("screenshot", "video", "trace"):
            func = click.option(
                f"--{name}",
                type=click.Choice(MODES),
                default=defaults[name],
                show_default=True,
                help=helps[name],
            )(func)
        return func

    return decorate


def artifact_modes(trace: str, video: str, screenshot: str) -> ArtifactModes:
    return ArtifactModes(trace, video, screenshot)  # type: ignore[arg-type]


def permission_option(
    help: str = "Repeatable or comma separated. Read is always on.",
    metavar: str = "read|trade|withdraw",
) -> Callable[[F], F]:
    """-p/--permission, repeatable and comma separated (checked by flows.htx.limits)."""
    return click.option(
        "--permission", "-p", "permissions", multiple=True, metavar=metavar, help=help
    )


def ip_option(help: str = IP_HELP) -> Callable[[F], F]:
    """--ip, repeatable and comma separated (checked by flows.htx.limits)."""
    return click.option("--ip", "ips", multiple=True, metavar="ADDR", help=help)


def sub_uid_option(help: str) -> Callable[[F], F]:
    return click.option("--sub-uid", type=click.IntRange(min=1), help=help)


def parent_key_option(func: F) -> F:
    """--parent-key: the stored parent key that signs a sub-user call."""
    return click.option(
        "--parent-key",
        metavar="ACCESS_KEY",
        help="With --sub-uid: the stored parent key to sign with (default: the newest stored "
        "key of the account with Trade permission).",
    )(func)


def store_option(func: F) -> F:
    return click.option(
        "--store",
        "store_spec",
        metavar="SPEC",
        help="keyring (default), keyring:SERVICE, json:PATH or env-file:PATH [env HTX_KEYS_STORE].",
    )(func)


def browser_options(func: F) -> F:
    func = click.option(
        "--headed",
        is_flag=True,
        help="Show the browser window (default: headless). A person at the window and the "
        "terminal is then asked to solve captchas and type SMS codes.",
    )(func)
    func = remote_browser_options(func)
    func = click.option(
        "--browser",
        "browser_path",
        metavar="PATH",
        help="Chromium/Chrome to use [env HTX_KEYS_BROWSER; default: Playwright's Chromium, "
        "else a system one].",
    )(func)
    return func


def remote_browser_options(func: F) -> F:
    func = click.option(
        "--ws-endpoint",
        metavar="URL",
        envvar="HTX_KEYS_WS_ENDPOINT",
        show_envvar=True,
        help="Use a Playwright server (playwright run-server, Browserless) instead of a local "
        "browser.",
    )(func)
    func = click.option(
        "--cdp-endpoint",
        metavar="URL",
        envvar="HTX_KEYS_CDP_ENDPOINT",
        show_envvar=True,
        help="Use a running Chromium through its DevTools endpoint "
        "(e.g. http://127.0.0.1:9222) instead of a local browser.",
    )(func)
    return func


def session_option(func: F) -> F:
    return click.option(
        "--session",
        "session_spec",
        metavar="SPEC",
        envvar="HTX_KEYS_SESSION",
        show_envvar=True,
        default="keyring",
        show_default=True,
        help="Where the saved login (from `htx-keys login`) is kept: keyring, file:PATH, or "
        "none to always log in.",
    )(func)


def ask_person(question: str) -> str | None:
    """Ask the person at the terminal; hidden on a terminal, a plain line from a pipe."""
    if sys.stdin.isatty():
        answer = click.prompt(question, hide_input=True, err=True, default="", show_default=False)
        return str(answer) or None
    click.echo(f"{question}: ", err=True, nl=False)
    line = sys.stdin.readline()
    return line.strip() or None


def output_options(func: F) -> F:
    func = click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="How to print the result on stdout (never the secret).",
    )(func)
    func = click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")(func)
    return func


def command_settings(
    base_url: str | None,
    api_url: str | None,
    env_file: Path | None,
    account: str | None,
    config_file: Path | None,
    *,
    store: str | None = None,
    browser: str | None = None,
) -> Settings:
    """The settings of a command with site_options and account_options (and --store and
    --browser where it has them): flags, then the environment, the .env file, defaults."""
    flags = {"base_url": base_url, "api_url": api_url, "store": store, "browser": browser}
    return load_settings(flags, env_file, account=account, config_file=config_file)


def prompt_run_secrets(settings: Settings, session: SessionStore) -> Settings:
    """On a terminal, ask for what a browser run needs; the password only when no saved
    session signs in."""
    asked = ("totp_secret", "imap_password") + (() if session.load() else ("password",))
    return prompt_missing_secrets(settings, asked)


def prompt_missing_secrets(settings: Settings, names: tuple[str, ...] | None = None) -> Settings:
    """On a terminal, ask for missing secrets with hidden input instead of failing."""
    if not sys.stdin.isatty():
        return settings
    asked: dict[str, str] = {}
    for name in sorted(SECRET_SETTINGS if names is None else SECRET_SETTINGS & set(names)):
        if not getattr(settings, name):
            asked[name] = click.prompt(
                f"{settings.env_name(name)} (hidden)",
                hide_input=True,
                err=True,
                default="",
                show_default=False,
            )
    return with_values(settings, **{k: v for k, v in asked.items() if v})


def report_key(
    record: KeyRecord, stored_in: str, verification: Verification | None, fmt: str
) -> None:
    """Print what was made; a key that does not check out is still reported, then fails."""
    from htx_keys.output import key_summary, render

    click.echo(render(key_summary(record, stored_in, verification), fmt))
    if verification is not None and verification.status == "failed":
        raise VerifyError(
            f"Key {record.access_key} was created and stored in {stored_in}, but it does not "
            f"check out: {verification.reason}",
            hint="delete it on HTX (API Management) and create it again",
        )
