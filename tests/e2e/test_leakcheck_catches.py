"""The leak check can fail: a secret shown unmasked in a screenshot, a video or a trace is
caught (by OCR, misread characters and all), and the same page with the secret masked is clean.

Every end-to-end test ends with this check (tests/support/leakcheck_plugin.py,
`leak_check`); these tests show, on Chromium's own rendering, that it is not vacuous.
"""

from __future__ import annotations

import html
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from automation.media import to_gif, to_mp4
from tests.support.leakcheck import ScanStats, scan
from tests.support.leakcheck_plugin import LeakSession, check_for_leaks, known_secrets
from tests.support.ocr import require_tesseract

pytestmark = [pytest.mark.e2e, pytest.mark.cost(25)]

# Made up, in the sandbox's format (8-8-8-5 hex).
SECRET_KEY = "3fa8e1c2-9b7d4e6f-81a0c3d5-e7f92"
ACCESS_KEY = "7c0d2e91-4a6b8f13-d5e07a29-b1c64"
CODE = "482913"
OTHER_CODE = "482931"  # the same digits in another order: never shown
SECRETS = {"secret key": SECRET_KEY, "email code": CODE, "other code": OTHER_CODE}


def misread(value: str) -> str:
    """The key as tesseract misreads small text: 3 -> J, 8 -> e, 1 -> l, 0 -> O."""
    return value.translate(str.maketrans("3810", "JelO"))


def key_page(shown: str) -> str:
    return f"""<!doctype html><html><body style="font-family: sans-serif; margin: 40px">
<h1>API key created</h1>
<p>Access Key</p><div style="font: 28px monospace">{ACCESS_KEY}</div>
<p>Secret Key</p>
<div id="secret" style="font: 40px monospace; padding: 8px">{html.escape(shown)}</div>
<p>Secret Key (again, as the dialog's read-only field shows it)
<input id="field" style="width: 420px; font-size: 15px" readonly value="{html.escape(shown)}"></p>
<p id="code">Your verification code is {CODE}.</p>
<p>Order 100234, created 2024-05-01 12:34:56, uid 20000001, 4 keys of 20.</p>
</body></html>"""


def test_an_unmasked_screenshot_is_caught_by_ocr(page: Page, tmp_path: Path) -> None:
    require_tesseract()
    page.set_content(key_page(SECRET_KEY))
    shot = tmp_path / "shots" / "01-created.png"
    page.screenshot(path=str(shot))
    found = {(f.secret_label, f.how): f for f in scan([tmp_path], SECRETS)}
    assert set(found) == {("secret key", "ocr"), ("email code", "ocr")}, found
    assert found["secret key", "ocr"].similarity >= 0.75
    # A code is only ever matched exactly: the shown one is, its anagram is not.
    assert found["email code", "ocr"].similarity == 1.0


def test_misread_characters_are_still_caught(page: Page, tmp_path: Path) -> None:
    """The page shows the key with the characters OCR typically confuses already swapped;
    the check, looking for the real key, still flags it."""
    require_tesseract()
    shown = misread(SECRET_KEY)
    assert sum(a != b for a, b in zip(shown, SECRET_KEY, strict=True)) == 7
    page.set_content(key_page(shown))
    page.screenshot(path=str(tmp_path / "misread.png"))
    found = [f for f in scan([tmp_path], {"secret key": SECRET_KEY}) if f.how == "ocr"]
    assert len(found) == 1 and found[0].similarity >= 0.75, found


def test_the_same_page_masked_is_clean(page: Page, tmp_path: Path) -> None:
    require_tesseract()
    page.set_content(key_page(SECRET_KEY))
    masked = [page.locator("#secret"), page.locator("#field"), page.locator("#code")]
    page.screenshot(path=str(tmp_path / "masked.png"), mask=masked)
    stats = ScanStats()
    assert scan([tmp_path], SECRETS, stats=stats) == []
    assert stats.images_ocred == 1  # it was read, and nothing was found


