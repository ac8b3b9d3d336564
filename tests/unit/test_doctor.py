"""`htx-keys doctor` without a browser: rows, rendering, exit status, clock, settings, store."""

from __future__ import annotations

import email.utils
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyotp
import pytest

from automation.config import Settings
from automation.redaction import REDACTOR
from flows.htx.finding import fill_in
from flows.htx.locators import ELEMENTS, TEXTS
from htx_keys.app import doctor as doctor_module
from htx_keys.app.checks import (
    DOCTOR_FAILED,
    Check,
    check_clock,
    check_mailbox,
    check_settings_rows,
    check_store_rows,
)
from htx_keys.app.doctor import exit_status, render_json, render_text
from htx_keys.app.doctor_targets import TARGETS, Target
from tests.support.cli import invoke

SEED = pyotp.random_base32()


def good_settings(**changes: Any) -> Settings:
    values: dict[str, Any] = {
        "email": "alice@example.test",
        "password": "pw-that-is-secret",
        "totp_secret": SEED,
        "imap_host": "imap.example.test",
        "imap_password": "imap-secret",
    }
    values.update(changes)
    return Settings(**values)


# -- rendering and exit status ------------------------------------------------------------------

ROWS = [
    Check("clock", "pass", "within 0.2 s of the site's (HTTP Date)"),
    Check("keyring", "skip", "not used: the store is json:/k.json"),
    Check(
        "API Management: textbox 'IP'",
        "FAIL",
        "not found on http://x/en-us/apikey/ within 5 s",
        "HTX changed this label: update T_IPS in flows/htx/locators.py",
    ),
]


def test_text_table_lines_up_and_puts_the_fix_under_the_detail() -> None:
    assert render_text(ROWS).splitlines() == [
        "CHECK                         RESULT  DETAIL / FIX",
        "clock                         pass    within 0.2 s of the site's (HTTP Date)",
        "keyring                       skip    not used: the store is json:/k.json",
        "API Management: textbox 'IP'  FAIL    not found on http://x/en-us/apikey/ within 5 s",
        "                                      fix: HTX changed this label: update T_IPS in "
        "flows/htx/locators.py",
        "1 passed, 1 failed, 1 skipped",
    ]


def test_json_is_a_list_of_rows() -> None:
    assert json.loads(render_json(ROWS)) == [
        {"check": c.check, "result": c.result, "detail": c.detail, "fix": c.fix} for c in ROWS
    ]


@pytest.mark.parametrize(
    ("results", "status"),
    [([], 0), (["pass"], 0), (["pass", "skip"], 0), (["skip", "FAIL", "pass"], DOCTOR_FAILED)],
)
def test_exit_status_fails_only_on_a_failed_check(results: list[Any], status: int) -> None:
    assert exit_status([Check(f"c{i}", r) for i, r in enumerate(results)]) == status


def test_rows_never_carry_a_secret() -> None:
    REDACTOR.add("hunter2-but-longer", label="password")
    row = Check("login", "FAIL", "the site said hunter2-but-longer", "not hunter2-but-longer")
    assert "hunter2-but-longer" not in row.detail + row.fix
    assert "hunter2-but-longer" not in render_text([row]) + render_json([row])


# -- the clock ----------------------------------------------------------------------------------


