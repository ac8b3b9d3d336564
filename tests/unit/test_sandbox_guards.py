"""The sandbox's login guards without a browser: slider captcha, new-device check, SMS factor,
session lifetime, the device cookie, the Date header, and the accounts file's new keys."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from starlette.testclient import TestClient

from sandbox.accounts import Account, load_accounts, mask_phone
from sandbox.app import create_app
from sandbox.captcha import Drag
from sandbox.config import SandboxConfig
from sandbox.faults import Faults
from sandbox.server import SandboxServer
from sandbox.state import KeyRequest, Refused, SandboxState
from tests.support.clock import Clock

CODE_IN_TEXT = re.compile(r"verification code is (\d{6})")
HUMAN = {"value": 100, "durationMs": 800, "moves": 12}
CAPTCHA_FAILED = "Verification failed, please try again"
LOGIN_EXPIRED = "The verification has expired, please log in again"


def make_account(email: str = "alice@example.test", uid: int = 10000001, **extra: Any) -> Account:
    return Account(
        email=email,
        password="correct horse",
        totp_secret=pyotp.random_base32(),
        uid=uid,
        mailbox=email,
        **extra,
    )


@dataclass
class Site:
    app: Any
    state: SandboxState
    clock: Clock
    account: Account
    clients: list[TestClient] = field(default_factory=list)

    def browser(self) -> TestClient:
        """A new client: its own cookie jar, so its own HB-DEVICE (another device)."""
        client = TestClient(self.app)
        client.__enter__()
        self.clients.append(client)
        return client

    def ga(self) -> str:
        """The current GA code, after moving to a fresh 30 s step (each step is good once)."""
        self.clock.advance(30)
        return pyotp.TOTP(self.account.totp_secret).at(int(self.clock()))


def post(client: TestClient, path: str, body: dict[str, object]) -> tuple[int, dict[str, Any]]:
    r = client.post(f"/-/x/web/{path}", json=body)
    return r.status_code, r.json()


def password_step(site: Site, client: TestClient, **extra: object) -> dict[str, Any]:
    body: dict[str, object] = {"account": site.account.email, "password": "correct horse"}
    body.update(extra)
    status, answer = post(client, "login/password", body)
    assert status == 200, answer
    data: dict[str, Any] = answer["data"]
    return data


def solve(client: TestClient, captcha_id: str, drag: dict[str, object] | None = None) -> str:
    status, answer = post(client, "login/captcha", {"captchaId": captcha_id, **(drag or HUMAN)})
    assert status == 200, answer
    token: str = answer["data"]["captchaToken"]
    return token


def log_in(site: Site, client: TestClient) -> dict[str, Any]:
    """Password (solving a captcha if asked) and GA; the GA step's answer data."""
    data = password_step(site, client)
    if data["verify"] == "captcha":
        data = password_step(site, client, captchaToken=solve(client, data["captchaId"]))
    status, answer = post(
        client, "login/ga", {"ticket": data["ticket"], "gaCode": site.ga(), "backUrl": "/x/"}
    )
    assert status == 200, answer
    result: dict[str, Any] = answer["data"]
    return result


def last_code(state: SandboxState) -> str:
    _rcpt, msg = state.outbox[-1]
    body = msg.get_body(("plain",))
    assert body is not None
    match = CODE_IN_TEXT.search(body.get_content())
    assert match
    return match.group(1)


@pytest.fixture
def make_site() -> Iterator[Callable[..., Site]]:
    sites: list[Site] = []

    def build(account: Account | None = None, **config: Any) -> Site:
        account = account or make_account()
        clock = Clock()
        state = SandboxState([account], clock=clock)
        cfg = SandboxConfig([account], faults=Faults(latency_ms=0), **config)
        site = Site(create_app(cfg, state), state, clock, account)
        sites.append(site)
        return site

    yield build
    for site in sites:
        for client in site.clients:
            client.__exit__(None, None, None)


# -- slider captcha --------------------------------------------------------------------------


def test_captcha_off_goes_straight_to_ga(make_site: Callable[..., Site]) -> None:
    site = make_site()
    assert password_step(site, site.browser())["verify"] == "ga"


