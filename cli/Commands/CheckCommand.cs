using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using FlowPolicy.Analytics.Baseline;
using FlowPolicy.Analytics.Intent;
using FlowPolicy.Cli.Terminal;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Embedded;
using Spectre.Console;

namespace FlowPolicy.Cli.Commands;

/// <summary>
/// `flowpolicy check`: backtest policy files (Kubernetes NetworkPolicy, FlowPolicy) against observed traffic. Exits 1
/// when baseline traffic would be blocked, so a policy pull request can be gated on it in CI.
/// </summary>
internal static class CheckCommand
{
    public static Command Create()
    {
        var policies = new Option<string[]>("--policies")
        {
            Description = "Policy files or directories (read recursively): .yaml/.yml/.json with Kubernetes NetworkPolicy, FlowPolicy, CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy objects (Cilium's L3/L4 rules count with the NetworkPolicies as one policy set, as Cilium enforces them); the L7 rules of Cilium policies (rules.http/kafka/dns, toFQDNs) and Istio AuthorizationPolicies (methods, paths) are judged against the flows' L7 history.",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
            Arity = ArgumentArity.OneOrMore,
        };
        var namespaces = new Option<string[]>("--namespaces")
        {
            Description = "Namespace objects for namespaceSelector labels, e.g. `kubectl get namespaces -o json`; they override the labels the flows (Hubble) and --inventory carry. kubernetes.io/metadata.name is always known.",
            AllowMultipleArgumentsPerToken = true,
            Arity = ArgumentArity.ZeroOrMore,
        };
        var flows = CommonOptions.Flows(required: false);
        var inventory = CommonOptions.Inventory();
        var format = CommonOptions.Format();
        var recordTime = CommonOptions.RecordTime();
        var threads = CommonOptions.Threads();
        var from = CommonOptions.From();
        var to = CommonOptions.To();
        var clickhouse = new Option<string?>("--clickhouse") { Description = "Read edges from the ClickHouse edge rollups at this URL instead of flow files; needs --from and --to on whole hours." };
        var database = ServerOptions.Database();
        var includeNamespace = CommonOptions.IncludeNamespace();
        var excludeNamespace = CommonOptions.ExcludeNamespace(defaults: false);
        var istio = CommonOptions.Istio();
        var json = new Option<bool>("--json") { Description = "Print one JSON document: blocked, blocked_noise, already_denied, rule_hits, unused_rules, summary." };
        var strict = new Option<bool>("--strict")
        {
            Description = "Fail on any blocked baseline flow, noise included (scanners, one-off bare pods, one-off boundary crossings: what suggest leaves out).",
        };
        var command = new Command("check",
            "Backtest policy files against observed traffic: list the flows they would block (with evidence), how much traffic " +
            "each rule carries and which rules nothing uses. Exits 1 when any baseline flow (allowed or without a verdict in " +
            "the log) would be blocked, 0 otherwise; flows the log saw denied never fail the check. Blocked noise (what suggest " +
            "leaves out: scanners, one-off bare pods, one-off boundary crossings) is listed with its reason and fails only with --strict. " +
            "L7 rules (Cilium HTTP/Kafka/DNS rules and toFQDNs, Istio methods and paths) are judged against Hubble's L7 records: an observed " +
            "operation they would deny although its port is allowed fails the check too; edges with L7 rules but no L7 records are listed as not judged.\n\n" +
            "Examples:\n" +
            "  flowpolicy check --policies k8s/netpol/ --flows hubble.json vpc.log.gz --inventory pods.json nodes.json\n" +
            "  flowpolicy check --policies policy/ --namespaces namespaces.json --flows flows.jsonl --json > check.json\n" +
            "  flowpolicy check --policies out/k8s --flows flows.jsonl --strict\n" +
            "  flowpolicy check --policies out/k8s out/cilium --flows hubble.json --json > check.json\n" +
            "  flowpolicy check --policies policy/ --clickhouse http://ch:8123 --from 2026-11-01T00:00:00Z --to 2026-11-08T00:00:00Z")
        {
            policies, namespaces, flows, inventory, format, recordTime, threads, from, to, clickhouse, database, json, strict, includeNamespace, excludeNamespace,
            istio.RootNamespace, istio.TrustDomain,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var flowFiles = parse.GetValue(flows) ?? [];
            string? clickhouseUrl = parse.GetValue(clickhouse);
            if (flowFiles.Length == 0 && clickhouseUrl is null) throw new UsageException("give the history to check against: --flows FILE... or --clickhouse URL --from T --to T");
            if (flowFiles.Length > 0 && clickhouseUrl is not null) throw new UsageException("--flows and --clickhouse are alternatives; give one");
            var fromTime = CommonOptions.ParseTime(parse.GetValue(from), "--from");
            var toTime = CommonOptions.ParseTime(parse.GetValue(to), "--to");
            var scope = CommonOptions.ParseScope(parse.GetValue(includeNamespace), parse.GetValue(excludeNamespace), NamespaceScope.Exactly);
            var mesh = CommonOptions.ParseIstio(parse, istio);

            var policySet = PolicyInputs.LoadPolicies(parse.GetValue(policies) ?? [], parse.GetValue(namespaces) ?? [], "--policies");
            IReadOnlyList<Edge> edges;
            IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string>>> namespaceLabels;
            IReadOnlyDictionary<string, IReadOnlyList<PackedIp>>? nodeAddresses = null;
            if (clickhouseUrl is not null)
            {
                (edges, _) = await PolicyInputs.ClickHouseEdgesAsync(clickhouseUrl, parse.GetValue(database)!, fromTime, toTime, cancellationToken);
                (namespaceLabels, nodeAddresses) = PolicyInputs.InventoryFacts(parse.GetValue(inventory) ?? []);
            }
            else
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
                edges = load.Edges;
                namespaceLabels = load.NamespaceLabels;
                nodeAddresses = load.NodeAddressesByName;
            }

            var evaluator = PolicyInputs.Evaluator(policySet, namespaceLabels, nodeAddresses, mesh);
            // Noise is judged by the classifier suggest uses, over the same window and, as suggest does, over every edge
            // (scanners and boundaries need the whole picture) before the namespace scope narrows what is checked.
            var noise = new BaselineClassifier().Classify(edges, BaselineWindow.Of(edges, fromTime, toTime));
            if (!scope.IsEverything) (edges, noise) = noise.Restrict(edges, scope.Keeps);
            var result = new PolicyBacktest(evaluator).Run(edges, noise, cancellationToken);
            // The L7 half (docs/intent.md, "L7 rules"): Cilium rules.http/kafka/dns, toFQDNs and Istio methods/paths
            // against each edge's L7 history. Null when the policies have no L7 rule, so L4-only output stays as it was.
            var l7Evaluator = new L7IntentEvaluator(policySet, new L7IntentEvaluatorOptions { NamespaceLabels = namespaceLabels, Istio = mesh });
            var l7 = l7Evaluator.HasRules ? new L7Backtest(l7Evaluator).Run(edges, cancellationToken) : null;
            bool isStrict = parse.GetValue(strict);
            bool passed = (isStrict ? result.PassedStrict : result.Passed) && (l7?.Passed ?? true);
            if (parse.GetValue(json)) WriteJson(Console.OpenStandardOutput(), result, policySet, isStrict, l7);
            else
            {
                WriteTables(result);
                if (l7 is not null) WriteL7Tables(l7);
            }
            Console.Error.WriteLine(Verdict(result, isStrict));
            if (l7 is not null) Console.Error.WriteLine(L7Verdict(l7));
            return passed ? ExitCodes.Success : ExitCodes.CheckFailed;
        });
        return command;
    }

    private static string Verdict(BacktestResult result, bool strict)
    {
        string noise = result.BlockedNoise.Count == 0 ? ""
            : string.Create(CultureInfo.InvariantCulture, $"; {result.BlockedNoise.Count} noise edges ({result.BlockedNoiseFlows} flows) blocked{(strict ? "" : ", not counted without --strict")}");
        if (strict ? result.PassedStrict : result.Passed)
            return string.Create(CultureInfo.InvariantCulture,
                $"flowpolicy: check passed: the policy allows all {result.BaselineEdges - result.BlockedNoise.Count} baseline edges that are not noise{noise}");
        int blocked = result.Blocked.Count + (strict ? result.BlockedNoise.Count : 0);
        long flows = result.BlockedFlows + (strict ? result.BlockedNoiseFlows : 0);
        return string.Create(CultureInfo.InvariantCulture,
            $"flowpolicy: check failed: {blocked} of {result.BaselineEdges} baseline edges ({flows} flows) would be blocked{(strict ? " (--strict: noise included)" : "")}{(strict ? "" : noise)}");
    }

    private static string L7Verdict(L7BacktestResult l7)
    {
        string notObserved = l7.NotObserved.Count == 0 ? ""
            : string.Create(CultureInfo.InvariantCulture, $"; {l7.NotObserved.Count} edges with L7 rules have no L7 history (not judged)");
        return l7.Passed
            ? string.Create(CultureInfo.InvariantCulture, $"flowpolicy: L7 check passed: the L7 rules allow all {l7.JudgedOperations} observed operations on {l7.Edges - l7.NotObserved.Count} edges{notObserved}")
            : string.Create(CultureInfo.InvariantCulture,
                $"flowpolicy: L7 check failed: {l7.Denied.Count} operations ({l7.DeniedRequests} requests) and {l7.DeniedNames.Count} DNS names would be denied although their port is allowed{notObserved}");
    }

    private static void WriteL7Tables(L7BacktestResult l7)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        if (Console.IsOutputRedirected) console.Profile.Width = 400;
        console.WriteLine();
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"L7 operations denied although the port is allowed: {l7.Denied.Count} ({l7.DeniedRequests} requests)"));
        if (l7.Denied.Count > 0)
        {
            var table = Table("SRC", "DST", "PORT", "PROTOCOL", "OPERATION", "REQUESTS", "FIRST SEEN", "LAST SEEN", "WHY");
            foreach (var denied in l7.Denied)
            {
                var e = denied.Edge;
                var op = denied.Decision.Operation;
                table.AddRow(Markup.Escape(e.Client.Key), Markup.Escape(e.Server.Key), Number(e.Port), op.Protocol.ToString(), Markup.Escape(op.ToString()),
                    Number(op.Requests - op.Denied), Time(op.FirstSeen), Time(op.LastSeen), Markup.Escape(denied.Decision.Reason));
            }
            console.Write(table);
        }
        if (l7.DeniedNames.Count > 0)
        {
            console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"DNS names toFQDNs would not allow: {l7.DeniedNames.Count}"));
            var table = Table("SRC", "DST", "PORT", "NAME", "FLOWS", "WHY");
            foreach (var denied in l7.DeniedNames)
                table.AddRow(Markup.Escape(denied.Edge.Client.Key), Markup.Escape(denied.Edge.Server.Key), Number(denied.Edge.Port),
                    Markup.Escape(denied.Decision.Name.Name), Number(denied.Decision.Name.Flows), Markup.Escape(denied.Decision.Reason));
            console.Write(table);
        }
        if (l7.AlreadyDenied.Count > 0)
            console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Also denied at L7, but the proxy denied every request already (not a regression): {l7.AlreadyDenied.Count} operations"));
        int undetermined = l7.Undetermined.Sum(d => d.Operations.Count(o => o.Verdict == FlowPolicy.Analytics.Intent.L7Verdict.Undetermined) + d.Names.Count(n => n.Verdict == FlowPolicy.Analytics.Intent.L7Verdict.Undetermined));
        if (undetermined > 0)
        {
            console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Undetermined (the rules name what the flows do not show): {undetermined}"));
            var table = Table("SRC", "DST", "PORT", "OPERATION", "WHY");
            foreach (var decision in l7.Undetermined)
            {
                foreach (var op in decision.Operations.Where(o => o.Verdict == FlowPolicy.Analytics.Intent.L7Verdict.Undetermined))
                    table.AddRow(Markup.Escape(decision.Edge.Client.Key), Markup.Escape(decision.Edge.Server.Key), Number(decision.Edge.Port), Markup.Escape(op.Operation.ToString()), Markup.Escape(op.Reason));
                foreach (var name in decision.Names.Where(n => n.Verdict == FlowPolicy.Analytics.Intent.L7Verdict.Undetermined))
                    table.AddRow(Markup.Escape(decision.Edge.Client.Key), Markup.Escape(decision.Edge.Server.Key), Number(decision.Edge.Port), Markup.Escape("name " + name.Name.Name), Markup.Escape(name.Reason));
            }
            console.Write(table);
        }
        if (l7.NotObserved.Count > 0)
        {
            console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"L7 not observed, cannot judge: {l7.NotObserved.Count} edges have L7 rules but no L7 history"));
            var table = Table("SRC", "DST", "PORT", "PROTO", "FLOWS", "WHY");
            foreach (var decision in l7.NotObserved)
            {
                var e = decision.Edge;
                table.AddRow(Markup.Escape(e.Client.Key), Markup.Escape(e.Server.Key), Number(e.Port), e.ProtocolName, Number(e.Flows), Markup.Escape(decision.Reason));
            }
            console.Write(table);
        }
    }

    private static void WriteTables(BacktestResult result)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        if (Console.IsOutputRedirected) console.Profile.Width = 400; // no wrapping in files and pipes

        console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Blocked baseline edges: {result.Blocked.Count} ({result.BlockedFlows} flows)"));
        if (result.Blocked.Count > 0)
        {
            var table = Table("SRC", "DST", "PORT", "PROTO", "FLOWS", "FIRST SEEN", "LAST SEEN", "WHY");
            foreach (var blocked in result.Blocked)
            {
                var e = blocked.Edge;
                table.AddRow(Markup.Escape(e.Client.Key), Markup.Escape(e.Server.Key), Number(e.Port), e.ProtocolName, Number(e.Flows),
                    Time(e.FirstSeen), Time(e.LastSeen), Markup.Escape(blocked.Decision.Reason));
            }
            console.Write(table);
        }
        if (result.BlockedNoise.Count > 0)
        {
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Blocked noise (what suggest leaves out; fails only with --strict): {result.BlockedNoise.Count} ({result.BlockedNoiseFlows} flows)"));
            var table = Table("SRC", "DST", "PORT", "PROTO", "FLOWS", "NOISE", "WHY");
            foreach (var blocked in result.BlockedNoise)
            {
                var e = blocked.Edge;
                table.AddRow(Markup.Escape(e.Client.Key), Markup.Escape(e.Server.Key), Number(e.Port), e.ProtocolName, Number(e.Flows),
                    blocked.Noise.ReasonName, Markup.Escape(blocked.Noise.Detail));
            }
            console.Write(table);
        }
        if (result.AlreadyDenied.Count > 0)
            console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Also blocked, but the log saw them denied already (not a regression): {result.AlreadyDenied.Count} edges"));

        console.WriteLine();
        console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Rule hits: {result.RuleHits.Count} rules matched traffic"));
        if (result.RuleHits.Count > 0)
        {
            var hits = Table("POLICY", "RULE", "KIND", "FLOWS", "EDGES");
            foreach (var hit in result.RuleHits)
                hits.AddRow(Markup.Escape(hit.Rule.Policy), Markup.Escape(hit.Rule.Rule), hit.Rule.Kind, Number(hit.Flows), Number(hit.Edges));
            console.Write(hits);
        }

        console.WriteLine();
        console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Unused rules (no observed traffic matched): {result.UnusedRules.Count}"));
        if (result.UnusedRules.Count > 0)
        {
            var unused = Table("POLICY", "RULE", "KIND");
            foreach (var rule in result.UnusedRules)
                unused.AddRow(Markup.Escape(rule.Policy), Markup.Escape(rule.Rule), rule.Kind);
            console.Write(unused);
        }
    }

    private static Table Table(params string[] columns)
    {
        var table = new Table().Border(TableBorder.Simple);
        foreach (var column in columns) table.AddColumn(new TableColumn(column) { NoWrap = column != "WHY" });
        return table;
    }

    private static string Number(long n) => n.ToString(CultureInfo.InvariantCulture);
    private static string Time(DateTime t) => t.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);

    public static void WriteJson(Stream output, BacktestResult result, IntentPolicySet policies, bool strict = false, L7BacktestResult? l7 = null)
    {
        using var writer = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true });
        writer.WriteStartObject();
        WriteEdges(writer, "blocked", result.Blocked);
        writer.WriteStartArray("blocked_noise");
        foreach (var blocked in result.BlockedNoise)
        {
            writer.WriteStartObject();
            EdgeJson.WriteKey(writer, blocked.Edge);
            EdgeJson.WriteEvidence(writer, blocked.Edge);
            writer.WriteString("reason", blocked.Decision.Reason);
            writer.WriteString("noise", blocked.Noise.ReasonName);
            writer.WriteString("noise_detail", blocked.Noise.Detail);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        WriteEdges(writer, "already_denied", result.AlreadyDenied);
        writer.WriteStartArray("rule_hits");
        foreach (var hit in result.RuleHits)
        {
            writer.WriteStartObject();
            hit.Rule.WriteJsonFields(writer);
            writer.WriteNumber("flows", hit.Flows);
            writer.WriteNumber("edges", hit.Edges);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteStartArray("unused_rules");
        foreach (var rule in result.UnusedRules)
        {
            writer.WriteStartObject();
            rule.WriteJsonFields(writer);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteStartObject("summary");
        writer.WriteBoolean("passed", (strict ? result.PassedStrict : result.Passed) && (l7?.Passed ?? true));
        writer.WriteBoolean("strict", strict);
        writer.WriteNumber("edges", result.Edges);
        writer.WriteNumber("baseline_edges", result.BaselineEdges);
        writer.WriteNumber("blocked_edges", result.Blocked.Count);
        writer.WriteNumber("blocked_flows", result.BlockedFlows);
        writer.WriteNumber("blocked_noise_edges", result.BlockedNoise.Count);
        writer.WriteNumber("blocked_noise_flows", result.BlockedNoiseFlows);
        writer.WriteNumber("already_denied_edges", result.AlreadyDenied.Count);
        writer.WriteNumber("newly_allowed_edges", result.NewlyAllowedEdges);
        writer.WriteNumber("rules", result.RuleHits.Count + result.UnusedRules.Count);
        writer.WriteNumber("unused_rules", result.UnusedRules.Count);
        writer.WriteNumber("network_policies", policies.NetworkPolicyCount);
        writer.WriteNumber("flow_policies", policies.FlowPolicyCount);
        writer.WriteNumber("cilium_policies", policies.CiliumPolicyCount);
        writer.WriteNumber("istio_policies", policies.IstioPolicyCount);
        writer.WriteEndObject();
        if (l7 is not null) L7BacktestJson.Write(writer, l7);
        writer.WriteEndObject();
        writer.Flush();
        output.WriteByte((byte)'\n');
    }

    private static void WriteEdges(Utf8JsonWriter writer, string name, IReadOnlyList<BlockedEdge> edges)
    {
        writer.WriteStartArray(name);
        foreach (var blocked in edges)
        {
            writer.WriteStartObject();
            EdgeJson.WriteKey(writer, blocked.Edge);
            EdgeJson.WriteEvidence(writer, blocked.Edge);
            writer.WriteString("reason", blocked.Decision.Reason);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }
}
