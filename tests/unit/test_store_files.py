from __future__ import annotations

import json
import multiprocessing
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.chainer
import keyring.backends.fail
import keyring.backends.null
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from automation.errors import InputError, StoreError
from automation.locks import file_lock
from automation.redaction import REDACTOR
from automation.store import (
    EnvFileStore,
    JsonStore,
    KeyRecord,
    KeyringStore,
    keyring_usable,
    open_store,
    rescue_save,
)


def make_record(n: int = 1, **changes: object) -> KeyRecord:
    fields: dict[str, object] = {
        "access_key": f"ak{n:06d}-1a2b3c4d-5e6f7a8b-9c0d1",
        "secret_key": f"sk{n:06d}-aaaabbbb-ccccdddd-eeee1",
        "account": "alice@example.test",
        "note": f"bot {n}",
        "permissions": ["read", "trade"],
        "ip_addresses": ["203.0.113.7", "198.51.100.0/24"],
        "created_at": "2026-11-21T10:00:00Z",
        "expires_at": None,
        "site": "https://www.htx.com",
    }
    fields.update(changes)
    return KeyRecord(**fields)  # type: ignore[arg-type]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- KeyRecord -----------------------------------------------------------------------------


def test_record_round_trip_and_public_dict_has_no_secret() -> None:
    record = make_record(expires_at="2027-02-19T10:00:00Z")
    assert KeyRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record
    public = record.public_dict()
    assert "secret_key" not in public
    assert record.secret_key not in json.dumps(public)
    assert record.secret_key not in repr(record)
    assert public["access_key"] == record.access_key


def test_record_from_dict_names_missing_fields_without_values() -> None:
    data = make_record().to_dict()
    del data["secret_key"], data["account"]
    with pytest.raises(ValueError, match=r"^key record is missing secret_key, account$"):
        KeyRecord.from_dict(data)
    data = make_record().to_dict()
    del data["site"]  # optional: records written before it existed still load
    assert KeyRecord.from_dict(data).site == ""
    data["permissions"] = "read"
    with pytest.raises(ValueError, match="malformed permissions"):
        KeyRecord.from_dict(data)


# --- open_store ----------------------------------------------------------------------------


