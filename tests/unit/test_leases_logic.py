"""Leases and the audit trail, without a browser: the tag with a lease and its arithmetic,
what `keys reap` decides, the CI variables an audit entry takes, appends from several
processes at once. Sessions from a secret and the action: test_ci_session_and_action.py; the
end-to-end runs: tests/e2e/test_leases.py and test_example_workflow.py."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from automation.audit import append, ci_run, read
from automation.config import Settings
from automation.errors import ConfigError, InputError
from automation.redaction import REDACTOR
from automation.runner import Reporter
from automation.store import EnvFileStore, JsonStore, KeyRecord
from flows.htx.key_list import ExchangeKey
from flows.htx.lease import describe_left, lease_end, lease_of, parse_ttl, split_tag
from flows.htx.limits import KeyRequest, check_note, has_tag, note_matches, tag_note, untagged
from flows.htx.provision import new_record
from htx_keys.app.audit import audited_on_key, build_entry, history
from htx_keys.app.reap import judge_leases, reap_report
from htx_keys.cli.commands.keys_leases import history_line

ROOT = Path(__file__).resolve().parents[2]
NOON = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
TAG = "htx-keys"


# --- the lease in the tag -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2h", 7200), ("90s", 90), ("1d", 86400), ("30", 1800), (" 1.5h ", 5400), ("1s", 1)],
)
def test_ttl_durations(text: str, seconds: float) -> None:
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0s", "--ttl must be between 1s and 366d, not '0s'"),
        ("367d", "--ttl must be between 1s and 366d, not '367d'"),
        ("2 hours", "--ttl must be a duration like 2h, 30m or 90s, not '2 hours'"),
        ("-1h", "--ttl must be a duration like 2h, 30m or 90s, not '-1h'"),
    ],
)
def test_bad_ttls(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_ttl(text)
    assert caught.value.message == message


def test_a_lease_ends_on_a_whole_second_never_before_it_was_asked_to() -> None:
    assert lease_end(7200, NOON) == NOON + dt.timedelta(hours=2)
    late = NOON + dt.timedelta(microseconds=1)
    assert lease_end(60, late) == NOON + dt.timedelta(seconds=61)


def test_the_lease_goes_into_the_tag_and_comes_back_out() -> None:
    until = NOON + dt.timedelta(hours=2)
    note = tag_note("ci run 42", TAG, until)
    assert note == "ci run 42 [htx-keys until 20261130T140000Z]"
    assert has_tag(note, TAG) and not has_tag(note, "other")
    assert lease_of(note, TAG) == until and lease_of(note) == until
    assert lease_of(note, "other") is None
    assert untagged(note, TAG) == "ci run 42"
    assert tag_note(note, TAG, NOON) == note  # tagged once: its lease stays
    assert lease_of(tag_note("kept", TAG)) is None  # the tool's key without a lease


@pytest.mark.parametrize(
    "note",
    [
        "hand made [htx-keys until tomorrow]",  # not a time: not the tool's tag
        "[htx-keys until 20261399T000000Z]",  # digits, but no date
        "x [htx-keys until 20261130T140000Z] more",  # not at the end
        "x [htx-keys until 20261130T1400Z]",  # not the tool's form
    ],
)
def test_what_only_looks_like_a_lease_is_none(note: str) -> None:
    assert lease_of(note) is None
    assert not has_tag(note, TAG) or split_tag(note) is None


def test_note_matching_sees_through_the_lease() -> None:
    leased = "ci run 42 [htx-keys until 20261130T140000Z]"
    assert note_matches(leased, "ci run 42", TAG)
    assert note_matches(leased, "ci run 42 [htx-keys]", TAG)
    assert note_matches(leased, leased, TAG)
    assert not note_matches(leased, "ci run 4", TAG)
    assert not note_matches("ci run 42", "ci run 42 [htx-keys]", TAG)  # made by hand
    assert note_matches("ci run 42 [htx-keys]", "ci run 42", TAG)


def test_the_note_limit_counts_the_lease() -> None:
    until = NOON + dt.timedelta(hours=2)
    tag = " [htx-keys until 20261130T140000Z]"
    assert len(check_note("n" * (255 - len(tag)), TAG, until)) == 255
    with pytest.raises(InputError) as caught:
        check_note("n" * 230, TAG, until)
    assert caught.value.message == (
        f"--note is 230 characters long, 264 with the tool's tag '{tag}'; HTX allows at most "
        "255 (shorten it)"
    )


def test_a_new_record_takes_its_lease_from_the_note() -> None:
    until = NOON + dt.timedelta(hours=2)
    request = KeyRequest(tag_note("bot", TAG, until), ("read",), ())
    record = new_record(request, "AK", "SK", account="a@example.test", site="https://x")
    assert record.lease_until == "2026-11-30T14:00:00Z"
    assert new_record(KeyRequest("bot [htx-keys]", ("read",), ()), "AK", "SK",
                      account="a", site="s").lease_until is None  # fmt: skip


@pytest.mark.parametrize("kind", ["json", "env-file"])
def test_stores_keep_the_lease(kind: str, tmp_path: Path) -> None:
    record = KeyRecord("AK1", "SK-secret-1", "a@example.test", "bot [htx-keys until "
                       "20261130T140000Z]", ["read"], [], "2026-11-30T12:00:00Z", None,
                       "https://x", lease_until="2026-11-30T14:00:00Z")  # fmt: skip
    store = JsonStore(tmp_path / "k.json") if kind == "json" else EnvFileStore(tmp_path / "k.env")
    store.save(record)
    assert store.load("AK1") == record
    old = {k: v for k, v in record.to_dict().items() if k != "lease_until"}
    assert KeyRecord.from_dict(old).lease_until is None  # records from before leases


# --- what reap decides ----------------------------------------------------------------------


def key(access_key: str, note: str) -> ExchangeKey:
    return ExchangeKey(access_key, note, ("read",), (), None, "normal", "2026-11-30T10:00:00Z")


def test_reap_takes_only_the_tools_keys_whose_lease_ran_out() -> None:
    keys = [
        key("HAND", "made by hand"),
        key("HAND2", "looks leased [other-tool until 20261130T110000Z]"),
        key("KEPT", "kept [htx-keys]"),
        key("OVER", "job [htx-keys until 20261130T110000Z]"),
        key("EXACT", "job [htx-keys until 20261130T120000Z]"),
        key("LATER", "job [htx-keys until 20261130T130000Z]"),
    ]
    planned = {p.access_key: (p.verdict, p.why) for p in judge_leases(keys, TAG, NOON)}
    assert planned == {
        "OVER": ("delete", "lease ended 60m ago"),
        "EXACT": ("delete", "lease ended 0s ago"),
        "LATER": ("lease running", "lease ends in 60m"),
    }
    assert judge_leases(keys, "", NOON) == []  # no tag: nothing can be the tool's


def test_describe_left() -> None:
    assert describe_left(NOON + dt.timedelta(days=3), NOON) == "ends in 3.0d"
    assert describe_left(NOON - dt.timedelta(hours=5), NOON) == "ended 5.0h ago"


def test_reap_report() -> None:
    rows = [
        {"access_key": "A", "note": "a", "verdict": "delete", "why": "lease ended 1m ago",
         "reaped": True, "left": "", "local_copy": "removed from k.json"},
        {"access_key": "B", "note": "b", "verdict": "delete", "why": "lease ended 2m ago",
         "reaped": False, "left": "already gone from HTX", "local_copy": ""},
        {"access_key": "C", "note": "c", "verdict": "lease running", "why": "lease ends in 5m",
         "reaped": False, "left": "", "local_copy": ""},
    ]  # fmt: skip
    assert reap_report(rows).splitlines() == [
        "Reaped A  a  (lease ended 1m ago); removed from k.json",
        "Not reaped B  b  (lease ended 2m ago): already gone from HTX",
        "Running C  c  (lease ends in 5m)",
    ]
    assert reap_report([]) == "No keys with a lease on HTX."


# --- the CI run of an audit entry -----------------------------------------------------------

TOKENS = {"GITHUB_TOKEN": "ghs_token", "CI_JOB_TOKEN": "glcbt-token", "ACTIONS_RUNTIME_TOKEN": "t"}


def test_github_run() -> None:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "123", "GITHUB_RUN_ATTEMPT": "2",
           "GITHUB_REPOSITORY": "acme/bots", "GITHUB_SERVER_URL": "https://ghe.example/",
           "GITHUB_JOB": "test", "GITHUB_WORKFLOW": "CI", "CI": "true", **TOKENS}  # fmt: skip
    assert ci_run(env) == {
        "provider": "github",
        "run_id": "123",
        "url": "https://ghe.example/acme/bots/actions/runs/123/attempts/2",
        "attempt": "2",
        "job": "test",
        "repository": "acme/bots",
        "workflow": "CI",
    }


def test_gitlab_run() -> None:
    env = {"GITLAB_CI": "true", "CI": "true", "CI_PIPELINE_ID": "77", "CI_JOB_ID": "5",
           "CI_JOB_NAME": "deploy", "CI_PIPELINE_URL": "https://gl.example/p/-/pipelines/77",
           "CI_PROJECT_PATH": "acme/bots", **TOKENS}  # fmt: skip
    assert ci_run(env) == {
        "provider": "gitlab",
        "run_id": "77",
        "url": "https://gl.example/p/-/pipelines/77",
        "job_id": "5",
        "job": "deploy",
        "repository": "acme/bots",
    }


def test_generic_ci_and_none() -> None:
    jenkins = {"CI": "true", "BUILD_NUMBER": "9", "BUILD_URL": "https://j.example/job/x/9/"}
    assert ci_run(jenkins) == {"provider": "ci", "run_id": "9", "url": "https://j.example/job/x/9/"}
    assert ci_run({"CI": "1"}) == {"provider": "ci"}
    assert ci_run({"CI": "false", "BUILD_ID": "1"}) is None
    assert ci_run({}) is None


# --- the log --------------------------------------------------------------------------------


def settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(email="me@example.test", state_dir=tmp_path / "state", **extra)  # type: ignore[arg-type]


def test_an_entry_holds_facts_and_the_ci_run() -> None:
    facts = {"access_key": "AK", "note": "n", "permissions": ["read"], "ip_addresses": [],
             "lease_until": None}  # fmt: skip
    entry = build_entry("create", Settings(email="me@example.test"), facts, "created",
                        now=NOON, env={"CI": "true"})  # fmt: skip
    assert entry == {
        "time": "2026-11-30T12:00:00Z",
        "event": "create",
        "account": "me@example.test",
        "site": "https://www.htx.com",
        **facts,
        "outcome": "created",
        "ci": {"provider": "ci"},
        "host": entry["host"],
    }


@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
def test_the_log_is_0600_and_masks_what_matches_a_secret(tmp_path: Path) -> None:
    log = tmp_path / "state" / "audit.jsonl"
    REDACTOR.add("sk-very-secret-value-1", label="secret key")
    try:
        append(log, {"event": "create", "note": "oops sk-very-secret-value-1"})
    finally:
        REDACTOR.clear()
    assert (log.stat().st_mode & 0o777) == 0o600
    assert "sk-very-secret-value-1" not in log.read_text()
    assert [e["event"] for e in read(log)] == ["create"]


WRITER = """
import sys
from pathlib import Path
from automation.audit import append
for n in range(int(sys.argv[3])):
    append(Path(sys.argv[1]), {"writer": sys.argv[2], "n": n, "pad": "x" * 3000})
