"""Safe bulk deletes without a browser: what `keys reconcile --revoke` may delete (held keys,
canonical sites, young keys, the table's time zone), an unreadable store entry, the go-ahead
(--yes, --dry-run, a person's answer), and the checks made before anything starts."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend

from automation.config import Settings, load_settings
from automation.errors import ConfigError, ExitStatus, InputError, Interrupted, StoreError
from automation.hosts import canonical_site
from automation.runner import Reporter
from automation.session import NoSession
from automation.store import EnvFileStore, JsonStore, KeyRecord, KeyringStore
from flows.htx.key_list import ExchangeKey
from htx_keys.app import reconcile as reconcile_module
from htx_keys.app.deletes import (
    DELETE,
    TOO_NEW,
    Consent,
    approve,
    judge_orphans,
    stored_records,
    table_offset,
)
from htx_keys.app.lifecycle import Listing, held_records
from htx_keys.app.output import deletion_table, orphan_report
from htx_keys.app.preflight import RunOptions
from htx_keys.app.reconcile import Reconciled, ReconcileOptions, reconcile
from htx_keys.app.web_run import WebRun
from tests.support.cli import invoke

TAG = "htx-keys"
NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
TEN_MIN = 600.0


def stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def key(access: str, note: str = "bot [htx-keys]", *, age_min: float = 60) -> ExchangeKey:
    created = stamp(NOW - dt.timedelta(minutes=age_min))
    return ExchangeKey(access, note, ("read",), (), None, "normal", created)


def record(access: str, site: str = "https://www.htx.com", created: str = "") -> KeyRecord:
    return KeyRecord(
        access_key=access,
        secret_key=f"secret-of-{access}-0123456789",
        account="me@example.test",
        note="bot [htx-keys]",
        permissions=["read"],
        ip_addresses=[],
        created_at=created or stamp(NOW - dt.timedelta(hours=2)),
        expires_at=None,
        site=site,
    )


# --- sites by canonical host ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://www.htx.com/", "https://www.htx.com"),
        ("HTTPS://WWW.HTX.COM:443/en-us/apikey/", "https://www.htx.com"),
        ("https://www.htx.com:8443", "https://www.htx.com:8443"),
        ("http://127.0.0.1:80/", "http://127.0.0.1"),
        ("http://[::1]:8000/x?y=1#z", "http://[::1]:8000"),
        ("https://htx.com", "https://htx.com"),  # www. is kept: another host
        ("http://www.htx.com", "http://www.htx.com"),  # so is the scheme
    ],
)
def test_canonical_site(url: str, canonical: str) -> None:
    assert canonical_site(url) == canonical


def test_a_key_stored_with_a_trailing_slash_is_held_on_that_site() -> None:
    settings = Settings(email="Me@example.test", base_url="https://www.htx.com")
    records = [
        record("slash", "https://www.htx.com/"),
        record("upper", "HTTPS://WWW.HTX.COM:443"),
        record("other", "https://htx.com"),
    ]
    store = JsonStore(Path("/nonexistent/keys.json"))
    held = held_records(store, settings, records)
    assert [r.access_key for r in held] == ["slash", "upper"]


# --- judging orphans --------------------------------------------------------------------------


def test_only_the_tools_unheld_keys_old_enough_are_deleted() -> None:
    keys = [
        key("held"),
        key("old"),
        key("young", age_min=3),
        key("hand", "made by hand"),
        ExchangeKey("odd", "x [htx-keys]", ("read",), (), None, "normal", "yesterday"),
        key("future", age_min=-30),  # the clocks disagree: not judged
    ]
    planned = judge_orphans(keys, {"held"}, TAG, NOW, TEN_MIN)
    verdicts = {p.access_key: p.verdict for p in planned}
    assert verdicts == {"old": DELETE, "young": TOO_NEW, "odd": TOO_NEW, "future": TOO_NEW}
    young = next(p for p in planned if p.access_key == "young")
    assert young.why == "3m old, under the 10m minimum"


def test_min_age_zero_judges_every_key() -> None:
    planned = judge_orphans([key("new", age_min=0)], set(), TAG, NOW, 0)
    assert [p.verdict for p in planned] == [DELETE]


def test_a_table_in_an_unknown_zone_needs_twelve_hours_more() -> None:
    # Read as UTC, a time shown in UTC-5 makes a key of 1 minute look 5 hours old.
    keys = [key("looks 5h", age_min=301), key("looks 13h", age_min=13 * 60)]
    planned = judge_orphans(keys, set(), TAG, NOW, TEN_MIN, offset=None)
    assert [p.verdict for p in planned] == [TOO_NEW, DELETE]
    assert planned[0].why == "may be under 10m old: the table's time zone is unknown"
    # The zone known (UTC-5): the first key is a minute old.
    known = judge_orphans(keys, set(), TAG, NOW, TEN_MIN, offset=-5 * 3600)
    assert [p.verdict for p in known] == [TOO_NEW, DELETE]
    assert known[0].why == "60s old, under the 10m minimum"


def test_the_tables_offset_comes_from_held_keys_it_lists() -> None:
    made = NOW - dt.timedelta(hours=2)
    shown_west = stamp(made - dt.timedelta(hours=5) + dt.timedelta(seconds=1))
    listed = [ExchangeKey("a", "x", ("read",), (), None, "normal", shown_west), key("b")]
    assert table_offset(listed, [record("a", created=stamp(made))]) == -5 * 3600
    assert table_offset([key("b")], [record("a")]) is None  # no held key listed
    # Two held keys that disagree, or a gap that is no time zone: unknown.
    other = ExchangeKey("c", "x", ("read",), (), None, "normal", stamp(made))
    both = [record("a", created=stamp(made)), record("c", created=stamp(made))]
    assert table_offset([listed[0], other], both) is None
    odd = ExchangeKey(
        "a", "x", ("read",), (), None, "normal", stamp(made + dt.timedelta(minutes=7))
    )
    assert table_offset([odd], [record("a", created=stamp(made))]) is None


# --- a store entry that cannot be read stops the run --------------------------------------------


class MemoryKeyring(KeyringBackend):
    priority = -1  # never chosen by keyring's own detection

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}
        self.failing: set[str] = set()

    def get_password(self, service: str, username: str) -> str | None:
        if username in self.failing:
            raise RuntimeError("the Secret Service did not answer")
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_an_unreadable_keyring_entry_stops_the_decision(memory_keyring: MemoryKeyring) -> None:
    store = KeyringStore("svc")
    store.save(record("good"))
    store.save(record("broken"))
    memory_keyring.entries[("svc", "broken")] = "{not json"
    assert [r.access_key for r in store.list()] == ["good"]  # list() passes over it
    with pytest.raises(ConfigError) as err:
        stored_records(store)
    assert err.value.message == (
        "Cannot read every key in keyring (service svc) (Key broken… in keyring (service svc): "
        "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)): repair "
        "or remove that entry first; nothing was deleted"
    )
    assert err.value.exit_status == ExitStatus.CONFIG

    memory_keyring.entries[("svc", "broken")] = memory_keyring.entries[("svc", "good")]
    memory_keyring.failing.add("broken")  # the backend fails for one entry
    with pytest.raises(ConfigError, match=r"Key broken…: Keyring \(svc\) failed to read"):
        stored_records(store)

    memory_keyring.failing.clear()
    del memory_keyring.entries[("svc", "broken")]  # removed behind our back: not held
    assert [r.access_key for r in stored_records(store)] == ["good"]


def test_an_env_file_with_a_key_block_but_no_access_key_stops_the_decision(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.env"
    store = EnvFileStore(path)
    store.save(record("abc"))
    path.write_text(path.read_text().replace("HTX_ACCESS_KEY=abc\n", ""))
    assert store.list() == []
    with pytest.raises(ConfigError, match="holds a key block without HTX_ACCESS_KEY"):
        stored_records(store)


def test_a_malformed_json_record_stops_the_decision(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text('[{"access_key": "x"}]')
    with pytest.raises(ConfigError, match="record 1: key record is missing"):
        stored_records(JsonStore(path))
    with pytest.raises(StoreError):
        JsonStore(path).list()


# --- the go-ahead -----------------------------------------------------------------------------


def test_approve_shows_then_asks() -> None:
    seen: list[str] = []
    questions: list[str] = []

    def ask(question: str) -> bool:
        questions.append(question)
        return False

    with pytest.raises(Interrupted, match="Not confirmed: nothing was deleted"):
        approve(Consent(ask=ask, show=seen.append), "TABLE", 2)
    assert (seen, questions) == (["TABLE"], ["Delete 2 key(s) on HTX?"])
    approve(Consent(yes=True, ask=ask, show=seen.append), "TABLE", 2)
    assert len(questions) == 1  # --yes: not asked
    with pytest.raises(InputError):
        approve(Consent(), "TABLE", 1)  # no one to ask


def test_tables_for_the_question_and_the_report() -> None:
    planned = judge_orphans([key("old"), key("young", age_min=2)], set(), TAG, NOW, TEN_MIN)
    table = deletion_table([p.row() for p in planned]).splitlines()
    assert table[0].split() == ["ACCESS", "KEY", "NOTE", "CREATED", "ACTION"]
    assert table[1].split()[-1] == "delete"
    assert "leave alone: too new to judge (2m old, under the 10m minimum)" in table[2]
    result = Reconciled(planned, revoked=["old"])
    assert orphan_report(result.rows(), "text").splitlines() == [
        "Revoked orphan old  bot [htx-keys]  created 2026-11-21T11:00:00Z",
        "Too new to judge young  bot [htx-keys]  created 2026-11-21T11:58:00Z  "
        "(2m old, under the 10m minimum)",
    ]
    result.check()  # nothing left to do
    with pytest.raises(Exception, match="1 orphan key"):
        Reconciled(planned).check()


# --- reconcile with a fake exchange -------------------------------------------------------------


class FakeSession:
    def __init__(self, keys: list[ExchangeKey]) -> None:
        self.listed = keys
        self.deleted: list[str] = []

    def keys(self) -> list[ExchangeKey]:
        return list(self.listed)

    def delete(self, access_key: str) -> None:
        self.deleted.append(access_key)


def fake_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, rest: list[ExchangeKey] | None
) -> tuple[WebRun, FakeSession, JsonStore]:
    settings = Settings(email="me@example.test", min_age=TEN_MIN)
    store = JsonStore(tmp_path / "keys.json")
    page = FakeSession(rest or [])
    listing = Listing(rest, "fake REST") if rest is not None else None
    monkeypatch.setattr(reconcile_module, "exchange_listing", lambda *a: listing)

    @contextmanager
    def session(*args: Any) -> Iterator[FakeSession]:
        yield page

    monkeypatch.setattr(reconcile_module, "web_session", session)
    run = WebRun(settings, store, NoSession(), RunOptions(), Reporter(io.StringIO()))
    monkeypatch.setattr(run, "prepare", lambda **kw: None)
    return run, page, store


def real_age(access: str, minutes: float) -> ExchangeKey:
    created = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)
    return ExchangeKey(access, "bot [htx-keys]", ("read",), (), None, "normal", stamp(created))


def test_a_key_stored_while_the_person_reads_the_table_is_left_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    keys = [real_age("first", 60), real_age("second", 60), real_age("young", 1)]
    run, page, store = fake_run(monkeypatch, tmp_path, keys)

    def ask(question: str) -> bool:
        store.save(record("second"))  # another run stores its key meanwhile
        return True

    result = reconcile(run, ReconcileOptions(revoke=True, consent=Consent(ask=ask)))
    assert page.deleted == ["first"]
    assert result.left == {"second": "stored here meanwhile"}
    assert [p.verdict for p in result.planned] == [DELETE, DELETE, TOO_NEW]


def test_a_dry_run_or_a_listing_deletes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run, page, _store = fake_run(monkeypatch, tmp_path, [real_age("old", 60)])
    dry = Consent(dry_run=True)
    for opts in (ReconcileOptions(revoke=True, consent=dry), ReconcileOptions()):
        result = reconcile(run, opts)
        assert [p.access_key for p in result.planned] == ["old"] and page.deleted == []


def test_from_the_web_table_a_held_key_tells_the_zone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    made = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    held = record("held", site="https://www.htx.com", created=stamp(made))
    west = dt.timedelta(hours=-5)  # the table shows UTC-5
    shown = [
        ExchangeKey("held", "x", ("read",), (), None, "normal", stamp(made + west)),
        real_age("fresh", 1 + 5 * 60),  # a minute old, shown 5 hours earlier
        real_age("orphan", 60 + 5 * 60),  # an hour old
    ]
    run, page, store = fake_run(monkeypatch, tmp_path, None)
    page.listed = shown
    store.save(held)
    result = reconcile(run, ReconcileOptions(revoke=True, consent=Consent(yes=True)))
    assert page.deleted == ["orphan"]
    assert {p.access_key: p.verdict for p in result.planned} == {
        "fresh": TOO_NEW,
        "orphan": DELETE,
    }


# --- checked before anything starts -------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("HTX_KEYS_MIN_AGE", "HTX_KEYS_ACCOUNT", "HTX_KEYS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTX_EMAIL", "me@example.test")
    monkeypatch.setenv("HTX_KEYS_STORE", f"json:{tmp_path / 'keys.json'}")

    def nothing(*args: object, **kwargs: object) -> None:
        raise AssertionError("the command went on after bad input")

    monkeypatch.setattr("htx_keys.app.web_run.WebRun.from_options", nothing)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["keys", "reconcile", "--revoke"],
            "--revoke asks before deleting and stdin is not a terminal: add --yes to delete "
            "without asking, or --dry-run to see what would be deleted",
        ),
        (
            ["keys", "revoke", "--note", "bot", "--all"],
            "--all asks before deleting and stdin is not a terminal: add --yes to delete "
            "without asking, or --dry-run to see what would be deleted",
        ),
        (["keys", "reconcile", "--yes"], "--yes goes with --revoke"),
        (["keys", "revoke", "--note", "bot", "--yes"], "--yes goes with --all"),
        (["keys", "revoke", "AK", "--all", "--yes"], "--all goes with --note"),
        (
            ["keys", "reconcile", "--min-age", "nan"],
            "Invalid value for '--min-age': must be a duration like 10m, 90s or 1h, not 'nan'",
        ),
        (["keys", "reconcile", "--parent-key", "AK"], "--parent-key goes with --sub-uid"),
    ],
)
def test_bad_input_is_refused_before_anything_starts(
    cli_env: None, args: list[str], message: str
) -> None:
    run = invoke(args)
    assert run.exit_code == ExitStatus.USAGE, run.output
    assert run.error == message
    assert run.stderr.count("\n") == 1


def test_min_age_from_the_environment_or_a_env_file(tmp_path: Path) -> None:
    assert load_settings({}, None, {}).min_age == 600
    assert load_settings({}, None, {"HTX_KEYS_MIN_AGE": "90s"}).min_age == 90
    env_file = tmp_path / "x.env"
    env_file.write_text("HTX_KEYS_MIN_AGE=2h\n")
    assert load_settings({}, env_file, {}).min_age == 7200
    with pytest.raises(ConfigError, match="HTX_KEYS_MIN_AGE must be a duration like 10m"):
        load_settings({}, None, {"HTX_KEYS_MIN_AGE": "-5m"})
