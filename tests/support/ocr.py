"""Read the text out of screenshots and video frames (Debian's tesseract), and find a secret in
that text although OCR misreads some of its characters.

A leak on screen never reaches an artifact's bytes: a PNG or a WebM frame holds pixels. The only
way to tell that a screenshot shows a secret key is to read it, and tesseract reads `3` as `J`,
`8` as `e`, `l` as `I`, drops dashes and inserts spaces. So the text is compared approximately:
both sides folded (the table below), whitespace removed, and a window the secret's length (±2)
slid over the text; a window at least THRESHOLD similar (difflib's ratio) is a finding.

Short values (6-digit codes) are another matter: a 75% match of a 6-digit number is any number
sharing four digits with it, which every timestamp on a page would do. Values shorter than
SHORT_VALUE are only ever matched exactly (after folding), as a whole number.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
from collections import Counter
from difflib import SequenceMatcher
from pathlib import Path

import pytest

THRESHOLD = 0.75
# Below this length a value is matched exactly, never approximately (see the module docstring).
SHORT_VALUE = 8
# The window slides over lengths len(secret) - SLACK .. len(secret) + SLACK: OCR drops a dash or
# splits one glyph into two ("m" -> "rn") about that often in a 32-character key.
SLACK = 2
# Images narrower than this are upscaled 2x first: tesseract wants ~20 px capitals, and
# Playwright's video (scaled to fit 800x800) and trace screencast frames have ~9 px ones.
# Full-size 1280 px screenshots read better as they are (upscaling blurs their large text).
UPSCALE_BELOW_PX = 1000
# Images wider than this are halved first: a --scale 2 picture (2560 px) has twice the text
# size tesseract needs, and four times the pixels to read.
DOWNSCALE_ABOVE_PX = 2200
# Sampling a video: at most this many frames, however long it is (OCR costs ~0.4 s a frame).
MAX_VIDEO_FRAMES = 30
TIMEOUT_S = 120

# What OCR confuses, folded to one character on both sides before comparing, after Unicode
# compatibility decomposition (é -> e), dropping accents, and case folding. Each row is a
# confusion seen from tesseract 5 on Chromium screenshots of sans-serif and monospace text:
#   o        -> 0   O and 0
#   i l | !  -> 1   I, l, | and 1 (the l -> I)
#   z        -> 2   Z and 2
#   j        -> 3   J and 3 (the 3 -> J)
#   s        -> 5   S and 5 (and 9 -> S in small text)
#   b e      -> 8   B and 8; 8 read as e in small monospace (the 8 -> e)
#   _ — – ~  -> -   the separators of keys and url-safe tokens
# Folding makes letters into digits on both sides, so it never turns a match into a miss; it
# only makes these misreads free instead of costing similarity.
FOLD_TABLE = str.maketrans(
    {
        "o": "0",
        "i": "1",
        "l": "1",
        "|": "1",
        "!": "1",
        "z": "2",
        "j": "3",
        "s": "5",
        "b": "8",
        "e": "8",
        "_": "-",
        "\u2014": "-",
        "\u2013": "-",
        "~": "-",
    }
)
_WHITESPACE = re.compile(r"\s+")
_SPACED_DIGITS = re.compile(r"(?<=\d)\s+(?=\d)")


# --- tools ----------------------------------------------------------------------------------


def tesseract() -> str | None:
    return shutil.which("tesseract")


def require_tesseract() -> str:
    """The tesseract binary; skip the calling test without it, or fail when the run demands
    every service (HTX_KEYS_REQUIRE_SERVICES=1, as scripts/test.sh and CI set)."""
    found = tesseract()
    if found is None:
        message = "tesseract is not installed: run scripts/setup-system.sh --test"
        if os.environ.get("HTX_KEYS_REQUIRE_SERVICES") == "1":
            pytest.fail(f"HTX_KEYS_REQUIRE_SERVICES=1 but {message}", pytrace=False)
        pytest.skip(message)
    return found


def _ffmpeg(name: str = "ffmpeg") -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed: run scripts/setup-system.sh")
    return found


def _tesseract_env() -> dict[str, str]:
    # One thread per tesseract: its OpenMP threads spin-wait and made a 0.4 s page take 2 s on
    # two cores; the caller runs several tesseracts in parallel instead.
    return {**os.environ, "OMP_THREAD_LIMIT": "1"}


# --- OCR ------------------------------------------------------------------------------------


def png_width(data: bytes) -> int | None:
    """The width in a PNG's IHDR chunk, or None for anything that is not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big")


