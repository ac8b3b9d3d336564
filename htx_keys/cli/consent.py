"""The go-ahead of a command that deletes several keys (`keys revoke --all`, `keys reconcile
--revoke`, `keys reap`): --yes, --dry-run, or a person's answer at the terminal."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from automation.errors import InputError
from htx_keys.cli.console import echo_err

if TYPE_CHECKING:
    from htx_keys.app.deletes import Consent


def make_consent(yes: bool, dry_run: bool, quiet: bool, *, needed: bool, what: str) -> Consent:
    """Checked before anything starts: without a terminal to ask on, --yes is required."""
    from htx_keys.app.deletes import Consent

    if yes and not needed:
        raise InputError(f"--yes goes with {what}")
    if needed and not (yes or dry_run) and not sys.stdin.isatty():
        raise InputError(
            f"{what} asks before deleting and stdin is not a terminal: add --yes to delete "
            "without asking, or --dry-run to see what would be deleted"
        )

    def show(table: str) -> None:
        if not (quiet and yes):
            echo_err(table)

    def ask(question: str) -> bool:
        return click.confirm(question, default=False, err=True)

    return Consent(yes=yes, dry_run=dry_run, ask=ask, show=show)
