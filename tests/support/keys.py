"""Set the scene for key-lifecycle tests without spending GA codes on it.

A key made earlier (by an earlier run of the tool, or by hand) is put straight into the
sandbox's state, and, when the tool is meant to hold it, into a JSON store as the tool writes
one. A saved session is what `htx-keys login` would have kept: a session the sandbox opened
for the account, as Playwright storage state.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from automation.store import JsonStore, KeyRecord
from sandbox.state import ApiKey, KeyRequest
from sandbox.web import SESSION_COOKIE
from tests.support.site import Site


def saved_session(site: Site, path: Path) -> Path:
    token = site.server.state.signed_in_before(site.account.email)
    cookie = {
        "name": SESSION_COOKIE,
        "value": token,
        "domain": urlsplit(site.server.base_url).hostname,
        "path": "/",
        "expires": -1,
        "httpOnly": True,
        "secure": False,
        "sameSite": "Lax",
    }
    path.write_text(json.dumps({"cookies": [cookie], "origins": []}))
    os.chmod(path, 0o600)
    return path


def seed_key(
    site: Site,
    note: str,
    store: Path | None = None,
    *,
    permissions: tuple[str, ...] = ("read", "trade"),
    ips: tuple[str, ...] = ("127.0.0.1",),
) -> ApiKey:
    """A key that exists on the exchange; held in `store` when one is given."""
    state = site.server.state
    account = state.account(site.account.email)
    assert account is not None
    key = state.add_key(account, KeyRequest(note, permissions, ips))
    if store is not None:
        JsonStore(store).save(record_of(site, key))
    return key


def record_of(site: Site, key: ApiKey) -> KeyRecord:
    def iso(moment: object) -> str | None:
        return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")  # type: ignore[attr-defined]

    return KeyRecord(
        access_key=key.access_key,
        secret_key=key.secret_key,
        account=site.account.email,
        note=key.note,
        permissions=list(key.permissions),
        ip_addresses=list(key.ip_addresses),
        created_at=iso(key.created_at) or "",
        expires_at=iso(key.expires_at),
        site=site.server.base_url,
    )


def on_exchange(site: Site) -> dict[str, ApiKey]:
    return {k.access_key: k for k in site.server.state.keys_for(site.account.email)}


def stored(store: Path) -> dict[str, dict[str, object]]:
    if not store.exists():
        return {}
    return {r["access_key"]: r for r in json.loads(store.read_text())}


def unseed(site: Site, access_key: str) -> None:
    state = site.server.state
    account = state.account(site.account.email)
    assert account is not None
    state.remove_key(account, access_key)


def assert_no_secrets(site: Site, runs: list[object], *more: str) -> None:
    """No secret of the account or of any key it has (or had: `more`) in the commands' output."""
    values = [*site.secrets.values(), *(k.secret_key for k in on_exchange(site).values()), *more]
    for run in runs:
        text = f"{getattr(run, 'stdout', '')}\n{getattr(run, 'stderr', '')}"
        leaked = [v[:4] + "…" for v in values if v and v in text]
        assert not leaked, f"secrets in the output of {getattr(run, 'args', run)}: {leaked}"


def seed_sub_key(site: Site, sub_uid: int, note: str, store: Path | None = None) -> ApiKey:
    """A sub-user's key made earlier by the parent over REST; held in `store` when given."""
    from sandbox import subusers

    state = site.server.state
    parent = state.account(site.account.email)
    assert parent is not None
    body = {"otpToken": "-", "subUid": sub_uid, "note": note, "permission": "readOnly,trade",
            "ipAddresses": "127.0.0.1"}  # fmt: skip
    key = subusers.generate_key(state, parent, body, check_otp=lambda _code: True)
    if store is not None:
        record = record_of(site, key)
        record.sub_uid = sub_uid
        JsonStore(store).save(record)
    return key


def sub_keys(site: Site, sub_uid: int) -> dict[str, ApiKey]:
    return {k.access_key: k for k in site.server.state.sub_keys.get(sub_uid, [])}


def backdate(site: Site, access_key: str, minutes: float) -> None:
    """Make a key on the replica (the account's or a sub-user's) older, as if HTX had made it
    `minutes` earlier: keys younger than a few minutes are left alone by `keys reconcile`."""
    state = site.server.state
    with state.lock:
        for keys in (*state._keys.values(), *state.sub_keys.values()):
            for i, key in enumerate(keys):
                if key.access_key == access_key:
                    earlier = key.created_at - timedelta(minutes=minutes)
                    keys[i] = dataclasses.replace(key, created_at=earlier)
                    return
    raise AssertionError(f"no key {access_key} on the replica")
