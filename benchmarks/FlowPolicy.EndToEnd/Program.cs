using System.Globalization;
using FlowPolicy.EndToEnd;

// The end-to-end benchmarks (benchmarks/run-e2e.sh): `ingest`, `analytics` or `all`; `suggest-child` and
// `analyze-child` are the measured processes the analytics benchmark starts (one per run, for a clean peak RSS).
var arguments = args.ToList();
string Take(string name, string fallback)
{
    int i = arguments.IndexOf(name);
    if (i < 0 || i + 1 >= arguments.Count) return fallback;
    var value = arguments[i + 1];
    arguments.RemoveRange(i, 2);
    return value;
}
long Number(string name, long fallback) => long.Parse(Take(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

var mode = arguments.Count > 0 ? arguments[0] : "all";
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
var report = new List<string>();
try
{
    switch (mode)
    {
        case "suggest-child":
            var emit = Take("--emit", "all");
            var layout = Take("--layout", "workload") == "namespace" ? FlowPolicy.Suggest.Reports.SuggestionLayout.Namespace : FlowPolicy.Suggest.Reports.SuggestionLayout.Workload;
            return AnalyticsBenchmark.RunChild("suggest", arguments[1], (int)Number("--workloads", 10_000), Number("--edges", 1_000_000),
                emit == "all" ? null : emit.Split(','), layout);
        case "anomalies-child":
            return AnomalyBenchmark.RunChild((int)Number("--workloads", 10_000), Number("--edges", 1_000_000));
        case "analyze-child":
            return AnalyticsBenchmark.RunChild("analyze", arguments[1], (int)Number("--workloads", 10_000), Number("--edges", 1_000_000));
        case "consume-child": // consume-child BROKERS TOPIC GROUP --flows N [--timeout S] [--raw]
            bool raw = arguments.Remove("--raw");
            return KafkaClientFloor.RunChild(arguments[1], arguments[2], arguments[3], Number("--flows", 2_000_000), TimeSpan.FromSeconds(Number("--timeout", 240)), raw);
    }
    int rounds = (int)Number("--rounds", 3);
    if (mode is "ingest" or "all")
    {
        var options = new IngestBenchmarkOptions
        {
            Flows = Number("--flows", 2_000_000),
            Partitions = (int)Number("--partitions", 64),
            Rounds = rounds,
            Consumers = (int)Number("--consumers", 2),
            Lanes = (int)Number("--lanes", 2),
            RunTimeout = TimeSpan.FromSeconds(Number("--timeout", 240)),
            Sides = Take("--sides", "both"),
            ServerLogLevel = Take("--server-log", "warning"),
            BatchIntervalSeconds = double.Parse(Take("--batch-interval", "2"), CultureInfo.InvariantCulture),
            BatchRows = Take("--batch-rows", "") is { Length: > 0 } rows ? int.Parse(rows, CultureInfo.InvariantCulture) : null,
        };
        var runs = await new IngestBenchmark(options, Console.Error).RunAsync(cancel.Token);
        report.Add(Results.IngestTable(options, runs));
    }
    if (mode is "analytics" or "all")
    {
        // One run each by default (three jobs: suggest with every format, suggest --emit k8s, analyze; about 2 minutes
        // at 1M edges, benchmarks/README.md). The timeout leaves room for a loaded machine: suggest with every format
        // writes 5.5 GB at 1M edges and took 57-160 s here.
        AnalyticsBenchmark.ChildTimeout = TimeSpan.FromSeconds(Number("--child-timeout", 180));
        var runs = await AnalyticsBenchmark.RunAsync((int)Number("--workloads", 10_000), Number("--edges", 1_000_000), (int)Number("--analytics-rounds", 1),
            Console.Error, cancel.Token);
        report.Add(Results.AnalyticsTable(runs));
    }
    if (mode is "embedded")
    {
        var options = new EmbeddedBenchmarkOptions
        {
            Records = (int)Number("--records", 2_000_000),
            Formats = Take("--formats", "vpc,canonical,hubble").Split(','),
            Rounds = rounds,
            BaselineCli = Take("--baseline-cli", "") is { Length: > 0 } baseline ? baseline : null,
            ClickHouse = Take("--clickhouse", "yes") != "no",
            Directory = Take("--dir", "") is { Length: > 0 } dir ? dir : null,
        };
        var runs = await EmbeddedBenchmark.RunAsync(options, Console.Error, cancel.Token);
        report.Add(EmbeddedBenchmark.Table(options, runs));
    }
    if (report.Count == 0)
    {
        Console.Error.WriteLine("usage: FlowPolicy.EndToEnd [ingest|analytics|embedded|all] [--flows N] [--partitions P] [--consumers C] [--rounds R] [--workloads W] [--edges E] [--analytics-rounds R] [--child-timeout S] [--records N --formats vpc,canonical,hubble --baseline-cli OLD/flowpolicy.dll --clickhouse no --dir D]");
        return 2;
    }
}
catch (OperationCanceledException)
{
    return 130;
}
Console.WriteLine(Results.Machine());
foreach (var table in report) Console.WriteLine(table);
return 0;
