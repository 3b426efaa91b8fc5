#!/usr/bin/env bash
# Where the time goes: runs one hot path (see --profile in Program.cs) under `perf record` (cpu-clock sampling;
# this VM has no hardware counters) and prints the top frames, self time.
#   benchmarks/profile.sh canonical [seconds]      targets: canonical canonical-reader vpc hubble goflow2 gcp azure leases rowbinary rowbinary-sorted edges resolve observe
# perf attaches only after setup (input generation, JIT warm-up), so the samples are the steady state.
set -euo pipefail
target=${1:?usage: benchmarks/profile.sh TARGET [seconds]}
seconds=${2:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/benchmarks/FlowPolicy.Benchmarks/bin/Release/net10.0/FlowPolicy.Benchmarks"
out=${PROFILE_DIR:-/tmp/flowpolicy-profile}
mkdir -p "$out"
[[ -x "$bin" && -z "${NO_BUILD:-}" ]] || dotnet build "$root/benchmarks/FlowPolicy.Benchmarks" -c Release -nodeReuse:false -v q >/dev/null

# Perf map: JIT-compiled frames by name. ReadyToRun off so framework code (System.Text.Json) is JIT-compiled and
# named too; W^X off because its double mapping hides JIT code from perf.
export DOTNET_PerfMapEnabled=1 DOTNET_ReadyToRun=0 DOTNET_EnableWriteXorExecute=0
log="$out/$target.log"
"$bin" --profile "$target" $((seconds + 2)) 2>"$log" &
pid=$!
until grep -q '^profiling' "$log" 2>/dev/null; do
  kill -0 "$pid" 2>/dev/null || { cat "$log"; exit 3; }
  sleep 0.2
done
perf record -q -F 999 -e cpu-clock -g -p "$pid" -o "$out/$target.data" -- sleep "$seconds" 2>/dev/null
wait "$pid"
tail -1 "$log"
# Self time per method, JIT tier suffixes and signatures trimmed to keep the table readable.
perf report -i "$out/$target.data" --no-children --sort symbol --stdio -g none 2>/dev/null \
  | grep '%' | head -${TOP:-25} \
  | sed -E 's/\[(OptimizedTier1|Optimized|Tier0|Tier1|OptimizedTier1OSR|QuickJitted)\]//; s/\(valuetype.*|\(class.*|\(uint8.*|\(int32.*|\(string.*|\(\).*//; s/ +- +- *$//; s/\[[A-Za-z.]+\] //g; s/  +/ /g'
