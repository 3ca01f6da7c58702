#!/bin/sh
# Runs Caddy; once its internal CA exists, prints how to trust it (local certificates are the default).
root=/data/caddy/pki/authorities/local/root.crt
(
  for _ in $(seq 1 120); do
    if [ -f "$root" ]; then
      echo "Caddy's local CA is ready. Trust it where clients run, e.g.:"
      echo "  bash deploy/compose.sh trust                       # writes caddy-root.crt and prints the next steps"
      echo "  curl --cacert caddy-root.crt https://localhost/healthz"
      exit 0
    fi
    sleep 1
  done
) &
exec caddy run --config /etc/caddy/Caddyfile --adapter caddyfile
