"""The options that choose a browser: a local one (--browser, --browser-channel, --headed) or
remote ones (--cdp-endpoint, --ws-endpoint; several for `provision --accounts`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from automation.schema import ENV_NAMES

F = TypeVar("F", bound=Callable[..., Any])


def browser_options(func: F) -> F:
    """--browser, --browser-channel, --cdp-endpoint, --ws-endpoint and --headed."""
    return browser_options_for(several=False)(func)


def browser_options_for(*, several: bool) -> Callable[[F], F]:
    """browser_options; with `several`, the endpoints repeatable (provision --accounts)."""
    return functools.partial(_browser_options, several=several)


def _browser_options(func: F, *, several: bool) -> F:
    func = click.option(
        "--headed",
        is_flag=True,
        help="Show the browser window (default: headless). A person at the window and the "
        "terminal is then asked to solve captchas and type SMS codes.",
    )(func)
    func = (several_remote_browser_options if several else remote_browser_options)(func)
    func = click.option(
        "--browser",
        "browser_path",
        metavar="PATH",
        help="Chromium/Chrome to use [env HTX_KEYS_BROWSER; default: Playwright's Chromium, "
        "else a system one].",
    )(func)
    return func


WS_HELP = (
    "Use a Playwright server (playwright run-server, Browserless) instead of a local "
    f"browser: wss://, or ws:// on this machine [env {ENV_NAMES['ws_endpoint']}]."
)
CDP_HELP = (
    "Use a running Chromium through its DevTools endpoint "
    "(e.g. http://127.0.0.1:9222) instead of a local browser: https:// or wss://, or "
    f"http:// or ws:// on this machine [env {ENV_NAMES['cdp_endpoint']}]."
)
SEVERAL_HELP = (
    " With --accounts: repeatable or comma separated, the accounts spread over the endpoints."
)


def remote_browser_options(func: F) -> F:
    """--browser-channel, --cdp-endpoint and --ws-endpoint. No click envvar: the settings read
    HTX_KEYS_* from the environment or the .env file (click would see the environment only)."""
    func = click.option("--ws-endpoint", metavar="URL", help=WS_HELP)(func)
    func = click.option("--cdp-endpoint", metavar="URL", help=CDP_HELP)(func)
    return browser_channel_option(func)


def several_remote_browser_options(func: F) -> F:
    """As remote_browser_options, with --ws-endpoint and --cdp-endpoint repeatable: the values
    arrive as one comma list (app/batch.py spreads accounts over them; a command for one
    account refuses more than one: WebOptions.settings)."""
    for name, text in (("--ws-endpoint", WS_HELP), ("--cdp-endpoint", CDP_HELP)):
        func = click.option(
            name,
            metavar="URL",
            multiple=True,
            callback=_comma_list,
            help=text + SEVERAL_HELP,
        )(func)
    return browser_channel_option(func)


def _comma_list(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> str | None:
    return ",".join(values) or None


def browser_channel_option(func: F) -> F:
    return click.option(
        "--browser-channel",
        metavar="CHANNEL",
        help="Use the Chrome or Edge installed on this machine, found where it installs itself "
        "on each platform: chrome, msedge, chromium (Playwright's own full build) or a -beta, "
        f"-dev, -canary of Chrome or Edge [env {ENV_NAMES['browser_channel']}].",
    )(func)
