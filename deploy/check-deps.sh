#!/usr/bin/env bash
# Which locked packages have newer releases: `bash deploy/check-deps.sh` (run it on a schedule, e.g. weekly in CI).
# Resolves pyproject.toml afresh with --upgrade (on pip's index settings, see venv.sh) and compares with
# deploy/requirements-dev.lock; prints "name locked -> newest" per package and exits 1 when there is any, 0 when the
# lock is current. To take them: bash deploy/lock.sh --upgrade (or --upgrade-package NAME), then run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/venv.sh
uv="$(find_uv)"
use_pip_index
newest="$(mktemp)"
trap 'rm -f "$newest"' EXIT
"$uv" pip compile pyproject.toml --quiet --universal --python-version 3.11 --extra test --extra dev --upgrade \
  --no-header --no-annotate "${INDEX_ARGS[@]}" -o "$newest"
python3 - deploy/requirements-dev.lock "$newest" <<'PY'
import re
import sys

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)")


def pins(path: str) -> dict[str, str]:
    found = {}
    with open(path) as lines:
        for line in lines:
            if match := PIN.match(line):
                found[match[1].lower().replace("_", "-")] = match[2]
    return found


locked, newest = pins(sys.argv[1]), pins(sys.argv[2])
outdated = sorted(name for name in locked if name in newest and newest[name] != locked[name])
for name in outdated:
    print(f"{name} {locked[name]} -> {newest[name]}")
added = sorted(set(newest) - set(locked))
if added:
    print(f"not locked yet (run bash deploy/lock.sh): {', '.join(added)}")
if not outdated and not added:
    print(f"all {len(locked)} locked packages are at their newest release")
sys.exit(1 if outdated or added else 0)
PY
