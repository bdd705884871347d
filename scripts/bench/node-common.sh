# shellcheck shell=bash
# What scripts/bench/node-*.sh share (sourced, not run; ROOT set, BUILD=1 to build the plugin,
# NS_PREFIX and KAPTURE_TIMEOUT chosen by the script): checks the bench's env, starts noida-db as
# the Kafka of namespace KAFKA_NS on the bench's node, and defines `k` (kubectl on the node),
# `kapture` (the release plugin in namespace NS, bounded) and `deploy RATE GENERATORS` (Kapture
# as tests/node_flow.rs deploys it). Both namespaces go when the script exits.
# shellcheck source=scripts/testbench/lib.sh
. "$ROOT/scripts/testbench/lib.sh"

die() { echo "bench: $*" >&2; exit 1; }
for v in KAPTURE_TEST_NODE_KUBECONFIG KAPTURE_TEST_IMAGE_NOIDA KAPTURE_TEST_IMAGE_WORKER \
  KAPTURE_TEST_IMAGE_REDIS KAPTURE_TEST_IMAGE_POSTGRES; do
  [[ -n "${!v:-}" ]] || die "$v is not set (source the test bench env file)"
done

TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
if ((BUILD)); then
  (cd "$ROOT" && cargo build --release -p kubectl-kapture >&2)
fi
PLUGIN="$TARGET/release/kubectl-kapture"
KAFKA_NS="bench-kafka-$$"
NS="$NS_PREFIX-$$"
k() { kubectl --kubeconfig "$KAPTURE_TEST_NODE_KUBECONFIG" "$@"; }
kapture() { timeout "$KAPTURE_TIMEOUT" "$PLUGIN" --kubeconfig "$KAPTURE_TEST_NODE_KUBECONFIG" -n "$NS" "$@"; }
cleanup() {
  kapture delete --yes --namespace-too >/dev/null 2>&1 || true
  k delete namespace "$KAFKA_NS" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT

k create namespace "$KAFKA_NS" >/dev/null
tb_noida_manifest kafka "$KAPTURE_TEST_IMAGE_NOIDA" | k -n "$KAFKA_NS" apply -f - >/dev/null
k -n "$KAFKA_NS" rollout status statefulset/noida --timeout 120s >/dev/null

deploy() { # RATE GENERATORS
  kapture deploy --kafka-bootstrap "noida.$KAFKA_NS.svc.cluster.local:9092" \
    --replication-factor 1 --partitions 3 --rate "$1" --load-generators "$2" \
    --set-image "worker=$KAPTURE_TEST_IMAGE_WORKER" --set-image "redis=$KAPTURE_TEST_IMAGE_REDIS" \
    --set-image "postgres=$KAPTURE_TEST_IMAGE_POSTGRES" --wait --timeout 5m -o json >/dev/null 2>&1
}