@pytest.fixture
def date_server() -> Iterator[tuple[str, dict[str, Any]]]:
    """A tiny site whose HTTP Date is as skewed as `how["skew"]` says (None: no Date)."""
    how: dict[str, Any] = {"skew": 0.0, "status": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response_only(how["status"])  # no automatic Date header
            if how["skew"] is not None:
                date = email.utils.formatdate(time.time() + how["skew"], usegmt=True)
                self.send_header("Date", date)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", how
    finally:
        server.shutdown()
        server.server_close()


def test_clock_in_step_passes(date_server: tuple[str, dict[str, Any]]) -> None:
    url, _ = date_server
    row = check_clock(url)
    assert row.result == "pass", row
    assert row.detail.startswith("within ") and row.detail.endswith(" s of the site's (HTTP Date)")


@pytest.mark.parametrize(("skew", "side"), [(60.0, "behind"), (-42.0, "ahead of")])
def test_clock_off_by_more_than_five_seconds_fails(
    date_server: tuple[str, dict[str, Any]], skew: float, side: str
) -> None:
    url, how = date_server
    how["skew"] = skew
    row = check_clock(url)
    assert row == Check(
        "clock",
        "FAIL",
        f"this machine's clock is {abs(skew):.0f} s {side} the site's (HTTP Date)",
        "sync the clock (NTP); GA codes depend on it",
    )


def test_an_error_page_still_tells_the_time(date_server: tuple[str, dict[str, Any]]) -> None:
    url, how = date_server
    how.update(skew=30.0, status=503)
    assert check_clock(url).result == "FAIL"


def test_no_date_header_is_a_skip(date_server: tuple[str, dict[str, Any]]) -> None:
    url, how = date_server
    how["skew"] = None
    assert check_clock(url) == Check("clock", "skip", f"{url} sent no Date header")


def test_an_unreachable_site_fails_the_clock_check() -> None:
    row = check_clock("http://127.0.0.1:9", timeout_s=2)  # discard port: nothing listens
    assert row.result == "FAIL"
    assert row.detail.startswith("cannot reach http://127.0.0.1:9: ")
    assert row.fix == "check HTX_BASE_URL"


# -- settings -----------------------------------------------------------------------------------


def results(rows: list[Check]) -> dict[str, str]:
    return {r.check: r.result for r in rows}


def test_good_settings_pass_and_give_the_mail_settings() -> None:
    rows, mail = check_settings_rows(good_settings())
    assert results(rows) == {"settings": "pass", "TOTP seed": "pass", "mail settings": "pass"}
    assert rows[2].detail == "alice@example.test at imap.example.test:993 (tls)"
    assert mail is not None and mail.host == "imap.example.test"


def test_missing_settings_are_named() -> None:
    rows, mail = check_settings_rows(Settings(email="a@example.test"))
    assert rows[0].result == "FAIL"
    assert rows[0].detail.startswith(
        "Missing settings HTX_TOTP_SECRET, HTX_IMAP_HOST, HTX_IMAP_PASSWORD, HTX_PASSWORD: "
    )
    assert rows[1:] == [
        Check("TOTP seed", "skip", "HTX_TOTP_SECRET is not set"),
        Check("mail settings", "skip", "HTX_IMAP_HOST and HTX_IMAP_PASSWORD not set"),
    ]
    assert mail is None


def test_a_saved_session_makes_the_password_optional() -> None:
    rows, _ = check_settings_rows(good_settings(password=None), saved_session=True)
    assert results(rows)["settings"] == "pass"
    rows, _ = check_settings_rows(good_settings(password=None))
    assert rows[0].detail.startswith("Missing setting HTX_PASSWORD: ")


def test_a_bad_seed_fails_without_showing_it() -> None:
    rows, _ = check_settings_rows(good_settings(totp_secret="not base32 at all!"))
    assert rows[1] == Check(
        "TOTP seed",
        "FAIL",
        "HTX_TOTP_SECRET is not a valid base32 Google Authenticator seed",
        "Copy the setup key shown when GA was bound",
    )


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        (
            {"imap_security": "plain"},
            "IMAP security 'plain' would send the password unencrypted to imap.example.test: "
            "it is allowed only to a loopback host; use tls or starttls",
        ),
        ({"imap_ca_file": Path("/nonexistent/ca.pem")}, "The IMAP CA file /nonexistent/ca.pem "
         "does not exist"),
        ({"mail_code_pattern": r"\d{6}"}, "The verification code pattern needs a group (...) "
         "around the code"),
        ({"mail_from": "noreply"}, "Sender pattern 'noreply' must hold one '@', e.g. '*@htx.com'"),
    ],
)  # fmt: skip
def test_mail_settings_that_cannot_work_fail(changes: dict[str, Any], detail: str) -> None:
    rows, mail = check_settings_rows(good_settings(**changes))
    assert rows[2].check == "mail settings" and rows[2].result == "FAIL"
    assert rows[2].detail == detail
    assert mail is None


def test_no_mail_settings_means_no_mailbox_check() -> None:
    assert check_mailbox(None) == Check("mailbox", "skip", "needs sane mail settings")


# -- the store ----------------------------------------------------------------------------------


def test_a_json_store_skips_the_keyring_and_checks_the_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    assert check_store_rows(f"json:{path}") == [
        Check("keyring", "skip", f"not used: the store is json:{path}"),
        Check("store file", "pass", f"{path} can take a key"),
    ]
    assert not path.exists()  # checked, not written


