"""For CI without a desktop: a session exported once and read from an environment variable
(what a CI secret is), the repository's composite action and the scheduled reap workflow, in
their shape. The action's steps run for real in tests/e2e/test_example_workflow.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from automation.errors import ConfigError
from automation.redaction import REDACTOR
from automation.schema import without_secrets
from automation.session import EnvSession, export_session, import_session

ROOT = Path(__file__).resolve().parents[2]


# --- sessions from a secret -----------------------------------------------------------------


def test_an_exported_session_comes_back_whole_and_is_a_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = {"cookies": [{"name": "s", "value": "token-0123456789abcdef", "httpOnly": True}],
             "origins": []}  # fmt: skip
    try:
        text = export_session(state)
        assert text.startswith("htx-keys-session:1:") and "\n" not in text
        assert REDACTOR.scrub(text) != text and "token-0123456789abcdef" not in text
        monkeypatch.setenv("CI_SESSION", text)
        assert EnvSession("CI_SESSION").load() == state
        assert import_session(text + "\n", "X") == state
        with pytest.raises(ConfigError):
            import_session(text[:-8], "X")
    finally:
        REDACTOR.clear()


def test_programs_the_tool_runs_never_see_an_exported_session() -> None:
    env = {"HTX_SESSION": "htx-keys-session:1:abc", "ANY_NAME": " htx-keys-session:1:x",
           "PATH": "/bin", "HTX_KEYS_SESSION": "env:HTX_SESSION"}  # fmt: skip
    assert without_secrets(env) == {"PATH": "/bin"}


# --- the action and the workflows -----------------------------------------------------------


def test_the_action_has_the_inputs_and_outputs_the_issue_lists() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert {"note", "permissions", "ips", "ttl", "account", "store"} <= set(action["inputs"])
    assert action["inputs"]["note"]["required"] is True
    assert {"access-key", "secret-key", "expires-at"} <= set(action["outputs"])
    (step,) = action["runs"]["steps"]
    # Inputs reach the script through its environment only: no ${{ }} inside the script.
    assert "${{" not in step["run"]
    assert "--format github" in step["run"] and '--ttl "$INPUT_TTL"' in step["run"]
    assert "if: always()" in (ROOT / "action.yml").read_text()  # the documented cleanup


def test_the_reap_workflow_runs_on_a_schedule_one_at_a_time() -> None:
    flow = yaml.safe_load((ROOT / ".github" / "workflows" / "htx-keys-reap.yml").read_text())
    triggers = flow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"][0]["cron"]
    assert flow["concurrency"]["cancel-in-progress"] is False
    steps = flow["jobs"]["reap"]["steps"]
    assert any(s.get("run") == ".venv/bin/htx-keys keys reap --yes" for s in steps)
    assert flow["jobs"]["reap"]["env"]["HTX_KEYS_SESSION"] == "env:HTX_SESSION"
