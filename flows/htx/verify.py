"""Prove a captured key works and is what was asked for.

A signed call with the new pair shows the pair was read off the page correctly; reading the key
back through GET /v2/user/api-key shows the note, permissions and IP whitelist took. A key
bound to addresses other than this machine's cannot make any call from here: that is reported
as skipped, not as a failure, because nothing is known to be wrong with it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Literal

from automation.errors import HtxKeysError, SiteError
from automation.store import KeyRecord
from flows.htx.rest import (
    ClockRefused,
    HtxRest,
    IpNotAllowed,
    KeyRefused,
    Progress,
    RateLimited,
    our_permissions,
)

Status = Literal["ok", "skipped", "failed"]


@dataclass
class Verification:
    status: Status
    reason: str = ""
    read_back: dict[str, Any] | None = None
    differences: list[str] = field(default_factory=list)
    api_unreachable: bool = False  # skipped because the API could not be reached at all

    @property
    def verified(self) -> bool | None:
        return {"ok": True, "failed": False}.get(self.status)


def _network(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError:
        return text.strip()


def same_addresses(a: list[str], b: list[str]) -> bool:
    """Equal as sets of networks: 192.168.0.1/24 and 192.168.0.0/24, 1.2.3.4 and 1.2.3.4/32."""
    return {_network(x) for x in a if x.strip()} == {_network(x) for x in b if x.strip()}


def read_back_of(entry: dict[str, Any]) -> dict[str, Any]:
    ips = entry.get("ipAddresses") or ""
    return {
        "note": entry.get("note", ""),
        "permissions": our_permissions(str(entry.get("permission", ""))),
        "ip_addresses": [ip.strip() for ip in str(ips).split(",") if ip.strip()],
        "valid_days": entry.get("validDays"),
        "status": entry.get("status"),
    }


def differences(record: KeyRecord, back: dict[str, Any]) -> list[str]:
    found = []
    if back["note"] != record.note:
        found.append(f"note is {back['note']!r}, not {record.note!r}")
    if sorted(back["permissions"]) != sorted(record.permissions):
        found.append(
            f"permissions are {', '.join(back['permissions'])}, not {', '.join(record.permissions)}"
        )
    if not same_addresses(back["ip_addresses"], record.ip_addresses):
        shown = ", ".join(back["ip_addresses"]) or "none"
        asked = ", ".join(record.ip_addresses) or "none"
        found.append(f"bound IPs are {shown}, not {asked}")
    if back["status"] not in (None, "normal"):
        found.append(f"status is {back['status']}")
    return found


def verify_key(
    api_url: str,
    record: KeyRecord,
    reader: KeyRecord | None = None,
    reporter: Progress | None = None,
) -> Verification:
    """Check `record` against the exchange.

    `reader` is the key used to read the record back; a sub-user's key cannot list keys
    itself (only the parent can), so for those the parent's key is passed.
    """
    rest = HtxRest(api_url, record.access_key, record.secret_key, reporter=reporter)
    try:
        uid = rest.uid()
        rest.accounts()
    except IpNotAllowed as exc:
        # Whatever HTX's wording: a refused address says nothing against the key.
        bound = ", ".join(record.ip_addresses) or "other addresses"
        here = f"this machine calls from {exc.address}" if exc.address else "this machine is not"
        return Verification(
            "skipped",
            f"the key is bound to {bound} and {here}, so it cannot be checked from here",
        )
    except ClockRefused as exc:
        return Verification(
            "skipped", f"HTX refused this machine's clock, so the key cannot be checked: {exc}"
        )
    except RateLimited as exc:
        return Verification("skipped", f"the key cannot be checked now: {exc}")
    except KeyRefused as exc:
        return Verification("failed", f"a signed call with the new key failed: {exc}")
    except SiteError as exc:
        # Unreachable API (blocked region, no network): nothing is known against the key.
        return Verification(
            "skipped", f"the HTX API could not be reached: {exc}", api_unreachable=True
        )
    except HtxKeysError as exc:
        return Verification("failed", f"a signed call with the new key failed: {exc}")
    owner = record.sub_uid if record.sub_uid is not None else uid
    lister = rest
    if reader is not None:
        lister = HtxRest(api_url, reader.access_key, reader.secret_key, reporter=reporter)
    try:
        entries = lister.api_keys(owner, record.access_key)
    except RateLimited as exc:
        return Verification("skipped", f"the key works, but cannot be read back now: {exc}")
    except HtxKeysError as exc:
        return Verification("failed", f"the key works, but reading it back failed: {exc}")
    entry = next((e for e in entries if e.get("accessKey") == record.access_key), None)
    if entry is None:
        return Verification("failed", "the key works, but HTX does not list it")
    back = read_back_of(entry)
    found = differences(record, back)
    if found:
        return Verification("failed", "; ".join(found), back, found)
    return Verification("ok", "", back)
