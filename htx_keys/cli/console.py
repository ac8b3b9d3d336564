"""What the commands write for a person: data on stdout, errors on stderr; always scrubbed."""

from __future__ import annotations

import click


def _scrub(text: str) -> str:
    from automation.redaction import REDACTOR  # loaded with the first output, not at start

    return REDACTOR.scrub(text)


def echo(text: str) -> None:
    """A line (or lines) of a command's result on stdout, scrubbed of every known secret."""
    click.echo(_scrub(text))


def echo_err(text: str) -> None:
    """Lines for the person on stderr (what is about to happen), scrubbed."""
    click.echo(_scrub(text), err=True)


def print_error(message: str, hint: str | None = None) -> None:
    """`htx-keys: error: ...` (and a hint line) on stderr: the one form every failure takes."""
    click.echo(f"htx-keys: error: {_scrub(message)}", err=True)
    if hint:
        click.echo(f"htx-keys: hint: {_scrub(hint)}", err=True)
