#!/usr/bin/env bash
# Renders the Helm chart into plain manifests for users without Helm:
#   deploy/install.yaml = Namespace agentrollout-system + CRDs + the chart with default
#   values (all namespaces watched, 2 replicas with leader election).
#   hack/render-chart.sh          rewrite deploy/install.yaml
#   hack/render-chart.sh --check  exit 1 if deploy/install.yaml is not what the chart renders
# helm comes from hack/helm-bin.sh (built from Go modules, cached outside the repo).
set -euo pipefail
cd "$(dirname "$0")/.."

NAMESPACE=agentrollout-system
RELEASE=agentrollout-operator
# Rendering does not talk to a cluster; this is the version the chart is checked against
# (the control plane the tests run, hack/versions.env).
KUBE_VERSION=1.36.0

helm="$(hack/helm-bin.sh)"
rendered="$(mktemp)"
trap 'rm -f "$rendered"' EXIT
{
  echo "# agentrollout-operator: plain install manifests, rendered from charts/agentrollout-operator"
  echo "# by hack/render-chart.sh with the chart's default values. Do not edit; re-render."
  echo "#   kubectl apply --server-side -f deploy/install.yaml"
  echo "---"
  echo "apiVersion: v1"
  echo "kind: Namespace"
  echo "metadata:"
  echo "  name: $NAMESPACE"
  echo "  labels:"
  echo "    pod-security.kubernetes.io/enforce: restricted"
  "$helm" template "$RELEASE" charts/agentrollout-operator \
    --namespace "$NAMESPACE" --include-crds --kube-version "$KUBE_VERSION"
} >"$rendered"

if [ "${1:-}" = --check ]; then
  if ! diff -u deploy/install.yaml "$rendered"; then
    echo "render-chart: deploy/install.yaml is stale (run hack/render-chart.sh)" >&2
    exit 1
  fi
  echo "render-chart: deploy/install.yaml is up to date"
  exit 0
fi
mkdir -p deploy
cp "$rendered" deploy/install.yaml
echo "render-chart: wrote deploy/install.yaml"
