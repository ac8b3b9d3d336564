"""Options shared by several commands, each declared once, as small decorators (shot-scraper's
style); `web_options` collapses the options of a command that drives the website into one
typed `WebOptions`. Also the hidden prompts: the only place the tool asks a person."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from automation.modes import MODES, Mode
from automation.schema import ENV_NAMES, SECRET_SETTINGS
from flows.htx.limits import MAX_IPS
from htx_keys.app.web_options import WebOptions
from htx_keys.cli.browser_option import browser_options_for
from htx_keys.cli.code_option import code_command_option
from htx_keys.cli.console import echo_err
from htx_keys.cli.params import Seconds

if TYPE_CHECKING:
    from automation.config import Settings
    from htx_keys.app.web_run import WebRun

F = TypeVar("F", bound=Callable[..., Any])
IP_HELP = (
    f"IP address or IPv4 range to bind; repeatable or comma separated (max {MAX_IPS}). "
    "Without one, a key that can trade or withdraw is deactivated after 90 days without use."
)
KEY_FORMATS = ("text", "json", "github", "env")


def insecure_option(func: F) -> F:
    """--allow-insecure-transport: the one way to let plain http:// or ws:// leave this machine."""
    return click.option(
        "--allow-insecure-transport",
        is_flag=True,
        default=None,
        help="Allow plain http:// (site, API, --cdp-endpoint) and ws:// (remote browser) to "
        "hosts other than this machine; without it they must be https:// / wss:// or "
        f"loopback [env {ENV_NAMES['allow_insecure_transport']}=1].",
    )(func)


def site_options(func: F) -> F:
    """--env-file, --base-url, --api-url and --allow-insecure-transport: every command that
    talks to HTX takes them."""
    func = insecure_option(func)
    func = click.option(
        "--env-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Read settings from this .env file instead of ./.env.",
    )(func)
    func = click.option(
        "--api-url",
        metavar="URL",
        help=f"HTX's REST API, https:// (or http:// on this machine) [env "
        f"{ENV_NAMES['api_url']}; default https://api.huobi.pro].",
    )(func)
    func = click.option(
        "--base-url",
        metavar="URL",
        help=f"The HTX website, https:// (or http:// on this machine) [env "
        f"{ENV_NAMES['base_url']}; default https://www.htx.com].",
    )(func)
    return func


def artifact_options(trace: Mode, video: Mode, screenshot: Mode) -> Callable[[F], F]:
    """--trace/--video/--screenshot with pytest-playwright's names and meanings, and how long
    the video's chapter cards hold."""
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
        func = click.option(
            "--chapter-seconds",
            type=Seconds(0.1, 10),
            default=1.5,
            show_default=True,
            help="How long each step's chapter card shows in the video.",
        )(func)
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


def check_parent_key(sub_uid: int | None, parent_key: str | None) -> None:
    """--parent-key only signs for a sub-user: refused without --sub-uid."""
    if parent_key and sub_uid is None:
        from automation.errors import InputError

        raise InputError("--parent-key goes with --sub-uid")


def store_option(func: F) -> F:
    return click.option(
        "--store",
        "store_spec",
        metavar="SPEC",
        help="keyring (default), keyring:SERVICE, json:PATH or env-file:PATH [env HTX_KEYS_STORE].",
    )(func)


def session_option(func: F) -> F:
    return click.option(
        "--session",
        "session_spec",
        metavar="SPEC",
        help="Where the saved login (from `htx-keys login`) is kept: keyring, file:PATH, env:VAR "
        f"(`login --export-session`'s line, in a CI secret), or none to always log in [env "
        f"{ENV_NAMES['session']}; default keyring].",
    )(func)


def totp_period_option(func: F) -> F:
    """--totp-period: how often the built-in replica's GA codes step (never the live site's)."""
    return click.option(
        "--totp-period",
        type=click.IntRange(1, 30),
        default=30,
        show_default=True,
        envvar="HTX_TOTP_PERIOD",
        show_envvar=True,
        metavar="SECONDS",
        help="Seconds per Google Authenticator code on the built-in replica: HTX's 30, or "
        "shorter to wait less for fresh codes (tests).",
    )(func)


def quiet_option(func: F) -> F:
    return click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")(func)


