#!/usr/bin/env bash
# Container images for the bench's node, built without any registry (OCI archives, see
# oci-image.sh) and kept in $KAPTURE_TESTBENCH_CACHE/images:
#
#   images.sh base               pause, and redis / postgres / noida-db images on one Debian
#                                bookworm layer (debootstrap); cached, a re-run only checks
#   images.sh worker BINARY [SOCKET]
#                                the kapture-worker image from a built binary: the binary, the
#                                shared libraries it loads and a passwd file, like the Dockerfile's
#                                distroless base (no shell), user 65532, same entrypoint; imported
#                                into the containerd at SOCKET when given
#   images.sh import SOCKET      import every archive into containerd's k8s.io namespace
#
# The image names are TB_IMAGE_* in lib.sh; `start.sh --only node` imports the archives and
# writes the names into DIR/env for the tests.
set -euo pipefail
# shellcheck source=scripts/testbench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HERE="$TB_REPO/scripts/testbench"
IMAGES="$TB_CACHE/images"
ROOTFS="$TB_CACHE/rootfs"
OCI="$HERE/oci-image.sh"
# The Debian base every server image shares (one layer in containerd). llvm is only
# PostgreSQL's JIT: removed below, as the JIT is off without it.
BASE_PACKAGES=redis-server,redis-tools,postgresql-15,socat,ca-certificates
BASE_TAR="$IMAGES/debian-base.tar"

log() { printf 'images.sh: %s\n' "$*" >&2; }

# The stamp of what the cached server images were built from: rebuilt when a script changes.
recipe_stamp() {
  cat "$OCI" "$HERE/images.sh" "$HERE/images/"* | sha256sum | cut -d' ' -f1
}