def test_a_broken_json_store_fails(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("{not json")
    rows = check_store_rows(f"json:{path}")
    assert rows[1].check == "store file" and rows[1].result == "FAIL"
    assert rows[1].detail.startswith(f"{path} is not valid JSON")


def test_an_unknown_store_fails() -> None:
    assert check_store_rows("s3:bucket") == [
        Check(
            "store",
            "FAIL",
            "Unknown store 's3:bucket': use keyring, json:PATH or env-file:PATH",
            "use keyring, json:PATH or env-file:PATH",
        )
    ]


def test_the_keyring_row_says_why_it_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "automation.store_keyring.keyring_usable", lambda s: (False, f"no backend for {s}")
    )
    [row] = check_store_rows("keyring:svc")
    assert (row.check, row.result, row.detail) == ("keyring", "FAIL", "no backend for svc")
    monkeypatch.setattr("automation.store_keyring.keyring_usable", lambda s: (True, ""))
    assert check_store_rows("keyring") == [
        Check("keyring", "pass", "stores and returns a secret: keyring (service htx-keys)")
    ]


# -- the site's rows come from pages.py ---------------------------------------------------------


ROLE_OF_KIND = {
    "textbox": {"label", "textbox"},
    "button": {"button"},
    "menu item": {"menuitem"},
    "checkbox": {"checkbox"},
    "heading": {"heading"},
    "table": {"table"},
    "dialog": {"dialog"},
}


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_each_row_names_the_text_its_first_way_uses(target: Target) -> None:
    """Each row is an element of locators.ELEMENTS; its first way reads the row's text."""
    first = ELEMENTS[target.element][0]
    args = {"perm": target.args[0]} if target.args and target.attribute == "permission_box" else {}
    assert fill_in(first.text, args) == target.text, (target.name, first)
    assert (first.role if first.by == "role" else first.by) in ROLE_OF_KIND[target.kind]
    if target.also:
        group = ELEMENTS[first.within][0] if first.within else None
        assert group is not None and group.text == target.also


def test_row_names_are_unique_and_follow_pages_py(monkeypatch: pytest.MonkeyPatch) -> None:
    names = [t.name for t in TARGETS]
    assert len(names) == len(set(names))
    assert "API Management: textbox 'Link IP Address (optional)'" in names
    assert "Security Authentication: button 'Send…'" in names
    assert "API Management: checkbox 'Trade'" in names
    monkeypatch.setitem(TEXTS, "T_IPS", "IP whitelist")
    ip = next(t for t in TARGETS if t.attribute == "ip_box")
    assert ip.name == "API Management: textbox 'IP whitelist'"
    assert ip.constant == "T_IPS"
    trade = next(t for t in TARGETS if t.args == ("trade",))
    assert trade.constant == "T_PERMISSION['trade']"


# -- the command ----------------------------------------------------------------------------------


def test_command_prints_json_and_exits_13_on_a_failure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: dict[str, Any] = {}

    def fake_run(settings: Settings, **kwargs: Any) -> list[Check]:
        seen.update(kwargs, base_url=settings.base_url)
        return ROWS

    monkeypatch.setattr(doctor_module, "run_doctor", fake_run)
    monkeypatch.chdir(tmp_path)
    args = ["--format", "json", "--quiet", "--timeout", "2", "--session", "none"]
    result = invoke(["doctor", *args, "--base-url", "http://127.0.0.1:1/"])
    assert result.exit_code == DOCTOR_FAILED, result.output
    assert json.loads(result.stdout) == json.loads(render_json(ROWS))
    assert seen["timeout_s"] == 2.0 and seen["headed"] is False
    assert seen["base_url"] == "http://127.0.0.1:1"

    monkeypatch.setattr(doctor_module, "run_doctor", lambda s, **k: ROWS[:2])
    result = invoke(["doctor", "--session", "none"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "1 passed, 0 failed, 1 skipped"


def test_command_reports_a_malformed_setting_as_a_row(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(["doctor", "--format", "json"], env={"HTX_IMAP_PORT": "imap"})
    assert result.exit_code == DOCTOR_FAILED, result.output
    assert json.loads(result.stdout) == [
        {
            "check": "settings",
            "result": "FAIL",
            "detail": "HTX_IMAP_PORT must be a port number, not 'imap'",
            "fix": "see .env.example",
        }
    ]
