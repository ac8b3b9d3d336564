"""Keys over their life: what exists on HTX joined with what is held here, making sure N keys
exist, rotating, revoking and finding orphans.

The exchange is read over REST when a stored key of the account can sign the call (no browser,
no code), else from the API Management table after logging in. Creating and deleting always go
through the website (a parent account's own keys cannot be made or deleted over the API).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from automation.config import Settings
from automation.errors import ConfigError, HtxKeysError, InputError, Interrupted
from automation.hosts import canonical_site
from automation.runner import Reporter
from automation.store import EnvFileStore, KeyRecord, Store, short
from flows.htx.key_list import ExchangeKey, from_api
from flows.htx.lease import lease_of
from flows.htx.limits import MAX_KEYS, KeyRequest, has_tag, note_matches


def held_records(
    store: Store, settings: Settings, records: Sequence[KeyRecord] | None = None
) -> list[KeyRecord]:
    """The stored keys of this account on this site (a record without a site counts); sites
    compare by canonical host, so "https://www.htx.com/" is "https://www.htx.com". From
    `records` when given (already read), else from the store."""
    email = (settings.email or "").lower()
    site = canonical_site(settings.base_url)
    return [
        r
        for r in (store.list() if records is None else records)
        if r.account.lower() == email and (not r.site or canonical_site(r.site) == site)
    ]


@dataclass
class Listing:
    keys: list[ExchangeKey]
    source: str  # how the list was read, for the person


def list_over_rest(
    settings: Settings, records: Sequence[KeyRecord], reporter: Reporter | None = None
) -> tuple[Listing | None, str]:
    """The account's keys from GET /v2/user/api-key, signed with a stored key of the account
    (newest first; a key bound to other IP addresses cannot sign from here). (None, why) when
    no stored key can."""
    from flows.htx.rest import HtxRest

    parents = sorted((r for r in records if r.sub_uid is None), key=lambda r: r.created_at)
    reasons: list[str] = []
    for record in reversed(parents[-3:]):
        try:
            rest = HtxRest(
                settings.api_url, record.access_key, record.secret_key, reporter=reporter
            )
            keys = [from_api(item) for item in rest.api_keys(rest.uid())]
        except HtxKeysError as exc:
            reasons.append(f"{short(record.access_key)}: {exc.message}")
            continue
        return Listing(keys, f"GET /v2/user/api-key signed with {short(record.access_key)}"), ""
    return None, "; ".join(reasons) or "no stored key of the account to sign with"


def exchange_listing(
    settings: Settings, store: Store, reporter: Reporter, source: str
) -> Listing | None:
    """The REST listing when asked for or possible; None means: read the website."""
    if source == "web":
        return None
    listing, why = list_over_rest(settings, held_records(store, settings), reporter)
    if listing is not None:
        reporter.info(f"keys on HTX read with {listing.source}")
        return listing
    if source == "api":
        raise ConfigError(
            f"Cannot list the keys over the API: {why}",
            hint="leave out --source api to read them from the website",
        )
    reporter.info(f"reading the keys from the website ({why})")
    return None


def key_view(key: ExchangeKey, held: dict[str, KeyRecord], tag: str) -> dict[str, Any]:
    view = key.to_dict()
    view["secret_held"] = key.access_key in held
    view["on_exchange"] = True
    view["tagged"] = has_tag(key.note, tag)
    return view


def local_view(record: KeyRecord, tag: str, now: dt.datetime) -> dict[str, Any]:
    """A stored key that HTX does not list (deleted there, or expired and removed)."""
    days = None
    if record.expires_at:
        expires = dt.datetime.strptime(record.expires_at, "%Y-%m-%dT%H:%M:%SZ")
        left = (expires.replace(tzinfo=dt.UTC) - now).total_seconds()
        days = max(0, -int(-left // 86400))
    return {
        "access_key": record.access_key,
        "note": record.note,
        "permissions": list(record.permissions),
        "ip_addresses": list(record.ip_addresses),
        "valid_days": days,
        "status": "not on HTX",
        "created_at": record.created_at,
        "secret_held": True,
        "on_exchange": False,
        "tagged": has_tag(record.note, tag),
    }


def joined(
    listing: Listing,
    records: Sequence[KeyRecord],
    tag: str,
    now: dt.datetime | None = None,
    *,
    sub_uid: int | None = None,
) -> list[dict[str, Any]]:
    """Every key on HTX with whether its secret is held here, then the stored keys HTX does
    not list: of the account itself, or of the sub-user `sub_uid` whose keys were listed."""
    now = now or dt.datetime.now(dt.UTC)
    held = {r.access_key: r for r in records}
    rows = [key_view(k, held, tag) for k in listing.keys]
    listed = {k.access_key for k in listing.keys}
    rows += [
        local_view(r, tag, now)
        for r in records
        if r.sub_uid == sub_uid and r.access_key not in listed
    ]
    return rows


def expiring(rows: Sequence[dict[str, Any]], days: float) -> list[dict[str, Any]]:
    """Keys on HTX that have expired or expire within `days` (IP-bound keys never do)."""
    return [
        r
        for r in rows
        if r["on_exchange"]
        and (r["status"] == "expired" or (r["valid_days"] is not None and r["valid_days"] <= days))
    ]


def check_room(store: Store, count: int) -> None:
    """Before any browser: the store must be able to take `count` keys."""
    if count > MAX_KEYS:
        raise InputError(f"--count {count}: HTX allows at most {MAX_KEYS} keys per account")
    if count > 1 and isinstance(store, EnvFileStore):
        raise InputError(
            f"{store.location} holds one key; use --store keyring or json:PATH for --count {count}"
        )


@dataclass
class CountPlan:
    existing: list[KeyRecord]  # held here and on HTX, carrying the note
    missing: int
    unheld: list[ExchangeKey] = field(default_factory=list)  # on HTX, secret not here


def plan_count(
    keys: Sequence[ExchangeKey],
    records: Sequence[KeyRecord],
    request: KeyRequest,
    count: int,
    *,
    tag: str,
    allow_duplicate: bool,
) -> CountPlan:
    held = {r.access_key: r for r in records}
    # An expired key is no key for the job: it neither counts nor blocks a new one; nor is a
    # key whose lease has run out (`keys reap` is about to delete it).
    now = dt.datetime.now(dt.UTC)
    carrying = [
        k
        for k in keys
        if note_matches(k.note, request.note, tag)
        and k.status != "expired"
        and (lease_of(k.note, tag) or now + dt.timedelta(seconds=1)) > now
    ]
    existing = [held[k.access_key] for k in carrying if k.access_key in held]
    unheld = [k for k in carrying if k.access_key not in held]
    missing = count if allow_duplicate else max(0, count - len(existing))
    if len(keys) + missing > MAX_KEYS:
        raise InputError(
            f"{len(keys)} keys exist and {missing} more are needed; HTX allows {MAX_KEYS} per "
            "account (delete some with `htx-keys keys revoke`)"
        )
    return CountPlan(existing, missing, unheld)


def find_keys(
    keys: Sequence[ExchangeKey], access_key: str | None, note: str | None, tag: str
) -> list[ExchangeKey]:
    if access_key:
        return [k for k in keys if k.access_key == access_key]
    return [k for k in keys if note is not None and note_matches(k.note, note, tag)]


def forget(store: Store, access_key: str) -> str:
    """Remove the local copy of a key deleted on HTX; says what happened."""
    try:
        if all(r.access_key != access_key for r in store.list()):
            return f"no local copy in {store.location}"
        store.delete(access_key)
    except HtxKeysError as exc:
        return f"the local copy could not be removed: {exc.message}"
    return f"removed from {store.location}"


def not_revoked(exc: BaseException, what: str, location: str, command: str) -> HtxKeysError:
    """The error for a key that should have been revoked and was not."""
    why = exc.message if isinstance(exc, HtxKeysError) else "interrupted"
    error = Interrupted if isinstance(exc, KeyboardInterrupt) else HtxKeysError
    return error(
        f"{what} was not revoked ({why}); it is stored in {location}",
        hint=f"revoke it with `{command}`",
    )