def test_a_video_and_a_trace_that_show_the_key_are_caught(browser: Browser, tmp_path: Path) -> None:
    """A screencast frame (by OCR of sampled frames), the trace's filled value (bytes in a
    compressed zip member) and the trace's own screenshots (OCR of zip members)."""
    require_tesseract()
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, record_video_dir=str(tmp_path / "video")
    )
    context.tracing.start(screenshots=True, snapshots=True)
    page = context.new_page()
    page.set_content(key_page("") + '<input id="typed" style="font-size: 30px; width: 900px">')
    page.locator("#typed").fill(SECRET_KEY)  # what Playwright records as the action's value
    page.wait_for_timeout(2500)  # a few sampled frames with the key on screen
    context.tracing.stop(path=str(tmp_path / "trace.zip"))
    context.close()
    stats = ScanStats()
    found = scan([tmp_path], {"secret key": SECRET_KEY}, stats=stats)
    hows = {f.how.split("@")[0].split(":")[0] for f in found}
    assert {"zip", "ocr-zip", "ocr-video"} <= hows, [str(f) for f in found]
    assert stats.videos == 1
    assert not any(f.how == "bytes" for f in found)  # the zip compresses it out of sight


def test_a_pdf_a_gif_and_an_mp4_that_show_the_key_are_caught(
    browser: Browser, tmp_path: Path
) -> None:
    """What `record` makes of its files (automation/media.py, guide_pdf.py), made here of a
    page that shows the key: the PDF's page (pdftoppm), the GIF's frame and the MP4's frames
    are read by OCR, and each is caught."""
    require_tesseract()
    raw, out = tmp_path / "raw", tmp_path / "out"
    out.mkdir()
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, record_video_dir=str(raw)
    )
    page = context.new_page()
    page.set_content(key_page(SECRET_KEY))
    page.wait_for_timeout(1500)
    page.screenshot(path=str(raw / "01-created.png"))
    (out / "guide.pdf").write_bytes(page.pdf(format="A4"))
    context.close()
    (webm,) = raw.glob("*.webm")
    to_mp4(webm, out / "video.mp4")
    to_gif([raw / "01-created.png"], out / "guide.gif")
    stats = ScanStats()
    found = scan([out], {"secret key": SECRET_KEY}, stats=stats)
    places = {(f.path.name, f.how.split("@")[0].split(":")[0]) for f in found}
    assert places == {
        ("guide.pdf", "ocr-pdf"),
        ("guide.gif", "ocr-gif"),
        ("video.mp4", "ocr-video"),
    }, [str(f) for f in found]
    assert stats.videos == 3


def test_a_code_in_bytes_is_found_exactly(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(f"<p>Your verification code is {CODE}.</p>")
    (tmp_path / "events.json").write_text('{"wallTime": 1714566482913120, "x": 482914}')
    found = scan([tmp_path], SECRETS, ocr_images=False)
    assert [(f.path.name, f.secret_label, f.how) for f in found] == [
        ("page.html", "email code", "bytes")
    ]


def test_the_teardown_check_fails_on_what_a_subprocess_sandbox_leaked(
    leak_session: LeakSession, tmp_path: Path
) -> None:
    """The whole chain the autouse check runs: a command in a subprocess makes a sandbox
    account (as `htx-keys record` does) and writes its password into an artifact; the check
    learns the password from the subprocess and fails, naming the file."""
    program = (
        "import pyotp, sys\n"
        "from pathlib import Path\n"
        "from sandbox.accounts import demo_account\n"
        "from sandbox.state import SandboxState\n"
        "account = demo_account()\n"
        "SandboxState([account])\n"
        "Path(sys.argv[1]).write_text(f'log: logging in with {account.password}')\n"
    )
    artifact = tmp_path / "run" / "log.txt"
    artifact.parent.mkdir()
    started = time.time()
    # The session's environment (PYTHONPATH with the hook), as run_cli passes it on.
    subprocess.run([sys.executable, "-c", program, str(artifact)], check=True)
    secrets, errors = known_secrets(leak_session, started, time.time(), [tmp_path])
    assert errors == []
    with pytest.raises(pytest.fail.Exception) as failed:
        check_for_leaks("a deliberate leak (expected to fail)", [tmp_path], secrets, errors)
    assert f"{artifact}: [python -c] password in bytes" in str(failed.value)
    artifact.unlink()  # so that this test's own teardown check passes
