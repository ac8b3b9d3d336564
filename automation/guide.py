"""The step-by-step guide, rendered from a recorded run: Markdown and a self-contained HTML page.

Titles and sentences come from the flow's Step definitions, never typed again here, so the
guide says what the code does. Numbering follows the recorded steps; a step the run did not
need (a check the site did not ask for this time) becomes a "when asked" note after the step it
would follow. The text holds nothing of the run itself (no dates, keys or addresses), so a
guide regenerated from the same flow reads the same.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automation.files import atomic_write, private_dir
from automation.recording import RecordedStep
from automation.runner import Flow

INTRO = (
    "In the pictures, the element each step acts on is outlined and numbered; passwords, "
    "codes, keys and email addresses are masked."
)
NOTE = "When asked"  # a step the recorded run did not need


@dataclass(frozen=True)
class GuideStep:
    number: int
    title: str
    description: str
    image: str | None  # path relative to the guide
    notes: tuple[tuple[str, str], ...] = ()  # (title, description) of steps not needed this time


@dataclass(frozen=True)
class Guide:
    title: str
    requirements: tuple[str, ...]
    steps: tuple[GuideStep, ...]
    intro: str = INTRO
    notes: tuple[tuple[str, str], ...] = ()  # steps not needed, before the first recorded one


def build_guide(
    flow: Flow[Any], recorded: Sequence[RecordedStep], root: Path, intro: str = INTRO
) -> Guide:
    """The guide of a finished run; images are made relative to `root` (the guide's folder)."""
    done = {r.index: r for r in recorded}
    steps: list[GuideStep] = []
    pending: list[tuple[str, str]] = []  # skipped before the first recorded step
    for index, step in enumerate(flow.steps, 1):
        rec = done.get(index)
        if rec is None:
            note = (step.title, step.description)
            if steps:
                last = steps[-1]
                steps[-1] = GuideStep(
                    last.number, last.title, last.description, last.image, (*last.notes, note)
                )
            else:
                pending.append(note)
            continue
        image = rec.image.relative_to(root).as_posix() if rec.image else None
        steps.append(GuideStep(rec.number, step.title, step.description, image))
    return Guide(flow.title, flow.requirements, tuple(steps), intro, tuple(pending))


def render_markdown(guide: Guide) -> str:
    lines = [f"# {guide.title}", "", guide.intro, ""]
    if guide.requirements:
        lines += ["## What you need", ""]
        lines += [f"- {item}" for item in guide.requirements]
        lines.append("")
    lines += [f"> **{NOTE}: {title}.** {description}\n" for title, description in guide.notes]
    for step in guide.steps:
        lines += [f"## Step {step.number}: {step.title}", "", step.description, ""]
        if step.image:
            lines += [f"![Step {step.number}: {step.title}]({step.image})", ""]
        for title, description in step.notes:
            lines += [f"> **{NOTE}: {title}.** {description}", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


_CSS = """
body { margin: 0; background: #f4f6f9; color: #1d2330;
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 960px; margin: 0 auto; padding: 32px 24px 64px; }
h1 { font-size: 2rem; margin: 0 0 12px; }
h2 { font-size: 1.35rem; margin: 0 0 8px; }
.intro { color: #4a5366; }
section { background: #fff; border-radius: 12px; padding: 20px 24px; margin: 20px 0;
  box-shadow: 0 1px 3px rgba(20, 30, 50, .08); }
.num { display: inline-block; min-width: 1.9em; height: 1.9em; line-height: 1.9em;
  border-radius: 50%; background: #ff5a1f; color: #fff; text-align: center;
  margin-right: .5em; font-size: .9em; }
figure { margin: 16px 0 0; }
img { display: block; max-width: 100%; height: auto; border: 1px solid #dde2ea;
  border-radius: 8px; }
.note { border-left: 4px solid #ffb08f; background: #fff6f1; padding: 8px 14px;
  margin: 16px 0 0; border-radius: 0 8px 8px 0; }
code { background: #eef1f5; padding: 1px 5px; border-radius: 4px; }
video { display: block; width: 100%; height: auto; border-radius: 8px; background: #000; }
@page { size: A4; margin: 14mm; }
@media print {
  body { background: #fff; font-size: 12pt; }
  main { max-width: none; padding: 0; }
  section { box-shadow: none; border: 1px solid #dde2ea; margin: 0 0 12px; }
  section.step { break-before: page; }
  figure, img, .note { break-inside: avoid; }
  img { max-height: 200mm; width: auto; max-width: 100%; }
  #video { display: none; }
}
"""


def _inline(text: str) -> str:
    """Escaped text, with `code` spans (the only Markdown the texts use)."""
    parts = html.escape(text, quote=False).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _note(title: str, description: str) -> str:
    return f'<p class="note"><strong>{NOTE}: {_inline(title)}.</strong> {_inline(description)}</p>'


@dataclass(frozen=True)
class Player:
    """The recording shown at the top of guide.html: video files beside the guide (too large
    to embed), the captions embedded (a file: page may not load a track from a file:)."""

    sources: tuple[tuple[str, str], ...]  # (file name relative to the guide, MIME type)
    captions: str | None = None  # WebVTT text


def _player(player: Player) -> str:
    sources = "".join(
        f'<source src="{html.escape(name)}" type="{mime}">' for name, mime in player.sources
    )
    track = ""
    if player.captions is not None:
        data = base64.b64encode(player.captions.encode("utf-8")).decode("ascii")
        track = (
            '<track kind="captions" srclang="en" label="English (steps)" default '
            f'src="data:text/vtt;base64,{data}">'
        )
    return (
        '<section id="video"><h2>The whole flow on video</h2>'
        f'<video controls preload="metadata">{sources}{track}</video></section>'
    )


def render_html(guide: Guide, root: Path, player: Player | None = None) -> str:
    """One file with everything in it (images as data: URIs, the style inline), except the
    video a `player` names, which sits beside it."""
    body = [f"<h1>{_inline(guide.title)}</h1>", f'<p class="intro">{_inline(guide.intro)}</p>']
    if player is not None and player.sources:
        body.append(_player(player))
    if guide.requirements:
        items = "".join(f"<li>{_inline(item)}</li>" for item in guide.requirements)
        body.append(f'<section id="what-you-need"><h2>What you need</h2><ul>{items}</ul></section>')
    body += [_note(title, description) for title, description in guide.notes]
    for step in guide.steps:
        parts = [
            f'<section class="step" id="step-{step.number}">',
            f'<h2><span class="num" aria-hidden="true">{step.number}</span>Step {step.number}: '
            f"{_inline(step.title)}</h2>",
            f"<p>{_inline(step.description)}</p>",
        ]
        if step.image:
            data = base64.b64encode((root / step.image).read_bytes()).decode("ascii")
            alt = html.escape(f"Step {step.number}: {step.title}")
            parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{alt}"></figure>')
        parts += [_note(title, description) for title, description in step.notes]
        parts.append("</section>")
        body.append("".join(parts))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(guide.title)}</title>\n<style>{_CSS}</style>\n</head>\n"
        "<body>\n<main>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n"
    )


def write_guide(
    guide: Guide, root: Path, *, private: bool = False, player: Player | None = None
) -> tuple[Path, Path]:
    """guide.md and guide.html in `root`; returns their paths. `private` (a real account's
    run): the folder 0700, the files 0600 from their first byte."""
    markdown = root / "guide.md"
    page = root / "guide.html"
    texts = ((markdown, render_markdown(guide)), (page, render_html(guide, root, player)))
    if private:
        private_dir(root)
        for path, text in texts:
            atomic_write(path, text.encode("utf-8"))
    else:
        root.mkdir(parents=True, exist_ok=True)
        for path, text in texts:
            path.write_text(text, encoding="utf-8")
    return markdown, page
