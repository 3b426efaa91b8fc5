using System.CommandLine;
using System.Globalization;
using FlowPolicy.Analytics.Edges;
using FlowPolicy.Analytics.Intent;
using FlowPolicy.Analytics.Jobs;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Cli.Terminal;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Embedded;
using FlowPolicy.Suggest.Reports;

namespace FlowPolicy.Cli.Commands;

/// <summary>
/// `flowpolicy analyze`: dependency graph and SLIs (compliance, denied flows, drift, blast radius) for a window,
/// from flow files (embedded) or the ClickHouse edge rollups, against the intended policy in --intent DIR.
/// </summary>
internal static class AnalyzeCommand
{
    /// <param name="loadIntent">Loads the intended policy from a directory; the policy files by default (tests pass their own).</param>
    public static Command Create(Func<string, IIntentEvaluator>? loadIntent = null)
    {
        var flows = CommonOptions.Flows(required: false);
        var inventory = CommonOptions.Inventory();
        var format = CommonOptions.Format();
        var recordTime = CommonOptions.RecordTime();
        var threads = CommonOptions.Threads();
        var from = CommonOptions.From();
        var to = CommonOptions.To();
        var clickhouse = new Option<string?>("--clickhouse")
        {
            Description = "ClickHouse HTTP(S) URL to read edge rollups from and write SLI rows to (user/password from FLOWPOLICY_CLICKHOUSE_USER/_PASSWORD[_FILE]).",
        };
        var database = new Option<string>("--database") { Description = "ClickHouse database.", DefaultValueFactory = _ => "flowpolicy" };
        var intent = new Option<string>("--intent") { Description = "Directory with the intended policy (Kubernetes NetworkPolicies / FlowPolicy policy files).", Required = true };
        var output = new Option<string?>("--out") { Description = "Directory for report.html (SLIs, unintended edges, the interactive service map), report.json, slis.json, graph.json and graph.svg (required with --flows)." };
        var noSvg = new Option<bool>("--no-svg") { Description = "Skip graph.svg (Graphviz)." };
        var includeNamespace = CommonOptions.IncludeNamespace();
        var excludeNamespace = CommonOptions.ExcludeNamespace(defaults: false);
        var istio = CommonOptions.Istio();
        var command = new Command("analyze",
            "Dependency graph and microsegmentation SLIs for a time window: compliance rate against the intended policy, " +
            "denied flows per minute, drift (unintended edges, stale rules, verdict mismatches) and blast radius.\n\n" +
            "Examples:\n" +
            "  flowpolicy analyze --flows hubble.json vpc.log.gz --inventory pods.json --intent policies/ --out out/analysis\n" +
            "  flowpolicy analyze --clickhouse http://127.0.0.1:8123 --from 2026-11-02T00:00:00Z --to 2026-11-03T00:00:00Z --intent policies/\n" +
            "  flowpolicy analyze --clickhouse https://ch.example.com:8443 --from 2026-11-02T10:00:00Z --to 2026-11-02T11:00:00Z --intent policies/ --out hour10")
        {
            flows, inventory, format, recordTime, threads, from, to, clickhouse, database, intent, output, noSvg, includeNamespace, excludeNamespace,
            istio.RootNamespace, istio.TrustDomain,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var flowFiles = parse.GetValue(flows) ?? [];
            var url = parse.GetValue(clickhouse);
            var outDir = parse.GetValue(output);
            var fromTime = CommonOptions.ParseTime(parse.GetValue(from), "--from");
            var toTime = CommonOptions.ParseTime(parse.GetValue(to), "--to");
            if ((flowFiles.Length > 0) == (url is not null))
                throw new UsageException("give either --flows FILE... (embedded) or --clickhouse URL, not both and not neither");
            if (url is null && outDir is null) throw new UsageException("--out DIR is required with --flows (slis.json, graph.json and graph.svg go there)");
            if (url is not null && (fromTime is null || toTime is null)) throw new UsageException("--clickhouse needs --from and --to (whole hours, UTC)");
            if (outDir is not null) CommonOptions.RequireWritableDirectory(outDir, "--out");
            var scope = CommonOptions.ParseScope(parse.GetValue(includeNamespace), parse.GetValue(excludeNamespace), NamespaceScope.Exactly);
            var mesh = CommonOptions.ParseIstio(parse, istio);

            // The policy files are read first (a bad file fails before the flows are read); the evaluator is made once
            // the data has shown its namespace labels. Tests pass their own evaluator.
            var intentPolicies = loadIntent is null ? PolicyInputs.LoadPolicies([parse.GetValue(intent)!], [], "--intent") : null;
            IIntentEvaluator Evaluator(IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string>>> namespaceLabels, IReadOnlyDictionary<string, IReadOnlyList<PackedIp>>? nodeAddresses) =>
                intentPolicies is null ? loadIntent!(parse.GetValue(intent)!) : PolicyInputs.Evaluator(intentPolicies, namespaceLabels, nodeAddresses, mesh);
            // The report's drift remediation loads the intent files again for each diff it checks, the same way; a test's
            // own evaluator has no files, so its report has no remediation section.
            Suggest.Reports.IntentFiles? Files(IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string>>> namespaceLabels, IReadOnlyDictionary<string, IReadOnlyList<PackedIp>>? nodeAddresses) =>
                loadIntent is null ? PolicyInputs.IntentFiles(parse.GetValue(intent)!, namespaceLabels, nodeAddresses, mesh) : null;
            var jobOptions = new AnalyzeJobOptions { OutputDirectory = outDir, RenderSvg = !parse.GetValue(noSvg) };

            if (url is null)
            {
                var load = EdgesCommand.LoadEdges(new FileEdgeSourceOptions
                {
                    FlowFiles = flowFiles,
                    InventoryFiles = parse.GetValue(inventory) ?? [],
                    Format = CommonOptions.ParseFormat(parse.GetValue(format)),
                    RecordTime = CommonOptions.ParseTime(parse.GetValue(recordTime), "--time"),
                    Threads = parse.GetValue(threads),
                    From = fromTime,
                    To = toTime,
                });
                var spanned = AnalysisWindow.Spanning(load.Edges);
                var window = new AnalysisWindow(fromTime ?? spanned.From, toTime ?? spanned.To);
                var l7 = intentPolicies is null ? null : new L7IntentEvaluator(intentPolicies, new L7IntentEvaluatorOptions { NamespaceLabels = load.NamespaceLabels, Istio = mesh });
                var result = await new AnalyzeJob(jobOptions, Evaluator(load.NamespaceLabels, load.NodeAddressesByName), l7: l7).RunAsync(window, new ScopedEdgeSource(new LoadedEdgeSource(load.Edges), scope), cancellationToken);
                Report(result, WriteReport(outDir, result, load.Counts, scope, Files(load.NamespaceLabels, load.NodeAddressesByName)));
                return ExitCodes.Success;
            }

            var chOptions = new ClickHouseOptions { Database = parse.GetValue(database)! };
            try
            {
                chOptions.Url = new Uri(url);
                chOptions.Validate();
                ClickHouseEdgeSource.ValidateWindow(new AnalysisWindow(fromTime!.Value, toTime!.Value));
            }
            catch (Exception ex) when (ex is ArgumentException or UriFormatException)
            {
                throw new UsageException(ex.Message);
            }
            var (inventoryLabels, inventoryNodes) = PolicyInputs.InventoryFacts(parse.GetValue(inventory) ?? []);
            var evaluator = Evaluator(inventoryLabels, inventoryNodes);
            try
            {
                using var client = new ClickHouseHttpClient(chOptions);
                await SchemaMigrator.MigrateAsync(client, cancellationToken: cancellationToken);
                var l7 = intentPolicies is null ? null : new L7IntentEvaluator(intentPolicies,
                    new L7IntentEvaluatorOptions { NamespaceLabels = inventoryLabels, Istio = mesh });
                // Each stored drift event with its remediation, as serve's analyze job stores it (the debug dashboard's).
                var job = new AnalyzeJob(jobOptions, evaluator, client, l7) { Remediate = Files(inventoryLabels, inventoryNodes)?.StoredRemediations() };
                var window = new AnalysisWindow(fromTime!.Value, toTime!.Value);
                var source = new ClickHouseEdgeSource(client);
                var result = await job.RunAsync(window, new ScopedEdgeSource(source, scope), cancellationToken);
                var counts = outDir is null ? null : await source.ReadInputCountsAsync(window, cancellationToken);
                Report(result, WriteReport(outDir, result, counts, scope, Files(inventoryLabels, inventoryNodes)));
                if (result.Stored is { } stored)
                    Console.Error.WriteLine($"flowpolicy: wrote {stored.SliRows} rows to {FlowTables.SliWindows}, {stored.DriftRows} to {FlowTables.SliDrift} and {stored.L7OperationRows} to {FlowTables.SliL7Operations} (the window's earlier rows replaced)");
                return ExitCodes.Success;
            }
            catch (Exception ex) when (ex is HttpRequestException or ClickHouseServerException or TimeoutException)
            {
                Console.Error.WriteLine($"flowpolicy: ClickHouse ({chOptions}): {ex.Message}");
                return ExitCodes.RuntimeError;
            }
        });
        return command;
    }

    /// <summary>report.html and report.json beside slis.json (the map with graph.svg as its static fallback); none without --out.</summary>
    private static IReadOnlyList<string> WriteReport(string? outDir, AnalyzeResult result, EdgeInputCounts? counts, NamespaceScope scope, Suggest.Reports.IntentFiles? intentFiles)
    {
        if (outDir is null) return [];
        var svgPath = result.FilesWritten.FirstOrDefault(f => f.EndsWith("graph.svg", StringComparison.Ordinal));
        var svg = svgPath is null ? null : File.ReadAllText(svgPath);
        return OneOffReport.WriteAnalysis(outDir, result.Report, svg, counts, scope.IsEverything ? null : scope.ToString(), intentFiles);
    }

    private static void Report(AnalyzeResult result, IReadOnlyList<string> reportFiles)
    {
        var report = result.Report;
        var all = report.Overall;
        string Percent(double? rate) => rate is { } r ? (r * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%" : "n/a";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Window {SliJson.Time(report.Window.From)} .. {SliJson.Time(report.Window.To)}: {all.Flows} flows, {report.Edges.Count} edges, {report.PerService.Count} services"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Compliance: {Percent(all.ComplianceRate)} of flows ({Percent(all.BytesComplianceRate)} of bytes) allowed by the intended policy; denied {all.DeniedFlowsPerMinute:0.###} flows/minute"));
        int outage = report.VerdictMismatches.Count(m => m.Kind == MismatchKind.ObservedAllowedIntentDenies);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Drift: {report.UnintendedEdges.Count} unintended edges, {report.StaleRules.Count} stale rules, {report.VerdictMismatches.Count} verdict mismatches ({outage} would break when the intent is enforced)"));
        if (report.BlastRadius.Count > 0)
        {
            var widest = report.BlastRadius.OrderByDescending(p => p.Value.Observed).ThenBy(p => p.Key, StringComparer.Ordinal).First();
            Console.WriteLine($"Blast radius: widest observed {widest.Key} reaches {widest.Value.Observed} workloads ({widest.Value.Intended} under the intended policy)");
        }
        foreach (var file in result.FilesWritten.Concat(reportFiles)) Console.WriteLine($"Wrote {file}");
        if (result.SvgProblem is { } problem) Console.Error.WriteLine($"flowpolicy: graph.svg not rendered ({problem}); graph.dot written instead");
    }
}
