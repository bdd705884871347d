#!/usr/bin/env bash
# The whole test suite, as CI runs it: install what the tests need (idempotent, cached under
# $HOME/.cache), start the bench servers on 127.0.0.1, then fmt, clippy and every test.
# The servers are stopped by PID on exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/testbench/install.sh
bench_dir="$PWD/.testbench"
trap 'bash scripts/testbench/stop.sh "$bench_dir"' EXIT
bash scripts/testbench/start.sh "$bench_dir"
# shellcheck disable=SC1091
. "$bench_dir/env"

cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
  # The crate has no doc tests; nextest's summary is the run's closing line.
  cargo nextest run --locked --no-fail-fast
else
  cargo test --locked --no-fail-fast
fi
