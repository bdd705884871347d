#!/usr/bin/env bash
# The MongoDB sink against the test bench (source its env file first), next to the Postgres
# sink on the same input:
#   1. a backlog drained: BENCH_MESSAGES transactions are produced (`loadgen --direct`) and
#      routed into the per-state topics first; then each sink is started on that backlog and
#      timed from its start until it has stored every one (its /metrics);
#   2. a steady flow: router and both sinks running while `loadgen --direct --rate
#      BENCH_RATE` produces BENCH_STEADY transactions.
# Peak RSS is each sink's VmHWM (/proc/<pid>/status), read before it is stopped.
#
#   scripts/bench/sink-mongo.sh [--no-build]
#
# Env: KAPTURE_TEST_KAFKA, KAPTURE_TEST_MONGO_URL, KAPTURE_TEST_POSTGRES (scripts/testbench),
# BENCH_MESSAGES (default 100000), BENCH_STEADY (20000), BENCH_RATE (400/s), BENCH_TIMEOUT
# (seconds per wait, default 1800).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
N="${BENCH_MESSAGES:-100000}"
STEADY="${BENCH_STEADY:-20000}"
RATE="${BENCH_RATE:-400}"
LIMIT="${BENCH_TIMEOUT:-1800}"

die() { echo "bench: $*" >&2; exit 1; }
for v in KAPTURE_TEST_KAFKA KAPTURE_TEST_MONGO_URL KAPTURE_TEST_POSTGRES; do
  [[ -n "${!v:-}" ]] || die "$v is not set (source the test bench env file)"
done

TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
if [[ "${1:-}" != "--no-build" ]]; then
  (cd "$ROOT" && cargo build --release -p kapture-worker >&2)
fi
W="$TARGET/release/kapture-worker"
[[ -x "$W" ]] || die "$W not built"

RUN="bench$(date +%s)"
pg="${KAPTURE_TEST_POSTGRES#postgres://}"
hostport="${pg#*@}"; hostport="${hostport%%/*}"
export KAPTURE_KAFKA_BOOTSTRAP="$KAPTURE_TEST_KAFKA" KAPTURE_TOPIC_PREFIX="$RUN."
export KAPTURE_MONGO_URL="$KAPTURE_TEST_MONGO_URL" KAPTURE_MONGO_DB="$RUN"
export KAPTURE_POSTGRES_USER="${pg%%@*}" KAPTURE_POSTGRES_DB="${pg##*/}"
export KAPTURE_POSTGRES_HOST="${hostport%%:*}" KAPTURE_POSTGRES_PORT="${hostport##*:}"
export KAPTURE_POSTGRES_SCHEMA="$RUN" KAPTURE_LOG=warn KAPTURE_PARTITIONS=3

declare -A PID_OF PORT_OF
empty_mongo() { # DB
  # noida-db keeps its collections in memory and has no dropDatabase: empty ours (a hand-made
  # OP_MSG `delete`; the bench has no MongoDB client).
  python3 - "${KAPTURE_TEST_MONGO_URL##*:}" "$1" <<'EOF' || echo "bench: could not empty $1.transactions" >&2
import socket, struct, sys
def element(key, value):
    k = key.encode() + b"\0"
    if isinstance(value, str):
        v = value.encode() + b"\0"
        return b"\x02" + k + struct.pack("<i", len(v)) + v
    if isinstance(value, int):
        return b"\x10" + k + struct.pack("<i", value)
    if isinstance(value, list):
        return b"\x04" + k + document({str(i): v for i, v in enumerate(value)})
    return b"\x03" + k + document(value)
def document(d):
    body = b"".join(element(k, v) for k, v in d.items())
    return struct.pack("<i", len(body) + 5) + body + b"\0"
cmd = {"delete": "transactions", "deletes": [{"q": {}, "limit": 0}], "$db": sys.argv[2]}
payload = struct.pack("<I", 0) + b"\0" + document(cmd)
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=60) as s:
    s.sendall(struct.pack("<iiii", 16 + len(payload), 1, 0, 2013) + payload)
    s.recv(65536)
EOF
}
cleanup() {
  for role in "${!PID_OF[@]}"; do
    kill "${PID_OF[$role]}" 2>/dev/null || true
    wait "${PID_OF[$role]}" 2>/dev/null || true
  done
  empty_mongo "$RUN"
  empty_mongo "${RUN}s"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# produced ROLE PORT: the role's kapture_messages_produced_total (0 before it serves).
produced() {
  curl -fsS --max-time 5 "http://127.0.0.1:$2/metrics" 2>/dev/null \
    | awk -v s="kapture_messages_produced_total{role=\"$1\"}" '$1 == s {print int($2)}' || true
}
start() { # ROLE: starts it in the background
  PORT_OF[$1]="$(port)"
  "$W" "$1" --metrics-listen "127.0.0.1:${PORT_OF[$1]}" --group-instance-id "$1-0" &
  PID_OF[$1]=$!
}
wait_produced() { # ROLE WANT: bounded
  local n deadline=$((SECONDS + LIMIT))
  while n="$(produced "$1" "${PORT_OF[$1]}")"; [[ "${n:-0}" -lt "$2" ]]; do
    ((SECONDS < deadline)) || die "$1 produced ${n:-0} of $2 within ${LIMIT}s"
    kill -0 "${PID_OF[$1]}" 2>/dev/null || die "$1 exited"
    sleep 0.2
  done
}
peak_mb() { awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/${PID_OF[$1]}/status"; }
stop() { # ROLE: SIGTERM, and it must exit 0
  local pid="${PID_OF[$1]}"
  unset "PID_OF[$1]"
  kill -TERM "$pid"
  wait "$pid" || die "$1 did not stop cleanly"
}
now() { date +%s.%N; }

echo "== 1. backlog: producing and routing $N transactions (topic prefix $RUN.)" >&2
"$W" create-topics --timeout 60s
"$W" loadgen --direct --rate 0 --count "$N" --seed 7 --metrics-listen "127.0.0.1:$(port)" >/dev/null
start router
wait_produced router "$N"
stop router
for sink in sink-mongo sink-postgres; do
  t0=$(now)
  start "$sink"
  wait_produced "$sink" "$N"
  t1=$(now)
  rss=$(peak_mb "$sink")
  stop "$sink"
  python3 -c "print(f'backlog: $sink stored $N in {$t1 - $t0:.1f} s: {$N / ($t1 - $t0):,.0f} documents/s; peak RSS $rss MB')"
done

echo "== 2. steady flow: $STEADY transactions at $RATE/s" >&2
export KAPTURE_TOPIC_PREFIX="${RUN}s." KAPTURE_MONGO_DB="${RUN}s" KAPTURE_POSTGRES_SCHEMA="${RUN}s"
"$W" create-topics --timeout 60s
for role in router sink-mongo sink-postgres; do start "$role"; done
"$W" loadgen --direct --rate "$RATE" --count "$STEADY" --seed 8 --metrics-listen "127.0.0.1:$(port)" >/dev/null
for sink in sink-mongo sink-postgres; do
  wait_produced "$sink" "$STEADY"
  echo "steady: $sink peak RSS $(peak_mb "$sink") MB"
done
for role in router sink-mongo sink-postgres; do stop "$role"; done