"""


def test_appends_from_several_processes_never_mix(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(log), str(w), "40"], cwd=ROOT)
        for w in range(4)
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0, 0]
    lines = log.read_text().splitlines()
    entries = [json.loads(line) for line in lines]  # each line whole: no interleaving
    assert len(entries) == 160
    for w in range(4):
        assert [e["n"] for e in entries if e["writer"] == str(w)] == list(range(40))


def test_a_log_that_cannot_be_written_warns_and_the_key_is_still_announced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    seen: list[str] = []
    record = KeyRecord("AK", "SK", "me@example.test", "n", ["read"], [], "t", None)
    on_key = audited_on_key(settings(tmp_path, audit_log=blocker / "audit.jsonl"),
                            lambda r: seen.append(r.access_key), Reporter())  # fmt: skip
    on_key(record)
    assert seen == ["AK"]
    assert "warning: not recorded in the audit log:" in capsys.readouterr().err


def test_history_filters(tmp_path: Path) -> None:
    mine = settings(tmp_path)
    log = mine.state_dir / "audit.jsonl"
    for account, event, access_key in [("me@example.test", "create", "A"),
                                       ("other@example.test", "create", "B"),
                                       ("ME@example.test", "revoke", "A")]:  # fmt: skip
        append(log, {"account": account, "event": event, "access_key": access_key})
    assert [e["event"] for e in history(mine)] == ["create", "revoke"]
    assert len(history(mine, every_account=True)) == 3
    assert [e["event"] for e in history(mine, event="revoke")] == ["revoke"]
    assert history(mine, access_key="B") == []
    assert [e["event"] for e in history(mine, limit=1)] == ["revoke"]
    line = history_line({"time": "T", "event": "rotate", "outcome": "rotated",
                         "access_key": "A", "note": "n", "replaced_by": "C",
                         "ci": {"provider": "github", "run_id": "1", "url": "U"}})  # fmt: skip
    assert line == "T  rotate  rotated  A  'n'  replaced by C  github run 1  U"


def test_count_does_not_count_a_key_whose_lease_ran_out() -> None:
    from htx_keys.app.lifecycle import plan_count

    now = dt.datetime.now(dt.UTC)
    over = key("OVER", tag_note("bots", TAG, now - dt.timedelta(minutes=1)))
    live = key("LIVE", tag_note("bots", TAG, now + dt.timedelta(hours=1)))
    records = [KeyRecord(k.access_key, "SK", "a", k.note, ["read"], [], "t", None)
               for k in (over, live)]  # fmt: skip
    request = KeyRequest(tag_note("bots", TAG, now + dt.timedelta(hours=2)), ("read",), ())
    plan = plan_count([over, live], records, request, 2, tag=TAG, allow_duplicate=False)
    assert [r.access_key for r in plan.existing] == ["LIVE"] and plan.missing == 1


def test_reap_deletes_nothing_when_this_machines_clock_is_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from types import SimpleNamespace

    from htx_keys.app import reap as reap_module
    from htx_keys.app.checks import Check
    from htx_keys.app.deletes import Consent

    asked: list[float] = []

    def clock(url: str, max_skew_s: float) -> Check:
        asked.append(max_skew_s)
        return Check("clock", "FAIL", "this machine's clock is 300 s ahead of the site's")

    def no_listing(*_args: object) -> None:
        raise AssertionError("the keys were read with a clock that is off")

    monkeypatch.setattr(reap_module, "check_clock", clock)
    monkeypatch.setattr(reap_module, "exchange_listing", no_listing)
    run = SimpleNamespace(tag=TAG, settings=Settings(email="me@example.test"))
    with pytest.raises(ConfigError) as caught:
        reap_module.reap(run, Consent(yes=True))  # type: ignore[arg-type]
    assert caught.value.message == (
        "this machine's clock is 300 s ahead of the site's: leases are judged by this "
        "machine's clock, so nothing was reaped"
    )
    assert asked == [60.0]
