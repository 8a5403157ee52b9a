#!/usr/bin/env bash
# install_k8s_cluster.sh: node script of the vnfm Kubernetes-cluster
# management driver (mgmt-drivers-kubernetes, internal/driver/mgmt/k8scluster).
# The full contract is scripts/k8s/README.md; this header is its summary.
#
# The driver copies this file to a node VM (Ubuntu 22.04 or 24.04) and runs
#
#     install_k8s_cluster.sh ACTION
#
# as root. Everything cluster-wide (etcd membership, bootstrap tokens, the CA
# hash, Node objects, drains, HAProxy server lists) is done by the driver; this
# script only does what must happen on the node itself.
#
# ACTIONS
#   init            first master: containerd, kubelet/kubeadm/kubectl, HAProxy
#                   (and keepalived holding K8S_VIP), then kubeadm init, which
#                   also uploads the control-plane certificates encrypted with
#                   K8S_CERTIFICATE_KEY, then the CNI (Flannel by default).
#   join-master     another master: packages, kubeadm join --control-plane (the
#                   driver has already added this node's etcd member as a
#                   learner; kubeadm finds it by its peer URL), then HAProxy and
#                   keepalived as on init.
#   join-worker     a worker: packages, kubeadm join.
#   upload-certs    a running master: re-upload the control-plane certificates
#                   encrypted with K8S_CERTIFICATE_KEY (kubeadm deletes them
#                   after 2 h), before a master joins later.
#   haproxy-reload  a master: check /etc/haproxy/haproxy.cfg (just rewritten by
#                   the driver) and reload HAProxy without dropping connections.
#
# ENVIRONMENT (strings; R required, o optional, blank not used)
#                                init  join-master  join-worker  upload-certs
#   K8S_NODE_NAME                 R        R            R
#   K8S_NODE_IP                   R        R            R
#   K8S_CONTROL_PLANE_ENDPOINT    R        R            R
#   K8S_VIP                       o        o
#   K8S_MASTER_IPS                R        R
#   K8S_API_PORT                  o        o            o            (default 6443)
#   K8S_HAPROXY_PORT              o        o                         (default 8443)
#   K8S_POD_CIDR                  o                                  (default 10.244.0.0/16)
#   K8S_SERVICE_CIDR              o                                  (default 10.96.0.0/12)
#   K8S_TOKEN                              R            R
#   K8S_CA_CERT_HASH                       R            R
#   K8S_CERTIFICATE_KEY           R        R                         R
#   K8S_ETCD_INITIAL_CLUSTER               o (checked: must name this node
#                                            with https://K8S_NODE_IP:2380)
#   HTTP_PROXY HTTPS_PROXY NO_PROXY   optional proxy, all actions
#   Extensions, not set by the driver:
#   K8S_VERSION          Kubernetes version, "1.30" or "1.30.5"      (default 1.30)
#   K8S_CNI_MANIFEST     CNI manifest URL or file applied by init; its
#                        10.244.0.0/16 is replaced by K8S_POD_CIDR
#                        (default: the latest Flannel release)
#   K8S_VRRP_ROUTER_ID   keepalived virtual_router_id, 1-255 (default: the
#                        last byte of an IPv4 K8S_VIP)
#   haproxy-reload reads no variable.
#
#   K8S_CONTROL_PLANE_ENDPOINT is host:port (an IPv6 host in brackets),
#   K8S_MASTER_IPS space-separated addresses, K8S_TOKEN [a-z0-9]{6}.[a-z0-9]{16},
#   K8S_CA_CERT_HASH sha256:<64 hex>, K8S_CERTIFICATE_KEY 64 hex digits,
#   K8S_ETCD_INITIAL_CLUSTER name=peerURL,...
#
# EXIT CODES
#   0  done; also when the action had already been done (nothing is changed)
#   1  failed; stderr says why
#   2  bad usage or environment (unknown action, a missing or malformed
#      variable, not root); nothing was changed
#   3  the node holds a kubeadm installation that is partial or whose API does
#      not answer; it is left as it is for an operator (kubeadm reset -f) or a heal
#
# OUTPUT
#   Timestamped progress lines and the tools' output, all on stderr; nothing on
#   stdout. The token and the certificate key are never printed: kubeadm's
#   output is masked, and both reach kubeadm init/join in a 0600 config file
#   rather than on the command line (upload-certs passes the key as the flag
#   --certificate-key, as kubeadm has no other way there without a config).
#
# FILES
#   written on every node by init/join-*:
#     /etc/modules-load.d/k8s.conf, /etc/sysctl.d/99-kubernetes.conf, /etc/fstab
#     (swap lines commented out), /etc/apt/keyrings/kubernetes-apt-keyring.asc,
#     /etc/apt/sources.list.d/kubernetes.list, /etc/containerd/config.toml,
#     /etc/crictl.yaml, /etc/default/kubelet (--node-ip), and with a proxy
#     /etc/apt/apt.conf.d/95vnfm-proxy and
#     /etc/systemd/system/containerd.service.d/http-proxy.conf;
#     kubeadm writes /etc/kubernetes/... as usual.
#   on masters:
#     /etc/kubernetes/admin.conf (by kubeadm; copied to ~/.kube/config of
#       $SUDO_USER, who also joins group haproxy for the runtime API socket)
#     /etc/kubernetes/pki/etcd/{ca.crt,healthcheck-client.crt,healthcheck-client.key}
#       (by kubeadm); etcd listens on K8S_NODE_IP:2379 and :2380
#     /etc/haproxy/haproxy.cfg: frontend on *:K8S_HAPROXY_PORT, section
#       "backend kube-apiservers" with one "server NAME IP:K8S_API_PORT check"
#       line per master (https /healthz checks come from its default-server
#       line), runtime API on /run/haproxy/admin.sock. Written only while it
#       has no such backend: after that the server lines belong to the driver.
#     /etc/keepalived/keepalived.conf (with K8S_VIP): VRRP (multicast) on the
#       interface that carries K8S_NODE_IP, K8S_VIP held while HAProxy runs.
#     /var/lib/vnfm-k8s/cni-applied (init): the CNI manifest was applied.
set -euo pipefail
set -o errtrace

readonly PROG=install_k8s_cluster
readonly ADMIN_CONF=/etc/kubernetes/admin.conf
readonly KUBELET_CONF=/etc/kubernetes/kubelet.conf
readonly ETCD_MANIFEST=/etc/kubernetes/manifests/etcd.yaml
readonly HAPROXY_CFG=/etc/haproxy/haproxy.cfg
readonly KEEPALIVED_CFG=/etc/keepalived/keepalived.conf
readonly STATE_DIR=/var/lib/vnfm-k8s
readonly CRI_SOCKET=unix:///var/run/containerd/containerd.sock
readonly FLANNEL_MANIFEST=https://github.com/flannel-io/flannel/releases/latest/download/kube-flannel.yml
readonly MANAGED="# Written by install_k8s_cluster.sh (vnfm Kubernetes cluster management driver)."

