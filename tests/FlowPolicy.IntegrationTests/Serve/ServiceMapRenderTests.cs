using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FlowPolicy.Analytics.Intent;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Cli.Commands;
using FlowPolicy.Cli.Serve;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Ingest.Embedded;
using FlowPolicy.IntegrationTests.Infrastructure;
using FlowPolicy.Suggest.Reports;
using Xunit.Abstractions;

namespace FlowPolicy.IntegrationTests.Serve;

/// <summary>
/// The interactive service map as a user meets it: headless Chromium (driven over CDP, <see cref="ChromiumPage"/>)
/// opens report.html from disk (no network); what the map shows (data-map-* attributes written after each layout) must
/// match the edges of the window; a real mouse click on an edge opens its evidence; clicking the plumbing box shows the
/// hidden plumbing; search and the namespace filter narrow the map. Screenshots go to the artifacts directory CI keeps
/// (<see cref="ArtifactsDirectory"/>). The scale test states the load time and size of a 1,000-workload, 10,000-edge map.
/// </summary>
public sealed class ServiceMapRenderTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "flowpolicy-map-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    /// <summary>$FLOWPOLICY_ARTIFACTS (.ci/run sets it; CI keeps that directory), else artifacts/ in the repository (git-ignored).</summary>
    internal static string ArtifactsDirectory(string name)
    {
        var root = Environment.GetEnvironmentVariable("FLOWPOLICY_ARTIFACTS");
        if (string.IsNullOrEmpty(root))
        {
            var repo = AppContext.BaseDirectory;
            while (!File.Exists(Path.Combine(repo, "Directory.Build.props"))) repo = Path.GetDirectoryName(repo)!;
            root = Path.Combine(repo, "artifacts");
        }
        var dir = Path.Combine(root, name);
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string Node(Endpoint e) => ServiceMap.NodeKey(e);
    private static string MapKey(Edge e) => $"{Node(e.Client)} -> {Node(e.Server)}:{e.Port}/{e.ProtocolName}";
    private static int Endpoints(IEnumerable<Edge> es) => es.SelectMany(e => new[] { Node(e.Client), Node(e.Server) }).Distinct().Count();
    private static int MapEdges(IEnumerable<Edge> es) => es.Select(MapKey).Distinct().Count();
    private static string Group(Endpoint e) => e.Namespace ?? e.Kind switch
    {
        EndpointKind.Node => "(nodes)",
        EndpointKind.Unknown => "(unknown addresses)",
        _ => "(outside the cluster)",
    };

    private static async Task<string> Attribute(ChromiumPage page, string name) =>
        (await page.EvaluateAsync($"document.getElementById('service-map').getAttribute('{name}')"))?.GetValue<string>() ?? "";

    [Fact]
    public async Task A_click_on_an_edge_shows_its_evidence_and_plumbing_search_and_namespace_filter_change_what_the_map_shows()
    {
        var start = new DateTime(2026, 11, 2, 0, 0, 0, DateTimeKind.Utc);
        var files = SampleCommand.Write(Path.Combine(_dir, "sample"), start, days: 7, seed: 42, rate: 2);
        var load = new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = files.FlowFiles, InventoryFiles = files.InventoryFiles }).Load();
        var edges = load.Edges;
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Directory.Build.props"))) root = Path.GetDirectoryName(root)!;
        var intent = PolicyInputs.LoadIntent(Path.Combine(root, "docs", "examples", "sample-policies"));
        var report = await SuggestReport.WriteAsync(Path.Combine(_dir, "reports", "suggest"), "2026-11-09T00-00-00Z",
            new AnalysisWindow(start, start.AddDays(7)), edges, intent, ["k8s", "json"], SuggestionLayout.Workload, default, counts: load.Counts);
        var html = Path.Combine(report, "report.html");

        // What the map must show, from the edges themselves: noise (scanner, bare-pod) never; plumbing only when asked.
        using var suggestions = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(report, "suggestions.json")));
        var noise = suggestions.RootElement.GetProperty("left_out").EnumerateArray()
            .Where(l => l.GetProperty("reason").GetString() is "scanner" or "bare-pod").Select(l => $"{l.GetProperty("src").GetString()} -> {l.GetProperty("dst").GetString()}:{l.GetProperty("port").GetInt32()}/{l.GetProperty("proto").GetString()}")
            .ToHashSet(StringComparer.Ordinal);
        var drawn = edges.Where(e => !noise.Contains(PipelineReport.EdgeKey(e))).ToList();
        var application = drawn.Where(e => !ServiceMap.IsPlumbing(e)).ToList();
        Assert.NotEmpty(noise);
        Assert.True(drawn.Count > application.Count, "the sample has kubelet probes and DNS: plumbing to hide");
        Assert.True(MapEdges(drawn) < drawn.Count, "the sample's internet clients are merged");
        int plumbing = MapEdges(drawn) - MapEdges(application);

        var artifacts = ArtifactsDirectory("service-map");
        File.Copy(html, Path.Combine(artifacts, "report.html"), overwrite: true);
        await using var page = await ChromiumPage.StartAsync(Path.Combine(_dir, "chromium"));
        await page.NavigateAsync(new Uri(html).AbsoluteUri);
        await page.WaitForAsync("document.getElementById('service-map')?.getAttribute('data-map-ready') === '1'");
        Assert.Equal(MapEdges(application).ToString(CultureInfo.InvariantCulture), await Attribute(page, "data-map-edges"));
        Assert.Equal(Endpoints(application).ToString(CultureInfo.InvariantCulture), await Attribute(page, "data-map-nodes"));
        Assert.Equal(plumbing.ToString(CultureInfo.InvariantCulture), await Attribute(page, "data-map-plumbing-hidden"));
        Assert.Equal(MapEdges(drawn), (await page.EvaluateAsync("flowpolicyMap.data.edges.length"))!.GetValue<int>()); // the model, all of it in the page
        Assert.Contains($"{plumbing} plumbing edges hidden", (await page.EvaluateAsync("document.getElementById('smap-summary').textContent"))!.GetValue<string>());

        // A real click on the busiest application edge: fitted into view so its middle is its own, then clicked there.
        var busiest = application.GroupBy(MapKey).Select(g => (Key: g.Key, Flows: g.Sum(e => e.Flows), Bytes: g.Aggregate(0UL, (b, e) => b + e.Bytes)))
            .OrderByDescending(g => g.Flows).ThenBy(g => g.Key, StringComparer.Ordinal).First();
        int index = (await page.EvaluateAsync("flowpolicyMap.data.edges.findIndex(e => !e.pl)"))!.GetValue<int>();
        var point = (await page.EvaluateAsync($$"""
            (() => {
              const cy = flowpolicyMap.cy, edge = cy.getElementById('e{{index}}');
              document.getElementById('smap-canvas').scrollIntoView({ block: 'center' });
              cy.fit(edge, 220);
              const m = edge.renderedMidpoint(), r = cy.container().getBoundingClientRect();
              return [r.left + m.x, r.top + m.y];
            })()
            """))!;
        Assert.Equal("", (await page.EvaluateAsync("document.getElementById('smap-edge-title')?.textContent ?? ''"))!.GetValue<string>());
        await page.ClickAsync(point[0]!.GetValue<double>(), point[1]!.GetValue<double>());
        await page.WaitForAsync("document.getElementById('smap-edge-title')");
        Assert.Equal(busiest.Key, (await page.EvaluateAsync("document.getElementById('smap-edge-title').textContent"))!.GetValue<string>());
        var evidence = (await page.EvaluateAsync("[...document.querySelectorAll('#smap-edge-evidence tr')].map(r => r.cells[0].textContent + '=' + r.cells[1].textContent)"))!
            .AsArray().Select(n => n!.GetValue<string>()).ToList();
        Assert.Contains($"flows={busiest.Flows:N0}", evidence);
        Assert.Contains(evidence, r => r.StartsWith("first seen=2026-11-", StringComparison.Ordinal));
        Assert.Contains(evidence, r => r.StartsWith("days seen=", StringComparison.Ordinal));
        Assert.Contains(evidence, r => r.StartsWith("intended policy=", StringComparison.Ordinal) && r.Length > "intended policy=".Length); // the rule that allows it
        Assert.Contains(evidence, r => r.StartsWith("suggested rule=", StringComparison.Ordinal) && r.Contains("confidence", StringComparison.Ordinal));
        await File.WriteAllBytesAsync(Path.Combine(artifacts, "map-evidence.png"), await page.ScreenshotAsync());

        // Clicking the plumbing box shows the plumbing: nothing hidden any more.
        await page.ClickElementAsync("#smap-plumbing");
        await page.WaitForAsync("document.getElementById('service-map').getAttribute('data-map-plumbing') === '1' && document.getElementById('service-map').getAttribute('data-map-ready') === '1'");
        Assert.Equal(MapEdges(drawn).ToString(CultureInfo.InvariantCulture), await Attribute(page, "data-map-edges"));
        Assert.Equal(Endpoints(drawn).ToString(CultureInfo.InvariantCulture), await Attribute(page, "data-map-nodes"));
        Assert.Equal("0", await Attribute(page, "data-map-plumbing-hidden"));
        await page.EvaluateAsync("void flowpolicyMap.cy.fit(undefined, 20)");
        await File.WriteAllBytesAsync(Path.Combine(artifacts, "map-plumbing.png"), await page.ScreenshotAsync());

        // Search: typed into the box, it marks the endpoints whose key holds the text.
        const string query = "frontend";
        int hits = drawn.SelectMany(e => new[] { Node(e.Client), Node(e.Server) }).Distinct().Count(k => k.Contains(query, StringComparison.OrdinalIgnoreCase));
        Assert.True(hits > 0);
        await page.ClickElementAsync("#smap-search");
        await page.TypeAsync(query);
        await page.WaitForAsync("document.getElementById('service-map').hasAttribute('data-map-search-hits')");
        Assert.Equal(hits.ToString(CultureInfo.InvariantCulture), await Attribute(page, "data-map-search-hits"));

        // The namespace filter keeps the edges touching the namespace.
        var ns = drawn.Select(e => e.Server.Namespace).Where(n => n is not null).GroupBy(n => n).OrderByDescending(g => g.Count()).First().Key!;
        var touching = drawn.Where(e => Group(e.Client) == ns || Group(e.Server) == ns).ToList();
        Assert.True(touching.Count < drawn.Count);
        await page.EvaluateAsync($"(() => {{ const s = document.getElementById('smap-namespace'); s.value = {JsonSerializer.Serialize(ns)}; s.dispatchEvent(new Event('change')); }})()");
        await page.WaitForAsync($"document.getElementById('service-map').getAttribute('data-map-ready') === '1' && document.getElementById('service-map').getAttribute('data-map-edges') === '{MapEdges(touching)}'", 60);
        Assert.Equal(Endpoints(touching).ToString(CultureInfo.InvariantCulture), await Attribute(page, "data-map-nodes"));

        await page.EvaluateAsync("(() => { const s = document.getElementById('smap-namespace'); s.value = ''; s.dispatchEvent(new Event('change')); document.getElementById('service-map').scrollIntoView(); })()");
        await page.WaitForAsync("document.getElementById('service-map').getAttribute('data-map-ready') === '1'");
        var png = Path.Combine(artifacts, "map.png");
        await File.WriteAllBytesAsync(png, await page.ScreenshotAsync());
        Assert.True(new FileInfo(png).Length > 20_000, "the screenshot is blank");
        output.WriteLine($"screenshots: {artifacts}");
    }

    /// <summary>Allows edges inside a namespace, nothing across: half the generated edges are unintended.</summary>
    private sealed class SameNamespaceIntent : IIntentEvaluator
    {
        private static readonly IReadOnlyList<IntentRule> None = [];
        public IReadOnlyList<IntentRule> Rules => None;

        public IntentDecision Evaluate(Endpoint client, Endpoint server, ushort port, byte protocol) => client.Namespace == server.Namespace
            ? new IntentDecision(true, None, "same namespace")
            : new IntentDecision(false, None, "crosses namespaces");
    }

    [Fact]
    public async Task A_map_of_1000_workloads_and_10000_edges_opens_in_a_browser_within_a_generous_bound()
    {
        const int namespaces = 50, perNamespace = 20, edgeCount = 10_000;
        var start = new DateTime(2026, 11, 2, 0, 0, 0, DateTimeKind.Utc);
        var workloads = Enumerable.Range(0, namespaces * perNamespace)
            .Select(i => Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, $"team-{i / perNamespace:00}", $"svc-{i % perNamespace:00}", "Deployment", null,
                [KeyValuePair.Create("app", $"svc-{i % perNamespace:00}")]))).ToArray();
        var random = new Random(5);
        var keys = new HashSet<(int, int, ushort)>();
        var edges = new List<Edge>(edgeCount);
        while (edges.Count < edgeCount)
        {
            int client = random.Next(workloads.Length);
            // Mostly inside the namespace (as services talk), a third across.
            int server = random.Next(3) == 0 ? random.Next(workloads.Length) : client / perNamespace * perNamespace + random.Next(perNamespace);
            var port = (ushort)(8000 + random.Next(4));
            if (client == server || !keys.Add((client, server, port))) continue;
            long flows = 1 + random.Next(5000);
            edges.Add(new Edge(workloads[client], workloads[server], port, 6)
            {
                Flows = flows, AllowedFlows = flows, Bytes = (ulong)flows * 900, FirstSeen = start, LastSeen = start.AddHours(23),
                Days = [DateOnly.FromDateTime(start)], ClientReplicas = 2,
            });
        }
        edges.Sort(EdgeOrder.Compare);
        var window = new AnalysisWindow(start, start.AddDays(1));
        var directory = Path.Combine(_dir, "scale");
        var written = PipelineReport.WriteHtml(directory, new PipelineReportInput
        {
            Title = "FlowPolicy scale test",
            Window = window,
            Edges = edges,
            Slis = SliCalculator.Compute(edges, new SameNamespaceIntent(), window),
        });
        var html = written.Single(p => p.EndsWith("report.html", StringComparison.Ordinal));
        long bytes = new FileInfo(html).Length;

        await using var page = await ChromiumPage.StartAsync(Path.Combine(_dir, "chromium"));
        var clock = Stopwatch.StartNew();
        await page.NavigateAsync(new Uri(html).AbsoluteUri);
        await page.WaitForAsync("document.getElementById('service-map')?.getAttribute('data-map-ready') === '1'", timeoutSeconds: 240);
        double seconds = clock.Elapsed.TotalSeconds;
        var mapMs = await Attribute(page, "data-map-ms");
        Assert.Equal("10000", await Attribute(page, "data-map-edges"));
        Assert.Equal("1000", await Attribute(page, "data-map-nodes"));
        var artifacts = ArtifactsDirectory("service-map");
        await File.WriteAllBytesAsync(Path.Combine(artifacts, "map-10000-edges.png"), await page.ScreenshotAsync());
        var line = string.Create(CultureInfo.InvariantCulture,
            $"1,000 workloads, 10,000 edges: report.html {bytes / 1e6:0.0} MB; map laid out {seconds:0.0} s after navigation (page clock {mapMs} ms); {Environment.ProcessorCount} cores");
        output.WriteLine(line);
        await File.WriteAllTextAsync(Path.Combine(artifacts, "scale.txt"), line + "\n");
        // Generous bounds (docs/report.md states the measured numbers): a shared 2-core CI machine under a full test run.
        Assert.True(bytes < 12_000_000, line);
        Assert.True(seconds < 180, line);
    }
}
