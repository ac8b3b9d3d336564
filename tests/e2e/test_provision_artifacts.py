"""`provision --trace/--video/--screenshot`: artifacts under --output/<run-id>/, kept as
pytest-playwright's modes say, scrubbed, and named in the hint when a run fails. (That a run
which succeeds keeps nothing under retain-on-failure is checked by test_provision.py's
JSON-store run, which asks for it: one provisioning less.)"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.support.browsers import need
from tests.support.cli import run_cli
from tests.support.leaks import leaks
from tests.support.site import Site

pytestmark = [pytest.mark.e2e, pytest.mark.cost(110)]


def fills(trace: Path) -> list[str]:
    with zipfile.ZipFile(trace) as archive:
        events = [json.loads(line) for line in archive.read("trace.trace").splitlines() if line]
    return [
        e["params"]["value"]
        for e in events
        if e.get("type") == "before" and e.get("method") == "fill"
    ]


def provision(site: Site, tmp_path: Path, out: Path, *modes: str) -> Any:
    return run_cli(
        [
            "provision",
            "--note",
            "traced",
            "--ip",
            "127.0.0.1",
            "--store",
            f"json:{tmp_path / 'keys.json'}",
            "--output",
            str(out),
            "--chapter-seconds",  # chapter cards hold the run; short ones keep the test short
            "0.3",
            *modes,
        ],
        site.env(),
        cwd=tmp_path,
    )


def test_trace_and_video_on_are_kept_scrubbed_under_the_run_id(
    htx_site: Site, tmp_path: Path
) -> None:
    need("ffmpeg")
    out = tmp_path / "artifacts"
    run = provision(htx_site, tmp_path, out, "--trace", "on", "--video", "on")
    assert run.returncode == 0, run.explain()
    (run_dir,) = out.iterdir()
    assert run_dir.name.startswith("provision-")
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "chapters.json",
        "trace.zip",
        "video.webm",
    ]
    assert f"artifacts of this run: {run_dir} (trace.zip, video.webm, chapters.json)" in run.stderr
    for path in run_dir.iterdir():
        assert oct(path.stat().st_mode & 0o777) == "0o600"
    chapters = json.loads((run_dir / "chapters.json").read_text())["chapters"]
    assert len(chapters) == 10
    assert chapters[-1]["title"] == "Close the dialog and check the key list"
    filled = fills(run_dir / "trace.zip")
    assert set(filled) == {"********", "traced [htx-keys]", "127.0.0.1"}, filled
    (made,) = htx_site.server.state.keys_for(htx_site.account.email)
    secrets = {**htx_site.secrets, "secret key": made.secret_key}
    found = leaks(secrets, {"stdout": run.stdout, "stderr": run.stderr}, [out, tmp_path / "state"])
    assert found == []


def test_a_failed_run_keeps_its_scrubbed_artifacts_and_says_where(
    htx_site: Site, tmp_path: Path
) -> None:
    need("ffmpeg")
    htx_site.server.faults.fail_call = "confirm"
    out = tmp_path / "artifacts"
    modes = ("--trace", "retain-on-failure", "--video", "retain-on-failure")
    run = provision(htx_site, tmp_path, out, *modes)
    assert run.returncode == 5, run.explain()
    (run_dir,) = out.iterdir()
    names = sorted(p.name for p in run_dir.iterdir())
    assert names == [
        "chapters.json",
        "failed-step-09-enter-the-codes-and-confirm.png",
        "trace.zip",
        "video.webm",
    ]
    hint = [line for line in run.stderr.splitlines() if line.startswith("htx-keys: hint: ")]
    assert hint == [
        f"htx-keys: hint: artifacts of the failed run (scrubbed): {run_dir} "
        "(failed-step-09-enter-the-codes-and-confirm.png, trace.zip, video.webm, chapters.json); "
        "HTX's servers had a problem: try again later"
    ]
    filled = fills(run_dir / "trace.zip")
    # Login, password, login GA code, email code and the second GA code: all masked.
    assert filled.count("********") >= 5
    assert set(filled) == {"********", "traced [htx-keys]", "127.0.0.1"}
    found = leaks(htx_site.secrets, {"stderr": run.stderr}, [out, tmp_path / "state"])
    assert found == []
    assert htx_site.server.state.keys_for(htx_site.account.email) == []