# All output goes to stderr, which the driver shows when an action fails.
exec 1>&2

log() { printf '%s %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$PROG" "$*" >&2; }
die() { log "error: $*"; exit 1; }
bad_env() { log "error: $*"; exit 2; }
needs_operator() { log "error: $*"; exit 3; }

ACTION=${1:-}
WORK=""
on_exit() {
  local rc=$?
  if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
  if [ "$rc" -ne 0 ]; then log "${ACTION:-?}: failed (exit $rc)"; fi
  exit "$rc"
}
trap on_exit EXIT
# $BASH_COMMAND is the command as written, before expansion: no secret values.
trap 'log "command failed at line $LINENO: $BASH_COMMAND"' ERR

usage() {
  printf 'usage: %s init|join-master|join-worker|upload-certs|haproxy-reload\n' "$0" >&2
  printf '(environment and exit codes: see the top of this file)\n' >&2
  exit 2
}

K8S_VERSION=${K8S_VERSION:-1.30}
K8S_NODE_NAME=${K8S_NODE_NAME:-}
K8S_NODE_IP=${K8S_NODE_IP:-}
K8S_CONTROL_PLANE_ENDPOINT=${K8S_CONTROL_PLANE_ENDPOINT:-}
K8S_VIP=${K8S_VIP:-}
K8S_MASTER_IPS=${K8S_MASTER_IPS:-}
K8S_API_PORT=${K8S_API_PORT:-6443}
K8S_HAPROXY_PORT=${K8S_HAPROXY_PORT:-8443}
K8S_POD_CIDR=${K8S_POD_CIDR:-10.244.0.0/16}
K8S_SERVICE_CIDR=${K8S_SERVICE_CIDR:-10.96.0.0/12}
K8S_TOKEN=${K8S_TOKEN:-}
K8S_CA_CERT_HASH=${K8S_CA_CERT_HASH:-}
K8S_CERTIFICATE_KEY=${K8S_CERTIFICATE_KEY:-}
K8S_ETCD_INITIAL_CLUSTER=${K8S_ETCD_INITIAL_CLUSTER:-}
K8S_CNI_MANIFEST=${K8S_CNI_MANIFEST:-$FLANNEL_MANIFEST}
K8S_VRRP_ROUTER_ID=${K8S_VRRP_ROUTER_ID:-}

MASTER_IPS=()     # K8S_MASTER_IPS as an array
ENDPOINT_HOST=""  # host part of K8S_CONTROL_PLANE_ENDPOINT, without brackets
KUBE_MINOR=""     # 1.30
KUBE_PATCH=""     # 1.30.5 when K8S_VERSION names a patch release
FILE_CHANGED=0    # set by write_file
APT_UPDATED=0
ALREADY_DONE=0    # set by check_existing

# ---------------------------------------------------------------- helpers

is_ipv4() {
  local o
  local -a octets
  [[ $1 =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || return 1
  IFS=. read -ra octets <<<"$1"
  for o in "${octets[@]}"; do
    ((10#$o <= 255)) || return 1
  done
}
is_ipv6() { [[ $1 == *:* && $1 =~ ^[0-9A-Fa-f:.]+$ ]]; }
is_ip() { is_ipv4 "$1" || is_ipv6 "$1"; }
is_port() { [[ $1 =~ ^[0-9]{1,5}$ ]] && ((10#$1 >= 1 && 10#$1 <= 65535)); }
is_cidr() {
  local ip=${1%/*} len=${1##*/}
  [[ $1 == */* && $len =~ ^[0-9]{1,3}$ ]] || return 1
  if is_ipv4 "$ip"; then ((10#$len <= 32)); else is_ipv6 "$ip" && ((10#$len <= 128)); fi
}
# A node name is a DNS subdomain (RFC 1123), as Kubernetes wants.
is_node_name() {
  [ "${#1}" -le 253 ] && [[ $1 =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ ]]
}
# hostport HOST PORT: HOST:PORT, an IPv6 host in brackets.
hostport() {
  if [[ $1 == *:* ]]; then printf '[%s]:%s' "$1" "$2"; else printf '%s:%s' "$1" "$2"; fi
}

# write_file PATH MODE < content: replaces PATH when the content differs and
# sets FILE_CHANGED to 1 if it did, else 0. Call it with a here-document or
# here-string, not at the end of a pipe (a subshell could not set FILE_CHANGED).
write_file() {
  local path=$1 mode=$2 tmp dir
  dir=$(dirname "$path")
  if [ ! -d "$dir" ]; then install -d -m 0755 "$dir"; fi
  tmp=$(mktemp "$path.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  if [ -f "$path" ] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    chmod "$mode" "$path"
    FILE_CHANGED=0
  else
    mv -f "$tmp" "$path"
    FILE_CHANGED=1
  fi
}

# retry N CMD...: runs CMD up to N times, 10 s apart (apt locks held by
# unattended-upgrades, flaky mirrors and proxies).
retry() {
  local n=$1 i=1
  shift
  until "$@"; do
    if ((i >= n)); then return 1; fi
    log "failed ($i/$n), retrying in 10 s: $1 $2"
    sleep 10
    i=$((i + 1))
  done
}

# mask: copies stdin to stdout with bootstrap tokens and certificate keys
# (64 hex digits not preceded by "sha256:") replaced. The literal values are
# replaced in the shell, so they never appear on a command line.
mask() {
  local line
  while IFS= read -r line || [ -n "$line" ]; do
    if [ -n "$K8S_TOKEN" ]; then line=${line//"$K8S_TOKEN"/<token>}; fi
    if [ -n "$K8S_CERTIFICATE_KEY" ]; then line=${line//"$K8S_CERTIFICATE_KEY"/<certificate-key>}; fi
    printf '%s\n' "$line"
  done | sed -u -E \
    -e 's/\b[a-z0-9]{6}\.[a-z0-9]{16}\b/<token>/g' \
    -e 's/(^|[^:[:xdigit:]])[[:xdigit:]]{64}([^[:xdigit:]]|$)/\1<certificate-key>\2/g'
}

# kubeadm_run ARGS...: kubeadm with its output masked, on stderr.
kubeadm_run() { kubeadm "$@" </dev/null 2>&1 | mask; }

curl_get() { curl -fsSL --connect-timeout 20 --max-time 300 -o "$2" "$1"; }

# ------------------------------------------------------------- validation

need() {
  local v
  for v in "$@"; do
    [ -n "${!v}" ] || bad_env "$v is required by $ACTION"
  done
}

parse_endpoint() {
  local ep=$K8S_CONTROL_PLANE_ENDPOINT port
  if [[ $ep =~ ^\[([0-9A-Fa-f:.]+)\]:([0-9]+)$ ]]; then
    ENDPOINT_HOST=${BASH_REMATCH[1]}
    port=${BASH_REMATCH[2]}
  elif [[ $ep =~ ^([A-Za-z0-9.-]+):([0-9]+)$ ]]; then
    ENDPOINT_HOST=${BASH_REMATCH[1]}
    port=${BASH_REMATCH[2]}
  else
    bad_env "K8S_CONTROL_PLANE_ENDPOINT '$ep' is not host:port (an IPv6 host in brackets)"
  fi
  is_port "$port" || bad_env "K8S_CONTROL_PLANE_ENDPOINT '$ep' has an invalid port"
}

parse_version() {
  local v=${K8S_VERSION#v}
  if [[ $v =~ ^([0-9]+\.[0-9]+)(\.[0-9]+)?$ ]]; then
    KUBE_MINOR=${BASH_REMATCH[1]}
    if [ -n "${BASH_REMATCH[2]}" ]; then KUBE_PATCH=$v; fi
  else
    bad_env "K8S_VERSION '$K8S_VERSION' is not MAJOR.MINOR or MAJOR.MINOR.PATCH"
  fi
}

# The driver added this node's etcd member as a learner; kubeadm finds it only
# by the exact peer URL it derives from the advertise address.
check_etcd_initial_cluster() {
  local want entry name url found=""
  local -a entries
  want="https://$(hostport "$K8S_NODE_IP" 2380)"
  if [ -z "$K8S_ETCD_INITIAL_CLUSTER" ]; then
    log "warning: K8S_ETCD_INITIAL_CLUSTER is empty; kubeadm will use peer URL $want for this node's etcd member"
    return 0
  fi
  IFS=, read -ra entries <<<"$K8S_ETCD_INITIAL_CLUSTER"
  for entry in "${entries[@]}"; do
    entry=${entry// /}
    name=${entry%%=*}
    url=${entry#*=}
    if [ "$name" != "$K8S_NODE_NAME" ]; then continue; fi
    if [ "$url" = "$want" ]; then return 0; fi
    found+=" $url"
  done
  [ -n "$found" ] || bad_env "K8S_ETCD_INITIAL_CLUSTER has no member named $K8S_NODE_NAME"
  bad_env "K8S_ETCD_INITIAL_CLUSTER gives $K8S_NODE_NAME the peer URL(s)$found, but kubeadm will use $want: it would add a second member"
}

validate() {
  case $ACTION in
  init | join-master | join-worker)
    need K8S_NODE_NAME K8S_NODE_IP K8S_CONTROL_PLANE_ENDPOINT K8S_API_PORT
    is_node_name "$K8S_NODE_NAME" || bad_env "K8S_NODE_NAME '$K8S_NODE_NAME' is not a valid node name (lower-case DNS subdomain)"
    is_ip "$K8S_NODE_IP" || bad_env "K8S_NODE_IP '$K8S_NODE_IP' is not an IP address"
    [ -n "$(node_iface)" ] || bad_env "K8S_NODE_IP $K8S_NODE_IP is not an address of this node"
    is_port "$K8S_API_PORT" || bad_env "K8S_API_PORT '$K8S_API_PORT' is not a port"
    K8S_API_PORT=$((10#$K8S_API_PORT))
    parse_endpoint
    parse_version
    ;;
  esac
  case $ACTION in
  init | join-master)
    need K8S_MASTER_IPS K8S_HAPROXY_PORT K8S_CERTIFICATE_KEY
    read -ra MASTER_IPS <<<"$K8S_MASTER_IPS"
    local ip
    for ip in "${MASTER_IPS[@]}"; do
      is_ip "$ip" || bad_env "K8S_MASTER_IPS: '$ip' is not an IP address"
    done
    if [[ " ${MASTER_IPS[*]} " != *" $K8S_NODE_IP "* ]]; then
      log "warning: K8S_MASTER_IPS does not list this node ($K8S_NODE_IP)"
    fi
    is_port "$K8S_HAPROXY_PORT" || bad_env "K8S_HAPROXY_PORT '$K8S_HAPROXY_PORT' is not a port"
    K8S_HAPROXY_PORT=$((10#$K8S_HAPROXY_PORT))
    [ "$K8S_HAPROXY_PORT" != "$K8S_API_PORT" ] ||
      bad_env "K8S_HAPROXY_PORT and K8S_API_PORT must differ: HAProxy and the API server both listen on every address"
    if [ -n "$K8S_VIP" ]; then
      is_ip "$K8S_VIP" || bad_env "K8S_VIP '$K8S_VIP' is not an IP address"
      if [ "$K8S_VIP" = "$K8S_NODE_IP" ] || [[ " ${MASTER_IPS[*]} " == *" $K8S_VIP "* ]]; then
        bad_env "K8S_VIP $K8S_VIP is a master's own address; keepalived would remove it from the master that fails over"
      fi
      if [ "$ENDPOINT_HOST" != "$K8S_VIP" ]; then
        log "warning: K8S_CONTROL_PLANE_ENDPOINT ($K8S_CONTROL_PLANE_ENDPOINT) is not on K8S_VIP ($K8S_VIP)"
      fi
    fi
    if [ -n "$K8S_VRRP_ROUTER_ID" ]; then
      if ! [[ $K8S_VRRP_ROUTER_ID =~ ^[0-9]{1,3}$ ]] || ((10#$K8S_VRRP_ROUTER_ID < 1 || 10#$K8S_VRRP_ROUTER_ID > 255)); then
        bad_env "K8S_VRRP_ROUTER_ID '$K8S_VRRP_ROUTER_ID' is not in 1-255"
      fi
    fi
    ;;
  esac
  case $ACTION in
  init)
    is_cidr "$K8S_POD_CIDR" || bad_env "K8S_POD_CIDR '$K8S_POD_CIDR' is not a CIDR"
    is_cidr "$K8S_SERVICE_CIDR" || bad_env "K8S_SERVICE_CIDR '$K8S_SERVICE_CIDR' is not a CIDR"
    ;;
  join-master | join-worker)
    need K8S_TOKEN K8S_CA_CERT_HASH
    [[ $K8S_TOKEN =~ ^[a-z0-9]{6}\.[a-z0-9]{16}$ ]] || bad_env "K8S_TOKEN is not a bootstrap token ([a-z0-9]{6}.[a-z0-9]{16})"
    [[ $K8S_CA_CERT_HASH =~ ^sha256:[0-9a-fA-F]{64}$ ]] || bad_env "K8S_CA_CERT_HASH '$K8S_CA_CERT_HASH' is not sha256:<64 hex digits>"
    ;;
  esac
  case $ACTION in
  init | join-master | upload-certs)
    need K8S_CERTIFICATE_KEY
    [[ $K8S_CERTIFICATE_KEY =~ ^[0-9a-fA-F]{64}$ ]] || bad_env "K8S_CERTIFICATE_KEY is not 64 hex digits"
    ;;
  esac
  if [ "$ACTION" = join-master ]; then check_etcd_initial_cluster; fi
  return 0
}

# ---------------------------------------------------------------- network

# node_iface: the interface that carries K8S_NODE_IP.
node_iface() {
  ip -o addr show | awk -v ip="$K8S_NODE_IP" '{ split($4, a, "/"); if (a[1] == ip) { sub(/@.*/, "", $2); print $2; exit } }'
}

ip2int() {
  local a b c d
  IFS=. read -r a b c d <<<"$1"
  echo $(((10#$a << 24) | (10#$b << 16) | (10#$c << 8) | 10#$d))
}
int2ip() { echo "$((($1 >> 24) & 255)).$((($1 >> 16) & 255)).$((($1 >> 8) & 255)).$(($1 & 255))"; }

# node_subnet: the IPv4 network K8S_NODE_IP is on (10.0.0.0/24), else nothing.
# Kubelets of nodes not known yet are there, so it goes into NO_PROXY.
node_subnet() {
  local cidr len net mask
  is_ipv4 "${K8S_NODE_IP:-}" || return 0
  cidr=$(ip -o -4 addr show | awk -v ip="$K8S_NODE_IP" '{ split($4, a, "/"); if (a[1] == ip) { print $4; exit } }')
  [ -n "$cidr" ] || return 0
  len=${cidr##*/}
  mask=$(((0xFFFFFFFF << (32 - len)) & 0xFFFFFFFF))
  net=$(($(ip2int "${cidr%/*}") & mask))
  echo "$(int2ip "$net")/$len"
}

# kubeconfig_host FILE: the host of the first server URL in a kubeconfig.
kubeconfig_host() {
  [ -r "$1" ] || return 0
  sed -nE \
    -e 's#^[[:space:]]*server:[[:space:]]*https?://\[([^]]+)\].*$#\1#p' \
    -e 's#^[[:space:]]*server:[[:space:]]*https?://([^]:/[]+).*$#\1#p' "$1" | head -n 1
}

# redact_url URL: URL without the user and password of its userinfo.
redact_url() {
  local u=$1 scheme=""
  if [[ $u == *://* ]]; then
    scheme=${u%%://*}://
    u=${u#*://}
  fi
  if [[ $u == *@* ]]; then u="***@${u##*@}"; fi
  printf '%s%s' "$scheme" "$u"
}

# setup_proxy_env: exports the proxy variables in both cases for apt, curl,
# kubeadm, kubectl (and, through kubeadm, the control-plane static pods), with
# a NO_PROXY that keeps every cluster address off the proxy.
PROXY=0
setup_proxy_env() {
  HTTP_PROXY=${HTTP_PROXY:-${http_proxy:-}}
  HTTPS_PROXY=${HTTPS_PROXY:-${https_proxy:-}}
  NO_PROXY=${NO_PROXY:-${no_proxy:-}}
  if [ -z "$HTTP_PROXY$HTTPS_PROXY" ]; then
    PROXY=0
    return 0
  fi
  PROXY=1
  HTTP_PROXY=${HTTP_PROXY:-$HTTPS_PROXY}
  HTTPS_PROXY=${HTTPS_PROXY:-$HTTP_PROXY}
  local -a items=() out=()
  local item seen=","
  IFS=, read -ra items <<<"$NO_PROXY"
  items+=(localhost 127.0.0.1 ::1 "$K8S_NODE_IP" "${MASTER_IPS[@]}" "$K8S_VIP" "$ENDPOINT_HOST"
    "$(kubeconfig_host "$ADMIN_CONF")" "$(node_subnet)" "$K8S_POD_CIDR" "$K8S_SERVICE_CIDR"
    kubernetes kubernetes.default .svc .cluster.local)
  for item in "${items[@]}"; do
    item=${item// /}
    if [ -n "$item" ] && [[ $seen != *",$item,"* ]]; then
      out+=("$item")
      seen+="$item,"
    fi
  done
  NO_PROXY=$(IFS=,; echo "${out[*]}")
  export HTTP_PROXY HTTPS_PROXY NO_PROXY
  export http_proxy=$HTTP_PROXY https_proxy=$HTTPS_PROXY no_proxy=$NO_PROXY
}

# configure_proxy_files: the proxy for apt and containerd (image pulls), or
# their removal when there is no proxy. Sets CONTAINERD_DROPIN_CHANGED.
CONTAINERD_DROPIN_CHANGED=0
configure_proxy_files() {
  local apt=/etc/apt/apt.conf.d/95vnfm-proxy
  local dropin=/etc/systemd/system/containerd.service.d/http-proxy.conf
  if [ "$PROXY" = 0 ]; then
    rm -f "$apt"
    if [ -f "$dropin" ]; then
      log "no proxy: removing $dropin"
      rm -f "$dropin"
      CONTAINERD_DROPIN_CHANGED=1
    fi
    return 0
  fi
  # A proxy URL may carry a password: then only root reads the files.
  local mode=0644
  if [[ $HTTP_PROXY$HTTPS_PROXY == *@* ]]; then mode=0600; fi
  log "proxy $(redact_url "$HTTPS_PROXY"), NO_PROXY=$NO_PROXY"
  write_file "$apt" "$mode" <<EOF
$MANAGED
Acquire::http::Proxy "$HTTP_PROXY";
Acquire::https::Proxy "$HTTPS_PROXY";
EOF
  # systemd expands % specifiers: a percent-encoded proxy password needs %%.
  write_file "$dropin" "$mode" <<EOF
$MANAGED
[Service]
Environment="HTTP_PROXY=${HTTP_PROXY//%/%%}"
Environment="HTTPS_PROXY=${HTTPS_PROXY//%/%%}"
Environment="NO_PROXY=${NO_PROXY//%/%%}"
EOF
  if [ "$FILE_CHANGED" = 1 ]; then CONTAINERD_DROPIN_CHANGED=1; fi
}

# ---------------------------------------------------------------- packages

apt_get() {
  DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=l apt-get -qq -y \
    -o DPkg::Lock::Timeout=600 -o Dpkg::Use-Pty=0 \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "$@" </dev/null
}

apt_update() {
  if [ "$APT_UPDATED" = 1 ]; then return 0; fi
  log "apt-get update"
  retry 5 apt_get update
  APT_UPDATED=1
}

pkg_installed() {
  # shellcheck disable=SC2016 # a dpkg-query format, not a shell expansion
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

# apt_install PKG...: installs the packages that are not installed yet.
apt_install() {
  local p
  local -a missing=()
  for p in "$@"; do
    pkg_installed "$p" || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then return 0; fi
  apt_update
  log "installing ${missing[*]}"
  retry 3 apt_get install --no-install-recommends "${missing[@]}"
}

# kube_version_ok PKG: PKG is installed in the wanted version.
kube_version_ok() {
  local v
  # shellcheck disable=SC2016 # a dpkg-query format, not a shell expansion
  v=$(dpkg-query -W -f='${db:Status-Status} ${Version}' "$1" 2>/dev/null) || return 1
  [[ $v == "installed "* ]] || return 1
  v=${v#installed }
  if [ -n "$KUBE_PATCH" ]; then [[ $v == "$KUBE_PATCH"-* ]]; else [[ $v == "$KUBE_MINOR".* ]]; fi
}

install_kube_packages() {
  local p
  local -a pkgs=(kubelet kubeadm kubectl) todo=()
  for p in "${pkgs[@]}"; do
    kube_version_ok "$p" || todo+=("$p")
  done
  if [ "${#todo[@]}" -eq 0 ]; then
    log "kubelet, kubeadm and kubectl ${KUBE_PATCH:-$KUBE_MINOR} are installed"
  else
    apt_install ca-certificates curl
    local key=/etc/apt/keyrings/kubernetes-apt-keyring.asc repo="https://pkgs.k8s.io/core:/stable:/v$KUBE_MINOR/deb/"
    log "adding the Kubernetes $KUBE_MINOR package repository"
    retry 5 curl_get "${repo}Release.key" "$WORK/Release.key"
    grep -q 'BEGIN PGP PUBLIC KEY BLOCK' "$WORK/Release.key" || die "${repo}Release.key is not a PGP public key"
    write_file "$key" 0644 <"$WORK/Release.key"
    write_file /etc/apt/sources.list.d/kubernetes.list 0644 <<EOF
deb [signed-by=$key] $repo /
EOF
    APT_UPDATED=0
    apt_update
    local -a args=()
    for p in "${pkgs[@]}"; do
      if [ -n "$KUBE_PATCH" ]; then args+=("$p=$KUBE_PATCH-*"); else args+=("$p"); fi
    done
    log "installing ${args[*]}"
    retry 3 apt_get install --allow-change-held-packages --allow-downgrades "${args[@]}"
  fi
  apt-mark hold "${pkgs[@]}" >/dev/null
  for p in "${pkgs[@]}"; do
    kube_version_ok "$p" || die "$p is not installed in version ${KUBE_PATCH:-$KUBE_MINOR}"
  done
  KUBE_FULL_VERSION=$(kubeadm version -o short)
  log "kubeadm $KUBE_FULL_VERSION"
}
KUBE_FULL_VERSION=""

# --------------------------------------------------------------- the host

wait_cloud_init() {
  command -v cloud-init >/dev/null || return 0
  log "waiting for cloud-init to finish"
  timeout 900 cloud-init status --wait >/dev/null 2>&1 || log "cloud-init did not finish cleanly; going on"
}

prepare_host() {
  wait_cloud_init
  if [ -n "$(swapon --noheadings --show 2>/dev/null)" ]; then
    log "turning swap off"
    swapoff -a
  fi
  local swapline='^[^#[:space:]]+[[:space:]]+[^[:space:]]+[[:space:]]+swap[[:space:]]'
  if grep -Eq "$swapline" /etc/fstab; then
    log "commenting the swap lines of /etc/fstab out"
    sed -E -i.vnfm-bak "/$swapline/s/^/#(kubelet needs swap off) /" /etc/fstab
  fi

  write_file /etc/modules-load.d/k8s.conf 0644 <<EOF
$MANAGED
overlay
br_netfilter
EOF
  modprobe overlay
  modprobe br_netfilter
  write_file /etc/sysctl.d/99-kubernetes.conf 0644 <<EOF
$MANAGED
net.bridge.bridge-nf-call-iptables  = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward                 = 1
EOF
  sysctl -q -p /etc/sysctl.d/99-kubernetes.conf
}

# containerd, and the tools kubeadm's preflight checks look for.
install_containerd() {
  apt_install ca-certificates curl containerd conntrack socat ethtool
}

# configure_containerd: the default config with the systemd cgroup driver
# (as the kubelet) and the pause image of this kubeadm.
configure_containerd() {
  local cfg images pause changed=$CONTAINERD_DROPIN_CHANGED
  cfg=$(containerd config default)
  cfg=${cfg//SystemdCgroup = false/SystemdCgroup = true}
  images=$(kubeadm config images list --kubernetes-version "$KUBE_FULL_VERSION" 2>/dev/null) || images=""
  pause=$(awk '/\/pause:/ { print; exit }' <<<"$images")
  if [ -n "$pause" ]; then
    cfg=$(sed -E "s|^([[:space:]]*sandbox_image = ).*|\\1\"$pause\"|" <<<"$cfg")
  fi
  if [[ $cfg != *"SystemdCgroup = true"* ]]; then
    log "warning: could not set SystemdCgroup = true in the containerd config; check /etc/containerd/config.toml"
  fi
  write_file /etc/containerd/config.toml 0644 <<<"$cfg"
  if [ "$FILE_CHANGED" = 1 ]; then changed=1; fi
  write_file /etc/crictl.yaml 0644 <<EOF
runtime-endpoint: $CRI_SOCKET
image-endpoint: $CRI_SOCKET
timeout: 10
EOF
  if [ "$CONTAINERD_DROPIN_CHANGED" = 1 ]; then systemctl daemon-reload; fi
  systemctl enable --quiet containerd
  if [ "$changed" = 1 ] || ! systemctl is-active --quiet containerd; then
    log "restarting containerd"
    systemctl restart containerd
  fi
}

configure_kubelet() {
  write_file /etc/default/kubelet 0644 <<EOF
KUBELET_EXTRA_ARGS=--node-ip=$K8S_NODE_IP
EOF
  systemctl enable --quiet kubelet
}

install_node() {
  prepare_host
  install_containerd
  install_kube_packages
  configure_containerd
  configure_kubelet
}

# ------------------------------------------------------- HAProxy, keepalived

haproxy_config() {
  local ip i=0 v6=0
  for ip in "${MASTER_IPS[@]}" "$K8S_VIP"; do
    if [[ $ip == *:* ]]; then v6=1; fi
  done
  cat <<EOF
$MANAGED
# The driver rewrites the server lines of "backend kube-apiservers" when
# masters come and go, then runs "install_k8s_cluster.sh haproxy-reload".
# A server line needs only "check": the https /healthz check comes from the
# backend's option httpchk and default-server lines.
global
    log /dev/log local0
    log /dev/log local1 notice
    chroot /var/lib/haproxy
    stats socket /run/haproxy/admin.sock mode 660 level admin expose-fd listeners
    stats timeout 30s
    user haproxy
    group haproxy
    daemon

defaults
    log global
    mode tcp
    option tcplog
    option dontlognull
    retries 3
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    timeout check 5s

frontend kube-apiserver
    bind *:$K8S_HAPROXY_PORT
EOF
  if [ "$v6" = 1 ]; then printf '    bind :::%s v6only\n' "$K8S_HAPROXY_PORT"; fi
  cat <<EOF
    mode tcp
    default_backend kube-apiservers

backend kube-apiservers
    mode tcp
    balance roundrobin
    option httpchk
    http-check send meth GET uri /healthz
    http-check expect status 200
    default-server inter 3s fall 3 rise 2 check-ssl verify none
EOF
  for ip in "${MASTER_IPS[@]}"; do
    i=$((i + 1))
    printf '    server master%d %s check\n' "$i" "$(hostport "$ip" "$K8S_API_PORT")"
  done
}

has_apiserver_backend() { grep -Eq '^[[:space:]]*backend[[:space:]]+kube-apiservers[[:space:]]*(#.*)?$' "$HAPROXY_CFG" 2>/dev/null; }

setup_haproxy() {
  apt_install haproxy
  if has_apiserver_backend; then
    log "HAProxy: $HAPROXY_CFG already has backend kube-apiservers; its server lines belong to the driver, keeping it"
  else
    log "HAProxy: frontend *:$K8S_HAPROXY_PORT, backend kube-apiservers ${MASTER_IPS[*]} (port $K8S_API_PORT)"
    if [ -f "$HAPROXY_CFG" ] && [ ! -f "$HAPROXY_CFG.dist" ]; then cp -p "$HAPROXY_CFG" "$HAPROXY_CFG.dist"; fi
    local cfg
    cfg=$(haproxy_config)
    printf '%s\n' "$cfg" >"$WORK/haproxy.cfg"
    haproxy -c -q -f "$WORK/haproxy.cfg" || die "the generated HAProxy configuration is invalid"
    write_file "$HAPROXY_CFG" 0644 <<<"$cfg"
    systemctl restart haproxy
  fi
  systemctl enable --quiet haproxy
  if ! systemctl is-active --quiet haproxy; then systemctl start haproxy; fi
  # The driver reads HAProxy's runtime API (group haproxy) as the SSH user.
  local user=${SUDO_USER:-}
  if [ -n "$user" ] && [ "$user" != root ] && id "$user" >/dev/null 2>&1 &&
    [[ " $(id -nG "$user") " != *" haproxy "* ]]; then
    log "adding $user to group haproxy (runtime API socket)"
    usermod -aG haproxy "$user"
  fi
}

vrrp_router_id() {
  if [ -n "$K8S_VRRP_ROUTER_ID" ]; then
    echo $((10#$K8S_VRRP_ROUTER_ID))
  elif is_ipv4 "$K8S_VIP"; then
    local last=$((10#${K8S_VIP##*.}))
    if [ "$last" -eq 0 ]; then echo 1; else echo "$last"; fi
  else
    # IPv6 VIP: a stable value from its text.
    echo $(($(cksum <<<"$K8S_VIP" | cut -d' ' -f1) % 255 + 1))
  fi
}

# setup_keepalived PRIORITY: K8S_VIP on this node while HAProxy runs. All
# masters start as BACKUP with nopreempt, so the VIP stays where it is until
# its holder fails (its HAProxy stops or the node goes away).
setup_keepalived() {
  local priority=$1 iface vrid
  if [ -z "$K8S_VIP" ]; then
    log "no K8S_VIP: no keepalived"
    return 0
  fi
  iface=$(node_iface)
  [ -n "$iface" ] || die "no interface of this node carries K8S_NODE_IP $K8S_NODE_IP"
  vrid=$(vrrp_router_id)
  apt_install keepalived
  local cfg
  cfg=$(
    cat <<EOF
$MANAGED
global_defs {
    router_id $K8S_NODE_NAME
    enable_script_security
    script_user root
}

vrrp_script chk_haproxy {
    script "/usr/bin/systemctl is-active --quiet haproxy.service"
    interval 2
    timeout 5
    fall 2
    rise 2
}

vrrp_instance kube_apiserver_vip {
    state BACKUP
    interface $iface
    virtual_router_id $vrid
    priority $priority
    advert_int 1
    nopreempt
    virtual_ipaddress {
        $K8S_VIP
    }
    track_script {
        chk_haproxy
    }
}
EOF
  )
  printf '%s\n' "$cfg" >"$WORK/keepalived.conf"
  keepalived --config-test -f "$WORK/keepalived.conf" || die "the generated keepalived configuration is invalid"
  write_file "$KEEPALIVED_CFG" 0644 <<<"$cfg"
  systemctl enable --quiet keepalived
  if [ "$FILE_CHANGED" = 1 ]; then
    log "keepalived: VIP $K8S_VIP on $iface (virtual_router_id $vrid, priority $priority)"
    # A reload re-reads the file without giving the VIP up.
    systemctl reload-or-restart keepalived
  elif ! systemctl is-active --quiet keepalived; then
    systemctl start keepalived
  else
    log "keepalived is configured and running"
  fi
}

# wait_vip: init goes through K8S_CONTROL_PLANE_ENDPOINT, so the VIP must be up.
wait_vip() {
  [ -n "$K8S_VIP" ] || return 0
  local i
  for i in $(seq 1 30); do
    if ip -o addr show | awk -v ip="$K8S_VIP" '{ split($4, a, "/"); if (a[1] == ip) f = 1 } END { exit !f }'; then
      log "this node holds K8S_VIP $K8S_VIP"
      return 0
    fi
    sleep 1
  done
  log "warning: K8S_VIP $K8S_VIP did not come up on this node within 30 s (another keepalived may hold it)"
}

# ------------------------------------------------------------- kubeadm state

api_answers() { kubectl --kubeconfig "$1" --request-timeout=10s get --raw=/healthz >/dev/null 2>&1; }

wait_api() {
  local kc=$1 i
  for i in $(seq 1 24); do
    if api_answers "$kc"; then return 0; fi
    if [ "$i" -lt 24 ]; then sleep 5; fi
  done
  return 1
}

has_leftovers() {
  compgen -G '/etc/kubernetes/manifests/*.yaml' >/dev/null ||
    [ -e /etc/kubernetes/pki/ca.crt ] || [ -e /etc/kubernetes/bootstrap-kubelet.conf ] || [ -d /var/lib/etcd/member ]
}

# reset_node: kubeadm reset -f, unless this would-be master's etcd member may
# have started: removing its data could cost the cluster its etcd quorum.
reset_node() {
  command -v kubeadm >/dev/null || return 1
  if [ "$ACTION" = join-master ] && [ -e "$ETCD_MANIFEST" ]; then
    log "not resetting: $ETCD_MANIFEST exists, so this node's etcd member may have started"
    return 1
  fi
  log "kubeadm reset -f (cleaning up a failed kubeadm run so that the action can be retried)"
  kubeadm_run reset -f --cri-socket "$CRI_SOCKET"
}

# check_existing: sets ALREADY_DONE=1 when the node already did ACTION; exits 3
# when it holds kubeadm state that is partial or whose API does not answer;
# cleans up the leftovers of a failed kubeadm run.
check_existing() {
  local kc=""
  ALREADY_DONE=0
  if [ -f "$KUBELET_CONF" ]; then kc=$KUBELET_CONF; fi
  if [ -f "$ADMIN_CONF" ]; then kc=$ADMIN_CONF; fi
  if [ -z "$kc" ]; then
    if has_leftovers; then
      log "found the leftovers of an earlier kubeadm run that did not finish"
      reset_node || needs_operator "this node holds a partial kubeadm installation; inspect it, run 'kubeadm reset -f' and retry"
    fi
    return 0
  fi
  log "found $kc: checking the API server"
  wait_api "$kc" ||
    needs_operator "this node has joined a cluster ($kc) but the API server at $(kubeconfig_host "$kc") does not answer; not touching it"
  case $ACTION in
  init)
    kubectl --kubeconfig "$kc" --request-timeout=10s -n kube-system get daemonset kube-proxy >/dev/null 2>&1 ||
      needs_operator "kubeadm init did not finish on this node (no kube-proxy DaemonSet); run 'kubeadm reset -f' and retry"
    ;;
  join-master)
    local labels
    labels=$(kubectl --kubeconfig "$kc" --request-timeout=10s get node "$K8S_NODE_NAME" -o jsonpath='{.metadata.labels}' 2>/dev/null) || labels=""
    [[ $labels == *'"node-role.kubernetes.io/control-plane"'* ]] ||
      needs_operator "this node joined the cluster but is not a finished control-plane node $K8S_NODE_NAME; inspect it (etcd!) before 'kubeadm reset -f'"
    ;;
  esac
  ALREADY_DONE=1
  log "this node has already done $ACTION"
}

# kubeadm_api: the kubeadm config API version of this kubeadm (v1beta3 up to
# 1.30, v1beta4 from 1.31).
kubeadm_api() {
  local out api
  out=$(kubeadm config print "$1" 2>/dev/null) || die "kubeadm config print $1 failed"
  api=$(awk '$1 == "apiVersion:" && $2 ~ /^kubeadm\.k8s\.io\// { print $2; exit }' <<<"$out")
  [ -n "$api" ] || die "cannot tell the kubeadm config API version"
  echo "$api"
}

# Config files hold the token and the certificate key: WORK is 0700.
write_init_config() {
  local api f=$WORK/kubeadm-init.yaml
  api=$(kubeadm_api init-defaults)
  {
    cat <<EOF
apiVersion: $api
kind: InitConfiguration
certificateKey: "$K8S_CERTIFICATE_KEY"
localAPIEndpoint:
  advertiseAddress: "$K8S_NODE_IP"
  bindPort: $K8S_API_PORT
nodeRegistration:
  name: "$K8S_NODE_NAME"
  criSocket: "$CRI_SOCKET"
---
apiVersion: $api
kind: ClusterConfiguration
kubernetesVersion: "$KUBE_FULL_VERSION"
controlPlaneEndpoint: "$K8S_CONTROL_PLANE_ENDPOINT"
networking:
  podSubnet: "$K8S_POD_CIDR"
  serviceSubnet: "$K8S_SERVICE_CIDR"
apiServer:
  certSANs:
  - "$K8S_NODE_IP"
EOF
    if [ -n "$K8S_VIP" ]; then printf '  - "%s"\n' "$K8S_VIP"; fi
    # Local (stacked) etcd. kubeadm makes it listen on the advertise address
    # (K8S_NODE_IP:2379 for clients, besides 127.0.0.1, and :2380 for peers);
    # explicit listen URLs here would go into the cluster-wide configuration
    # and be wrong on every other master.
    cat <<EOF
etcd:
  local:
    dataDir: /var/lib/etcd
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
EOF
  } >"$f"
  echo "$f"
}

write_join_config() {
  local api f=$WORK/kubeadm-join.yaml
  api=$(kubeadm_api join-defaults)
  {
    cat <<EOF
apiVersion: $api
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: "$K8S_CONTROL_PLANE_ENDPOINT"
    token: "$K8S_TOKEN"
    caCertHashes:
    - "$K8S_CA_CERT_HASH"
nodeRegistration:
  name: "$K8S_NODE_NAME"
  criSocket: "$CRI_SOCKET"
EOF
    if [ "$ACTION" = join-master ]; then
      cat <<EOF
controlPlane:
  localAPIEndpoint:
    advertiseAddress: "$K8S_NODE_IP"
    bindPort: $K8S_API_PORT
  certificateKey: "$K8S_CERTIFICATE_KEY"
EOF
    fi
  } >"$f"
  echo "$f"
}

apply_cni() {
  local marker=$STATE_DIR/cni-applied manifest=$WORK/cni.yaml
  if [ -f "$marker" ]; then
    log "the CNI manifest was applied before ($(head -n 1 "$marker"))"
    return 0
  fi
  log "applying the CNI manifest $K8S_CNI_MANIFEST (pod network $K8S_POD_CIDR)"
  case $K8S_CNI_MANIFEST in
  http://* | https://*) retry 5 curl_get "$K8S_CNI_MANIFEST" "$manifest" ;;
  *)
    [ -f "$K8S_CNI_MANIFEST" ] || die "K8S_CNI_MANIFEST $K8S_CNI_MANIFEST is neither a URL nor a file"
    cp "$K8S_CNI_MANIFEST" "$manifest"
    ;;
  esac
  # Flannel's net-conf.json carries 10.244.0.0/16; the pod network is ours.
  sed -i "s#10\\.244\\.0\\.0/16#$K8S_POD_CIDR#g" "$manifest"
  retry 5 kubectl --kubeconfig "$ADMIN_CONF" apply -f "$manifest"
  install -d -m 0755 "$STATE_DIR"
  printf '%s\n' "$K8S_CNI_MANIFEST" >"$marker"
}

copy_kubeconfig() {
  local user=${SUDO_USER:-} home group
  [ -f "$ADMIN_CONF" ] || die "$ADMIN_CONF is missing"
  if [ -z "$user" ] || [ "$user" = root ]; then return 0; fi
  home=$(getent passwd "$user" | cut -d: -f6) || home=""
  if [ -z "$home" ] || [ ! -d "$home" ]; then
    log "warning: no home directory for $user; no ~/.kube/config"
    return 0
  fi
  group=$(id -gn "$user")
  install -d -m 0700 -o "$user" -g "$group" "$home/.kube"
  if ! cmp -s "$ADMIN_CONF" "$home/.kube/config"; then
    log "copying $ADMIN_CONF to $home/.kube/config"
    install -m 0600 -o "$user" -g "$group" "$ADMIN_CONF" "$home/.kube/config"
  fi
}

# ----------------------------------------------------------------- actions

do_init() {
  check_existing
  configure_proxy_files
  if [ "$ALREADY_DONE" = 1 ]; then
    setup_haproxy
    setup_keepalived 101
    apply_cni
    copy_kubeconfig
    return 0
  fi
  install_node
  # kubeadm init reaches the new API server through the endpoint, i.e.
  # through HAProxy (and the VIP): both must be up first.
  setup_haproxy
  setup_keepalived 101
  wait_vip
  local cfg
  cfg=$(write_init_config)
  log "kubeadm init: node $K8S_NODE_NAME ($K8S_NODE_IP), endpoint $K8S_CONTROL_PLANE_ENDPOINT, kubeadm $KUBE_FULL_VERSION"
  if ! kubeadm_run init --config "$cfg" --upload-certs --skip-token-print --skip-certificate-key-print; then
    reset_node || true
    die "kubeadm init failed"
  fi
  [ -f "$ADMIN_CONF" ] || die "kubeadm init did not write $ADMIN_CONF"
  apply_cni
  copy_kubeconfig
}

do_join_master() {
  check_existing
  configure_proxy_files
  if [ "$ALREADY_DONE" = 0 ]; then
    install_node
    local cfg
    cfg=$(write_join_config)
    log "kubeadm join --control-plane: node $K8S_NODE_NAME ($K8S_NODE_IP) via $K8S_CONTROL_PLANE_ENDPOINT"
    if ! kubeadm_run join --config "$cfg"; then
      reset_node || log "the node is left as it is for inspection"
      die "kubeadm join --control-plane failed"
    fi
  fi
  # After the join: a new keepalived must not take the VIP from a working
  # master while this node is still joining.
  setup_haproxy
  setup_keepalived 100
  copy_kubeconfig
}

do_join_worker() {
  check_existing
  configure_proxy_files
  if [ "$ALREADY_DONE" = 1 ]; then return 0; fi
  install_node
  local cfg
  cfg=$(write_join_config)
  log "kubeadm join: worker $K8S_NODE_NAME ($K8S_NODE_IP) via $K8S_CONTROL_PLANE_ENDPOINT"
  if ! kubeadm_run join --config "$cfg"; then
    reset_node || true
    die "kubeadm join failed"
  fi
}

do_upload_certs() {
  [ -f "$ADMIN_CONF" ] || die "$ADMIN_CONF is missing: this is not a master"
  command -v kubeadm >/dev/null || die "kubeadm is not installed"
  log "uploading the control-plane certificates (kube-system/kubeadm-certs, valid for 2 h)"
  kubeadm_run init phase upload-certs --upload-certs --certificate-key "$K8S_CERTIFICATE_KEY" \
    --skip-certificate-key-print --kubeconfig "$ADMIN_CONF" || die "kubeadm init phase upload-certs failed"
}

do_haproxy_reload() {
  [ -f "$HAPROXY_CFG" ] || die "$HAPROXY_CFG is missing"
  has_apiserver_backend || die "$HAPROXY_CFG has no section 'backend kube-apiservers'"
  local servers
  servers=$(awk '/^[[:space:]]*(backend|frontend|listen|defaults|global)[[:space:]]*/ { in_b = ($1 == "backend" && $2 == "kube-apiservers") }
    in_b && $1 == "server" { n++ } END { print n + 0 }' "$HAPROXY_CFG")
  if [ "$servers" -eq 0 ]; then log "warning: backend kube-apiservers has no server line"; fi
  haproxy -c -f "$HAPROXY_CFG" || die "$HAPROXY_CFG is invalid; HAProxy keeps its current configuration"
  if systemctl is-active --quiet haproxy; then
    log "reloading HAProxy ($servers API servers)"
    systemctl reload haproxy
  else
    log "HAProxy is not running: starting it ($servers API servers)"
    systemctl start haproxy
  fi
  systemctl is-active --quiet haproxy || die "HAProxy is not running after the reload"
}

main() {
  case $ACTION in
  init | join-master | join-worker | upload-certs | haproxy-reload) ;;
  -h | --help | "") usage ;;
  *)
    log "error: unknown action '$ACTION'"
    usage
    ;;
  esac
  [ "$#" -eq 1 ] || usage
  [ "$(id -u)" -eq 0 ] || bad_env "must run as root"
  validate
  umask 022
  WORK=$(mktemp -d /tmp/install_k8s_cluster.XXXXXX)
  # One action at a time on a node.
  exec 9>/run/lock/vnfm-install_k8s_cluster.lock
  flock -w 1800 9 || die "another install_k8s_cluster.sh is still running on this node"
  setup_proxy_env
  log "$ACTION: start"
  case $ACTION in
  init) do_init ;;
  join-master) do_join_master ;;
  join-worker) do_join_worker ;;
  upload-certs) do_upload_certs ;;
  haproxy-reload) do_haproxy_reload ;;
  esac
  log "$ACTION: done"
}

main "$@"
