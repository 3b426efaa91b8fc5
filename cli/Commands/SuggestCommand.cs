using System.CommandLine;
using System.Globalization;
using FlowPolicy.Analytics.Intent;
using FlowPolicy.Cli.Terminal;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Embedded;
using FlowPolicy.Ingest.Enrichment;
using FlowPolicy.Suggest.Emitters;
using FlowPolicy.Suggest.Inference;
using FlowPolicy.Suggest.Reports;

namespace FlowPolicy.Cli.Commands;

/// <summary>`flowpolicy suggest`: least-privilege allow rules from observed edges, written as policy files and a report.</summary>
internal static class SuggestCommand
{
    private const int WarningsShown = 50;

    public static Command Create()
    {
        var flows = CommonOptions.Flows(required: false);
        var inventory = CommonOptions.Inventory();
        var format = CommonOptions.Format();
        var recordTime = CommonOptions.RecordTime();
        var threads = CommonOptions.Threads();
        var from = CommonOptions.From();
        var to = CommonOptions.To();
        var clickhouse = new Option<string?>("--clickhouse") { Description = "Read edges from the ClickHouse edge rollups at this URL instead of files (needs --from and --to on whole hours)." };
        var database = ServerOptions.Database();
        var intent = new Option<string?>("--intent") { Description = "Directory with the current policy: the result becomes a diff (rules to add, approved rules, rules never used)." };
        var output = new Option<string>("--out") { Description = "Output directory (k8s/, cilium/, istio/, calico/, suggestions.json, report.md, report.html).", Required = true };
        var emit = new Option<string>("--emit")
        {
            Description = $"Comma-separated outputs: {string.Join(",", SuggestionOutputOptions.AllFormats)} (report.md and report.html always).",
            DefaultValueFactory = _ => string.Join(",", SuggestionOutputOptions.AllFormats),
        };
        var layout = new Option<string>("--layout")
        {
            Description = "workload: FORMAT/NS/ with a file per policy (default); namespace: FORMAT/NS.yaml, every policy of the namespace as one multi-document file (fewer files for thousands of workloads).",
            DefaultValueFactory = _ => "workload",
        };
        layout.AcceptOnlyFromAmong("workload", "namespace");
        var allowEmpty = new Option<bool>("--allow-empty") { Description = "Write a suggestion without rules too. By default it is refused (exit 2) and the earlier output in --out is left as it was." };
        var allowShrink = new Option<bool>("--allow-shrink") { Description = "Replace the earlier output in --out however few rules the new suggestion has." };
        var shrinkThreshold = new Option<double>("--shrink-threshold")
        {
            Description = "Refuse (exit 2, earlier output untouched) a suggestion with fewer rules than this percentage of the output it would replace; 0 turns the check off.",
            DefaultValueFactory = _ => 50,
        };
        var l7 = new Option<bool>("--l7")
        {
            Description = "Write L7 rules where L7 was observed (Hubble L7 records, DNS answers): Cilium HTTP/Kafka rules and toFQDNs (with the DNS proxy rule to kube-dns), " +
                "Istio methods/paths and a ServiceEntry of named external hosts. Off by default: Cilium then sends those ports through its proxy. docs/l7.md.",
        };
        var includeNamespace = CommonOptions.IncludeNamespace();
        var excludeNamespace = CommonOptions.ExcludeNamespace(defaults: true);
        var istio = CommonOptions.Istio();
        var command = new Command("suggest",
            "Propose least-privilege allow rules from the observed baseline: every dependency seen (DNS, start-up-only, weekly) kept with its evidence, " +
            "noise (scanners, one-off bare pods) left out with the reason, exported as Kubernetes, Cilium, Istio and Calico policies.\n\n" +
            "Examples:\n" +
            "  flowpolicy suggest --flows hubble.json vpc.log.gz --inventory leases.jsonl nodes.json --out policies\n" +
            "  flowpolicy suggest --flows flows.jsonl --from 2026-11-01T00:00:00Z --to 2026-11-15T00:00:00Z --emit k8s,json --out out\n" +
            "  flowpolicy suggest --flows hubble.json --l7 --emit cilium,istio --out policies\n" +
            "  flowpolicy suggest --clickhouse http://localhost:8123 --from 2026-11-01T00:00:00Z --to 2026-11-15T00:00:00Z --emit k8s --layout namespace --out out\n" +
            "  flowpolicy suggest --clickhouse http://localhost:8123 --from 2026-11-01T00:00:00Z --to 2026-11-15T00:00:00Z --intent policies/ --out diff")
        {
            flows, inventory, format, recordTime, threads, from, to, clickhouse, database, intent, output, emit, layout, allowEmpty, allowShrink, shrinkThreshold,
            l7, includeNamespace, excludeNamespace, istio.RootNamespace, istio.TrustDomain,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var files = parse.GetValue(flows) ?? [];
            var url = parse.GetValue(clickhouse);
            var start = CommonOptions.ParseTime(parse.GetValue(from), "--from");
            var end = CommonOptions.ParseTime(parse.GetValue(to), "--to");
            if ((files.Length == 0) == (url is null)) throw new UsageException("give either --flows FILE... or --clickhouse URL --from T --to T");
            if (parse.GetValue(shrinkThreshold) is < 0 or > 100 or double.NaN) throw new UsageException("--shrink-threshold must be between 0 and 100 (percent)");
            var outputOptions = new SuggestionOutputOptions
            {
                Directory = parse.GetValue(output)!,
                Formats = parse.GetValue(emit)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList(),
                Layout = parse.GetValue(layout) == "namespace" ? SuggestionLayout.Namespace : SuggestionLayout.Workload,
                AllowEmpty = parse.GetValue(allowEmpty),
                AllowShrink = parse.GetValue(allowShrink),
                ShrinkThreshold = parse.GetValue(shrinkThreshold) / 100,
                L7 = parse.GetValue(l7),
            };
            var scope = CommonOptions.ParseScope(parse.GetValue(includeNamespace), parse.GetValue(excludeNamespace), NamespaceScope.ForPolicies);
            var mesh = CommonOptions.ParseIstio(parse, istio);
            var inferenceOptions = new SuggestOptions { WindowStart = start, WindowEnd = end };
            try
            {
                outputOptions.Validate();
                inferenceOptions.Validate();
            }
            catch (ArgumentException ex)
            {
                throw new UsageException(ex.Message);
            }
            CommonOptions.RequireWritableDirectory(outputOptions.Directory, "--out");
            IntentPolicySet? intentPolicies = null;
            if (parse.GetValue(intent) is { } intentDir)
                intentPolicies = PolicyInputs.LoadPolicies([intentDir], [], "--intent");

            IReadOnlyList<Edge> edges;
            IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string>>> namespaceLabels;
            IReadOnlyList<PackedIp> nodeAddresses = [];
            IReadOnlyDictionary<string, IReadOnlyList<PackedIp>>? nodesByName = null;
            EdgeInputCounts? counts;
            var inventoryFiles = parse.GetValue(inventory) ?? [];
            if (url is not null)
            {
                (edges, counts) = await PolicyInputs.ClickHouseEdgesAsync(url, parse.GetValue(database)!, start, end, cancellationToken);
                namespaceLabels = new Dictionary<string, IReadOnlyList<KeyValuePair<string, string>>>(StringComparer.Ordinal);
                if (inventoryFiles.Length > 0)
                {
                    // The rollups carry identities already; the inventory still knows the node addresses and the
                    // namespaces' labels (the flows table does not store the labels Hubble records carried).
                    CommonOptions.RequireFiles(inventoryFiles, "--inventory");
                    var inventoryLoad = InventoryLoader.Load(inventoryFiles);
                    nodeAddresses = inventoryLoad.Index.NodeAddresses;
                    nodesByName = inventoryLoad.Index.NodeAddressesByName;
                    namespaceLabels = inventoryLoad.NamespaceLabels;
                }
            }
            else
            {
                var load = EdgesCommand.LoadEdges(new FileEdgeSourceOptions
                {
                    FlowFiles = files,
                    InventoryFiles = inventoryFiles,
                    Format = CommonOptions.ParseFormat(parse.GetValue(format)),
                    RecordTime = CommonOptions.ParseTime(parse.GetValue(recordTime), "--time"),
                    Threads = parse.GetValue(threads),
                    From = start,
                    To = end,
                });
                edges = load.Edges;
                counts = load.Counts;
                namespaceLabels = load.NamespaceLabels;
                nodeAddresses = load.NodeAddresses;
                nodesByName = load.NodeAddressesByName;
            }
            outputOptions.Cluster = new ClusterFacts(nodeAddresses) { IstioTrustDomain = mesh.TrustDomain };
            IIntentEvaluator? evaluator = intentPolicies is null ? null : PolicyInputs.Evaluator(intentPolicies, namespaceLabels, nodesByName, mesh);

            var inference = new RuleInference(inferenceOptions);
            var set = SuggestionScope.Restrict(inference.Infer(edges), scope);
            var diff = evaluator is null ? null : IntentDiff.Compute(set, evaluator);
            IReadOnlyList<string> written;
            try
            {
                written = new SuggestionOutput(outputOptions).Write(set, diff);
                written = [.. written, .. OneOffReport.WriteSuggestion(outputOptions.Directory, edges, set, diff, evaluator, start, end, counts,
                    parse.GetValue(intent) is { } intentPath ? PolicyInputs.IntentFiles(intentPath, namespaceLabels, nodesByName, mesh) : null)];
            }
            catch (SuggestionRefusedException refused)
            {
                foreach (var warning in set.Warnings.Take(5)) Console.Error.WriteLine($"flowpolicy: warning: {warning}");
                throw new UsageException(refused.Message + (refused.Reason == SuggestionRefusal.Empty
                    ? "; check the input (--format, the --from/--to window, the files), or pass --allow-empty to write an empty policy set"
                    : "; check the input is complete (every source, the whole window), or pass --allow-shrink (or a lower --shrink-threshold) to replace it"));
            }

            var error = Console.Error;
            // A million rules can carry hundreds of thousands of warnings: the terminal gets the first ones.
            foreach (var warning in set.Warnings.Take(WarningsShown)) error.WriteLine($"flowpolicy: warning: {warning}");
            if (set.Warnings.Count > WarningsShown)
                error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"flowpolicy: … and {set.Warnings.Count - WarningsShown:N0} more warnings (report.md, suggestions.json)"));
            error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"flowpolicy: {edges.Count} edges -> {set.Rules.Count} rules ({inference.Metrics.GeneralisedRules} generalised, {inference.Metrics.PeriodicRules} periodic); " +
                $"{set.LeftOut.Count} edges left out; {written.Count} files in {outputOptions.Directory}"));
            if (diff is not null)
                error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"flowpolicy: against the current policy: {diff.ToAdd.Count} to add, {diff.Approved.Count} approved, {diff.Unused.Count} never used"));
            Console.WriteLine(Path.Combine(outputOptions.Directory, "report.md"));
            return ExitCodes.Success;
        });
        return command;
    }
}
