"""The leak check every end-to-end test ends with, as a pytest plugin (tests/e2e/conftest.py
imports its fixtures and its summary hook; the scanning is tests/support/leakcheck.py).

(Issue 5, part 3): at each test's teardown, every file under the test's
tmp_path (screenshots, guides, videos, traces, logs, failure artifacts) is searched for every
secret the test had, by bytes (every encoding, inside zip members too) and by OCR (PNG/JPEG
images, images inside traces and data: URLs, sampled WebM and MP4 frames, GIF frames, PDF
pages rendered by pdftoppm). When a module is done, the
folders its shared fixtures made with tmp_path_factory are checked the same way.

The secrets are collected without the tests' help:
  - from each site site_factory made: password, TOTP seed, IMAP password, every API key's
    secret key, open session tokens, every email and SMS code sent, and the GA codes of the
    test's time steps (GA codes: bytes only, never OCR);
  - the same from every other sandbox made meanwhile, in this process or in any Python
    subprocess (`htx-keys demo`, `record`, `sandbox` make theirs inside their own process:
    a sitecustomize.py put on PYTHONPATH for the session has them report it at exit, see
    tests/support/leakcheck_child.py), and every embedded IMAP server's password;
  - from the files that hold secrets on purpose (key stores, .env files, saved sessions):
    what was stored there must not show up anywhere else.
A test that learns other secrets adds them to `leak_secrets`. The files that hold secrets on
purpose are themselves skipped: tests.support.leakcheck.legitimate_holder() lists them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sandbox.mailserver import EmbeddedImap
from sandbox.state import SandboxState
from tests.support.leakcheck import (
    SandboxSecrets,
    ScanStats,
    format_findings,
    held_secrets,
    is_legitimate_holder,
    legitimate_holder,
    read_dumps,
    sandbox_secrets,
    scan,
    snapshot_secrets,
)
from tests.support.leakcheck_child import (
    DUMP_DIR_ENV,
    Tracker,
    sitecustomize_source,
    state_snapshot,
)
from tests.support.ocr import tesseract
from tests.support.site import Site

__all__ = [
    "leak_check",
    "leak_module",
    "leak_secrets",
    "leak_session",
    "leak_sites",
    "pytest_terminal_summary",
]


@pytest.fixture
def leak_secrets() -> dict[str, str]:
    """Secret values (label -> value) this test's artifacts must not hold, beyond those of the
    sites site_factory made (collected on its own): a test that runs a sandbox of its own
    adds the values it learns, e.g. `leak_secrets["demo secret key"] = stored["secret_key"]`."""
    return {}


@pytest.fixture
def leak_sites() -> list[Site]:
    """The sites this test made; the leak check reads their secrets at teardown."""
    return []


# --- the leak check -------------------------------------------------------------------------

# (where, seconds, secrets, files scanned, images read by OCR, videos), for the summary.
LEAK_CHECK_TIMES: list[tuple[str, float, int, int, int, int]] = []


@dataclass
class LeakSession:
    tracker: Tracker  # every sandbox and embedded IMAP server this process makes
    dumps: Path  # what subprocesses made (tests/support/leakcheck_child.py)
    test_dirs: set[Path]  # every test's tmp_path: checked by the test's own check


@dataclass
class LeakModule:
    started: float
    dirs_before: set[Path]


@pytest.fixture(scope="session", autouse=True)
def leak_session() -> Iterator[LeakSession]:
    """Track sandboxes here and in every Python subprocess for the whole session."""
    # Outside pytest's basetemp: the dumps hold every secret, and the check scans basetemp.
    work = Path(tempfile.mkdtemp(prefix="htx-keys-leakcheck-"))
    hook, dumps = work / "hook", work / "dumps"
    hook.mkdir()
    dumps.mkdir(mode=0o700)
    (hook / "sitecustomize.py").write_text(sitecustomize_source())
    tracker = Tracker()
    undo = [tracker.wrap(SandboxState, tracker.states), tracker.wrap(EmbeddedImap, tracker.imaps)]
    try:
        with pytest.MonkeyPatch.context() as patch:
            paths = [str(hook), os.environ.get("PYTHONPATH", "")]
            patch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
            patch.setenv(DUMP_DIR_ENV, str(dumps))
            yield LeakSession(tracker, dumps, set())
    finally:
        for restore in undo:
            restore()
        shutil.rmtree(work, ignore_errors=True)


def known_secrets(
    session: LeakSession, since: float, until: float, roots: list[Path]
) -> tuple[SandboxSecrets, list[str]]:
    """The secrets of the sandboxes made between `since` and `until`, in this process or in a
    subprocess that ended then, and those held on purpose under `roots`; and hook errors."""
    states, imaps = session.tracker.made_between(since, until)
    snapshot = {
        "states": [state_snapshot(state) for state in states],
        "imap_passwords": [imap.password for imap in imaps],
    }
    out = snapshot_secrets(snapshot, since, until, "in-process ")
    dumped, errors = read_dumps(session.dumps, since, until)
    out.update(dumped)
    known = set(out.values.values())
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink() and is_legitimate_holder(path):
                for label, value in held_secrets(path).items():
                    if value not in known:
                        out.values[label] = value
                        known.add(value)
    return out, errors


def check_for_leaks(
    where: str, roots: list[Path], secrets: SandboxSecrets, errors: list[str]
) -> None:
    """Scan; fail with a readable list of findings (and of what was skipped, and why)."""
    if errors:
        pytest.fail(
            "the leak check could not see what a subprocess made: " + "; ".join(errors),
            pytrace=False,
        )
    values = {label: value for label, value in secrets.values.items() if value}
    if not values:
        return  # nothing known to look for (a test of its own mail server, say)
    use_ocr = tesseract() is not None
    if not use_ocr and os.environ.get("HTX_KEYS_REQUIRE_SERVICES") == "1":
        pytest.fail(
            "HTX_KEYS_REQUIRE_SERVICES=1 but tesseract is not installed, so the leak check "
            "cannot read screenshots: run scripts/setup-system.sh --test",
            pytrace=False,
        )
    stats = ScanStats()
    findings = scan(
        roots,
        values,
        exclude=is_legitimate_holder,
        bytes_only=secrets.bytes_only,
        ocr_images=use_ocr,
        stats=stats,
    )
    LEAK_CHECK_TIMES.append(
        (where, stats.seconds, len(values), stats.files, stats.images_ocred, stats.videos)
    )
    if findings:
        skipped = "".join(f"\n  {p} ({legitimate_holder(p)})" for p in stats.excluded)
        pytest.fail(
            f"secrets found in the artifacts of {where}:\n"
            f"{format_findings(findings)}\n"
            f"(skipped as holding secrets on purpose:{skipped or ' none'})",
            pytrace=False,
        )


@pytest.fixture(scope="module", autouse=True)
def leak_module(
    request: pytest.FixtureRequest,
    leak_session: LeakSession,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LeakModule]:
    """The folders a module's shared fixtures made with tmp_path_factory (a recording shared
    by a module's tests, say) are checked when the module is done, against the secrets of
    every sandbox made meanwhile; an error at the last test's teardown names them."""
    base = tmp_path_factory.getbasetemp()
    module = LeakModule(time.time(), set(base.iterdir()))
    yield module
    made = [
        path
        for path in sorted(base.iterdir())
        if path.is_dir()
        and not path.is_symlink()
        and path not in module.dirs_before
        and path not in leak_session.test_dirs
    ]
    if made:
        secrets, errors = known_secrets(leak_session, module.started, time.time(), made)
        check_for_leaks(f"module {request.node.nodeid}", made, secrets, errors)


