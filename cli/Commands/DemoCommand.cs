using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using FlowPolicy.Analytics.Edges;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Cli.Serve;
using FlowPolicy.Cli.Terminal;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Core.Edges;
using FlowPolicy.Ingest.Embedded;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Kafka;
using FlowPolicy.Ingest.Workers;
using FlowPolicy.LocalServers.ClickHouse;
using FlowPolicy.LocalServers.Kafka;
using Microsoft.Extensions.Logging;

namespace FlowPolicy.Cli.Commands;

/// <summary>
/// `flowpolicy demo`: the README's first command. Generates the built-in sample and runs the whole pipeline on it:
/// a private ClickHouse and the dev broker, produce, ingest, rollups, analytics and the suggestion report, through
/// the same job code serve schedules. Says where the results are and checks the recovered graph against the one the
/// sample was generated from (exit 3 when they differ). `--embedded` runs the serverless path on the files instead.
/// </summary>
internal static class DemoCommand
{
    public const string Topic = "flows";
    public const int Partitions = 16;

    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Directory for the sample and the results.", DefaultValueFactory = _ => Path.Combine("out", "demo") };
        var embedded = new Option<bool>("--embedded") { Description = "No servers: aggregate the sample files in memory (edges only, about 10 s)." };
        var intent = new Option<string?>("--intent") { Description = "Intended policy for the SLIs (default: docs/examples/sample-policies when found)." };
        var command = new Command("demo",
            "Run the pipeline end to end on the built-in sample app and print where the results are: starts a private ClickHouse and " +
            "the dev Kafka broker, produces a week of sample traffic, ingests it, runs the analytics and the suggestion report, " +
            "then stops both servers. Exits 3 when the recovered dependency graph differs from the one the sample was generated from.\n\n" +
            "Examples:\n" +
            "  flowpolicy demo\n" +
            "  flowpolicy demo --out /tmp/demo\n" +
            "  flowpolicy demo --embedded")
        {
            output, embedded, intent,
        };
        command.SetAction(parse =>
        {
            var dir = parse.GetValue(output)!;
            CommonOptions.RequireWritableDirectory(dir, "--out");
            if (parse.GetValue(embedded)) return RunEmbedded(dir);
            var intentDir = parse.GetValue(intent) ?? FindSamplePolicies();
            if (intentDir is not null && !Directory.Exists(intentDir)) throw new UsageException($"--intent: no such directory '{intentDir}'");
            if (LocalClickHouseServer.FindBinary() is null)
                throw new UsageException($"the full demo needs a ClickHouse server binary (deploy/local/install-deps.sh installs clickhouse-server, or set {LocalClickHouseServer.BinaryVariable}); " +
                                         "'flowpolicy demo --embedded' runs without servers");
            using var signal = ServerOptions.OnStopSignal();
            return RunPipelineAsync(dir, intentDir, signal.Token).GetAwaiter().GetResult();
        });
        return command;
    }

    private static int RunEmbedded(string directory)
    {
        var sampleDir = Path.Combine(directory, "sample");
        Console.Error.WriteLine($"flowpolicy: writing the sample app's flow logs to {sampleDir}");
        var files = SampleCommand.Write(sampleDir, SampleCommand.DefaultStart, days: 7, seed: 42, rate: 6);

        var load = EdgesCommand.LoadEdges(new FileEdgeSourceOptions { FlowFiles = files.FlowFiles, InventoryFiles = files.InventoryFiles });
        var edgesPath = Path.Combine(directory, "edges.jsonl");
        using (var edgesFile = File.Create(edgesPath))
            EdgesCommand.WriteJsonLines(edgesFile, load.Edges);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Edges: {load.Edges.Count} from {load.Records} flow records -> {edgesPath}"));
        bool same = Compare(files.TruthFile, load.Edges);
        Console.WriteLine($"Sample input: {sampleDir}   (try: ./flowpolicy edges --flows {string.Join(' ', files.FlowFiles)} --inventory {string.Join(' ', files.InventoryFiles)})");
        return same ? ExitCodes.Success : ExitCodes.RuntimeError;
    }

    private static async Task<int> RunPipelineAsync(string directory, string? intentDir, CancellationToken stop)
    {
        var total = Stopwatch.StartNew();
        void Step(int n, string text) => Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{n}/7 {total.Elapsed.TotalSeconds,5:0}s] {text}"));
        Directory.CreateDirectory(directory);
        var sampleDir = Path.Combine(directory, "sample");
        var start = SampleCommand.DefaultStart;
        const int days = 7;

        Step(1, $"writing a week of the sample app's traffic to {sampleDir}");
        var files = SampleCommand.Write(sampleDir, start, days, seed: 42, rate: 6);
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"        {files.Records} flow records in {files.FlowFiles.Count} files ({string.Join(", ", files.FlowFiles.Select(Path.GetFileName))})"));

        Step(2, "starting a private ClickHouse and the dev Kafka broker");
        await using var clickhouse = await LocalClickHouseServer.StartAsync(new LocalClickHouseServerOptions { DeleteDataOnStop = true }, stop);
        using var broker = MockKafkaCluster.Start(new MockKafkaClusterOptions { Topics = [Topic], Partitions = Partitions });
        var chOptions = clickhouse.ClientOptions("flowpolicy");
        using var client = new ClickHouseHttpClient(chOptions);
        await SchemaMigrator.MigrateAsync(client, cancellationToken: stop);
        Console.Error.WriteLine($"        ClickHouse {clickhouse.Url} (data in {clickhouse.DataDirectory}), Kafka {broker.BootstrapServers}");

        Step(3, $"producing the flow files to Kafka topic '{Topic}'");
        var kafka = new KafkaOptions { Brokers = broker.BootstrapServers, Topic = Topic, Group = "flowpolicy-demo" };
        var producer = new FlowFileProducer(kafka, head => FlowFormatDetector.Detect(head) is not { } detected || FlowDecoders.For(detected).IsLineOriented(head), Console.Error);
        var produced = await producer.ProduceAsync(files.FlowFiles, stop);
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"        {produced.Delivered} messages ({produced.DeliveredBytes / 1e6:0.0} MB) delivered, {produced.Failed} failed"));
        if (produced.Failed > 0) return ExitCodes.RuntimeError;

        Step(4, "ingesting: decode, enrich, orient, store in ClickHouse");
        using var logs = ServerOptions.Logs(LogLevel.Warning);
        var pipeline = new IngestPipeline(new IngestPipelineOptions
        {
            Kafka = kafka,
            Inventory = files.InventoryFiles.ToArray(),
            // The demo stops right after the last message is consumed, so the stop's flush stores the last batches: on a
            // loaded machine their INSERTs took longer than the 20 s a rebalance allows (a real worker's successor re-reads
            // them; the demo has none, and came up 7 flows short).
            Worker = new IngestWorkerOptions { Lanes = 2, RollupInterval = null, BatchInterval = TimeSpan.FromSeconds(1), RevokeFlushLimit = TimeSpan.FromMinutes(3) },
        }, client, logs);
        var worker = pipeline.Worker;
        await pipeline.StartAsync(stop);
        try
        {
            var clock = Stopwatch.StartNew();
            while (worker.Metrics.Messages < produced.Delivered && !pipeline.Completion.IsCompleted)
            {
                if (clock.Elapsed > TimeSpan.FromMinutes(5)) throw new RuntimeFailureException($"ingest stalled at {worker.Metrics.Messages} of {produced.Delivered} messages");
                await Task.Delay(500, stop);
                if (Progress.Interactive)
                    Console.Error.Write(string.Create(CultureInfo.InvariantCulture, $"\r        {worker.Metrics.Messages}/{produced.Delivered} messages, {worker.Metrics.FlowRows} flows stored   "));
            }
            if (Progress.Interactive) Console.Error.WriteLine();
        }
        finally
        {
            await pipeline.StopAsync(); // flushes every batch and commits before it returns, then stops the inventory
        }
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"        {worker.Metrics.FlowRows} flows, {worker.Metrics.L7Rows} L7 observations and {worker.Metrics.DeadLetters} dead letters stored from {worker.Metrics.Messages} messages"));

        // The same jobs serve schedules, each run recorded in job_runs.
        var output = Path.Combine(directory, "reports");
        var config = new ServeConfig { Intent = intentDir is null ? null : Path.GetFullPath(intentDir), Output = Path.GetFullPath(output) };
        var week = TimeSpan.FromDays(days);
        config.Jobs.Add(new JobConfig { Name = JobKinds.Rollup, Kind = JobKinds.Rollup, Schedule = "0 */10 * * * ?" });
        if (intentDir is not null) config.Jobs.Add(new JobConfig { Name = JobKinds.Analyze, Kind = JobKinds.Analyze, Schedule = "0 0 0 ? * MON", Window = week });
        // With L7: the sample's Hubble file has gRPC calls and DNS answers (stored in flows_l7), so the Cilium and Istio files
        // show HTTP rules and toFQDNs, as `suggest --l7` writes them.
        config.Jobs.Add(new JobConfig { Name = JobKinds.Suggest, Kind = JobKinds.Suggest, Schedule = "0 0 0 ? * MON", Window = week, L7 = true });
        var factory = new ScheduledJobFactory(config, client, logs);
        var retry = new RetryPolicy(2, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2));
        var window = new JobWindow(start, start + week);
        var jobLog = logs.CreateLogger("flowpolicy.jobs");
        async Task<bool> RunJob(string name) =>
            await new JobRunner(factory.Create(config.Job(name)), client, retry, 1, jobLog).RunWindowAsync(window, "demo", stop) == JobOutcome.Succeeded;

        Step(5, "rebuilding the hourly and daily edge rollups");
        if (!await RunJob(JobKinds.Rollup)) return ExitCodes.RuntimeError;

        if (intentDir is not null)
        {
            Step(6, $"analytics: graph and SLIs for the week against {intentDir} (rows in sli_windows, sli_drift)");
            if (!await RunJob(JobKinds.Analyze)) return ExitCodes.RuntimeError;
        }
        else Step(6, "analytics skipped: no intended policy (--intent DIR)");

        Step(7, "suggestions and the report");
        if (!await RunJob(JobKinds.Suggest)) return ExitCodes.RuntimeError;
        var reportDir = Path.Combine(output, JobKinds.Suggest, SuggestReportJob.FolderName(window.End));

        var edges = await new ClickHouseEdgeSource(client).ReadEdgesAsync(new AnalysisWindow(window.Start, window.End), stop);
        var runs = await new JobRunStore(client).RecentAsync(null, 10, stop);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Pipeline finished in {total.Elapsed.TotalSeconds:0} s: {worker.Metrics.FlowRows} flows -> {edges.Count} edges; jobs: {string.Join(", ", runs.Select(r => $"{r.Job} {r.Status}"))}"));
        bool same = Compare(files.TruthFile, edges);
        Console.WriteLine($"Report:   {Path.Combine(reportDir, "report.html")}  (also report.md, report.json)");
        Console.WriteLine($"Policies: {reportDir}/{{k8s,cilium,istio,calico}}/ and suggestions.json");
        Console.WriteLine(L7Summary(reportDir, edges));
        Console.WriteLine($"Sample:   {sampleDir}");
        Console.Error.WriteLine("flowpolicy: stopping ClickHouse and the broker");
        return same ? ExitCodes.Success : ExitCodes.RuntimeError;
    }

    /// <summary>Prints how much of the generated graph came back; true when exactly it did.</summary>
    private static bool Compare(string truthFile, IReadOnlyList<Edge> edges)
    {
        var expected = File.ReadAllLines(truthFile).ToHashSet(StringComparer.Ordinal);
        var found = edges.Select(Describe).ToHashSet(StringComparer.Ordinal);
        int recovered = expected.Count(found.Contains);
        var missing = expected.Where(e => !found.Contains(e)).Order(StringComparer.Ordinal).ToList();
        var unexpected = found.Where(e => !expected.Contains(e)).Order(StringComparer.Ordinal).ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Recovered {recovered} of the {expected.Count} dependencies the sample was generated from; {unexpected.Count} edges not in it."));
        foreach (var edge in missing.Take(10)) Console.WriteLine($"  missing: {edge}");
        foreach (var edge in unexpected.Take(10)) Console.WriteLine($"  not expected: {edge}");
        return missing.Count == 0 && unexpected.Count == 0;
    }

    /// <summary>
    /// What the L7 facts became in the written files (suggest with L7 on): Cilium rules with HTTP/gRPC methods and paths,
    /// toFQDNs rules with their names, Istio operations with paths. Read from the files themselves, so it says what a user applies.
    /// </summary>
    internal static string L7Summary(string reportDir, IReadOnlyList<Edge> edges)
    {
        int withL7 = edges.Count(e => e.L7 is { Operations.Count: > 0 }), named = edges.Count(e => e.L7 is { Names.Count: > 0 });
        int http = 0, fqdn = 0, istio = 0;
        var names = new SortedSet<string>(StringComparer.Ordinal);
        var files = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (format, pattern) in new[] { ("cilium", "*.yaml"), ("istio", "*.yaml") })
        {
            var dir = Path.Combine(reportDir, format);
            if (!Directory.Exists(dir)) continue;
            foreach (var file in Directory.EnumerateFiles(dir, pattern, SearchOption.AllDirectories))
            {
                int before = http + fqdn + istio;
                bool inFqdns = false;
                foreach (var raw in File.ReadLines(file))
                {
                    var line = raw.Trim();
                    if (format == "istio")
                    {
                        if (line == "paths:") istio++;
                        continue;
                    }
                    if (line == "http:" || line == "kafka:") http++;
                    if (line == "- toFQDNs:") { fqdn++; inFqdns = true; continue; }
                    if (inFqdns && (line.StartsWith("- matchName:", StringComparison.Ordinal) || line.StartsWith("- matchPattern:", StringComparison.Ordinal)))
                        names.Add(line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim().Trim('"'));
                    else inFqdns = false;
                }
                if (http + fqdn + istio > before) files.Add(Path.GetRelativePath(reportDir, file));
            }
        }
        var fqdnNames = names.Count == 0 ? "none" : string.Join(", ", names);
        var seeAlso = files.Count == 0 ? "" : "; see " + string.Join(", ", files.Take(4));
        return string.Create(CultureInfo.InvariantCulture,
            $"L7:       {withL7} edges with HTTP/gRPC/DNS operations, {named} external peers known by DNS name -> {http} Cilium L7 (HTTP/Kafka) rules, {fqdn} toFQDNs rules ({fqdnNames}), {istio} Istio operations with paths{seeAlso}");
    }

    internal static string Describe(Edge edge) => $"{edge.Client.Key} -> {edge.Server.Key}:{edge.Port}/{edge.ProtocolName}";

    /// <summary>docs/examples/sample-policies of this checkout: from the working directory up, then from the binary up.</summary>
    private static string? FindSamplePolicies()
    {
        foreach (var origin in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(origin); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "docs", "examples", "sample-policies");
                if (Directory.Exists(candidate)) return candidate;
            }
        return null;
    }
}
