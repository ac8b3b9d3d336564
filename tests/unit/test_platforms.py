"""macOS and Windows, simulated on any platform: the folders htx-keys uses, and nothing
POSIX-only where Windows would fail on it (at import, or called without a check)."""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

import platformdirs.windows
import pytest

from automation import browser
from automation.accounts import accounts_path
from automation.config import Settings, default_state_dir, load_settings
from automation.errors import ConfigError, InputError
from htx_keys.app.demo import demo_data_dir
from htx_keys.app.preflight import site_file_path
from tests.unit.test_layout import ROOT, product_modules

XDG = ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder of the test's own, and no XDG_* or HTX_KEYS_CONFIG variables."""
    for name in (*XDG, "HTX_KEYS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    return tmp_path


def as_platform(monkeypatch: pytest.MonkeyPatch, platform: str, home: Path) -> None:
    monkeypatch.setattr("sys.platform", platform)
    if platform == "win32":
        # What the shell API answers on Windows: the folders behind %APPDATA%, %LOCALAPPDATA%.
        folders = {
            "CSIDL_APPDATA": home / "AppData" / "Roaming",
            "CSIDL_LOCAL_APPDATA": home / "AppData" / "Local",
        }
        monkeypatch.setattr(platformdirs.windows, "get_win_folder", lambda n: str(folders[n]))


def folders(home: Path) -> dict[str, Path]:
    return {
        "accounts": accounts_path(None, os.environ),
        "site": site_file_path(Settings())[0],
        "state": default_state_dir(),
        "data": demo_data_dir(),
    }


def test_linux_keeps_the_xdg_folders(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    as_platform(monkeypatch, "linux", home)
    assert folders(home) == {
        "accounts": home / ".config/htx-keys/accounts.toml",
        "site": home / ".config/htx-keys/site.toml",
        "state": home / ".local/state/htx-keys",
        "data": home / ".local/share/htx-keys",
    }


def test_macos_uses_application_support(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    as_platform(monkeypatch, "darwin", home)
    support = home / "Library" / "Application Support" / "htx-keys"
    assert folders(home) == {
        "accounts": support / "accounts.toml",
        "site": support / "site.toml",
        "state": support,
        "data": support,
    }


def test_windows_roams_the_config_and_keeps_state_local(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_platform(monkeypatch, "win32", home)
    roaming = home / "AppData" / "Roaming" / "htx-keys"
    local = home / "AppData" / "Local" / "htx-keys"
    assert folders(home) == {
        "accounts": roaming / "accounts.toml",
        "site": roaming / "site.toml",
        "state": local,
        "data": local,
    }


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_xdg_variables_set_by_the_user_win_everywhere(
    platform: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_platform(monkeypatch, platform, home)
    for name in XDG:
        monkeypatch.setenv(name, str(home / name.lower()))
    assert folders(home) == {
        "accounts": home / "xdg_config_home/htx-keys/accounts.toml",
        "site": home / "xdg_config_home/htx-keys/site.toml",
        "state": home / "xdg_state_home/htx-keys",
        "data": home / "xdg_data_home/htx-keys",
    }
    assert accounts_path(None, {"XDG_CONFIG_HOME": str(home / "c")}) == (
        home / "c/htx-keys/accounts.toml"
    )


# --- nothing POSIX-only without a check ------------------------------------------------------

POSIX_MODULES = {"fcntl", "termios", "tty", "pty", "pwd", "grp", "resource", "posix", "syslog"}
POSIX_NAMES = {
    "signal": {"SIGHUP", "SIGKILL", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCHLD"},
    "os": {"getuid", "geteuid", "getgid", "getegid", "killpg", "getpgid", "setsid", "fork"},
}
GUARDS = ("sys.platform", "os.name", "hasattr(")


def guarded(node: ast.AST, parents: dict[ast.AST, ast.AST], what: str) -> bool:
    """Inside an if (statement or expression) or `and` that checks the platform or the name,
    or a try that catches ImportError / AttributeError."""
    child, node = node, parents.get(node, node)
    while node in parents or isinstance(node, ast.Module):
        tests: list[ast.expr] = []
        if isinstance(node, ast.If | ast.IfExp):
            tests = [node.test]
        elif isinstance(node, ast.BoolOp):
            tests = node.values[: node.values.index(child)] if child in node.values else []
        elif isinstance(node, ast.Try) and any(
            "ImportError" in ast.unparse(h.type or ast.Name("")) for h in node.handlers
        ):
            return True
        for test in tests:
            text = ast.unparse(test)
            if any(g in text for g in GUARDS) and ("hasattr(" not in text or what in text):
                return True
        if isinstance(node, ast.Module):
            return False
        child, node = node, parents[node]
    return False


def unguarded_posix(path: Path) -> list[str]:
    label = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.split(".")[0] in POSIX_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in (
            POSIX_MODULES
        ):
            names = [node.module or ""]
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.attr in POSIX_NAMES.get(node.value.id, ())
        ):
            names = [f"{node.value.id}.{node.attr}"]
        for name in names:
            if not guarded(node, parents, name.rpartition(".")[2]):
                found.append(f"{label}:{getattr(node, 'lineno', 0)}: {name}")
    return found


def test_no_posix_only_module_or_call_without_a_platform_check() -> None:
    problems = [p for path in product_modules().values() for p in unguarded_posix(path)]
    assert problems == []


def test_the_portability_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "posix_sample.py"
    bad.write_text(
        "import fcntl\nimport os, signal, sys\n"
        "if sys.platform != 'win32':\n    import termios\n"
        "def stop(pid):\n    os.killpg(pid, signal.SIGKILL)\n"
        "def hup():\n    return getattr(signal, 'SIGHUP', None)\n"
        "def root():\n    return hasattr(os, 'geteuid') and os.geteuid() == 0\n"
    )
    found = unguarded_posix(bad)
    assert [f.partition(": ")[2] for f in found] == ["fcntl", "os.killpg", "signal.SIGKILL"]


# --- the browser, found as each platform installs it -----------------------------------------


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    path.chmod(0o755)
    return path


class FakePlaywright:
    """sync_playwright() whose Chromium is where Playwright says it is on a Mac."""

    def __init__(self, path: Path) -> None:
        self.chromium = type("Chromium", (), {"executable_path": str(path)})()

    def __call__(self) -> FakePlaywright:
        return self

    def __enter__(self) -> FakePlaywright:
        return self

    def __exit__(self, *_: object) -> None:
        return None


@pytest.fixture
def no_cached_chromium() -> Iterator[None]:
    browser.playwright_chromium.cache_clear()
    yield
    browser.playwright_chromium.cache_clear()


def test_playwrights_own_chromium_is_asked_of_playwright(
    home: Path, monkeypatch: pytest.MonkeyPatch, no_cached_chromium: None
) -> None:
    as_platform(monkeypatch, "darwin", home)
    monkeypatch.delenv("PLAYWRIGHT_BROWSERS_PATH", raising=False)
    mac_build = executable(
        home / "Library/Caches/ms-playwright/chromium-1255/chrome-mac-arm64/Chromium.app"
        "/Contents/MacOS/Chromium"
    )
    monkeypatch.setattr("playwright.sync_api.sync_playwright", FakePlaywright(mac_build))
    assert browser.playwright_chromium() == str(mac_build)
    assert browser.choose_browser() == browser.BrowserChoice(None, "Playwright's Chromium")


class RefusingPlaywright:
    def __call__(self) -> None:
        raise AssertionError("Playwright's driver was started to look for a Chromium")


def test_playwright_is_not_started_where_none_of_its_folders_holds_a_chromium(
    home: Path, monkeypatch: pytest.MonkeyPatch, no_cached_chromium: None
) -> None:
    as_platform(monkeypatch, "linux", home)
    monkeypatch.delenv("PLAYWRIGHT_BROWSERS_PATH", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    (home / ".cache" / "ms-playwright" / "ffmpeg-1011").mkdir(parents=True)
    monkeypatch.setattr("playwright.sync_api.sync_playwright", RefusingPlaywright())
    assert browser.playwright_chromium() is None
    # A folder of its own (PLAYWRIGHT_BROWSERS_PATH) that holds one: Playwright is asked.
    build = executable(home / "browsers" / "chromium-1255" / "chrome-linux" / "chrome")
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(home / "browsers"))
    monkeypatch.setattr("playwright.sync_api.sync_playwright", FakePlaywright(build))
    browser.playwright_chromium.cache_clear()
    assert browser.playwright_chromium() == str(build)


def test_not_installed_falls_back_to_the_platforms_chrome_or_edge(
    home: Path, monkeypatch: pytest.MonkeyPatch, no_cached_chromium: None
) -> None:
    missing = home / "nowhere" / "chrome"
    monkeypatch.setattr("playwright.sync_api.sync_playwright", FakePlaywright(missing))
    as_platform(monkeypatch, "darwin", home)
    edge = executable(home / "Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge")
    assert browser.choose_browser().executable == str(edge)
    as_platform(monkeypatch, "win32", home)
    monkeypatch.setattr(
        os.path, "isfile", lambda p: str(p).endswith("Edge\\Application\\msedge.exe")
    )
    monkeypatch.setattr(os, "access", lambda p, mode: os.path.isfile(p))  # as on Windows
    monkeypatch.setenv("PROGRAMFILES(X86)", "C:\\Program Files (x86)")
    monkeypatch.delenv("PROGRAMFILES", raising=False)
    monkeypatch.delenv("LOCALAPPDATA", raising=False)
    choice = browser.choose_browser()
    assert choice.executable == "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe"
    monkeypatch.setattr(os.path, "isfile", lambda p: False)
    with pytest.raises(ConfigError, match="--browser-channel chrome or msedge"):
        browser.choose_browser()


def test_headless_runs_use_debians_headless_shell_when_it_is_installed(
    home: Path, monkeypatch: pytest.MonkeyPatch, no_cached_chromium: None
) -> None:
    as_platform(monkeypatch, "linux", home)
    monkeypatch.setattr("playwright.sync_api.sync_playwright", RefusingPlaywright())
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(home / "none"))
    full = executable(home / "usr/lib/chromium/chromium")
    shell = home / "usr/lib/chromium/chromium-headless-shell"
    monkeypatch.setattr(browser, "LINUX_BROWSERS", (str(full),))
    monkeypatch.setattr(browser, "LINUX_HEADLESS_SHELLS", (str(shell),))
    alone = browser.choose_browser()
    assert (alone.executable_for(headed=False), alone.description) == (
        str(full),
        f"system browser {full}",
    )
    executable(shell)
    both = browser.choose_browser()
    assert both.executable_for(headed=False) == str(shell)
    assert both.executable_for(headed=True) == str(full)  # a window needs the full browser
    assert both.description == f"system browser {full} (headless: {shell})"
    # A browser the user names is used as it is, headless or not.
    named = browser.choose_browser(str(full))
    assert named.executable_for(headed=False) == str(full)
    # Elsewhere there is no such package: the browser found is used for both.
    as_platform(monkeypatch, "darwin", home)
    monkeypatch.setattr(browser, "MAC_BROWSERS", ())
    with pytest.raises(ConfigError):
        browser.choose_browser()


def test_system_browser_places_per_platform(home: Path) -> None:
    env = {"PROGRAMFILES": "C:\\PF", "LOCALAPPDATA": "C:\\Users\\al\\AppData\\Local"}
    assert browser.system_browsers("win32", env, home)[:2] == [
        "C:\\PF\\Google\\Chrome\\Application\\chrome.exe",
        "C:\\Users\\al\\AppData\\Local\\Google\\Chrome\\Application\\chrome.exe",
    ]
    mac = browser.system_browsers("darwin", {}, home)
    assert mac[0] == "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"
    assert str(home / "Applications/Chromium.app/Contents/MacOS/Chromium") in mac
    assert browser.system_browsers("linux", {}, home)[0] == "/usr/lib/chromium/chromium"


def test_a_channel_is_playwrights_and_checked_before_anything_starts() -> None:
    choice = browser.choose_browser(channel="msedge")
    assert (choice.executable, choice.channel, choice.remote) == (None, "msedge", False)
    with pytest.raises(InputError, match=r"^Give --browser-channel or --browser, not both$"):
        browser.choose_browser("/bin/sh", channel="chrome")
    with pytest.raises(InputError, match=r"^Give --browser-channel or --cdp-endpoint"):
        browser.choose_browser(channel="chrome", cdp_endpoint="http://127.0.0.1:9222")
    assert load_settings({}, None, {"HTX_KEYS_BROWSER_CHANNEL": " Chrome "}).browser_channel == (
        "chrome"
    )
    with pytest.raises(ConfigError, match=r"^HTX_KEYS_BROWSER_CHANNEL must be one of chromium, "):
        load_settings({}, None, {"HTX_KEYS_BROWSER_CHANNEL": "firefox"})
    with pytest.raises(InputError, match=r"^--browser-channel must be one of chromium, "):
        load_settings({"browser_channel": "safari"}, None, {})
