using System.Text.Json;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Cli.Commands;
using FlowPolicy.Cli.Serve;
using FlowPolicy.Core.Edges;
using FlowPolicy.Ingest.Embedded;
using FlowPolicy.Suggest.Reports;
using FlowPolicy.Tests.Cli;

namespace FlowPolicy.Tests.Serve;

public sealed class PipelineReportTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "flowpolicy-report-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task A_report_shows_the_anomalies_of_its_window_with_their_edges()
    {
        var start = SampleCommand.DefaultStart;
        var files = SampleCommand.Write(Path.Combine(_dir, "sample"), start, days: 1, seed: 7, rate: 1);
        var edges = new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = files.FlowFiles, InventoryFiles = files.InventoryFiles }).Load().Edges;
        var window = new AnalysisWindow(start, start.AddDays(1));
        var anomaly = new FlowPolicy.Analytics.Anomalies.FlowAnomaly(FlowPolicy.Analytics.Anomalies.AnomalyKind.Scan, FlowPolicy.Analytics.Anomalies.AnomalyScope.Source, "default/debug",
            FlowPolicy.Analytics.Anomalies.AnomalyMetric.NewPeers, start.AddHours(20), start.AddHours(21), 120, 1, 0, 6, 80, FlowPolicy.Analytics.Anomalies.BaselineKind.AllHours,
            [new FlowPolicy.Analytics.Anomalies.AnomalyEdge("default/debug", "shop/cart", 22, 6, 1, 0)]);
        var withAnomaly = await SuggestReport.WriteAsync(Path.Combine(_dir, "a"), "r", window, edges, null, ["json"], SuggestionLayout.Workload, default, anomalies: [anomaly]);
        var markdown = File.ReadAllText(Path.Combine(withAnomaly, "report.md"));
        Assert.Contains("## Unusual traffic", markdown);
        Assert.Contains("- scan of source default/debug at 2026-11-02 20:00 UTC: 120 new peers/h, expected 1", markdown);
        Assert.Contains("`default/debug -> shop/cart:22/TCP`", markdown);
        Assert.Contains("<h2>Unusual traffic</h2>", File.ReadAllText(Path.Combine(withAnomaly, "report.html")));
        var without = await SuggestReport.WriteAsync(Path.Combine(_dir, "b"), "r", window, edges, null, ["json"], SuggestionLayout.Workload, default);
        Assert.DoesNotContain("Unusual traffic", File.ReadAllText(Path.Combine(without, "report.md")));
    }

    [Fact]
    public async Task A_report_lists_the_edges_that_were_not_in_the_previous_report()
    {
        var start = SampleCommand.DefaultStart;
        var files = SampleCommand.Write(Path.Combine(_dir, "sample"), start, days: 1, seed: 7, rate: 1);
        var edges = new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = files.FlowFiles, InventoryFiles = files.InventoryFiles }).Load().Edges;
        var intent = PolicyInputs.LoadIntent(Path.Combine(CliProcess.RepositoryRoot(), "docs", "examples", "sample-policies"));
        var window = new AnalysisWindow(start, start.AddDays(1));
        var jobDir = Path.Combine(_dir, "reports", "suggest");
        var withheld = edges.OrderByDescending(e => e.Flows).First();

        var first = await SuggestReport.WriteAsync(jobDir, "2026-11-03T00-00-00Z", window, edges.Where(e => e != withheld).ToList(), intent, ["k8s", "json"], SuggestionLayout.Workload, default);
        var second = await SuggestReport.WriteAsync(jobDir, "2026-11-04T00-00-00Z", window, edges, intent, ["k8s", "json"], SuggestionLayout.Workload, default);

        foreach (var name in new[] { "report.html", "report.md", "report.json", "suggestions.json" })
            Assert.True(File.Exists(Path.Combine(second, name)), name);
        Assert.True(Directory.EnumerateFiles(Path.Combine(second, "k8s"), "*.yaml", SearchOption.AllDirectories).Any());
        using var firstJson = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(first, "report.json")));
        Assert.Equal(JsonValueKind.Null, firstJson.RootElement.GetProperty("previous_report").ValueKind);
        Assert.Equal(edges.Count - 1, firstJson.RootElement.GetProperty("edges").GetArrayLength());
        using var secondJson = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(second, "report.json")));
        Assert.Equal("2026-11-03T00-00-00Z", secondJson.RootElement.GetProperty("previous_report").GetString());
        Assert.Equal([PipelineReport.EdgeKey(withheld)], secondJson.RootElement.GetProperty("new_edges").EnumerateArray().Select(e => e.GetString()));

        var html = File.ReadAllText(Path.Combine(second, "report.html"));
        Assert.Contains(System.Net.WebUtility.HtmlEncode(withheld.Client.Key), html);
        // Self-contained: scripts (the map) are inline, nothing is loaded from elsewhere.
        Assert.DoesNotMatch("<script[^>]*\\ssrc=|<link[^>]*\\shref=", html);
        Assert.Contains("## New edges since the last report", File.ReadAllText(Path.Combine(second, "report.md")));
    }

    [Fact]
    public async Task A_suggest_job_with_layout_namespace_writes_one_file_per_namespace()
    {
        var start = SampleCommand.DefaultStart;
        var files = SampleCommand.Write(Path.Combine(_dir, "sample"), start, days: 1, seed: 7, rate: 1);
        var edges = new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = files.FlowFiles, InventoryFiles = files.InventoryFiles }).Load().Edges;
        var window = new AnalysisWindow(start, start.AddDays(1));
        var config = ServeConfig.Parse("""
            jobs:
              suggest: { schedule: "0 30 2 * * ?", window: 7d, emit: [k8s, cilium], layout: namespace }
              suggest-files: { kind: suggest, schedule: "0 30 2 * * ?", window: 7d, emit: [k8s, cilium] }
            """);
        var byNamespace = config.Job("suggest");
        var byWorkload = config.Job("suggest-files");

        var namespaceReport = await SuggestReport.WriteAsync(Path.Combine(_dir, "reports", byNamespace.Name), "2026-11-03T00-00-00Z", window, edges,
            intent: null, byNamespace.Emit, byNamespace.Layout, default);
        var workloadReport = await SuggestReport.WriteAsync(Path.Combine(_dir, "reports", byWorkload.Name), "2026-11-03T00-00-00Z", window, edges,
            intent: null, byWorkload.Emit, byWorkload.Layout, default);

        foreach (var format in new[] { "k8s", "cilium" })
        {
            // namespace: FORMAT/NS.yaml, one per namespace the workload layout has a directory for.
            var namespaces = Directory.GetDirectories(Path.Combine(workloadReport, format)).Select(Path.GetFileName).Order().ToList();
            Assert.NotEmpty(namespaces);
            Assert.Empty(Directory.GetDirectories(Path.Combine(namespaceReport, format)));
            Assert.Equal(namespaces.Select(ns => ns + ".yaml"),
                Directory.GetFiles(Path.Combine(namespaceReport, format), "*.yaml").Select(Path.GetFileName).Order());
        }
    }

    [Fact]
    public async Task A_window_without_rules_or_with_far_fewer_is_skipped_and_the_latest_report_stays_the_latest()
    {
        var start = SampleCommand.DefaultStart;
        var files = SampleCommand.Write(Path.Combine(_dir, "sample"), start, days: 1, seed: 7, rate: 1);
        var edges = new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = files.FlowFiles, InventoryFiles = files.InventoryFiles }).Load().Edges;
        var window = new AnalysisWindow(start, start.AddDays(1));
        var jobDir = Path.Combine(_dir, "reports", "suggest");
        var first = await SuggestReport.WriteAsync(jobDir, "2026-11-03T00-00-00Z", window, edges, null, ["k8s", "json"], SuggestionLayout.Workload, default);
        using (var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(first, "report.json"))))
            Assert.True(json.RootElement.GetProperty("rules").GetInt32() > 10);

        // Ingest stopped: the next window has nothing.
        var empty = await Assert.ThrowsAsync<SuggestReportSkippedException>(() =>
            SuggestReport.WriteAsync(jobDir, "2026-11-04T00-00-00Z", window, [], null, ["k8s", "json"], SuggestionLayout.Workload, default));
        Assert.Contains("the suggestion has no rules", empty.Message);
        Assert.Contains("report 2026-11-03T00-00-00Z stays the latest", empty.Message);
        Assert.Contains("allow_empty: true", empty.Message);
        // One source of several: a few edges of one server.
        var server = edges.First(e => !e.Server.IsAddress && e.Server.Namespace == "shop").Server.Key;
        var few = edges.Where(e => e.Server.Key == server).ToList();
        var shrunk = await Assert.ThrowsAsync<SuggestReportSkippedException>(() =>
            SuggestReport.WriteAsync(jobDir, "2026-11-05T00-00-00Z", window, few, null, ["k8s", "json"], SuggestionLayout.Workload, default));
        Assert.Contains("rules of the output it would replace (report 2026-11-03T00-00-00Z)", shrunk.Message);
        Assert.Equal(["2026-11-03T00-00-00Z"], Directory.GetDirectories(jobDir).Select(Path.GetFileName));

        // The operator's choice: both written.
        await SuggestReport.WriteAsync(jobDir, "2026-11-04T00-00-00Z", window, [], null, ["k8s"], SuggestionLayout.Workload, default, allowEmpty: true);
        await SuggestReport.WriteAsync(jobDir, "2026-11-05T00-00-00Z", window, few, null, ["k8s"], SuggestionLayout.Workload, default, shrinkThreshold: 0);
        Assert.Equal(3, Directory.GetDirectories(jobDir).Length);
    }
}
