#!/usr/bin/env bash
# Start the integration-test bench on 127.0.0.1 (run scripts/testbench/install.sh first).
#
#   scripts/testbench/start.sh [--only kube|kafka|redis|postgres|mongo|node]... [DIR]
#
# DIR defaults to .testbench/ in the repo root. Components (default: all):
#   kube      etcd + kube-apiserver + kube-controller-manager v1.20.2 (no kubelet, no nodes)
#   kafka     noida-db, a Kafka-protocol reimplementation (single node)
#   redis     redis-server, no persistence
#   postgres  PostgreSQL 15, trust auth, user and database `kapture`
#   mongo     noida-db again, a process of its own speaking MongoDB's wire protocol (no auth)
#   node      a whole single-node Kubernetes v1.20.2 with a real kubelet (node.sh), its images
#             imported; one per machine, needs root: a node another DIR runs is shared
# Each gets a free port. PIDs, ports and logs are kept in DIR; DIR/env has the KAPTURE_TEST_*
# exports. Components already running from DIR and healthy are reused (idempotent).
set -euo pipefail

# shellcheck source=scripts/testbench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=scripts/testbench/node.sh
source "$(dirname "${BASH_SOURCE[0]}")/node.sh"

usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

components=()
dir_arg=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --only)
      [[ $# -ge 2 ]] || usage 2
      case "$2" in
        kube | kafka | redis | postgres | mongo | node) components+=("$2") ;;
        *) tb_log "unknown component '$2'"; usage 2 ;;
      esac
      shift 2
      ;;
    --only=*)
      set -- --only "${1#--only=}" "${@:2}"
      ;;
    -h | --help) usage 0 ;;
    -*) tb_log "unknown option '$1'"; usage 2 ;;
    *)
      [[ -z "$dir_arg" ]] || usage 2
      dir_arg="$1"
      shift
      ;;
  esac
