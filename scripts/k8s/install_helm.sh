#!/usr/bin/env bash
# install_helm.sh: installs the Helm 3 client on a Kubernetes master for the
# vnfm Kubernetes-cluster management driver (mgmt-drivers-kubernetes). The
# contract is scripts/k8s/README.md; this header is its summary.
#
# The driver runs it as root on each master, as `install_helm.sh install`
# (the argument is optional), when
# additionalParams.k8s_cluster_installation_param.helm_installation_script_path
# is set.
#
# ENVIRONMENT (all optional)
#   HELM_VERSION                       Helm 3 release, "v3.16.4" or "3.16.4"  (default v3.16.4)
#   HTTP_PROXY, HTTPS_PROXY, NO_PROXY  proxy for the download
#
# WHAT IT DOES
#   Downloads https://get.helm.sh/helm-VERSION-linux-ARCH.tar.gz (ARCH from
#   dpkg: amd64, arm64, ...), checks it against the published .sha256sum and
#   installs the binary as /usr/local/bin/helm. When helm already reports
#   HELM_VERSION nothing is downloaded or changed. Done once `helm version` works.
#
# EXIT CODES
#   0  helm HELM_VERSION is installed and `helm version` works
#   1  failed (download, checksum mismatch, ...); stderr says why
#   2  bad usage or environment (HELM_VERSION not a Helm 3 release, not root)
#
# OUTPUT
#   Timestamped progress lines on stderr, nothing on stdout.
set -euo pipefail

readonly PROG=install_helm
readonly DEST=/usr/local/bin/helm
readonly BASE_URL=https://get.helm.sh

exec 1>&2

log() { printf '%s %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$PROG" "$*" >&2; }
die() { log "error: $*"; exit 1; }
bad_env() { log "error: $*"; exit 2; }

WORK=""
on_exit() {
  local rc=$?
  if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
  if [ "$rc" -ne 0 ]; then log "failed (exit $rc)"; fi
  exit "$rc"
}
trap on_exit EXIT

HELM_VERSION=${HELM_VERSION:-v3.16.4}
case $HELM_VERSION in v*) ;; *) HELM_VERSION=v$HELM_VERSION ;; esac
[[ $HELM_VERSION =~ ^v3\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]] ||
  bad_env "HELM_VERSION '$HELM_VERSION' is not a Helm 3 release (v3.X.Y)"
[ "$(id -u)" -eq 0 ] || bad_env "must run as root"
case "$*" in
"" | install) ;;
*) bad_env "usage: $0 [install]" ;;
esac

# helm wants a home for its (unused here) config paths.
export HOME=${HOME:-/root}

HTTP_PROXY=${HTTP_PROXY:-${http_proxy:-}}
HTTPS_PROXY=${HTTPS_PROXY:-${https_proxy:-}}
NO_PROXY=${NO_PROXY:-${no_proxy:-}}
if [ -n "$HTTP_PROXY$HTTPS_PROXY" ]; then
  HTTP_PROXY=${HTTP_PROXY:-$HTTPS_PROXY}
  HTTPS_PROXY=${HTTPS_PROXY:-$HTTP_PROXY}
  export HTTP_PROXY HTTPS_PROXY NO_PROXY
  export http_proxy=$HTTP_PROXY https_proxy=$HTTPS_PROXY no_proxy=$NO_PROXY
fi

# helm_version BIN: the version BIN reports, empty when it does not run.
helm_version() { "$1" version --template '{{.Version}}' 2>/dev/null || true; }

helm_arch() {
  local a
  if command -v dpkg >/dev/null; then a=$(dpkg --print-architecture); else a=$(uname -m); fi
  case $a in
  amd64 | x86_64) echo amd64 ;;
  arm64 | aarch64) echo arm64 ;;
  armhf | armv7l) echo arm ;;
  i386 | i686) echo 386 ;;
  ppc64el | ppc64le) echo ppc64le ;;
  s390x) echo s390x ;;
  riscv64) echo riscv64 ;;
  *) die "no Helm build for architecture $a" ;;
  esac
}

fetch() { curl -fsSL --retry 5 --retry-delay 5 --connect-timeout 20 --max-time 600 -o "$2" "$1"; }

install_helm() {
  local arch archive sum want got
  arch=$(helm_arch)
  archive=helm-$HELM_VERSION-linux-$arch.tar.gz
  if ! command -v curl >/dev/null; then
    log "installing curl"
    DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=600 update </dev/null
    DEBIAN_FRONTEND=noninteractive apt-get -qq -y -o DPkg::Lock::Timeout=600 install --no-install-recommends curl ca-certificates </dev/null
  fi
  WORK=$(mktemp -d /tmp/install_helm.XXXXXX)
  log "downloading $BASE_URL/$archive"
  fetch "$BASE_URL/$archive" "$WORK/$archive" || die "cannot download $BASE_URL/$archive"
  fetch "$BASE_URL/$archive.sha256sum" "$WORK/$archive.sha256sum" || die "cannot download $BASE_URL/$archive.sha256sum"
  want=$(awk 'NR == 1 { print tolower($1) }' "$WORK/$archive.sha256sum")
  [[ $want =~ ^[0-9a-f]{64}$ ]] || die "$archive.sha256sum holds no SHA-256 sum"
  sum=$(sha256sum "$WORK/$archive")
  got=${sum%% *}
  [ "$got" = "$want" ] || die "checksum mismatch for $archive: got $got, published $want"
  log "checksum ok ($got)"
  tar -xzf "$WORK/$archive" -C "$WORK" "linux-$arch/helm" || die "$archive has no linux-$arch/helm"
  [ "$(helm_version "$WORK/linux-$arch/helm")" = "$HELM_VERSION" ] ||
    die "the helm binary in $archive does not run or is not $HELM_VERSION"
  install -m 0755 "$WORK/linux-$arch/helm" "$DEST.new"
  mv -f "$DEST.new" "$DEST"
  log "installed $DEST $HELM_VERSION"
}

main() {
  exec 9>/run/lock/vnfm-install_helm.lock
  flock -w 600 9 || die "another install_helm.sh is still running"
  local current
  current=$(helm_version "$DEST")
  if [ "$current" = "$HELM_VERSION" ]; then
    log "helm $HELM_VERSION is already installed ($DEST)"
  else
    if [ -n "$current" ]; then log "replacing helm $current with $HELM_VERSION"; fi
    install_helm
  fi
  local path_helm
  path_helm=$(command -v helm || true)
  if [ "$path_helm" != "$DEST" ]; then
    log "warning: 'helm' in PATH is ${path_helm:-missing}, not $DEST"
  fi
  "$DEST" version || die "helm version does not work"
  log "done"
}

main "$@"
