#!/usr/bin/env bash
# Everything: the micro suite, then the end-to-end suite; under 20 minutes on 2 shared cores (measured: README.md).
# Results: benchmarks/BenchmarkDotNet.Artifacts/results/*.md and benchmarks/BenchmarkDotNet.Artifacts/e2e-results.md
# (git-ignored). `benchmarks/run-all.sh --quick` shortens the micro suite (1 warm-up, 3 short iterations).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
start=$SECONDS
"$root/benchmarks/run.sh" "$@"
mkdir -p "$root/benchmarks/BenchmarkDotNet.Artifacts"
"$root/benchmarks/run-e2e.sh" all | tee "$root/benchmarks/BenchmarkDotNet.Artifacts/e2e-results.md"
echo "run-all: $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s" >&2
