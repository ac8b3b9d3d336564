"""What ffmpeg makes of a recording: an H.264 MP4 of the video, an animated GIF of the step
pictures, and small grey thumbnails of pictures for comparing them.

The inputs are the recorder's own files, already masked (pictures) and blurred (video): these
are other encodings of the same frames, and show nothing the inputs do not.

MP4: H.264 (libx264), yuv420p, `+faststart` (the index first, so a browser plays it while it
loads): the profile Safari, iOS, help desks and documentation sites play. GIF: one frame per
step, scaled down, with a palette computed from the pictures themselves (palettegen, then
paletteuse without dithering: flat UI colours stay flat and the file small).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from automation.errors import ConfigError

TIMEOUT_S = 300
GIF_WIDTH = 640  # a README's column; the pictures are 1280 wide (2560 with --scale 2)
GIF_SECONDS_PER_STEP = 2.5
# The screencast's 25 frames a second are mostly a still page: 12 keep typing and highlights
# smooth and halve the encoding (about 12 CPU-seconds for a minute and a half of video).
MP4_FPS = 12
# Thumbnails compared by automation/compare.py: small enough to ignore a pixel's
# anti-aliasing, large enough that a changed label shows.
THUMB_SIZE = (320, 200)


def ffmpeg(name: str = "ffmpeg") -> str:
    found = shutil.which(name)
    if found is None:
        raise ConfigError(
            f"{name} is not installed",
            hint="install ffmpeg (scripts/setup-system.sh), or pass --video off",
        )
    return found


def _run(args: Sequence[str], what: str) -> bytes:
    try:
        proc = subprocess.run(
            [ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", *args],
            capture_output=True,
            check=False,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(f"ffmpeg took over {TIMEOUT_S} s making {what}") from None
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ConfigError(f"ffmpeg could not make {what}: {lines[-1] if lines else 'no output'}")
    return proc.stdout


def h264_encoder() -> str:
    """libx264 when this ffmpeg has it (Debian's and most builds do), else OpenH264's encoder
    (ffmpeg builds without GPL parts); both write H.264 that every browser plays."""
    try:
        out = subprocess.run(
            [ffmpeg(), "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=60
        ).stdout
    except subprocess.TimeoutExpired:
        raise ConfigError("ffmpeg did not list its encoders within 60 s") from None
    for name in ("libx264", "libopenh264"):
        if f" {name} " in out:
            return name
    raise ConfigError(
        "this ffmpeg has no H.264 encoder (libx264 or libopenh264)",
        hint="install a full ffmpeg (Debian's has libx264), or pass --video off",
    )


def to_mp4(video: Path, target: Path) -> str:
    """`video` (WebM) as H.264 MP4 in `target`; returns the encoder used."""
    encoder = h264_encoder()
    quality = ["-preset", "veryfast", "-crf", "28"] if encoder == "libx264" else ["-b:v", "1M"]
    _run(
        [
            *("-y", "-i", str(video), "-an", "-c:v", encoder, *quality),
            # Even sizes and 4:2:0: what the Main/High profile decoders of Safari take.
            *("-vf", f"fps={MP4_FPS},scale=trunc(iw/2)*2:trunc(ih/2)*2", "-pix_fmt", "yuv420p"),
            *("-movflags", "+faststart", str(target)),
        ],
        "the MP4",
    )
    return encoder


def to_gif(
    pictures: Sequence[Path],
    target: Path,
    *,
    width: int = GIF_WIDTH,
    seconds: float = GIF_SECONDS_PER_STEP,
) -> None:
    """An animated GIF, one frame per picture (each `seconds` long), looping forever."""
    if not pictures:
        raise ValueError("no pictures for the GIF")
    with tempfile.TemporaryDirectory(prefix="htx-keys-gif-") as tmp:
        listing = Path(tmp) / "frames.txt"
        lines = []
        for picture in pictures:
            lines += [f"file '{_quoted(picture)}'", f"duration {seconds}"]
        listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
        scale = f"scale={width}:-2:flags=lanczos"
        _run(
            [
                *("-y", "-f", "concat", "-safe", "0", "-i", str(listing)),
                "-filter_complex",
                f"[0:v]{scale},split[a][b];[a]palettegen=max_colors=128:stats_mode=full[p];"
                "[b][p]paletteuse=dither=none",
                *("-fps_mode", "vfr", "-loop", "0", str(target)),
            ],
            "the GIF",
        )


def thumbnails(pictures: Sequence[Path], size: tuple[int, int] = THUMB_SIZE) -> list[bytes]:
    """Each picture as 8-bit grey pixels of `size` (width, height), row by row: one ffmpeg for
    all of them (pictures of any size; the filter graph follows each one's)."""
    if not pictures:
        return []
    width, height = size
    with tempfile.TemporaryDirectory(prefix="htx-keys-thumbs-") as tmp:
        listing = Path(tmp) / "pictures.txt"
        listing.write_text("".join(f"file '{_quoted(p)}'\n" for p in pictures), encoding="utf-8")
        data = _run(
            [
                *("-f", "concat", "-safe", "0", "-i", str(listing)),
                *("-vf", f"scale={width}:{height}:flags=area,format=gray"),
                *("-fps_mode", "passthrough", "-f", "rawvideo", "pipe:1"),
            ],
            "thumbnails of the pictures",
        )
    one = width * height
    if len(data) != one * len(pictures):
        raise ConfigError(f"ffmpeg gave {len(data) // one} thumbnails for {len(pictures)} pictures")
    return [data[i * one : (i + 1) * one] for i in range(len(pictures))]


def _quoted(path: Path) -> str:
    """A path for ffmpeg's concat list, inside single quotes."""
    return str(Path(path).resolve()).replace("'", "'\\''")
