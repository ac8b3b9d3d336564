"""Sub-users' keys over their life, over REST only: HTX lets the parent list, create and delete
them with its own stored key (and a GA code to create), so no browser is involved.

`keys list --sub-uid`, `keys rotate --sub-uid`, `keys revoke --sub-uid` and `exec --sub-uid`.
"""

from __future__ import annotations

from collections.abc import Callable

from automation.config import Settings
from automation.errors import HtxKeysError
from automation.runner import Reporter
from automation.store import KeyRecord, Store, short
from flows.htx.key_list import from_api
from flows.htx.limits import KeyRequest
from flows.htx.rest import HtxRest
from htx_keys.app.audit import REVOKE, audit, failed, record_facts
from htx_keys.app.lifecycle import Listing, forget, not_revoked
from htx_keys.app.provisioning import check_new_key
from htx_keys.app.rotation import Rotation
from htx_keys.app.subuser import check_sub_user_request, pick_parent, provision_sub_user


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


def sub_user_rotation(
    settings: Settings,
    store: Store,
    sub_uid: int,
    parent_key: str | None,
    reporter: Reporter,
    on_key: Callable[[KeyRecord], None] | None = None,
) -> Rotation:
    """Rotating a sub-user's key over REST: made and deleted by the parent's stored key."""
    parent = pick_parent(store, settings.email or "", parent_key)
    created: list[KeyRecord] = []

    def seen(record: KeyRecord) -> None:
        created.append(record)
        if on_key is not None:
            on_key(record)

    def create(request: KeyRequest) -> tuple[KeyRecord, str]:
        check_sub_user_request(request)
        record, stored_in, _ = provision_sub_user(
            settings, request, store, parent, sub_uid, reporter, verify=False, on_key=seen
        )
        return record, stored_in

    return Rotation(
        create=create,
        created=created,
        check=lambda record: check_new_key(settings.api_url, record, reporter, reader=parent),
        delete=lambda access_key: delete_sub_user_key(
            settings, parent, sub_uid, access_key, reporter
        ),
        sub_uid=sub_uid,
    )


def delete_sub_user_key(
    settings: Settings, parent: KeyRecord, sub_uid: int, access_key: str, reporter: Reporter
) -> None:
    reporter.info(f"deleting {short(access_key)} of sub-user {sub_uid} at {settings.api_url}")
    rest = HtxRest(settings.api_url, parent.access_key, parent.secret_key, reporter=reporter)
    rest.delete_sub_user_key(sub_uid, access_key)


def revoke_sub_user_key(
    settings: Settings,
    store: Store,
    parent: KeyRecord,
    sub_uid: int,
    access_key: str,
    reporter: Reporter,
) -> str:
    """Delete the key over REST and forget it here; one that HTX no longer lists counts as
    deleted. Any other failure names the key and how to finish. The audit log gets a line."""
    held = next((r for r in store.list() if r.access_key == access_key), None)
    facts = record_facts(held) if held else {"access_key": access_key, "sub_uid": sub_uid}
    try:
        delete_sub_user_key(settings, parent, sub_uid, access_key, reporter)
        audit(settings, REVOKE, facts, "deleted", reporter)
    except (HtxKeysError, KeyboardInterrupt) as exc:
        if isinstance(exc, HtxKeysError) and not _still_listed(
            settings, parent, sub_uid, access_key
        ):
            reporter.info(f"key {short(access_key)} was already gone from HTX")
            audit(settings, REVOKE, facts, "already gone", reporter)
        else:
            audit(settings, REVOKE, facts, failed(exc), reporter)
            raise not_revoked(
                exc,
                f"The key {access_key} of sub-user {sub_uid}",
                store.location,
                f"htx-keys keys revoke {access_key} --sub-uid {sub_uid}",
            ) from None
    return forget(store, access_key)


def _still_listed(settings: Settings, parent: KeyRecord, sub_uid: int, access_key: str) -> bool:
    try:
        rest = HtxRest(settings.api_url, parent.access_key, parent.secret_key)
        return any(item.get("accessKey") == access_key for item in rest.api_keys(sub_uid))
    except HtxKeysError:
        return True  # unknown: say it was not revoked
