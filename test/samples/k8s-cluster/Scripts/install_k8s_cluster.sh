#!/usr/bin/env bash
# Installs one Kubernetes node with kubeadm on Ubuntu 22.04 or 24.04.
#
# The vnfm Kubernetes management driver (mgmt-drivers-kubernetes) copies
# this script to every node VM and runs it as root, configured by these
# environment variables:
#
#   K8S_ROLE                    master | worker                            (required)
#   K8S_VERSION                 Kubernetes minor version, e.g. 1.30         (default 1.30)
#   K8S_CONTROL_PLANE_ENDPOINT  host[:port] every node uses to reach the API
#                               server: a load balancer / VIP for several
#                               masters, else the first master's address    (default: this node's IP, first master only)
#   K8S_NODE_IP                 this node's address on the cluster network  (default: the address of the default route)
#   K8S_POD_CIDR                pod network                                 (default 10.244.0.0/16)
#   K8S_SERVICE_CIDR            service network                             (default 10.96.0.0/12)
#   K8S_TOKEN                   bootstrap token; empty on the first master, which creates the cluster
#   K8S_CA_CERT_HASH            sha256:<hash> of the cluster CA              (required with K8S_TOKEN)
#   K8S_CERTIFICATE_KEY         key of the uploaded control plane certificates (required to join another master)
#   K8S_CNI_MANIFEST            URL of the pod network manifest applied by the first master
#                               (default: the latest Flannel release)
#   K8S_ADMIN_USER              user that gets ~/.kube/config on masters     (default: $SUDO_USER, else none)
#   HTTP_PROXY, HTTPS_PROXY, NO_PROXY   optional proxy for apt, curl and containerd
#
# On the first master the script ends by printing, one per line,
#   K8S_TOKEN=..., K8S_CA_CERT_HASH=..., K8S_CERTIFICATE_KEY=...
# which the driver passes to the other nodes. Running it again on a node
# that already joined a cluster changes nothing.
set -euo pipefail

log() { printf '%s install_k8s_cluster: %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"

K8S_ROLE=${K8S_ROLE:-}
K8S_VERSION=${K8S_VERSION:-1.30}
K8S_POD_CIDR=${K8S_POD_CIDR:-10.244.0.0/16}
K8S_SERVICE_CIDR=${K8S_SERVICE_CIDR:-10.96.0.0/12}
K8S_TOKEN=${K8S_TOKEN:-}
K8S_CA_CERT_HASH=${K8S_CA_CERT_HASH:-}
K8S_CERTIFICATE_KEY=${K8S_CERTIFICATE_KEY:-}
K8S_CNI_MANIFEST=${K8S_CNI_MANIFEST:-https://github.com/flannel-io/flannel/releases/latest/download/kube-flannel.yml}
K8S_ADMIN_USER=${K8S_ADMIN_USER:-${SUDO_USER:-}}

case "$K8S_ROLE" in
  master|worker) ;;
  *) die "K8S_ROLE must be master or worker, got '${K8S_ROLE}'" ;;
esac
if [ -n "$K8S_TOKEN" ] && [ -z "$K8S_CA_CERT_HASH" ]; then
  die "K8S_CA_CERT_HASH is required with K8S_TOKEN"
fi
if [ "$K8S_ROLE" = worker ] && [ -z "$K8S_TOKEN" ]; then
  die "a worker needs K8S_TOKEN and K8S_CA_CERT_HASH from the first master"
fi
if [ "$K8S_ROLE" = master ] && [ -n "$K8S_TOKEN" ] && [ -z "$K8S_CERTIFICATE_KEY" ]; then
  die "joining another master needs K8S_CERTIFICATE_KEY"
fi

if [ -z "${K8S_NODE_IP:-}" ]; then
  K8S_NODE_IP=$(ip -4 route get 1.1.1.1 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "src") { print $(i+1); exit }}')
fi
[ -n "${K8S_NODE_IP:-}" ] || die "cannot find this node's IP address; set K8S_NODE_IP"
if [ -z "${K8S_CONTROL_PLANE_ENDPOINT:-}" ]; then
  [ -z "$K8S_TOKEN" ] || die "K8S_CONTROL_PLANE_ENDPOINT is required to join a cluster"
  K8S_CONTROL_PLANE_ENDPOINT=$K8S_NODE_IP:6443
fi

export DEBIAN_FRONTEND=noninteractive

configure_proxy() {
  [ -n "${HTTP_PROXY:-}${HTTPS_PROXY:-}" ] || return 0
  log "configuring proxy"
  NO_PROXY="${NO_PROXY:-localhost,127.0.0.1},${K8S_NODE_IP},${K8S_POD_CIDR},${K8S_SERVICE_CIDR},.svc,.cluster.local"
  cat > /etc/apt/apt.conf.d/95proxy <<EOF
Acquire::http::Proxy "${HTTP_PROXY:-}";
Acquire::https::Proxy "${HTTPS_PROXY:-${HTTP_PROXY:-}}";
EOF
  mkdir -p /etc/systemd/system/containerd.service.d
  cat > /etc/systemd/system/containerd.service.d/http-proxy.conf <<EOF
[Service]
Environment="HTTP_PROXY=${HTTP_PROXY:-}"
Environment="HTTPS_PROXY=${HTTPS_PROXY:-${HTTP_PROXY:-}}"
Environment="NO_PROXY=${NO_PROXY}"
EOF
  export NO_PROXY http_proxy=${HTTP_PROXY:-} https_proxy=${HTTPS_PROXY:-${HTTP_PROXY:-}} no_proxy=$NO_PROXY
}

