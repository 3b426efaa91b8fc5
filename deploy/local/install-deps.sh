#!/usr/bin/env bash
# Installs the Debian packages FlowPolicy's tests and local runs use, when they are missing.
#   clickhouse-server  local ClickHouse started by tests/demo on a private data dir (never the system service)
#   librdkafka1        native Kafka client loaded by Confluent.Kafka
#   graphviz           SVG service maps;  kcat: Kafka debugging;  chromium: HTML report checks
#   zookeeper          the jar the replicated-cluster test runs as a private ZooKeeper (not the zookeeperd service)
set -euo pipefail
# The policy validation tests' schemas (npm, cached); a failure here is reported by those tests too.
"$(dirname "${BASH_SOURCE[0]}")/install-policy-schemas.sh" >/dev/null || echo "install-deps: policy schemas not installed (see above)" >&2
packages=(clickhouse-server clickhouse-client librdkafka1 graphviz kcat chromium zookeeper)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
  exit 2
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The package starts a system ClickHouse on the default ports; FlowPolicy never uses it, so stop it.
if command -v service >/dev/null 2>&1; then service clickhouse-server stop >/dev/null 2>&1 || true; fi
