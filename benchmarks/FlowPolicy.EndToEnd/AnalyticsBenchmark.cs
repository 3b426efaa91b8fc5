using System.Diagnostics;
using System.Globalization;
using System.Text;
using FlowPolicy.Analytics.Intent;
using FlowPolicy.Analytics.Jobs;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Suggest.Inference;
using FlowPolicy.Suggest.Reports;

namespace FlowPolicy.EndToEnd;

/// <summary>One child run: wall time of the job (edges already in memory), CPU time (user + system) over the same span, peak RSS, RSS before the job.</summary>
internal sealed record AnalyticsRun(string Job, int Workloads, long Edges, int ExitCode, double Seconds, double CpuSeconds, long PeakRss, long RssBefore, string Summary);

/// <summary>
/// `suggest` (RuleInference + every emitter writing to a temp directory) and `analyze` (AnalyzeJob: intent decisions
/// against a few hundred NetworkPolicies, SLIs, dependency graph, slis.json and graph.json; no SVG) on synthetic edges.
/// Each run is a child process of this program so its peak RSS (VmHWM) is its own; the edges are generated inside
/// the child before the clock starts (they stand for what the ClickHouse edge source would return).
/// </summary>
internal static class AnalyticsBenchmark
{
    private const int Namespaces = 200;
    private static readonly DateTime WindowStart = new(2026, 11, 2, 0, 0, 0, DateTimeKind.Utc);
    private static readonly ushort[] Ports = [8080, 443, 5432, 6379, 9092, 53, 9090, 50051, 3306, 8443, 80, 11211];

    /// <summary>A run still going after this is killed and reported as failed (the suite has a 20-minute budget).</summary>
    public static TimeSpan ChildTimeout { get; set; } = TimeSpan.FromSeconds(180);

    /// <summary>
    /// The measured jobs: suggest with every format (the CLI default), suggest as a user rolling out one platform runs
    /// it (`--emit k8s`: the NetworkPolicies and report.md), both again with `--layout namespace` (a multi-document
    /// file per namespace instead of a file per policy), `--emit k8s` once more into the output of an earlier run (whose
    /// directory it replaces, as a scheduled job does), and analyze.
    /// </summary>
    private static readonly (string Job, string Child, string[] Arguments)[] Jobs =
    [
        ("suggest (all formats)", "suggest-child", []),
        ("suggest --emit k8s", "suggest-child", ["--emit", "k8s"]),
        ("suggest --layout namespace (all formats)", "suggest-child", ["--layout", "namespace"]),
        ("suggest --emit k8s --layout namespace", "suggest-child", ["--emit", "k8s", "--layout", "namespace"]),
        ("suggest --emit k8s, rerun into its earlier output", "suggest-child", ["--emit", "k8s", RerunFlag]),
        ("analyze", "analyze-child", []),
        ("anomalies (168 hours per edge)", "anomalies-child", []),
    ];

    /// <summary>In a job's arguments: the same child runs once, unmeasured, into the directory first.</summary>
    private const string RerunFlag = "(after an earlier run)";

