#!/usr/bin/env bash
# Compose helpers, for `docker compose` (v2) and Debian's `docker-compose` (v1) alike:
#   bash deploy/compose.sh secrets            print a .env with fresh random secrets: ... > .env
#   bash deploy/compose.sh trust              copy the proxy's local CA to caddy-root.crt and say how to trust it
#   bash deploy/compose.sh local-images ARGS  run compose with the Debian-built images (deploy/images/build.sh)
#   bash deploy/compose.sh ARGS               run compose (up -d, ps, logs, down ...)
# Build arguments PIP_INDEX_URL, PIP_EXTRA_INDEX_URL and PIP_TRUSTED_HOST, and the certificate bundle pip trusts
# (deploy/pip/), default to this host's pip settings.
set -euo pipefail
cd "$(dirname "$0")/.."

compose() {
  if docker compose version >/dev/null 2>&1; then
    docker compose "$@"
  elif command -v docker-compose >/dev/null; then
    docker-compose "$@"
  else
    echo "neither 'docker compose' nor 'docker-compose' is installed (Debian: apt-get install docker-compose)" >&2
    exit 1
  fi
}

# pip's own settings for a key (environment, then pip.conf), without file:// entries a build cannot read.
pip_setting() {
  local env_name="$1" key="$2" value
  value="${!env_name:-}"
  if [[ -z "$value" ]] && command -v pip3 >/dev/null; then
    value="$(pip3 config get "global.$key" 2>/dev/null || true)"
  fi
  local kept=()
  for item in $value; do
    [[ "$item" == file:* || "$item" == /* ]] || kept+=("$item")
  done
  echo "${kept[*]:-}"
}

export_pip_settings() {
  PIP_INDEX_URL="$(pip_setting PIP_INDEX_URL index-url)"
  PIP_EXTRA_INDEX_URL="$(pip_setting PIP_EXTRA_INDEX_URL extra-index-url)"
  PIP_TRUSTED_HOST="$(pip_setting PIP_TRUSTED_HOST trusted-host)"
  export PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST
  local cert="${PIP_CERT:-}"
  if [[ -z "$cert" ]] && command -v pip3 >/dev/null; then
    cert="$(pip3 config get global.cert 2>/dev/null || true)"
  fi
  if [[ -n "$cert" && -r "$cert" ]]; then
    cp "$cert" deploy/pip/cert.pem
  else
    rm -f deploy/pip/cert.pem
  fi
}

random_secret() { openssl rand -base64 32; }

case "${1:-}" in
  secrets)
    sed -e "s|^POSTGRES_PASSWORD=.*|POSTGRES_PASSWORD=$(random_secret)|" \
        -e "s|^RABBITMQ_PASSWORD=.*|RABBITMQ_PASSWORD=$(random_secret)|" \
        -e "s|^REDIS_PASSWORD=.*|REDIS_PASSWORD=$(random_secret)|" \
        -e "s|^RABBITMQ_ERLANG_COOKIE=.*|RABBITMQ_ERLANG_COOKIE=$(openssl rand -hex 32)|" \
        -e "s|^INTERNAL_SIGNING_KEY=.*|INTERNAL_SIGNING_KEY=$(random_secret)|" \
        -e "s|^SECRET_PEPPER=.*|SECRET_PEPPER=$(random_secret)|" \
        -e "s|^ENCRYPTION_KEY=.*|ENCRYPTION_KEY=$(random_secret)|" \
        deploy/compose.env.example
    ;;
  trust)
    shift
    compose "$@" exec -T proxy cat /data/caddy/pki/authorities/local/root.crt > caddy-root.crt
    cat <<TEXT
Wrote caddy-root.crt, the proxy's local certificate authority. Trust it:
  curl:           curl --cacert caddy-root.crt https://localhost/healthz
  Python:         SSL_CERT_FILE=caddy-root.crt (or verify="caddy-root.crt")
  Debian/Ubuntu:  sudo cp caddy-root.crt /usr/local/share/ca-certificates/ && sudo update-ca-certificates
  macOS:          sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain caddy-root.crt
TEXT
    ;;
  local-images)
    shift
    export_pip_settings
    compose -f docker-compose.yml -f docker-compose.local-images.yml "$@"
    ;;
  "")
    sed -n '2,7p' "$0"
    exit 2
    ;;
  *)
    export_pip_settings
    compose "$@"
    ;;
esac
