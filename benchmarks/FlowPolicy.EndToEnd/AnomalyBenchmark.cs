using System.Diagnostics;
using System.Globalization;
using FlowPolicy.Analytics.Anomalies;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.EndToEnd;

/// <summary>
/// The anomalies job's detection on N edges x 168 hours (six days of history + one day judged, as a daily run with a
/// week of rollups reads them): each edge's hourly series is generated and handed to <see cref="AnomalyDetector"/> one
/// at a time, as the job streams them, so the peak RSS is the detector's (services, sources, evidence) plus one series.
/// A fifth of the edges carry traffic in every hour with a daily rhythm, the rest a little in a few hours; a few are scans,
/// drops and new heavy talkers. Generation is timed alone first and subtracted.
/// </summary>
internal static class AnomalyBenchmark
{
    private const int Hours = 168;
    private static readonly DateTime Start = new(2026, 11, 2, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>Prints "seconds \t CPU seconds \t peak RSS \t RSS before \t summary", as the other analytics children.</summary>
    public static int RunChild(int workloads, long edgeCount)
    {
        var endpoints = new Endpoint[workloads];
        for (int i = 0; i < workloads; i++)
            endpoints[i] = Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, $"ns-{i % 200:D3}", $"w{i:D5}", "Deployment"));
        var generationCpu = Process.GetCurrentProcess().TotalProcessorTime;
        var generation = Stopwatch.StartNew();
        long generatedHours = 0;
        foreach (var series in Generate(endpoints, edgeCount)) generatedHours += series.Hours.Length;
        double generationSeconds = generation.Elapsed.TotalSeconds;
        double generationCpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - generationCpu).TotalSeconds;

        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        int pid = Environment.ProcessId;
        long before = ProcessMemory.Resident(pid);
        ProcessMemory.ResetPeak(pid);
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var detector = new AnomalyDetector(new AnomalyOptions(), Start, Hours, Hours - 24);
        foreach (var series in Generate(endpoints, edgeCount)) detector.Add(series);
        var report = detector.Finish();
        double seconds = clock.Elapsed.TotalSeconds - generationSeconds;
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds - generationCpuSeconds;
        foreach (var a in report.Anomalies.Take(int.Parse(Environment.GetEnvironmentVariable("FLOWPOLICY_E2E_SHOW_ANOMALIES") ?? "0", CultureInfo.InvariantCulture)))
            Console.Error.WriteLine(a.Explanation);
        var kinds = string.Join(", ", report.Anomalies.GroupBy(a => a.Kind).OrderBy(g => g.Key).Select(g => $"{g.Count()} {AnomalyText.Kind(g.Key)}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{seconds:F3}\t{cpu:F2}\t{ProcessMemory.Peak(pid)}\t{before}\t{report.SeriesExamined:N0} edges x {Hours} hours ({generatedHours:N0} non-empty edge-hours; generating them {generationSeconds:F1} s, not counted): {report.Anomalies.Count:N0} anomalies ({kinds})"));
        return 0;
    }

    /// <summary>Deterministic series, generated lazily (never all in memory).</summary>
    private static IEnumerable<EdgeHourlySeries> Generate(Endpoint[] endpoints, long count)
    {
        var random = new Random(7);
        var hours = new List<int>(Hours);
        var flows = new List<long>(Hours);
        var bytes = new List<ulong>(Hours);
        var denied = new List<long>(Hours);
        var seen = new HashSet<(int, int, ushort)>();
        for (long n = 0; n < count;)
        {
            int client = random.Next(endpoints.Length);
            int server = (int)(endpoints.Length * Math.Pow(random.NextDouble(), 2));
            ushort port = (ushort)(8000 + random.Next(8));
            if (client == server || !seen.Add((client, server, port))) continue;
            n++;
            hours.Clear(); flows.Clear(); bytes.Clear(); denied.Clear();
            bool dense = random.Next(5) == 0;
            // Busy edges have a daily rhythm; the rest are small and irregular (below what is worth reporting).
            double peak = dense ? 10 + 5000 * Math.Pow(random.NextDouble(), 3) : 1 + 15 * random.NextDouble();
            double bytesPerFlow = random.Next(500, 20_000);
            int special = random.Next(20_000); // 0: drop in the judged day, 1: new heavy talker, 2: denied spike
            int firstHour = special == 1 ? Hours - 5 : 0;
            for (int h = firstHour; h < Hours; h++)
            {
                if (!dense && random.Next(12) != 0 && special != 1) continue;
                double rhythm = 0.2 + 0.8 * Math.Max(0, Math.Sin(Math.PI * (h % 24 - 6) / 15.0));
                long f = (long)(peak * rhythm * (0.9 + 0.2 * random.NextDouble()));
                if (special == 0 && h >= Hours - 6) f = 0;
                long d = special == 2 && h == Hours - 3 ? 400 : random.Next(50) == 0 ? 1 : 0;
                ulong b = (ulong)(f * bytesPerFlow * (0.95 + 0.1 * random.NextDouble())) + (special == 1 ? 2_000_000_000UL : 0);
                if (f == 0 && b == 0 && d == 0) continue;
                hours.Add(h); flows.Add(f + d); bytes.Add(b); denied.Add(d);
            }
            if (hours.Count == 0) continue;
            yield return new EdgeHourlySeries(endpoints[client], endpoints[server], port, IpProtocols.Tcp, hours.ToArray(), flows.ToArray(), bytes.ToArray(), denied.ToArray());
        }
    }
}
