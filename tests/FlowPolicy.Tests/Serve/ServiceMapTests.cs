using System.Text.Json;
using System.Text.RegularExpressions;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Cli.Commands;
using FlowPolicy.Cli.Serve;
using FlowPolicy.Core.Edges;
using FlowPolicy.Ingest.Embedded;
using FlowPolicy.Suggest.Reports;
using FlowPolicy.Tests.Cli;

namespace FlowPolicy.Tests.Serve;

/// <summary>The map data report.html embeds (ServiceMap), and `suggest --flows` writing report.html. The browser side is ServiceMapRenderTests.</summary>
public sealed class ServiceMapTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "flowpolicy-map-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static JsonElement MapData(string html)
    {
        var m = Regex.Match(html, "<script type=\"application/json\" id=\"smap-data\">(.*?)</script>", RegexOptions.Singleline);
        Assert.True(m.Success, "report.html has no map data");
        return JsonDocument.Parse(m.Groups[1].Value).RootElement.Clone();
    }

    private static string Key(JsonElement data, JsonElement edge) =>
        $"{data.GetProperty("nodes")[edge.GetProperty("s").GetInt32()].GetProperty("id").GetString()} -> {data.GetProperty("nodes")[edge.GetProperty("t").GetInt32()].GetProperty("id").GetString()}:{edge.GetProperty("p").GetString()}";

    [Fact]
    public async Task Map_edges_carry_their_status_evidence_and_plumbing_flag_and_bare_addresses_merge()
    {
        var start = SampleCommand.DefaultStart;
        var files = SampleCommand.Write(Path.Combine(_dir, "sample"), start, days: 1, seed: 7, rate: 1);
        var edges = new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = files.FlowFiles, InventoryFiles = files.InventoryFiles }).Load().Edges;
        var intent = PolicyInputs.LoadIntent(Path.Combine(CliProcess.RepositoryRoot(), "docs", "examples", "sample-policies"));
        var window = new AnalysisWindow(start, start.AddDays(1));
        var jobDir = Path.Combine(_dir, "reports", "suggest");
        var withheld = edges.Where(e => !e.Client.IsAddress && !e.Server.IsAddress && !ServiceMap.IsPlumbing(e)).OrderByDescending(e => e.Flows).First();
        await SuggestReport.WriteAsync(jobDir, "2026-11-03T00-00-00Z", window, edges.Where(e => e != withheld).ToList(), intent, ["k8s"], SuggestionLayout.Workload, default);
        var second = await SuggestReport.WriteAsync(jobDir, "2026-11-04T00-00-00Z", window, edges, intent, ["k8s"], SuggestionLayout.Workload, default);

        var html = File.ReadAllText(Path.Combine(second, "report.html"));
        var data = MapData(html);
        Assert.True(data.GetProperty("intent").GetBoolean());
        var mapEdges = data.GetProperty("edges").EnumerateArray().ToList();
        var byKey = mapEdges.ToDictionary(e => Key(data, e));

        // The one edge the first report lacked is the one "new" edge, with its evidence.
        var news = mapEdges.Where(e => (e.GetProperty("st").GetInt32() & (int)MapEdgeStatus.New) != 0).Select(e => Key(data, e)).ToList();
        Assert.Equal([PipelineReport.EdgeKey(withheld)], news);
        var shown = byKey[PipelineReport.EdgeKey(withheld)];
        Assert.Equal(withheld.Flows, shown.GetProperty("f").GetInt64());
        Assert.Equal(withheld.DaysSeen, shown.GetProperty("days").GetInt32());
        Assert.NotNull(shown.GetProperty("why").GetString());

        // Denied flows and plumbing are flagged where they are.
        foreach (var e in mapEdges)
        {
            bool denied = (e.GetProperty("st").GetInt32() & (int)MapEdgeStatus.Denied) != 0;
            Assert.Equal(denied, e.GetProperty("d").GetInt64() > 0);
            Assert.True((e.GetProperty("st").GetInt32() & (int)(MapEdgeStatus.Allowed | MapEdgeStatus.Unintended)) != 0, "intent given: every edge is allowed or unintended");
        }
        var probes = edges.Where(e => e.Client.Kind == FlowPolicy.Core.Flows.EndpointKind.Node).ToList();
        Assert.NotEmpty(probes);
        foreach (var probe in probes.Where(p => byKey.ContainsKey(PipelineReport.EdgeKey(p))))
            Assert.True(byKey[PipelineReport.EdgeKey(probe)].TryGetProperty("pl", out var pl) && pl.GetBoolean());

        // Bare addresses are one node, and their edges' flows add up on it.
        var addressEdges = edges.Where(e => e.Client.IsAddress && e.Client.Kind != FlowPolicy.Core.Flows.EndpointKind.Unknown && !e.Server.IsAddress).ToList();
        Assert.True(addressEdges.Count > 1, "the sample has internet clients");
        var nodeIds = data.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("id").GetString()).ToList();
        Assert.Single(nodeIds, id => id == "external addresses");
        Assert.DoesNotContain(nodeIds, id => id == addressEdges[0].Client.Key);
        foreach (var group in addressEdges.GroupBy(e => $"external addresses -> {e.Server.Key}:{e.Port}/{e.ProtocolName}"))
            Assert.Equal(group.Sum(e => e.Flows), byKey[group.Key].GetProperty("f").GetInt64());

        // The libraries are inlined (no network to open it) with their licences.
        Assert.Contains("cytoscape.js 3.35.0", html);
        Assert.Contains("Permission is hereby granted", html);
        Assert.DoesNotMatch("(src|href)\\s*=\\s*[\"']?(https?:)?//", html);
    }

    [Fact]
    public void Suggest_on_flow_files_writes_report_html_with_the_map()
    {
        var files = SampleCommand.Write(Path.Combine(_dir, "sample"), SampleCommand.DefaultStart, days: 1, seed: 7, rate: 1);
        var output = Path.Combine(_dir, "out");
        var args = new List<string> { "suggest", "--flows" };
        args.AddRange(files.FlowFiles);
        args.Add("--inventory");
        args.AddRange(files.InventoryFiles);
        args.AddRange(["--intent", Path.Combine(CliProcess.RepositoryRoot(), "docs", "examples", "sample-policies"), "--out", output]);
        var run = CliProcess.Run([.. args]);
        Assert.True(run.ExitCode == 0, run.Stderr);

        var html = File.ReadAllText(Path.Combine(output, "report.html"));
        var data = MapData(html);
        Assert.True(data.GetProperty("edges").GetArrayLength() > 10);
        Assert.Contains("<h2>SLIs per service</h2>", html);
        Assert.Contains("<h2>Suggested rule changes</h2>", html);
        Assert.DoesNotContain("# FlowPolicy report", File.ReadAllText(Path.Combine(output, "report.md"))); // suggest's own report.md, not serve's
    }
}
