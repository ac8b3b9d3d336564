"""`htx-keys record --out DIR` as a user runs it: the guide, pictures, video and trace it writes,
and what it makes of them (captions, MP4, GIF, PDF), opened the way a reader opens them
(Chromium, ffprobe, poppler, the trace viewer); docs/guide, the committed guide, is what that
recording gives; and one more run, high-DPI and dark, compared with the first.

Two recordings in all (the costliest thing here): every conversion is checked on the first's
files, and the second checks --scale, --theme and --compare together."""

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
from automation.compare import DEFAULT_THRESHOLD, compare_steps, render_table
from automation.media import thumbnails
from flows.htx.masks import failure_mask, recording_mask
from flows.htx.pages import SENSITIVE_LABELS
from tests.support.browsers import need
from tests.support.cli import Run, run_cli
from tests.support.ga import SHORT_TOTP_STEP_S
from tests.support.media_probe import parse_vtt, pdf_page_count, pdf_page_text, probe

# Two recordings, and a leak check at the end that reads every picture, video, GIF and PDF
# page of both (about 90 CPU-seconds of OCR): more than the default 300 s on a busy machine.
pytestmark = [pytest.mark.e2e, pytest.mark.cost(180), pytest.mark.timeout(600)]

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
    # A busy machine makes a recording slow (captions, MP4, GIF and PDF are made after it).
    run = run_cli(
        ["record", "--out", str(out), "--format", "json", *quick], env, cwd=base, timeout=480
    )
    assert run.returncode == 0, run.explain()
    print(f"htx-keys record wall time: {run.seconds:.1f} s")
    return Recorded(out, run, json.loads(run.stdout))


@pytest.fixture(scope="module")
def restyled(recorded: Recorded, tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """The module's second (and last) recording: high-DPI, dark, compared with the first;
    without video and trace (the first run checks those)."""
    base = tmp_path_factory.mktemp("record-dark")
    out = base / "guide"
    env = {"HTX_KEYS_STATE_DIR": str(base / "state")}
    args = ["--scale", "2", "--theme", "dark", "--compare", str(recorded.out)]
    quick = ["--totp-period", str(SHORT_TOTP_STEP_S), "--video", "off", "--trace", "off"]
    run = run_cli(
        ["record", "--out", str(out), "--format", "json", *args, *quick], env, cwd=base, timeout=480
    )
    assert run.returncode == 18, run.explain()  # every picture is darker
    return Recorded(out, run, json.loads(run.stdout))


def guide_titles(out: Path) -> list[str]:
    return re.findall(r"^## Step \d+: (.+)$", (out / "guide.md").read_text(), re.M)


def test_all_artifacts_are_written_and_listed(recorded: Recorded) -> None:
    out, paths = recorded.out, recorded.paths
    assert paths["guide_md"] == str(out / "guide.md")
    assert paths["guide_html"] == str(out / "guide.html")
    assert paths["video"] == str(out / "video.webm")
    assert paths["video_method"] == "screencast"
    assert paths["trace"] == str(out / "trace.zip")
    assert paths["chapters"] == str(out / "chapters.json")
    assert paths["captions"] == str(out / "video.vtt")
    assert paths["mp4"] == str(out / "video.mp4") and paths["mp4_encoder"] == "libx264"
    assert paths["gif"] == str(out / "guide.gif")
    assert paths["pdf"] == str(out / "guide.pdf") and paths["pdf_pages"] == 11
    assert (paths["scale"], paths["theme"]) == (1.0, "light") and "compare" not in paths
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
    # Everything embedded but the video, which sits beside it.
    outside_refs = re.findall(r'(?:src|href)="(?!data:)([^"]*)"', html)
    assert outside_refs == ["video.mp4", "video.webm"], "guide.html must be self-contained"
    shot = recorded.out.parent / "guide-page.png"
    outside: list[str] = []
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith(("file:", "data:")) else None,
    )
    page.goto(page_file.as_uri())
    expect(page.locator("video source")).to_have_count(2)
    for number, title in enumerate(guide_titles(recorded.out), 1):
        expect(page.get_by_role("heading", name=f"Step {number}: {title}")).to_be_visible()
    page.get_by_role("heading", name="Step 1: Open the HTX website").scroll_into_view_if_needed()
    page.screenshot(path=str(shot))
    loaded = page.evaluate("() => [...document.images].map(i => i.complete && i.naturalWidth > 0)")
    assert loaded and all(loaded), loaded
    assert len(loaded) == 10
    assert outside == []
    assert shot.stat().st_size > 10_000


def test_the_guide_plays_the_video_with_its_captions(recorded: Recorded, page: Page) -> None:
    """The player loads a video Chromium can play (this Chromium may lack H.264: then the WebM
    source) and shows the embedded captions, one cue per chapter, as the chapters say."""
    page.goto((recorded.out / "guide.html").as_uri())
    page.wait_for_function(
        "() => { const v = document.querySelector('video'); const t = v.textTracks[0];"
        " return v.readyState >= 1 && t.mode === 'showing' && t.cues && t.cues.length > 0; }",
        timeout=20_000,
    )
    shown = page.evaluate(
        "() => { const v = document.querySelector('video');"
        " return {src: v.currentSrc.split('/').pop(), duration: v.duration,"
        " cues: [...v.textTracks[0].cues].map(c => [c.startTime, c.text])}; }"
    )
    chapters = json.loads((recorded.out / "chapters.json").read_text())["chapters"]
    assert shown["src"] in ("video.mp4", "video.webm")
    assert [text for _, text in shown["cues"]] == [
        f"Step {c['number']}: {c['title']}\n{c['description']}" for c in chapters
    ]
    assert [round(start, 3) for start, _ in shown["cues"]] == [c["start"] for c in chapters]