build_rootfs() { # DIR
  local dir=$1 mirror
  mirror="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)"
  rm -rf "$dir.tmp"
  log "debootstrap bookworm with $BASE_PACKAGES (a few minutes)"
  debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$dir.tmp" \
    "${mirror:-http://deb.debian.org/debian}" >"$ROOTFS/debootstrap.log" 2>&1 \
    || { tail -n 20 "$ROOTFS/debootstrap.log" >&2; tb_die "debootstrap failed"; }
  (
    cd "$dir.tmp"
    rm -rf var/cache/apt/archives/*.deb var/lib/apt/lists/* usr/share/doc/* usr/share/man/* \
      usr/share/locale/* usr/share/info/* usr/lib/postgresql/15/lib/bitcode \
      var/lib/postgresql/15/main etc/postgresql/15/main
    rm -f usr/lib/x86_64-linux-gnu/libLLVM-* usr/lib/x86_64-linux-gnu/libz3.so* \
      usr/lib/postgresql/15/lib/llvmjit*
  )
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
}

# layer_with_user DIR NAME UID: DIR gets the base's passwd/group with user NAME renumbered to
# UID (and its group to the same number), the way the official images number their users.
layer_with_user() {
  local dir=$1 name=$2 uid=$3 base="$ROOTFS/debian-base"
  mkdir -p "$dir/etc"
  awk -F: -v OFS=: -v n="$name" -v id="$uid" '$1 == n {$3 = id; $4 = id} {print}' \
    "$base/etc/passwd" >"$dir/etc/passwd"
  awk -F: -v OFS=: -v n="$name" -v id="$uid" '$1 == n {$3 = id} {print}' \
    "$base/etc/group" >"$dir/etc/group"
  grep -q "^$name:" "$dir/etc/passwd" || printf '%s:x:%s:%s::/nonexistent:/usr/sbin/nologin\n' \
    "$name" "$uid" "$uid" >>"$dir/etc/passwd"
  grep -q "^$name:" "$dir/etc/group" || printf '%s:x:%s:\n' "$name" "$uid" >>"$dir/etc/group"
}

build_base() {
  mkdir -p "$IMAGES" "$ROOTFS"
  local stamp work
  stamp="$(recipe_stamp)"
  if [[ -f "$IMAGES/stamp" && "$(<"$IMAGES/stamp")" == "$stamp" ]]; then
    log "server images: cached in $IMAGES"
    return 0
  fi
  [[ -x "$TB_BIN/pause" ]] || tb_die "$TB_BIN/pause missing: run scripts/testbench/install.sh"
  if [[ ! -f "$ROOTFS/debian-base.packages" || "$(<"$ROOTFS/debian-base.packages")" != "$BASE_PACKAGES" ]]; then
    build_rootfs "$ROOTFS/debian-base"
    printf '%s\n' "$BASE_PACKAGES" >"$ROOTFS/debian-base.packages"
  fi
  work="$(mktemp -d)"
  # shellcheck disable=SC2064  # expand now: the trap runs after `work` is out of scope
  trap "rm -rf '$work'" EXIT

  mkdir -p "$work/pause"
  cp "$TB_BIN/pause" "$work/pause/pause"
  "$OCI" --entrypoint '["/pause"]' --user 65535:65535 "$TB_IMAGE_PAUSE" "$IMAGES/pause.tar" "$work/pause"

  "$OCI" --cmd '["bash"]' --env LANG=C.UTF-8 localhost/kapture-bench/debian:bookworm "$BASE_TAR" \
    "$ROOTFS/debian-base"

  layer_with_user "$work/redis" redis 999
  install -D -m 0755 "$HERE/images/redis-entrypoint.sh" "$work/redis/usr/local/bin/docker-entrypoint.sh"
  mkdir -p "$work/redis/data"
  "$OCI" --from "$BASE_TAR" --entrypoint '["docker-entrypoint.sh"]' --cmd '["redis-server"]' \
    --workdir /data "$TB_IMAGE_REDIS" "$IMAGES/redis.tar" "$work/redis"

  layer_with_user "$work/postgres" postgres 999
  install -D -m 0755 "$HERE/images/postgres-entrypoint.sh" \
    "$work/postgres/usr/local/bin/docker-entrypoint.sh"
  mkdir -p "$work/postgres/docker-entrypoint-initdb.d" "$work/postgres/var/lib/postgresql/data"
  # SIGINT, as the official image: a fast shutdown. SIGTERM would be PostgreSQL's smart one,
  # which waits for every client to leave (the sinks never do) until the grace period's SIGKILL.
  "$OCI" --from "$BASE_TAR" --entrypoint '["docker-entrypoint.sh"]' --cmd '["postgres"]' \
    --stop-signal SIGINT --env PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env PGDATA=/var/lib/postgresql/data "$TB_IMAGE_POSTGRES" "$IMAGES/postgres.tar" "$work/postgres"

  layer_with_user "$work/noida" noida 65532
  install -D -m 0755 "$(tb_noida_bin)" "$work/noida/usr/local/bin/noida-db"
  "$OCI" --from "$BASE_TAR" --entrypoint '["noida-db"]' --user 65532:65532 \
    "$TB_IMAGE_NOIDA" "$IMAGES/noida-db.tar" "$work/noida"

  rm -f "$BASE_TAR"   # only a parent: every image above carries its layer
  printf '%s\n' "$stamp" >"$IMAGES/stamp"
  log "server images built in $IMAGES"
}

# The worker image: what the Dockerfile's distroless/cc base provides (glibc, libgcc, CA
# certificates, a passwd with nonroot 65532, /tmp), taken from this machine, plus the binary.
build_worker() { # BINARY [SOCKET]
  local binary=$1 socket=${2:-} work lib tar="kapture-worker-${TB_IMAGE_WORKER##*:}.tar"
  [[ -x "$binary" ]] || tb_die "no executable at $binary (cargo build --release first)"
  mkdir -p "$IMAGES"
  work="$(mktemp -d)"
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" EXIT
  install -D -m 0755 "$binary" "$work/usr/local/bin/kapture-worker"
  # Every library the dynamic loader resolves, at the path it resolves it to (and the loader).
  for lib in $(ldd "$binary" | awk '/=> \// {print $3} /^\t\/lib/ {print $1}'); do
    install -D -m 0755 "$(readlink -f "$lib")" "$work$lib"
  done
  [[ -f /etc/ssl/certs/ca-certificates.crt ]] \
    && install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$work/etc/ssl/certs/ca-certificates.crt"
  mkdir -p "$work/etc" "$work/tmp" "$work/home/nonroot"
  chmod 1777 "$work/tmp"
  chown 65532:65532 "$work/home/nonroot"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
    >"$work/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$work/etc/group"
  "$OCI" --entrypoint '["/usr/local/bin/kapture-worker"]' --user 65532:65532 \
    "$TB_IMAGE_WORKER" "$IMAGES/$tar" "$work"
  [[ -z "$socket" ]] || import_tars "$socket" "$IMAGES/$tar"
}

import_tars() { # SOCKET TAR...
  local socket=$1 tar
  shift
  for tar in "$@"; do
    ctr -a "$socket" -n k8s.io images import "$tar" >/dev/null \
      || tb_die "importing $tar into containerd at $socket failed"
  done
}

case "${1:-}" in
  base) build_base ;;
  worker)
    [[ $# -eq 2 || $# -eq 3 ]] || tb_die "usage: images.sh worker BINARY [SOCKET]"
    build_worker "$2" "${3:-}"
    ;;
  import) [[ $# -eq 2 ]] || tb_die "usage: images.sh import SOCKET"; import_tars "$2" "$IMAGES"/*.tar ;;
  *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