    public static async Task<IReadOnlyList<AnalyticsRun>> RunAsync(int workloads, long edges, int rounds, TextWriter log, CancellationToken cancellationToken)
    {
        var runs = new List<AnalyticsRun>();
        var self = Environment.ProcessPath!;
        var dll = typeof(AnalyticsBenchmark).Assembly.Location;
        foreach (var (job, child, jobArguments) in Jobs)
        {
            for (int round = 1; round <= rounds; round++)
            {
                var work = Directory.CreateTempSubdirectory("flowpolicy-e2e-" + child + "-");
                try
                {
                    var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
                    if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(dll);
                    foreach (var arg in new[] { child, work.FullName, "--workloads", workloads.ToString(CultureInfo.InvariantCulture), "--edges", edges.ToString(CultureInfo.InvariantCulture) })
                        start.ArgumentList.Add(arg);
                    foreach (var arg in jobArguments.Where(a => a != RerunFlag)) start.ArgumentList.Add(arg);
                    if (jobArguments.Contains(RerunFlag))
                    {
                        // The earlier run, in a process of its own so the measured one starts as cold as any other.
                        using var earlier = Process.Start(start)!;
                        await earlier.StandardOutput.ReadToEndAsync(cancellationToken);
                        await earlier.WaitForExitAsync(cancellationToken);
                        if (earlier.ExitCode != 0) log.WriteLine($"e2e: {job} round {round}: the earlier run exited {earlier.ExitCode}");
                    }
                    using var process = Process.Start(start)!;
                    var outputTask = process.StandardOutput.ReadToEndAsync(cancellationToken);
                    using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    limit.CancelAfter(ChildTimeout);
                    bool timedOut = false;
                    long killedPeak = -1;
                    try
                    {
                        await process.WaitForExitAsync(limit.Token);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        timedOut = true;
                        killedPeak = ProcessMemory.Peak(process.Id); // what it had reached, for the report
                        process.Kill(entireProcessTree: true);
                        await process.WaitForExitAsync(cancellationToken);
                    }
                    var output = timedOut ? $"killed after {ChildTimeout.TotalSeconds:F0} s" : await outputTask;
                    var fields = output.Trim().Split('\t');
                    var run = !timedOut && process.ExitCode == 0 && fields.Length == 5
                        ? new AnalyticsRun(job, workloads, edges, 0, double.Parse(fields[0], CultureInfo.InvariantCulture), double.Parse(fields[1], CultureInfo.InvariantCulture),
                            long.Parse(fields[2], CultureInfo.InvariantCulture), long.Parse(fields[3], CultureInfo.InvariantCulture), fields[4])
                        : new AnalyticsRun(job, workloads, edges, timedOut || process.ExitCode == 0 ? 3 : process.ExitCode, timedOut ? ChildTimeout.TotalSeconds : 0, -1, killedPeak, -1, output.Trim());
                    runs.Add(run);
                    log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"e2e: {job} round {round}: exit {run.ExitCode}, {run.Seconds:F2} s (CPU {run.CpuSeconds:F1} s), peak RSS {ProcessMemory.Mib(run.PeakRss)} (edges alone {ProcessMemory.Mib(run.RssBefore)}); {run.Summary}"));
                }
                finally
                {
                    try { work.Delete(recursive: true); }
                    catch (IOException) { }
                }
            }
        }
        return runs;
    }

    /// <summary>
    /// The measured child: prints "seconds \t CPU seconds \t peak RSS \t RSS before \t summary". <paramref name="formats"/>:
    /// suggest's --emit (null: every format); <paramref name="layout"/>: suggest's --layout.
    /// </summary>
    public static int RunChild(string job, string directory, int workloads, long edgeCount, IReadOnlyList<string>? formats = null,
        SuggestionLayout layout = SuggestionLayout.Workload)
    {
        var generation = Stopwatch.StartNew();
        var edges = Generate(workloads, edgeCount);
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"e2e: {job}: {edges.Count:N0} edges generated in {generation.Elapsed.TotalSeconds:F1} s"));
        var intentFile = Path.Combine(directory, "intent.yaml");
        int policies = WriteIntent(intentFile, workloads);
        var output = new SuggestionOutputOptions { Directory = Path.Combine(directory, "out"), Formats = formats ?? SuggestionOutputOptions.AllFormats, Layout = layout };
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        int pid = Environment.ProcessId;
        long before = ProcessMemory.Resident(pid);
        ProcessMemory.ResetPeak(pid);
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        string summary;
        if (job == "suggest")
        {
            var inference = new RuleInference(new SuggestOptions());
            var set = inference.Infer(edges);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"e2e: suggest: inference {clock.Elapsed.TotalSeconds:F1} s, {set.Rules.Count:N0} rules"));
            double inferenceSeconds = clock.Elapsed.TotalSeconds;
            // FLOWPOLICY_E2E_INFERENCE_ONLY=1: time inference alone (profiling it without the writing after it).
            if (Environment.GetEnvironmentVariable("FLOWPOLICY_E2E_INFERENCE_ONLY") == "1")
            {
                double only = clock.Elapsed.TotalSeconds;
                double onlyCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{only:F3}\t{onlyCpu:F2}\t{ProcessMemory.Peak(pid)}\t{before}\t{set.Rules.Count:N0} rules, {set.LeftOut.Count:N0} edges left out; inference {only:F3} s; nothing written"));
                GC.KeepAlive(edges);
                return 0;
            }
            var files = new SuggestionOutput(output).Write(set);
            double writing = clock.Elapsed.TotalSeconds - inferenceSeconds;
            long bytes = OutputBytes(output.Directory);
            summary = string.Create(CultureInfo.InvariantCulture,
                $"{set.Rules.Count:N0} rules, {set.LeftOut.Count:N0} edges left out; inference {inferenceSeconds:F1} s; {files.Count:N0} files, {bytes / 1e9:F2} GB written in {writing:F1} s ({bytes / 1e6 / writing:F0} MB/s)");
        }
        else
        {
            var intent = new IntentEvaluator(new IntentPolicyLoader(new IntentPolicyLoaderOptions()).Load(intentFile));
            var window = new AnalysisWindow(WindowStart, WindowStart.AddDays(7));
            var result = new AnalyzeJob(new AnalyzeJobOptions { OutputDirectory = Path.Combine(directory, "out"), RenderSvg = false }, intent)
                .RunAsync(window, new LoadedEdgeSource(edges)).GetAwaiter().GetResult();
            summary = string.Create(CultureInfo.InvariantCulture,
                $"{policies} NetworkPolicies, {result.Report.PerService.Count:N0} services, {intent.Metrics.Denied:N0} of {intent.Metrics.Evaluations:N0} decisions deny, {result.FilesWritten.Count} files");
        }
        double seconds = clock.Elapsed.TotalSeconds;
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{seconds:F3}\t{cpu:F2}\t{ProcessMemory.Peak(pid)}\t{before}\t{summary}"));
        GC.KeepAlive(edges);
        return 0;
    }

    private static long OutputBytes(string directory)
    {
        long total = 0;
        foreach (var file in new DirectoryInfo(directory).EnumerateFiles("*", SearchOption.AllDirectories)) total += file.Length;
        return total;
    }

    /// <summary>
    /// Deterministic edges: workloads in 200 namespaces (labels app/tier), 85% of edges workload -> workload (70% of
    /// those inside the client's namespace), 15% to external addresses (20,000 of them), skewed towards a few hot
    /// servers; unique (client, server, port, protocol); counters over a 7-day window; sorted in EdgeOrder.
    /// </summary>
    internal static List<Edge> Generate(int workloads, long count)
    {
        var random = new Random(7);
        int perNamespace = Math.Max(1, workloads / Namespaces);
        var endpoints = new Endpoint[workloads];
        for (int i = 0; i < workloads; i++)
        {
            int ns = i / perNamespace % Namespaces;
            var name = $"w{i % perNamespace:D3}";
            endpoints[i] = Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, $"ns-{ns:D3}", name, i % 5 == 0 ? "StatefulSet" : "Deployment", null,
                [new("app", name), new("tier", i % 3 == 0 ? "web" : "backend")]));
        }
        var external = new Endpoint[20_000];
        for (int i = 0; i < external.Length; i++) external[i] = Endpoint.FromAddress(PackedIp.FromV4(198, (byte)(18 + i / 65536), (byte)(i / 256 % 256), (byte)(i % 256)));

        var seen = new HashSet<(int, int, ushort)>();
        var edges = new List<Edge>((int)count);
        while (edges.Count < count)
        {
            int client = random.Next(workloads);
            bool toExternal = random.Next(100) < 15;
            int server;
            ushort port;
            if (toExternal)
            {
                server = -1 - (int)(external.Length * Math.Pow(random.NextDouble(), 2));
                port = 443;
            }
            else
            {
                server = random.Next(100) < 70 ? client / perNamespace * perNamespace + random.Next(perNamespace) : (int)(workloads * Math.Pow(random.NextDouble(), 2));
                server %= workloads;
                port = Ports[(server + (random.Next(10) == 0 ? 1 : 0)) % Ports.Length];
            }
            if (!seen.Add((client, server, port))) continue;
            var edge = new Edge(endpoints[client], server < 0 ? external[-1 - server] : endpoints[server], port, port == 53 ? IpProtocols.Udp : IpProtocols.Tcp);
            long flows = 1 + (long)(10_000 * Math.Pow(random.NextDouble(), 4));
            var first = WindowStart.AddSeconds(random.Next(0, 6 * 86400));
            var last = first.AddSeconds(random.Next(0, (int)(WindowStart.AddDays(7) - first).TotalSeconds));
            edge.Flows = flows;
            edge.Bytes = (ulong)(flows * random.Next(200, 200_000));
            edge.Packets = (ulong)(flows * random.Next(2, 200));
            edge.FirstSeen = first;
            edge.LastSeen = last;
            edge.DeniedFlows = random.Next(50) == 0 ? flows : 0;
            edge.AllowedFlows = flows - edge.DeniedFlows;
            edge.ClientReplicas = 1 + random.Next(5);
            var days = new List<DateOnly>();
            for (var day = DateOnly.FromDateTime(first); day <= DateOnly.FromDateTime(last); day = day.AddDays(1)) days.Add(day);
            edge.Days = days;
            edge.HourOfWeek[Edge.HourOfWeekOf(first)] += flows;
            edges.Add(edge);
        }
        edges.Sort(EdgeOrder.Compare);
        return edges;
    }

    /// <summary>Per namespace: a default-deny ingress policy and one allowing web-tier pods to the namespace's first workload.</summary>
    private static int WriteIntent(string path, int workloads)
    {
        int perNamespace = Math.Max(1, workloads / Namespaces);
        var yaml = new StringBuilder();
        int count = 0;
        for (int ns = 0; ns < Namespaces; ns++)
        {
            yaml.Append(CultureInfo.InvariantCulture, $"""
                apiVersion: networking.k8s.io/v1
                kind: NetworkPolicy
                metadata: {"{"}name: default-deny, namespace: ns-{ns:D3}{"}"}
                spec:
                  podSelector: {"{}"}
                  policyTypes: [Ingress]
                ---
                apiVersion: networking.k8s.io/v1
                kind: NetworkPolicy
                metadata: {"{"}name: allow-web, namespace: ns-{ns:D3}{"}"}
                spec:
                  podSelector: {"{"}matchLabels: {"{"}app: w{ns % perNamespace:D3}{"}"}{"}"}
                  policyTypes: [Ingress]
                  ingress:
                  - from:
                    - podSelector: {"{"}matchLabels: {"{"}tier: web{"}"}{"}"}
                    - namespaceSelector: {"{}"}
                      podSelector: {"{"}matchLabels: {"{"}app: w001{"}"}{"}"}
                    ports:
                    - {"{"}port: 8080, protocol: TCP{"}"}
                    - {"{"}port: 443, protocol: TCP{"}"}
                ---

                """);
            count += 2;
        }
        File.WriteAllText(path, yaml.ToString());
        return count;
    }
}
