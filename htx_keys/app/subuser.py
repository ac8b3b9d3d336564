"""Sub-user keys over REST: HTX lets a parent make them with its own key and a GA code.

No browser is involved: POST /v2/sub-user/api-key-generation signed with a stored parent key
that has Trade permission, with a fresh Google Authenticator code under the same one-use rule
as the website.
"""

from __future__ import annotations

from collections.abc import Callable

from automation.config import Settings
from automation.errors import ConfigError, InputError, RejectedError
from automation.otp import validate_secret
from automation.redaction import REDACTOR
from automation.runner import Reporter
from automation.store import KeyRecord, Store, announce_and_store, check_store
from flows.htx.limits import KeyRequest
from flows.htx.provision import new_record
from flows.htx.rest import HtxRest, KeyRefused
from flows.htx.verify import Verification, verify_key
from htx_keys.app.output import Made
from htx_keys.app.preflight import new_totp
from htx_keys.app.web_run import WebRun

OTP_WORDS = ("otp", "google", "ga code", "2fa", "authenticator")


def check_sub_user_request(request: KeyRequest) -> None:
    if "withdraw" in request.permissions:
        raise InputError("Sub-user keys can have the read and trade permissions only")


def pick_parent(
    store: Store, account: str, access_key: str | None, *, need_trade: bool = True
) -> KeyRecord:
    """The parent account's own stored key that signs sub-user calls."""
    if access_key:
        record = store.load(access_key)
        if record.sub_uid is not None:
            raise InputError(f"--parent-key {access_key} is a sub-user's key, not the parent's")
        if need_trade and "trade" not in record.permissions:
            raise InputError(
                f"--parent-key {access_key} has no Trade permission, which HTX requires here"
            )
        return record
    candidates = [
        r
        for r in store.list()
        if r.sub_uid is None
        and r.account == account
        and (not need_trade or "trade" in r.permissions)
    ]
    if not candidates:
        kind = "with Trade permission " if need_trade else ""
        raise ConfigError(
            f"No stored key of {account} {kind}in {store.location}: create one with "
            "`htx-keys provision -p trade`, or name one with --parent-key"
        )
    return max(candidates, key=lambda r: r.created_at)


def provision_sub_user(
    settings: Settings,
    request: KeyRequest,
    store: Store,
    parent: KeyRecord,
    sub_uid: int,
    reporter: Reporter,
    *,
    verify: bool = True,
    on_key: Callable[[KeyRecord], None] | None = None,
) -> tuple[KeyRecord, str, Verification | None]:
    """Make, store (or rescue) and check a sub-user's key; `on_key` sees the pair the moment it
    arrives, before it is stored (CI masks it; a caller learns the key exists)."""
    secret = validate_secret(settings.totp_secret or "")
    totp = new_totp(secret, settings.state_dir, reporter, settings.totp_period)
    rest = HtxRest(settings.api_url, parent.access_key, parent.secret_key, reporter=reporter)
    reporter.info(
        f"creating a key for sub-user {sub_uid} over REST at {settings.api_url}, "
        f"signed with {parent.access_key[:8]}…"
    )
    for attempt in (1, 2):
        otp = totp.next_code()
        REDACTOR.add(otp, label="GA code")
        try:
            data = rest.generate_sub_user_key(
                otp, sub_uid, request.note, list(request.permissions), list(request.ip_addresses)
            )
            break
        except (RejectedError, KeyRefused) as exc:
            if attempt == 1 and any(w in str(exc).lower() for w in OTP_WORDS):
                totp.mark_rejected()
                reporter.info("the Google Authenticator code was refused; trying the next one")
                continue
            raise
    record = new_record(
        request, str(data["accessKey"]), str(data["secretKey"]),
        account=parent.account, site=settings.api_url, sub_uid=sub_uid,
    )  # fmt: skip
    stored_in = announce_and_store(store, record, settings.state_dir / "rescue", on_key)
    verification = None
    if verify:
        reporter.info("verifying the new key with signed calls")
        verification = verify_key(settings.api_url, record, reader=parent, reporter=reporter)
    return record, stored_in, verification


def provision_for_sub_user(
    run: WebRun, request: KeyRequest, sub_uid: int, parent_key: str | None
) -> Made:
    """`provision --sub-uid`: the parent's stored key and a GA code make the key; no browser."""
    check_sub_user_request(request)
    run.ask_for("totp_secret")
    run.settings.require("email", "totp_secret")
    check_store(run.store)
    parent = pick_parent(run.store, run.settings.email or "", parent_key)
    record, stored_in, verification = provision_sub_user(
        run.settings, request, run.store, parent, sub_uid, run.reporter,
        verify=run.options.verify, on_key=run.options.on_key,
    )  # fmt: skip
    return Made(record, stored_in, verification)
