#!/usr/bin/env bash
# Python side: a virtualenv in .venv with htx-keys installed (editable), and the ffmpeg link
# Playwright needs for video when its own ffmpeg cannot be downloaded. --test adds the test
# tools. Safe to run again. --no-compile: Python compiles a module when it is first imported,
# and most of what is installed never is (ccxt's async and websocket copies of every
# exchange): 42 CPU-seconds instead of 63 for the test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
if [[ "${1:-}" == "--test" ]]; then extras="[test]"; fi
python=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --no-compile -e ".${extras}" 2>&1 \
  | grep -v -e "is ignored: it is neither" -e "Running pip as the 'root' user" >&2 || true
.venv/bin/python -c "import automation, flows, sandbox, htx_keys" # fail here if install failed

# Playwright records video with its own ffmpeg build; point it at the system one.
if command -v ffmpeg >/dev/null; then
  .venv/bin/python - <<'PY'
import json, os, pathlib, shutil
import playwright
spec = pathlib.Path(playwright.__file__).parent / "driver/package/browsers.json"
rev = next(b["revision"] for b in json.loads(spec.read_text())["browsers"] if b["name"] == "ffmpeg")
root = pathlib.Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or pathlib.Path.home() / ".cache/ms-playwright")
target = root / f"ffmpeg-{rev}" / "ffmpeg-linux"
if not target.exists():
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(shutil.which("ffmpeg"))
PY
fi
