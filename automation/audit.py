"""The audit trail: one JSON line per operation on a key, appended to a 0600 file.

Several runs may append at once (CI jobs on one runner, a person and a cron job), so every
append holds the log's lock file (automation/locks.py) and writes its line with one write()
to a file opened O_APPEND: lines never interleave or overwrite each other. A line never holds
a secret: it is built from public facts (access key, note, permissions...), and what would
still match a registered secret is masked before it is written.

Which CI run an operation belongs to comes from the variables each CI sets: GitHub Actions
(GITHUB_RUN_ID, with the run's URL built from GITHUB_SERVER_URL and GITHUB_REPOSITORY),
GitLab CI (CI_PIPELINE_ID, CI_JOB_ID, CI_JOB_URL) and the generic ones (CI, with BUILD_ID or
BUILD_NUMBER and BUILD_URL, as Jenkins, Buildkite-style and many others set). Only these named
variables are read: a CI's tokens (CI_JOB_TOKEN, GITHUB_TOKEN) never are.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from automation.errors import ConfigError
from automation.locks import file_lock
from automation.redaction import REDACTOR

AUDIT_FILE = "audit.jsonl"
LOCK_TIMEOUT = 10.0
TRUE = ("1", "true", "yes", "on")
# What else each CI tells of its run: (the entry's name, the variable).
GITHUB_DETAILS = (
    ("attempt", "GITHUB_RUN_ATTEMPT"),
    ("job", "GITHUB_JOB"),
    ("repository", "GITHUB_REPOSITORY"),
    ("workflow", "GITHUB_WORKFLOW"),
)
GITLAB_DETAILS = (
    ("job_id", "CI_JOB_ID"),
    ("job", "CI_JOB_NAME"),
    ("repository", "CI_PROJECT_PATH"),
)


class AuditError(ConfigError):
    """The audit log cannot be written or read (exit 3: a setting or a file to fix)."""


def ci_run(env: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """The CI run this process belongs to, from the CI's own variables; None outside CI."""
    env = os.environ if env is None else env

    def get(name: str) -> str:
        return env.get(name, "").strip()

    if get("GITHUB_ACTIONS").lower() == "true" and get("GITHUB_RUN_ID"):
        run: dict[str, str] = {"provider": "github", "run_id": get("GITHUB_RUN_ID")}
        server, repository = (
            get("GITHUB_SERVER_URL") or "https://github.com",
            get("GITHUB_REPOSITORY"),
        )
        if repository:
            run["url"] = f"{server.rstrip('/')}/{repository}/actions/runs/{run['run_id']}"
            attempt = get("GITHUB_RUN_ATTEMPT")
            if attempt and attempt != "1":
                run["url"] += f"/attempts/{attempt}"
        for key, name in GITHUB_DETAILS:
            if get(name):
                run[key] = get(name)
        return run
    if get("GITLAB_CI").lower() == "true" and (get("CI_PIPELINE_ID") or get("CI_JOB_ID")):
        run = {"provider": "gitlab", "run_id": get("CI_PIPELINE_ID") or get("CI_JOB_ID")}
        url = get("CI_JOB_URL") or get("CI_PIPELINE_URL")
        if url:
            run["url"] = url
        for key, name in GITLAB_DETAILS:
            if get(name):
                run[key] = get(name)
        return run
    if get("CI").lower() in TRUE:
        run = {"provider": "ci"}
        run_id = get("CI_RUN_ID") or get("BUILD_ID") or get("BUILD_NUMBER") or get("CI_BUILD_ID")
        if run_id:
            run["run_id"] = run_id
        url = get("CI_RUN_URL") or get("BUILD_URL") or get("CI_BUILD_URL")
        if url:
            run["url"] = url
        return run
    return None


def audit_line(entry: Mapping[str, Any]) -> str:
    """One line of JSON, with anything that matches a known secret masked."""
    return REDACTOR.scrub(json.dumps(entry, ensure_ascii=False, sort_keys=False)) + "\n"


def append(path: Path, entry: Mapping[str, Any]) -> None:
    """Append `entry` as one line to the log at `path` (created 0600, its folder 0700)."""
    line = audit_line(entry).encode()
    lock = path.with_name(path.name + ".lock")
    with file_lock(lock, timeout=LOCK_TIMEOUT, error=AuditError):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise AuditError(f"Cannot open the audit log {path}: {exc.strerror}") from None
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)  # a log made by hand with looser rights is tightened
            os.write(fd, line)
        except OSError as exc:
            raise AuditError(f"Cannot write to the audit log {path}: {exc.strerror}") from None
        finally:
            os.close(fd)


def read(path: Path) -> Iterator[dict[str, Any]]:
    """The log's entries, oldest first; a line that is not a JSON object (a hand edit, a disk
    that filled up mid-line) is passed over."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return
    except OSError as exc:
        raise AuditError(f"Cannot read the audit log {path}: {exc.strerror}") from None
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            yield entry
