#!/usr/bin/env bash
# Figures of the whole flow on the bench's real node (source the bench's env file first):
#   1. time from `kubectl kapture deploy --wait` to every component Ready;
#   2. the order service's acknowledged transactions per second at --rate 500 and 2000 per
#      load generator, with 1 and 2 generators (the "before" window of a chaos impact: the
#      workload's own counters scraped through the API server's pod proxy);
#   3. recovery time per killed role, median of ROUNDS kills (`chaos --rounds`);
#   4. resident memory of every pod (the RSS of its processes, from /proc);
#   5. the integrity verdict after all of it.
# Kafka is noida-db (a Kafka-protocol reimplementation) in its own namespace.
#
#   scripts/bench/node-flow.sh [--no-build]
#
# Env: KAPTURE_TEST_NODE_KUBECONFIG and KAPTURE_TEST_IMAGE_* (scripts/testbench/start.sh),
# BENCH_ROUNDS (default 5), BENCH_WINDOW (seconds of throughput sampling, default 30).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ROUNDS="${BENCH_ROUNDS:-5}"
WINDOW="${BENCH_WINDOW:-30}"
command -v jq >/dev/null || { echo "bench: jq is missing (apt-get install jq)" >&2; exit 1; }
BUILD=1
[[ "${1:-}" == "--no-build" ]] && BUILD=0
NS_PREFIX=bench-flow KAPTURE_TIMEOUT=900
# shellcheck source=scripts/bench/node-common.sh
. "$ROOT/scripts/bench/node-common.sh"

start=$(date +%s.%N)
deploy 500 1
echo "deploy to all Ready: $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"

echo "throughput (acknowledged transactions/s, ${WINDOW} s window):"
for gens in 1 2; do
  for rate in 500 2000; do
    deploy "$rate" "$gens"
    sleep 15 # the new load generators reach their rate
    acked=$(kapture chaos --kill router --impact on --baseline "${WINDOW}s" --settle 5s --yes -o json 2>/dev/null \
      | jq -r '.impact.windows[0].orderServiceProducedPerSecond.value // "no data"')
    echo "  --rate $rate x $gens generator(s): offered $((rate * gens)), acknowledged $acked"
  done
done
deploy 500 1

recovery() { # ROLE...
  local role median
  for role in "$@"; do
    median=$(kapture chaos --kill "$role" --rounds "$ROUNDS" --interval 30s --impact off --yes -o json 2>/dev/null \
      | jq -r '.summary.medianRecoverySeconds // "none"')
    echo "  $role: $median"
  done
}
echo "recovery after a kill under load (median of $ROUNDS, seconds):"
recovery order-service router sink-postgres sink-redis

echo "resident memory per pod (MiB):"
for pod in $(k -n "$NS" get pods -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.uid}{"\n"}{end}'); do
  name=${pod%%=*} uid=${pod#*=}
  kib=0
  for cg in /proc/[0-9]*/cgroup; do
    if grep -q "pod$uid" "$cg" 2>/dev/null; then
      pid=${cg#/proc/}; pid=${pid%/cgroup}
      rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
      kib=$((kib + ${rss:-0}))
    fi
  done
  echo "  $name: $((kib / 1024))"
done

echo "verdict after the kills:"
kapture verify --stop-load -o json | jq -c '{acked, lost, duplicated, unexpected, ok}'

# Last: on ephemeral storage a stateful kill loses the data (chaos warns first).
echo "recovery of the stateful parts, load stopped (median of $ROUNDS, seconds):"
recovery redis postgres
