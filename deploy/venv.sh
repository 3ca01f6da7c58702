# Shared by up.sh, test.sh, lock.sh and check-deps.sh: a project-local virtual environment installed from the
# hashed lock files (deploy/lock.sh writes them), reinstalled whenever a lock file or pyproject.toml changes.
ensure_venv() {
  local extra="$1" lock=deploy/requirements.lock
  if [ -n "$extra" ]; then
    lock=deploy/requirements-dev.lock
  fi
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  local stamp=".venv/.installed${extra}" wanted
  wanted="$(cat "$lock" pyproject.toml | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet --require-hashes -r "$lock"
    .venv/bin/python -m pip install --quiet --no-deps -e ".${extra}"
    echo "$wanted" >"$stamp"
  fi
}

# uv does not read pip's configuration: pass this machine's pip index settings (pip config, PIP_* variables) on,
# so that locking resolves against the same index (a mirror, say) that pip installs from.
pip_index_args() {
  python3 - <<'PY'
import subprocess
import sys

listing = subprocess.run(
    [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
).stdout
flags = {"index-url": "--index-url", "extra-index-url": "--extra-index-url", "find-links": "--find-links"}
seen = set()
for line in listing.splitlines():
    key, _, value = line.partition("=")
    option = key.rpartition(".")[2]
    if option in flags:
        for item in value.strip().strip("'\"").split():
            if (option, item) not in seen:
                seen.add((option, item))
                print(flags[option])
                print(item)
PY
}

# Sets INDEX_ARGS for uv, and SSL_CERT_FILE from pip's cert setting (a mirror behind a private CA, say).
use_pip_index() {
  mapfile -t INDEX_ARGS < <(pip_index_args)
  local cert
  cert="$(python3 -m pip config list 2>/dev/null | sed -n "s/^[^=]*\.cert='\(.*\)'$/\1/p" | head -n 1)"
  if [ -n "$cert" ] && [ -z "${SSL_CERT_FILE:-}" ]; then
    export SSL_CERT_FILE="$cert"
  fi
}

find_uv() {
  if [ -x .venv/bin/uv ]; then
    echo .venv/bin/uv
  elif command -v uv >/dev/null; then
    command -v uv
  else
    echo "uv is needed to resolve the locks: pip install uv (it is in the dev extra)" >&2
    return 1
  fi
}

# The control-panel tests drive Debian's Chromium through Playwright (no browser download).
ensure_browser() {
  if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "installing Debian's chromium for the browser tests..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "could not install chromium; browser tests will be skipped"
  fi
}
