"""`verify`: check stored keys with signed REST calls (they work and read back as stored)."""

from __future__ import annotations

from typing import Any

from automation.config import Settings
from automation.errors import ConfigError
from automation.runner import Reporter
from automation.store import KeyRecord, Store


def _parent_for_reading(store: Store, record: KeyRecord, cache: dict[str, Any]) -> Any:
    """A sub-user's key cannot list keys; its parent's stored key reads it back instead."""
    if record.sub_uid is None:
        return None
    if record.account not in cache:
        from htx_keys.app.subuser import pick_parent

        try:
            cache[record.account] = pick_parent(store, record.account, None, need_trade=False)
        except ConfigError:
            cache[record.account] = None
    return cache[record.account]


def verify_stored(
    settings: Settings, store: Store, access_key: str | None, reporter: Reporter
) -> tuple[list[dict[str, Any]], list[str]]:
    """(a row per key checked, the access keys that failed): ACCESS_KEY, or every stored key."""
    from flows.htx.verify import verify_key

    records = [store.load(access_key)] if access_key else store.list()
    if not records:
        raise ConfigError(f"No keys in {store.location}")
    parents: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    failed: list[str] = []
    for record in records:
        reporter.info(f"checking {record.access_key} ({record.note})")
        result = verify_key(
            settings.api_url, record, _parent_for_reading(store, record, parents), reporter
        )
        rows.append(
            {
                "access_key": record.access_key,
                "note": record.note,
                "sub_uid": record.sub_uid,
                "verified": result.verified,
                "read_back": result.read_back,
                "verification_note": result.reason,
            }
        )
        if result.verified is False:
            failed.append(record.access_key)
    return rows, failed
