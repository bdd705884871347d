#!/usr/bin/env bash
# Stop the integration-test bench and remove its data.
#
#   scripts/testbench/stop.sh [DIR]
#
# Stops every server recorded in DIR (default .testbench/ in the repo root) by its PID: TERM
# (Postgres: INT, its fast shutdown), up to 15 s, then KILL. The node tier's pods go first
# through its kubelet; then its bridge, iptables chains, mounts and network namespaces are
# removed (node.sh). Then removes DIR's contents. Nothing is stopped by name. Safe to run when
# nothing is running.
set -euo pipefail

# shellcheck source=scripts/testbench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=scripts/testbench/node.sh
source "$(dirname "${BASH_SOURCE[0]}")/node.sh"

case "${1:-}" in
  -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
[[ $# -le 1 ]] || tb_die "usage: stop.sh [DIR]"

dir_arg="${1:-$TB_REPO/.testbench}"
if [[ ! -d "$dir_arg" ]]; then
  tb_log "nothing to stop: $dir_arg does not exist"
  exit 0
fi
DIR="$(cd "$dir_arg" && pwd)"
# Refuse obviously wrong targets before deleting anything.
[[ "$DIR" != / && "$DIR" != "$HOME" && "$DIR" != "$TB_REPO" ]] || tb_die "refusing to clean $DIR"

node_stop "$DIR/node"
for name in "${TB_SERVERS[@]}"; do
  tb_stop "$DIR" "$name"
done

tb_remove_pg_home "$DIR"

# Only the files start.sh creates, so a DIR given by mistake loses nothing else.
rm -rf "${DIR:?}"/{etcd-data,pki,noida-data,noida-mongo-data,redis-data,pgdata,logs,env.d} \
  "$DIR"/{kubeconfig,kubeconfig-nobody,env,env.tmp} "$DIR"/*.pid "$DIR"/*.exe "$DIR"/*.port
rmdir "$DIR" 2>/dev/null || true
tb_log "stopped; removed the bench data in $DIR"
