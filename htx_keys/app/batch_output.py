"""What `provision --accounts` prints: a line per account (text), or a list with an object
per account (json) holding the single-account fields plus `account`, `error` and
`exit_status`. Never a secret: the key's facts only, scrubbed as a last guard."""

from __future__ import annotations

import json
from typing import Any

from automation.errors import SomeFailed
from automation.redaction import REDACTOR
from htx_keys.app.batch import Outcome
from htx_keys.app.output import PERMISSION_NAMES, SUMMARY_FIELDS, key_summary

# The single-account JSON's fields, each in every row (null where it does not apply, or for an
# account that made no key), so that every row has the same shape; sub-users have no batch.
KEY_FIELDS = tuple(field for field in SUMMARY_FIELDS if field != "sub_uid")


def outcome_row(outcome: Outcome) -> dict[str, Any]:
    row: dict[str, Any] = {"account": outcome.account, **dict.fromkeys(KEY_FIELDS)}
    if outcome.made is not None:
        made = outcome.made
        row.update(key_summary(made.record, made.stored_in, made.verification))
    row["error"] = outcome.error.message if outcome.error is not None else None
    row["exit_status"] = outcome.exit_status
    return row


def outcome_line(outcome: Outcome, width: int) -> str:
    """`alice  ok      AK...  Read-only, Trade; stored in keyring:htx-keys; verified` or
    `bob    FAILED  exit 6: the mailbox refused the login ...`."""
    name = outcome.account.ljust(width)
    parts = []
    if outcome.made is not None:
        summary = key_summary(
            outcome.made.record, outcome.made.stored_in, outcome.made.verification
        )
        perms = ", ".join(PERMISSION_NAMES.get(p, p) for p in summary["permissions"])
        parts.append(f"{summary['access_key']}  {perms}; stored in {summary['stored_in']}")
        verified = summary.get("verified", "not asked")
        words = {True: "verified", False: "NOT verified", None: "not verified here"}
        parts.append(words.get(verified, "not verified (--no-verify)"))
    if outcome.error is not None:
        parts.append(f"exit {outcome.exit_status}: {outcome.error.message}")
    word = "ok    " if outcome.ok else "FAILED"
    return REDACTOR.scrub(f"{name}  {word}  {'; '.join(parts)}")


def render_outcomes(outcomes: list[Outcome], fmt: str) -> str:
    if fmt == "json":
        return REDACTOR.scrub(json.dumps([outcome_row(o) for o in outcomes], indent=2))
    width = max((len(o.account) for o in outcomes), default=0)
    return "\n".join(outcome_line(o, width) for o in outcomes)


def check_outcomes(outcomes: list[Outcome]) -> None:
    """Exit 0 when every account got its key; else SomeFailed (exit 17), naming them."""
    failed = [o for o in outcomes if not o.ok]
    if not failed:
        return
    names = ", ".join(f"{o.account} (exit {o.exit_status})" for o in failed)
    raise SomeFailed(f"{len(failed)} of {len(outcomes)} accounts failed: {names}")