def jpeg_width(data: bytes) -> int | None:
    """The width in a JPEG's start-of-frame segment, or None for anything else."""
    if not data.startswith(b"\xff\xd8"):
        return None
    at = 2
    while at + 9 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length field
            at += 2
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        # SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC), which share the range.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return int.from_bytes(data[at + 7 : at + 9], "big")
        at += 2 + length
    return None


def ocr_image(data: bytes) -> str:
    """The text tesseract reads in an image (PNG or JPEG bytes); small images upscaled 2x."""
    binary = tesseract()
    if binary is None:
        raise RuntimeError("tesseract is not installed: run scripts/setup-system.sh --test")
    width = png_width(data) or jpeg_width(data)
    if width is None or width < UPSCALE_BELOW_PX or width > DOWNSCALE_ABOVE_PX:
        # ffmpeg reads any image; it decides on the real width and hands tesseract a PNG.
        factor = f"if(lt(iw,{UPSCALE_BELOW_PX}),2*iw,if(gt(iw,{DOWNSCALE_ABOVE_PX}),iw/2,iw))"
        scale = f"scale=w='{factor}':h=-2:flags=lanczos"
        data = subprocess.run(
            [
                *(_ffmpeg(), "-loglevel", "error", "-i", "pipe:0", "-vf", scale),
                *("-f", "image2pipe", "-vcodec", "png", "pipe:1"),
            ],
            input=data,
            capture_output=True,
            check=True,
            timeout=TIMEOUT_S,
        ).stdout
    proc = subprocess.run(
        [binary, "stdin", "stdout", "-l", "eng", "--psm", "3"],
        input=data,
        capture_output=True,
        check=True,
        timeout=TIMEOUT_S,
        env=_tesseract_env(),
    )
    return proc.stdout.decode("utf-8", errors="replace")


def ocr_text(png: Path) -> str:
    """The text tesseract reads in an image file."""
    return ocr_image(Path(png).read_bytes())


def video_duration(video: Path) -> float:
    """Seconds from the first to the last frame. Playwright's WebM has no duration in its
    header, so this reads the packets' timestamps (no decoding: fast)."""
    out = subprocess.run(
        [
            *(_ffmpeg("ffprobe"), "-v", "error", "-select_streams", "v:0"),
            *("-show_entries", "packet=pts_time", "-of", "csv=p=0", str(video)),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=TIMEOUT_S,
    ).stdout
    times = [float(t) for t in re.findall(r"^\s*(\d+(?:\.\d+)?)", out, flags=re.MULTILINE)]
    return max(times, default=0.0)


def video_frames(
    webm: Path,
    every_s: float = 1.0,
    *,
    max_frames: int = MAX_VIDEO_FRAMES,
    out_dir: Path | None = None,
    offset_s: float = 0.0,
) -> list[Path]:
    """PNG frames sampled every `every_s` seconds from `offset_s` on (further apart when that
    would exceed `max_frames`), upscaled like ocr_image does. Each frame is named after its
    time in the video (frame_time() reads it back). Written to `out_dir`, or to a new
    temporary directory the caller removes."""
    interval = max(every_s, (video_duration(webm) - offset_s) / max_frames, 0.001)
    target = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="frames-"))
    select = f"fps=1/{interval:.6f},"
    if offset_s:
        select = f"trim=start={offset_s:.3f},setpts=PTS-STARTPTS,{select}"
    _frames_as_png(webm, target / "frame-%05d.png", select, max_frames)
    frames = []
    # The fps filter emits frame n for time n * interval (n from 0): name each by that time.
    for n, path in enumerate(sorted(target.glob("frame-*.png"))):
        named = target / f"at-{offset_s + n * interval:010.3f}s.png"
        path.rename(named)
        frames.append(named)
    return frames


def gif_frames(gif: Path, out_dir: Path, *, max_frames: int = MAX_VIDEO_FRAMES) -> list[Path]:
    """Every frame of an animated GIF (a frame per step: all of them, up to `max_frames`), as
    PNGs upscaled like ocr_image does; named at-<n>.png."""
    _frames_as_png(gif, out_dir / "at-%03d.png", "", max_frames, "-fps_mode", "passthrough")
    return sorted(out_dir.glob("at-*.png"))


def _frames_as_png(source: Path, pattern: Path, select: str, max_frames: int, *extra: str) -> None:
    """ffmpeg: frames of `source` (after the `select` filters) as PNGs named by `pattern`,
    upscaled like ocr_image does."""
    pattern.parent.mkdir(parents=True, exist_ok=True)
    scale = f"scale=w='if(lt(iw,{UPSCALE_BELOW_PX}),2*iw,iw)':h=-2:flags=lanczos"
    subprocess.run(
        [
            *(_ffmpeg(), "-loglevel", "error", "-y", "-i", str(source)),
            *("-vf", f"{select}{scale}", *extra, "-frames:v", str(max_frames), str(pattern)),
        ],
        capture_output=True,
        check=True,
        timeout=TIMEOUT_S,
    )


