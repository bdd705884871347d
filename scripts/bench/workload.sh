#!/usr/bin/env bash
# Workload benchmarks on loopback against the test bench (source its env file first):
#   1. produce throughput: `kapture-worker loadgen --direct` vs kcat producing the same
#      pre-generated payloads (`loadgen --dump`), interleaved runs, median of ROUNDS. Each run
#      gets a fresh noida-db of its own (started here, stopped by PID): noida keeps every
#      message in memory and works on for seconds after a run, which would tax the next one;
#   2. order service: requests/s and latency percentiles under load (loadgen over HTTP), at
#      each concurrency of BENCH_CONCURRENCY;
#   3. peak RSS of every role (/usr/bin/time -v) during a full flow.
#
#   scripts/bench/workload.sh [--no-build]
#
# Env: KAPTURE_TEST_KAFKA, KAPTURE_TEST_REDIS, KAPTURE_TEST_POSTGRES (scripts/testbench),
# BENCH_MESSAGES (default 200000), BENCH_ROUNDS (5), BENCH_HTTP_REQUESTS (50000),
# BENCH_CONCURRENCY ("16 64 256"). Needs kcat and /usr/bin/time (Debian: kcat, time).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/testbench/lib.sh
. "$ROOT/scripts/testbench/lib.sh"
N="${BENCH_MESSAGES:-200000}"
ROUNDS="${BENCH_ROUNDS:-5}"
HTTP_N="${BENCH_HTTP_REQUESTS:-50000}"
read -ra CONCS <<<"${BENCH_CONCURRENCY:-16 64 256}"

die() { echo "bench: $*" >&2; exit 1; }
for v in KAPTURE_TEST_KAFKA KAPTURE_TEST_REDIS KAPTURE_TEST_POSTGRES; do
  [[ -n "${!v:-}" ]] || die "$v is not set (source the test bench env file)"
done
command -v kcat >/dev/null || die "kcat is missing (apt-get install kcat)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (apt-get install time)"

TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
if [[ "${1:-}" != "--no-build" ]]; then
  (cd "$ROOT" && cargo build --release -p kapture-worker >&2)
fi
W="$TARGET/release/kapture-worker"
[[ -x "$W" ]] || die "$W not built"

