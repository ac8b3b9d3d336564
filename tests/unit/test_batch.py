"""`provision --accounts`, without a browser: the accounts checked one by one before anything
starts, runs spread over the endpoints, one account's failure kept to itself, the report per
account (text and JSON, never a secret) and the exit status. The runs are fakes here; the
real thing is tests/e2e/test_provision_accounts.py."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from automation.browser import BrowserChoice
from automation.errors import (
    ExitStatus,
    InputError,
    Interrupted,
    MailError,
    SiteError,
    SomeFailed,
    VerifyError,
)
from automation.store import KeyRecord
from flows.htx.verify import Verification
from htx_keys.app import batch
from htx_keys.app.batch import KeyAsk, Outcome, split_names
from htx_keys.app.batch_output import check_outcomes, outcome_row, render_outcomes
from htx_keys.app.output import SUMMARY_FIELDS, Made, key_summary
from htx_keys.app.web_options import WebOptions
from tests.support.cli import invoke

SEED = "JBSWY3DPEHPK3PXPJBSWY3DP"
SECRET = "secret-key-that-must-not-show-1234"


def record(account: str, access_key: str) -> KeyRecord:
    return KeyRecord(
        access_key,
        SECRET,
        f"{account}@example.test",
        "ci [htx-keys]",
        ["read", "trade"],
        [],
        "2026-01-01T00:00:00Z",
        "2026-04-01T00:00:00Z",
    )


def made(account: str, access_key: str, status: str = "ok", reason: str = "") -> Made:
    verification = Verification(status, reason, {"note": "ci [htx-keys]"})  # type: ignore[arg-type]
    return Made(record(account, access_key), "json:/tmp/keys.json", verification)


OUTCOMES = [
    Outcome("alice", made("alice", "ak-alice-1")),
    Outcome("bob", error=MailError("Could not log in to the mailbox: authentication failed")),
    Outcome(
        "carol",
        made("carol", "ak-carol-1", "failed", "HTX reads back permissions read"),
        VerifyError("Key ak-carol-1 was created and stored, but it does not check out"),
    ),
]


def test_split_names_takes_commas_and_repeats_in_order() -> None:
    assert split_names(("a,b", " c ", "d,,")) == ["a", "b", "c", "d"]


def test_text_has_one_line_per_account_and_no_secret() -> None:
    text = render_outcomes(OUTCOMES, "text")
    lines = text.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("alice  ok      ak-alice-1  Read-only, Trade; stored in")
    assert lines[0].endswith("; verified")
    assert lines[1] == (
        "bob    FAILED  exit 6: Could not log in to the mailbox: authentication failed"
    )
    assert lines[2].startswith("carol  FAILED  ak-carol-1")
    assert "NOT verified; exit 10: Key ak-carol-1" in lines[2]
    assert SECRET not in text


def test_json_is_a_list_of_the_single_account_fields_plus_account_and_error() -> None:
    rows = json.loads(render_outcomes(OUTCOMES, "json"))
    assert [row["account"] for row in rows] == ["alice", "bob", "carol"]
    alice, bob, carol = rows
    assert alice["error"] is None and alice["exit_status"] == 0 and alice["verified"] is True
    assert set(alice) == set(bob) == set(carol)  # every row has every field
    assert bob["access_key"] is None and bob["verified"] is None
    assert bob["error"].startswith("Could not log in") and bob["exit_status"] == 6
    assert carol["access_key"] == "ak-carol-1" and carol["verified"] is False
    assert SECRET not in json.dumps(rows)
    assert set(outcome_row(OUTCOMES[0])) >= {
        "access_key", "note", "permissions", "ip_addresses", "created_at", "expires_at",
        "stored_in", "verified", "read_back", "account", "error", "exit_status",
    }  # fmt: skip


def test_exit_status_is_17_naming_the_failed_accounts_and_0_when_all_worked() -> None:
    check_outcomes(OUTCOMES[:1])
    with pytest.raises(SomeFailed) as failed:
        check_outcomes(OUTCOMES)
    assert failed.value.exit_status == ExitStatus.SOME_FAILED == 17
    assert failed.value.message == "2 of 3 accounts failed: bob (exit 6), carol (exit 10)"


# --- the run, with fake flows -----------------------------------------------------------------


@pytest.fixture
def accounts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Four accounts; `dave` has no GA seed anywhere (his own failure, found before a browser)."""
    for name in list(__import__("os").environ):
        if name.startswith("HTX_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HTX_KEYS_STATE_DIR", str(tmp_path / "state"))
    text = ""
    for name in ("alice", "bob", "carol", "dave"):
        text += (
            f"[accounts.{name}]\nemail = '{name}@example.test'\nimap_host = '127.0.0.1'\n"
            f"imap_security = 'plain'\nbase_url = 'http://127.0.0.1:9'\n"
            f"api_url = 'http://127.0.0.1:9'\nstore = 'json:{tmp_path / name}.json'\n"
            "session = 'none'\n"
        )
        upper = name.upper()
        monkeypatch.setenv(f"HTX_PASSWORD_{upper}", f"password-of-{name}")
        monkeypatch.setenv(f"HTX_IMAP_PASSWORD_{upper}", f"imap-password-of-{name}")
        if name != "dave":
            monkeypatch.setenv(f"HTX_TOTP_SECRET_{upper}", SEED)
    path = tmp_path / "accounts.toml"
    path.write_text(text.replace("session = 'none'\n", ""))
    monkeypatch.setenv("HTX_KEYS_SESSION", "none")
    return path