prepare_host() {
  log "disabling swap and loading kernel modules"
  swapoff -a
  sed -ri '/\sswap\s/s/^([^#])/#\1/' /etc/fstab
  cat > /etc/modules-load.d/k8s.conf <<EOF
overlay
br_netfilter
EOF
  modprobe overlay
  modprobe br_netfilter
  cat > /etc/sysctl.d/99-kubernetes.conf <<EOF
net.bridge.bridge-nf-call-iptables  = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward                 = 1
EOF
  sysctl --system >/dev/null
}

install_containerd() {
  log "installing containerd"
  apt-get update -q
  apt-get install -y -q apt-transport-https ca-certificates curl gpg containerd
  mkdir -p /etc/containerd
  containerd config default > /etc/containerd/config.toml
  # kubelet uses the systemd cgroup driver; containerd must match.
  sed -i 's/SystemdCgroup = false/SystemdCgroup = true/' /etc/containerd/config.toml
  systemctl daemon-reload
  systemctl enable containerd
  systemctl restart containerd
}

install_kubernetes_packages() {
  log "installing kubelet, kubeadm and kubectl ${K8S_VERSION}"
  install -d -m 0755 /etc/apt/keyrings
  curl -fsSL "https://pkgs.k8s.io/core:/stable:/v${K8S_VERSION}/deb/Release.key" \
    | gpg --dearmor --yes -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg
  echo "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v${K8S_VERSION}/deb/ /" \
    > /etc/apt/sources.list.d/kubernetes.list
  apt-get update -q
  apt-get install -y -q kubelet kubeadm kubectl
  apt-mark hold kubelet kubeadm kubectl
  echo "KUBELET_EXTRA_ARGS=--node-ip=${K8S_NODE_IP}" > /etc/default/kubelet
  systemctl enable kubelet
}

admin_kubeconfig() {
  [ -n "$K8S_ADMIN_USER" ] || return 0
  local home
  home=$(getent passwd "$K8S_ADMIN_USER" | cut -d: -f6)
  [ -n "$home" ] || { log "user $K8S_ADMIN_USER not found, no kubeconfig copied"; return 0; }
  install -d -m 0700 -o "$K8S_ADMIN_USER" "$home/.kube"
  install -m 0600 -o "$K8S_ADMIN_USER" /etc/kubernetes/admin.conf "$home/.kube/config"
}

apply_cni() {
  log "applying the pod network manifest ${K8S_CNI_MANIFEST}"
  local manifest
  manifest=$(mktemp)
  curl -fsSL -o "$manifest" "$K8S_CNI_MANIFEST"
  # Flannel's manifest carries its default pod network; use ours.
  sed -i "s#10.244.0.0/16#${K8S_POD_CIDR}#g" "$manifest"
  kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f "$manifest"
  rm -f "$manifest"
}

init_first_master() {
  log "creating the cluster (endpoint ${K8S_CONTROL_PLANE_ENDPOINT})"
  kubeadm init \
    --control-plane-endpoint "$K8S_CONTROL_PLANE_ENDPOINT" \
    --apiserver-advertise-address "$K8S_NODE_IP" \
    --pod-network-cidr "$K8S_POD_CIDR" \
    --service-cidr "$K8S_SERVICE_CIDR" \
    --upload-certs
  admin_kubeconfig
  apply_cni
}

join_node() {
  local args=("$K8S_CONTROL_PLANE_ENDPOINT" --token "$K8S_TOKEN" --discovery-token-ca-cert-hash "$K8S_CA_CERT_HASH")
  if [ "$K8S_ROLE" = master ]; then
    log "joining the control plane at ${K8S_CONTROL_PLANE_ENDPOINT}"
    args+=(--control-plane --certificate-key "$K8S_CERTIFICATE_KEY" --apiserver-advertise-address "$K8S_NODE_IP")
  else
    log "joining the cluster at ${K8S_CONTROL_PLANE_ENDPOINT} as a worker"
  fi
  kubeadm join "${args[@]}"
  if [ "$K8S_ROLE" = master ]; then
    admin_kubeconfig
  fi
}

print_join_info() {
  local token hash key
  token=$(kubeadm token create --ttl 24h)
  hash=$(openssl x509 -pubkey -in /etc/kubernetes/pki/ca.crt \
    | openssl rsa -pubin -outform der 2>/dev/null \
    | openssl dgst -sha256 -hex | sed 's/^.* //')
  key=$(kubeadm init phase upload-certs --upload-certs 2>/dev/null | tail -n 1)
  echo "K8S_TOKEN=${token}"
  echo "K8S_CA_CERT_HASH=sha256:${hash}"
  echo "K8S_CERTIFICATE_KEY=${key}"
}

main() {
  configure_proxy
  if [ -f /etc/kubernetes/kubelet.conf ]; then
    log "this node is already part of a cluster; nothing to install"
  else
    prepare_host
    install_containerd
    install_kubernetes_packages
    if [ -z "$K8S_TOKEN" ]; then
      init_first_master
    else
      join_node
    fi
  fi
  if [ "$K8S_ROLE" = master ] && [ -z "$K8S_TOKEN" ]; then
    print_join_info
  fi
  log "done"
}

main "$@"
