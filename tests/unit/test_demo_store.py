from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from automation.runner import Reporter
from automation.store import JsonStore
from htx_keys.app.demo import demo_store


def test_demo_falls_back_to_a_json_file_when_no_keyring_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        store = demo_store(Reporter())
    finally:
        keyring.set_keyring(previous)
    assert isinstance(store, JsonStore)
    assert store.path == tmp_path / "htx-keys" / "demo-keys.json"
    err = capsys.readouterr().err
    assert f"the key goes to {store.path} (mode 0600)" in err