def no_playwright() -> Any:
    """The workers' Playwright, not started: the fake runs drive no browser."""
    return contextlib.nullcontext()


def fake_provision(
    failing: str, seen: list[tuple[str, str, str]], notes: list[str] | None = None
) -> Any:
    """Each account's run: notes its thread, browser and key note; `failing` fails at step 9."""
    lock = threading.Lock()
    notes = [] if notes is None else notes

    def provision(prep: Any, options: Any, reporter: Any) -> Any:
        name = prep.settings.account
        with lock:
            seen.append((name, threading.current_thread().name, prep.browser.ws_endpoint))
            notes.append(prep.request.note)
        time.sleep(0.05)
        if name == failing:
            raise SiteError("Step 9 (Enter the codes and confirm) timed out")
        result = type("Result", (), {})()
        result.record = record(name, f"ak-{name}")
        result.stored_in = f"json:{name}.json"
        result.verification = None
        result.run = type("Run", (), {"seconds": 1.0})()
        return result

    return provision


def test_every_account_runs_and_one_failure_stops_no_other(
    accounts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, str, str]] = []
    monkeypatch.setattr("htx_keys.app.provisioning.provision", fake_provision("bob", seen))
    monkeypatch.setattr(batch, "thread_playwright", no_playwright)
    endpoints = "ws://127.0.0.1:9/one,ws://127.0.0.1:9/two"
    web = WebOptions(config_file=accounts, ws_endpoint=endpoints)
    outcomes, interrupted = batch.provision_accounts(
        web, ["carol", "dave", "bob", "alice"], KeyAsk("ci"), jobs=2, quiet=True
    )
    assert not interrupted
    assert [o.account for o in outcomes] == ["carol", "dave", "bob", "alice"]
    carol, dave, bob, alice = outcomes
    assert carol.ok and alice.ok and carol.made and carol.made.record.access_key == "ak-carol"
    assert dave.exit_status == ExitStatus.CONFIG  # no seed: found before any browser
    assert "HTX_TOTP_SECRET_DAVE" in dave.error.message  # type: ignore[union-attr]
    assert bob.exit_status == ExitStatus.SITE
    # dave never ran; the others ran in worker threads, spread over both endpoints in turn.
    assert sorted(name for name, _, _ in seen) == ["alice", "bob", "carol"]
    assert {thread for _, thread, _ in seen} <= {"account-0", "account-1"}
    where = {name: endpoint for name, _, endpoint in seen}
    assert where == {
        "carol": "ws://127.0.0.1:9/one",
        "bob": "ws://127.0.0.1:9/two",
        "alice": "ws://127.0.0.1:9/one",
    }


def test_an_interrupted_run_starts_no_further_account(accounts: Path) -> None:
    web = WebOptions(config_file=accounts, ws_endpoint="ws://127.0.0.1:9/one")
    remote = batch.remote_choices(web)
    ready, failed = batch.plan(web, ["alice"], KeyAsk("ci"), quiet=True, remote=remote)
    assert not failed
    stop = threading.Event()
    stop.set()
    choice = BrowserChoice(None, "remote", ws_endpoint="ws://127.0.0.1:9/one")
    outcome = batch.provision_planned(ready[0], choice, stop)
    assert isinstance(outcome.error, Interrupted) and outcome.exit_status == 130


