"""Sub-users and their API keys, as the REST API sees them.

A parent account lists its sub-users' uids (`Account.sub_uids`). Sub-users have no login of
their own here: their keys are made, changed and deleted by the parent over REST only
(`/v2/sub-user/api-key-*`), kept in `SandboxState.sub_keys`, and found by `find_key` like web
keys, so they sign requests the same way. They never show in the parent's web table.

Refusals carry HTX's v2 answer shape `{"code": <int>, "message": "...", "data": null}`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from sandbox.accounts import Account
from sandbox.state import (
    MAX_NOTE,
    ApiKey,
    Refused,
    SandboxState,
    _new_key_part,
    parse_ips,
)

# "each sub user can create at most 5 API Key" [V: HTX spot docs, sub-user API key creation].
MAX_SUB_KEYS = 5
# HTX's v2 codes: 1003 is what ccxt knows as an authentication failure; 2002/2003 are the
# documented "invalid field value" / "missing mandatory field" [I: exact texts].
CODE_AUTH = 1003
CODE_INVALID = 2002
CODE_MISSING = 2003
MSG_INVALID = "invalid field value in `{}`"
MSG_MISSING = "missing mandatory field `{}`"
MSG_BAD_OTP = "invalid otpToken"
# The documented refusal: 2014 "number of api key in the request exceeded valid range" [V].
CODE_TOO_MANY = 2014
MSG_TOO_MANY = "number of api key in the request exceeded valid range"
# The REST spelling of each permission the sandbox knows; sub-user keys get read and trade only.
SUB_PERMISSIONS = {"readOnly": "read", "trade": "trade"}

Body = dict[str, Any]


class V2Refused(Exception):
    """A v2 endpoint turns the request down with a numeric code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(name: str) -> V2Refused:
    return V2Refused(CODE_INVALID, MSG_INVALID.format(name))


def missing(name: str) -> V2Refused:
    return V2Refused(CODE_MISSING, MSG_MISSING.format(name))


# -- who is who ------------------------------------------------------------------------------


def account_by_uid(state: SandboxState, uid: int) -> Account | None:
    return next((a for a in state.accounts if a.uid == uid), None)


def parent_of(state: SandboxState, sub_uid: int) -> Account | None:
    return next((a for a in state.accounts if sub_uid in a.sub_uids), None)


def keys_of_uid(state: SandboxState, uid: int) -> list[ApiKey]:
    """Every key of one user: an account's web keys, or a sub-user's REST-made keys."""
    account = account_by_uid(state, uid)
    if account is not None:
        return state.keys_for(account.email)
    with state.lock:
        return list(state.sub_keys.get(uid, []))


# -- field parsing ---------------------------------------------------------------------------


def read_uid(body: Body, name: str) -> int:
    """A uid as HTX takes it: a JSON number (a string of digits is let through too)."""
    value = body.get(name)
    if value is None or value == "":
        raise missing(name)
    if isinstance(value, bool):
        raise invalid(name)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or value <= 0:
        raise invalid(name)
    return value


def read_note(body: Body, *, required: bool) -> str | None:
    value = body.get("note")
    if value is None:
        if required:
            raise missing("note")
        return None
    if not isinstance(value, str):
        raise invalid("note")
    text = value.strip()
    if not text:
        if required:
            raise missing("note")
        raise invalid("note")
    if len(text) > MAX_NOTE:
        raise invalid("note")
    return text


def read_permission(body: Body, *, required: bool) -> tuple[str, ...] | None:
    """`readOnly` must be there, `trade` may be added, nothing else (no withdraw for subs)."""
    value = body.get("permission")
    if value is None or value == "":
        if required:
            raise missing("permission")
        return None
    if not isinstance(value, str):
        raise invalid("permission")
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if "readOnly" not in parts or any(p not in SUB_PERMISSIONS for p in parts):
        raise invalid("permission")
    return tuple(p for p in ("read", "trade") if p in {SUB_PERMISSIONS[x] for x in parts})


