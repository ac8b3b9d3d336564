"""The tool as users install it: a wheel built from the tree, installed into a fresh virtualenv
that has no source tree in sight, runs `--version`, `--help` and the demo. This catches what an
editable install hides: a package or a data file (the replica's templates and scripts) that the
wheel leaves out.

The fresh virtualenv gets the wheel alone; its dependencies are borrowed from the project's
.venv by a path file (installing playwright, ccxt and the rest again would take minutes and
the network). A path file's folder is put on sys.path without running the path files inside
it, so the .venv's editable-install finder, which would point back at the source tree, stays
out. The test checks where every package of the tool was imported from.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import venv
import zipfile
from pathlib import Path

import pytest

from tests.support.cli import Run
from tests.support.ga import SHORT_TOTP_STEP_S

pytestmark = [pytest.mark.e2e, pytest.mark.cost(25)]

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("automation", "flows", "sandbox", "htx_keys")


def build_wheel(out: Path) -> Path:
    """Built from a copy of the tree: setuptools leaves build/ and *.egg-info behind, and a
    stale build/ in the checkout would put modules deleted since into the next wheel."""
    source = out / "source"
    skip = shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "docs"
    )
    shutil.copytree(ROOT, source, ignore=skip)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "--wheel-dir", str(out), str(source)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    (wheel,) = out.glob("htx_keys-*.whl")
    return wheel


def fresh_venv(where: Path, wheel: Path) -> Path:
    """A virtualenv holding only the wheel, with the project's dependencies on its path."""
    venv.EnvBuilder(with_pip=False).create(where)
    python = where / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )  # fmt: skip
    (site / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "--quiet", str(wheel)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return where / "bin"


def run_installed(bin_dir: Path, args: list[str], env: dict[str, str], cwd: Path) -> Run:
    started = time.monotonic()
    out = subprocess.run(
        [str(bin_dir / "htx-keys"), *args], env=env, cwd=cwd,
        capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return Run(args, out.returncode, out.stdout, out.stderr, time.monotonic() - started)


def test_the_wheel_installs_into_a_fresh_venv_and_runs_the_demo(
    tmp_path: Path, secret_service: None
) -> None:
    wheel = build_wheel(tmp_path / "dist")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for data in ("sandbox/templates/login.html", "sandbox/static/apikey.js"):
        assert data in names, f"{data} is missing from {wheel.name}"

    bin_dir = fresh_venv(tmp_path / "venv", wheel)
    work = tmp_path / "elsewhere"  # no source tree in the working directory either
    work.mkdir()
    where = subprocess.run(
        [str(bin_dir / "python"), "-c",
         "import json, importlib; print(json.dumps({p: importlib.import_module(p).__file__ "
         f"for p in {PACKAGES!r}}}))"],
        cwd=work, check=True, capture_output=True, text=True,
    )  # fmt: skip
    for package, path in json.loads(where.stdout).items():
        assert path.startswith(str(tmp_path / "venv")), f"{package} came from {path}"

    # What run_cli gives a command (no HTX_ settings), with a private state dir.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HTX_")}
    env["HTX_KEYS_STATE_DIR"] = str(tmp_path / "state")
    version = run_installed(bin_dir, ["--version"], env, work)
    assert version.returncode == 0 and "0.1.0" in version.stdout, version.explain()
    helped = run_installed(bin_dir, ["--help"], env, work)
    assert helped.returncode == 0 and "provision" in helped.stdout, helped.explain()

    demo = run_installed(
        bin_dir, ["demo", "--format", "json", "--totp-period", str(SHORT_TOTP_STEP_S)], env, work
    )
    assert demo.returncode == 0, demo.explain()
    made = json.loads(demo.stdout)
    assert made["verified"] is True and made["stored_in"], made
