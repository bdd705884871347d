# shellcheck shell=bash disable=SC2034  # variables used by the scripts that source this file
# Helpers shared by start.sh and stop.sh (sourced, not run).
#
# State layout in the bench directory DIR:
#   DIR/<name>.pid   PID of a server we started (one number)
#   DIR/<name>.exe   the executable that PID must run (guards against a recycled PID)
#   DIR/<name>.port  the port it listens on (127.0.0.1)
#   DIR/logs/        server logs;  DIR/env.d/<group>  env lines per component group
#   DIR/env          all env.d fragments of live groups, to `source`

TB_CACHE="${KAPTURE_TESTBENCH_CACHE:-$HOME/.cache/kapture-testbench}"
TB_BIN="$TB_CACHE/bin"
TB_VENV="$TB_CACHE/venv"
TB_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# Every process name we may record, in stop order (dependants first). The node tier keeps its
# own in DIR/node (node.sh).
TB_SERVERS=(kube-controller-manager kube-apiserver etcd noida-db noida-mongo redis postgres)

# The machine's one node records here which bench directory started it.
TB_NODE_OWNER=/run/kapture-testbench-node.owner

# Images on the bench's node (images.sh builds them; none can be pulled). Tags other than
# latest: the kubelet never tries to pull an image that is present under such a tag.
TB_IMAGE_PAUSE=localhost/kapture-bench/pause:3.4
TB_IMAGE_REDIS=localhost/kapture-bench/redis:7-bookworm
TB_IMAGE_POSTGRES=localhost/kapture-bench/postgres:15-bookworm
TB_IMAGE_NOIDA=localhost/kapture-bench/noida-db:0.2.3
# Per checkout: worktrees sharing the machine's node each test their own worker.
TB_IMAGE_WORKER="localhost/kapture-bench/kapture-worker:dev-$(printf '%s' "$TB_REPO" | sha256sum | cut -c1-8)"

tb_log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
tb_die() { tb_log "error: $*"; exit 1; }

# tb_noida_bin: the noida-db executable inside the venv's package (run it directly, not through
# the Python wrapper, so the recorded PID is the server's).
tb_noida_bin() {
  [[ -x "$TB_VENV/bin/python" ]] || tb_die "$TB_VENV missing: run scripts/testbench/install.sh"
  "$TB_VENV/bin/python" -c \
    'import noida_db, os; print(os.path.join(os.path.dirname(noida_db.__file__), "noida-db"))'
}

# tb_noida_manifest kafka|mongodb IMAGE: noida-db serving that protocol in a pod of the node
# (scripts/testbench/noida.yaml): StatefulSet and Service `noida` on 9092, or `noida-mongo` on
# 27017. tests/support/node.rs fills the same placeholders.
tb_noida_manifest() {
  local name port
  case "$1" in
    kafka) name=noida port=9092 ;;
    mongodb) name=noida-mongo port=27017 ;;
    *) tb_die "tb_noida_manifest: no protocol $1" ;;
  esac
  sed -e "s#@IMAGE@#$2#g" -e "s#@NAME@#$name#g" -e "s#@SERVICE@#$1#g" -e "s#@PORT@#$port#g" \
    "$TB_REPO/scripts/testbench/noida.yaml"
}

# tb_dir [DIR]: absolute bench directory (default: .testbench in the repo root), created.
tb_dir() {
  local d="${1:-$TB_REPO/.testbench}"
  mkdir -p "$d"
  (cd "$d" && pwd)
}

# tb_alive PID: the process exists and is not a zombie.
tb_alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
  [[ -n "$state" && "$state" != Z ]]
}

# tb_pid DIR NAME: prints the recorded PID if that process is alive and still runs the recorded
# executable; returns 1 otherwise.
tb_pid() {
  local dir=$1 name=$2 pid exe
  [[ -f "$dir/$name.pid" ]] || return 1
  pid="$(<"$dir/$name.pid")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  tb_alive "$pid" || return 1
  if [[ -f "$dir/$name.exe" ]]; then
    exe="$(readlink -f "/proc/$pid/exe" 2>/dev/null || true)"
    [[ "$exe" == "$(<"$dir/$name.exe")" ]] || return 1
  fi
  printf '%s\n' "$pid"
}

# tb_stop DIR NAME: TERM the recorded process (postgres: INT, its fast shutdown), wait up to
# 15 s, then KILL; forget it.
tb_stop() {
  local dir=$1 name=$2 pid i sig=TERM
  [[ "$name" == postgres ]] && sig=INT
  if pid="$(tb_pid "$dir" "$name")"; then
    tb_log "stopping $name (pid $pid)"
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
      tb_alive "$pid" || break
      sleep 0.1
    done
    if tb_alive "$pid"; then
      tb_log "$name (pid $pid) ignored TERM for 15 s: KILL"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        tb_alive "$pid" || break
        sleep 0.1
      done
    fi
  fi
  rm -f "$dir/$name.pid" "$dir/$name.exe" "$dir/$name.port"
}

# tb_remove_pg_home DIR: remove the Postgres cluster kept outside DIR (see start.sh), if any.
tb_remove_pg_home() {
  local dir=$1 home
  [[ -f "$dir/postgres.home" ]] || return 0
  home="$(<"$dir/postgres.home")"
  if [[ "$home" == /tmp/kapture-testbench-pg.* && -d "$home" ]]; then
    rm -rf "$home"
  fi
  rm -f "$dir/postgres.home"
}
