#!/usr/bin/env bash
# Installs the Helm 3 client on a Kubernetes master node (Ubuntu).
#
# The vnfm Kubernetes management driver runs it as root on each master when
# additionalParams.k8s_cluster_installation_param.helm_installation_script_path
# is set. Environment:
#
#   HELM_VERSION     release to install, e.g. v3.15.4              (default v3.15.4)
#   HELM_ARCH        amd64 | arm64 | ...                            (default: from dpkg)
#   HELM_CHART_DIR   directory the driver copies Helm charts to      (default /var/lib/vnfm/helm)
#   HELM_USER        user that will run helm; owns HELM_CHART_DIR    (default: $SUDO_USER, else root)
#   HTTP_PROXY, HTTPS_PROXY, NO_PROXY   optional proxy for the download
#
# The release archive is checked against its published SHA-256 sum. Running
# it again with the same version installed changes nothing.
set -euo pipefail

log() { printf '%s install_helm: %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"

HELM_VERSION=${HELM_VERSION:-v3.15.4}
case "$HELM_VERSION" in v*) ;; *) HELM_VERSION=v$HELM_VERSION ;; esac
HELM_ARCH=${HELM_ARCH:-$(dpkg --print-architecture)}
HELM_CHART_DIR=${HELM_CHART_DIR:-/var/lib/vnfm/helm}
HELM_USER=${HELM_USER:-${SUDO_USER:-root}}

if [ -n "${HTTP_PROXY:-}${HTTPS_PROXY:-}" ]; then
  export http_proxy=${HTTP_PROXY:-} https_proxy=${HTTPS_PROXY:-${HTTP_PROXY:-}} no_proxy=${NO_PROXY:-}
fi

installed=$(helm version --template '{{ .Version }}' 2>/dev/null || true)
if [ "$installed" = "$HELM_VERSION" ]; then
  log "helm ${HELM_VERSION} is already installed"
else
  command -v curl >/dev/null || { apt-get update -q && apt-get install -y -q curl ca-certificates; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  archive=helm-${HELM_VERSION}-linux-${HELM_ARCH}.tar.gz
  log "downloading ${archive}"
  curl -fsSL -o "$work/$archive" "https://get.helm.sh/${archive}"
  curl -fsSL -o "$work/$archive.sha256sum" "https://get.helm.sh/${archive}.sha256sum"
  (cd "$work" && sha256sum -c "$archive.sha256sum") || die "checksum mismatch for ${archive}"
  tar -xzf "$work/$archive" -C "$work"
  install -m 0755 "$work/linux-${HELM_ARCH}/helm" /usr/local/bin/helm
  log "installed $(helm version --short)"
fi

install -d -m 0755 "$HELM_CHART_DIR"
if id "$HELM_USER" >/dev/null 2>&1; then
  chown "$HELM_USER" "$HELM_CHART_DIR"
fi
log "charts go to ${HELM_CHART_DIR}"
