#!/usr/bin/env bash
# Deploy wall time of `kubectl kapture deploy --wait=false` against `kubectl apply --server-side`
# of the same rendered YAML, each into a fresh namespace, alternating, median of N (default 5);
# then `kubectl kapture status` wall time (median of N) and peak RSS.
# Needs the bench (scripts/testbench/start.sh --only kube) and a release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${RUNS:-5}
bench_dir=${BENCH_DIR:-$PWD/.testbench}
kubeconfig="$bench_dir/kubeconfig"
[ -f "$kubeconfig" ] || { echo "no bench at $bench_dir: run scripts/testbench/start.sh --only kube" >&2; exit 1; }
cargo build --release --locked --bin kubectl-kapture >&2
bin=${CARGO_TARGET_DIR:-target}/release/kubectl-kapture
flags=(--controllers 1 --brokers 3 --replication-factor 3)

now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

kapture_ms=(); kubectl_ms=(); namespaces=()
for i in $(seq 1 "$runs"); do
  ns_a="bench-kapture-$i-$$"; ns_b="bench-kubectl-$i-$$"; namespaces+=("$ns_a" "$ns_b")
  start=$(now_ms)
  "$bin" --kubeconfig "$kubeconfig" -n "$ns_a" deploy "${flags[@]}" --wait=false >/dev/null
  kapture_ms+=($(( $(now_ms) - start )))
  # The client dry run cannot know the cluster's versions: give kubectl the PDB version 1.20 serves.
  "$bin" -n "$ns_b" deploy "${flags[@]}" --dry-run=client -o yaml \
    | sed 's#^apiVersion: policy/v1$#apiVersion: policy/v1beta1#' > "$bench_dir/rendered.yaml"
  kubectl --kubeconfig "$kubeconfig" create namespace "$ns_b" >/dev/null
  start=$(now_ms)
  kubectl --kubeconfig "$kubeconfig" apply --server-side --field-manager kubectl-bench -f "$bench_dir/rendered.yaml" >/dev/null
  kubectl_ms+=($(( $(now_ms) - start )))
done
objects=$(grep -c '^kind:' "$bench_dir/rendered.yaml")

status_ms=()
for _ in $(seq 1 "$runs"); do
  start=$(now_ms)
  "$bin" --kubeconfig "$kubeconfig" -n "${namespaces[0]}" status >/dev/null
  status_ms+=($(( $(now_ms) - start )))
done
rss_kb=$(/usr/bin/time -f '%M' "$bin" --kubeconfig "$kubeconfig" -n "${namespaces[0]}" status 2>&1 >/dev/null | tail -1)

for ns in "${namespaces[@]}"; do
  kubectl --kubeconfig "$kubeconfig" delete namespace "$ns" --wait=false >/dev/null
done

k=$(printf '%s\n' "${kapture_ms[@]}" | median); c=$(printf '%s\n' "${kubectl_ms[@]}" | median)
s=$(printf '%s\n' "${status_ms[@]}" | median)
echo "objects per deploy: $objects; runs: $runs"
echo "kubectl kapture deploy --wait=false: ${kapture_ms[*]} ms (median $k ms)"
echo "kubectl apply --server-side -f:      ${kubectl_ms[*]} ms (median $c ms) [$(kubectl version --client 2>/dev/null | head -1)]"
echo "ratio kapture/kubectl: $(awk -v k="$k" -v c="$c" 'BEGIN {printf "%.2f", k/c}')"
echo "kubectl kapture status: ${status_ms[*]} ms (median $s ms), peak RSS $((rss_kb / 1024)) MiB"
