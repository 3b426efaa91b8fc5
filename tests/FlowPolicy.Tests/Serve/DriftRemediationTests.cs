using System.Text.Json;
using FlowPolicy.Analytics.Intent;
using FlowPolicy.Cli.Commands;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Embedded;
using FlowPolicy.Tests.Cli;

namespace FlowPolicy.Tests.Serve;

/// <summary>
/// The report's drift events carry their remediation as a unified diff of the intent's policy files (docs/report.md,
/// "Drift and remediation"): on the sample with an intent that lost one rule and gained an unused one, `analyze --out`
/// writes an "add" diff for the edge that became unintended and a "remove" diff for the stale rule; applied to the files
/// (as `patch` would), the intent allows the edge, no longer has the rule, and judges every other edge as before.
/// </summary>
public sealed class DriftRemediationTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "flowpolicy-drift-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private const string CartRule = "        - to: [{podSelector: {matchLabels: {app: cart}}}]\n          ports: [{port: 7070}]\n";
    private const string PaymentIngress = "        - from: [{podSelector: {matchLabels: {app: checkout}}}]\n          ports: [{port: 50051}]\n";
    private const string UnusedRule = "        - from: [{podSelector: {matchLabels: {app: nobody}}}]\n          ports: [{port: 9999}]\n";

    /// <summary>The sample policies with checkout's egress rule to cart removed and an ingress rule nothing uses added to payment.</summary>
    private string DriftedIntent()
    {
        var intent = Path.Combine(_dir, "intent");
        var source = Path.Combine(CliProcess.RepositoryRoot(), "docs", "examples", "sample-policies");
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(intent, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        var backend = Path.Combine(intent, "shop", "backend.yaml");
        var text = File.ReadAllText(backend);
        Assert.Contains(CartRule, text);
        Assert.Contains(PaymentIngress, text);
        File.WriteAllText(backend, text.Replace(CartRule, "", StringComparison.Ordinal).Replace(PaymentIngress, PaymentIngress + UnusedRule, StringComparison.Ordinal));
        return intent;
    }

    [Fact]
    public void Analyze_reports_an_add_diff_for_the_new_unintended_edge_and_a_remove_diff_for_the_stale_rule_and_both_apply()
    {
        var files = SampleCommand.Write(Path.Combine(_dir, "sample"), SampleCommand.DefaultStart, days: 2, seed: 7, rate: 1);
        var intent = DriftedIntent();
        var output = Path.Combine(_dir, "out");
        var run = CliProcess.Run(["analyze", "--flows", .. files.FlowFiles, "--inventory", .. files.InventoryFiles, "--intent", intent, "--out", output, "--no-svg"]);
        Assert.True(run.ExitCode == 0, run.Stderr);

        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "report.json")));
        var drift = report.RootElement.GetProperty("drift").EnumerateArray().ToList();
        var add = drift.Single(d => d.GetProperty("subject").GetString() == "shop/checkout -> shop/cart:7070/TCP");
        Assert.Equal("unintended_edge", add.GetProperty("kind").GetString());
        Assert.Equal("add", add.GetProperty("change").GetString());
        var addDiff = add.GetProperty("diff").GetString()!;
        Assert.StartsWith("--- /dev/null\n+++ b/shop/", addDiff);
        var remove = drift.Single(d => d.GetProperty("kind").GetString() == "stale_rule");
        Assert.Equal("shop/payment ingress[1]", remove.GetProperty("subject").GetString());
        Assert.Equal("remove", remove.GetProperty("change").GetString());
        var removeDiff = remove.GetProperty("diff").GetString()!;
        Assert.StartsWith("--- a/shop/backend.yaml\n+++ b/shop/backend.yaml\n@@ ", removeDiff);
        Assert.Equal(UnusedRule.TrimEnd('\n').Split('\n').Select(l => "-" + l), removeDiff.Split('\n').Where(l => l.StartsWith('-') && !l.StartsWith("---", StringComparison.Ordinal)));
        // The scanner's edges are noise: no rule to add.
        Assert.All(drift.Where(d => d.GetProperty("subject").GetString()!.StartsWith("10.0.9.99 ", StringComparison.Ordinal)), d => Assert.Equal("none", d.GetProperty("change").GetString()));
        // Both are in the page and in report.md's place for one-off runs (the HTML).
        var html = File.ReadAllText(Path.Combine(output, "report.html"));
        Assert.Contains("Drift and remediation", html);
        Assert.Contains("+++ b/shop/backend.yaml", html);

        // Applied as patch -p1 would, the diffs give an intent that allows the edge and lacks the rule, and judges every
        // other observed edge as the drifted intent did: the added policy allows exactly the edge (the rule it replaces was
        // broader: the sample's debug shell, labelled as checkout, reached cart through it and still does not).
        var before = new IntentEvaluator(new IntentPolicyLoader().Load([intent]));
        ApplyUnifiedDiff(intent, addDiff);
        // The added file passes the checks the suggested policy files pass (tests/FlowPolicy.Tests/PolicyValidation).
        var added = Path.Combine(_dir, "added");
        Directory.CreateDirectory(added);
        File.Copy(Path.Combine(intent, add.GetProperty("file").GetString()!), Path.Combine(added, "policy.yaml"));
        var errors = new List<string>();
        var documents = FlowPolicy.Tests.PolicyValidation.PolicyDocuments.Load(added);
        Assert.Equal(["NetworkPolicy"], documents.Select(d => d.Kind));
        foreach (var doc in documents) FlowPolicy.Tests.PolicyValidation.NetworkPolicyRules.CheckKubernetes(doc, errors);
        Assert.Empty(errors);
        ApplyUnifiedDiff(intent, removeDiff);
        var after = new IntentEvaluator(new IntentPolicyLoader().Load([intent]));
        Assert.Equal(before.Rules.Count, after.Rules.Count); // one added, one removed
        Assert.DoesNotContain(after.Rules, r => r.Policy == "shop/payment" && r.Rule == "ingress[1]");
        var edges = new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = files.FlowFiles, InventoryFiles = files.InventoryFiles }).Load().Edges;
        foreach (var e in edges)
        {
            bool fixedEdge = PipelineReportKey(e) == "shop/checkout -> shop/cart:7070/TCP";
            if (fixedEdge) Assert.False(before.Evaluate(e.Client, e.Server, e.Port, e.Protocol).Allowed);
            bool expected = fixedEdge || before.Evaluate(e.Client, e.Server, e.Port, e.Protocol).Allowed;
            Assert.True(expected == after.Evaluate(e.Client, e.Server, e.Port, e.Protocol).Allowed, $"{PipelineReportKey(e)}: the remedied intent judges it {(expected ? "denied" : "allowed")}");
        }
        Assert.Contains(edges, e => PipelineReportKey(e) == "shop/checkout -> shop/cart:7070/TCP");
    }

    [Fact]
    public async Task Serves_report_carries_the_remediation_in_report_md_and_json_with_the_suggested_rule_that_covers_the_edge()
    {
        var start = SampleCommand.DefaultStart;
        var files = SampleCommand.Write(Path.Combine(_dir, "sample"), start, days: 2, seed: 7, rate: 1);
        var load = new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = files.FlowFiles, InventoryFiles = files.InventoryFiles }).Load();
        var intent = DriftedIntent();
        var window = new AnalysisWindow(start, start.AddDays(2));
        var evaluator = new IntentEvaluator(new IntentPolicyLoader().Load([intent]), new IntentEvaluatorOptions { NamespaceLabels = load.NamespaceLabels });
        var folder = await FlowPolicy.Suggest.Reports.SuggestReport.WriteAsync(Path.Combine(_dir, "reports", "suggest"), "r", window, load.Edges, evaluator, ["json"],
            FlowPolicy.Suggest.Reports.SuggestionLayout.Workload, default, intentFiles: PolicyInputs.IntentFiles(intent, load.NamespaceLabels, load.NodeAddressesByName, IstioMesh.Default));

        var markdown = File.ReadAllText(Path.Combine(folder, "report.md"));
        Assert.Contains("## Drift and remediation", markdown);
        Assert.Contains("**unintended_edge** `shop/checkout -> shop/cart:7070/TCP`", markdown);
        Assert.Contains("  ```diff\n  --- /dev/null\n  +++ b/shop/flowpolicy-allow-checkout-to-cart-7070-tcp.yaml", markdown);
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "report.json")));
        var add = report.RootElement.GetProperty("drift").EnumerateArray().Single(d => d.GetProperty("subject").GetString() == "shop/checkout -> shop/cart:7070/TCP");
        Assert.Equal("add", add.GetProperty("change").GetString());
        Assert.StartsWith("r-", add.GetProperty("suggested_rule").GetString());
        Assert.Contains("suggested rule r-", add.GetProperty("note").GetString());
        // The intent directory is left as it was: the checks ran on a copy.
        Assert.False(File.Exists(Path.Combine(intent, "shop", "flowpolicy-allow-checkout-to-cart-7070-tcp.yaml")));
        Assert.Contains(UnusedRule, File.ReadAllText(Path.Combine(intent, "shop", "backend.yaml")));
    }

    private static string PipelineReportKey(Edge e) => $"{e.Client.Key} -> {e.Server.Key}:{e.Port}/{IpProtocols.Name(e.Protocol)}";

    /// <summary>
    /// Applies a unified diff of one file under <paramref name="root"/> as `patch -p1` does for these shapes: a new file
    /// (--- /dev/null), or hunks whose context and removed lines must match the file exactly.
    /// </summary>
    private static void ApplyUnifiedDiff(string root, string diff)
    {
        var lines = diff.TrimEnd('\n').Split('\n');
        var target = Path.Combine(root, lines[1]["+++ b/".Length..]);
        if (lines[0] == "--- /dev/null")
        {
            Assert.False(File.Exists(target), "the diff creates a file that exists");
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.WriteAllText(target, string.Concat(lines.Skip(3).Select(l => { Assert.StartsWith("+", l); return l[1..] + "\n"; })));
            return;
        }
        var file = File.ReadAllText(target).Split('\n').ToList();
        var header = System.Text.RegularExpressions.Regex.Match(lines[2], @"^@@ -(\d+),(\d+) \+(\d+),(\d+) @@$");
        Assert.True(header.Success, lines[2]);
        int at = int.Parse(header.Groups[1].Value) - 1;
        var result = file.Take(at).ToList();
        int cursor = at;
        foreach (var line in lines.Skip(3))
        {
            Assert.Equal(line[1..], file[cursor]); // context and removed lines are the file's
            if (line[0] == ' ') result.Add(file[cursor]);
            cursor++;
        }
        result.AddRange(file.Skip(cursor));
        File.WriteAllText(target, string.Join('\n', result));
    }
}
