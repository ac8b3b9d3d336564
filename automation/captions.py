"""WebVTT captions of a recorded run: one cue per chapter (recorded step), its title and sentence.

The cues come from the chapters the recorder wrote (automation/artifacts.py: each starts when
its step's chapter card is shown) and end where the next begins; the last ends with the video.
The text is the step definition's, so captions, chapter cards and the written guide say the
same. Only the three characters WebVTT reserves in cue text are escaped (&, <, >).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# The last cue lasts at least this long, even when the video's length is not known.
LAST_CUE_S = 3.0


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    title: str
    text: str


def timestamp(seconds: float) -> str:
    """WebVTT's hh:mm:ss.ttt."""
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _escape(text: str) -> str:
    # One line per cue line: a blank line would end the cue.
    flat = " ".join(text.split())
    return flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cues(chapters: Sequence[dict[str, object]], duration: float | None) -> list[Cue]:
    """A cue per chapter (chapters.json's "chapters": number, title, description, start)."""
    ordered = sorted(chapters, key=lambda c: float(str(c["start"])))
    out: list[Cue] = []
    for n, chapter in enumerate(ordered):
        start = float(str(chapter["start"]))
        if n + 1 < len(ordered):
            end = float(str(ordered[n + 1]["start"]))
        else:
            end = max(duration or 0.0, start + LAST_CUE_S)
        end = max(end, start + 0.001)  # two cards at one instant still make two cues
        title = f"Step {chapter['number']}: {chapter['title']}"
        out.append(Cue(start, end, title, str(chapter["description"])))
    return out


def render_vtt(items: Sequence[Cue]) -> str:
    """The WebVTT file: the header, then per cue an identifier, its timing, title and text."""
    blocks = ["WEBVTT"]
    for n, cue in enumerate(items, 1):
        blocks.append(
            f"step-{n}\n{timestamp(cue.start)} --> {timestamp(cue.end)}\n"
            f"{_escape(cue.title)}\n{_escape(cue.text)}"
        )
    return "\n\n".join(blocks) + "\n"
