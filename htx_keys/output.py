"""What a command prints on stdout: the facts of a key, never its secret."""

from __future__ import annotations

import json
from typing import Any

from automation.redaction import REDACTOR
from automation.store import KeyRecord
from flows.htx.verify import Verification

PERMISSION_NAMES = {"read": "Read-only", "trade": "Trade", "withdraw": "Withdraw"}


def key_summary(
    record: KeyRecord, stored_in: str, verification: Verification | None = None
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "access_key": record.access_key,
        "note": record.note,
        "permissions": list(record.permissions),
        "ip_addresses": list(record.ip_addresses),
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "stored_in": stored_in,
    }
    if record.sub_uid is not None:
        summary["sub_uid"] = record.sub_uid
    if verification is not None:
        # true: works and reads back as asked; false: it does not; null: not checkable here
        summary["verified"] = verification.verified
        summary["read_back"] = verification.read_back
        if verification.reason:
            summary["verification_note"] = verification.reason
    return summary


def render(summary: dict[str, Any], fmt: str) -> str:
    """JSON or text; scrubbed as a last guard even though no secret is put in."""
    if fmt == "json":
        return REDACTOR.scrub(json.dumps(summary, indent=2))
    ips = ", ".join(summary["ip_addresses"]) or "none"
    expiry = summary["expires_at"] or "never (IP addresses bound)"
    perms = ", ".join(PERMISSION_NAMES.get(p, p) for p in summary["permissions"])
    title = f"Created API key {summary['access_key']}"
    if "sub_uid" in summary:
        title += f" for sub-user {summary['sub_uid']}"
    lines = [
        title,
        f"  note          {summary['note']}",
        f"  permissions   {perms}",
        f"  IP addresses  {ips}",
        f"  created       {summary['created_at']}",
        f"  expires       {expiry}",
        f"  stored in     {summary['stored_in']}",
    ]
    if "verified" in summary:
        lines.append(f"  verified      {verification_text(summary)}")
    return REDACTOR.scrub("\n".join(lines))


def verification_text(summary: dict[str, Any]) -> str:
    verified = summary.get("verified")
    if verified is True:
        return "yes: a signed call works and HTX reads back the same note, permissions and IPs"
    word = "no" if verified is False else "skipped"
    return f"{word}: {summary.get('verification_note', '')}"
