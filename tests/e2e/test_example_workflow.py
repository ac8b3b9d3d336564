"""The example workflow (.github/workflows/htx-key-for-tests.yml), run here step by step,
and with it the repository's composite action (action.yml) that it uses.

GitHub is out of reach, so its runner's part is played plainly: each `run:` step in bash -e
with the job's env, ${{ }} expressions filled in, $GITHUB_OUTPUT / $GITHUB_ENV files carried
from step to step as the runner does, and `if: always()` steps run after a failure. A `uses:
./` step runs the action's own steps the same way, with its inputs (defaults, then the step's
`with:`) and then its outputs computed from its steps' outputs. The other `uses:` steps and
the install step are what this checkout and scripts/install.sh already did.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.ga import SHORT_TOTP_STEP_S

pytestmark = [pytest.mark.e2e, pytest.mark.cost(35)]

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "htx-key-for-tests.yml"
ACTION = ROOT / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


@dataclass
class Runner:
    workspace: Path  # what ${{ github.workspace }} says: where the job's own files go
    temp: Path
    env: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    groups: list[int] = field(default_factory=list)  # process groups to stop at the end
    masks: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    inputs: dict[str, str] | None = None  # inside an action: its inputs

    def value(self, expression: str) -> str:
        if "||" in expression:  # the first alternative that is not empty, as GitHub's ||
            values = (self.value(part.strip()) for part in expression.split("||"))
            return next((v for v in values if v), "")
        if self.inputs is not None and expression.startswith("inputs."):
            return self.inputs[expression.removeprefix("inputs.")]
        if expression == "github.workspace":
            return str(self.workspace)
        if expression == "github.run_id":
            return "4242"
        if expression == "runner.temp":
            return str(self.temp)
        match = re.fullmatch(r"steps\.(\w+)\.outputs\.(\w+)", expression)
        if match:
            return self.outputs.get(match.group(1), {}).get(match.group(2), "")
        raise AssertionError(f"the test runner does not know ${{{{ {expression} }}}}")

    def fill(self, text: str) -> str:
        return EXPRESSION.sub(lambda m: self.value(m.group(1)), text)

    def run_action(self, step: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        """A `uses: ./` step: the composite action's steps, in its own scope of inputs and
        step outputs; its outputs become the step's."""
        action = yaml.safe_load(ACTION.read_text())
        assert action["runs"]["using"] == "composite"
        given = {k: self.fill(str(v)) for k, v in (step.get("with") or {}).items()}
        unknown = set(given) - set(action["inputs"])
        assert not unknown, f"the action has no inputs {unknown}"
        inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
        inputs.update(given)
        missing = [k for k, v in action["inputs"].items() if v.get("required") and not inputs[k]]
        assert not missing, f"required inputs missing: {missing}"
        outer, self.outputs, self.inputs = self.outputs, {}, inputs
        results = []
        try:
            for inner in action["runs"]["steps"]:
                assert inner.get("shell") == "bash", "a composite action's run step names its shell"
                results.append(self.run_step(inner))
                if results[-1].returncode != 0:
                    break
            outputs = {k: self.fill(v["value"]) for k, v in action["outputs"].items()}
        finally:
            self.outputs, self.inputs = outer, None
        if "id" in step:
            self.outputs[step["id"]] = outputs
        code = next((r.returncode for r in results if r.returncode != 0), 0)
        out = "".join(r.stdout for r in results)
        err = "".join(r.stderr for r in results)
        return subprocess.CompletedProcess(step["uses"], code, out, err)

    def run_step(self, step: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        files = {name: self.temp / f"{name.lower()}-{len(self.logs)}.env" for name in (
            "GITHUB_OUTPUT", "GITHUB_ENV")}  # fmt: skip
        for path in files.values():
            path.write_text("")
        env = {k: v for k, v in os.environ.items() if not k.startswith("HTX_")}
        env.update(self.env, RUNNER_TEMP=str(self.temp), CI="true", GITHUB_ACTIONS="true",
                   GITHUB_RUN_ID="4242", GITHUB_SERVER_URL="https://github.com",
                   GITHUB_REPOSITORY="acme/bots")  # fmt: skip
        env.update({name: str(path) for name, path in files.items()})
        env.update({k: self.fill(str(v)) for k, v in (step.get("env") or {}).items()})
        proc = subprocess.Popen(
            ["bash", "-e", "-c", self.fill(step["run"])],
            cwd=ROOT,  # the checkout
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # the sandbox the step starts with & stays in this group
        )
        self.groups.append(proc.pid)
        out, err = proc.communicate(timeout=300)
        self.logs.append(f"--- {step.get('name')} -> {proc.returncode}\n{err}\n{out}")
        self.masks += [line.split("::add-mask::", 1)[1] for line in out.splitlines()
                       if line.startswith("::add-mask::")]  # fmt: skip
        if "id" in step:
            self.outputs[step["id"]] = read_pairs(files["GITHUB_OUTPUT"])
        self.env.update(read_pairs(files["GITHUB_ENV"]))
        return subprocess.CompletedProcess(step["run"], proc.returncode, out, err)

    def stop(self) -> None:
        for group in self.groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGTERM)


