#!/usr/bin/env bash
# The end-to-end benchmarks (benchmarks/README.md, "End to end"): a private ClickHouse and the mock Kafka broker on
# this machine; FlowPolicy ingest (a `flowpolicy ingest` child process) against ClickHouse's Kafka engine + a
# materialized view over the same 2,000,000 messages, with the Kafka client alone (consume and discard) as the floor,
# 3 rounds; then `suggest` and `analyze` on 1,000,000 synthetic
# edges over 10,000 workloads, 3 runs each. About 10-12 minutes on 2 shared cores. Prints markdown tables on stdout,
# progress on stderr. Arguments pass through, e.g.:
#   benchmarks/run-e2e.sh ingest --flows 500000 --rounds 1     # ingest only, smaller
#   benchmarks/run-e2e.sh analytics --edges 100000             # analytics only
#   benchmarks/run-e2e.sh embedded --baseline-cli OLD/flowpolicy.dll   # `flowpolicy edges` on 2M-record files vs ClickHouse load+group
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export MSBUILDDISABLENODEREUSE=1
dotnet build "$root/benchmarks/FlowPolicy.EndToEnd" -c Release -nodeReuse:false -v q >&2
mode=${1:-all}
[[ $# -gt 0 ]] && shift
defaults=()
if [[ $mode == ingest || $mode == all ]]; then
  # 40 partitions hold 2M canonical lines (the mock keeps ~5 MB of lz4 batches, ~59,000 such messages, per partition);
  # a 5 s batch interval gives INSERTs of ~7,500 rows per partition (docs/ingest.md, "Sizing").
  defaults=(--flows 2000000 --partitions 40 --batch-interval 5)
fi
exec "$root/benchmarks/FlowPolicy.EndToEnd/bin/Release/net10.0/FlowPolicy.EndToEnd" "$mode" "${defaults[@]}" "$@"