def test_open_store_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    default = open_store("keyring")
    assert isinstance(default, KeyringStore)
    assert (default.service, default.spec) == ("htx-keys", "keyring")
    assert default.location == "keyring (service htx-keys)"
    custom = open_store("keyring:my-service")
    assert isinstance(custom, KeyringStore)
    assert (custom.service, custom.spec) == ("my-service", "keyring:my-service")
    home = open_store("json:~/keys.json")
    assert isinstance(home, JsonStore)
    assert home.path == tmp_path / "keys.json"
    assert home.spec == f"json:{tmp_path / 'keys.json'}"
    relative = open_store("env-file:sub/../bot.env")
    assert isinstance(relative, EnvFileStore)
    assert relative.path == tmp_path / "bot.env"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("vault", "Unknown store 'vault': use keyring, json:PATH or env-file:PATH"),
        ("", "Unknown store '': use keyring, json:PATH or env-file:PATH"),
        ("yaml:/x", "Unknown store 'yaml:/x': use keyring, json:PATH or env-file:PATH"),
        ("json:", "Store 'json:' needs a path: json:PATH"),
        ("env-file: ", "Store 'env-file: ' needs a path: env-file:PATH"),
        ("keyring:", "Store 'keyring:' needs a service name: keyring:SERVICE"),
    ],
)
def test_open_store_errors(spec: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        open_store(spec)
    assert str(caught.value) == message


# --- JSON store ----------------------------------------------------------------------------


def test_json_store_creates_0600_and_appends(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "keys.json"
    store = open_store(f"json:{path}")
    store.check()
    assert not path.exists()  # check() has no side effects
    assert store.save(make_record(1)) == str(path)
    assert mode(path) == 0o600
    assert store.save(make_record(2)) == str(path)
    data = json.loads(path.read_text())
    assert [r["access_key"] for r in data] == [make_record(1).access_key, make_record(2).access_key]
    assert store.list() == [make_record(1), make_record(2)]
    assert store.load(make_record(2).access_key) == make_record(2)
    # no temp file left behind, only the store and its lock
    assert sorted(p.name for p in path.parent.iterdir()) == ["keys.json", "keys.json.lock"]


def test_json_store_refuses_a_duplicate(tmp_path: Path) -> None:
    store = open_store(f"json:{tmp_path / 'keys.json'}")
    store.save(make_record(1))
    before = (tmp_path / "keys.json").read_bytes()
    with pytest.raises(StoreError) as caught:
        store.save(make_record(1, note="changed"))
    assert str(caught.value) == (
        f"{tmp_path / 'keys.json'} already holds key {make_record(1).access_key[:8]}…"
    )
    assert (tmp_path / "keys.json").read_bytes() == before


def test_json_store_tightens_a_looser_mode(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("[]\n")
    os.chmod(path, 0o644)
    store = open_store(f"json:{path}")
    store.check()
    store.save(make_record())
    assert mode(path) == 0o600


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "is not valid JSON (Expecting property name enclosed in double quotes"),
        ('{"a": 1}', "does not hold a JSON list of key records"),
        ('[{"access_key": "x"}]', ": record 1: key record is missing secret_key"),
    ],
)
def test_json_store_check_rejects_a_corrupt_file(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "keys.json"
    path.write_text(content)
    with pytest.raises(StoreError) as caught:
        open_store(f"json:{path}").check()
    assert str(caught.value).startswith(f"{path}")
    assert problem in str(caught.value)


def test_json_store_check_rejects_unwritable_places(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(StoreError, match="is not a directory"):
        open_store(f"json:{tmp_path / 'a-file' / 'keys.json'}").check()
    with pytest.raises(StoreError, match="is a directory"):
        open_store(f"json:{tmp_path}").check()


def test_json_store_empty_file_is_an_empty_store(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.touch()
    store = open_store(f"json:{path}")
    store.check()
    assert store.list() == []


def test_json_store_load_and_delete(tmp_path: Path) -> None:
    store = open_store(f"json:{tmp_path / 'keys.json'}")
    for n in (1, 2, 3):
        store.save(make_record(n))
    store.delete(make_record(2).access_key)
    assert [r.access_key for r in store.list()] == [
        make_record(1).access_key,
        make_record(3).access_key,
    ]
    with pytest.raises(StoreError, match=r"^No key ak000002… in "):
        store.load(make_record(2).access_key)
    with pytest.raises(StoreError, match=r"^No key ak000002… in "):
        store.delete(make_record(2).access_key)
    assert mode(tmp_path / "keys.json") == 0o600


def test_json_store_writes_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    link = tmp_path / "link.json"
    link.symlink_to(real)
    open_store(f"json:{link}").save(make_record())
    assert link.is_symlink()
    assert json.loads(real.read_text())[0]["access_key"] == make_record().access_key


def _save_one(path: str, n: int) -> None:
    open_store(f"json:{path}").save(make_record(n))


def test_json_store_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_save_one, args=(str(path), n)) for n in range(1, 9)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    keys = sorted(r.access_key for r in open_store(f"json:{path}").list())
    assert keys == sorted(make_record(n).access_key for n in range(1, 9))


# --- env-file store ------------------------------------------------------------------------


def test_env_file_store_writes_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "bot.env"
    store = open_store(f"env-file:{path}")
    record = make_record(note='odd "note", with  spaces ', ip_addresses=[])
    store.check()
    assert store.save(record) == str(path)
    assert mode(path) == 0o600
    text = path.read_text()
    assert f"HTX_ACCESS_KEY={record.access_key}\n" in text
    assert f"HTX_SECRET_KEY={record.secret_key}\n" in text
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert "# account: alice@example.test" in comments
    assert "# expires: never (IP addresses bound, or read-only)" in comments
    assert not any(record.secret_key in line for line in comments)
    assert store.load(record.access_key) == record
    assert store.list() == [record]


def test_env_file_store_refuses_a_second_key_before_the_browser(tmp_path: Path) -> None:
    path = tmp_path / "bot.env"
    store = open_store(f"env-file:{path}")
    store.save(make_record(1))
    with pytest.raises(InputError) as caught:
        store.check()
    assert str(caught.value) == (
        f"{path} already holds API key ak000001…; choose another file or remove that key first"
    )
    with pytest.raises(StoreError, match="already holds API key"):
        store.save(make_record(2))
    assert store.list() == [make_record(1)]


def test_env_file_store_keeps_other_lines(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    original = "# my settings\nHTX_EMAIL=alice@example.test\nHTX_ACCESS_KEY=\nexport OTHER='x y'\n"
    path.write_text(original)
    os.chmod(path, 0o644)
    store = open_store(f"env-file:{path}")
    store.check()  # an empty placeholder is not a key
    store.save(make_record())
    text = path.read_text()
    assert text.startswith("# my settings\nHTX_EMAIL=alice@example.test\nexport OTHER='x y'\n")
    assert text.count("HTX_ACCESS_KEY=") == 1
    assert mode(path) == 0o600
    assert store.load(make_record().access_key) == make_record()
    store.delete(make_record().access_key)
    assert path.read_text() == "# my settings\nHTX_EMAIL=alice@example.test\nexport OTHER='x y'\n"
    assert store.list() == []


def test_env_file_store_sees_an_exported_key(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("export HTX_ACCESS_KEY='abcdefgh-1234'\n")
    with pytest.raises(InputError, match=r"already holds API key abcdefgh…;"):
        open_store(f"env-file:{path}").check()


def test_env_file_store_delete_removes_a_file_it_alone_wrote(tmp_path: Path) -> None:
    store = open_store(f"env-file:{tmp_path / 'bot.env'}")
    store.save(make_record())
    store.delete(make_record().access_key)
    assert not (tmp_path / "bot.env").exists()


def test_env_file_store_load_names_a_missing_header(tmp_path: Path) -> None:
    path = tmp_path / "bot.env"
    path.write_text("HTX_ACCESS_KEY=abc\nHTX_SECRET_KEY=def\n")
    with pytest.raises(StoreError, match="missing account"):
        open_store(f"env-file:{path}").list()


# --- rescue --------------------------------------------------------------------------------


def test_rescue_save_writes_a_private_file_json_store_can_read(tmp_path: Path) -> None:
    record = make_record()
    directory = tmp_path / "rescue"
    first = rescue_save(record, directory)
    second = rescue_save(record, directory)  # same second: a new file, never an overwrite
    assert first != second
    assert first.parent == directory
    assert first.name.startswith("rescue-") and first.name.endswith(
        f"-{record.access_key[:8]}.json"
    )
    assert mode(first) == 0o600
    assert mode(directory) == 0o700
    assert open_store(f"json:{first}").list() == [record]


# --- keyring store, with an in-memory backend ----------------------------------------------


class MemoryKeyring(KeyringBackend):
    # Below fail.Keyring's 0, so keyring's own detection never picks this class in other tests.
    priority = -1

    def __init__(self, corrupt: bool = False) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}
        self.corrupt = corrupt

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        if self.corrupt and username != "index":
            password = password.replace("sk", "xx", 1)
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("no such entry")


@pytest.fixture
def memory_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    # The default state dir, where a keyring store's lock file goes: the test's own.
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_keyring_store_keeps_an_index(memory_keyring: MemoryKeyring) -> None:
    store = KeyringStore("svc")
    store.check()
    assert store.save(make_record(1)) == "keyring (service svc)"
    store.save(make_record(2))
    index = json.loads(memory_keyring.entries[("svc", "index")])
    assert index == [make_record(1).access_key, make_record(2).access_key]
    stored = json.loads(memory_keyring.entries[("svc", make_record(1).access_key)])
    assert stored == make_record(1).to_dict()
    assert store.list() == [make_record(1), make_record(2)]
    assert store.load(make_record(2).access_key) == make_record(2)
    store.delete(make_record(1).access_key)
    assert json.loads(memory_keyring.entries[("svc", "index")]) == [make_record(2).access_key]
    assert ("svc", make_record(1).access_key) not in memory_keyring.entries
    with pytest.raises(StoreError, match=r"^No key ak000001… in keyring \(service svc\)$"):
        store.load(make_record(1).access_key)


class LockCheckingKeyring(MemoryKeyring):
    """Notes, at every index change, whether the store's lock file was held by someone."""

    def __init__(self, lock_file: Path) -> None:
        super().__init__()
        self.lock_file = lock_file
        self.index_writes: list[bool] = []

    def set_password(self, service: str, username: str, password: str) -> None:
        if username == "index":
            try:
                with file_lock(self.lock_file, timeout=0, error=StoreError):
                    held = False
            except StoreError:
                held = True
            self.index_writes.append(held)
        super().set_password(service, username, password)


def test_keyring_store_changes_its_index_under_the_lock_file(tmp_path: Path) -> None:
    store = KeyringStore("team bots/1", lock_dir=tmp_path / "state")
    # Named after the service, safe for any file system, and told apart from look-alikes.
    assert store.lock_file.parent == tmp_path / "state"
    assert store.lock_file.name.startswith("keyring-team_bots_1-")
    assert store.lock_file.name.endswith(".lock")
    assert KeyringStore("htx-keys", lock_dir=tmp_path).lock_file.name == "keyring-htx-keys.lock"
    assert KeyringStore("team_bots_1", lock_dir=tmp_path).lock_file != store.lock_file
    backend = LockCheckingKeyring(store.lock_file)
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        store.save(make_record(1))
        store.save(make_record(2))
        store.delete(make_record(1).access_key)
    finally:
        keyring.set_keyring(previous)
    assert backend.index_writes == [True, True, True]
    assert stat.S_IMODE(store.lock_file.stat().st_mode) == 0o600


def test_keyring_store_default_lock_dir_is_the_state_dir(memory_keyring: MemoryKeyring) -> None:
    store = open_store("keyring")
    assert isinstance(store, KeyringStore)
    assert store.lock_file == Path(os.environ["XDG_STATE_HOME"]) / "htx-keys/keyring-htx-keys.lock"
    elsewhere = open_store("keyring:svc", Path("/somewhere/state"))
    assert isinstance(elsewhere, KeyringStore)
    assert elsewhere.lock_file == Path("/somewhere/state/keyring-svc.lock")


def test_keyring_store_held_lock_is_a_one_line_store_error(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("automation.store_keyring.KEYRING_LOCK_TIMEOUT", 0.1)
    store = KeyringStore("svc")
    with file_lock(store.lock_file), pytest.raises(StoreError) as caught:
        store.save(make_record())
    assert str(caught.value) == (
        f"Gave up after 0.1 s waiting for the lock file {store.lock_file}: "
        "another htx-keys run holds it"
    )
    assert memory_keyring.entries == {}  # nothing written without the lock


def test_keyring_store_never_overwrites(memory_keyring: MemoryKeyring) -> None:
    store = KeyringStore("svc")
    store.save(make_record())
    with pytest.raises(StoreError) as caught:
        store.save(make_record(note="other"))
    assert (
        str(caught.value) == "keyring (service svc) already holds key ak000001…; not overwriting it"
    )
    assert store.load(make_record().access_key).note == "bot 1"


def test_keyring_store_read_back_mismatch_raises(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.corrupt = True
    with pytest.raises(StoreError) as caught:
        KeyringStore("svc").save(make_record())
    message = str(caught.value)
    assert message == (
        "Key ak000001… read back from keyring (service svc) differs from what was written"
    )
    assert make_record().secret_key not in message


def test_keyring_store_list_skips_stale_index_entries(memory_keyring: MemoryKeyring) -> None:
    store = KeyringStore("svc")
    store.save(make_record(1))
    store.save(make_record(2))
    del memory_keyring.entries[("svc", make_record(1).access_key)]
    assert store.list() == [make_record(2)]


def test_keyring_store_check_rejects_a_corrupt_index(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.entries[("svc", "index")] = "{oops"
    expected = r"index entry of keyring \(service svc\) is not a JSON list"
    with pytest.raises(StoreError, match=expected):
        KeyringStore("svc").check()


def test_loaded_secrets_enter_the_redactor(memory_keyring: MemoryKeyring) -> None:
    store = KeyringStore("svc")
    record = make_record(7)
    memory_keyring.entries[("svc", record.access_key)] = json.dumps(record.to_dict())
    store.load(record.access_key)
    assert record.secret_key in REDACTOR.values


def test_keyring_usable_with_a_working_backend(memory_keyring: MemoryKeyring) -> None:
    assert keyring_usable("svc") == (True, "")
    assert memory_keyring.entries == {}  # the probe cleaned up after itself


@pytest.mark.parametrize(
    ("backend", "reason"),
    [
        (
            keyring.backends.fail.Keyring(),
            "keyring found no backend (keyring.backends.fail.Keyring)",
        ),
        (keyring.backends.null.Keyring(), "keyring is disabled (keyring.backends.null.Keyring)"),
    ],
)
def test_keyring_usable_false_without_a_real_backend(backend: KeyringBackend, reason: str) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        assert keyring_usable() == (False, reason)
        with pytest.raises(StoreError) as caught:
            KeyringStore().check()
        assert str(caught.value) == (
            f"No usable OS keyring ({reason}); use --store json:PATH or run a Secret Service"
        )
        assert caught.value.hint
    finally:
        keyring.set_keyring(previous)


def test_keyring_usable_false_for_an_empty_chainer(monkeypatch: pytest.MonkeyPatch) -> None:
    chainer = keyring.backends.chainer.ChainerBackend
    monkeypatch.setattr(chainer, "backends", [])
    previous = keyring.get_keyring()
    keyring.set_keyring(chainer())
    try:
        ok, reason = keyring_usable()
    finally:
        keyring.set_keyring(previous)
    assert not ok
    assert "nothing behind it" in reason


def test_keyring_usable_false_for_a_plaintext_file_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    # keyrings.alt is not installed; a class from a module of that name stands in for it.
    plaintext = type("PlaintextKeyring", (MemoryKeyring,), {"__module__": "keyrings.alt.file"})
    previous = keyring.get_keyring()
    keyring.set_keyring(plaintext())
    try:
        assert keyring_usable() == (
            False,
            "keyrings.alt.file.PlaintextKeyring keeps secrets in a plaintext file",
        )
    finally:
        keyring.set_keyring(previous)


class BrokenKeyring(MemoryKeyring):
    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError("dbus says no\nsecond line")


def test_keyring_usable_false_when_the_probe_fails() -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(BrokenKeyring())
    try:
        ok, reason = keyring_usable("svc")
    finally:
        keyring.set_keyring(previous)
    assert (ok, reason) == (
        False,
        "tests.unit.test_store_files.BrokenKeyring: RuntimeError: dbus says no",
    )


def test_sub_user_keys_keep_their_sub_uid_in_every_file_store(tmp_path: Path) -> None:
    record = KeyRecord(
        access_key="aaaaaaaa-bbbbbbbb-cccccccc-ddddd",
        secret_key="11111111-22222222-33333333-44444",
        account="parent@example.test",
        note="sub bot",
        permissions=["read", "trade"],
        ip_addresses=[],
        created_at="2026-11-21T10:00:00Z",
        expires_at="2027-02-19T10:00:00Z",
        sub_uid=10000101,
    )
    for spec in (f"json:{tmp_path / 'k.json'}", f"env-file:{tmp_path / 'k.env'}"):
        store = open_store(spec)
        store.save(record)
        assert store.load(record.access_key) == record
        store.delete(record.access_key)
    assert KeyRecord.from_dict({**record.to_dict(), "sub_uid": None}).sub_uid is None
    with pytest.raises(ValueError, match="sub_uid"):
        KeyRecord.from_dict({**record.to_dict(), "sub_uid": "10000101"})
