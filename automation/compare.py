"""Which step pictures changed since a previous guide (`record --compare DIR`).

Pictures are matched by the step's slug (`NN-<slug>.png` without its number: a step the site
skipped this time renumbers the ones after it). Each pair is reduced to the same small grey
thumbnail (automation/media.py), so pictures taken at another scale (`--scale 2`) compare
with the old ones, and a pixel of anti-aliasing does not count. A thumbnail pixel counts as
changed when its grey level moved by more than PIXEL_DELTA; a step changed when more than
`threshold` of its pixels did. Masked fields, the outlined element and the page's layout are
in the pictures, so a moved button, a new field or a renamed label shows; a time or a price
in small print usually stays under the threshold.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from automation.media import thumbnails

DEFAULT_THRESHOLD = 0.005  # 0.5 % of the picture: a label of a dozen characters
PIXEL_DELTA = 40  # grey levels (of 255)

Status = Literal["changed", "same", "new", "gone"]
_NUMBERED = re.compile(r"^(\d+)-(.+)\.png$")


@dataclass(frozen=True)
class StepChange:
    slug: str
    status: Status
    number: int | None  # in the new guide (None: a step only the old guide has)
    old_number: int | None
    changed: float | None  # fraction of pixels changed (None: nothing to compare with)


def pictures_by_slug(folder: Path) -> dict[str, tuple[int, Path]]:
    """slug -> (number, path) of the step pictures in `folder` (a guide's steps/)."""
    return pictures_by_slug_of(sorted(folder.glob("*.png")) if folder.is_dir() else [])


def pictures_by_slug_of(paths: Sequence[Path]) -> dict[str, tuple[int, Path]]:
    """slug -> (number, path) of step pictures named NN-<slug>.png (others are ignored)."""
    found: dict[str, tuple[int, Path]] = {}
    for path in paths:
        match = _NUMBERED.match(path.name)
        if match:
            found.setdefault(match.group(2), (int(match.group(1)), path))
    return found


def changed_fraction(a: bytes, b: bytes, delta: int = PIXEL_DELTA) -> float:
    """The fraction of pixels of two same-size grey images whose level differs by > delta."""
    if len(a) != len(b) or not a:
        raise ValueError("thumbnails of different sizes")
    return sum(1 for x, y in zip(a, b, strict=True) if abs(x - y) > delta) / len(a)


def compare_steps(
    new: Sequence[Path],
    old_dir: Path,
    threshold: float = DEFAULT_THRESHOLD,
    thumbs: Callable[[Sequence[Path]], list[bytes]] = thumbnails,
) -> list[StepChange]:
    """Every step of the new guide (`new`: its pictures) against `old_dir` (a previous guide,
    or its steps/ folder), in the new guide's order; then the steps only the old one has."""
    folder = old_dir / "steps" if (old_dir / "steps").is_dir() else old_dir
    old = pictures_by_slug(folder)
    current = pictures_by_slug_of(new)
    pairs = [(path, old[slug][1]) for slug, (_, path) in current.items() if slug in old]
    # One ffmpeg for every picture of both guides.
    grey = thumbs([p for pair in pairs for p in pair])
    small = {pair[0]: (grey[2 * i], grey[2 * i + 1]) for i, pair in enumerate(pairs)}
    out: list[StepChange] = []
    for slug, (number, path) in current.items():
        if slug not in old:
            out.append(StepChange(slug, "new", number, None, None))
            continue
        old_number = old[slug][0]
        fraction = changed_fraction(*small[path])
        status: Status = "changed" if fraction > threshold else "same"
        out.append(StepChange(slug, status, number, old_number, fraction))
    for slug, (old_number, _) in old.items():
        if slug not in current:
            out.append(StepChange(slug, "gone", None, old_number, None))
    return out


def differs(changes: Sequence[StepChange]) -> bool:
    return any(c.status != "same" for c in changes)


def render_table(changes: Sequence[StepChange], threshold: float) -> str:
    """A table for the terminal (and Markdown: it is one), then a one-line summary."""
    rows = [("step", "was", "picture", "changed", "status")]
    for c in changes:
        rows.append(
            (
                str(c.number) if c.number is not None else "-",
                str(c.old_number) if c.old_number is not None else "-",
                c.slug,
                f"{c.changed:.1%}" if c.changed is not None else "-",
                c.status,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = [_row(r, widths) for r in rows]
    lines.insert(1, _row(tuple("-" * w for w in widths), widths))
    moved = [c for c in changes if c.status != "same"]
    summary = (
        f"{len(moved)} of {len(changes)} steps differ (threshold {threshold:.1%} of the picture)"
        if moved
        else f"no step changed beyond {threshold:.1%} of its picture"
    )
    return "\n".join([*lines, summary])


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "| " + " | ".join(v.ljust(w) for v, w in zip(cells, widths, strict=True)) + " |"
