"""The only place that finds, launches and closes a browser and makes its contexts.

Which Chromium: an explicit path when given, a Playwright channel when asked (`chrome`,
`msedge`, `chromium`: Playwright finds that browser where its platform installs it), else
Playwright's own build when `playwright install chromium` has fetched it (Playwright itself
says where: its folders differ per platform and PLAYWRIGHT_BROWSERS_PATH), else a system
Chromium, Chrome or Edge at the usual places of this platform (with Debian's
chromium-headless-shell for headless runs when it is installed, as Playwright uses its own).
Which is used is decided before anything starts, so a missing browser is a one-line error and
not a stack trace.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from automation.driver_start import started_playwright
from automation.errors import ConfigError, InputError

# Playwright's channels of Chromium-based browsers (BrowserType.launch(channel=...)).
CHANNELS = (
    "chromium",
    "chrome",
    "chrome-beta",
    "chrome-dev",
    "chrome-canary",
    "msedge",
    "msedge-beta",
    "msedge-dev",
    "msedge-canary",
)
LINUX_BROWSERS = (
    "/usr/lib/chromium/chromium",  # Debian: the binary itself (the /usr/bin wrapper is a script)
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
    "/opt/google/chrome/chrome",
    "/usr/bin/microsoft-edge",
    "/opt/microsoft/msedge/msedge",
)
# Debian's chromium-headless-shell: Chromium's own headless build, without the browser's window
# machinery. Playwright uses the same build for headless runs when it has installed it; a
# headless run costs about 1.5 CPU-seconds less with it than with the full Chromium.
LINUX_HEADLESS_SHELLS = (
    "/usr/lib/chromium/chromium-headless-shell",
    "/usr/bin/chromium-headless-shell",
)
MAC_BROWSERS = (
    "Google Chrome.app/Contents/MacOS/Google Chrome",
    "Chromium.app/Contents/MacOS/Chromium",
    "Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
)
WINDOWS_BROWSERS = (  # under %PROGRAMFILES%, %PROGRAMFILES(X86)% or %LOCALAPPDATA%
    "Google\\Chrome\\Application\\chrome.exe",
    "Microsoft\\Edge\\Application\\msedge.exe",
    "Chromium\\Application\\chrome.exe",
)


def system_browsers(platform: str, environ: Mapping[str, str], home: Path) -> list[str]:
    """Where Chromium, Chrome and Edge install themselves on `platform`, in order of choice."""
    if platform == "darwin":
        apps = (Path("/Applications"), home / "Applications")
        return [str(root / app) for root in apps for app in MAC_BROWSERS]
    if platform == "win32":
        roots = [environ.get(n) for n in ("PROGRAMFILES", "PROGRAMFILES(X86)", "LOCALAPPDATA")]
        return [f"{root}\\{exe}" for exe in WINDOWS_BROWSERS for root in roots if root]
    return list(LINUX_BROWSERS)


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
    channel: str | None = None  # a Playwright channel: chrome, msedge, chromium...
    ws_endpoint: str | None = None  # a Playwright server (`playwright run-server`, Browserless)
    # The same Chromium's headless build, used instead of `executable` for headless runs.
    headless_executable: str | None = None

    @property
    def remote(self) -> bool:
        return bool(self.cdp_endpoint or self.ws_endpoint)

    def executable_for(self, headed: bool) -> str | None:
        if not headed and self.headless_executable:
            return self.headless_executable
        return self.executable


def _registry_folders() -> list[Path]:
    """Where Playwright keeps the browsers it installs, on each platform."""
    configured = os.environ.get("PLAYWRIGHT_BROWSERS_PATH", "")
    if configured and configured != "0":
        return [Path(configured)]
    home = Path.home()
    folders = [
        Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / "ms-playwright",
        home / "Library" / "Caches" / "ms-playwright",
    ]
    if os.environ.get("LOCALAPPDATA"):
        folders.append(Path(os.environ["LOCALAPPDATA"]) / "ms-playwright")
    return folders


def _may_have_playwright_chromium() -> bool:
    """False only when no folder Playwright installs browsers into holds a Chromium: asking
    Playwright starts its driver, a second or two of work that a machine without its browsers
    (one that uses a system Chromium, as CI images often do) would pay on every run."""
    if os.environ.get("PLAYWRIGHT_BROWSERS_PATH") == "0":
        return True  # kept inside the playwright package: only Playwright knows where
    for folder in _registry_folders():
        try:
            if any(entry.name.startswith("chromium") for entry in folder.iterdir()):
                return True
        except OSError:
            continue
    return False


@functools.cache
def playwright_chromium() -> str | None:
    """The path of Playwright's own Chromium when it has been installed, else None.

    Asked of Playwright, which knows its folder on each platform (~/.cache/ms-playwright,
    ~/Library/Caches/ms-playwright, %LOCALAPPDATA%\\ms-playwright, PLAYWRIGHT_BROWSERS_PATH)
    and the build its version needs; once per process, and only when one of those folders
    holds a Chromium at all."""
    if not _may_have_playwright_chromium():
        return None
    try:
        with started_playwright() as p:
            path = p.chromium.executable_path
    except Exception:  # no driver, or inside an asyncio loop: fall back to a system browser
        return None
    return path if path and os.path.isfile(path) else None


def choose_browser(
    explicit: str | None = None,
    *,
    cdp_endpoint: str | None = None,
    ws_endpoint: str | None = None,
    channel: str | None = None,
) -> BrowserChoice:
    """Which browser a run uses, decided before anything starts."""
    if cdp_endpoint and ws_endpoint:
        raise InputError("Give --cdp-endpoint or --ws-endpoint, not both")
    if channel and (explicit or cdp_endpoint or ws_endpoint):
        other = "--browser" if explicit else "--cdp-endpoint" if cdp_endpoint else "--ws-endpoint"
        raise InputError(f"Give --browser-channel or {other}, not both")
    if channel:
        if channel not in CHANNELS:
            raise InputError(f"--browser-channel must be one of {', '.join(CHANNELS)}: {channel}")
        return BrowserChoice(None, f"Playwright channel {channel}", channel=channel)
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
        if not _runnable(path):
            raise ConfigError(f"Browser not found or not executable: {explicit}")
        return BrowserChoice(path, f"browser {path}")
    if playwright_chromium():
        return BrowserChoice(None, "Playwright's Chromium")
    for path in system_browsers(sys.platform, os.environ, Path.home()):
        if _runnable(path):
            shell = _headless_shell(sys.platform)
            if shell is None:
                return BrowserChoice(path, f"system browser {path}")
            return BrowserChoice(
                path, f"system browser {path} (headless: {shell})", headless_executable=shell
            )
    raise ConfigError(
        "No Chromium found: run `playwright install chromium`, install Chrome or Edge and give "
        "--browser-channel chrome or msedge, or set HTX_KEYS_BROWSER to a browser's path"
    )


def _runnable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _headless_shell(platform: str) -> str | None:
    """Debian's chromium-headless-shell, when installed beside the system Chromium."""
    if platform != "linux":
        return None
    return next((path for path in LINUX_HEADLESS_SHELLS if _runnable(path)), None)


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
    scale: float = 1.0  # device pixels per CSS pixel: 2 makes high-DPI screenshots
    color_scheme: str | None = None  # "light" / "dark": prefers-color-scheme; None: browser's


