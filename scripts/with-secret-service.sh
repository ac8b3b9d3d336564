#!/usr/bin/env bash
# Run a command inside a private D-Bus session with an unlocked gnome-keyring Secret Service,
# in a throwaway HOME, so `keyring` finds a real OS keyring on a headless box and nothing
# touches the user's own keyring. Usage: scripts/with-secret-service.sh CMD ARGS...
set -euo pipefail

home=$(mktemp -d -t htx-keys-home.XXXXXX)
cleanup() { rm -rf "$home"; }
trap cleanup EXIT
# Keep Playwright's browsers and ffmpeg link where they were installed.
export PLAYWRIGHT_BROWSERS_PATH="${PLAYWRIGHT_BROWSERS_PATH:-$HOME/.cache/ms-playwright}"
export HOME="$home"
unset XDG_DATA_HOME XDG_STATE_HOME XDG_CONFIG_HOME PYTHON_KEYRING_BACKEND
# Its own runtime dir: on a desktop the test daemon must not share the user's keyring socket.
mkdir -m 700 "$home/run"
export XDG_RUNTIME_DIR="$home/run"
export HTX_KEYS_KEYRING_PASSWORD="${HTX_KEYS_KEYRING_PASSWORD:-$(head -c 18 /dev/urandom | base64)}"
set +e
dbus-run-session -- sh -c '
  printf %s "$HTX_KEYS_KEYRING_PASSWORD" \
    | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 97
  unset HTX_KEYS_KEYRING_PASSWORD
  exec "$@"' sh "$@"
status=$?
set -e
exit $status
