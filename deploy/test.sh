#!/usr/bin/env bash
# Runs the whole test suite (and the linter): `bash deploy/test.sh [pytest args]`. Installs deploy/requirements-dev.lock.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/venv.sh
ensure_venv "[test,dev]"
ensure_browser
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# The compose stack test first and alone: it builds images and starts a dozen containers, and nothing else should
# compete with it for the cores. Then the rest, spread over TEST_WORKERS processes (pytest-xdist); whole files go to
# one worker, so a file's fixtures start its services once. Exit code 5 means "nothing selected" (e.g. a path given
# that holds no compose test), which is not a failure here.
status=0
.venv/bin/python -m pytest -m compose "$@" || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 5 ]; then exit "$status"; fi
exec .venv/bin/python -m pytest -m "not compose" -n "${TEST_WORKERS:-3}" --dist loadfile "$@"