def read_ips(body: Body) -> tuple[str, ...] | None:
    """The same IP rules as the website (hosts, IPv4 ranges, at most MAX_IPS)."""
    value = body.get("ipAddresses")
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid("ipAddresses")
    try:
        return parse_ips(value)
    except Refused as exc:  # a bad entry or more than MAX_IPS of them
        raise invalid("ipAddresses") from exc


def read_access_key(body: Body) -> str:
    value = body.get("accessKey")
    if not isinstance(value, str) or not value:
        raise missing("accessKey")
    return value


def _own_sub_uid(parent: Account, body: Body) -> int:
    sub_uid = read_uid(body, "subUid")
    # A parent's own keys are made on the website only; other people's sub-users are not its.
    if sub_uid not in parent.sub_uids:
        raise invalid("subUid")
    return sub_uid


# -- the three calls -------------------------------------------------------------------------


def generate_key(
    state: SandboxState, parent: Account, body: Body, check_otp: Callable[[str], bool]
) -> ApiKey:
    """Make a key for one of `parent`'s sub-users; the GA code is used up only on success.

    `check_otp` is the state's own GA check (one use per time step, shared with the website's
    login and Security Authentication), so a code used there cannot be used here again.
    """
    otp = body.get("otpToken")
    if not isinstance(otp, str) or not otp.strip():
        raise missing("otpToken")
    sub_uid = _own_sub_uid(parent, body)
    note = read_note(body, required=True)
    permissions = read_permission(body, required=True)
    ips = read_ips(body) or ()
    assert note is not None and permissions is not None
    with state.lock:
        keys = state.sub_keys.setdefault(sub_uid, [])
        if len(keys) >= MAX_SUB_KEYS:
            raise V2Refused(CODE_TOO_MANY, MSG_TOO_MANY)
        # Last check before the change: nothing after it can fail, so a good code is only
        # spent when the key is really made.
        if not check_otp(otp.strip()):
            raise V2Refused(CODE_AUTH, MSG_BAD_OTP)
        access = _new_key_part()
        while state.find_key(access) is not None:
            access = _new_key_part()
        key = ApiKey(
            access_key=access,
            secret_key=_new_key_part(),
            note=note,
            permissions=permissions,
            ip_addresses=ips,
            created_at=state.now(),
            email=parent.email,  # who made it; the owner is `uid`
            uid=sub_uid,
        )
        keys.append(key)
        return key


def _find_sub_key(state: SandboxState, sub_uid: int, access_key: str) -> tuple[list[ApiKey], int]:
    keys = state.sub_keys.get(sub_uid, [])
    for i, key in enumerate(keys):
        if key.access_key == access_key:
            return keys, i
    raise invalid("accessKey")


def modify_key(state: SandboxState, parent: Account, body: Body) -> ApiKey:
    """Change note, permission and/or IPs; a field left out stays as it was."""
    sub_uid = _own_sub_uid(parent, body)
    access_key = read_access_key(body)
    note = read_note(body, required=False)
    permissions = read_permission(body, required=False)
    ips = read_ips(body)
    with state.lock:
        keys, i = _find_sub_key(state, sub_uid, access_key)
        key = keys[i]
        changes: dict[str, Any] = {"updated_at": state.now()}
        if note is not None:
            changes["note"] = note
        if permissions is not None:
            changes["permissions"] = permissions
        if ips is not None and ips != key.ip_addresses:
            # Binding IPs makes the key permanent; the change itself counts as activity, so an
            # unbound trade key has 90 days from now (ApiKey.active_since) [I].
            changes["ip_addresses"] = ips
        keys[i] = dataclasses.replace(key, **changes)
        return keys[i]


def delete_key(state: SandboxState, parent: Account, body: Body) -> ApiKey:
    sub_uid = _own_sub_uid(parent, body)
    access_key = read_access_key(body)
    with state.lock:
        keys, i = _find_sub_key(state, sub_uid, access_key)
        return keys.pop(i)
