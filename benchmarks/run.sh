#!/usr/bin/env bash
# The micro-benchmark suite: every reader, the lease index, RowBinary encoding, edge aggregation and direction,
# each against its same-run baseline. About 10 minutes on 2 cores (--quick: about 4); results in
# BenchmarkDotNet.Artifacts/results/*.md. Extra arguments go to BenchmarkDotNet, e.g. --filter '*CanonicalJson*'.
#   benchmarks/run.sh [--quick] [BenchmarkDotNet args]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
args=("$@")
filter=()
printf '%s\n' "${args[@]:-}" | grep -q -- '--filter' || filter=(--filter '*')
cd "$root/benchmarks"
export MSBUILDDISABLENODEREUSE=1  # shared build machine: no lingering MSBuild nodes
exec dotnet run -c Release --project "$root/benchmarks/FlowPolicy.Benchmarks" -- "${args[@]}" "${filter[@]}"
