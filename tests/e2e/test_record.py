"""`htx-keys record --out DIR` as a user runs it: the guide, pictures, video and trace it writes,
opened the way a reader opens them (Chromium, ffprobe, the trace viewer); and docs/guide, the
committed guide, is what that recording gives."""

from __future__ import annotations

import difflib
import json
import os
import re
import signal
import subprocess
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from automation.blur import ATTR as BLUR_ATTR
from automation.blur import apply_blur
from flows.htx.masks import failure_mask, recording_mask
from flows.htx.pages import SENSITIVE_LABELS
from tests.support.browsers import need
from tests.support.cli import Run, run_cli
from tests.support.ga import SHORT_TOTP_STEP_S

pytestmark = [pytest.mark.e2e, pytest.mark.cost(100)]

ROOT = Path(__file__).resolve().parents[2]
PLAYWRIGHT = ROOT / ".venv" / "bin" / "playwright"
DOCS = ROOT / "docs" / "guide"
REGENERATE = "htx-keys record --out docs/guide --video off --trace off"


@dataclass
class Recorded:
    out: Path
    run: Run
    paths: dict[str, Any]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """One recording, shared by the tests of this module (it takes the better part of a minute)."""
    need("ffmpeg")
    base = tmp_path_factory.mktemp("record")
    out = base / "guide"
    env = {"HTX_KEYS_STATE_DIR": str(base / "state")}
    # The guide is the same at any GA step; short chapter cards make a shorter video.
    quick = ["--totp-period", str(SHORT_TOTP_STEP_S), "--chapter-seconds", "0.3"]
    run = run_cli(["record", "--out", str(out), "--format", "json", *quick], env, cwd=base)
    assert run.returncode == 0, run.explain()
    print(f"htx-keys record wall time: {run.seconds:.1f} s")
    return Recorded(out, run, json.loads(run.stdout))


def guide_titles(out: Path) -> list[str]:
    return re.findall(r"^## Step \d+: (.+)$", (out / "guide.md").read_text(), re.M)


def test_all_four_artifacts_are_written_and_listed(recorded: Recorded) -> None:
    out, paths = recorded.out, recorded.paths
    assert paths["guide_md"] == str(out / "guide.md")
    assert paths["guide_html"] == str(out / "guide.html")
    assert paths["video"] == str(out / "video.webm")
    assert paths["video_method"] == "screencast"
    assert paths["trace"] == str(out / "trace.zip")
    assert paths["chapters"] == str(out / "chapters.json")
    titles = guide_titles(out)
    assert titles[:3] == [
        "Open the HTX website",
        "Log in with email and password",
        "Enter the Google Authenticator code",
    ]
    assert "Confirm the new device" not in titles  # the sandbox did not ask: a note instead
    pictures = sorted((out / "steps").glob("*.png"))
    assert [Path(p).name for p in paths["steps"]] == [p.name for p in pictures]
    assert len(pictures) == len(titles) == 10
    for picture in pictures:
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "[11/11] Close the dialog and check the key list" in recorded.run.stderr


def test_the_account_number_is_blurred_in_the_page_and_masked_in_pictures(page: Page) -> None:
    """Headers show "UID 10000001" on every signed-in page (small grey text that OCR does not
    read reliably, so this is checked in the page): the blur marks it, the masks cover it."""
    page.set_content(
        "<header><a>Markets</a><span class='uid'>UID 10000001</span></header>"
        "<main><p>Price 0.0000018</p><p>UID</p><p>12345678</p>"
        "<dl><dt>Email</dt><dd>x</dd><dt>UID</dt><dd>10000002</dd></dl></main>"
    )
    apply_blur(page, list(SENSITIVE_LABELS))
    blurred = page.locator(f"[{BLUR_ATTR}]")
    assert blurred.all_inner_texts() == ["UID 10000001", "12345678", "10000002"]
    for masks in (recording_mask(page, []), failure_mask(page)):
        covered = [t for m in masks for t in m.all_inner_texts()]
        assert {"UID 10000001", "10000002"} <= set(covered)
        assert "0.0000018" not in covered


def test_the_html_guide_shows_numbered_steps_with_images(recorded: Recorded, page: Page) -> None:
    page_file = recorded.out / "guide.html"
    html = page_file.read_text(encoding="utf-8")
    assert not re.search(r'(?:src|href)="(?!data:)', html), "guide.html must be self-contained"
    shot = recorded.out.parent / "guide-page.png"
    outside: list[str] = []
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith(("file:", "data:")) else None,
    )
    page.goto(page_file.as_uri())
    for number, title in enumerate(guide_titles(recorded.out), 1):
        expect(page.get_by_role("heading", name=f"Step {number}: {title}")).to_be_visible()
    page.get_by_role("heading", name="Step 1: Open the HTX website").scroll_into_view_if_needed()
    page.screenshot(path=str(shot))
    loaded = page.evaluate("() => [...document.images].map(i => i.complete && i.naturalWidth > 0)")
    assert loaded and all(loaded), loaded
    assert len(loaded) == 10
    assert outside == []
    assert shot.stat().st_size > 10_000


