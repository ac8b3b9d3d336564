"""What a command prints on stdout: the facts of a key, never its secret."""

from __future__ import annotations

import json
from typing import Any

from automation.redaction import REDACTOR
from automation.store import KeyRecord

PERMISSION_NAMES = {"read": "Read-only", "trade": "Trade", "withdraw": "Withdraw"}


def key_summary(record: KeyRecord, stored_in: str) -> dict[str, Any]:
    return {
        "access_key": record.access_key,
        "note": record.note,
        "permissions": list(record.permissions),
        "ip_addresses": list(record.ip_addresses),
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "stored_in": stored_in,
    }


def render(summary: dict[str, Any], fmt: str) -> str:
    """JSON or text; scrubbed as a last guard even though no secret is put in."""
    if fmt == "json":
        return REDACTOR.scrub(json.dumps(summary, indent=2))
    ips = ", ".join(summary["ip_addresses"]) or "none"
    expiry = summary["expires_at"] or "never (IP addresses bound)"
    perms = ", ".join(PERMISSION_NAMES.get(p, p) for p in summary["permissions"])
    lines = [
        f"Created API key {summary['access_key']}",
        f"  note          {summary['note']}",
        f"  permissions   {perms}",
        f"  IP addresses  {ips}",
        f"  created       {summary['created_at']}",
        f"  expires       {expiry}",
        f"  stored in     {summary['stored_in']}",
    ]
    return REDACTOR.scrub("\n".join(lines))
