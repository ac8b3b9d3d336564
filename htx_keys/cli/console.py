"""What the commands write for a person: data on stdout, errors on stderr; always scrubbed."""

from __future__ import annotations

import traceback

import click


def _scrub(text: str) -> str:
    from automation.redaction import REDACTOR  # loaded with the first output, not at start

    return REDACTOR.scrub(text)


def echo(text: str) -> None:
    """A line (or lines) of a command's result on stdout, scrubbed of every known secret."""
    click.echo(_scrub(text))


def echo_err(text: str, *, nl: bool = True) -> None:
    """Lines for the person on stderr (what is about to happen, a notice; a question, with
    nl=False), scrubbed."""
    click.echo(_scrub(text), err=True, nl=nl)


def print_error(message: str, hint: str | None = None) -> None:
    """`htx-keys: error: ...` (and a hint line) on stderr: the one form every failure takes."""
    click.echo(f"htx-keys: error: {_scrub(message)}", err=True)
    if hint:
        click.echo(f"htx-keys: hint: {_scrub(hint)}", err=True)


def print_traceback(exc: BaseException) -> None:
    """The traceback of HTX_KEYS_DEBUG=1 on stderr, scrubbed of every known secret."""
    text = "".join(traceback.format_exception(exc))
    click.echo(_scrub(text).rstrip("\n"), err=True)


def echo_secret(value: str) -> None:
    """A secret the person asked for by name (`mail login --show-refresh-token`), on stdout
    only and unscrubbed: the one output meant to hold it."""
    click.echo(value)