def test_the_video_has_frames_and_one_chapter_per_recorded_step(recorded: Recorded) -> None:
    need("ffprobe")
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "format=duration:stream=nb_read_frames,width,height,codec_name",
            "-of",
            "json",
            str(recorded.out / "video.webm"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(probe.stdout)
    duration = float(info["format"]["duration"])
    (stream,) = info["streams"]
    assert duration > 0 and int(stream["nb_read_frames"]) > 0
    assert (stream["width"], stream["height"]) == (1280, 800)
    chapters = json.loads((recorded.out / "chapters.json").read_text())["chapters"]
    assert [c["title"] for c in chapters] == guide_titles(recorded.out)
    assert [c["number"] for c in chapters] == list(range(1, len(chapters) + 1))
    starts = [c["start"] for c in chapters]
    assert starts == sorted(starts) and duration >= starts[-1]


def trace_events(path: Path) -> list[dict[str, Any]]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert "trace.trace" in names and "trace.network" in names
        assert any(n.startswith("resources/") for n in names)
        events = []
        for member in ("trace.trace", "trace.network"):
            for line in archive.read(member).decode("utf-8").splitlines():
                if line.strip():
                    events.append(json.loads(line))
    return events


def test_the_trace_parses_and_holds_no_typed_secret(recorded: Recorded) -> None:
    events = trace_events(recorded.out / "trace.zip")
    calls = [e for e in events if e.get("type") == "before"]
    groups = [e.get("title") for e in calls if e.get("method") == "tracingGroup"]
    assert "2. Log in with email and password" in groups
    assert "11. Close the dialog and check the key list" in groups
    filled = [e["params"]["value"] for e in calls if e.get("method") == "fill"]
    # Login, password, both GA codes and the email code are masked; the fictitious values
    # of the guide are not secrets.
    assert filled.count("********") >= 5, filled
    assert set(filled) == {"********", "Trading bot", "203.0.113.7"}


@contextmanager
def trace_viewer(trace: Path) -> Iterator[str]:
    """`playwright show-trace --port 0`: yields the URL it serves the viewer on."""
    proc = subprocess.Popen(
        [str(PLAYWRIGHT), "show-trace", "--host", "127.0.0.1", "--port", "0", str(trace)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the playwright wrapper runs node: stop both together
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        url = None
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            match = re.search(r"Listening on (http://\S+)", line)
            url = match.group(1) if match else None
        assert url, f"show-trace printed no URL (exit {proc.poll()})"
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_the_trace_viewer_opens_the_scrubbed_trace(recorded: Recorded, page: Page) -> None:
    if not PLAYWRIGHT.exists():
        pytest.skip("no playwright command in .venv")
    with trace_viewer(recorded.out / "trace.zip") as url:
        page.goto(url)
        for title in ("1. Open the HTX website", "9. Enter the codes and confirm"):
            page.get_by_text(title, exact=True).first.wait_for(timeout=30_000)
        page.screenshot(path=str(recorded.out.parent / "trace-viewer.png"))


def test_the_committed_guide_matches_a_fresh_recording(recorded: Recorded) -> None:
    """docs/guide is generated by `htx-keys record`: regenerating it must give the same text.

    The module's recording has video and trace on, the committed guide was made without: the
    guide's text and pictures do not depend on them (automation/guide.py never names them),
    and a second recording only for this would cost the suite another half minute."""
    fresh = (recorded.out / "guide.md").read_text(encoding="utf-8")
    committed = (DOCS / "guide.md").read_text(encoding="utf-8")
    diff = "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            fresh.splitlines(keepends=True),
            "docs/guide/guide.md",
            "regenerated",
        )
    )
    assert fresh == committed, (
        f"docs/guide/guide.md is out of date with the flow's steps; regenerate it with "
        f"`{REGENERATE}` and commit docs/guide/:\n{diff}"
    )
    # Every picture the guide names is committed with it.
    pictures = sorted(p.name for p in (recorded.out / "steps").glob("*.png"))
    assert sorted(p.name for p in (DOCS / "steps").glob("*.png")) == pictures, (
        f"docs/guide/steps/ does not match the guide; regenerate it with `{REGENERATE}`"
    )
