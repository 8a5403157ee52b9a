#!/usr/bin/env bash
# Lab implementation of the Helm installation contract (scripts/k8s/README.md):
# installs the helm binary the lab built from the Go module proxy (@BIN@)
# instead of downloading a release.
set -euo pipefail
BIN=@BIN@
if ! command -v helm >/dev/null 2>&1 || ! helm version --short >/dev/null 2>&1; then
  install -m 0755 "$BIN/helm" /usr/local/bin/helm
fi
helm version --short >&2
