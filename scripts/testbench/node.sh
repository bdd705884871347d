# shellcheck shell=bash
# The bench's node tier (sourced by start.sh and stop.sh, after lib.sh): a real single-node
# Kubernetes v1.20.2 on this machine. etcd, kube-apiserver, kube-controller-manager (every
# controller), kube-scheduler, containerd + runc, kubelet, kube-proxy (iptables) and cluster DNS
# (dnsmasq fed by dns-sync.py), with the images of images.sh imported. State in DIR/node.
#
# Addresses: the node is 198.18.0.1, the gateway address of its own bridge kapture0; pods get
# 198.18.0.0/24, Services 198.19.0.0/17 (DNS 198.19.0.10). Both are in 198.18.0.0/15, reserved
# for benchmarks, and no packet of the node leaves this machine:
#   - KAPTURE-NODE-EGRESS (FORWARD) lets pod traffic out only through the bridge;
#   - KAPTURE-NODE-OUT (OUTPUT) refuses service addresses kube-proxy has not DNATed yet (a pod
#     that starts with its Service) and every 198.18.0.0/15 address off the pod subnet;
#   - containerd sends every image pull to a closed local port (a missing image fails at once
#     with ErrImagePull); DNS answers cluster.local and nothing else.
# One node per machine: it owns the bridge kapture0, the kubelet's ports 10250/10248 and
# kube-proxy's 10249/10256, port 53 on 198.18.0.1 and the NodePorts.

NODE_NAME=kapture-node
NODE_IP=198.18.0.1
NODE_POD_CIDR=198.18.0.0/24
NODE_CLUSTER_CIDR=198.18.0.0/16
NODE_SERVICE_CIDR=198.19.0.0/17
NODE_BENCH_RANGE=198.18.0.0/15
NODE_SERVICE_IP1=198.19.0.1
NODE_DNS_IP=198.19.0.10
NODE_BRIDGE=kapture0
# Stop order: dependants first. dns-sync is a python3 script: its recorded exe is python's.
NODE_SERVERS=(kube-controller-manager kube-scheduler kube-proxy kubelet dns-sync dnsmasq containerd
  kube-apiserver etcd)

node_sock() { printf '%s/containerd/containerd.sock\n' "$1"; }

# node_spawn NDIR NAME CMD...: start CMD in its own session, record PID and executable.
node_spawn() {
  local ndir=$1 name=$2
  shift 2
  setsid "$@" </dev/null >>"$ndir/logs/$name.log" 2>&1 &
  printf '%s\n' "$!" >"$ndir/$name.pid"
  readlink -f "$(command -v "$1")" >"$ndir/$name.exe"
}

node_alive_or_die() { # NDIR NAME...
  local ndir=$1 name
  shift
  for name in "$@"; do
    if ! tb_alive "$(<"$ndir/$name.pid")"; then
      tb_log "$name exited; last lines of $ndir/logs/$name.log:"
      tail -n 30 "$ndir/logs/$name.log" >&2 || true
      tb_die "node: $name did not start"
    fi
  done
}

node_api() { # NDIR CURL-ARGS...: a request to the node's apiserver as admin
  local ndir=$1
  shift
  curl -fsS --max-time 5 --cacert "$ndir/pki/ca.crt" \
    -H "Authorization: Bearer $(<"$ndir/pki/admin.token")" "$@"
}

node_healthy() { # NDIR: every process alive and the node Ready
  local ndir=$1 name
  [[ -f "$ndir/kubeconfig" ]] || return 1
  for name in "${NODE_SERVERS[@]}"; do tb_pid "$ndir" "$name" >/dev/null || return 1; done
  node_ready "$ndir"
}

node_ready() { # NDIR: the Node object says Ready
  local ndir=$1
  node_api "$ndir" "https://$NODE_IP:$(<"$ndir/kube-apiserver.port")/api/v1/nodes/$NODE_NAME" \
    2>/dev/null | python3 -c 'import json, sys
try:
    conditions = json.load(sys.stdin)["status"]["conditions"]
except (ValueError, KeyError):
    sys.exit(1)  # no answer yet, or no Node object yet: not Ready
sys.exit(0 if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions) else 1)'
}

