"""The only place that finds, launches and closes a browser and makes its contexts.

Which Chromium: an explicit path when given, Playwright's own build when `playwright install
chromium` has fetched it, else a system Chromium or Chrome. Which is used is decided before
anything starts, so a missing browser is a one-line error and not a stack trace.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from automation.errors import ConfigError

SYSTEM_CHROMIUMS = (
    "/usr/lib/chromium/chromium",  # Debian: the binary itself (the /usr/bin wrapper is a script)
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
)
# Without the networking flags Chromium keeps trying to reach Google's services, which a
# closed network refuses many times over; none of them matter to a scripted session.
LAUNCH_ARGS = [
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}


@dataclass(frozen=True)
class BrowserChoice:
    executable: str | None  # None: Playwright's own build
    description: str


def playwright_chromium() -> str | None:
    """The path of Playwright's own Chromium when it has been installed, else None."""
    root = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache/ms-playwright")
    if not root.is_dir():
        return None
    for pattern in ("chromium-*/chrome-linux*/chrome", "chromium-*/chrome-mac*/**/Chromium"):
        for candidate in sorted(root.glob(pattern), reverse=True):
            if os.access(candidate, os.X_OK):
                return str(candidate)
    return None


def choose_browser(explicit: str | None = None) -> BrowserChoice:
    if explicit:
        path = shutil.which(explicit) or explicit
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise ConfigError(f"Browser not found or not executable: {explicit}")
        return BrowserChoice(path, f"browser {path}")
    if playwright_chromium():
        return BrowserChoice(None, "Playwright's Chromium")
    for path in SYSTEM_CHROMIUMS:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return BrowserChoice(path, f"system Chromium {path}")
    raise ConfigError(
        "No Chromium found: run `playwright install chromium`, install Chromium or Chrome, "
        "or set HTX_KEYS_BROWSER to a browser's path"
    )


@dataclass
class BrowserOptions:
    choice: BrowserChoice
    headed: bool = False
    slow_mo: float = 0.0
    timeout_ms: float = 30_000
    record_video_dir: Path | None = None


@contextmanager
def open_page(options: BrowserOptions) -> Iterator[object]:
    """Launch Chromium, open one context and page, and close everything on the way out.

    Yields the Playwright `Page`. Typed as object so callers import Playwright types lazily.
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    args = list(LAUNCH_ARGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox on
    # Playwright leaves empty tracing folders in /tmp unless told where they go.
    with tempfile.TemporaryDirectory(prefix="htx-keys-pw-") as traces_dir, sync_playwright() as p:
        try:
            browser = p.chromium.launch(
                executable_path=options.choice.executable,
                headless=not options.headed,
                args=args,
                slow_mo=options.slow_mo,
                traces_dir=traces_dir,
            )
        except PlaywrightError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ConfigError(
                f"Could not start {options.choice.description}: {first}",
                hint="check HTX_KEYS_BROWSER / --browser, or run `playwright install chromium`",
            ) from None
        try:
            context = browser.new_context(
                viewport=VIEWPORT,  # type: ignore[arg-type]
                locale="en-US",
                record_video_dir=options.record_video_dir,
            )
            context.set_default_timeout(options.timeout_ms)
            page = context.new_page()
            try:
                yield page
            finally:
                context.close()
        finally:
            browser.close()
