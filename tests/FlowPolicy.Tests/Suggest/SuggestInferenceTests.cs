using System.Text.Json;
using FlowPolicy.Analytics.Intent;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Suggest.Emitters;
using FlowPolicy.Suggest.Inference;
using FlowPolicy.Suggest.Reports;
using FlowPolicy.Tests.Cli;

namespace FlowPolicy.Tests.Suggest;

public sealed class SuggestInferenceTests(SampleSuggestion sample) : IClassFixture<SampleSuggestion>
{
    private SuggestedRule Rule(string text) => Assert.Single(sample.Set.Rules, r => r.ToString() == text);

    [Fact]
    public void Dns_and_platform_dependencies_are_ordinary_rules()
    {
        foreach (var client in new[] { "shop/frontend", "shop/cart", "shop/catalog", "shop/checkout", "shop/payment" })
            Assert.Equal("high", Rule($"{client} -> kube-system/coredns:53/UDP").ConfidenceName);
        // A CronJob that runs on Sundays: a 7-day window holds one run, which is no period (it used to be called weekly).
        Assert.Equal("seen-once", Rule("batch/weekly-report -> kube-system/coredns:53/UDP").Periodicity.PatternName);
    }

    [Fact]
    public void Weekly_cronjob_run_once_and_startup_licence_check_are_kept_and_flagged()
    {
        // One run in the 7-day sample: seen once, no period; kept because a CronJob owns the client, and warned about.
        var weekly = Rule("batch/weekly-report -> shop/postgres:5432/TCP");
        Assert.Equal("seen-once", weekly.Periodicity.PatternName);
        Assert.Null(weekly.Periodicity.PeriodDays);
        Assert.Contains("scheduled-job", weekly.Flags);
        Assert.DoesNotContain("periodic", weekly.Flags);
        Assert.Contains(sample.Set.Warnings, w => w.Contains(weekly.Id) && w.Contains("schedule is not confirmed"));
        var licence = Rule("shop/catalog -> 198.51.100.7/32:8443/TCP");
        Assert.Equal("startup-only", licence.Periodicity.PatternName);
        Assert.Contains("startup-only", licence.Flags);
    }

    [Fact]
    public void Internet_ingress_becomes_any_internet_client_and_an_address_pool_its_block()
    {
        var internet = Rule("internet -> shop/frontend:8080/TCP");
        Assert.Contains("generalised", internet.Flags);
        Assert.Contains(Cidr.Parse("10.0.0.0/8"), internet.Client.Except);
        var pool = Assert.Single(sample.Set.Rules, r => r.Server.Kind == PeerKind.Network && r.Server.Key.StartsWith("192.0.2.", StringComparison.Ordinal));
        Assert.Equal("192.0.2.16/29", pool.Server.Key);
        Assert.Contains("addresses more than observed", pool.Generalisation);
        Assert.Equal("203.0.113.10/32", Rule("shop/payment -> 203.0.113.10/32:443/TCP").Server.Key);
    }

    [Fact]
    public void Node_probes_become_one_nodes_rule_per_port()
    {
        var probe = Rule("nodes -> shop/frontend:8080/TCP");
        Assert.Contains("node-probe", probe.Flags);
        Assert.True(probe.Evidence.Edges >= 2, "probes from several nodes fold into one rule");
    }

    [Fact]
    public void Scanner_and_debug_pod_are_left_out_with_reasons()
    {
        var scanner = sample.Set.LeftOut.Where(l => l.Edge.Client.Key == "10.0.9.99").ToList();
        Assert.NotEmpty(scanner);
        Assert.All(scanner, l => Assert.Equal("scanner", l.ReasonName));
        Assert.Equal("bare-pod", Assert.Single(sample.Set.LeftOut, l => l.Edge.Client.Key == "shop/debug-shell").ReasonName);
        Assert.DoesNotContain(sample.Set.Rules, r => r.Client.Key is "10.0.9.99/32" or "shop/debug-shell");
    }

    [Fact]
    public void Reply_only_edges_never_become_rules()
    {
        var edge = new Edge(Workload("shop", "a"), Workload("shop", "b"), 80, IpProtocols.Tcp) { Flows = 0, Bytes = 100, FirstSeen = T(0), LastSeen = T(1) };
        var set = new RuleInference().Infer([edge]);
        Assert.Empty(set.Rules);
        Assert.Equal("reply-only", Assert.Single(set.LeftOut).ReasonName);
    }

    [Fact]
    public void A_short_window_is_warned_about()
    {
        var edge = new Edge(Workload("shop", "a"), Workload("shop", "b"), 80, IpProtocols.Tcp) { Flows = 50, FirstSeen = T(0), LastSeen = T(20), Days = [DateOnly.FromDateTime(T(0))] };
        var set = new RuleInference().Infer([edge]);
        Assert.Contains(set.Warnings, w => w.Contains("shorter than 7 days"));
        Assert.Single(set.Rules);
    }