node_pki() { # NDIR
  local p="$1/pki"
  rm -rf "$p"
  mkdir -p "$p"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=kapture-node-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$p/ca.key" -out "$p/ca.crt" 2>/dev/null
  leaf() { # NAME SUBJECT SAN: a certificate for server and client use, signed by the CA
    openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$p/$1.key" -out "$p/$1.csr" 2>/dev/null
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nsubjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' \
      "$3" >"$p/$1.ext"
    openssl x509 -req -in "$p/$1.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial \
      -days 3650 -extfile "$p/$1.ext" -out "$p/$1.crt" 2>/dev/null
  }
  leaf apiserver /CN=kube-apiserver \
    "IP:$NODE_IP,IP:127.0.0.1,IP:$NODE_SERVICE_IP1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  # The apiserver's client certificate towards the kubelet (exec, logs, port-forward, proxy).
  leaf kubelet "/CN=$NODE_NAME" "IP:$NODE_IP,DNS:$NODE_NAME,DNS:localhost"
  leaf apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" \
    "DNS:kube-apiserver"
  openssl genrsa -out "$p/sa.key" 2048 2>/dev/null
  openssl rsa -in "$p/sa.key" -pubout -out "$p/sa.pub" 2>/dev/null
  openssl rand -hex 16 >"$p/admin.token"
  openssl rand -hex 16 >"$p/nobody.token"
  printf '%s,admin,admin,"system:masters"\n%s,nobody,nobody\n' \
    "$(<"$p/admin.token")" "$(<"$p/nobody.token")" >"$p/tokens.csv"
  chmod 600 "$p"/*.key "$p"/*.token "$p/tokens.csv"
}

node_kubeconfig() { # NDIR PORT
  local ndir=$1 port=$2 ca
  ca="$(base64 -w0 <"$ndir/pki/ca.crt")"
  cat >"$ndir/kubeconfig.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kapture-node
  cluster:
    server: https://$NODE_IP:$port
    certificate-authority-data: $ca
users:
- name: admin
  user:
    token: $(<"$ndir/pki/admin.token")
- name: nobody
  user:
    token: $(<"$ndir/pki/nobody.token")
contexts:
- name: kapture-node
  context: {cluster: kapture-node, user: admin}
- name: kapture-node-nobody
  context: {cluster: kapture-node, user: nobody}
current-context: kapture-node
EOF
  chmod 600 "$ndir/kubeconfig.tmp"
  mv "$ndir/kubeconfig.tmp" "$ndir/kubeconfig"
}

# The bridge exists before anything binds the node address; the CNI bridge plugin adopts it.
node_network() { # NDIR
  local ndir=$1 s
  : >"$ndir/sysctl.before"
  for s in net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables; do
    printf '%s=%s\n' "$s" "$(sysctl -n "$s")" >>"$ndir/sysctl.before"
    sysctl -qw "$s=1"
  done
  ls /var/run/netns 2>/dev/null >"$ndir/netns.before" || : >"$ndir/netns.before"
  ip link add "$NODE_BRIDGE" type bridge
  ip addr add "$NODE_IP/24" dev "$NODE_BRIDGE"
  ip link set "$NODE_BRIDGE" up
  iptables -N KAPTURE-NODE-EGRESS 2>/dev/null || iptables -F KAPTURE-NODE-EGRESS
  iptables -A KAPTURE-NODE-EGRESS -s "$NODE_CLUSTER_CIDR" ! -o "$NODE_BRIDGE" -j REJECT
  iptables -C FORWARD -j KAPTURE-NODE-EGRESS 2>/dev/null || iptables -I FORWARD 1 -j KAPTURE-NODE-EGRESS
  iptables -N KAPTURE-NODE-OUT 2>/dev/null || iptables -F KAPTURE-NODE-OUT
  iptables -A KAPTURE-NODE-OUT -d "$NODE_SERVICE_CIDR" -j REJECT
  iptables -A KAPTURE-NODE-OUT -d "$NODE_POD_CIDR" -j RETURN
  iptables -A KAPTURE-NODE-OUT -d "$NODE_BENCH_RANGE" -j REJECT
  iptables -C OUTPUT -j KAPTURE-NODE-OUT 2>/dev/null || iptables -I OUTPUT 1 -j KAPTURE-NODE-OUT
}

node_containerd_config() { # NDIR
  local c="$1/containerd" reg
  mkdir -p "$c" "$1/cni/net.d" "$1/cni/ipam"
  cat >"$c/config.toml" <<EOF
version = 2
root = "$c/root"
state = "$c/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$c/containerd.sock"
[ttrpc]
  address = "$c/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$TB_IMAGE_PAUSE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # Root on this kind of VM lacks CAP_SYS_RESOURCE: nothing may lower oom_score_adj, and the
  # kubelet asks -998 for sandboxes, which runc then fails to set ("can't get final child's
  # PID from pipe: EOF"). Clamp every score to containerd's own instead.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$1/cni/net.d"
  # No pull may leave the machine: every registry is a closed local port.
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$c/certs.d"
EOF
  for reg in _default docker.io registry-1.docker.io registry.k8s.io k8s.gcr.io gcr.io ghcr.io \
    quay.io mcr.microsoft.com public.ecr.aws localhost; do
    mkdir -p "$c/certs.d/$reg"
    printf 'server = "http://127.0.0.1:9"\n\n[host."http://127.0.0.1:9"]\n  capabilities = ["pull", "resolve"]\n' \
      >"$c/certs.d/$reg/hosts.toml"
  done
  cat >"$1/cni/net.d/10-kapture.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "kapture",
  "plugins": [
    {"type": "bridge", "bridge": "$NODE_BRIDGE", "isGateway": true, "ipMasq": false,
     "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$NODE_POD_CIDR", "gateway": "$NODE_IP"}]],
              "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$1/cni/ipam"}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
}

node_kubelet_config() { # NDIR
  local ndir=$1
  mkdir -p "$ndir/manifests" "$ndir/kubelet"
  cat >"$ndir/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $ndir/pki/kubelet.crt
tlsPrivateKeyFile: $ndir/pki/kubelet.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $ndir/pki/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
clusterDNS: [$NODE_DNS_IP]
clusterDomain: cluster.local
failSwapOn: false
staticPodPath: $ndir/manifests
resolvConf: $ndir/resolv.conf
serializeImagePulls: false
# No image garbage collection: nothing can be pulled back. Eviction by absolute free space: a
# development disk is often more than 85 % full.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "200Mi", nodefs.available: "1Gi", nodefs.inodesFree: "5%", imagefs.available: "1Gi"}
evictionPressureTransitionPeriod: 30s
nodeStatusUpdateFrequency: 4s
EOF
  # Pods with dnsPolicy Default inherit this: the cluster DNS too, never an outside resolver.
  printf 'nameserver %s\n' "$NODE_IP" >"$ndir/resolv.conf"
  cat >"$ndir/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $ndir/kubeconfig}
mode: iptables
clusterCIDR: $NODE_CLUSTER_CIDR
hostnameOverride: $NODE_NAME
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack: {maxPerCore: 0}
EOF
}

# The kube-dns Service points at dnsmasq on the node through a hand-made Endpoints object.
node_dns_service() { # NDIR API
  local ndir=$1 api=$2
  node_api "$ndir" -H 'Content-Type: application/json' -X POST \
    "$api/api/v1/namespaces/kube-system/services" -o /dev/null -d @- <<EOF
{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kube-dns", "labels": {"k8s-app": "kube-dns"}},
 "spec": {"clusterIP": "$NODE_DNS_IP", "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                                                 {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}}
EOF
  node_api "$ndir" -H 'Content-Type: application/json' -X POST \
    "$api/api/v1/namespaces/kube-system/endpoints" -o /dev/null -d @- <<EOF
{"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "kube-dns"},
 "subsets": [{"addresses": [{"ip": "$NODE_IP"}],
              "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                        {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}]}
EOF
}

node_start() { # NDIR ETCD_PORT ETCD_PEER_PORT API_PORT
  local ndir=$1 etcd_port=$2 etcd_peer=$3 api_port=$4 b started=$SECONDS
  for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy pause; do
    [[ -x "$TB_BIN/$b" ]] || tb_die "$TB_BIN/$b missing: run scripts/testbench/install.sh"
  done
  [[ -f "$TB_CACHE/images/stamp" ]] || tb_die "node images missing: run scripts/testbench/install.sh"
  node_stop "$ndir"   # what a crashed or killed earlier start of this DIR left behind
  if ip link show "$NODE_BRIDGE" >/dev/null 2>&1 || ss -Hltn 'sport = :10250' | grep -q .; then
    local owner="an unknown process"
    [[ -f "$TB_NODE_OWNER" ]] && owner="the bench in $(dirname "$(<"$TB_NODE_OWNER")")"
    tb_die "one node per machine: $owner holds the bridge $NODE_BRIDGE or port 10250 (stop it with its stop.sh, or source its env to share its node)"
  fi
  mkdir -p "$ndir/logs"
  printf '%s\n' "$ndir" >"$TB_NODE_OWNER"
  node_pki "$ndir"
  node_network "$ndir"
  node_containerd_config "$ndir"

  tb_log "node: starting etcd, kube-apiserver on https://$NODE_IP:$api_port, containerd"
  node_spawn "$ndir" etcd etcd --name node --data-dir "$ndir/etcd-data" --unsafe-no-fsync \
    --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-cluster "node=http://127.0.0.1:$etcd_peer"
  printf '%s\n' "$api_port" >"$ndir/kube-apiserver.port"
  node_spawn "$ndir" kube-apiserver "$TB_BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port "$api_port" \
    --insecure-port 0 --cert-dir "$ndir/pki" \
    --tls-cert-file "$ndir/pki/apiserver.crt" --tls-private-key-file "$ndir/pki/apiserver.key" \
    --client-ca-file "$ndir/pki/ca.crt" --token-auth-file "$ndir/pki/tokens.csv" \
    --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$ndir/pki/sa.pub" \
    --service-account-signing-key-file "$ndir/pki/sa.key" \
    --service-cluster-ip-range "$NODE_SERVICE_CIDR" --allow-privileged=true \
    --kubelet-preferred-address-types InternalIP,Hostname \
    --kubelet-certificate-authority "$ndir/pki/ca.crt" \
    --kubelet-client-certificate "$ndir/pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$ndir/pki/apiserver-kubelet-client.key" --profiling=false
  node_spawn "$ndir" containerd containerd --config "$ndir/containerd/config.toml"
  local sock i
  sock="$(node_sock "$ndir")"
  for ((i = 0; i < 100; i++)); do
    [[ -S "$sock" ]] && break
    node_alive_or_die "$ndir" containerd
    sleep 0.1
  done
  # Imports take seconds: do them while the apiserver starts.
  bash "$TB_REPO/scripts/testbench/images.sh" import "$sock" >"$ndir/logs/images.log" 2>&1 &
  local import_pid=$!

  local api="https://$NODE_IP:$api_port"
  for ((i = 0; i < 300; i++)); do
    node_api "$ndir" "$api/readyz" >/dev/null 2>&1 && break
    node_alive_or_die "$ndir" etcd kube-apiserver
    sleep 0.2
  done
  node_api "$ndir" "$api/readyz" >/dev/null || tb_die "node: kube-apiserver not ready after 60 s"
  node_kubeconfig "$ndir" "$api_port"
  node_kubelet_config "$ndir"

  node_spawn "$ndir" kube-controller-manager "$TB_BIN/kube-controller-manager" \
    --kubeconfig "$ndir/kubeconfig" --leader-elect=false --bind-address 127.0.0.1 \
    --secure-port 0 --port 0 --service-account-private-key-file "$ndir/pki/sa.key" \
    --root-ca-file "$ndir/pki/ca.crt" --use-service-account-credentials=false \
    --controllers '*' --profiling=false
  node_spawn "$ndir" kube-scheduler "$TB_BIN/kube-scheduler" --kubeconfig "$ndir/kubeconfig" \
    --leader-elect=false --port 0 --bind-address 127.0.0.1 --secure-port 0 --profiling=false
  wait "$import_pid" || { tail -n 20 "$ndir/logs/images.log" >&2; tb_die "node: image import failed"; }

  node_spawn "$ndir" kubelet "$TB_BIN/kubelet" --config "$ndir/kubelet.yaml" \
    --kubeconfig "$ndir/kubeconfig" --root-dir "$ndir/kubelet" --hostname-override "$NODE_NAME" \
    --node-ip "$NODE_IP" --container-runtime remote \
    --container-runtime-endpoint "unix://$sock" --image-service-endpoint "unix://$sock" \
    --pod-infra-container-image "$TB_IMAGE_PAUSE" --v 1
  node_spawn "$ndir" kube-proxy "$TB_BIN/kube-proxy" --config "$ndir/kube-proxy.yaml" --v 1

  mkdir -p "$ndir/dns/hosts.d"
  : >"$ndir/dns/hosts.d/cluster"
  node_spawn "$ndir" dns-sync /usr/bin/python3 "$TB_REPO/scripts/testbench/dns-sync.py" \
    "https://$NODE_IP:$api_port" "$ndir/pki/admin.token" "$ndir/pki/ca.crt" "$ndir/dns/hosts.d/cluster"
  # No upstream server: names outside cluster.local are refused, so nothing asks outside.
  node_spawn "$ndir" dnsmasq dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv \
    --no-hosts --local=/cluster.local/ --local=/18.198.in-addr.arpa/ --local=/19.198.in-addr.arpa/ \
    --hostsdir="$ndir/dns/hosts.d" --listen-address="$NODE_IP" --bind-interfaces --port=53 \
    --local-ttl=1 --user=root --pid-file="$ndir/dns/dnsmasq.pid" --log-facility=-
  node_dns_service "$ndir" "$api"

  for ((i = 0; i < 600; i++)); do
    node_ready "$ndir" && break
    node_alive_or_die "$ndir" "${NODE_SERVERS[@]}"
    sleep 0.5
  done
  node_healthy "$ndir" || tb_die "node: $NODE_NAME not Ready after 5 min (see $ndir/logs/kubelet.log; its processes are left running for a look: stop.sh stops them)"
  tb_log "node: $NODE_NAME Ready after $((SECONDS - started)) s"
}

# Stops what NDIR recorded and undoes the host changes: pods first through the kubelet (CNI
# teardown, volume unmounts), then leftover containers, then mounts, network namespaces the node
# created, the bridge, the iptables chains of kube-proxy, CNI and the guards, and the sysctls.
node_stop() ( # NDIR; a subshell without errexit: every step is best effort
  set +e
  local ndir=$1 sock api ns t c i
  [[ -d "$ndir" ]] || exit 0
  sock="$(node_sock "$ndir")"
  tb_stop "$ndir" kube-controller-manager
  tb_stop "$ndir" kube-scheduler
  if tb_pid "$ndir" kube-apiserver >/dev/null && tb_pid "$ndir" kubelet >/dev/null; then
    api="https://$NODE_IP:$(<"$ndir/kube-apiserver.port")"
    for ns in $(node_api "$ndir" "$api/api/v1/namespaces" 2>/dev/null | python3 -c 'import json, sys
for item in json.load(sys.stdin).get("items", []): print(item["metadata"]["name"])' 2>/dev/null); do
      node_api "$ndir" -X DELETE "$api/api/v1/namespaces/$ns/pods?gracePeriodSeconds=0" \
        -o /dev/null 2>/dev/null || true
    done
    for ((i = 0; i < 60; i++)); do
      [[ -z "$(ctr -a "$sock" -n k8s.io tasks ls -q 2>/dev/null)" ]] && break
      sleep 0.5
    done
  fi
  local name
  for name in kube-proxy kubelet dns-sync dnsmasq; do tb_stop "$ndir" "$name"; done
  [[ -f "$ndir/kube-proxy.yaml" ]] && "$TB_BIN/kube-proxy" --cleanup >/dev/null 2>&1
  if tb_pid "$ndir" containerd >/dev/null; then
    for t in $(ctr -a "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr -a "$sock" -n k8s.io tasks kill -s SIGKILL "$t" >/dev/null 2>&1
    done
    sleep 1
    for t in $(ctr -a "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr -a "$sock" -n k8s.io tasks delete -f "$t" >/dev/null 2>&1
    done
    for c in $(ctr -a "$sock" -n k8s.io containers ls -q 2>/dev/null); do
      ctr -a "$sock" -n k8s.io containers delete "$c" >/dev/null 2>&1
    done
  fi
  for name in containerd kube-apiserver etcd; do tb_stop "$ndir" "$name"; done
  findmnt -rn -o TARGET | grep "^$ndir/" | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  if [[ -f "$ndir/netns.before" ]]; then
    for ns in /var/run/netns/cni-*; do
      [[ -e "$ns" ]] || continue
      grep -qx "$(basename "$ns")" "$ndir/netns.before" && continue
      umount "$ns" 2>/dev/null
      rm -f "$ns"
    done
  fi
  if [[ -f "$TB_NODE_OWNER" && "$(<"$TB_NODE_OWNER")" == "$ndir" ]]; then
    ip link del "$NODE_BRIDGE" 2>/dev/null
    for t in iptables ip6tables; do
      "$t-save" 2>/dev/null | grep -vE -- '(KUBE-|CNI-|KAPTURE-NODE-)' | "$t-restore" 2>/dev/null
    done
    rm -f "$TB_NODE_OWNER"
  fi
  if [[ -f "$ndir/sysctl.before" ]]; then
    while IFS= read -r kv; do sysctl -qw "$kv" 2>/dev/null; done <"$ndir/sysctl.before"
  fi
  rm -rf "$ndir"
  exit 0
)
