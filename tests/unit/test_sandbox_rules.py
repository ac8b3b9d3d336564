"""The sandbox's site rules over HTTP: login, codes, create/delete checks (no browser)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pyotp
import pytest
from starlette.testclient import TestClient

from sandbox.accounts import Account
from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.faults import Faults
from sandbox.state import KeyRequest, SandboxState
from tests.support.clock import Clock

KEY_FORMAT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{5}$")
CODE_IN_TEXT = re.compile(r"verification code is (\d{6})")


@dataclass
class Site:
    client: TestClient
    state: SandboxState
    clock: Clock
    account: Account
    faults: Faults

    def ga(self, offset: float = 0) -> str:
        return pyotp.TOTP(self.account.totp_secret).at(int(self.clock() + offset))

    def post(self, path: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
        r = self.client.post(f"/-/x/web/{path}", json=body)
        return r.status_code, r.json()

    def login(self) -> None:
        status, body = self.post(
            "login/password", {"account": self.account.email, "password": self.account.password}
        )
        assert status == 200, body
        ticket = body["data"]["ticket"]  # type: ignore[index]
        status, body = self.post("login/ga", {"ticket": ticket, "gaCode": self.ga()})
        assert status == 200, body

    def send(self, purpose: str = "create") -> str:
        status, body = self.post("verify/email/send", {"purpose": purpose})
        assert status == 200, body
        return last_code(self.state)

    def next_window(self) -> None:
        """GA codes are good once: move to the next 30 s step before using another."""
        self.clock.advance(30)


def last_code(state: SandboxState) -> str:
    _rcpt, msg = state.outbox[-1]
    text = msg.get_body(("plain",))
    assert text is not None
    match = CODE_IN_TEXT.search(text.get_content())
    assert match, "no code in the mail"
    return match.group(1)


def make_account(email: str = "alice@example.test") -> Account:
    return Account(
        email=email,
        password="correct horse",
        totp_secret=pyotp.random_base32(),
        uid=10000001,
        mailbox="alice@mail.example.test",
    )


@pytest.fixture
def site() -> Iterator[Site]:
    account = make_account()
    clock = Clock()
    state = SandboxState([account], clock=clock)
    faults = Faults(latency_ms=0)
    app = create_app(SandboxConfig([account], faults=faults), state)
    with TestClient(app) as client:
        yield Site(client, state, clock, account, faults)


@pytest.fixture
def logged_in(site: Site) -> Site:
    site.login()
    site.next_window()
    return site


def create_body(site: Site, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {"note": "bot", "permissions": ["read", "trade"], "ips": ""}
    body.update(overrides)
    return body


# -- login ---------------------------------------------------------------------------------


def test_logged_out_api_management_redirects_to_login(site: Site) -> None:
    r = site.client.get("/en-us/apikey/", follow_redirects=False)
    assert r.status_code == 302
    assert r.headers["location"] == "/en-us/login/?backUrl=/en-us/apikey/"


def test_login_two_steps_sets_session_cookie(site: Site) -> None:
    status, body = site.post(
        "login/password", {"account": "ALICE@example.test ", "password": "correct horse"}
    )
    assert status == 200, body
    ticket = body["data"]["ticket"]  # type: ignore[index]
    assert "HB-PRO-TOKEN" not in site.client.cookies
    r = site.client.post(
        "/-/x/web/login/ga",
        json={"ticket": ticket, "gaCode": site.ga(), "backUrl": "/en-us/apikey/"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"redirect": "/en-us/apikey/"}
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    page = site.client.get("/en-us/apikey/")
    assert page.status_code == 200
    assert "API Management" in page.text


@pytest.mark.parametrize(
    ("login", "password"),
    [("alice@example.test", "wrong"), ("nobody@example.test", "correct horse")],
)
def test_wrong_password_or_account(site: Site, login: str, password: str) -> None:
    status, body = site.post("login/password", {"account": login, "password": password})
    assert status == 400
    assert body["message"] == "Incorrect account or password"


def test_ga_code_is_accepted_once_per_time_step(site: Site) -> None:
    site.login()
    site.client.post("/-/x/web/logout", json={})
    _, body = site.post(
        "login/password", {"account": site.account.email, "password": site.account.password}
    )
    ticket = body["data"]["ticket"]  # type: ignore[index]
    status, body = site.post("login/ga", {"ticket": ticket, "gaCode": site.ga()})
    assert (status, body["message"]) == (400, "Incorrect Google Authenticator code")
    # The previous window's code is also spent: it is not newer than the accepted step.
    status, body = site.post("login/ga", {"ticket": ticket, "gaCode": site.ga(-30)})
    assert (status, body["message"]) == (400, "Incorrect Google Authenticator code")
    site.next_window()
    status, body = site.post("login/ga", {"ticket": ticket, "gaCode": site.ga()})
    assert status == 200, body


def test_previous_window_accepted_older_refused(site: Site) -> None:
    _, body = site.post(
        "login/password", {"account": site.account.email, "password": site.account.password}
    )
    ticket = body["data"]["ticket"]  # type: ignore[index]
    status, body = site.post("login/ga", {"ticket": ticket, "gaCode": site.ga(-60)})
    assert (status, body["message"]) == (400, "Incorrect Google Authenticator code")
    status, body = site.post("login/ga", {"ticket": ticket, "gaCode": site.ga(-30)})
    assert status == 200, body


def test_login_ticket_expires(site: Site) -> None:
    _, body = site.post(
        "login/password", {"account": site.account.email, "password": site.account.password}
    )
    ticket = body["data"]["ticket"]  # type: ignore[index]
    site.clock.advance(301)
    status, body = site.post("login/ga", {"ticket": ticket, "gaCode": site.ga()})
    assert status == 400
    assert body["field"] == "ticket"


def test_back_url_must_stay_on_site(site: Site) -> None:
    _, body = site.post(
        "login/password", {"account": site.account.email, "password": site.account.password}
    )
    ticket = body["data"]["ticket"]  # type: ignore[index]
    _, body = site.post(
        "login/ga", {"ticket": ticket, "gaCode": site.ga(), "backUrl": "//evil.example/"}
    )
    assert body["data"] == {"redirect": "/en-us/"}


def test_json_calls_need_login_and_json(site: Site) -> None:
    status, body = site.post("apikey/precheck", create_body(site))
    assert (status, body["message"]) == (401, "Please log in first")
    site.login()
    r = site.client.post("/-/x/web/apikey/precheck", data={"note": "x"})
    assert r.status_code == 415


# -- create form checks ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"note": ""}, "note", "Please enter a note"),
        ({"note": "   "}, "note", "Please enter a note"),
        ({"note": "n" * 256}, "note", "The note cannot exceed 255 characters"),
        ({"ips": "1.2.3.4, 300.1.1.1"}, "ips", "Invalid IP address: 300.1.1.1"),
        ({"ips": "2001:db8::/32"}, "ips", "Invalid IP address: 2001:db8::/32"),
        ({"ips": "::1/128"}, "ips", "Invalid IP address: ::1/128"),
        ({"ips": "10.0.0.1/33"}, "ips", "Invalid IP address: 10.0.0.1/33"),
        ({"ips": "010.0.0.1"}, "ips", "Invalid IP address: 010.0.0.1"),
        (
            {"ips": ",".join(f"10.0.0.{i}" for i in range(21))},
            "ips",
            "A maximum of 20 IP addresses can be linked",
        ),
        ({"permissions": ["read", "admin"]}, "permissions", "Invalid permission: admin"),
    ],
)
def test_precheck_errors(
    logged_in: Site, overrides: dict[str, object], field: str, message: str
) -> None:
    status, body = logged_in.post("apikey/precheck", create_body(logged_in, **overrides))
    assert status == 400
    assert body["errors"] == {field: message}


def test_precheck_reports_every_field(logged_in: Site) -> None:
    _, body = logged_in.post("apikey/precheck", create_body(logged_in, note="", ips="x"))
    assert body["errors"] == {"note": "Please enter a note", "ips": "Invalid IP address: x"}


def test_precheck_cleans_up_accepted_input(logged_in: Site) -> None:
    ips = " 10.0.0.1 ,, 192.168.0.1/24, 2001:DB8::1, 10.0.0.1, " + ",".join(
        f"172.16.0.{i}" for i in range(17)
    )
    status, body = logged_in.post(
        "apikey/precheck",
        create_body(logged_in, note=" " + "n" * 255 + " ", permissions=["withdraw"], ips=ips),
    )
    assert status == 200, body
    data = body["data"]
    assert data["note"] == "n" * 255  # type: ignore[index]
    assert data["permissions"] == ["read", "withdraw"]  # type: ignore[index]
    addresses = data["ipAddresses"]  # type: ignore[index]
    assert addresses[:3] == ["10.0.0.1", "192.168.0.0/24", "2001:db8::1"]
    assert len(addresses) == 20


def test_key_limit_is_20(logged_in: Site) -> None:
    for i in range(20):
        logged_in.state.add_key(logged_in.account, KeyRequest(f"k{i}", ("read",), ()))
    status, body = logged_in.post("apikey/precheck", create_body(logged_in))
    assert (status, body["errors"]) == (400, {"form": "You can create a maximum of 20 API keys"})


# -- email codes and create ------------------------------------------------------------------


def test_create_key_returns_keys_once(logged_in: Site) -> None:
    code = logged_in.send()
    status, body = logged_in.post(
        "apikey/create", create_body(logged_in, emailCode=code, gaCode=logged_in.ga())
    )
    assert status == 200, body
    data = body["data"]
    access, secret = data["accessKey"], data["secretKey"]  # type: ignore[index]
    assert KEY_FORMAT.match(access) and KEY_FORMAT.match(secret)
    (key,) = logged_in.state.keys_for(logged_in.account.email)
    assert key.permissions == ("read", "trade")
    assert key.expires_at == key.created_at + timedelta(days=90)
    assert key.created_at.tzinfo is not None
    page = logged_in.client.get("/en-us/apikey/").text
    assert access not in page and secret not in page  # the page's script fetches the list
    listing = logged_in.client.get("/-/x/web/apikey/list").text
    assert access in listing and secret not in listing
    (row,) = logged_in.client.get("/-/x/web/apikey/list").json()["data"]
    assert (row["permissionText"], row["validDays"], row["statusText"]) == (
        "Read-only, Trade",
        90,
        "Normal",
    )


def test_key_with_ips_is_permanent(logged_in: Site) -> None:
    code = logged_in.send()
    status, body = logged_in.post(
        "apikey/create",
        create_body(logged_in, ips="1.2.3.4", emailCode=code, gaCode=logged_in.ga()),
    )
    assert status == 200, body
    (key,) = logged_in.state.keys_for(logged_in.account.email)
    assert key.expires_at is None and key.status == "normal"
    assert key.valid_days_at(logged_in.state.now()) == -1
    (row,) = logged_in.client.get("/-/x/web/apikey/list").json()["data"]
    assert row["validDays"] == -1  # the table shows "Permanent"


def test_trade_key_without_ip_expires_after_90_days_unused(logged_in: Site) -> None:
    key = logged_in.state.add_key(logged_in.account, KeyRequest("k", ("read", "trade"), ()))
    logged_in.clock.advance(89 * 86400 + 1)
    assert key.valid_days_at(logged_in.state.now()) == 1
    logged_in.clock.advance(86400)
    assert key.status_at(logged_in.state.now()) == "expired"
    logged_in.login()  # the session itself ran out long ago
    (row,) = logged_in.client.get("/-/x/web/apikey/list").json()["data"]
    assert row["statusText"] == "Expired"


def test_read_only_key_without_ip_never_expires(logged_in: Site) -> None:
    key = logged_in.state.add_key(logged_in.account, KeyRequest("k", ("read",), ()))
    logged_in.clock.advance(400 * 86400)
    assert (key.valid_days_at(logged_in.state.now()), key.expires_at) == (-1, None)
    assert key.status_at(logged_in.state.now()) == "normal"


def test_create_without_send(logged_in: Site) -> None:
    status, body = logged_in.post(
        "apikey/create", create_body(logged_in, emailCode="123456", gaCode=logged_in.ga())
    )
    assert (status, body["message"]) == (400, "Please get the email verification code first")


def test_only_newest_email_code_counts(logged_in: Site) -> None:
    old = logged_in.send()
    logged_in.clock.advance(61)
    new = logged_in.send()
    if old != new:
        _, body = logged_in.post(
            "apikey/create", create_body(logged_in, emailCode=old, gaCode=logged_in.ga())
        )
        assert body["message"] == "Incorrect email verification code"
    status, body = logged_in.post(
        "apikey/create", create_body(logged_in, emailCode=new, gaCode=logged_in.ga())
    )
    assert status == 200, body


def test_email_code_expires_after_10_minutes(logged_in: Site) -> None:
    code = logged_in.send()
    logged_in.clock.advance(601)
    _, body = logged_in.post(
        "apikey/create", create_body(logged_in, emailCode=code, gaCode=logged_in.ga())
    )
    assert body["message"] == "The email verification code has expired"


def test_resend_refused_within_60_seconds(logged_in: Site) -> None:
    logged_in.send()
    logged_in.clock.advance(59)
    status, body = logged_in.post("verify/email/send", {"purpose": "create"})
    assert (status, body["message"]) == (400, "Please try again in 1 seconds")
    assert 'data-resend-create="1"' in logged_in.client.get("/en-us/apikey/").text
    # Purposes are counted apart: a delete code may be sent meanwhile.
    assert logged_in.post("verify/email/send", {"purpose": "delete"})[0] == 200
    logged_in.clock.advance(1)
    assert logged_in.post("verify/email/send", {"purpose": "create"})[0] == 200


def test_a_used_code_ends_the_resend_countdown(logged_in: Site) -> None:
    code = logged_in.send()
    status, _ = logged_in.post(
        "apikey/create", create_body(logged_in, emailCode=code, gaCode=logged_in.ga())
    )
    assert status == 200
    # The next key's Send works at once: the countdown guarded a code that is now spent.
    assert logged_in.post("verify/email/send", {"purpose": "create"})[0] == 200
    status, body = logged_in.post("verify/email/send", {"purpose": "create"})
    assert (status, body["message"]) == (400, "Please try again in 60 seconds")


def test_five_wrong_email_codes_invalidate_the_code(logged_in: Site) -> None:
    code = logged_in.send()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        _, body = logged_in.post(
            "apikey/create", create_body(logged_in, emailCode=wrong, gaCode=logged_in.ga())
        )
        assert body["message"] == "Incorrect email verification code"
    _, body = logged_in.post(
        "apikey/create", create_body(logged_in, emailCode=code, gaCode=logged_in.ga())
    )
    assert body["message"] == "Please get the email verification code first"


def test_wrong_ga_keeps_email_code_and_uses_nothing(logged_in: Site) -> None:
    code = logged_in.send()
    _, body = logged_in.post(
        "apikey/create", create_body(logged_in, emailCode=code, gaCode=logged_in.ga(-90))
    )
    assert body["message"] == "Incorrect Google Authenticator code"
    _, body = logged_in.post(
        "apikey/create", create_body(logged_in, note="", emailCode=code, gaCode=logged_in.ga())
    )
    assert body["errors"] == {"note": "Please enter a note"}
    status, body = logged_in.post(
        "apikey/create", create_body(logged_in, emailCode=code, gaCode=logged_in.ga())
    )
    assert status == 200, body
    # Both codes are now spent.
    logged_in.next_window()
    _, body = logged_in.post(
        "apikey/create", create_body(logged_in, emailCode=code, gaCode=logged_in.ga())
    )
    assert body["message"] == "Please get the email verification code first"


def test_ga_code_used_at_login_is_refused_at_create(site: Site) -> None:
    site.login()
    code = site.send()
    _, body = site.post("apikey/create", create_body(site, emailCode=code, gaCode=site.ga()))
    assert body["message"] == "Incorrect Google Authenticator code"


def test_fail_call_fault_on_confirm(logged_in: Site) -> None:
    code = logged_in.send()
    logged_in.faults.fail_call = "confirm"
    status, body = logged_in.post(
        "apikey/create", create_body(logged_in, emailCode=code, gaCode=logged_in.ga())
    )
    assert (status, body["message"]) == (500, "System busy, please try again later")
    logged_in.faults.fail_call = ""
    assert (
        logged_in.post(
            "apikey/create", create_body(logged_in, emailCode=code, gaCode=logged_in.ga())
        )[0]
        == 200
    )


def test_delete_flow(logged_in: Site) -> None:
    key = logged_in.state.add_key(logged_in.account, KeyRequest("old", ("read",), ()))
    code = logged_in.send("delete")
    status, body = logged_in.post(
        "apikey/delete", {"accessKey": "nope", "emailCode": code, "gaCode": logged_in.ga()}
    )
    assert (status, body["message"]) == (400, "The API key does not exist")
    create_code = logged_in.send("create")
    # A code sent for creating a key does not delete one.
    if create_code != code:
        _, body = logged_in.post(
            "apikey/delete",
            {"accessKey": key.access_key, "emailCode": create_code, "gaCode": logged_in.ga()},
        )
        assert body["message"] == "Incorrect email verification code"
    status, body = logged_in.post(
        "apikey/delete", {"accessKey": key.access_key, "emailCode": code, "gaCode": logged_in.ga()}
    )
    assert status == 200, body
    assert logged_in.state.keys_for(logged_in.account.email) == []
    assert logged_in.client.get("/-/x/web/apikey/list").json()["data"] == []


def test_failed_delivery_is_reported_and_logged_without_code(
    logged_in: Site, caplog: pytest.LogCaptureFixture
) -> None:
    from sandbox.mailer import Mailer, MailTarget

    ctx = logged_in.client.app.state.ctx  # type: ignore[attr-defined]
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    ctx.mailer = Mailer(MailTarget.parse("smtp://127.0.0.1:1"), logged_in.faults)
    status, body = logged_in.post("verify/email/send", {"purpose": "create"})
    assert (status, body["message"]) == (
        502,
        "Failed to send the verification code, please try again later",
    )
    code = last_code(logged_in.state)
    records = [r for r in caplog.records if r.name.startswith("sandbox")]
    assert len(records) == 1
    assert code not in records[0].getMessage()
    # A failed Send does not start the 60 s wait and leaves no usable code behind.
    _, body = logged_in.post(
        "apikey/create", create_body(logged_in, emailCode=code, gaCode=logged_in.ga())
    )
    assert body["message"] == "Please get the email verification code first"
    ctx.mailer = Mailer(None, logged_in.faults)
    assert logged_in.post("verify/email/send", {"purpose": "create"})[0] == 200


def test_an_80_bit_seed_works_as_exchanges_issue_them() -> None:
    """HTX hands out 16-character seeds; pyotp alone refuses them since 2.10."""
    import time as _time

    from sandbox.accounts import Account
    from sandbox.login_state import SeedTotp
    from sandbox.state import SandboxState

    account = Account(
        email="short@example.test",
        password="pw-123456",
        totp_secret="JBSWY3DPEHPK3PXP",
        uid=30000001,
        mailbox="short@example.test",
    )
    state = SandboxState([account])
    code = SeedTotp(account.totp_secret).at(_time.time())
    assert state.verify_totp(account, code)


# -- a shorter GA step (a test convenience; the live site uses 30 s) -------------------------

SHORT_STEP_S = 5


@pytest.fixture
def short_step() -> Iterator[Site]:
    account = make_account()
    clock = Clock()
    state = SandboxState([account], clock=clock, totp_step_s=SHORT_STEP_S)
    faults = Faults(latency_ms=0)
    config = SandboxConfig([account], faults=faults, totp_step_s=SHORT_STEP_S)
    with TestClient(create_app(config, state)) as client:
        yield Site(client, state, clock, account, faults)


def short_code(site: Site, steps_back: int = 0) -> str:
    totp = pyotp.TOTP(site.account.totp_secret, interval=SHORT_STEP_S)
    return totp.at(int(site.clock()) - steps_back * SHORT_STEP_S)


def test_a_short_step_rules_login_and_security_authentication(short_step: Site) -> None:
    site = short_step
    _, body = site.post(
        "login/password", {"account": site.account.email, "password": site.account.password}
    )
    ticket = body["data"]["ticket"]  # type: ignore[index]
    # A 30 s code is not a 5 s code (they differ but for a chance in a million).
    if site.ga() != short_code(site):
        status, body = site.post("login/ga", {"ticket": ticket, "gaCode": site.ga()})
        assert (status, body["message"]) == (400, "Incorrect Google Authenticator code")
    # Two 5 s steps back is too old, though it is well inside the same 30 s window.
    status, body = site.post("login/ga", {"ticket": ticket, "gaCode": short_code(site, 2)})
    assert (status, body["message"]) == (400, "Incorrect Google Authenticator code")
    status, body = site.post("login/ga", {"ticket": ticket, "gaCode": short_code(site, 1)})
    assert status == 200, body
    # The current step is newer than the one used: good once, also in the dialog.
    code = site.send()
    status, body = site.post(
        "apikey/create", create_body(site, emailCode=code, gaCode=short_code(site))
    )
    assert status == 200, body
    # The next fresh code is one short step away, not a 30 s window.
    site.clock.advance(SHORT_STEP_S)
    code = site.send()
    status, body = site.post(
        "apikey/create", create_body(site, note="two", emailCode=code, gaCode=short_code(site))
    )
    assert status == 200, body
    assert len(site.state.keys_for(site.account.email)) == 2


@pytest.mark.parametrize("step", [0, -5, 1.5, True])
def test_a_ga_step_is_whole_seconds_from_one(step: object) -> None:
    with pytest.raises(ValueError, match="TOTP step"):
        SandboxConfig([make_account()], totp_step_s=step)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="TOTP step"):
        SandboxState([make_account()], totp_step_s=step)  # type: ignore[arg-type]


def test_an_app_refuses_a_state_with_another_step() -> None:
    account = make_account()
    state = SandboxState([account], totp_step_s=SHORT_STEP_S)
    with pytest.raises(ValueError, match=r"state's TOTP step \(5 s\) differs"):
        create_app(SandboxConfig([account]), state)
    assert create_app(SandboxConfig([account], totp_step_s=SHORT_STEP_S), state) is not None


def test_a_ga_code_used_elsewhere_spends_the_current_step_once(logged_in: Site) -> None:
    """The hook behind the end-to-end test of a refused GA code: the next check finds the
    current step taken, whatever the code; the check after it is the usual one."""
    site = logged_in
    site.state.use_ga_code_elsewhere(site.account.email.upper())
    code = site.send()
    for ga in (site.ga(), site.ga(-30)):  # neither the current nor the previous step
        _, body = site.post("apikey/create", create_body(site, emailCode=code, gaCode=ga))
        assert body["message"] == "Incorrect Google Authenticator code"
    site.next_window()
    status, body = site.post("apikey/create", create_body(site, emailCode=code, gaCode=site.ga()))
    assert status == 200, body


def test_an_alias_delivers_to_the_mailbox_it_points_at() -> None:
    """Several accounts can share a mailbox: each address an alias the server expands."""
    from dataclasses import replace
    from email.message import EmailMessage

    account = replace(make_account(), deliver_to="team@mail.example.test")
    clock = Clock()
    state = SandboxState([account], clock=clock)
    faults = Faults(latency_ms=0)
    app = create_app(SandboxConfig([account], faults=faults), state)
    delivered: list[tuple[str, EmailMessage]] = []

    class Recorder:
        def send(self, msg: EmailMessage, rcpt: str, later_s: float = 0.0) -> None:
            delivered.append((rcpt, msg))

    with TestClient(app) as client:
        site = Site(client, state, clock, account, faults)
        app.state.ctx.mailer = Recorder()
        site.login()
        code = site.send()
    ((rcpt, msg),) = delivered
    assert rcpt == "team@mail.example.test"  # RCPT TO: the mailbox the alias expands to
    assert msg["To"] == "alice@mail.example.test"  # whom HTX wrote to: the account's address
    assert msg["X-Original-To"] == "alice@mail.example.test"
    assert code in msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