    [Fact]
    public void Output_is_byte_identical_for_the_same_input()
    {
        var again = Path.Combine(sample.Directory, "again");
        new SuggestionOutput(new SuggestionOutputOptions { Directory = again }).Write(new RuleInference().Infer(sample.Edges));
        var first = Directory.EnumerateFiles(sample.Out, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(sample.Out, f)).Order(StringComparer.Ordinal).ToList();
        var second = Directory.EnumerateFiles(again, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(again, f)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(first, second);
        Assert.Contains(Path.Combine("k8s", "shop", "flowpolicy--default-deny.yaml"), first);
        foreach (var file in first)
            Assert.True(File.ReadAllBytes(Path.Combine(sample.Out, file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(again, file))), file);
    }

    [Fact]
    public void Names_are_sanitised_and_paths_stay_inside_the_output_directory()
    {
        Assert.Equal("evil-etc-passwd", PolicyNames.Sanitise("../Evil/../etc/passwd"));
        Assert.Throws<InvalidOperationException>(() => SuggestionOutput.Confine("/tmp/out", "../escape.yaml"));
        var edge = new Edge(Workload("ns", "../../w x", ("app", "true")), Workload("ns", "b", ("app", "b")), 80, IpProtocols.Tcp) { Flows = 50, FirstSeen = T(0), LastSeen = T(1) };
        var evil = new Edge(Workload("../ns", "a", ("app", "a")), Workload("../ns", "b", ("app", "b")), 80, IpProtocols.Tcp) { Flows = 50, FirstSeen = T(0), LastSeen = T(1) };
        var dir = Path.Combine(sample.Directory, "evil");
        var written = new SuggestionOutput(new SuggestionOutputOptions { Directory = dir }).Write(new RuleInference().Infer([edge, evil]));
        Assert.All(written, f => Assert.DoesNotContain("..", f));
        // A namespace Kubernetes would refuse gets no policy at all, said in the report.
        Assert.Contains("namespace '../ns' is not a valid Kubernetes namespace name", File.ReadAllText(Path.Combine(dir, "report.md")));
        // A name that had to change to be valid gets a hash of the original, so no other workload can take it.
        var policy = PolicyYaml.Load(Path.Combine(dir, "k8s")).Single(p => PolicyYaml.Str(PolicyYaml.Get(p, "metadata"), "name") is { } n && n.StartsWith("w-x--", StringComparison.Ordinal) && n.EndsWith("-egress", StringComparison.Ordinal));
        string name = PolicyYaml.Str(PolicyYaml.Get(policy, "metadata"), "name")!;
        // A label value YAML would read as a bool stays a string.
        var labels = PolicyYaml.Get(PolicyYaml.Get(PolicyYaml.Get(policy, "spec"), "podSelector"), "matchLabels")!;
        Assert.Contains("\"true\"", File.ReadAllText(Path.Combine(dir, "k8s", "ns", name + ".yaml")));
        Assert.Equal("true", PolicyYaml.Str(labels, "app"));
    }

    [Fact]
    public void Intent_diff_separates_rules_to_add_approved_rules_and_unused_intent_rules()
    {
        var approvedRule = new IntentRule("shop/allow-frontend", "ingress[0]", "NetworkPolicy");
        var unusedRule = new IntentRule("shop/old-thing", "ingress[0]", "NetworkPolicy");
        var diff = IntentDiff.Compute(sample.Set, new FakeIntent(approvedRule, unusedRule));
        var cart = Rule("shop/frontend -> shop/cart:7070/TCP");
        Assert.Contains(diff.Approved, a => a.Rule.Id == cart.Id && a.IntentRules.Contains(approvedRule));
        Assert.Contains(diff.ToAdd, r => r.ToString() == "shop/cart -> shop/redis:6379/TCP");
        Assert.Equal([unusedRule], diff.Unused);
        Assert.Equal(sample.Set.Rules.Count, diff.Approved.Count + diff.ToAdd.Count);
    }

    [Fact]
    public void With_intent_the_suggestion_is_a_diff_against_the_policy_files()
    {
        var sampleDir = Path.Combine(sample.Directory, "sample");
        var policies = Path.Combine(CliProcess.RepositoryRoot(), "docs", "examples", "sample-policies");
        var outDir = Path.Combine(sample.Directory, "diff");
        var result = CliProcess.Run("suggest", "--flows", Path.Combine(sampleDir, "hubble-flows.json"), Path.Combine(sampleDir, "vpc-flowlogs.log.gz"),
            "--inventory", Path.Combine(sampleDir, "inventory", "leases.jsonl"), Path.Combine(sampleDir, "inventory", "nodes.json"),
            "--intent", policies, "--emit", "json", "--out", outDir);
        Assert.True(result.ExitCode == 0, result.Stderr);
        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "suggestions.json")));
        var intent = json.RootElement.GetProperty("intent");
        // The sample policies allow what the app needs: DNS egress is approved by the allow-dns policy.
        Assert.Contains(intent.GetProperty("approved").EnumerateArray(), a =>
            a.GetProperty("intent_rules").EnumerateArray().Any(r => r.GetString()!.StartsWith("shop/allow-dns", StringComparison.Ordinal)));
        int rules = json.RootElement.GetProperty("rules").GetArrayLength();
        Assert.Equal(rules, intent.GetProperty("approved").GetArrayLength() + intent.GetProperty("add").GetArrayLength());
    }

    [Fact]
    public void Clickhouse_needs_whole_hours_and_an_unreachable_server_is_a_runtime_error()
    {
        var notHourly = CliProcess.Run("suggest", "--clickhouse", "http://127.0.0.1:1", "--from", "2026-11-02T00:10:00Z", "--to", "2026-11-09T00:00:00Z", "--out", Path.Combine(sample.Directory, "y"));
        Assert.Equal(2, notHourly.ExitCode);
        Assert.Contains("whole hour", notHourly.Stderr);
        var unreachable = CliProcess.Run("suggest", "--clickhouse", "http://127.0.0.1:1", "--from", "2026-11-02T00:00:00Z", "--to", "2026-11-09T00:00:00Z", "--out", Path.Combine(sample.Directory, "y"));
        Assert.Equal(3, unreachable.ExitCode);
        var help = CliProcess.Run("suggest", "--help");
        Assert.Contains("Examples:", help.Stdout);
    }

    [Fact]
    public void The_cli_writes_every_format_the_report_and_the_neutral_json()
    {
        var sampleDir = Path.Combine(sample.Directory, "sample");
        var outDir = Path.Combine(sample.Directory, "cli");
        var result = CliProcess.Run("suggest", "--flows", Path.Combine(sampleDir, "hubble-flows.json"), Path.Combine(sampleDir, "vpc-flowlogs.log.gz"),
            "--inventory", Path.Combine(sampleDir, "inventory", "leases.jsonl"), Path.Combine(sampleDir, "inventory", "nodes.json"), "--out", outDir, "--emit", "k8s,json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.True(File.Exists(Path.Combine(outDir, "suggestions.json")));
        Assert.True(Directory.Exists(Path.Combine(outDir, "k8s")));
        Assert.False(Directory.Exists(Path.Combine(outDir, "cilium")));
        var report = File.ReadAllText(Path.Combine(outDir, "report.md"));
        Assert.Contains("scanner", report);
        Assert.Contains("not from the other nodes", report);
        // With the nodes in the inventory, traffic from the nodes is allowed by address: the spec exempts only the
        // pod's own node, and a NodePort forwarded by another node arrives from that node's address.
        var frontend = File.ReadAllText(Path.Combine(outDir, "k8s", "shop", "frontend-ingress.yaml"));
        Assert.Contains("# r-", frontend);
        Assert.Contains("nodes -> shop/frontend:8080/TCP", frontend);
        Assert.Contains("cidr: \"10.0.1.10/32\"", frontend);
        Assert.DoesNotContain("not emitted, from the nodes", frontend);
        var json = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "suggestions.json"))).RootElement;
        Assert.Equal(sample.Set.Rules.Count, json.GetProperty("rules").GetArrayLength());
        Assert.Equal(sample.Set.LeftOut.Count, json.GetProperty("left_out").GetArrayLength());
    }

    private static DateTime T(int hours) => new DateTime(2026, 11, 2, 0, 0, 0, DateTimeKind.Utc).AddHours(hours);

    private static Endpoint Workload(string ns, string name, params (string, string)[] labels) =>
        Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, ns, name, "Deployment", labels: (labels.Length == 0 ? [("app", name)] : labels).Select(l => KeyValuePair.Create(l.Item1, l.Item2))));

    /// <summary>Allows frontend -> cart only, by one named rule; knows one more rule that nothing uses.</summary>
    private sealed class FakeIntent(IntentRule used, IntentRule unused) : IIntentEvaluator
    {
        public IReadOnlyList<IntentRule> Rules => [used, unused];

        public IntentDecision Evaluate(Endpoint client, Endpoint server, ushort port, byte protocol) =>
            client.Key == "shop/frontend" && server.Key == "shop/cart" && port == 7070
                ? new IntentDecision(true, [used], "allowed by " + used)
                : new IntentDecision(false, [], "no rule");
    }
}
