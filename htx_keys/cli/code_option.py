"""--code-command: the program that prints each emailed or SMS code (automation/code_command.py),
declared once for every command that drives the website (`web_options`) and for `login`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from automation.schema import ENV_NAMES

F = TypeVar("F", bound=Callable[..., Any])


def code_command_option(func: F) -> F:
    return click.option(
        "--code-command",
        metavar="COMMAND",
        callback=_code_command,
        help="Run this for each emailed code (when HTX_IMAP_HOST is not set) and SMS code; "
        "split like a shell line, run without a shell, told HTX_CODE_KIND (email|sms), "
        "HTX_CODE_SENT_AT and HTX_CODE_ACCOUNT; it prints the code "
        f"[env {ENV_NAMES['code_command']}].",
    )(func)


def _code_command(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Checked as the flags are read: a typo is bad input (exit 2), before anything starts."""
    if value is not None:
        from automation.code_command import find_code_command
        from automation.errors import InputError

        find_code_command(value, "--code-command", error=InputError)
    return value
