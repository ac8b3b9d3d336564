"""Reading what `htx-keys record` writes the way players read it: WebVTT parsed strictly,
ffprobe's view of a video or GIF (decoding every frame), a PDF's pages by poppler."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

_TIMING = re.compile(r"(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})")


@dataclass(frozen=True)
class ParsedCue:
    ident: str
    start: float
    end: float
    lines: list[str]


def parse_vtt(text: str) -> list[ParsedCue]:
    """The cues of a WebVTT file (identifier, timing, text lines), strict about the header and
    the timing line; fails on anything else."""
    blocks = text.strip("\n").split("\n\n")
    assert blocks[0] == "WEBVTT", blocks[0]
    out = []
    for block in blocks[1:]:
        ident, timing, *lines = block.split("\n")
        match = _TIMING.fullmatch(timing)
        assert match, timing
        h1, m1, s1, f1, h2, m2, s2, f2 = (int(g) for g in match.groups())
        start = h1 * 3600 + m1 * 60 + s1 + f1 / 1000
        end = h2 * 3600 + m2 * 60 + s2 + f2 / 1000
        assert end > start, block
        out.append(ParsedCue(ident, start, end, lines))
    return out


def probe(path: Path) -> dict[str, str]:
    """ffprobe's first video stream, every frame decoded (nb_read_frames), and the duration."""
    out = subprocess.run(
        [
            *("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0"),
            "-show_entries",
            "format=duration:stream=codec_name,width,height,pix_fmt,nb_read_frames",
            *("-of", "json", str(path)),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data = json.loads(out)
    (stream,) = data["streams"]
    info = {k: str(v) for k, v in stream.items()}
    info["duration"] = str(data["format"].get("duration", ""))
    return info


def pdf_page_count(pdf: Path) -> int:
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    match = re.search(r"^Pages:\s+(\d+)$", out.stdout, re.M)
    assert match, out.stdout
    return int(match.group(1))


def pdf_page_text(pdf: Path, page: int) -> str:
    return subprocess.run(
        ["pdftotext", "-f", str(page), "-l", str(page), "-layout", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
