#!/usr/bin/env bash
# Install everything the integration-test bench needs (idempotent).
#
#   scripts/testbench/install.sh
#
# - Debian packages: Go toolchain (for the kube build), etcd, openssl, redis, PostgreSQL 15, kcat,
#   and kubectl (Debian's kubernetes-client) when none is on PATH.
# - kube-apiserver + kube-controller-manager v1.20.2 built from Debian 12's kubernetes source
#   package, cached in $HOME/.cache/kapture-testbench/bin (the build is skipped when both exist).
# - a Python venv with noida-db (a Kafka-protocol reimplementation) in
#   $HOME/.cache/kapture-testbench/venv.
#
# A second run with everything in place only checks and returns in a few seconds.
set -euo pipefail

CACHE="${KAPTURE_TESTBENCH_CACHE:-$HOME/.cache/kapture-testbench}"
BIN="$CACHE/bin"
VENV="$CACHE/venv"
KUBE_DEB_VERSION="1.20.5+really1.20.2-1.1+deb12u1"
KUBE_GIT_VERSION="v1.20.2"
NOIDA_VERSION="0.2.3"

APT_PACKAGES=(
  golang-go make rsync etcd-server etcd-client openssl
  golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev
  redis-server postgresql-15 kcat python3-venv curl
)

log() { printf 'install.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (apt-get install is needed)"
export DEBIAN_FRONTEND=noninteractive

APT_UPDATED=0
apt_update_once() {
  if [[ $APT_UPDATED -eq 0 ]]; then
    log "apt-get update"
    apt-get update -qq
    APT_UPDATED=1
  fi
}

is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

# --- 1. Debian packages ---------------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  is_installed "$p" || missing+=("$p")
done
if ! command -v kubectl >/dev/null 2>&1; then
  missing+=(kubernetes-client)
fi
if [[ ${#missing[@]} -gt 0 ]]; then
  apt_update_once
  log "apt-get install ${missing[*]}"
  # Do not let the postgresql/redis packages start system-wide services we do not use.
  policy_added=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    policy_added=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [[ $policy_added -eq 1 ]]; then rm -f /usr/sbin/policy-rc.d; fi
else
  log "Debian packages: already installed"
fi

# --- 2. kube-apiserver + kube-controller-manager v1.20.2 --------------------------------------
build_kube() {
  local work src orig
  work="$CACHE/build"
  rm -rf "$work"
  mkdir -p "$work"

  # deb-src for bookworm main, signed by the Debian archive keyring, if no source list has one.
  if ! grep -rqsE '^(deb-src[^#]*bookworm[[:space:]]+main|Types:.*deb-src)' \
      /etc/apt/sources.list /etc/apt/sources.list.d/; then
    log "adding a deb-src entry for bookworm main"
    cat >/etc/apt/sources.list.d/kapture-testbench-src.sources <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    APT_UPDATED=0
  fi
  apt_update_once

  log "downloading the kubernetes $KUBE_DEB_VERSION source package"
  (cd "$work" && apt-get source -qq --download-only "kubernetes=$KUBE_DEB_VERSION")
  orig="$(find "$work" -maxdepth 1 -name 'kubernetes_*.orig.tar.*' | head -n 1)"
  [[ -n "$orig" ]] || die "no orig tarball downloaded in $work"
  mkdir -p "$work/src"
  log "unpacking $(basename "$orig")"
  tar -xf "$orig" -C "$work/src" --strip-components=1
  src="$work/src"
  [[ -d "$src/vendor" && -f "$src/Makefile" ]] || die "unexpected source layout in $src"

  # 1.20 vendors reflect2 1.0.1, which is unsafe with Go >= 1.18: use Debian's packaged copies.
  local d
  for d in github.com/modern-go/reflect2 github.com/json-iterator/go; do
    [[ -d "/usr/share/gocode/src/$d" ]] || die "/usr/share/gocode/src/$d missing"
    rm -rf "${src:?}/vendor/$d"
    mkdir -p "$src/vendor/$d"
    # -L: Debian's gocode trees may contain symlinks; keep only the Go sources and license.
    cp -rL "/usr/share/gocode/src/$d/." "$src/vendor/$d/"
    find "$src/vendor/$d" -name '*_test.go' -delete
  done

  log "building kube-apiserver and kube-controller-manager (several minutes)"
  (
    cd "$src"
    export CGO_ENABLED=0 KUBE_GIT_VERSION="$KUBE_GIT_VERSION" KUBE_GIT_MAJOR=1 \
      KUBE_GIT_MINOR=20 KUBE_GIT_TREE_STATE=clean GOFLAGS=-mod=vendor GO111MODULE=on
    export GOPATH="$work/gopath" GOCACHE="$work/gocache"
    make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" >"$work/build.log" 2>&1 \
      || { tail -n 40 "$work/build.log" >&2; die "kube build failed (log: $work/build.log)"; }
  )
  local out="$src/_output/local/bin/linux/amd64"
  [[ -x "$out/kube-apiserver" && -x "$out/kube-controller-manager" ]] || die "binaries not found in $out"
  mkdir -p "$BIN"
  install -m 0755 "$out/kube-apiserver" "$BIN/kube-apiserver.tmp"
  install -m 0755 "$out/kube-controller-manager" "$BIN/kube-controller-manager.tmp"
  mv "$BIN/kube-apiserver.tmp" "$BIN/kube-apiserver"
  mv "$BIN/kube-controller-manager.tmp" "$BIN/kube-controller-manager"
  log "removing the build tree"
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}

if [[ -x "$BIN/kube-apiserver" && -x "$BIN/kube-controller-manager" ]]; then
  log "kube binaries: cached in $BIN"
else
  start=$SECONDS
  build_kube
  log "kube build took $((SECONDS - start)) s"
fi
"$BIN/kube-apiserver" --version >/dev/null || die "$BIN/kube-apiserver does not run"

# --- 3. noida-db (Kafka-protocol reimplementation) in a venv ----------------------------------
have_noida() {
  [[ -x "$VENV/bin/python" ]] || return 1
  [[ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("noida-db"))' \
    2>/dev/null || true)" == "$NOIDA_VERSION" ]]
}
if have_noida; then
  log "noida-db $NOIDA_VERSION: already in $VENV"
else
  log "creating venv $VENV with noida-db==$NOIDA_VERSION"
  # Debian's python3 (the pyenv shim may not have venv/ensurepip).
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "noida-db==$NOIDA_VERSION"
fi
noida="$("$VENV/bin/python" -c 'import noida_db, os; print(os.path.join(os.path.dirname(noida_db.__file__), "noida-db"))')"
[[ -x "$noida" ]] || die "noida-db binary not found at $noida"

log "done: kube binaries in $BIN, noida-db at $noida"
