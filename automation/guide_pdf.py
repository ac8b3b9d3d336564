"""guide.pdf: the HTML guide printed by Chromium (Page.pdf, headless only).

The guide's print style (automation/guide.py) starts each step on a new page and never splits
a picture; the video player is left out of print. The HTML is handed to the page as content,
not as a file: URL, so a remote browser (--cdp-endpoint, --ws-endpoint) prints it too; it is
self-contained, so nothing else is fetched.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from automation.browser import BrowserOptions, open_page
from automation.files import atomic_write

PAPER = {"format": "A4", "print_background": True, "prefer_css_page_size": True}
_PAGE = re.compile(rb"/Type\s*/Page(?![s\w])")


def print_pdf(page_html: str, target: Path, browser: BrowserOptions, *, private: bool) -> int:
    """Print `page_html` to `target` (0600 from its first byte when `private`); the number of
    pages printed."""
    options = replace(browser, headed=False, record_video_dir=None, storage_state=None)
    with open_page(options) as page:
        page.set_content(page_html, wait_until="load")
        page.evaluate("() => document.fonts.ready.then(() => true)")
        data: bytes = page.pdf(**PAPER)
    if private:
        atomic_write(target, data)
    else:
        target.write_bytes(data)
    return pdf_pages(data)


def pdf_pages(data: bytes) -> int:
    """Pages of a PDF as Chromium (Skia) writes them: one uncompressed /Type /Page object each."""
    return len(_PAGE.findall(data))
