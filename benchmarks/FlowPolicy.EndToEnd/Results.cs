using System.Globalization;
using System.Text;

namespace FlowPolicy.EndToEnd;

/// <summary>Markdown tables of the runs: medians of the valid runs, ratios of the medians.</summary>
internal static class Results
{
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    public static string Machine()
    {
        var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
        var load = File.ReadAllText("/proc/loadavg").Split(' ');
        return string.Create(CultureInfo.InvariantCulture,
            $"Machine: {cpu}, {Environment.ProcessorCount} CPUs, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1L << 30)} GiB, .NET {Environment.Version}, load average {load[0]} {load[1]} {load[2]} at the end, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC\n");
    }

    public static string IngestTable(IngestBenchmarkOptions options, IReadOnlyList<IngestRun> runs)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture,
            $"Ingest: {options.Flows:N0} canonical JSON flows (one per message) in {options.Partitions} partitions, {options.Consumers} lanes / Kafka consumers, {options.Rounds} rounds\n\n");
        text.Append("| Side | Round | Valid | Flows/s (first to last row) | First row after | Flows/s from start | Consumer peak RSS | ClickHouse RSS growth | CPU s: consumer + ClickHouse |\n|---|---:|---|---:|---:|---:|---:|---:|---:|\n");
        foreach (var run in runs)
            text.Append(CultureInfo.InvariantCulture,
                $"| {run.Side} | {run.Round} | {(run.Valid ? "yes" : "**no**: " + run.Problem)} | {run.FlowsPerSecond:N0} | {run.FirstRowSeconds:F1} s | {run.Rows / run.TotalSeconds:N0} | " +
                $"{(run.Side == KafkaEngine ? "(in the server)" : ProcessMemory.Mib(run.ConsumerPeakRss))} | {ProcessMemory.Mib(run.ServerRssDelta)} | {run.ConsumerCpuSeconds:F1} + {run.ServerCpuSeconds:F1} |\n");
        var fp = runs.Where(r => r.Valid && r.Side == FlowPolicy).ToList();
        var ke = runs.Where(r => r.Valid && r.Side == KafkaEngine).ToList();
        var alone = runs.Where(r => r.Valid && r.Side == IngestBenchmark.KafkaClientAlone).ToList();
        var rawPoll = runs.Where(r => r.Valid && r.Side == IngestBenchmark.KafkaClientRawPoll).ToList();
        double fpRate = Median(fp.Select(r => r.FlowsPerSecond)), keRate = Median(ke.Select(r => r.FlowsPerSecond));
        text.Append(CultureInfo.InvariantCulture,
            $"\nMedians of the valid runs: FlowPolicy {fpRate:N0} flows/s ({fp.Count} runs), peak RSS {ProcessMemory.Mib((long)Median(fp.Select(r => (double)r.ConsumerPeakRss)))}, " +
            $"ClickHouse +{ProcessMemory.Mib((long)Median(fp.Select(r => (double)r.ServerRssDelta)))}; Kafka engine {keRate:N0} flows/s ({ke.Count} runs), " +
            $"ClickHouse +{ProcessMemory.Mib((long)Median(ke.Select(r => (double)r.ServerRssDelta)))}; CPU per million flows: FlowPolicy " +
            $"{Median(fp.Select(r => (r.ConsumerCpuSeconds + r.ServerCpuSeconds) * 1e6 / r.Rows)):F1} s (worker {Median(fp.Select(r => r.ConsumerCpuSeconds * 1e6 / r.Rows)):F1} s), " +
            $"Kafka engine {Median(ke.Select(r => r.ServerCpuSeconds * 1e6 / r.Rows)):F1} s. **Ratio FlowPolicy / Kafka engine: {fpRate / keRate:F2}x** " +
            $"(per-round ratios: {string.Join(", ", Enumerable.Range(1, options.Rounds).Select(r => RoundRatio(runs, r)))})\n");
        if (alone.Count > 0 && fp.Count > 0 && ke.Count > 0)
        {
            // The goal as CPU: both sides share this machine's cores, so 1.5x the Kafka engine's rate allows at most
            // cores / (1.5 x rate) CPU seconds per flow for the worker and the server together.
            double budget = Environment.ProcessorCount * 1e6 / (1.5 * keRate);
            double server = Median(fp.Select(r => r.ServerCpuSeconds * 1e6 / r.Rows)), client = Median(alone.Select(r => r.ConsumerCpuSeconds * 1e6 / r.Rows));
            double worker = Median(fp.Select(r => r.ConsumerCpuSeconds * 1e6 / r.Rows));
            text.Append(CultureInfo.InvariantCulture,
                $"\nKafka client alone (the worker's client and settings, every message read and discarded): {Median(alone.Select(r => r.FlowsPerSecond)):N0} messages/s, " +
                $"{client:F2} CPU s per million ({client / worker:P0} of the worker's {worker:F2} s). The 1.5x goal as CPU on these {Environment.ProcessorCount} cores: " +
                $"at most {budget:F2} s per million flows for worker and ClickHouse together; ClickHouse storing FlowPolicy's rows took {server:F2} s and the Kafka " +
                $"client alone {client:F2} s, leaving {budget - server - client:F2} s for decoding, enriching, orienting and encoding.");
            if (rawPoll.Count > 0)
                text.Append(CultureInfo.InvariantCulture,
                    $" Polling librdkafka directly and reading each message in place (no ConsumeResult, no byte[]; what a binding of our own could do): " +
                    $"{Median(rawPoll.Select(r => r.FlowsPerSecond)):N0} messages/s, {Median(rawPoll.Select(r => r.ConsumerCpuSeconds * 1e6 / r.Rows)):F2} CPU s per million.");
            text.Append('\n');
        }
        return text.ToString();
    }

    private const string FlowPolicy = IngestBenchmark.FlowPolicySide, KafkaEngine = IngestBenchmark.KafkaEngineSide;

    private static string RoundRatio(IReadOnlyList<IngestRun> runs, int round)
    {
        var fp = runs.FirstOrDefault(r => r.Round == round && r.Side == FlowPolicy);
        var ke = runs.FirstOrDefault(r => r.Round == round && r.Side == KafkaEngine);
        return fp is { Valid: true } && ke is { Valid: true } ? (fp.FlowsPerSecond / ke.FlowsPerSecond).ToString("F2", CultureInfo.InvariantCulture) + "x" : "invalid";
    }

    public static string AnalyticsTable(IReadOnlyList<AnalyticsRun> runs)
    {
        var text = new StringBuilder();
        var first = runs[0];
        text.Append(CultureInfo.InvariantCulture,
            $"Analytics: {first.Edges:N0} edges over {first.Workloads:N0} workloads, {runs.Count(r => r.Job == first.Job)} runs each (child process per run)\n\n");
        text.Append("| Job | Median wall time | Runs | Median CPU (user + sys) | Median peak RSS | RSS with the edges loaded (before the clock) | Output |\n|---|---:|---|---:|---:|---:|---|\n");
        foreach (var job in runs.GroupBy(r => r.Job))
        {
            var ok = job.Where(r => r.ExitCode == 0).ToList();
            if (ok.Count == 0)
            {
                var failed = job.First();
                text.Append(CultureInfo.InvariantCulture,
                    $"| {job.Key} | **did not finish** | {string.Join(" / ", job.Select(r => r.Summary))} | | {ProcessMemory.Mib(job.Max(r => r.PeakRss))} when stopped | | |\n");
                continue;
            }
            text.Append(CultureInfo.InvariantCulture,
                $"| {job.Key} | {Median(ok.Select(r => r.Seconds)):F2} s | {string.Join(" / ", job.Select(r => r.ExitCode == 0 ? r.Seconds.ToString("F2", CultureInfo.InvariantCulture) : "failed"))} | " +
                $"{Median(ok.Select(r => r.CpuSeconds)):F1} s | {ProcessMemory.Mib((long)Median(ok.Select(r => (double)r.PeakRss)))} | {ProcessMemory.Mib((long)Median(ok.Select(r => (double)r.RssBefore)))} | {ok.FirstOrDefault()?.Summary} |\n");
        }
        return text.ToString();
    }
}
