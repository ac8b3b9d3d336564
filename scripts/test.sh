#!/usr/bin/env bash
# Install everything the tests need and run them: unit tests, and end-to-end tests with real
# Chromium, a private Dovecot (TLS), the embedded pymap server and a real gnome-keyring.
# Extra arguments go to pytest (e.g. scripts/test.sh -k demo). This is what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-system.sh --test
scripts/install.sh --test
export HTX_KEYS_REQUIRE_SERVICES=1  # a missing service fails the tests instead of skipping them
set +e
scripts/with-secret-service.sh .venv/bin/python -m pytest "$@"
status=$?
set -e
if [[ $status == 5 ]]; then
  echo "test.sh: pytest collected no tests" >&2
  exit 1
fi
exit $status
