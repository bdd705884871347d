#!/usr/bin/env bash
# `kubectl kapture bench` on the bench's real node, with one and with two load generators:
# deploys Kapture as tests/node_flow.rs does (noida-db as the Kafka of --kafka-bootstrap), runs
# the ramp for each generator count, prints both tables and writes each report directory.
#
#   scripts/bench/node-bench.sh [--no-build] [REPORT_DIR]     (default REPORT_DIR: ./bench-node)
#
# Env: KAPTURE_TEST_NODE_KUBECONFIG and KAPTURE_TEST_IMAGE_* (scripts/testbench/start.sh; the
# worker image built from this tree by scripts/testbench/images.sh), BENCH_STEPS (10),
# BENCH_STEP_DURATION (30s), BENCH_RATE_STEP (250: per generator, also the first step),
# BENCH_GENERATORS ("1 2"). Keep the machine otherwise idle: the node's CPU is what is measured.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STEPS="${BENCH_STEPS:-10}"
STEP_DURATION="${BENCH_STEP_DURATION:-30s}"
RATE_STEP="${BENCH_RATE_STEP:-250}"
read -ra GENERATORS <<<"${BENCH_GENERATORS:-1 2}"
BUILD=1
if [[ "${1:-}" == "--no-build" ]]; then
  BUILD=0
  shift
fi
REPORTS="${1:-bench-node}"
NS_PREFIX=bench-ramp KAPTURE_TIMEOUT=1800
# shellcheck source=scripts/bench/node-common.sh
. "$ROOT/scripts/bench/node-common.sh"
deploy 100 1

for gens in "${GENERATORS[@]}"; do
  echo "== $gens load generator(s), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  kapture bench --load-generators "$gens" --rate "$RATE_STEP" --rate-step "$RATE_STEP" \
    --steps "$STEPS" --step-duration "$STEP_DURATION" --warm-up 10s --stop-on-break --yes \
    --report "$REPORTS/generators-$gens" || echo "(bench exited $?)"
done