def read_pairs(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text().splitlines():
        name, _, value = line.partition("=")
        pairs[name] = value
    return pairs


def test_the_example_workflow_provisions_uses_and_revokes_a_key(
    tmp_path: Path, leak_secrets: dict[str, str]
) -> None:
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["test-with-a-fresh-key"]
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    # The job's files (key store, session) go to the test's tmp dir, not into the checkout.
    runner = Runner(tmp_path, temp)
    runner.env.update({k: runner.fill(str(v)) for k, v in job["env"].items()})
    # The replica's GA step, as the job's env could set it: the sandbox writes it into htx.env,
    # which every later step reads (HTX's 30 s waits are proved by test_ga_live_step).
    runner.env["HTX_TOTP_PERIOD"] = str(SHORT_TOTP_STEP_S)
    results: dict[str, subprocess.CompletedProcess[str]] = {}
    failed = False
    try:
        for step in job["steps"]:
            if step.get("uses") != "./" and ("uses" in step or step.get("id") == "install"):
                continue
            if failed and "always()" not in str(step.get("if", "")):
                continue
            run = runner.run_action if step.get("uses") == "./" else runner.run_step
            result = run(step)
            results[step["name"]] = result
            failed = failed or result.returncode != 0
    finally:
        runner.stop()
        for name in ("HTX_PASSWORD", "HTX_TOTP_SECRET", "HTX_IMAP_PASSWORD"):
            leak_secrets[f"workflow {name}"] = _from_env_file(temp / "htx.env", name)
    log = "\n".join(runner.logs)
    assert not failed, log

    access_key = runner.outputs["key"]["access-key"]
    secret_key = runner.outputs["key"]["secret-key"]
    leak_secrets["workflow secret key"] = secret_key
    # Every secret the job handled was masked before it could show, and never showed.
    for name in ("HTX_PASSWORD", "HTX_TOTP_SECRET", "HTX_IMAP_PASSWORD"):
        assert _from_env_file(temp / "htx.env", name) in runner.masks
    provision = results["Provision a key"]
    assert provision.stdout.splitlines()[:2] == [
        f"::add-mask::{access_key}",
        f"::add-mask::{secret_key}",
    ]
    assert runner.env["HTX_SECRET_KEY"] == secret_key
    # The action's outputs: the key's note with the tag and its 2 h lease, whose end is
    # also the key's expiry.
    note = runner.outputs["key"]["note"]
    assert note.startswith("ci run 4242 [htx-keys until ") and note.endswith("Z]")
    lease = runner.outputs["key"]["expires-at"]
    assert f"lease ends    {lease} (then `keys reap` deletes it)" in provision.stdout
    ends = dt.datetime.strptime(lease, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert dt.timedelta(minutes=115) < ends - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=2)
    for result in results.values():
        assert secret_key not in result.stderr
    assert "spot account" in results["Test with the key (ccxt)"].stdout
    assert results["Revoke the key"].stdout.strip() == (
        f"Revoked API key {access_key}; removed from {tmp_path / '.ci-keys' / 'keys.json'}"
    )
    # The audit trail (in the job's workspace here, so the leak check reads it too).
    trail = (tmp_path / ".ci-keys" / "audit.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in trail]
    assert [(e["event"], e["access_key"], e["outcome"]) for e in entries] == [
        ("create", access_key, "created"),
        ("revoke", access_key, "deleted"),
    ]
    run_url = "https://github.com/acme/bots/actions/runs/4242"
    assert all(e["ci"]["run_id"] == "4242" and e["ci"]["url"] == run_url for e in entries)
    assert all(e["lease_until"] == lease for e in entries)


def _from_env_file(path: Path, name: str) -> str:
    from dotenv import dotenv_values

    if not path.exists():
        return ""
    return str(dotenv_values(path, interpolate=False).get(name) or "")