def test_captcha_always_is_asked_before_the_password_is_checked(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(captcha="always")
    client = site.browser()
    data = password_step(site, client, password="wrong")
    assert data["verify"] == "captcha" and data["captchaId"] and "ticket" not in data
    # No token, a made-up token: the captcha is demanded again, each time a new challenge.
    again = password_step(site, client, captchaToken="made-up")
    assert again["verify"] == "captcha" and again["captchaId"] != data["captchaId"]
    token = solve(client, again["captchaId"])
    data = password_step(site, client, captchaToken=token)
    assert data["verify"] == "ga" and data["ticket"]


def test_captcha_token_is_single_use_even_after_a_wrong_password(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(captcha="always")
    client = site.browser()
    token = solve(client, password_step(site, client)["captchaId"])
    status, answer = post(
        client,
        "login/password",
        {"account": site.account.email, "password": "wrong", "captchaToken": token},
    )
    assert (status, answer["message"]) == (400, "Incorrect account or password")
    assert password_step(site, client, captchaToken=token)["verify"] == "captcha"


def test_captcha_token_is_bound_to_its_challenge_device_and_login(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(captcha="always")
    first, second = site.browser(), site.browser()
    challenge = password_step(site, first)["captchaId"]
    # Another browser cannot solve this browser's challenge ...
    status, answer = post(second, "login/captcha", {"captchaId": challenge, **HUMAN})
    assert (status, answer["field"], answer["message"]) == (400, "ticket", LOGIN_EXPIRED)
    # ... nor spend its token.
    token = solve(first, challenge)
    assert password_step(site, second, captchaToken=token)["verify"] == "captcha"
    # A token solved for one login name does not open another.
    token = solve(first, password_step(site, first)["captchaId"])
    status, answer = post(
        first,
        "login/password",
        {"account": "bob@example.test", "password": "x", "captchaToken": token},
    )
    assert status == 200 and answer["data"]["verify"] == "captcha"
    # A challenge yields one token only.
    challenge = password_step(site, first)["captchaId"]
    solve(first, challenge)
    status, answer = post(first, "login/captcha", {"captchaId": challenge, **HUMAN})
    assert answer["field"] == "ticket"


@pytest.mark.parametrize(
    "drag",
    [
        {"value": 100, "durationMs": 40, "moves": 1},  # a script's jump
        {"value": 100, "durationMs": 299, "moves": 12},  # too quick
        {"value": 100, "durationMs": 800, "moves": 4},  # too few moves
        {"value": 99, "durationMs": 800, "moves": 12},  # let go before the end
        {"value": "100", "durationMs": 800, "moves": 12},  # not a number
        {},
    ],
)
def test_a_drag_that_does_not_look_human_fails(
    make_site: Callable[..., Site], drag: dict[str, object]
) -> None:
    site = make_site(captcha="always")
    client = site.browser()
    challenge = password_step(site, client)["captchaId"]
    status, answer = post(client, "login/captcha", {"captchaId": challenge, **drag})
    assert (status, answer["field"], answer["message"]) == (400, "captcha", CAPTCHA_FAILED)
    solve(client, challenge)  # the challenge takes another drag


def test_five_failed_drags_end_the_challenge(make_site: Callable[..., Site]) -> None:
    site = make_site(captcha="always")
    client = site.browser()
    challenge = password_step(site, client)["captchaId"]
    for _ in range(5):
        assert post(client, "login/captcha", {"captchaId": challenge})[1]["field"] == "captcha"
    status, answer = post(client, "login/captcha", {"captchaId": challenge, **HUMAN})
    assert (status, answer["field"]) == (400, "ticket")


def test_captcha_challenge_and_token_expire(make_site: Callable[..., Site]) -> None:
    site = make_site(captcha="always")
    client = site.browser()
    challenge = password_step(site, client)["captchaId"]
    site.clock.advance(301)
    assert post(client, "login/captcha", {"captchaId": challenge, **HUMAN})[1]["field"] == "ticket"
    token = solve(client, password_step(site, client)["captchaId"])
    site.clock.advance(301)
    assert password_step(site, client, captchaToken=token)["verify"] == "captcha"


def test_captcha_new_session_asks_browsers_that_have_not_logged_in(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(captcha="new-session")
    client = site.browser()
    assert password_step(site, client)["verify"] == "captcha"
    log_in(site, client)
    post(client, "logout", {})
    assert password_step(site, client)["verify"] == "ga"  # this browser has logged in
    assert password_step(site, site.browser())["verify"] == "captcha"  # a fresh profile
    # An unknown login is treated like a new browser, not told apart.
    status, answer = post(client, "login/password", {"account": "who@x.test", "password": "x"})
    assert status == 200 and answer["data"]["verify"] == "captcha"


def test_captcha_forced_per_account(make_site: Callable[..., Site]) -> None:
    site = make_site(make_account(captcha=True))  # the server's mode stays "off"
    client = site.browser()
    assert password_step(site, client)["verify"] == "captcha"
    log_in(site, client)
    assert password_step(site, client)["verify"] == "captcha"  # every time, known or not


def test_captcha_through_the_state_api() -> None:
    account = make_account()
    state = SandboxState([account], clock=Clock())
    start = state.start_login(account.email, "correct horse", device="d1", captcha="always")
    assert start.ticket is None and start.captcha_id is not None
    with pytest.raises(Refused, match=CAPTCHA_FAILED):
        state.solve_captcha(start.captcha_id, "d1", Drag(value=100, duration_ms=10, moves=1))
    token = state.solve_captcha(start.captcha_id, "d1", Drag(100, 300, 5))
    again = state.start_login(
        account.email, "correct horse", device="d1", captcha="always", captcha_token=token
    )
    assert again.ticket is not None
    assert state.captcha_required(account.email, "d1", "off") is False


# -- new-device check ------------------------------------------------------------------------


def test_new_device_step_before_the_session(make_site: Callable[..., Site]) -> None:
    site = make_site(new_device_check=True)
    client = site.browser()
    data = password_step(site, client)
    r = client.post(
        "/-/x/web/login/ga", json={"ticket": data["ticket"], "gaCode": site.ga(), "backUrl": "/x/"}
    )
    assert r.json()["data"] == {
        "verify": "device",
        "maskedEmail": "al***@example.test",
        "resendIn": 0,
    }
    assert "HB-PRO-TOKEN" not in r.headers.get("set-cookie", "")
    assert "HB-PRO-TOKEN" not in client.cookies
    assert client.get("/en-us/apikey/", follow_redirects=False).status_code == 302
    # The ticket is past the GA step: it cannot be used there again.
    status, answer = post(client, "login/ga", {"ticket": data["ticket"], "gaCode": site.ga()})
    assert answer["field"] == "ticket"

    status, answer = post(client, "login/device/send", {"ticket": data["ticket"]})
    assert (status, answer["data"]["resendIn"]) == (200, 60)
    rcpt, msg = site.state.outbox[-1]
    assert rcpt == site.account.mailbox
    assert msg["Subject"] == "[HTX] New device login verification"
    code = last_code(site.state)
    status, answer = post(client, "login/device/send", {"ticket": data["ticket"]})
    assert answer["message"].startswith("Please try again in ")
    status, answer = post(
        client, "login/device", {"ticket": data["ticket"], "emailCode": f"{(int(code) + 1):06d}"}
    )
    assert (status, answer["message"]) == (400, "Incorrect email verification code")
    assert "HB-PRO-TOKEN" not in client.cookies
    r = client.post(
        "/-/x/web/login/device",
        json={"ticket": data["ticket"], "emailCode": code, "backUrl": "/en-us/apikey/"},
    )
    assert r.json()["data"] == {"redirect": "/en-us/apikey/"}
    assert "HB-PRO-TOKEN" in r.headers["set-cookie"]
    assert client.get("/en-us/apikey/").status_code == 200
    assert client.cookies["HB-DEVICE"] in site.state.known_devices(site.account.email)


def test_new_device_step_once_per_device(make_site: Callable[..., Site]) -> None:
    site = make_site(new_device_check=True)
    client = site.browser()
    ticket = password_step(site, client)["ticket"]
    post(client, "login/ga", {"ticket": ticket, "gaCode": site.ga()})
    post(client, "login/device/send", {"ticket": ticket})
    post(client, "login/device", {"ticket": ticket, "emailCode": last_code(site.state)})
    post(client, "logout", {})
    assert "redirect" in log_in(site, client)  # a known device: straight in
    assert log_in(site, site.browser())["verify"] == "device"  # another device: asked


def test_new_device_ticket_belongs_to_its_browser(make_site: Callable[..., Site]) -> None:
    site = make_site(new_device_check=True)
    client, other = site.browser(), site.browser()
    ticket = password_step(site, client)["ticket"]
    post(client, "login/ga", {"ticket": ticket, "gaCode": site.ga()})
    status, answer = post(other, "login/device/send", {"ticket": ticket})
    assert (status, answer["field"], answer["message"]) == (400, "ticket", LOGIN_EXPIRED)
    post(client, "login/device/send", {"ticket": ticket})
    code = last_code(site.state)
    assert post(other, "login/device", {"ticket": ticket, "emailCode": code})[0] == 400
    site.clock.advance(601)  # the device step lasts as long as its code
    status, answer = post(client, "login/device", {"ticket": ticket, "emailCode": code})
    assert (status, answer["field"]) == (400, "ticket")


def test_login_codes_are_not_sent_by_the_dialog_call(make_site: Callable[..., Site]) -> None:
    site = make_site()
    client = site.browser()
    log_in(site, client)
    status, answer = post(client, "verify/email/send", {"purpose": "login"})
    assert (status, answer["message"]) == (400, "Invalid purpose: login")


def test_new_device_through_the_state_api() -> None:
    account = make_account()
    clock = Clock()
    state = SandboxState([account], clock=clock)
    ticket = state.check_password(account.email, "correct horse", device="d1")
    clock.advance(30)
    ga = pyotp.TOTP(account.totp_secret).at(int(clock()))
    result = state.pass_login_ga(ticket, ga, device="d1", new_device_check=True)
    assert result.session is None and result.account == account
    _, code = state.issue_login_code(ticket, device="d1")
    token = state.confirm_device(ticket, code, device="d1")
    assert state.session_account(token) == account
    assert state.knows_device(account.email, "d1")
    assert not state.knows_device(account.email, "d2")


# -- SMS factor ------------------------------------------------------------------------------


@pytest.fixture
def sms_site(make_site: Callable[..., Site]) -> tuple[Site, TestClient]:
    site = make_site(make_account(auth_factors=("email", "sms", "ga"), phone="+86 13812345678"))
    client = site.browser()
    log_in(site, client)
    return site, client


def send_codes(site: Site, client: TestClient, purpose: str) -> tuple[str, str]:
    assert post(client, "verify/email/send", {"purpose": purpose})[0] == 200
    status, answer = post(client, "verify/sms/send", {"purpose": purpose})
    assert status == 200, answer
    assert answer["data"] == {"maskedPhone": "+86 138****5678", "resendIn": 60}
    phone, sms, _sent_at = site.state.sms_outbox[-1]
    assert phone == "+86 13812345678"
    return last_code(site.state), sms


def test_sms_code_required_to_create_and_delete(sms_site: tuple[Site, TestClient]) -> None:
    site, client = sms_site
    page = client.get("/en-us/apikey/").text
    assert "SMS verification code" in page and 'aria-label="Send SMS code"' in page
    assert 'data-masked-phone="+86 138****5678"' in page
    body = {"note": "bot", "permissions": ["read"], "ips": ""}
    email, sms = send_codes(site, client, "create")
    status, answer = post(client, "apikey/create", {**body, "emailCode": email, "gaCode": "1"})
    assert (answer["field"], answer["message"]) == ("smsCode", "Incorrect SMS verification code")
    wrong = f"{(int(sms) + 1) % 10**6:06d}"
    status, answer = post(
        client, "apikey/create", {**body, "emailCode": email, "smsCode": wrong, "gaCode": "1"}
    )
    assert (status, answer["message"]) == (400, "Incorrect SMS verification code")
    status, answer = post(
        client, "apikey/create", {**body, "emailCode": email, "smsCode": sms, "gaCode": site.ga()}
    )
    assert status == 200, answer
    access = answer["data"]["accessKey"]

    email, sms = send_codes(site, client, "delete")
    status, answer = post(
        client, "apikey/delete", {"accessKey": access, "emailCode": email, "gaCode": site.ga()}
    )
    assert answer["message"] == "Incorrect SMS verification code"
    assert site.state.keys_for(site.account.email)
    status, answer = post(
        client,
        "apikey/delete",
        {"accessKey": access, "emailCode": email, "smsCode": sms, "gaCode": site.ga()},
    )
    assert status == 200, answer
    assert site.state.keys_for(site.account.email) == []


def test_sms_codes_newest_only_resend_wait_and_expiry(sms_site: tuple[Site, TestClient]) -> None:
    site, client = sms_site
    account = site.account
    request = KeyRequest("n", ("read",), ())
    email = site.state.issue_email_code(account, "create")
    with pytest.raises(Refused, match="Please get the SMS verification code first"):
        site.state.create_key(account, request, email, site.ga(), sms_code="123456")
    first = site.state.issue_sms_code(account, "create")
    status, answer = post(client, "verify/sms/send", {"purpose": "create"})
    assert (status, answer["field"]) == (400, "smsCode")
    assert answer["message"].startswith("Please try again in ")
    site.clock.advance(61)
    second = site.state.issue_sms_code(account, "create")
    assert [sms.code for sms in site.state.sms_outbox] == [first, second]
    if first != second:  # one time in a million the new code is the old one
        with pytest.raises(Refused, match="Incorrect SMS verification code"):
            site.state.create_key(account, request, email, site.ga(), sms_code=first)
    site.clock.advance(601)
    email = site.state.issue_email_code(account, "create")  # that one has expired too
    with pytest.raises(Refused, match="The SMS verification code has expired"):
        site.state.create_key(account, request, email, site.ga(), sms_code=second)


def test_no_sms_row_or_call_for_accounts_without_sms(make_site: Callable[..., Site]) -> None:
    site = make_site()
    client = site.browser()
    log_in(site, client)
    assert "SMS verification code" not in client.get("/en-us/apikey/").text
    status, answer = post(client, "verify/sms/send", {"purpose": "create"})
    assert (status, answer["message"]) == (400, "SMS verification is not enabled for this account")
    assert site.state.sms_outbox == []


# -- sessions --------------------------------------------------------------------------------


def test_sessions_expire_after_the_configured_lifetime(make_site: Callable[..., Site]) -> None:
    site = make_site(session_ttl_s=600)
    client = site.browser()
    r = client.post(
        "/-/x/web/login/ga",
        json={"ticket": password_step(site, client)["ticket"], "gaCode": site.ga()},
    )
    assert "Max-Age=600" in r.headers["set-cookie"]
    site.clock.advance(590)
    assert client.get("/en-us/apikey/", follow_redirects=False).status_code == 200
    site.clock.advance(20)
    r = client.get("/en-us/apikey/", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (302, "/en-us/login/?backUrl=/en-us/apikey/")
    status, answer = post(client, "apikey/precheck", {"note": "x"})
    assert (status, answer["message"]) == (401, "Please log in first")
    assert client.get("/-/x/web/apikey/list").status_code == 401


def test_expire_sessions_ends_every_session_of_one_account(
    make_site: Callable[..., Site],
) -> None:
    site = make_site()
    one, two = site.browser(), site.browser()
    log_in(site, one)
    log_in(site, two)
    assert site.state.expire_sessions("ALICE@example.test") == 2
    for client in (one, two):
        assert client.get("/en-us/overview/", follow_redirects=False).status_code == 302
    assert site.state.expire_sessions(site.account.email) == 0
    log_in(site, one)
    assert one.get("/en-us/overview/").status_code == 200


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="captcha must be one of off, always, new-session"):
        SandboxConfig([], captcha="sometimes")
    with pytest.raises(ValueError, match="session_ttl_s"):
        SandboxConfig([], session_ttl_s=0)


# -- device cookie and Date header -----------------------------------------------------------


def test_device_cookie_is_set_once_on_pages_and_calls(make_site: Callable[..., Site]) -> None:
    site = make_site()
    client = site.browser()
    r = client.get("/en-us/login/")
    cookie = r.headers["set-cookie"]
    assert re.match(r"HB-DEVICE=[0-9a-f]{32}; ", cookie)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=31536000" in cookie
    assert "set-cookie" not in client.get("/en-us/").headers
    # A cookie that is not one of ours is replaced.
    client.cookies.set("HB-DEVICE", "tampered")
    assert client.get("/en-us/").headers["set-cookie"].startswith("HB-DEVICE=")
    # The signed REST API and static files do not hand out device cookies.
    fresh = site.browser()
    assert "set-cookie" not in fresh.get("/v1/common/timestamp").headers
    assert "set-cookie" not in fresh.get("/static/style.css").headers
    # A page call from a client that never loaded a page gets one too.
    assert "HB-DEVICE=" in fresh.post("/-/x/web/logout", json={}).headers["set-cookie"]


def test_responses_carry_a_date_header() -> None:
    """The tool's doctor compares clocks with it: uvicorn's Date header must stay on."""
    with (
        SandboxServer(SandboxConfig([make_account()], faults=Faults(latency_ms=0))) as srv,
        httpx.Client(base_url=srv.base_url) as client,
    ):
        for path in ("/-/health", "/en-us/", "/v1/common/timestamp"):
            date = client.get(path).headers.get("date")
            assert date, path
            assert parsedate_to_datetime(date).tzinfo is not None


# -- accounts file ---------------------------------------------------------------------------

BASE = """
[[account]]
email = "old@example.test"
password = "pw"
totp_secret = "JBSWY3DPEHPK3PXP"
uid = 10000001
"""


def load(tmp_path: Path, extra: str) -> Account:
    path = tmp_path / "accounts.toml"
    path.write_text(BASE + extra, encoding="utf-8")
    (account,) = load_accounts(path)
    return account


def test_accounts_file_captcha_factors_and_phone(tmp_path: Path) -> None:
    plain = load(tmp_path, "")
    assert (plain.captcha, plain.auth_factors, plain.phone) == (False, ("email", "ga"), "")
    old = load(
        tmp_path,
        'captcha = true\nauth_factors = ["ga", "sms", "email"]\nphone = "+86 138-1234-5678"\n',
    )
    assert old.captcha and old.needs_sms
    assert old.auth_factors == ("email", "sms", "ga")  # the dialog's order
    assert (old.phone, mask_phone(old.phone)) == ("+86 13812345678", "+86 138****5678")
    made_up = load(tmp_path, 'auth_factors = ["email", "sms", "ga"]\n')
    assert re.fullmatch(r"\+86 138\d{8}", made_up.phone)


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ('captcha = "yes"\n', "captcha must be true or false"),
        ('auth_factors = "email"\n', "auth_factors must be a list of strings"),
        ('auth_factors = ["email"]\n', "must include email and ga (missing ga)"),
        ('auth_factors = ["sms", "ga"]\n', "(missing email)"),
        ('auth_factors = ["email", "ga", "fax"]\n', "unknown factor(s) 'fax'"),
        ('auth_factors = ["email", "ga", "ga"]\n', "listed twice"),
        ('phone = "13812345678"\n', "phone must be '+<country code> <number>'"),
        ("phone = 138\n", "phone must be a string"),
    ],
)
def test_accounts_file_errors_are_clear(tmp_path: Path, extra: str, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        load(tmp_path, extra)
    assert "account #1 (old@example.test)" in str(info.value)
    assert fragment in str(info.value)


def test_account_checks_its_factors_when_made_in_code() -> None:
    with pytest.raises(ValueError, match="must include email and ga"):
        make_account(auth_factors=("email",))
    assert make_account(auth_factors=("email", "sms", "ga"), uid=10000002).phone.startswith(
        "+86 138"
    )
