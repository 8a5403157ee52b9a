#!/usr/bin/env bash
# Lab implementation of the Kubernetes-cluster node contract
# (scripts/k8s/README.md): the same actions, environment and files as the
# production script, with real components started directly instead of
# kubeadm, so that the management driver's whole path runs for real on one
# machine: an etcd member, a kube-apiserver and HAProxy on every master, and
# kwok as each node's kubelet (it keeps the node's Node object Ready and
# runs its pods). The lab builds the package with @LAB@ (its directory: PKI,
# fault switches) and @BIN@ (the cached binaries) filled in.
#
# What this lab script does differently from kubeadm, knowingly:
#   - certificates come from the lab's PKI directory (kubeadm copies them
#     through the kubeadm-certs Secret): upload-certs stores the key's hash
#     in that Secret and join-master checks it with the bootstrap token;
#   - the joining node reads the CA from the lab (kubeadm fetches the
#     cluster-info ConfigMap) and checks K8S_CA_CERT_HASH against it;
#   - kwok uses the lab's admin token (a kubelet would do TLS bootstrap);
#   - the VIP is added to the first master's eth0 (keepalived's job).
set -euo pipefail

LAB=@LAB@
BIN=@BIN@
PKI=$LAB/pki
STATE=/var/lib/lab
action=${1:-}

log() { printf '%s lab-node[%s]: %s\n' "$(date -u +%T)" "${K8S_NODE_NAME:-?}" "$*" >&2; }
die() { log "error: $*"; exit 1; }
fault() { [ -e "$LAB/faults/$1" ]; }

mkdir -p "$STATE" /etc/kubernetes /etc/haproxy
API_PORT=${K8S_API_PORT:-6443}
HAPROXY_PORT=${K8S_HAPROXY_PORT:-8443}
SERVICE_CIDR=${K8S_SERVICE_CIDR:-10.96.0.0/12}
admin_token=$(cat "$PKI/admin.token")