@pytest.fixture(autouse=True)
def leak_check(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    leak_secrets: dict[str, str],
    leak_sites: list[Site],
    leak_session: LeakSession,
    leak_module: LeakModule,
) -> Iterator[None]:
    """After the test (autouse fixtures are torn down last, after the sites and any tool run
    the test's own fixtures stop): no secret of the test in any file under its tmp_path."""
    leak_session.test_dirs.add(tmp_path)
    started = time.time()
    yield
    until = time.time()
    secrets = SandboxSecrets(values=dict(leak_secrets))
    for n, site in enumerate(leak_sites, start=1):
        prefix = f"site {n} " if len(leak_sites) > 1 else ""
        state = site.server.state
        secrets.update(sandbox_secrets(state, site.imap_password, started, until, prefix))
    # Also every sandbox made since the module started: a module's shared sandbox serves
    # its tests. The sites are among them; labelled twice, their values count once.
    more, errors = known_secrets(leak_session, leak_module.started, until, [tmp_path])
    known = set(secrets.values.values())
    for label, value in more.values.items():
        if value not in known:
            secrets.values[label] = value
            known.add(value)
            if label in more.bytes_only:
                secrets.bytes_only.add(label)
    check_for_leaks(request.node.nodeid, [tmp_path], secrets, errors)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not LEAK_CHECK_TIMES:
        return
    write = terminalreporter.write_line
    if terminalreporter.verbosity > 0:
        for where, seconds, secrets_, files, images, videos in LEAK_CHECK_TIMES:
            write(
                f"leak check {seconds:5.1f} s: {secrets_} secrets, {files} files, "
                f"{images} images read, {videos} videos: {where}"
            )
    total = sum(t[1] for t in LEAK_CHECK_TIMES)
    slowest = max(LEAK_CHECK_TIMES, key=lambda t: t[1])
    ocr_note = "" if tesseract() else "; tesseract missing: bytes only, no OCR"
    write(
        f"leak check: {len(LEAK_CHECK_TIMES)} checks, {total:.1f} s in all "
        f"({sum(t[3] for t in LEAK_CHECK_TIMES)} files, "
        f"{sum(t[4] for t in LEAK_CHECK_TIMES)} images read by OCR, "
        f"{sum(t[5] for t in LEAK_CHECK_TIMES)} videos, GIFs and PDFs); "
        f"slowest {slowest[1]:.1f} s: {slowest[0]}{ocr_note}"
    )
