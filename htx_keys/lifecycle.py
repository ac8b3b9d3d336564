"""Keys over their life: what exists on HTX joined with what is held here, making sure N keys
exist, rotating, revoking and finding orphans.

The exchange is read over REST when a stored key of the account can sign the call (no browser,
no code), else from the API Management table after logging in. Creating and deleting always go
through the website (a parent account's own keys cannot be made or deleted over the API).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from automation.config import Settings
from automation.errors import ConfigError, HtxKeysError, InputError, Interrupted, VerifyError
from automation.runner import Reporter
from automation.store import EnvFileStore, KeyRecord, Store, short
from flows.htx.key_list import ExchangeKey, from_api
from flows.htx.limits import MAX_KEYS, KeyRequest, has_tag, note_matches, tag_note
from flows.htx.verify import Verification
from htx_keys.provisioning import check_new_key
from htx_keys.web_session import WebSession

SOURCES = ("auto", "api", "web")


def held_records(store: Store, settings: Settings) -> list[KeyRecord]:
    """The stored keys of this account on this site (a record without a site counts)."""
    email = (settings.email or "").lower()
    return [
        r
        for r in store.list()
        if r.account.lower() == email and (not r.site or r.site == settings.base_url)
    ]


@dataclass
class Listing:
    keys: list[ExchangeKey]
    source: str  # how the list was read, for the person


def list_over_rest(settings: Settings, records: Sequence[KeyRecord]) -> tuple[Listing | None, str]:
    """The account's keys from GET /v2/user/api-key, signed with a stored key of the account
    (newest first; a key bound to other IP addresses cannot sign from here). (None, why) when
    no stored key can."""
    from flows.htx.rest import HtxRest

    parents = sorted((r for r in records if r.sub_uid is None), key=lambda r: r.created_at)
    reasons: list[str] = []
    for record in reversed(parents[-3:]):
        try:
            rest = HtxRest(settings.api_url, record.access_key, record.secret_key)
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
    listing, why = list_over_rest(settings, held_records(store, settings))
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


def orphans(
    keys: Sequence[ExchangeKey], records: Sequence[KeyRecord], tag: str
) -> list[ExchangeKey]:
    """Keys this tool made (its tag in the note) whose secret is held nowhere here."""
    held = {r.access_key for r in records}
    return [k for k in keys if has_tag(k.note, tag) and k.access_key not in held]


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
    # An expired key is no key for the job: it neither counts nor blocks a new one.
    carrying = [
        k for k in keys if note_matches(k.note, request.note, tag) and k.status != "expired"
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


@dataclass
class Rotated:
    record: KeyRecord
    stored_in: str
    verification: Verification | None
    old: ExchangeKey
    old_local: str  # what happened to the old key's local copy


@dataclass
class Rotation:
    """How one rotation reaches the exchange: the website or, for a sub-user, REST."""

    create: Callable[[KeyRequest], tuple[KeyRecord, str]]  # stores (or rescues) the pair
    created: list[KeyRecord]  # every pair read so far, filled the moment it is read
    check: Callable[[KeyRecord], Verification]
    delete: Callable[[str], None]
    sub_uid: int | None = None


def rotate_key(
    way: Rotation,
    old: ExchangeKey,
    store: Store,
    settings: Settings,
    reporter: Reporter,
    *,
    verify: bool,
) -> Rotated:
    """New key with the old one's note (tagged: the tool made it), permissions and IPs; stored
    and checked before the old one is deleted. Whatever stops it, at least one working key
    stays stored, and the message says which keys exist."""
    request = KeyRequest(tag_note(old.note, settings.note_tag), old.permissions, old.ip_addresses)
    old_held = any(r.access_key == old.access_key for r in store.list())
    try:
        record, stored_in = way.create(request)
    except (HtxKeysError, KeyboardInterrupt) as exc:
        if not way.created:
            raise
        new = way.created[-1].access_key
        where = f"the new key {new} was made and stored (or saved to a rescue file)"
        what = f"{where}; the old key {old.access_key} was not deleted"
        raise stopped_rotation(exc, what, way.sub_uid) from None
    reporter.info(
        f"new key {short(record.access_key)} stored in {stored_in}; "
        f"the old key {short(old.access_key)} still works"
    )
    verification = None
    try:
        if verify:
            verification = way.check(record)
            check_before_deleting(verification, record, old, old_held, way.sub_uid)
        way.delete(old.access_key)
    except (HtxKeysError, KeyboardInterrupt) as exc:
        if isinstance(exc, VerifyError):
            raise
        where = f"the new key {record.access_key} is stored in {stored_in}"
        what = f"{where}; the old key {old.access_key} may still exist"
        raise stopped_rotation(exc, what, way.sub_uid) from None
    return Rotated(record, stored_in, verification, old, forget(store, old.access_key))


def web_rotation(session: WebSession, store: Store, settings: Settings) -> Rotation:
    return Rotation(
        create=lambda request: session.create(request, store),
        created=session.created,
        check=lambda record: check_new_key(settings.api_url, record, session.reporter),
        delete=session.delete,
    )


def not_revoked(exc: BaseException, what: str, location: str, command: str) -> HtxKeysError:
    """The error for a key that should have been revoked and was not."""
    why = exc.message if isinstance(exc, HtxKeysError) else "interrupted"
    error = Interrupted if isinstance(exc, KeyboardInterrupt) else HtxKeysError
    return error(
        f"{what} was not revoked ({why}); it is stored in {location}",
        hint=f"revoke it with `{command}`",
    )


def check_before_deleting(
    verification: Verification,
    record: KeyRecord,
    old: ExchangeKey,
    old_held: bool,
    sub_uid: int | None = None,
) -> None:
    """A new key that fails its check, or one nothing could be learnt about because the API
    was out of reach, keeps the old key. A key bound to other addresses cannot be checked
    from here at all; HTX's list showing it (the create step waited for that) has to do."""
    if verification.status == "ok" or (
        verification.status == "skipped" and not verification.api_unreachable
    ):
        return
    kept = "both are stored" if old_held else "the new key is stored"
    raise VerifyError(
        f"The new key {record.access_key} could not be confirmed ({verification.reason}); "
        f"the old key {old.access_key} was kept",
        hint=f"{kept}; delete the new one with `htx-keys keys revoke {record.access_key}"
        f"{_sub(sub_uid)}`, or run the rotation again once the API answers",
    )


def _sub(sub_uid: int | None) -> str:
    return f" --sub-uid {sub_uid}" if sub_uid is not None else ""


def stopped_rotation(exc: BaseException, what: str, sub_uid: int | None = None) -> HtxKeysError:
    """The error for a rotation stopped half-way: what exists now, and how to finish."""
    hint = (
        f"`htx-keys keys list{_sub(sub_uid)}` shows both; "
        f"`htx-keys keys revoke ACCESS_KEY{_sub(sub_uid)}` deletes one"
    )
    if isinstance(exc, KeyboardInterrupt):
        return Interrupted(f"Interrupted: {what}", hint=hint)
    assert isinstance(exc, HtxKeysError)
    exc.message = f"{exc.message}; {what}"
    exc.hint = hint
    return exc
