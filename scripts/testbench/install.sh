#!/usr/bin/env bash
# Install everything the integration-test bench needs (idempotent).
#
#   scripts/testbench/install.sh
#
# - Debian packages: Go toolchain (for the kube build), etcd, openssl, redis, PostgreSQL 15, kcat,
#   kubectl (Debian's kubernetes-client) when none is on PATH, and for the node tier containerd,
#   runc, CNI plugins, iptables, conntrack, dnsmasq, debootstrap and a static C toolchain.
# - kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kube-proxy v1.20.2 built
#   from Debian 12's kubernetes source package, and the pause binary from the same tree, cached
#   in $HOME/.cache/kapture-testbench/bin (skipped when all exist).
# - a Python venv with noida-db (a Kafka-protocol reimplementation) in
#   $HOME/.cache/kapture-testbench/venv.
# - the node's images (images.sh base): pause, Redis, PostgreSQL and noida-db on Debian bookworm.
#
# A second run with everything in place only checks and returns in about a second.
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
  containerd runc containernetworking-plugins iptables conntrack dnsmasq-base iproute2
  debootstrap gcc libc6-dev shellcheck
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

# The packages of the list that are not installed (one dpkg-query for all of them).
not_installed() {
  local installed
  # dpkg-query exits 1 when any name is unknown to it (not installed, never seen): under
  # pipefail that must not end the function before it prints what is missing.
  installed=" $({ dpkg-query -W -f='${db:Status-Status} ${Package}\n' "$@" 2>/dev/null || true; } \
    | awk '$1 == "installed" {print $2}' | tr '\n' ' ') "
  local p
  for p in "$@"; do [[ "$installed" == *" $p "* ]] || printf '%s\n' "$p"; done
}

# deb-src for bookworm main, signed by the Debian archive keyring, if no source list has one.
ensure_deb_src() {
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
}

KUBE_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
need_build=0
for b in "${KUBE_BINARIES[@]}" pause; do [[ -x "$BIN/$b" ]] || need_build=1; done
if [[ $need_build -eq 1 ]]; then
  # Before the first `apt-get update`, so that one update serves both steps.
  ensure_deb_src
fi

# --- 1. Debian packages ---------------------------------------------------------------------
mapfile -t missing < <(not_installed "${APT_PACKAGES[@]}")
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

# --- 2. Kubernetes v1.20.2 binaries and pause -------------------------------------------------
# Builds what is missing of KUBE_BINARIES and pause from one unpacked source tree.
build_kube() {
  local work src orig
  work="$CACHE/build"
  rm -rf "$work"
  mkdir -p "$work"

  ensure_deb_src
  apt_update_once

  log "downloading the kubernetes $KUBE_DEB_VERSION source package"
  # Sandbox user root: _apt cannot write into a directory under /root.
  (cd "$work" && apt-get source -qq --download-only -o APT::Sandbox::User=root \
    "kubernetes=$KUBE_DEB_VERSION")
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

  local b missing=()
  for b in "${KUBE_BINARIES[@]}"; do [[ -x "$BIN/$b" ]] || missing+=("$b"); done
  mkdir -p "$BIN"
  if [[ ! -x "$BIN/pause" ]]; then
    log "building pause (static)"
    gcc -Os -Wall -Werror -static -DVERSION=v3.4-kapture-bench -o "$BIN/pause.tmp" \
      "$src/build/pause/linux/pause.c"
    strip "$BIN/pause.tmp"
    mv "$BIN/pause.tmp" "$BIN/pause"
  fi
  if [[ ${#missing[@]} -eq 0 ]]; then
    rm -rf "$work"
    return 0
  fi
  log "building ${missing[*]} (10-20 minutes on 2 cores)"
  (
    cd "$src"
    export CGO_ENABLED=0 KUBE_GIT_VERSION="$KUBE_GIT_VERSION" KUBE_GIT_MAJOR=1 \
      KUBE_GIT_MINOR=20 KUBE_GIT_TREE_STATE=clean GOFLAGS=-mod=vendor GO111MODULE=on
    export GOPATH="$work/gopath" GOCACHE="$work/gocache"
    # KUBE_STATIC_OVERRIDES: kubelet with the same static flags as the others, so one
    # `go install` compiles the shared vendored packages once.
    KUBE_STATIC_OVERRIDES=kubelet GOLDFLAGS="-s -w" \
      make WHAT="${missing[*]/#/cmd/}" >"$work/build.log" 2>&1 \
      || { tail -n 40 "$work/build.log" >&2; die "kube build failed (log: $work/build.log)"; }
  )
  local out="$src/_output/local/bin/linux/amd64"
  for b in "${missing[@]}"; do
    [[ -x "$out/$b" ]] || die "$b not found in $out"
    install -m 0755 "$out/$b" "$BIN/$b.tmp"
    mv "$BIN/$b.tmp" "$BIN/$b"
  done
  log "removing the build tree"
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}

if [[ $need_build -eq 0 ]]; then
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

# --- 4. the node's images ---------------------------------------------------------------------
bash "$(dirname "${BASH_SOURCE[0]}")/images.sh" base

log "done: kube binaries in $BIN, noida-db at $noida, node images in $CACHE/images"