done
[[ ${#components[@]} -gt 0 ]] || components=(kube kafka redis postgres mongo node)

DIR="$(tb_dir "$dir_arg")"
LOGS="$DIR/logs"
mkdir -p "$LOGS" "$DIR/env.d"
# Postgres runs as the `postgres` user when we are root: it must be able to traverse DIR.
chmod 755 "$DIR"

WAIT_SECS="${KAPTURE_TESTBENCH_WAIT:-60}"

# --- helpers ---------------------------------------------------------------------------------

USED_PORTS=" "
# free_port: a currently unused loopback port, distinct from the others handed out by this run.
free_port() {
  local p i
  for ((i = 0; i < 20; i++)); do
    p="$(/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')"
    if [[ "$USED_PORTS" != *" $p "* ]]; then
      USED_PORTS+="$p "
      printf '%s\n' "$p"
      return 0
    fi
  done
  tb_die "could not find a free port"
}

# spawn NAME LOGFILE CMD...: start CMD in its own session (survives this script), record its PID.
spawn() {
  local name=$1 logfile=$2
  shift 2
  setsid "$@" </dev/null >>"$logfile" 2>&1 &
  local pid=$!
  printf '%s\n' "$pid" >"$DIR/$name.pid"
  readlink -f "$(command -v "$1")" >"$DIR/$name.exe"
}

# wait_until DESC NAME LOGFILE CHECK...: poll CHECK every 0.2 s for up to WAIT_SECS; fail with
# the log tail if it never succeeds or the process NAME dies.
wait_until() {
  local desc=$1 name=$2 logfile=$3
  shift 3
  local deadline=$((SECONDS + WAIT_SECS))
  while ((SECONDS < deadline)); do
    # Liveness only: right after the fork the process may not have exec'd its binary yet, so
    # tb_pid's executable check would misread a starting server as a dead one.
    if [[ -n "$name" ]] && ! tb_alive "$(<"$DIR/$name.pid")"; then
      tb_log "$name exited while waiting for: $desc; last lines of $logfile:"
      tail -n 30 "$logfile" >&2 || true
      tb_die "$name did not start"
    fi
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  tb_log "timed out after ${WAIT_SECS}s waiting for: $desc; last lines of $logfile:"
  tail -n 30 "$logfile" >&2 || true
  tb_die "$desc: not ready"
}

port_of() { cat "$DIR/$1.port"; }

write_env() { # GROUP LINES...
  local group=$1
  shift
  printf 'export %s\n' "$@" >"$DIR/env.d/$group"
}

# --- kube: etcd + kube-apiserver + kube-controller-manager ------------------------------------

kube_healthy() {
  tb_pid "$DIR" etcd >/dev/null && tb_pid "$DIR" kube-apiserver >/dev/null \
    && tb_pid "$DIR" kube-controller-manager >/dev/null && [[ -f "$DIR/kubeconfig" ]] \
    && curl -fsS --max-time 5 --cacert "$DIR/pki/ca.crt" \
      "https://127.0.0.1:$(port_of kube-apiserver)/readyz" >/dev/null 2>&1
}

write_kubeconfig() { # FILE CONTEXT USER TOKEN PORT
  local file=$1 ctx=$2 user=$3 token=$4 port=$5 ca
  ca="$(base64 -w0 <"$DIR/pki/ca.crt")"
  cat >"$file.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kapture-test
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority-data: $ca
users:
- name: $user
  user:
    token: $token
contexts:
- name: $ctx
  context:
    cluster: kapture-test
    user: $user
current-context: $ctx
preferences: {}
EOF
  chmod 600 "$file.tmp"
  mv "$file.tmp" "$file"
}

make_pki() {
  local pki="$DIR/pki"
  rm -rf "$pki"
  mkdir -p "$pki"
  # A CA and a serving certificate for 127.0.0.1/localhost (rustls needs a proper v3 chain).
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=kapture-testbench-ca" \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
    -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" \
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc" \
    >"$pki/apiserver.ext"
  openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
    -CAcreateserial -days 3650 -extfile "$pki/apiserver.ext" -out "$pki/apiserver.crt" 2>/dev/null
  # Service-account token signing keys (mandatory flags in 1.20).
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  # Static tokens: admin in system:masters; `nobody` authenticated but with no group or RBAC.
  local admin nobody
  admin="$(openssl rand -hex 16)"
  nobody="$(openssl rand -hex 16)"
  printf '%s,admin,admin,"system:masters"\n%s,nobody,nobody\n' "$admin" "$nobody" >"$pki/tokens.csv"
  printf '%s\n' "$admin" >"$pki/admin.token"
  printf '%s\n' "$nobody" >"$pki/nobody.token"
  chmod 600 "$pki"/*.key "$pki/tokens.csv" "$pki"/*.token
}

start_kube() {
  local n
  for n in kube-controller-manager kube-apiserver etcd; do tb_stop "$DIR" "$n"; done
  rm -rf "$DIR/etcd-data" "$DIR/kubeconfig" "$DIR/kubeconfig-nobody" "$DIR/env.d/kube"
  for n in kube-apiserver kube-controller-manager; do
    [[ -x "$TB_BIN/$n" ]] || tb_die "$TB_BIN/$n missing: run scripts/testbench/install.sh"
  done
  make_pki

  local etcd_port etcd_peer api_port
  etcd_port="$(free_port)"
  etcd_peer="$(free_port)"
  api_port="$(free_port)"

  tb_log "starting etcd on 127.0.0.1:$etcd_port"
  spawn etcd "$LOGS/etcd.log" etcd --name testbench --data-dir "$DIR/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-cluster "testbench=http://127.0.0.1:$etcd_peer" \
    --initial-cluster-state new --quota-backend-bytes 2147483648 \
    --snapshot-count 100000
  printf '%s\n' "$etcd_port" >"$DIR/etcd.port"
  wait_until "etcd health" etcd "$LOGS/etcd.log" \
    etcdctl --endpoints "http://127.0.0.1:$etcd_port" --dial-timeout 2s endpoint health

  tb_log "starting kube-apiserver on https://127.0.0.1:$api_port"
  mkdir -p "$DIR/pki/cert-dir"
  spawn kube-apiserver "$LOGS/kube-apiserver.log" "$TB_BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
    --secure-port "$api_port" --insecure-port 0 \
    --cert-dir "$DIR/pki/cert-dir" \
    --tls-cert-file "$DIR/pki/apiserver.crt" --tls-private-key-file "$DIR/pki/apiserver.key" \
    --client-ca-file "$DIR/pki/ca.crt" \
    --token-auth-file "$DIR/pki/tokens.csv" \
    --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$DIR/pki/sa.pub" \
    --service-account-signing-key-file "$DIR/pki/sa.key" \
    --service-cluster-ip-range 198.19.128.0/24 \
    --endpoint-reconciler-type none \
    --disable-admission-plugins ServiceAccount \
    --allow-privileged=true \
    --profiling=false
  printf '%s\n' "$api_port" >"$DIR/kube-apiserver.port"
  wait_until "kube-apiserver /readyz" kube-apiserver "$LOGS/kube-apiserver.log" \
    curl -fsS --max-time 2 --cacert "$DIR/pki/ca.crt" "https://127.0.0.1:$api_port/readyz"

  write_kubeconfig "$DIR/kubeconfig" kapture-test admin "$(<"$DIR/pki/admin.token")" "$api_port"
  write_kubeconfig "$DIR/kubeconfig-nobody" nobody nobody "$(<"$DIR/pki/nobody.token")" "$api_port"

  tb_log "starting kube-controller-manager"
  spawn kube-controller-manager "$LOGS/kube-controller-manager.log" \
    "$TB_BIN/kube-controller-manager" \
    --kubeconfig "$DIR/kubeconfig" \
    --leader-elect=false --secure-port 0 --port 0 \
    --service-account-private-key-file "$DIR/pki/sa.key" \
    --root-ca-file "$DIR/pki/ca.crt" \
    --controllers '*,-nodeipam,-nodelifecycle,-attachdetach,-persistentvolume-binder,-ttl,-bootstrapsigner,-tokencleaner' \
    --profiling=false
  # It serves no health port: ready once its serviceaccount controller made default/default.
  wait_until "kube-controller-manager (serviceaccount default/default)" kube-controller-manager \
    "$LOGS/kube-controller-manager.log" \
    curl -fsS --max-time 2 --cacert "$DIR/pki/ca.crt" \
    -H "Authorization: Bearer $(<"$DIR/pki/admin.token")" \
    "https://127.0.0.1:$api_port/api/v1/namespaces/default/serviceaccounts/default"
}

# --- kafka: noida-db -----------------------------------------------------------------------

kafka_probe() { # PORT: a Kafka Metadata round trip
  kcat -L -b "127.0.0.1:$1" -m 3 >/dev/null 2>&1
}

kafka_healthy() {
  tb_pid "$DIR" noida-db >/dev/null && kafka_probe "$(port_of noida-db)"
}

start_kafka() {
  tb_stop "$DIR" noida-db
  rm -rf "$DIR/noida-data" "$DIR/env.d/kafka"
  local bin port
  bin="$(tb_noida_bin)"
  port="$(free_port)"
  mkdir -p "$DIR/noida-data"
  tb_log "starting noida-db (Kafka protocol) on 127.0.0.1:$port"
  spawn noida-db "$LOGS/noida-db.log" "$bin" start --data-dir "$DIR/noida-data" \
    --host 127.0.0.1 --only kafka --kafka-port "$port"
  printf '%s\n' "$port" >"$DIR/noida-db.port"
  wait_until "noida-db Kafka metadata" noida-db "$LOGS/noida-db.log" kafka_probe "$port"
}

# --- mongo: noida-db's MongoDB protocol, in a process of its own ----------------------------

# mongo_probe PORT: a `hello` round trip (OP_MSG); ready when the reply says ok: 1.0. The
# request is built by hand: the bench has no MongoDB client.
mongo_probe() {
  /usr/bin/python3 - "$1" <<'EOF'
import socket, struct, sys
def cstring(s):
    return s.encode() + b"\0"
body = (b"\x10" + cstring("hello") + struct.pack("<i", 1)
        + b"\x02" + cstring("$db") + struct.pack("<i", 6) + cstring("admin"))
doc = struct.pack("<i", len(body) + 5) + body + b"\0"
payload = struct.pack("<I", 0) + b"\0" + doc
msg = struct.pack("<iiii", 16 + len(payload), 1, 0, 2013) + payload
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2) as s:
    s.settimeout(2)
    s.sendall(msg)
    reply = b""
    while len(reply) < 16 or len(reply) < struct.unpack("<i", reply[:4])[0]:
        chunk = s.recv(65536)
        if not chunk:
            break
        reply += chunk
sys.exit(0 if b"\x01ok\0" + struct.pack("<d", 1.0) in reply else 1)
EOF
}

mongo_healthy() {
  tb_pid "$DIR" noida-mongo >/dev/null && mongo_probe "$(port_of noida-mongo)"
}

start_mongo() {
  tb_stop "$DIR" noida-mongo
  rm -rf "$DIR/noida-mongo-data" "$DIR/env.d/mongo"
  local bin port
  bin="$(tb_noida_bin)"
  port="$(free_port)"
  mkdir -p "$DIR/noida-mongo-data"
  tb_log "starting noida-db (MongoDB protocol) on 127.0.0.1:$port"
  spawn noida-mongo "$LOGS/noida-mongo.log" "$bin" start --data-dir "$DIR/noida-mongo-data" \
    --host 127.0.0.1 --only mongodb --mongodb-port "$port"
  printf '%s\n' "$port" >"$DIR/noida-mongo.port"
  wait_until "noida-db MongoDB hello" noida-mongo "$LOGS/noida-mongo.log" mongo_probe "$port"
}

# --- redis ---------------------------------------------------------------------------------

redis_healthy() {
  tb_pid "$DIR" redis >/dev/null \
    && [[ "$(redis-cli -h 127.0.0.1 -p "$(port_of redis)" ping 2>/dev/null)" == PONG ]]
}

redis_ping() { [[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == PONG ]]; }

start_redis() {
  tb_stop "$DIR" redis
  rm -rf "$DIR/redis-data" "$DIR/env.d/redis"
  local port
  port="$(free_port)"
  mkdir -p "$DIR/redis-data"
  tb_log "starting redis on 127.0.0.1:$port"
  spawn redis "$LOGS/redis.log" redis-server --bind 127.0.0.1 --port "$port" \
    --save '' --appendonly no --daemonize no --dir "$DIR/redis-data" --logfile ''
  printf '%s\n' "$port" >"$DIR/redis.port"
  wait_until "redis PING" redis "$LOGS/redis.log" redis_ping "$port"
}

# --- postgres --------------------------------------------------------------------------------

PG_BIN=/usr/lib/postgresql/15/bin

as_pg() { # run a Postgres tool as the `postgres` user when we are root (initdb refuses root)
  if [[ $(id -u) -eq 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

postgres_ready() { pg_isready -q -h 127.0.0.1 -p "$1" -U kapture -d kapture; }

postgres_healthy() {
  tb_pid "$DIR" postgres >/dev/null && postgres_ready "$(port_of postgres)"
}

start_postgres() {
  tb_stop "$DIR" postgres
  tb_remove_pg_home "$DIR"
  rm -rf "$DIR/pgdata" "$DIR/env.d/postgres"
  [[ -x "$PG_BIN/initdb" ]] || tb_die "$PG_BIN/initdb missing: run scripts/testbench/install.sh"
  local port i pid="" pgdata="$DIR/pgdata" pglog="$LOGS/postgres.log" home
  port="$(free_port)"
  if [[ $(id -u) -eq 0 ]] && ! as_pg test -x "$DIR"; then
    # A parent of DIR (e.g. /root) is closed to user postgres: keep the cluster in /tmp.
    home="$(mktemp -d /tmp/kapture-testbench-pg.XXXXXX)"
    printf '%s\n' "$home" >"$DIR/postgres.home"
    chown postgres:postgres "$home"
    pgdata="$home/data"
    pglog="$home/postgres.log"
    ln -sfn "$pglog" "$LOGS/postgres.log"
    tb_log "user postgres cannot reach $DIR: cluster in $home"
  fi
  mkdir -p "$pgdata"
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres:postgres "$pgdata"
    [[ "$pglog" != "$LOGS/postgres.log" ]] || chown postgres:postgres "$LOGS"
    as_pg test -w "$pgdata" || tb_die "user postgres cannot write $pgdata"
  fi
  chmod 700 "$pgdata"
  tb_log "initdb $pgdata"
  as_pg "$PG_BIN/initdb" -D "$pgdata" -U kapture --auth=trust --encoding=UTF8 \
    --no-instructions >"$LOGS/initdb.log" 2>&1 \
    || { tail -n 20 "$LOGS/initdb.log" >&2; tb_die "initdb failed"; }
  tb_log "starting postgres on 127.0.0.1:$port"
  # No unix socket (the default directory may not exist); fsync off: test data only.
  as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -l "$pglog" -w -t "$WAIT_SECS" \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='' -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=200" \
    start >>"$LOGS/initdb.log" 2>&1 \
    || { tail -n 20 "$pglog" >&2; tb_die "pg_ctl start failed"; }
  for ((i = 0; i < 50; i++)); do
    pid="$(head -n 1 "$pgdata/postmaster.pid" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] && break
    sleep 0.1
  done
  [[ "$pid" =~ ^[0-9]+$ ]] || tb_die "no postmaster.pid in $pgdata"
  printf '%s\n' "$pid" >"$DIR/postgres.pid"
  readlink -f "$PG_BIN/postgres" >"$DIR/postgres.exe"
  printf '%s\n' "$port" >"$DIR/postgres.port"
  wait_until "postgres accepting connections" postgres "$LOGS/postgres.log" \
    pg_isready -q -h 127.0.0.1 -p "$port" -U kapture -d postgres
  as_pg createdb -h 127.0.0.1 -p "$port" -U kapture kapture \
    || tb_die "createdb kapture failed"
  wait_until "postgres database kapture" postgres "$LOGS/postgres.log" postgres_ready "$port"
}

# --- main ------------------------------------------------------------------------------------

for c in "${components[@]}"; do
  case "$c" in
    kube)
      if kube_healthy; then
        tb_log "kube: reusing apiserver on 127.0.0.1:$(port_of kube-apiserver)"
      else
        start_kube
      fi
      write_env kube "KAPTURE_TEST_KUBECONFIG=$DIR/kubeconfig" \
        "KAPTURE_TEST_KUBECONFIG_NOBODY=$DIR/kubeconfig-nobody"
      ;;
    kafka)
      if kafka_healthy; then
        tb_log "kafka: reusing noida-db on 127.0.0.1:$(port_of noida-db)"
      else
        start_kafka
      fi
      write_env kafka "KAPTURE_TEST_KAFKA=127.0.0.1:$(port_of noida-db)"
      ;;
    redis)
      if redis_healthy; then
        tb_log "redis: reusing redis on 127.0.0.1:$(port_of redis)"
      else
        start_redis
      fi
      write_env redis "KAPTURE_TEST_REDIS=redis://127.0.0.1:$(port_of redis)"
      ;;
    postgres)
      if postgres_healthy; then
        tb_log "postgres: reusing postgres on 127.0.0.1:$(port_of postgres)"
      else
        start_postgres
      fi
      write_env postgres \
        "KAPTURE_TEST_POSTGRES=postgres://kapture@127.0.0.1:$(port_of postgres)/kapture"
      ;;
    mongo)
      if mongo_healthy; then
        tb_log "mongo: reusing noida-db on 127.0.0.1:$(port_of noida-mongo)"
      else
        start_mongo
      fi
      write_env mongo "KAPTURE_TEST_MONGO_URL=mongodb://127.0.0.1:$(port_of noida-mongo)"
      ;;
    node)
      ndir="$DIR/node"
      owner="$(cat "$TB_NODE_OWNER" 2>/dev/null || true)"
      if node_healthy "$ndir"; then
        tb_log "node: reusing $NODE_NAME (kube-apiserver https://$NODE_IP:$(<"$ndir/kube-apiserver.port"))"
      elif [[ -n "$owner" && "$owner" != "$ndir" ]] && node_healthy "$owner"; then
        # One node per machine: share the running one (tests use namespaces of their own);
        # its own bench directory stops it, this one never does.
        tb_log "node: sharing $NODE_NAME of the bench in $(dirname "$owner")"
        ndir="$owner"
      else
        node_start "$ndir" "$(free_port)" "$(free_port)" "$(free_port)"
      fi
      write_env node "KAPTURE_TEST_NODE_KUBECONFIG=$ndir/kubeconfig" "KAPTURE_TEST_NODE_IP=$NODE_IP" \
        "KAPTURE_TEST_NODE_CONTAINERD=$(node_sock "$ndir")" \
        "KAPTURE_TEST_IMAGE_REDIS=$TB_IMAGE_REDIS" "KAPTURE_TEST_IMAGE_POSTGRES=$TB_IMAGE_POSTGRES" \
        "KAPTURE_TEST_IMAGE_NOIDA=$TB_IMAGE_NOIDA" "KAPTURE_TEST_IMAGE_WORKER=$TB_IMAGE_WORKER"
      ;;
  esac
done

# DIR/env: the fragments of every group whose servers are still recorded as alive.
{
  printf '# written by scripts/testbench/start.sh; source it: . %s/env\n' "$DIR"
  if [[ -f "$DIR/env.d/kube" ]] && tb_pid "$DIR" kube-apiserver >/dev/null; then cat "$DIR/env.d/kube"; fi
  if [[ -f "$DIR/env.d/kafka" ]] && tb_pid "$DIR" noida-db >/dev/null; then cat "$DIR/env.d/kafka"; fi
  if [[ -f "$DIR/env.d/redis" ]] && tb_pid "$DIR" redis >/dev/null; then cat "$DIR/env.d/redis"; fi
  if [[ -f "$DIR/env.d/postgres" ]] && tb_pid "$DIR" postgres >/dev/null; then cat "$DIR/env.d/postgres"; fi
  if [[ -f "$DIR/env.d/mongo" ]] && tb_pid "$DIR" noida-mongo >/dev/null; then cat "$DIR/env.d/mongo"; fi
  if [[ -f "$DIR/env.d/node" ]]; then cat "$DIR/env.d/node"; fi
} >"$DIR/env.tmp"
mv "$DIR/env.tmp" "$DIR/env"
tb_log "ready; run: source $DIR/env"
cat "$DIR/env"
