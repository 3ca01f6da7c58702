#!/usr/bin/env bash
# Builds stand-ins for the public images from Debian packages, for machines that reach Debian's and PyPI's
# package mirrors but no image registry (air-gapped installs, CI):
#   bash deploy/images/build.sh            # base (debootstrap) once, then every stand-in image
#   docker compose -f docker-compose.yml -f docker-compose.local-images.yml up -d --build
# Every step is cached: the base is imported once, the rest are ordinary `docker build`s whose layers stay in the
# engine's cache, so a second run takes seconds. REBUILD_BASE=1 debootstraps again (e.g. for security updates).
set -euo pipefail
cd "$(dirname "$0")"

DEBIAN_SUITE="${DEBIAN_SUITE:-bookworm}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
IMAGE_PREFIX="${IMAGE_PREFIX:-commerce-local}"
BASE_IMAGE="$IMAGE_PREFIX/debian:$DEBIAN_SUITE"
NICE=(nice -n 10)

log() { printf '[images] %s\n' "$*" >&2; }

build_base() {
  if [[ "${REBUILD_BASE:-0}" != 1 ]] && docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "$BASE_IMAGE present"
    return
  fi
  command -v debootstrap >/dev/null || { log "debootstrap is missing: apt-get install debootstrap"; exit 1; }
  local rootfs
  rootfs="$(mktemp -d /var/tmp/commerce-rootfs.XXXXXX)"
  trap 'rm -rf "$rootfs"' RETURN
  log "debootstrap $DEBIAN_SUITE from $DEBIAN_MIRROR (a few minutes, once)"
  "${NICE[@]}" debootstrap --variant=minbase --include=ca-certificates "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" >&2
  cat > "$rootfs/etc/apt/sources.list" <<SOURCES
deb $DEBIAN_MIRROR $DEBIAN_SUITE main
deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main
deb $DEBIAN_SECURITY_MIRROR $DEBIAN_SUITE-security main
SOURCES
  # Images carry no documentation or package lists; the stand-in Dockerfiles run apt-get update themselves.
  printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\n' \
    > "$rootfs/etc/dpkg/dpkg.cfg.d/01-nodoc"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > "$rootfs/etc/apt/apt.conf.d/01-norecommends"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" --numeric-owner -c . | docker import \
    --change 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
  log "imported $BASE_IMAGE"
}

build_image() {
  local name="$1" tag="$2"
  log "building $tag"
  local output
  if ! output="$("${NICE[@]}" docker build --quiet --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$tag" "$name" 2>&1)"; then
    printf '%s\n' "$output" >&2
    exit 1
  fi
}

build_base
build_image python "$IMAGE_PREFIX/python:3.11"
build_image postgres "$IMAGE_PREFIX/postgres:15"
build_image rabbitmq "$IMAGE_PREFIX/rabbitmq:3.10"
build_image redis "$IMAGE_PREFIX/redis:7"
build_image caddy "$IMAGE_PREFIX/caddy:2.6"
if [[ "${WITH_PROMETHEUS:-1}" == 1 ]]; then
  build_image prometheus "$IMAGE_PREFIX/prometheus:2.42"
fi
log "stand-in images ready"