WORK="$(mktemp -d)"
PIDS=()
BROKER_PID=""
cleanup() {
  for p in "${PIDS[@]}" $BROKER_PID; do pkill -TERM -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

RUN="bench$(date +%s)"
pg="${KAPTURE_TEST_POSTGRES#postgres://}"
export KAPTURE_KAFKA_BOOTSTRAP="$KAPTURE_TEST_KAFKA" KAPTURE_REDIS_URL="$KAPTURE_TEST_REDIS"
export KAPTURE_POSTGRES_USER="${pg%%@*}" KAPTURE_POSTGRES_DB="${pg##*/}"
hostport="${pg#*@}"; hostport="${hostport%%/*}"
export KAPTURE_POSTGRES_HOST="${hostport%%:*}" KAPTURE_POSTGRES_PORT="${hostport##*:}"
export KAPTURE_LOG=warn KAPTURE_PARTITIONS=3

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# fresh_broker: a new noida-db on a free port with empty data; sets BROKER and BROKER_PID.
# Returns once it answers metadata, has the run's topics, and has gone quiet (under 5% of a
# core over a second: its start-up work is done).
fresh_broker() {
  stop_broker
  BROKER="127.0.0.1:$(port)"
  rm -rf "$WORK/broker" && mkdir -p "$WORK/broker"
  "$(tb_noida_bin)" start --data-dir "$WORK/broker" --host 127.0.0.1 --only kafka \
    --kafka-port "${BROKER##*:}" </dev/null >"$WORK/broker.log" 2>&1 &
  BROKER_PID=$!
  local i
  for i in $(seq 1 100); do kcat -L -b "$BROKER" -m 1 >/dev/null 2>&1 && break; sleep 0.2; done
  ((i < 100)) || die "noida-db did not start: $(tail -3 "$WORK/broker.log")"
  "$W" create-topics --kafka-bootstrap "$BROKER" --topic-prefix run. 2>/dev/null
  for i in $(seq 1 60); do
    local a b
    a=$(cpu_ticks "$BROKER_PID"); sleep 1; b=$(cpu_ticks "$BROKER_PID")
    ((b - a < 5)) && return 0
  done
  die "noida-db stayed busy for 60 s after its start"
}
stop_broker() {
  [[ -n "$BROKER_PID" ]] || return 0
  kill "$BROKER_PID" 2>/dev/null || true
  wait "$BROKER_PID" 2>/dev/null || true
  BROKER_PID=""
}
# msg_per_s START END
msg_per_s() { python3 -c "print($N/($2-$1))"; }

echo "== produce throughput: $N messages, $ROUNDS interleaved rounds" >&2
"$W" loadgen --dump "$WORK/payloads.jsonl" --count "$N" --seed 7
bytes=$(stat -c %s "$WORK/payloads.jsonl")
# kcat gets the same keys (the transaction id, which the model writes first): "id<TAB>json".
sed -E 's/^\{"id":"([^"]*)"/\1\t&/' "$WORK/payloads.jsonl" >"$WORK/keyed.tsv"
run_kcat() {
  # The worker's producer settings (kafka_config::producer_settings).
  kcat -P -b "$BROKER" -t run.transactions -X enable.idempotence=true -X acks=all \
    -X compression.type=lz4 -X linger.ms=5 -X queue.buffering.max.messages=200000 \
    -X enable.sparse.connections=false -K $'\t' -l "$WORK/keyed.tsv"
}
run_loadgen() {
  "$W" loadgen --direct --kafka-bootstrap "$BROKER" --rate 0 --count "$N" --seed 7 \
    --topic-prefix run. --metrics-listen "$1" >"$WORK/summary.json"
}
# timed NAME: runs NAME on a fresh broker whose topics exist already (the topic Job's part),
# timed from outside, process start to exit (connect, produce, flush); appends its msg/s to
# the array `theirs` (kcat) or `ours` (not in a subshell: the broker's PID must stay known).
timed() {
  fresh_broker
  local listen start end
  listen="127.0.0.1:$(port)"
  start=$(date +%s.%N)
  if [[ $1 == kcat ]]; then
    run_kcat
    end=$(date +%s.%N)
    theirs+=("$(msg_per_s "$start" "$end")")
  else
    run_loadgen "$listen"
    end=$(date +%s.%N)
    [[ "$(json "['acked']" <"$WORK/summary.json")" == "$N" ]] ||
      die "loadgen --direct lost messages: $(cat "$WORK/summary.json")"
    ours+=("$(msg_per_s "$start" "$end")")
  fi
}
ours=(); theirs=()
for i in $(seq 1 "$ROUNDS"); do
  # Who goes first alternates, so a drift of the machine's speed favours neither.
  if ((i % 2)); then
    timed kcat; timed loadgen
  else
    timed loadgen; timed kcat
  fi
  echo "round $i: kcat ${theirs[-1]} msg/s, loadgen --direct ${ours[-1]} msg/s" >&2
done
stop_broker
kcat_med=$(printf '%s\n' "${theirs[@]}" | median)
ours_med=$(printf '%s\n' "${ours[@]}" | median)

echo "== order service under load: $HTTP_N requests at each concurrency of: ${CONCS[*]}" >&2
mport=$(port); api=$(port)
"$W" create-topics --topic-prefix "${RUN}h." 2>/dev/null
/usr/bin/time -v -o "$WORK/rss-order-service" "$W" order-service --topic-prefix "${RUN}h." \
  --listen "127.0.0.1:$api" --metrics-listen "127.0.0.1:$mport" --redis-prefix "${RUN}h:" &
PIDS+=($!)
for _ in $(seq 1 100); do curl -sf "127.0.0.1:$mport/readyz" >/dev/null && break; sleep 0.2; done
declare -A roles=([router]="" [sink-postgres]="--postgres-schema ${RUN}" [sink-redis]="--redis-prefix ${RUN}h:")
for r in "${!roles[@]}"; do
  # shellcheck disable=SC2086
  /usr/bin/time -v -o "$WORK/rss-$r" "$W" "$r" --topic-prefix "${RUN}h." --metrics-listen "127.0.0.1:$(port)" \
    --group-instance-id "$r-0" ${roles[$r]} &
  PIDS+=($!)
done
for c in "${CONCS[@]}"; do
  /usr/bin/time -v -o "$WORK/rss-loadgen" "$W" loadgen --order-service-url "http://127.0.0.1:$api" --rate 0 \
    --concurrency "$c" --count "$HTTP_N" --metrics-listen "127.0.0.1:$(port)" >"$WORK/http-$c.json"
done
sleep 5 # let the router and sinks drain
# SIGTERM the roles themselves (children of /usr/bin/time), so time(1) writes its report.
for p in "${PIDS[@]}"; do pkill -TERM -P "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
PIDS=()
http_row() { # CONCURRENCY: one line of the order service's table
  local f="$WORK/http-$1.json"
  printf '  concurrency %3s: %6.0f requests/s, p50 %.1f ms, p99 %.1f ms, failed %s\n' "$1" \
    "$(json "['acked_per_s']" <"$f")" "$(json "['latency']['p50_ms']" <"$f")" \
    "$(json "['latency']['p99_ms']" <"$f")" "$(json "['failed']" <"$f")"
}

rss() { awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2/1024}' "$WORK/rss-$1"; }
cat <<EOF
produce throughput ($N messages of $((bytes / N)) bytes avg, median of $ROUNDS):
  kcat:                    $(printf '%.0f' "$kcat_med") msg/s
  loadgen --direct:        $(printf '%.0f' "$ours_med") msg/s  ($(python3 -c "print(f'{$ours_med/$kcat_med:.2f}')")x kcat)
order service ($HTTP_N requests per concurrency, loopback):
$(for c in "${CONCS[@]}"; do http_row "$c"; done)
peak RSS (MB):
  order-service $(rss order-service), router $(rss router), sink-postgres $(rss sink-postgres), sink-redis $(rss sink-redis), loadgen $(rss loadgen)
EOF
