#!/usr/bin/env bash
# Pins every dependency, with hashes, from pyproject.toml: `bash deploy/lock.sh [--upgrade | --upgrade-package X]`.
#   deploy/requirements.lock      the services: the Docker image and deploy/up.sh install exactly this
#   deploy/requirements-dev.lock  the same plus the test and dev extras: deploy/test.sh and CI install this
# Run it after a dependency changes in pyproject.toml (or after merging branches that changed some) and commit both
# files; versions already locked are kept unless --upgrade asks otherwise. Uses pip's index settings (see venv.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/venv.sh
uv="$(find_uv)"
use_pip_index
# unsafe-best-match: the host's pip may name several indexes (mirrors) and a package can be complete only in one.
compile() {
  "$uv" pip compile pyproject.toml --quiet --universal --python-version 3.11 --generate-hashes \
    --custom-compile-command "bash deploy/lock.sh" --index-strategy unsafe-best-match "${INDEX_ARGS[@]}" "$@"
}
compile -o deploy/requirements.lock "$@"
compile --extra test --extra dev --constraint deploy/requirements.lock -o deploy/requirements-dev.lock "$@"
echo "wrote deploy/requirements.lock ($(grep -c '==' deploy/requirements.lock) packages)" \
  "and deploy/requirements-dev.lock ($(grep -c '==' deploy/requirements-dev.lock) packages)"