def format_option(
    choices: Sequence[str] = ("text", "json"),
    help: str = "How to print the result on stdout (never the secret).",
    show_default: bool = True,
) -> Callable[[F], F]:
    """--format FMT (the value arrives as `fmt`), with the choices a command has."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=choices[0],
        show_default=show_default,
        help=help,
    )


def output_options(func: F) -> F:
    """--format text|json and --quiet."""
    return quiet_option(format_option()(func))


def key_output_options(func: F) -> F:
    """--format (text, json, github, env), --show-secret, --export-env and --quiet: what
    `provision` and `keys rotate` print for people and for CI (app/output.py KeyOutput)."""
    func = click.option(
        "--export-env",
        is_flag=True,
        help="With --format github: also put HTX_ACCESS_KEY and HTX_SECRET_KEY in "
        "$GITHUB_ENV for the job's later steps.",
    )(func)
    func = click.option(
        "--show-secret",
        is_flag=True,
        help="Allow output that contains the secret key (needed by --format env).",
    )(func)
    func = format_option(
        KEY_FORMATS,
        "text/json: the key's facts, never the secret. github: ::add-mask:: lines, "
        "then outputs in $GITHUB_OUTPUT. env: export lines for eval (needs --show-secret).",
    )(func)
    return quiet_option(func)


def config_option(func: F) -> F:
    return click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="PATH",
        help="Accounts file [env HTX_KEYS_CONFIG; default ~/.config/htx-keys/accounts.toml]",
    )(func)


def account_options(func: F) -> F:
    """--account NAME and --config PATH for every command that builds settings.

    No click envvar: load_settings reads HTX_KEYS_ACCOUNT and HTX_KEYS_CONFIG itself, so a
    command and a library caller pick the same account the same way.
    """
    func = config_option(func)
    return click.option(
        "--account",
        "account",
        metavar="NAME",
        help="Use the named account from the accounts file [env HTX_KEYS_ACCOUNT]",
    )(func)


def timeout_option(
    default: float = 30.0,
    minimum: float = 1.0,
    help: str = "Seconds to wait for each page to answer.",
) -> Callable[[F], F]:
    return click.option(
        "--timeout",
        "timeout",
        type=Seconds(min=minimum),
        default=default,
        show_default=True,
        help=help,
    )


def output_dir_option(func: F) -> F:
    return click.option(
        "--output",
        type=click.Path(file_okay=False, path_type=Path),
        help="Where a run's pictures, trace and video go, in OUTPUT/<run-id>/ "
        "[default: the state dir's runs/].",
    )(func)


WEB_FIELDS = tuple(WebOptions.__dataclass_fields__)


def web_options(
    *,
    artifacts: tuple[Mode, Mode, Mode] | None = ("off", "off", "retain-on-failure"),
    output_dir: bool = True,
    timeout: Callable[[Any], Any] | None = None,
    several_endpoints: bool = False,
) -> Callable[[F], F]:
    """Store, saved session, browser, timeout, artifacts (trace, video, screenshot defaults),
    site and account: declared here once, handed to the command as one `web: WebOptions`."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def command(*args: Any, **kwargs: Any) -> Any:
            given = {name: kwargs.pop(name) for name in WEB_FIELDS if name in kwargs}
            return func(*args, web=WebOptions(**given), **kwargs)

        decorators: list[Callable[[F], F]] = [
            account_options,
            site_options,
            browser_options_for(several=several_endpoints),
            session_option,
            code_command_option,
        ]
        if artifacts is not None:
            trace, video, screenshot = artifacts
            decorators.append(artifact_options(trace=trace, video=video, screenshot=screenshot))
        if output_dir:
            decorators.append(output_dir_option)
        decorators += [timeout or timeout_option(), store_option]
        wrapped: Any = command
        for decorator in decorators:
            wrapped = decorator(wrapped)
        return wrapped

    return decorate


def web_run(web: WebOptions, *, quiet: bool, **extra: Any) -> WebRun:
    """The use cases' view of a command's web options, with the person at the terminal asked
    for what is missing (hidden prompts) and for captchas and SMS codes in a headed run."""
    from htx_keys.app.web_run import WebRun

    return WebRun.from_options(
        web, quiet=quiet, ask=ask_person, ask_secrets=prompt_secrets, **extra
    )


def prompt_secrets(settings: Settings, names: tuple[str, ...]) -> Settings:
    """The `SecretPrompt` the commands give the use cases: hidden prompts on a terminal."""
    return prompt_missing_secrets(settings, names)


def ask_person(question: str) -> str | None:
    """Ask the person at the terminal; hidden on a terminal, a plain line from a pipe."""
    if sys.stdin.isatty():
        answer = click.prompt(question, hide_input=True, err=True, default="", show_default=False)
        return str(answer) or None
    echo_err(f"{question}: ", nl=False)
    line = sys.stdin.readline()
    return line.strip() or None


def prompt_missing_secrets(settings: Settings, names: tuple[str, ...] | None = None) -> Settings:
    """On a terminal, ask for missing secrets with hidden input instead of failing."""
    from automation.config import with_values

    if not sys.stdin.isatty():
        return settings
    asked: dict[str, str] = {}
    for name in sorted(SECRET_SETTINGS if names is None else SECRET_SETTINGS & set(names)):
        if name == "imap_password" and settings.imap_auth != "password":
            continue  # an OAuth2 login has no password to ask for
        if not getattr(settings, name):
            asked[name] = click.prompt(
                f"{settings.env_name(name)} (hidden)",
                hide_input=True,
                err=True,
                default="",
                show_default=False,
            )
    return with_values(settings, **{k: v for k, v in asked.items() if v})