# alive NAME: the process recorded in $STATE/NAME.pid runs.
alive() { [ -f "$STATE/$1.pid" ] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

# daemon NAME CMD...: start CMD in a session of its own (it outlives the
# SSH session) unless it already runs.
daemon() {
  local name=$1
  shift
  alive "$name" && return 0
  setsid "$@" >>"$STATE/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/$name.pid"
}

# wait_ok SECONDS CMD...: retry CMD until it succeeds.
wait_ok() {
  local n=$(($1 * 5))
  shift
  while [ "$n" -gt 0 ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
    n=$((n - 1))
  done
  return 1
}

api() { # METHOD PATH TOKEN [BODY]: call the API through the endpoint
  curl -fsS --max-time 10 --cacert "$PKI/ca.crt" -H "Authorization: Bearer $3" \
    -H 'Content-Type: application/json' -X "$1" "https://$K8S_CONTROL_PLANE_ENDPOINT$2" ${4:+-d "$4"}
}

require() {
  local v
  for v in "$@"; do
    [ -n "${!v:-}" ] || die "$v is required for $action"
  done
}

ca_hash() {
  openssl x509 -in "$PKI/ca.crt" -noout -pubkey | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1
}

check_join_credentials() {
  [ "sha256:$(ca_hash)" = "$K8S_CA_CERT_HASH" ] || die "K8S_CA_CERT_HASH does not match the cluster CA"
  # The bootstrap token must authenticate (a wrong or expired one is 401).
  api GET /api "$K8S_TOKEN" >/dev/null || die "the API refused the bootstrap token"
}

run_etcd() { # CLUSTER_STATE INITIAL_CLUSTER
  daemon etcd "$BIN/etcd" --name "$K8S_NODE_NAME" --data-dir /var/lib/etcd \
    --listen-client-urls "http://$K8S_NODE_IP:2379,http://127.0.0.1:2379" \
    --advertise-client-urls "http://$K8S_NODE_IP:2379" \
    --listen-peer-urls "http://$K8S_NODE_IP:2380" \
    --initial-advertise-peer-urls "http://$K8S_NODE_IP:2380" \
    --initial-cluster "$2" --initial-cluster-state "$1" \
    --heartbeat-interval 100 --election-timeout 1000 --unsafe-no-fsync --log-level warn
}

etcd_error() { grep -o '"error":"[^"]*"' "$STATE/etcd.log" | tail -1; }

start_etcd() { # CLUSTER_STATE INITIAL_CLUSTER
  run_etcd "$@"
  wait_ok 30 curl -fsS --max-time 2 http://127.0.0.1:2379/version || die "etcd did not start: $(etcd_error)"
}

# start_apiserver waits (detached) until the local etcd member is a voter:
# a learner does not serve the API server's reads and writes.
start_apiserver() {
  daemon apiserver bash -c 'until curl -fsS --max-time 2 -X POST http://127.0.0.1:2379/v3/maintenance/status -d "{}" | jq -e ".isLearner != true" >/dev/null 2>&1; do sleep 0.3; done; exec "$@"' voter-wait \
    "$BIN/kube-apiserver" --etcd-servers http://127.0.0.1:2379 \
    --bind-address 0.0.0.0 --advertise-address "$K8S_NODE_IP" --secure-port "$API_PORT" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" --token-auth-file "$PKI/tokens.csv" --enable-bootstrap-token-auth \
    --authorization-mode AlwaysAllow \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" --enable-priority-and-fairness=false \
    --endpoint-reconciler-type none --profiling=false --cert-dir "$STATE/apiserver-certs"
}

wait_apiserver() {
  wait_ok 120 curl -fsS --max-time 2 --cacert "$PKI/ca.crt" -H "Authorization: Bearer $admin_token" \
    "https://$K8S_NODE_IP:$API_PORT/readyz" || die "kube-apiserver did not become ready: $(tail -5 "$STATE/apiserver.log")"
}

# write_haproxy writes the first configuration (over the distribution's
# sample); later the driver owns the server lines of backend kube-apiservers.
write_haproxy() {
  grep -q '^backend kube-apiservers' /etc/haproxy/haproxy.cfg 2>/dev/null && return 0
  {
    cat <<CFG
global
    stats socket $STATE/haproxy.sock mode 600 level admin

defaults
    mode tcp
    timeout connect 1s
    timeout client 5m
    timeout server 5m
    retries 3
    option redispatch

frontend kube-api
    bind *:$HAPROXY_PORT
    default_backend kube-apiservers

backend kube-apiservers
    balance roundrobin
CFG
    local i=0 ip
    for ip in $K8S_MASTER_IPS; do
      i=$((i + 1))
      echo "    server master$i $ip:$API_PORT check inter 500ms fall 2 rise 1"
    done
  } >/etc/haproxy/haproxy.cfg
}

start_haproxy() {
  alive haproxy && return 0
  haproxy -W -D -p "$STATE/haproxy.pid" -f /etc/haproxy/haproxy.cfg >>"$STATE/haproxy.log" 2>&1 || die "haproxy did not start: $(tail -5 "$STATE/haproxy.log")"
}

write_admin_conf() {
  umask 077
  cat >/etc/kubernetes/admin.conf <<CONF
apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster:
    server: https://$K8S_CONTROL_PLANE_ENDPOINT
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: admin
  user:
    token: $admin_token
contexts:
- name: admin@lab
  context:
    cluster: lab
    user: admin
current-context: admin@lab
CONF
  sed "s#server: https://.*#server: https://$K8S_CONTROL_PLANE_ENDPOINT#" /etc/kubernetes/admin.conf >"$STATE/kwok.kubeconfig"
}

# register_node TOKEN ROLE: the node registers itself with the bootstrap
# token, as kubelet does, then kwok keeps it Ready.
register_node() {
  local labels="\"kubernetes.io/hostname\":\"$K8S_NODE_NAME\",\"kubernetes.io/os\":\"linux\",\"type\":\"kwok\""
  [ "$2" = master ] && labels="$labels,\"node-role.kubernetes.io/control-plane\":\"\""
  local body
  body="{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$K8S_NODE_NAME\",\"labels\":{$labels},\"annotations\":{\"kwok.x-k8s.io/node\":\"fake\",\"node.alpha.kubernetes.io/ttl\":\"0\"}},\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"$K8S_NODE_IP\"}],\"allocatable\":{\"cpu\":\"4\",\"memory\":\"8Gi\",\"pods\":\"110\"},\"capacity\":{\"cpu\":\"4\",\"memory\":\"8Gi\",\"pods\":\"110\"}}}"
  if ! api GET "/api/v1/nodes/$K8S_NODE_NAME" "$1" >/dev/null 2>&1; then
    api POST /api/v1/nodes "$1" "$body" >/dev/null || die "could not register node $K8S_NODE_NAME"
  fi
  [ -f "$STATE/kwok.kubeconfig" ] || write_admin_conf
  daemon kwok "$BIN/kwok" --kubeconfig "$STATE/kwok.kubeconfig" --config "$BIN/kwok-stages.yaml" \
    --manage-single-node "$K8S_NODE_NAME" --node-ip "$K8S_NODE_IP" --node-name "$K8S_NODE_NAME" \
    --cidr 10.244.0.0/24
}

case $action in
  init)
    require K8S_NODE_NAME K8S_NODE_IP K8S_CONTROL_PLANE_ENDPOINT K8S_MASTER_IPS K8S_CERTIFICATE_KEY
    if [ -n "${K8S_VIP:-}" ] && ! ip -4 -o addr show dev eth0 | grep -q " $K8S_VIP/"; then
      ip addr add "$K8S_VIP/32" dev eth0
    fi
    start_etcd new "$K8S_NODE_NAME=http://$K8S_NODE_IP:2380"
    start_apiserver
    wait_apiserver
    write_haproxy
    start_haproxy
    write_admin_conf
    wait_ok 60 api GET /readyz "$admin_token" || die "the API does not answer through $K8S_CONTROL_PLANE_ENDPOINT: $(api GET /readyz "$admin_token" 2>&1 | tail -2) $(tail -3 "$STATE/haproxy.log")"
    "$0" upload-certs
    register_node "$admin_token" master
    ;;
  join-master)
    require K8S_NODE_NAME K8S_NODE_IP K8S_CONTROL_PLANE_ENDPOINT K8S_MASTER_IPS K8S_TOKEN K8S_CA_CERT_HASH K8S_CERTIFICATE_KEY K8S_ETCD_INITIAL_CLUSTER
    check_join_credentials
    want=$(printf %s "$K8S_CERTIFICATE_KEY" | sha256sum | cut -d' ' -f1)
    got=$(api GET /api/v1/namespaces/kube-system/secrets/kubeadm-certs "$K8S_TOKEN" | jq -r '.data["key-hash"] // ""' | base64 -d)
    [ "$got" = "$want" ] || die "K8S_CERTIFICATE_KEY does not match the uploaded certificates"
    if ! alive etcd; then
      rm -rf /var/lib/etcd
      if fault etcd-join; then
        log "fault etcd-join: starting etcd without this member in its initial cluster"
        run_etcd existing "$(printf %s "$K8S_ETCD_INITIAL_CLUSTER" | tr , '\n' | grep -v "^$K8S_NODE_NAME=" | paste -sd,)"
        sleep 1
        die "etcd member failed to join: $(etcd_error)"
      fi
      start_etcd existing "$K8S_ETCD_INITIAL_CLUSTER"
    fi
    start_apiserver
    write_haproxy
    start_haproxy
    write_admin_conf
    register_node "$K8S_TOKEN" master
    ;;
  join-worker)
    require K8S_NODE_NAME K8S_NODE_IP K8S_CONTROL_PLANE_ENDPOINT K8S_TOKEN K8S_CA_CERT_HASH
    check_join_credentials
    register_node "$K8S_TOKEN" worker
    ;;
  upload-certs)
    require K8S_CERTIFICATE_KEY
    hash=$(printf %s "$K8S_CERTIFICATE_KEY" | sha256sum | cut -d' ' -f1 | base64 -w0)
    body="{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"kubeadm-certs\",\"namespace\":\"kube-system\"},\"data\":{\"key-hash\":\"$hash\"}}"
    K8S_CONTROL_PLANE_ENDPOINT=${K8S_CONTROL_PLANE_ENDPOINT:-$(sed -n 's#^ *server: https://##p' /etc/kubernetes/admin.conf)}
    api PUT /api/v1/namespaces/kube-system/secrets/kubeadm-certs "$admin_token" "$body" >/dev/null 2>&1 ||
      api POST /api/v1/namespaces/kube-system/secrets "$admin_token" "$body" >/dev/null || die "could not upload certificates"
    ;;
  haproxy-reload)
    haproxy -c -q -f /etc/haproxy/haproxy.cfg || die "haproxy.cfg is invalid"
    alive haproxy || die "haproxy is not running"
    kill -USR2 "$(cat "$STATE/haproxy.pid")"
    ;;
  *)
    die "usage: $0 init|join-master|join-worker|upload-certs|haproxy-reload"
    ;;
esac
log "$action done"
