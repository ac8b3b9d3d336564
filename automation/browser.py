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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from automation.errors import ConfigError, InputError

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
    executable: str | None  # None: Playwright's own build (or a remote browser)
    description: str
    cdp_endpoint: str | None = None  # an existing Chromium's DevTools endpoint
    ws_endpoint: str | None = None  # a Playwright server (`playwright run-server`, Browserless)

    @property
    def remote(self) -> bool:
        return bool(self.cdp_endpoint or self.ws_endpoint)


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


def choose_browser(
    explicit: str | None = None, *, cdp_endpoint: str | None = None, ws_endpoint: str | None = None
) -> BrowserChoice:
    """Which browser a run uses, decided before anything starts."""
    if cdp_endpoint and ws_endpoint:
        raise InputError("Give --cdp-endpoint or --ws-endpoint, not both")
    if cdp_endpoint:
        if not cdp_endpoint.startswith(("http://", "https://", "ws://", "wss://")):
            raise InputError(
                f"--cdp-endpoint must be an http(s):// or ws(s):// URL: {cdp_endpoint}"
            )
        return BrowserChoice(
            None, f"remote Chromium over CDP at {_safe(cdp_endpoint)}", cdp_endpoint=cdp_endpoint
        )
    if ws_endpoint:
        if not ws_endpoint.startswith(("ws://", "wss://")):
            raise InputError(f"--ws-endpoint must be a ws(s):// URL: {ws_endpoint}")
        return BrowserChoice(
            None, f"remote Playwright server at {_safe(ws_endpoint)}", ws_endpoint=ws_endpoint
        )
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


def _safe(url: str) -> str:
    """An endpoint for messages: services put tokens in the query string (?token=...)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


@dataclass
class BrowserOptions:
    choice: BrowserChoice
    headed: bool = False
    slow_mo: float = 0.0
    timeout_ms: float = 30_000
    record_video_dir: Path | None = None
    storage_state: dict[str, Any] | None = field(default=None, repr=False)  # a saved login


@contextmanager
def open_page(options: BrowserOptions) -> Iterator[Any]:
    """Start or reach Chromium, open one fresh context and page, close them on the way out.

    Yields the Playwright `Page`. A remote browser (CDP, Playwright server) gets its own new
    context, so nothing of other users' sessions is seen or left behind; leaving disconnects
    from it without stopping it.
    """
    from playwright.sync_api import sync_playwright

    # Playwright leaves empty tracing folders in /tmp unless told where they go.
    with tempfile.TemporaryDirectory(prefix="htx-keys-pw-") as traces_dir, sync_playwright() as p:
        browser = _start(p, options, traces_dir)
        try:
            context = browser.new_context(
                viewport=VIEWPORT,
                locale="en-US",
                record_video_dir=options.record_video_dir,
                storage_state=options.storage_state,
            )
            context.set_default_timeout(options.timeout_ms)
            page = context.new_page()
            try:
                yield page
            finally:
                context.close()
        finally:
            browser.close()


def _start(p: Any, options: BrowserOptions, traces_dir: str) -> Any:
    from playwright.sync_api import Error as PlaywrightError

    choice = options.choice
    try:
        if choice.cdp_endpoint:
            return p.chromium.connect_over_cdp(choice.cdp_endpoint, timeout=options.timeout_ms)
        if choice.ws_endpoint:
            return p.chromium.connect(choice.ws_endpoint, timeout=options.timeout_ms)
        args = list(LAUNCH_ARGS)
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox on
        return p.chromium.launch(
            executable_path=choice.executable,
            headless=not options.headed,
            args=args,
            slow_mo=options.slow_mo,
            traces_dir=traces_dir,
        )
    except PlaywrightError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        hint = (
            "is the remote browser running and reachable?"
            if choice.remote
            else "check HTX_KEYS_BROWSER / --browser, or run `playwright install chromium`"
        )
        raise ConfigError(f"Could not start {choice.description}: {first}", hint=hint) from None
