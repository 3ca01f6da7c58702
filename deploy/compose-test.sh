#!/usr/bin/env bash
# The compose stack on this machine's Docker engine, end to end through the TLS front door:
#   bash deploy/compose-test.sh [pytest args]
# Builds the Debian-based stand-in images when needed (COMPOSE_TEST_IMAGES=public uses the public images), starts
# the stack with several replicas, runs tests/deploy/test_compose_stack.py, then removes it (down -v). Prints how
# long the build and the start took.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! docker info >/dev/null 2>&1; then
  echo "no Docker engine answers: start dockerd (Debian: apt-get install docker.io docker-compose)" >&2
  exit 1
fi
source deploy/venv.sh
ensure_venv "[test]"
exec .venv/bin/python -m pytest -m compose tests/deploy/test_compose_stack.py -s -p no:cacheprovider "$@"