# Pages of a PDF are rendered at this resolution for OCR: the guide prints a 1280 px
# screenshot about 180 mm wide, so 150 dpi gives its text back at 0.83 of its own size
# (1240 px pages: tesseract reads the guide's pictures there as well as the PNGs).
PDF_DPI = 150
MAX_PDF_PAGES = 40


def pdf_pages(pdf: Path, out_dir: Path, *, dpi: int = PDF_DPI) -> list[Path]:
    """Each page of a PDF as a PNG (poppler's pdftoppm), at most MAX_PDF_PAGES."""
    binary = shutil.which("pdftoppm")
    if binary is None:
        raise RuntimeError("pdftoppm is not installed: run scripts/setup-system.sh --test")
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [binary, "-r", str(dpi), "-l", str(MAX_PDF_PAGES), "-png", str(pdf), str(out_dir / "page")],
        capture_output=True,
        check=True,
        timeout=TIMEOUT_S,
    )
    return sorted(out_dir.glob("page-*.png"))


def frame_time(frame: Path) -> float:
    """The time in the video of a frame from video_frames()."""
    match = re.fullmatch(r"at-(\d+\.\d+)s", frame.stem)
    if match is None:
        raise ValueError(f"{frame.name} is not a frame from video_frames()")
    return float(match.group(1))


# --- approximate matching -------------------------------------------------------------------


def normalise(text: str) -> str:
    """Compatibility-decomposed, accents dropped, case-folded (before FOLD_TABLE)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def fold(text: str) -> str:
    """`text` as compared: normalised, then FOLD_TABLE applied (one character for one)."""
    return normalise(text).translate(FOLD_TABLE)


def approx_find(secret: str, text: str, threshold: float = THRESHOLD) -> float | None:
    """How similar the most similar place in `text` is to `secret` (1.0 = identical after
    folding), or None when nothing reaches `threshold`.

    Values shorter than SHORT_VALUE match only exactly and as a whole: not inside a longer
    run of digits, and not right after a digit and a dot (the fraction of a decimal).
    """
    wanted = _WHITESPACE.sub("", fold(secret))
    if not wanted:
        return None
    if len(wanted) < SHORT_VALUE:
        return 1.0 if _exact_whole(wanted, text) else None
    return _best_window(wanted, _WHITESPACE.sub("", fold(text)), threshold)


def _exact_whole(wanted: str, text: str) -> bool:
    # Digits OCR spread apart ("4 8 2 9 1 3", a code shown in six boxes) are joined too; the
    # text as read is tried first, so a code next to another number still counts as whole.
    plain = normalise(text)
    for candidate in (plain, _SPACED_DIGITS.sub("", plain)):
        folded = candidate.translate(FOLD_TABLE)
        at = folded.find(wanted)
        while at != -1:
            before, after = candidate[max(0, at - 2) : at], candidate[at + len(wanted) :][:2]
            # The neighbours are judged as read (unfolded): a letter O beside the code is
            # not a digit of a longer number.
            if not re.search(r"\d\.?$", before) and not re.match(r"\.?\d", after):
                return True
            at = folded.find(wanted, at + 1)
    return False


def _best_window(wanted: str, text: str, threshold: float) -> float | None:
    need = Counter(wanted)
    size = len(wanted)
    matcher = SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(wanted)  # the matcher caches its analysis of seq2: the secret
    best: float | None = None
    lengths = [w for w in range(max(1, size - SLACK), size + SLACK + 1) if w <= len(text)]
    if not lengths and text:
        lengths = [len(text)]
    for width in lengths:
        # How many characters the window shares with the secret (as multisets), kept up to
        # date as the window slides. 2 * shared / (width + size) bounds difflib's ratio from
        # above, so the costly ratio runs only where a match is possible.
        have = Counter(text[:width])
        shared = sum(min(have[c], n) for c, n in need.items())
        for start in range(len(text) - width + 1):
            if start:
                gone, new = text[start - 1], text[start + width - 1]
                if have[gone] <= need[gone]:
                    shared -= 1
                have[gone] -= 1
                have[new] += 1
                if have[new] <= need[new]:
                    shared += 1
            if 2 * shared / (width + size) < threshold:
                continue
            matcher.set_seq1(text[start : start + width])
            ratio = matcher.ratio()
            if ratio >= threshold and (best is None or ratio > best):
                best = ratio
    return best