def test_the_cli_prints_a_line_per_account_and_exits_17(
    accounts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes: list[str] = []
    fake = fake_provision("bob", [], notes)
    monkeypatch.setattr("htx_keys.app.provisioning.provision", fake)
    monkeypatch.setattr(batch, "thread_playwright", no_playwright)
    where = ["--config", str(accounts), "--ws-endpoint", "ws://127.0.0.1:9/one"]
    run = invoke(
        ["provision", "--note", "ci", "--accounts", "alice,bob", "--ttl", "2h", *where, "-q"]
    )
    assert run.exit_code == 17, run.output
    lines = run.stdout.splitlines()
    assert lines[0].startswith("alice  ok      ak-alice  Read-only, Trade")
    assert lines[1] == "bob    FAILED  exit 5: Step 9 (Enter the codes and confirm) timed out"
    assert run.stderr == "htx-keys: error: 1 of 2 accounts failed: bob (exit 5)\n"
    # --ttl: one lease end, in every account's key note
    assert len(notes) == 2 and notes[0] == notes[1] and " until 20" in notes[0], notes


def test_accounts_whose_worker_could_not_start_playwright_are_reported(
    accounts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    @contextlib.contextmanager
    def broken() -> Any:
        raise RuntimeError("the driver would not start")
        yield

    monkeypatch.setattr(batch, "thread_playwright", broken)
    web = WebOptions(config_file=accounts, ws_endpoint="ws://127.0.0.1:9/one")
    outcomes, _ = batch.provision_accounts(web, ["alice", "bob"], KeyAsk("ci"), quiet=True)
    assert [(o.account, o.exit_status) for o in outcomes] == [("alice", 1), ("bob", 1)]
    assert outcomes[0].error is not None
    assert outcomes[0].error.message == (
        "not run: unexpected RuntimeError: the driver would not start"
    )


def test_an_accounts_own_bad_default_ips_fail_that_account_and_a_bad_flag_stops_all(
    accounts: Path,
) -> None:
    """IP addresses from an account's own section are that account's mistake; the same
    mistake in --ip is every account's (one line, exit 2, before anything runs)."""
    text = accounts.read_text().replace(
        "[accounts.bob]\n", "[accounts.bob]\nip_addresses = ['300.1.1.1']\n"
    )
    accounts.write_text(text)
    web = WebOptions(config_file=accounts, ws_endpoint="ws://127.0.0.1:9/one")
    remote = batch.remote_choices(web)
    ready, failed = batch.plan(web, ["alice", "bob"], KeyAsk("ci"), quiet=True, remote=remote)
    assert [p.account for p in ready] == ["alice"]
    [bob] = failed
    assert bob.account == "bob" and bob.exit_status == ExitStatus.USAGE
    assert "300.1.1.1" in bob.error.message  # type: ignore[union-attr]
    with pytest.raises(InputError, match=r"300\.1\.1\.2"):
        batch.plan(
            web, ["alice", "bob"], KeyAsk("ci", ips=("300.1.1.2",)), quiet=True, remote=remote
        )


def test_rows_with_a_lease_and_without_have_the_same_fields() -> None:
    leased = record("dave", "ak-dave-1")
    leased.lease_until = "2026-12-01T00:00:00Z"
    rows = [
        outcome_row(Outcome("dave", Made(leased, "json:/tmp/k.json", None))),
        outcome_row(OUTCOMES[1]),
    ]
    assert list(rows[0]) == list(rows[1])
    assert rows[0]["lease_until"] == "2026-12-01T00:00:00Z" and rows[1]["lease_until"] is None


def test_summary_fields_name_every_field_a_summary_can_have_in_its_order() -> None:
    full = record("erin", "ak-erin-1")
    full.sub_uid, full.lease_until = 7, "2026-12-01T00:00:00Z"
    verification = Verification("failed", "reads back read", {"note": "x"})
    summary = key_summary(full, "json:/tmp/k.json", verification)
    assert tuple(summary) == SUMMARY_FIELDS


@pytest.mark.parametrize("quiet", [False, True])
def test_a_second_interrupt_says_why_the_run_goes_on_unless_quiet(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], quiet: bool
) -> None:
    release = threading.Event()
    thread = threading.Thread(target=release.wait, args=(5,))
    thread.start()
    calls = []

    def join(threads: list[threading.Thread]) -> None:
        calls.append(len(threads))
        if len(calls) == 1:
            raise KeyboardInterrupt  # the second Ctrl-C, while the account still runs
        release.set()
        thread.join()

    monkeypatch.setattr(batch, "_join", join)
    batch._join_through_interrupts([thread], quiet=quiet)
    assert calls == [1, 1] and not thread.is_alive()
    said = capsys.readouterr().err
    wanted = "still ending 1 account run(s): a key already read is stored or revoked first"
    assert said.strip() == ("" if quiet else wanted)
