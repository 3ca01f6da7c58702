#!/usr/bin/env bash
# Runs the whole test suite (and the linter): `bash deploy/test.sh [pytest args]`. Installs deploy/requirements-dev.lock.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/venv.sh
ensure_venv "[test,dev]"
ensure_browser
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest "$@"
