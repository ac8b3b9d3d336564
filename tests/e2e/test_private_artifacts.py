"""Artifacts that could hold a secret stay private, on Chromium's real output: the raw trace
Playwright writes never sits outside a private temporary folder, a failure screenshot masks a
secret the page echoes back, and `record --base-url` (a real account) writes a private folder.
"""

from __future__ import annotations

import json
import secrets
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api._generated import Tracing

import automation.browser
from automation.artifacts import RunArtifacts
from automation.browser import BrowserOptions, choose_browser, open_page
from automation.errors import SiteError
from automation.modes import ArtifactModes
from automation.recording import FailureScreenshot
from automation.redaction import REDACTOR
from automation.runner import Step
from flows.htx.masks import failure_mask
from tests.support.browsers import CHROMIUM, need
from tests.support.cli import run_cli
from tests.support.keys import saved_session, stored
from tests.support.leakcheck import ScanStats, scan
from tests.support.ocr import require_tesseract
from tests.support.site import Site

pytestmark = [pytest.mark.e2e, pytest.mark.cost(90)]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def holds(archive_path: Path, value: str) -> bool:
    with zipfile.ZipFile(archive_path) as archive:
        return any(value.encode() in archive.read(name) for name in archive.namelist())


def chromium() -> BrowserOptions:
    return BrowserOptions(choose_browser(need(CHROMIUM)), timeout_ms=15_000)


def test_the_raw_trace_never_sits_outside_a_private_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, leak_secrets: dict[str, str]
) -> None:
    typed = f"typed-{secrets.token_hex(8)}"
    REDACTOR.add(typed, label="password")
    leak_secrets["typed password"] = typed  # the leak check reads the kept trace too
    out = tmp_path / "run"
    seen: list[tuple[Path, int, bool, list[str]]] = []
    real_stop = Tracing.stop

    def stop(self: Tracing, *, path: Any = None) -> None:
        real_stop(self, path=path)
        if path is not None:  # as Playwright left it: raw
            raw = Path(path)
            in_out = sorted(p.name for p in out.iterdir())
            seen.append((raw, mode(raw.parent), holds(raw, typed), in_out))

    traces_dirs: list[tuple[Path, int]] = []
    real_start = automation.browser._start

    def start(p: Any, options: BrowserOptions, traces_dir: str) -> Any:
        traces_dirs.append((Path(traces_dir), mode(Path(traces_dir))))
        return real_start(p, options, traces_dir)

    monkeypatch.setattr(Tracing, "stop", stop)
    monkeypatch.setattr(automation.browser, "_start", start)
    artifacts = RunArtifacts(ArtifactModes(trace="on"), out)
    with open_page(chromium()) as page:
        artifacts.start(page, "Private trace")
        page.set_content('<label>Password <input type="password" name="pw"></label>')
        page.get_by_label("Password").fill(typed)
        artifacts.stop(failed=False, context=page.context)

    ((raw, folder_mode, raw_held_it, in_out_then),) = seen
    assert raw_held_it  # Playwright recorded the typed value: this was the raw trace
    assert raw.parent.name.startswith("htx-keys-trace-")
    assert raw.parent.parent == Path(tempfile.gettempdir())
    assert folder_mode == 0o700
    assert in_out_then == []  # nothing in the run's folder while the trace was raw
    assert not raw.parent.exists()
    kept = out / "trace.zip"
    assert artifacts.trace == kept and mode(kept) == 0o600
    assert not holds(kept, typed) and holds(kept, REDACTOR.MASK)
    # Playwright's own working folder for traces: private, and gone after the run.
    ((traces_dir, traces_mode),) = traces_dirs
    assert traces_mode == 0o700 and not traces_dir.exists()


def test_a_failure_screenshot_masks_a_secret_the_page_echoes_back(
    tmp_path: Path, leak_secrets: dict[str, str]
) -> None:
    require_tesseract()
    echoed = f"K{secrets.token_hex(10).upper()}"
    REDACTOR.add(echoed, label="secret key")
    leak_secrets["echoed secret"] = echoed
    failure = FailureScreenshot(tmp_path / "run", page=lambda ctx: ctx, mask=failure_mask)
    with open_page(chromium()) as page:
        page.set_content(
            '<main style="font-family: sans-serif; margin: 40px"><h1>Request refused</h1>'
            f'<p style="font: 36px monospace">The key {echoed} is not valid.</p>'
            "<p>Try again later.</p></main>"
        )
        step: Step[Any] = Step("Enter the codes and confirm", "Confirm.", lambda ctx: None)
        failure.on_failure(9, step, page, SiteError("refused"))
    (picture,) = failure.saved
    assert picture.name == "failed-step-09-enter-the-codes-and-confirm.png"
    stats = ScanStats()
    assert scan([picture], {"echoed secret": echoed}, stats=stats) == []
    assert stats.images_ocred == 1  # read, and the key was not there to read


def test_recording_a_real_account_writes_a_private_folder(htx_site: Site, tmp_path: Path) -> None:
    """`record --base-url`: pictures, trace and guide of the account's own screens. (The
    replica's recording stays documentation, in the umask's modes: tests/e2e/test_record.py.)"""
    site, store = htx_site, tmp_path / "keys.json"
    out = tmp_path / "live-guide"
    out.mkdir()
    out.chmod(0o755)
    env = site.env(
        HTX_KEYS_STORE=f"json:{store}",
        HTX_KEYS_SESSION=f"file:{saved_session(site, tmp_path / 'session.json')}",
    )
    args = ["record", "--out", str(out), "--base-url", site.server.base_url, "--format", "json"]
    run = run_cli([*args, "--video", "off", "--note", "documented"], env, cwd=tmp_path)
    assert run.returncode == 0, run.explain()
    assert f"{out} made private (0700): it holds a real account's recording" in run.stderr
    paths = json.loads(run.stdout)
    assert paths["trace"] == str(out / "trace.zip") and len(paths["steps"]) >= 5
    folders = [out, *(p for p in out.rglob("*") if p.is_dir())]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"guide.md", "guide.html", "trace.zip"}
    assert {str(p.relative_to(out)): oct(mode(p)) for p in folders if mode(p) != 0o700} == {}
    assert {str(p.relative_to(out)): oct(mode(p)) for p in files if mode(p) != 0o600} == {}
    (made,) = stored(store).values()
    assert made["note"] == "documented"  # record adds no tag, as in the docs
