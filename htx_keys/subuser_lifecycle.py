"""Sub-users' keys over their life, over REST only: HTX lets the parent list, create and delete
them with its own stored key (and a GA code to create), so no browser is involved.

`keys list --sub-uid`, `keys rotate --sub-uid`, `keys revoke --sub-uid` and `exec --sub-uid`.
"""

from __future__ import annotations

from collections.abc import Callable

from automation.config import Settings
from automation.errors import HtxKeysError, Interrupted, VerifyError
from automation.runner import Reporter
from automation.store import KeyRecord, Store, short
from flows.htx.key_list import ExchangeKey, from_api
from flows.htx.limits import KeyRequest, tag_note
from flows.htx.rest import HtxRest
from htx_keys.lifecycle import (
    Listing,
    Rotated,
    check_before_deleting,
    forget,
    stopped_rotation,
)
from htx_keys.provisioning import check_new_key
from htx_keys.subuser import check_sub_user_request, pick_parent, provision_sub_user


def sub_user_records(store: Store, settings: Settings, sub_uid: int) -> list[KeyRecord]:
    email = (settings.email or "").lower()
    return [r for r in store.list() if r.sub_uid == sub_uid and r.account.lower() == email]


def sub_user_listing(
    settings: Settings, store: Store, sub_uid: int, parent_key: str | None
) -> Listing:
    """The sub-user's keys from GET /v2/user/api-key?uid=SUB_UID, signed by the parent."""
    parent = pick_parent(store, settings.email or "", parent_key, need_trade=False)
    rest = HtxRest(settings.api_url, parent.access_key, parent.secret_key)
    keys = [from_api(item) for item in rest.api_keys(sub_uid)]
    return Listing(
        keys, f"GET /v2/user/api-key?uid={sub_uid} signed with {short(parent.access_key)}"
    )


def rotate_sub_user_key(
    settings: Settings,
    store: Store,
    sub_uid: int,
    old: ExchangeKey,
    parent_key: str | None,
    reporter: Reporter,
    *,
    verify: bool,
    on_key: Callable[[KeyRecord], None] | None = None,
) -> Rotated:
    """As rotate_key, over REST: the new key is made, stored and checked, then the old goes."""
    parent = pick_parent(store, settings.email or "", parent_key)
    request = KeyRequest(tag_note(old.note, settings.note_tag), old.permissions, old.ip_addresses)
    check_sub_user_request(request)
    old_held = any(r.access_key == old.access_key for r in store.list())
    made: list[KeyRecord] = []

    def seen(record: KeyRecord) -> None:
        made.append(record)
        if on_key is not None:
            on_key(record)

    try:
        record, stored_in, _ = provision_sub_user(
            settings, request, store, parent, sub_uid, reporter, verify=False, on_key=seen
        )
    except (HtxKeysError, KeyboardInterrupt) as exc:
        if not made:
            raise
        where = f"the new key {made[0].access_key} was made and stored (or saved to a rescue file)"
        what = f"{where}; the old key {old.access_key} was not deleted"
        raise stopped_rotation(exc, what, sub_uid) from None
    reporter.info(
        f"new key {short(record.access_key)} stored in {stored_in}; "
        f"the old key {short(old.access_key)} still works"
    )
    verification = None
    try:
        if verify:
            verification = check_new_key(settings.api_url, record, reporter, reader=parent)
            check_before_deleting(verification, record, old, old_held, sub_uid)
        delete_sub_user_key(settings, parent, sub_uid, old.access_key, reporter)
    except (HtxKeysError, KeyboardInterrupt) as exc:
        if isinstance(exc, VerifyError):
            raise
        where = f"the new key {record.access_key} is stored in {stored_in}"
        what = f"{where}; the old key {old.access_key} may still exist"
        raise stopped_rotation(exc, what, sub_uid) from None
    return Rotated(record, stored_in, verification, old, forget(store, old.access_key))


def delete_sub_user_key(
    settings: Settings, parent: KeyRecord, sub_uid: int, access_key: str, reporter: Reporter
) -> None:
    reporter.info(f"deleting {short(access_key)} of sub-user {sub_uid} at {settings.api_url}")
    HtxRest(settings.api_url, parent.access_key, parent.secret_key).delete_sub_user_key(
        sub_uid, access_key
    )


def revoke_sub_user_key(
    settings: Settings,
    store: Store,
    parent: KeyRecord,
    sub_uid: int,
    access_key: str,
    reporter: Reporter,
) -> str:
    """Delete the key over REST and forget it here; one that HTX no longer lists counts as
    deleted. Any other failure names the key and how to finish."""
    try:
        delete_sub_user_key(settings, parent, sub_uid, access_key, reporter)
    except (HtxKeysError, KeyboardInterrupt) as exc:
        if isinstance(exc, HtxKeysError) and not _still_listed(
            settings, parent, sub_uid, access_key
        ):
            reporter.info(f"key {short(access_key)} was already gone from HTX")
        else:
            why = exc.message if isinstance(exc, HtxKeysError) else "interrupted"
            error = Interrupted if isinstance(exc, KeyboardInterrupt) else HtxKeysError
            raise error(
                f"The key {access_key} of sub-user {sub_uid} was not revoked ({why}); it is "
                f"stored in {store.location}",
                hint=f"revoke it with `htx-keys keys revoke {access_key} --sub-uid {sub_uid}`",
            ) from None
    return forget(store, access_key)


def _still_listed(settings: Settings, parent: KeyRecord, sub_uid: int, access_key: str) -> bool:
    try:
        rest = HtxRest(settings.api_url, parent.access_key, parent.secret_key)
        return any(item.get("accessKey") == access_key for item in rest.api_keys(sub_uid))
    except HtxKeysError:
        return True  # unknown: say it was not revoked
