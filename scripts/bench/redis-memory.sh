#!/usr/bin/env bash
# Redis memory of a long run: N transactions (default 1,000,000) produced with
# `loadgen --direct --ack-redis`, routed, and counted by the Redis sink, against the test
# bench's noida-db and Redis (source .testbench/env first). Prints Redis's used_memory before
# and after and MEMORY USAGE of each key the flow writes: the acknowledgement record
# (loadgen) and the deduplication state and aggregates (sink-redis).
#
# Usage: scripts/bench/redis-memory.sh [WORKER_BINARY] [N]
#   WORKER_BINARY defaults to this tree's target/release/kapture-worker (build it first); pass
#   another build (e.g. of an earlier commit) to compare. BENCH_RATE (2500/s) paces the load:
#   noida-db answers a fetch of a large backlog with more than librdkafka accepts (see
#   docs/workload.md, noida-db notes), so the flow must keep up as it goes.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
W="${1:-$ROOT/target/release/kapture-worker}"
N="${2:-1000000}"

die() { echo "redis-memory: $*" >&2; exit 1; }
for v in KAPTURE_TEST_KAFKA KAPTURE_TEST_REDIS; do
  [[ -n "${!v:-}" ]] || die "$v is not set (source the test bench env file)"
done
[[ -x "$W" ]] || die "$W is not an executable (cargo build --release -p kapture-worker)"

redis_hostport="${KAPTURE_TEST_REDIS#redis://}"
rcli() { redis-cli -h "${redis_hostport%%:*}" -p "${redis_hostport##*:}" "$@"; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

RUN="mem$(date +%s)"
export KAPTURE_KAFKA_BOOTSTRAP="$KAPTURE_TEST_KAFKA" KAPTURE_REDIS_URL="$KAPTURE_TEST_REDIS"
export KAPTURE_TOPIC_PREFIX="$RUN." KAPTURE_REDIS_PREFIX="$RUN:" KAPTURE_LOG=warn KAPTURE_PARTITIONS=6

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

used() { rcli INFO memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r'; }
counted() { rcli HVALS "${RUN}:agg:state:count" | awk '{s += $1} END {print s + 0}'; }

"$W" create-topics >/dev/null 2>&1
before=$(used)
for role in router sink-redis; do
  "$W" "$role" --metrics-listen "127.0.0.1:$(port)" --group-instance-id "$role-0" &
  PIDS+=($!)
done
started=$(date +%s)
"$W" loadgen --direct --rate "${BENCH_RATE:-2500}" --count "$N" --ack-redis --metrics-listen "127.0.0.1:$(port)" >/dev/null
# Bounded: 20 minutes for the sink to count everything.
for _ in $(seq 1 1200); do
  [[ "$(counted)" -ge "$N" ]] && break
  sleep 1
done
[[ "$(counted)" -ge "$N" ]] || die "the Redis sink counted $(counted) of $N within 20 minutes"
after=$(used)

echo "Redis memory after $N transactions ($(( $(date +%s) - started )) s), worker $W:"
echo "  used_memory: before $before, after $after, growth $(( after - before )) bytes"
total=0
while read -r key; do
  [[ -n "$key" ]] || continue
  bytes=$(rcli MEMORY USAGE "$key")
  total=$(( total + bytes ))
  printf '  %-40s %12s bytes\n' "${key#"$RUN":}" "$bytes"
done < <(rcli --scan --pattern "${RUN}:*" | sort)
echo "  all keys of the flow: $total bytes"
