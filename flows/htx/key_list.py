"""The keys an account has on HTX, read from the API Management table or from the REST API.

Both give the same facts in different spellings: the table shows "Read-only, Trade",
"Permanent" and "2026-11-21 10:00:00"; `/v2/user/api-key` answers "readOnly,trade", -1 and
milliseconds. ExchangeKey holds them in one form.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from typing import Any

from flows.htx.pages import T_PERMISSION, KeyRow, permission_labels
from flows.htx.rest import our_permissions

FROM_LABEL = {label.lower(): name for name, label in T_PERMISSION.items()}
NO_VALUE = ("", "--", "-", "permanent", "-1")  # the table's ways of saying "never expires"


@dataclass(frozen=True)
class ExchangeKey:
    access_key: str
    note: str
    permissions: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    valid_days: int | None  # None: never expires (IP addresses bound)
    status: str  # "normal" or "expired", as HTX says
    created_at: str  # ISO 8601 UTC when it could be read, else as shown

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["permissions"] = list(self.permissions)
        data["ip_addresses"] = list(self.ip_addresses)
        return data


def from_row(row: KeyRow) -> ExchangeKey:
    """One row of the web table."""
    labels = [part.strip().lower() for part in row.permissions.split(",")]
    names = {**FROM_LABEL, **{v.lower(): k for k, v in permission_labels().items()}}
    permissions = {names.get(label, label) for label in labels if label}
    ips = tuple(p.strip() for p in row.bound_ip.split(",") if p.strip() and p.strip() != "--")
    return ExchangeKey(
        access_key=row.access_key.strip(),
        note=row.note.strip(),
        permissions=_ordered(permissions | {"read"}),
        ip_addresses=ips,
        valid_days=_days(row.valid_days),
        status=row.status.strip().lower() or "normal",
        created_at=_table_time(row.created.strip()),
    )


def from_api(item: dict[str, Any]) -> ExchangeKey:
    """One entry of `GET /v2/user/api-key`."""
    ips = str(item.get("ipAddresses") or "")
    days = item.get("validDays")
    created = item.get("createTime")
    return ExchangeKey(
        access_key=str(item.get("accessKey", "")),
        note=str(item.get("note", "")),
        permissions=_ordered(set(our_permissions(str(item.get("permission") or ""))) | {"read"}),
        ip_addresses=tuple(p.strip() for p in ips.split(",") if p.strip()),
        valid_days=None if days is None or int(days) < 0 else int(days),
        status=str(item.get("status") or "normal").lower(),
        created_at=_from_millis(created) if isinstance(created, int | float) else "",
    )


def _ordered(names: set[str]) -> tuple[str, ...]:
    known = [p for p in T_PERMISSION if p in names]
    return (*known, *sorted(n for n in names if n not in T_PERMISSION))


def _days(text: str) -> int | None:
    value = text.strip().lower()
    if value in NO_VALUE:
        return None
    match = re.search(r"-?\d+", value)
    return max(0, int(match.group())) if match else None


def _table_time(text: str) -> str:
    """The table shows "YYYY-MM-DD HH:MM:SS"; read as UTC [I: the live site may show local
    time]. Anything else is kept as shown."""
    try:
        moment = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
    except ValueError:
        return text
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _from_millis(value: float) -> str:
    moment = dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
