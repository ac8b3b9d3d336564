"""Injected misbehaviour, read on every request so a test can change it while the server runs.

The fields are switched from Python (`srv.faults.fail_call = "send"`) or, for a separately
started `htx-keys sandbox`, over HTTP from this machine (sandbox/control.py, `POST
/-/sandbox/faults`): `update()` checks a whole change before applying any of it, and changes
the one `Faults` object in place, since the mailer and the middleware hold it by reference.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from sandbox.gateway import check_form

# The page calls a fault can name, and the JSON call each one is. "create" is the Create
# button's check of the form, "confirm" the Security Authentication's Confirm that makes the key.
CALLS = {
    "create": "apikey/precheck",
    "send": "verify/email/send",
    "confirm": "apikey/create",
    "delete": "apikey/delete",
    "list": "apikey/list",
}
# Longest delay a fault may ask for: long enough to outlast any timeout a test sets, short
# enough that a typo does not hang a server for a day.
MAX_DELAY_S = 600.0


@dataclass
class Faults:
    # Every page-JS call waits a random 0.5x-1.5x of this: dialogs and errors appear late, as on
    # the live site, so the flow cannot get away with reading the page too early.
    latency_ms: int = 200
    # Verification mail is handed to the mail server this much later (in a background thread).
    mail_delay_s: float = 0.0
    # The mail is built (and kept in the outbox) but never delivered.
    drop_mail: bool = False
    # Every verification mail is delivered twice (the same code).
    duplicate_mail: bool = False
    # Every Send mails a code and then, RESEND_GAP_S later, a newer one that replaces it (as
    # when the site sends again by itself): two mails, two codes, only the newer one works.
    resend_mail: bool = False
    # The named call (a key of CALLS) answers HTTP `fail_status` with the site's "System busy".
    fail_call: str = ""
    fail_status: int = 500
    # 0: every time; N: the next N calls only (then the count is 0 and the fault ends).
    fail_times: int = 0
    # The failing call does its work first and then answers the error, as a gateway that times
    # out on a backend that carried on: a "confirm" that fails this way has made the key.
    fail_after_work: bool = False
    # Extra seconds the named calls wait, after their work, before they answer ({"confirm": 5.0}).
    slow_calls: dict[str, float] = field(default_factory=dict)
    # The key list call (/-/x/web/apikey/list) alone waits this much longer: a table that
    # stays "Loading..." long after the page is there.
    list_delay_s: float = 0.0
    # Once the named call has been answered, the account's sessions end (and this clears).
    expire_session_after: str = ""
    # The next N Sends are refused with HTX's frequency-limit text (HTTP 429).
    send_rate_limited: int = 0
    # The next N Google Authenticator codes of a Security Authentication (create, delete) are
    # refused as incorrect, right or not.
    refuse_ga: int = 0
    # Every page shows an overlay the tool does not know (a survey), covering the page.
    unknown_overlay: bool = False
    # Text replacements in every page and script of the website (not the REST API), e.g.
    # {"Link IP Address (optional)": "IP whitelist"}: HTX renaming a label, so a test can show
    # which locator breaks. Applied by sandbox.relabel.Relabel.
    labels: dict[str, str] = field(default_factory=dict)
    # The wording of the REST gateway's refusals: "live" (English, then the Chinese in brackets),
    # "old" (2018: the reason in Chinese only) or "chinese" (all Chinese). See sandbox/gateway.py.
    error_texts: str = "live"

    def __post_init__(self) -> None:
        check_form(self.error_texts)
        for name in ("fail_call", "expire_session_after"):
            value = getattr(self, name)
            if value and value not in CALLS:
                raise ValueError(
                    f"{name} must be one of {', '.join(CALLS)} or empty, not {value!r}"
                )
        if not 500 <= self.fail_status <= 599:
            raise ValueError(f"fail_status must be an HTTP 5xx status, not {self.fail_status}")
        for name in ("latency_ms", "fail_times", "send_rate_limited", "refuse_ga"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("mail_delay_s", "list_delay_s"):
            _check_delay(name, getattr(self, name))
        for call, seconds in self.slow_calls.items():
            if call not in CALLS:
                raise ValueError(f"slow_calls: unknown call {call!r} (one of {', '.join(CALLS)})")
            _check_delay(f"slow_calls[{call!r}]", seconds)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def update(self, changes: dict[str, Any]) -> None:
        """Apply several changes at once, all or none: a value of the wrong type or out of
        range raises ValueError naming it, and nothing changes."""
        kinds = {f.name: f.type for f in dataclasses.fields(self)}
        checked: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in kinds:
                raise ValueError(f"unknown fault {name!r} (one of {', '.join(kinds)})")
            checked[name] = _typed(name, str(kinds[name]), value)
        candidate = dataclasses.replace(self, **checked)  # runs __post_init__'s checks
        for name in checked:
            setattr(self, name, getattr(candidate, name))

    def reset(self) -> None:
        """Every fault off; the latency (how the server was started) stays."""
        defaults = Faults(latency_ms=self.latency_ms)
        self.update(defaults.as_dict())

    def take(self, name: str) -> bool:
        """Spend one of a counted fault (send_rate_limited, refuse_ga): True if one was left."""
        left = getattr(self, name)
        if left <= 0:
            return False
        setattr(self, name, left - 1)
        return True


def _check_delay(name: str, seconds: float) -> None:
    if not (math.isfinite(seconds) and 0 <= seconds <= MAX_DELAY_S):
        raise ValueError(f"{name} must be between 0 and {MAX_DELAY_S:g} seconds")


def _typed(name: str, kind: str, value: Any) -> Any:
    """A JSON value as the field's type; bool is not taken for a number, nor a number for bool."""
    wrong = ValueError(f"{name} must be {kind.replace('dict[str, ', 'an object of ')}")
    if kind == "bool":
        if not isinstance(value, bool):
            raise wrong
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong
        return float(value)
    if kind == "str":
        if not isinstance(value, str):
            raise wrong
        return value
    if kind.startswith("dict[str, "):
        inner = kind.removeprefix("dict[str, ").removesuffix("]")
        if not isinstance(value, dict):
            raise wrong
        return {str(k): _typed(f"{name}[{k!r}]", inner, v) for k, v in value.items()}
    raise wrong
