#!/usr/bin/env bash
# Install everything the tests need and run them: the static checks (ruff check, ruff format
# --check, mypy: strict for automation/ and flows/), unit tests, and end-to-end tests with real
# Chromium, a private Dovecot (TLS), the embedded pymap server and a real gnome-keyring.
# Extra arguments go to pytest (e.g. scripts/test.sh -k demo). This is what .ci/run calls.
# Any finding of the static checks fails the run (after the tests, so both are reported).
# Three workers (HTX_KEYS_TEST_WORKERS) on two cores: an end-to-end test spends part of its time
# waiting (on the mail, a fresh Google Authenticator code, a slow page), which another test can
# use. A test file stays on one worker, so a module's shared recording is made once; the
# costliest files start first (tests/conftest.py), so the workers finish together.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-system.sh --test
scripts/install.sh --test
export HTX_KEYS_REQUIRE_SERVICES=1  # a missing service fails the tests instead of skipping them
set +e
# The static checks run beside the tests (their ~20 CPU-seconds fill the tests' waits); their
# findings are printed after the tests.
checks_log=$(mktemp)
trap 'rm -f "$checks_log"' EXIT
(
  status=0
  .venv/bin/ruff check --quiet . || status=1
  .venv/bin/ruff format --check --quiet . || status=1
  .venv/bin/mypy automation flows sandbox htx_keys tests bench examples || status=1
  exit $status
) >"$checks_log" 2>&1 &
checks_pid=$!
workers=${HTX_KEYS_TEST_WORKERS:-3}
parallel=()
if [[ "$workers" != 0 ]]; then parallel=(-n "$workers" --dist loadfile); fi
scripts/with-secret-service.sh .venv/bin/python -m pytest "${parallel[@]}" "$@"
status=$?
wait "$checks_pid"
checks=$?
echo "test.sh: ruff check, ruff format --check, mypy:" >&2
cat "$checks_log" >&2
set -e
if [[ $status == 5 ]]; then
  echo "test.sh: pytest collected no tests" >&2
  exit 1
fi
if [[ $checks != 0 && $status == 0 ]]; then
  echo "test.sh: the tests passed, but ruff or mypy found problems (above)" >&2
  exit 1
fi
exit $status
