#!/usr/bin/env bash
# Workload benchmarks on loopback against the test bench (source its env file first):
#   1. produce throughput: `kapture-worker loadgen --direct` vs kcat producing the same
#      pre-generated payloads (`loadgen --dump`), interleaved runs, median of ROUNDS;
#   2. order service: requests/s and latency percentiles under load (loadgen over HTTP);
#   3. peak RSS of every role (/usr/bin/time -v) during a full flow.
#
#   scripts/bench/workload.sh [--no-build]
#
# Env: KAPTURE_TEST_KAFKA, KAPTURE_TEST_REDIS, KAPTURE_TEST_POSTGRES (scripts/testbench),
# BENCH_MESSAGES (default 200000), BENCH_ROUNDS (5), BENCH_HTTP_REQUESTS (50000),
# BENCH_CONCURRENCY (64). Needs kcat and /usr/bin/time (Debian: kcat, time).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
N="${BENCH_MESSAGES:-200000}"
ROUNDS="${BENCH_ROUNDS:-5}"
HTTP_N="${BENCH_HTTP_REQUESTS:-50000}"
CONC="${BENCH_CONCURRENCY:-64}"

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
cleanup() {
  for p in "${PIDS[@]}"; do pkill -TERM -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
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

echo "== produce throughput: $N messages, $ROUNDS interleaved rounds" >&2
"$W" loadgen --dump "$WORK/payloads.jsonl" --count "$N" --seed 7
bytes=$(stat -c %s "$WORK/payloads.jsonl")
# kcat gets the same keys (the transaction id, which the model writes first): "id<TAB>json".
sed -E 's/^\{"id":"([^"]*)"/\1\t&/' "$WORK/payloads.jsonl" >"$WORK/keyed.tsv"
ours=(); theirs=()
for i in $(seq 1 "$ROUNDS"); do
  topic_k="${RUN}k$i.transactions"
  # Create both flows' topics beforehand the same way (the topic Job's part), so both runs
  # start alike.
  "$W" create-topics --topic-prefix "${RUN}k$i." 2>/dev/null
  "$W" create-topics --topic-prefix "${RUN}w$i." 2>/dev/null
  # Same producer settings as the worker: idempotent, acks=all, lz4, linger 5 ms.
  start=$(date +%s.%N)
  kcat -P -b "$KAPTURE_TEST_KAFKA" -t "$topic_k" -X enable.idempotence=true -X acks=all \
    -X compression.type=lz4 -X linger.ms=5 -X queue.buffering.max.messages=200000 -K $'\t' -l "$WORK/keyed.tsv"
  end=$(date +%s.%N)
  theirs+=("$(python3 -c "print($N/($end-$start))")")
  # Both are timed from outside, process start to exit (connect, produce, flush).
  start=$(date +%s.%N)
  summary=$("$W" loadgen --direct --rate 0 --count "$N" --seed 7 --topic-prefix "${RUN}w$i." \
    --metrics-listen "127.0.0.1:$(port)")
  end=$(date +%s.%N)
  [[ "$(echo "$summary" | json "['acked']")" == "$N" ]] || die "loadgen --direct lost messages: $summary"
  ours+=("$(python3 -c "print($N/($end-$start))")")
  echo "round $i: kcat ${theirs[-1]} msg/s, loadgen --direct ${ours[-1]} msg/s" >&2
done
kcat_med=$(printf '%s\n' "${theirs[@]}" | median)
ours_med=$(printf '%s\n' "${ours[@]}" | median)

echo "== order service under load: $HTTP_N requests, concurrency $CONC" >&2
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
/usr/bin/time -v -o "$WORK/rss-loadgen" "$W" loadgen --order-service-url "http://127.0.0.1:$api" --rate 0 \
  --concurrency "$CONC" --count "$HTTP_N" --metrics-listen "127.0.0.1:$(port)" >"$WORK/http.json"
sleep 5 # let the router and sinks drain
# SIGTERM the roles themselves (children of /usr/bin/time), so time(1) writes its report.
for p in "${PIDS[@]}"; do pkill -TERM -P "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
PIDS=()
rps=$(json "['acked_per_s']" <"$WORK/http.json")
p50=$(json "['latency']['p50_ms']" <"$WORK/http.json")
p99=$(json "['latency']['p99_ms']" <"$WORK/http.json")
failed=$(json "['failed']" <"$WORK/http.json")

rss() { awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2/1024}' "$WORK/rss-$1"; }
cat <<EOF
produce throughput ($N messages of $((bytes / N)) bytes avg, median of $ROUNDS):
  kcat:                    $(printf '%.0f' "$kcat_med") msg/s
  loadgen --direct:        $(printf '%.0f' "$ours_med") msg/s  ($(python3 -c "print(f'{$ours_med/$kcat_med:.2f}')")x kcat)
order service ($HTTP_N requests, concurrency $CONC, loopback):
  $(printf '%.0f' "$rps") requests/s, p50 ${p50} ms, p99 ${p99} ms, failed $failed
peak RSS (MB):
  order-service $(rss order-service), router $(rss router), sink-postgres $(rss sink-postgres), sink-redis $(rss sink-redis), loadgen $(rss loadgen)
EOF
