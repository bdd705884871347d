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

# Every process name we may record, in stop order (dependants first).
TB_SERVERS=(kube-controller-manager kube-apiserver etcd noida-db redis postgres)

tb_log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
tb_die() { tb_log "error: $*"; exit 1; }

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
