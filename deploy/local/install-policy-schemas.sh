#!/usr/bin/env bash
# Installs the official policy schemas the policy validation tests check every emitted document against, into a
# cache shared by runs (npm packages by name and pinned version; nothing is vendored into the repository):
#   kubernetes-models 5.1.0          Kubernetes OpenAPI (NetworkPolicy), ajv validators
#   @kubernetes-models/cilium 4.0.0  Cilium CRDs (CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy)
#   @kubernetes-models/istio 3.0.1   Istio CRDs (AuthorizationPolicy, ServiceEntry), from istio 1.29.2 crd-all.gen.yaml
# Cache: $FLOWPOLICY_SCHEMA_CACHE, default ~/.cache/flowpolicy/policy-schemas. Prints the cache directory.
set -euo pipefail
cache="${FLOWPOLICY_SCHEMA_CACHE:-${HOME:-/root}/.cache/flowpolicy/policy-schemas}"
packages=(kubernetes-models@5.1.0 @kubernetes-models/cilium@4.0.0 @kubernetes-models/istio@3.0.1)
stamp="$cache/installed-${#packages[@]}-$(printf '%s\n' "${packages[@]}" | md5sum | cut -c1-12)"
if [ -f "$stamp" ]; then echo "$cache"; exit 0; fi
if ! command -v npm >/dev/null 2>&1; then
  echo "install-policy-schemas: npm is missing (Debian: apt-get install npm); the policy schema tests need it" >&2
  exit 2
fi
mkdir -p "$cache"
[ -f "$cache/package.json" ] || printf '{"name":"flowpolicy-policy-schemas","private":true}\n' > "$cache/package.json"
echo "install-policy-schemas: installing ${packages[*]} into $cache" >&2
# The packages declare node >= 22 but run on node 20 (ES modules and ajv only); --engine-strict stays off.
npm install --prefix "$cache" --no-audit --no-fund --loglevel=error "${packages[@]}" >&2
touch "$stamp"
echo "$cache"
