"""Where a run's artifacts are written, and who can read them: the raw trace only in a private
temporary folder, and a real account's recording private (folders 0700, files 0600)."""

from __future__ import annotations

import io
import os
import stat
import tempfile
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from automation.artifacts import RunArtifacts
from automation.guide import Guide, GuideStep, write_guide
from automation.modes import ArtifactModes
from automation.redaction import REDACTOR
from automation.runner import Reporter
from htx_keys.app.record import make_private
from htx_keys.app.recording import new_recording

SECRET = "typed-into-the-trace-7730"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class FakeTracing:
    """Writes a trace as Playwright does, the typed secret in it, and notes where it went."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.written: Path | None = None
        self.folder_mode = 0
        self.out_then: list[str] = []

    def start(self, **kwargs: Any) -> None:
        return None

    def stop(self, path: str | None = None) -> None:
        if path is None:
            return
        self.written = Path(path)
        self.folder_mode = mode(self.written.parent)
        self.out_then = sorted(p.name for p in self.out.iterdir())
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("trace.trace", f'{{"method": "fill", "value": "{SECRET}"}}\n')


def traced(out: Path, *, private: bool = True) -> tuple[RunArtifacts, FakeTracing]:
    REDACTOR.add(SECRET, label="test")
    tracing = FakeTracing(out)
    artifacts = RunArtifacts(ArtifactModes(trace="on"), out, private=private)
    artifacts.start(SimpleNamespace(context=SimpleNamespace(tracing=tracing)), "T")
    return artifacts, tracing


def test_the_raw_trace_is_written_and_scrubbed_in_a_private_temporary_folder(
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    artifacts, tracing = traced(out)
    artifacts.stop(failed=False)
    raw = tracing.written
    assert raw is not None
    assert raw.parent.name.startswith("htx-keys-trace-")
    assert raw.parent.parent == Path(tempfile.gettempdir())
    assert tracing.folder_mode == 0o700
    assert tracing.out_then == []  # nothing in the run's folder while the trace was raw
    assert not raw.parent.exists()  # the folder went with the raw trace
    assert artifacts.trace == out / "trace.zip" and artifacts.notes == []
    with zipfile.ZipFile(out / "trace.zip") as archive:
        assert SECRET not in archive.read("trace.trace").decode()
    assert mode(out / "trace.zip") == 0o600
    assert [p.name for p in out.iterdir()] == ["trace.zip"]  # no temporary file left


def test_a_trace_that_cannot_be_scrubbed_is_not_kept_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(path: Path) -> bool:
        raise OSError("disk full")

    out = tmp_path / "run"
    artifacts, tracing = traced(out)
    monkeypatch.setattr(REDACTOR, "scrub_zip", broken)
    artifacts.stop(failed=False)
    assert artifacts.trace is None
    assert artifacts.notes == ["the trace could not be saved: disk full"]
    assert tracing.written is not None and not tracing.written.parent.exists()
    assert list(out.iterdir()) == []


def test_documentation_keeps_the_umask_mode(tmp_path: Path) -> None:
    out = tmp_path / "guide"
    previous = os.umask(0o022)
    try:
        artifacts, _tracing = traced(out, private=False)
        artifacts.stop(failed=False)
    finally:
        os.umask(previous)
    assert mode(out / "trace.zip") == 0o644


def guide() -> Guide:
    return Guide("Create a key", (), (GuideStep(1, "Open", "Open it.", None),))


def test_a_private_guide_is_0600_in_a_0700_folder(tmp_path: Path) -> None:
    root = tmp_path / "live"
    markdown, page = write_guide(guide(), root, private=True)
    assert (mode(root), mode(markdown), mode(page)) == (0o700, 0o600, 0o600)
    assert markdown.read_text().startswith("# Create a key\n")
    previous = os.umask(0o022)
    try:
        markdown, page = write_guide(guide(), tmp_path / "docs")
    finally:
        os.umask(previous)
    assert (mode(tmp_path / "docs"), mode(markdown)) == (0o755, 0o644)  # documentation


def test_a_real_accounts_recording_makes_its_folders_private(tmp_path: Path) -> None:
    out = tmp_path / "live"
    out.mkdir(mode=0o755)
    (out / "steps").mkdir(mode=0o755)  # left by an earlier recording of the replica
    os.chmod(out, 0o755)
    os.chmod(out / "steps", 0o755)
    err = io.StringIO()
    make_private(out, Reporter(err))
    assert mode(out) == 0o700
    assert (
        err.getvalue() == f"      {out} made private (0700): it holds a real account's recording\n"
    )
    make_private(out, Reporter(err))  # already private: said once
    assert err.getvalue().count("made private") == 1

    modes = ArtifactModes(trace="on", video="off", screenshot="on")
    rec = new_recording(out, modes, Reporter(io.StringIO()), own_directory=False, private=True)
    assert rec.shots.private and rec.artifacts.private
    page = SimpleNamespace(is_closed=lambda: False, context=SimpleNamespace(tracing=None))
    rec.shots.page = lambda ctx: page
    rec.shots._shoot = lambda page, path, rec, ctx: False  # type: ignore[method-assign]
    rec.shots.before_step(1, SimpleNamespace(shot="before", slug="open"), None)  # type: ignore[arg-type]
    assert mode(out / "steps") == 0o700

    docs = new_recording(out, modes, Reporter(io.StringIO()), own_directory=False)
    assert not docs.shots.private and not docs.artifacts.private
