#!/usr/bin/env bash
# Starts the whole platform locally with demo data: `bash deploy/up.sh` (Ctrl-C stops everything).
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/venv.sh
ensure_venv ""
exec .venv/bin/python deploy/launcher.py "$@"
