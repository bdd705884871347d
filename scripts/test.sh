#!/usr/bin/env bash
# The whole test suite, as CI runs it: install what the tests need (idempotent, cached under
# $HOME/.cache), start the bench (servers on 127.0.0.1 and a real single-node cluster on its
# own bridge), then fmt, clippy, the kapture-worker image from this tree's release binary, and
# every test. The servers are stopped by PID on exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/testbench/install.sh
bench_dir="$PWD/.testbench"
trap 'bash scripts/testbench/stop.sh "$bench_dir"' EXIT
bash scripts/testbench/start.sh "$bench_dir"
# shellcheck disable=SC1091
. "$bench_dir/env"

shellcheck -x scripts/*.sh scripts/*/*.sh scripts/testbench/images/*.sh .ci/run
# --workspace: the plugin (the default member) and the worker package.
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The image the node-tier tests deploy: this tree's worker, as the Dockerfile would package it.
cargo build --release --locked --package kapture-worker
bash scripts/testbench/images.sh worker target/release/kapture-worker "$KAPTURE_TEST_NODE_CONTAINERD"
if cargo nextest --version >/dev/null 2>&1; then
  # No package has doc tests; nextest's summary is the run's closing line.
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
