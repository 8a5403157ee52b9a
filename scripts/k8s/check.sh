#!/usr/bin/env bash
# check.sh: checks the Kubernetes node scripts of scripts/k8s.
#   - the copies in the k8s-cluster sample package are byte-identical;
#   - bash -n accepts every script;
#   - shellcheck -x finds nothing (it must be installed: apt-get install -y shellcheck).
# Usage: scripts/k8s/check.sh   (from anywhere). Exit 0 when all holds, else 1.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
samples=$(cd "$here/../.." && pwd)/test/samples/k8s-cluster/Scripts
scripts=(install_k8s_cluster.sh install_helm.sh)
fail=0

for s in "${scripts[@]}"; do
  if [ ! -f "$samples/$s" ]; then
    echo "check.sh: $samples/$s is missing (copy scripts/k8s/$s there)" >&2
    fail=1
  elif ! cmp -s "$here/$s" "$samples/$s"; then
    echo "check.sh: $samples/$s differs from scripts/k8s/$s (copy it over)" >&2
    fail=1
  fi
  if ! bash -n "$here/$s"; then
    echo "check.sh: bash -n rejects scripts/k8s/$s" >&2
    fail=1
  fi
done

if ! command -v shellcheck >/dev/null; then
  echo "check.sh: shellcheck is not installed (apt-get install -y shellcheck)" >&2
  exit 1
fi
if ! (cd "$here" && shellcheck -x "${scripts[@]}" check.sh); then
  echo "check.sh: shellcheck found problems" >&2
  fail=1
fi

if [ "$fail" -ne 0 ]; then exit 1; fi
echo "check.sh: ok (${scripts[*]})"
