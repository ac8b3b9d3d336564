"""The guide made from recorded steps: numbering, notes for skipped steps, one HTML file."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from automation.guide import build_guide, render_html, render_markdown, write_guide
from automation.recording import RecordedStep
from automation.runner import Flow, Step

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
)


def noop(ctx: object) -> None:
    return None


FLOW = Flow[object](
    name="demo",
    title="Make a `thing`",
    steps=(
        Step("Open the site", "Go to the site.", noop, shot="after"),
        Step("Log in", "Enter <email> & password.", noop),
        Step("Confirm the device", "If asked, confirm the new device.", noop),
        Step("Press Create", "Press Create.", noop),
    ),
    requirements=("An account.", "A mailbox."),
)


def recorded(tmp_path: Path, indexes: list[int]) -> list[RecordedStep]:
    steps = tmp_path / "steps"
    steps.mkdir(exist_ok=True)
    out = []
    for number, index in enumerate(indexes, 1):
        step = FLOW.steps[index - 1]
        image = steps / f"{number:02d}-{step.slug}.png"
        image.write_bytes(PNG)
        out.append(RecordedStep(number, index, step, image))
    return out


def test_numbering_follows_the_recorded_steps_and_skipped_ones_become_notes(
    tmp_path: Path,
) -> None:
    guide = build_guide(FLOW, recorded(tmp_path, [1, 2, 4]), tmp_path)
    assert [(s.number, s.title, s.image) for s in guide.steps] == [
        (1, "Open the site", "steps/01-open-the-site.png"),
        (2, "Log in", "steps/02-log-in.png"),
        (3, "Press Create", "steps/03-press-create.png"),
    ]
    assert guide.steps[1].notes == (("Confirm the device", "If asked, confirm the new device."),)
    assert guide.notes == ()


def test_markdown_takes_every_text_from_the_step_definitions(tmp_path: Path) -> None:
    text = render_markdown(build_guide(FLOW, recorded(tmp_path, [1, 2, 4]), tmp_path))
    assert text == (
        "# Make a `thing`\n"
        "\n"
        "In the pictures, the element each step acts on is outlined and numbered; passwords, "
        "codes, keys and email addresses are masked.\n"
        "\n"
        "## What you need\n"
        "\n"
        "- An account.\n"
        "- A mailbox.\n"
        "\n"
        "## Step 1: Open the site\n"
        "\n"
        "Go to the site.\n"
        "\n"
        "![Step 1: Open the site](steps/01-open-the-site.png)\n"
        "\n"
        "## Step 2: Log in\n"
        "\n"
        "Enter <email> & password.\n"
        "\n"
        "![Step 2: Log in](steps/02-log-in.png)\n"
        "\n"
        "> **When asked: Confirm the device.** If asked, confirm the new device.\n"
        "\n"
        "## Step 3: Press Create\n"
        "\n"
        "Press Create.\n"
        "\n"
        "![Step 3: Press Create](steps/03-press-create.png)\n"
    )


def test_a_step_skipped_before_the_first_recorded_one_is_noted_up_front(tmp_path: Path) -> None:
    guide = build_guide(FLOW, recorded(tmp_path, [2, 3, 4]), tmp_path)
    assert guide.notes == (("Open the site", "Go to the site."),)
    text = render_markdown(guide)
    assert text.index("When asked: Open the site") < text.index("## Step 1: Log in")


def test_a_step_without_a_picture_has_no_image_line(tmp_path: Path) -> None:
    rec = recorded(tmp_path, [1, 2, 3, 4])
    rec[1].image = None
    text = render_markdown(build_guide(FLOW, rec, tmp_path))
    assert "](steps/02" not in text
    assert "## Step 2: Log in\n\nEnter <email> & password.\n\n## Step 3" in text


def test_html_is_self_contained_and_escaped(tmp_path: Path) -> None:
    guide = build_guide(FLOW, recorded(tmp_path, [1, 2, 4]), tmp_path)
    page = render_html(guide, tmp_path)
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert len(sources) == 3 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert base64.b64encode(PNG).decode() in page
    assert "<link" not in page and "<script" not in page and "http" not in page
    assert "Enter &lt;email&gt; &amp; password." in page
    assert "<title>Make a `thing`</title>" in page
    assert "<h1>Make a <code>thing</code></h1>" in page
    headings = re.findall(r"Step (\d+): ([^<]+)</h2>", page)
    assert headings == [("1", "Open the site"), ("2", "Log in"), ("3", "Press Create")]
    assert "What you need" in page and "<li>A mailbox.</li>" in page


def test_write_guide_writes_both_files(tmp_path: Path) -> None:
    guide = build_guide(FLOW, recorded(tmp_path, [1, 2, 3, 4]), tmp_path)
    markdown, page = write_guide(guide, tmp_path)
    assert markdown == tmp_path / "guide.md" and page == tmp_path / "guide.html"
    assert markdown.read_text(encoding="utf-8") == render_markdown(guide)
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