def test_the_captions_parse_and_match_the_chapters(recorded: Recorded) -> None:
    data = json.loads((recorded.out / "chapters.json").read_text())
    cues = parse_vtt((recorded.out / "video.vtt").read_text(encoding="utf-8"))
    chapters = data["chapters"]
    assert len(cues) == len(chapters) == len(guide_titles(recorded.out))
    for cue, chapter in zip(cues, chapters, strict=True):
        title = f"Step {chapter['number']}: {chapter['title']}"
        assert cue.lines == [title, chapter["description"]]
        assert cue.start == pytest.approx(chapter["start"], abs=0.001)
    # Each cue lasts until the next chapter; the last until the video ends.
    assert [c.end for c in cues[:-1]] == [c.start for c in cues[1:]]
    assert cues[-1].end == pytest.approx(data["duration"], abs=0.001)


def test_the_mp4_and_the_gif_decode(recorded: Recorded) -> None:
    need("ffprobe")
    webm, mp4 = probe(recorded.out / "video.webm"), probe(recorded.out / "video.mp4")
    assert (mp4["codec_name"], mp4["pix_fmt"]) == ("h264", "yuv420p")
    assert (mp4["width"], mp4["height"]) == ("1280", "800")
    assert int(mp4["nb_read_frames"]) > 0
    assert float(mp4["duration"]) == pytest.approx(
        float(webm["duration"] or mp4["duration"]), abs=1.0
    )
    gif = probe(recorded.out / "guide.gif")
    assert (gif["codec_name"], gif["width"], gif["height"]) == ("gif", "640", "400")
    assert int(gif["nb_read_frames"]) == len(guide_titles(recorded.out))
    assert (recorded.out / "guide.gif").stat().st_size < 400_000


def test_the_pdf_has_a_page_per_step(recorded: Recorded) -> None:
    """What you need on the first page; then each step on a page of its own, its picture
    whole (poppler reads the step's heading on its page, and no other step's)."""
    pdf = recorded.out / "guide.pdf"
    titles = guide_titles(recorded.out)
    assert pdf_page_count(pdf) == len(titles) + 1
    assert "What you need" in pdf_page_text(pdf, 1)
    for number, title in enumerate(titles, 1):
        text = pdf_page_text(pdf, number + 1)
        assert f"Step {number}: {title}" in " ".join(text.split()), (number, text)
        assert not re.search(rf"Step (?!{number}:)\d+:", text), (number, text)


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


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_scale_2_and_the_dark_theme_make_large_dark_pictures(
    recorded: Recorded, restyled: Recorded
) -> None:
    light = sorted((recorded.out / "steps").glob("*.png"))
    dark = sorted((restyled.out / "steps").glob("*.png"))
    assert [p.name for p in dark] == [p.name for p in light]
    assert {png_size(p) for p in light} == {(1280, 800)}
    assert {png_size(p) for p in dark} == {(2560, 1600)}
    # The replica's light pages are mostly white (grey behind a dialog), its dark ones
    # near-black: every dark picture is far darker than the light one of its step.
    greys = [sum(grey) / len(grey) for grey in thumbnails([*light, *dark])]
    for step, (was, now) in enumerate(zip(greys[:10], greys[10:], strict=True), 1):
        assert was > 120 and now < 50 and was - now > 90, (step, was, now)
    assert (restyled.paths["scale"], restyled.paths["theme"]) == (2.0, "dark")
    assert restyled.paths["video"] is None and restyled.paths["mp4"] is None
    assert restyled.paths["captions"] is None and restyled.paths["pdf_pages"] == 11


def test_compare_lists_the_steps_whose_picture_changed(
    recorded: Recorded, restyled: Recorded
) -> None:
    """Against the light guide every dark picture differs (exit 18, see the fixture): the
    JSON lists them and the text table names each step once."""
    found = restyled.paths["compare"]
    assert found["with"] == str(recorded.out) and found["changed"] is True
    steps = found["steps"]
    assert [s["number"] for s in steps] == list(range(1, 11))
    assert {s["status"] for s in steps} == {"changed"}
    assert all(s["changed"] > 0.5 for s in steps)
    table = found["table"].splitlines()
    header = [cell.strip() for cell in table[0].split("|")[1:-1]]
    assert header == ["step", "was", "picture", "changed", "status"]
    assert table[-1] == "10 of 10 steps differ (threshold 0.5% of the picture)"


def test_compare_finds_no_change_in_an_identical_rerun(recorded: Recorded) -> None:
    """docs/guide was made by the same command on another day (its own run, another clock):
    its pictures are what a rerun gives, and none differs beyond the threshold."""
    changes = compare_steps(sorted((recorded.out / "steps").glob("*.png")), DOCS)
    assert [c.status for c in changes] == ["same"] * 10, render_table(changes, DEFAULT_THRESHOLD)
