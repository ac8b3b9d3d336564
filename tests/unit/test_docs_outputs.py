"""What `htx-keys record` makes of a recording, on small generated inputs: WebVTT captions from
chapters, ffmpeg's MP4 and GIF, grey thumbnails, the comparison of step pictures, the guide's
video player and print style, and the checks of --scale, --theme and --compare."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from automation.captions import cues, render_vtt, timestamp
from automation.compare import (
    StepChange,
    changed_fraction,
    compare_steps,
    differs,
    render_table,
)
from automation.errors import ExitStatus, InputError
from automation.guide import Guide, GuideStep, Player, render_html
from automation.guide_pdf import pdf_pages
from automation.media import MP4_FPS, THUMB_SIZE, h264_encoder, thumbnails, to_gif, to_mp4
from htx_keys.app.record import check_look, compare_status
from htx_keys.app.record_outputs import check_compare_dir, keep_old_pictures
from tests.support.media_probe import parse_vtt, probe

CHAPTERS = [
    {
        "number": 1,
        "title": "Open the site",
        "description": "Go to <the> site & log in.",
        "start": 0.25,
    },
    {"number": 2, "title": "Press Create", "description": "Press\nCreate.", "start": 4.5},
    {"number": 3, "title": "Copy the keys", "description": "Copy both.", "start": 3725.125},
]


def test_captions_have_one_cue_per_chapter_with_its_title_and_sentence() -> None:
    parsed = parse_vtt(render_vtt(cues(CHAPTERS, duration=3730.0)))
    assert [c.ident for c in parsed] == ["step-1", "step-2", "step-3"]
    assert [(c.start, c.end) for c in parsed] == [(0.25, 4.5), (4.5, 3725.125), (3725.125, 3730.0)]
    assert parsed[0].lines == ["Step 1: Open the site", "Go to &lt;the&gt; site &amp; log in."]
    assert parsed[1].lines == ["Step 2: Press Create", "Press Create."]  # no blank line in a cue


def test_the_last_cue_lasts_without_a_known_duration() -> None:
    last = cues(CHAPTERS[:1], duration=None)[-1]
    assert last.end > last.start
    assert timestamp(3725.125) == "01:02:05.125"


def picture(path: Path, size: str, boxes: str = "", color: str = "white") -> Path:
    """A PNG made by ffmpeg: a plain `color` picture with filled boxes ("x:y:w:h:color;...")."""
    draw = ",".join(
        f"drawbox=x={x}:y={y}:w={w}:h={h}:color={c}:t=fill"
        for x, y, w, h, c in (b.split(":") for b in boxes.split(";") if b)
    )
    subprocess.run(
        [
            *("ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi"),
            *("-i", f"color=c={color}:s={size}", "-frames:v", "1"),
            *(["-vf", draw] if draw else []),
            str(path),
        ],
        check=True,
    )
    return path


@pytest.fixture
def ffmpeg() -> None:
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        pytest.skip("ffmpeg is not installed: run scripts/setup-system.sh")


def test_the_gif_has_a_scaled_frame_per_picture(tmp_path: Path, ffmpeg: None) -> None:
    pictures = [
        picture(tmp_path / f"0{n}-step.png", "1280x800", f"{100 * n}:100:200:80:red")
        for n in range(1, 4)
    ]
    gif = tmp_path / "guide.gif"
    to_gif(pictures, gif, width=320)
    info = probe(gif)
    assert (info["codec_name"], info["width"], info["height"]) == ("gif", "320", "200")
    assert int(info["nb_read_frames"]) == 3
    assert gif.stat().st_size < 20_000


def test_the_mp4_is_h264_that_safari_plays(tmp_path: Path, ffmpeg: None) -> None:
    webm = tmp_path / "video.webm"
    subprocess.run(
        [
            *("ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi"),
            *("-i", "testsrc=size=321x201:rate=25:duration=1", "-c:v", "libvpx", str(webm)),
        ],
        check=True,
    )
    mp4 = tmp_path / "video.mp4"
    assert to_mp4(webm, mp4) == h264_encoder()
    info = probe(mp4)
    # Even sizes and 4:2:0, as the H.264 decoders of Safari and phones want them.
    assert (info["codec_name"], info["pix_fmt"]) == ("h264", "yuv420p")
    assert (info["width"], info["height"]) == ("320", "200")
    assert int(info["nb_read_frames"]) == MP4_FPS  # one second of it
    head = mp4.read_bytes()[:64]
    assert head[4:8] == b"ftyp" and b"moov" in mp4.read_bytes()[:4096]  # faststart: index first


def test_thumbnails_of_any_size_are_comparable(tmp_path: Path, ffmpeg: None) -> None:
    small = picture(tmp_path / "a.png", "640x400", "100:100:200:50:black")
    large = picture(tmp_path / "b.png", "1280x800", "200:200:400:100:black")  # the same, 2x
    a, b = thumbnails([small, large])
    assert len(a) == len(b) == THUMB_SIZE[0] * THUMB_SIZE[1]
    assert changed_fraction(a, b) < 0.002


def guide_dir(root: Path, boxes: dict[str, str], size: str = "640x400") -> Path:
    steps = root / "steps"
    steps.mkdir(parents=True)
    for n, (slug, drawn) in enumerate(boxes.items(), 1):
        picture(steps / f"{n:02d}-{slug}.png", size, drawn)
    return root


def test_compare_finds_the_changed_step_only(tmp_path: Path, ffmpeg: None) -> None:
    old = guide_dir(
        tmp_path / "old",
        {"log-in": "40:40:200:30:gray", "press-create": "40:300:120:36:blue", "confirm": ""},
    )
    # Step 2's button moved and got longer (a relabelled button); step 1 is the same at
    # twice the scale; "confirm" is gone and "copy-keys" new.
    new = guide_dir(
        tmp_path / "new",
        {"log-in": "80:80:400:60:gray", "press-create": "440:600:400:72:blue", "copy-keys": ""},
        size="1280x800",
    )
    changes = compare_steps(sorted((new / "steps").glob("*.png")), old)
    by_slug = {c.slug: c for c in changes}
    assert [(c.slug, c.status) for c in changes] == [
        ("log-in", "same"),
        ("press-create", "changed"),
        ("copy-keys", "new"),
        ("confirm", "gone"),
    ]
    assert by_slug["press-create"].changed is not None and by_slug["press-create"].changed > 0.02
    assert differs(changes)
    table = render_table(changes, 0.005)
    assert "| 2    | 2   | press-create |" in table and table.endswith(
        "3 of 4 steps differ (threshold 0.5% of the picture)"
    )


def test_compare_ignores_changes_below_the_threshold(tmp_path: Path, ffmpeg: None) -> None:
    old = guide_dir(tmp_path / "old", {"log-in": "40:40:200:30:gray"})
    # A few changed pixels (a clock's digit): 0.1 % of the picture.
    new = guide_dir(tmp_path / "new", {"log-in": "40:40:200:30:gray;600:380:16:16:black"})
    (change,) = compare_steps(sorted((new / "steps").glob("*.png")), old / "steps")
    assert change.status == "same" and change.changed is not None and 0 < change.changed < 0.005
    assert not differs([change])
    assert render_table([change], 0.005).endswith("no step changed beyond 0.5% of its picture")
    (strict,) = compare_steps(sorted((new / "steps").glob("*.png")), old, threshold=0.0005)
    assert strict.status == "changed"


def test_compare_status_is_18_only_when_a_step_differs() -> None:
    assert ExitStatus.PICTURES_CHANGED == 18
    assert compare_status({"compare": {"changed": True}}) == 18
    assert compare_status({"compare": {"changed": False}}) == 0
    assert compare_status({}) == 0
    assert StepChange("x", "same", 1, 1, 0.0).status == "same"


def test_compare_dir_is_checked_and_kept_when_it_is_the_output(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no step pictures"):
        check_compare_dir(tmp_path / "missing")
    with pytest.raises(InputError, match="no step pictures"):
        check_compare_dir(tmp_path)
    (tmp_path / "guide" / "steps").mkdir(parents=True)
    (tmp_path / "guide" / "steps" / "01-log-in.png").write_bytes(b"png")
    steps = check_compare_dir(tmp_path / "guide")
    assert steps == tmp_path / "guide" / "steps"
    # --compare DIR --out DIR: the old pictures are copied before the run removes them.
    (tmp_path / "tmp").mkdir()
    kept = keep_old_pictures(steps, tmp_path / "guide", tmp_path / "tmp")
    assert kept != steps and (kept / "01-log-in.png").read_bytes() == b"png"
    assert keep_old_pictures(steps, tmp_path / "elsewhere", tmp_path / "tmp") == steps


@pytest.mark.parametrize(
    ("scale", "theme", "message"),
    [
        (2.5, None, "--scale 2.5: one of 1, 1.5, 2, 3"),
        (1.0, "sepia", "--theme sepia: light or dark"),
    ],
)
def test_look_is_checked(scale: float, theme: str | None, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        check_look(scale, theme)
    assert check_look(2.0, "dark").scale == 2.0


def test_the_player_shows_the_video_beside_the_guide_with_embedded_captions(tmp_path: Path) -> None:
    guide = Guide("Make a key", (), (GuideStep(1, "Open", "Go.", None),))
    vtt = render_vtt(cues(CHAPTERS, 10.0))
    page = render_html(guide, tmp_path, Player((("video.mp4", "video/mp4"),), vtt))
    assert '<source src="video.mp4" type="video/mp4">' in page
    (track,) = re.findall(r'<track [^>]*src="data:text/vtt;base64,([^"]+)"', page)
    assert base64.b64decode(track).decode("utf-8") == vtt
    # Printed: the player is left out, each step starts a page, pictures are never split.
    assert "#video { display: none; }" in page and "break-before: page" in page
    assert "<video" not in render_html(guide, tmp_path)


def test_pdf_pages_are_counted() -> None:
    pdf = (
        b"%PDF-1.4\n1 0 obj <</Type /Pages /Count 2>>\n2 0 obj <</Type /Page>>\n"
        b"3 0 obj <</Type/Page /Parent 1 0 R>>\n"
    )
    assert pdf_pages(pdf) == 2
