#!/usr/bin/env bash
# Install everything the tests need and run them: unit tests, and end-to-end tests with real
# Chromium, a private Dovecot (TLS), the embedded pymap server and a real gnome-keyring.
# Extra arguments go to pytest (e.g. scripts/test.sh -k demo). This is what .ci/run calls.
# Two workers (HTX_KEYS_TEST_WORKERS): an end-to-end test spends much of its time waiting (on
# the browser, the mail, a fresh Google Authenticator code), which two tests can do at once; a
# test file stays on one worker, so a module's shared recording is made once.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-system.sh --test
scripts/install.sh --test
export HTX_KEYS_REQUIRE_SERVICES=1  # a missing service fails the tests instead of skipping them
set +e
workers=${HTX_KEYS_TEST_WORKERS:-2}
parallel=()
if [[ "$workers" != 0 ]]; then parallel=(-n "$workers" --dist loadfile); fi
scripts/with-secret-service.sh .venv/bin/python -m pytest "${parallel[@]}" "$@"
status=$?
set -e
if [[ $status == 5 ]]; then
  echo "test.sh: pytest collected no tests" >&2
  exit 1
fi
exit $status
