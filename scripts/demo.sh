#!/usr/bin/env bash
# On a fresh machine: install what the demo needs, then run `htx-keys demo` (sandbox +
# embedded mail server + one full provisioning). Arguments go to `htx-keys demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-system.sh
scripts/install.sh
exec .venv/bin/htx-keys demo "$@"