@contextmanager
def open_page(options: BrowserOptions) -> Iterator[Any]:
    """Start or reach Chromium, open one fresh context and page, close them on the way out.

    Yields the Playwright `Page`. A remote browser (CDP, Playwright server) gets its own new
    context, so nothing of other users' sessions is seen or left behind; leaving disconnects
    from it without stopping it.
    """
    # Playwright leaves empty tracing folders in /tmp unless told where they go.
    with tempfile.TemporaryDirectory(prefix="htx-keys-pw-") as traces_dir, _playwright() as p:
        browser = _start(p, options, traces_dir)
        try:
            context = browser.new_context(
                viewport=VIEWPORT,
                locale="en-US",
                record_video_dir=options.record_video_dir,
                storage_state=options.storage_state,
                device_scale_factor=options.scale,
                **({"color_scheme": options.color_scheme} if options.color_scheme else {}),
            )
            context.set_default_timeout(options.timeout_ms)
            page = context.new_page()
            try:
                yield page
            finally:
                context.close()
        finally:
            browser.close()


_THREAD = threading.local()


@contextmanager
def thread_playwright() -> Iterator[None]:
    """One Playwright instance (one driver process) for every `open_page` of this thread until
    the block ends, instead of one each: for a worker thread that runs accounts in turn.
    Playwright's objects belong to the thread that started them, hence one per thread."""
    with started_playwright() as p:
        _THREAD.playwright = p
        try:
            yield
        finally:
            _THREAD.playwright = None


@contextmanager
def _playwright() -> Iterator[Any]:
    """This thread's Playwright (thread_playwright), else one for this page alone."""
    held = getattr(_THREAD, "playwright", None)
    if held is not None:
        yield held
        return
    with started_playwright() as p:
        yield p


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
            executable_path=choice.executable_for(options.headed),
            channel=choice.channel,
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
            else "check HTX_KEYS_BROWSER / --browser, --browser-channel, or run "
            "`playwright install chromium`"
        )
        raise ConfigError(f"Could not start {choice.description}: {first}", hint=hint) from None
