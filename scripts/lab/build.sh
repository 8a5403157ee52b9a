#!/usr/bin/env bash
# Builds the lab's real components from the Go module proxy into a cache
# directory outside the repository, once: kube-apiserver, kube-controller-manager,
# kube-scheduler and etcd (one wrapper module, so the build cache is shared),
# kwok and helm. Later runs find the binaries and return at once.
#
# Usage: scripts/lab/build.sh [component...]   (default: all)
# Prints the bin directory on stdout. VNFM_LAB_CACHE overrides the cache.
set -euo pipefail

KUBE_VERSION=v1.36.3
STAGING_VERSION=v0.36.3
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0
HELM_VERSION=v3.21.4

cache=${VNFM_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vnfm-lab}
bin=$cache/bin
mkdir -p "$bin"
export PATH="$PATH:/usr/local/go/bin"
export GOFLAGS=-mod=mod
log() { echo "lab-build: $*" >&2; }

want=("$@")
[ ${#want[@]} -gt 0 ] || want=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok helm)

# One lock: parallel test packages may all call this script.
exec 9>"$cache/.build.lock"
flock 9

kube_wrapper() {
  local w=$cache/src/kube-$KUBE_VERSION
  if [ ! -f "$w/.ready" ]; then
    log "preparing wrapper module for k8s.io/kubernetes $KUBE_VERSION"
    rm -rf "$w"; mkdir -p "$w"
    (
      cd "$w"
      go mod init vnfm.lab/kube >/dev/null 2>&1
      go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" >"$w/dl.json"
      gomod=$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p' "$w/dl.json")
      {
        echo "require k8s.io/kubernetes $KUBE_VERSION"
        echo "require go.etcd.io/etcd/server/v3 $ETCD_VERSION"
        # Every staging repository kubernetes replaces with ./staging/...
        sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#replace \1 => \1 '"$STAGING_VERSION"'#p' "$gomod" \
          | grep -v sample-cli-plugin
      } >>go.mod
      cat >tools.go <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO
      go mod tidy -e >/dev/null 2>&1 || true
      go mod download
    )
    touch "$w/.ready"
  fi
  echo "$w"
}

kube_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=36 -X k8s.io/component-base/version.gitTreeState=clean"

for c in "${want[@]}"; do
  [ -x "$bin/$c" ] && continue
  start=$(date +%s)
  log "building $c"
  case $c in
    kube-apiserver|kube-controller-manager|kube-scheduler)
      w=$(kube_wrapper)
      (cd "$w" && go build -tags tools -trimpath -ldflags "$kube_ldflags" -o "$bin/$c.tmp" "k8s.io/kubernetes/cmd/$c")
      ;;
    etcd)
      w=$(kube_wrapper)
      (cd "$w" && go build -trimpath -ldflags "-s -w" -o "$bin/$c.tmp" go.etcd.io/etcd/server/v3)
      ;;
    kwok)
      GOBIN=$cache/gobin go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
      mv "$cache/gobin/kwok" "$bin/$c.tmp"
      # kwok needs its stage configuration: ship the one from the module.
      src=$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage
      for s in node/fast/node-initialize node/heartbeat/node-heartbeat pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
        cat "$src/$s.yaml"; echo "---"
      done >"$bin/kwok-stages.yaml"
      ;;
    helm)
      GOBIN=$cache/gobin go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
      mv "$cache/gobin/helm" "$bin/$c.tmp"
      ;;
    *) log "unknown component $c"; exit 2 ;;
  esac
  mv "$bin/$c.tmp" "$bin/$c"
  log "built $c in $(( $(date +%s) - start )) s"
done
echo "$bin"
