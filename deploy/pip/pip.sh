#!/bin/sh
# pip inside the image's build stage, with the host's index settings (build arguments) and certificate bundle.
set -eu
for name in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST; do
  if [ -z "$(printenv "$name" || true)" ]; then unset "$name"; fi
done
if [ -s /src/pip/cert.pem ]; then
  export PIP_CERT=/src/pip/cert.pem
fi
exec /opt/venv/bin/pip "$@"
