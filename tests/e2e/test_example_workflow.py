"""The example workflow (.github/workflows/htx-key-for-tests.yml), run here step by step.

GitHub is out of reach, so its runner's part is played plainly: each `run:` step in bash -e
with the job's env, ${{ }} expressions filled in, $GITHUB_OUTPUT / $GITHUB_ENV files carried
from step to step as the runner does, and `if: always()` steps run after a failure. The
`uses:` steps and the install step are what this checkout and scripts/install.sh already did.
"""

from __future__ import annotations

import contextlib
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

    def value(self, expression: str) -> str:
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

    def run_step(self, step: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        files = {name: self.temp / f"{name.lower()}-{len(self.logs)}.env" for name in (
            "GITHUB_OUTPUT", "GITHUB_ENV")}  # fmt: skip
        for path in files.values():
            path.write_text("")
        env = {k: v for k, v in os.environ.items() if not k.startswith("HTX_")}
        env.update(self.env, RUNNER_TEMP=str(self.temp), CI="true", GITHUB_ACTIONS="true")
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
            if "uses" in step or step.get("id") == "install":
                continue
            if failed and "always()" not in str(step.get("if", "")):
                continue
            result = runner.run_step(step)
            results[step["name"]] = result
            failed = failed or result.returncode != 0
    finally:
        runner.stop()
        for name in ("HTX_PASSWORD", "HTX_TOTP_SECRET", "HTX_IMAP_PASSWORD"):
            leak_secrets[f"workflow {name}"] = _from_env_file(temp / "htx.env", name)
    log = "\n".join(runner.logs)
    assert not failed, log

    access_key = runner.outputs["key"]["access_key"]
    secret_key = runner.outputs["key"]["secret_key"]
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
    for result in results.values():
        assert secret_key not in result.stderr
    assert "spot account" in results["Test with the key (ccxt)"].stdout
    assert results["Revoke the key"].stdout.strip() == (
        f"Revoked API key {access_key}; removed from {tmp_path / '.ci-keys' / 'keys.json'}"
    )


def _from_env_file(path: Path, name: str) -> str:
    from dotenv import dotenv_values

    if not path.exists():
        return ""
    return str(dotenv_values(path, interpolate=False).get(name) or "")
