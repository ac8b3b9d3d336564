"""Rotating a key: a new one with the same note, permissions and IP addresses, stored and
checked before the old one is deleted. The website and, for a sub-user, REST are two ways
(`Rotation`) through the same steps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from automation.config import Settings
from automation.errors import HtxKeysError, Interrupted, VerifyError
from automation.runner import Reporter
from automation.store import KeyRecord, Store, short
from flows.htx.key_list import ExchangeKey
from flows.htx.limits import KeyRequest, tag_note
from flows.htx.verify import Verification
from htx_keys.app.audit import ROTATE, audit, failed, key_facts
from htx_keys.app.lifecycle import forget
from htx_keys.app.provisioning import check_new_key
from htx_keys.app.web_session import WebSession


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
    facts = {**key_facts(old, old.access_key), **({"sub_uid": way.sub_uid} if way.sub_uid else {})}
    try:
        if verify:
            verification = way.check(record)
            check_before_deleting(verification, record, old, old_held, way.sub_uid)
        way.delete(old.access_key)
    except (HtxKeysError, KeyboardInterrupt) as exc:
        audit(settings, ROTATE, facts, failed(exc), reporter, replaced_by=record.access_key)
        if isinstance(exc, VerifyError):
            raise
        where = f"the new key {record.access_key} is stored in {stored_in}"
        what = f"{where}; the old key {old.access_key} may still exist"
        raise stopped_rotation(exc, what, way.sub_uid) from None
    audit(settings, ROTATE, facts, "rotated", reporter, replaced_by=record.access_key)
    return Rotated(record, stored_in, verification, old, forget(store, old.access_key))


def web_rotation(session: WebSession, store: Store, settings: Settings) -> Rotation:
    return Rotation(
        create=lambda request: session.create(request, store),
        created=session.created,
        check=lambda record: check_new_key(settings.api_url, record, session.reporter),
        delete=lambda access_key: session.delete(access_key, event=None),  # one rotate line
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
