using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Cli.Commands;
using FlowPolicy.Cli.Serve;
using FlowPolicy.Core.Edges;
using FlowPolicy.Ingest.Embedded;
using FlowPolicy.Suggest.Reports;
using Xunit.Abstractions;

namespace FlowPolicy.IntegrationTests.Serve;

/// <summary>
/// The interactive service map as a browser runs it: headless Chromium opens report.html from disk (no network), the
/// map's script lays out Cytoscape.js and writes what it shows into data-map-* attributes, which must match the edges
/// of the window (noise and plumbing hidden by default, plumbing shown by the toggle); an edge's evidence panel opens;
/// screenshots are kept in TestResults/service-map for a human look.
/// </summary>
public sealed class ServiceMapRenderTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "flowpolicy-map-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task The_map_renders_every_dependency_hides_plumbing_until_asked_and_shows_an_edges_evidence()
    {
        var chromium = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("This test needs Chromium (deploy/local/install-deps.sh installs the Debian package 'chromium').");
        var start = new DateTime(2026, 11, 2, 0, 0, 0, DateTimeKind.Utc);
        var files = SampleCommand.Write(Path.Combine(_dir, "sample"), start, days: 7, seed: 42, rate: 2);
        var edges = new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = files.FlowFiles, InventoryFiles = files.InventoryFiles }).Load().Edges;
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Directory.Build.props"))) root = Path.GetDirectoryName(root)!;
        var intent = PolicyInputs.LoadIntent(Path.Combine(root, "docs", "examples", "sample-policies"));
        var report = await SuggestReportJob.WriteReportAsync(Path.Combine(_dir, "reports", "suggest"), "2026-11-09T00-00-00Z",
            new AnalysisWindow(start, start.AddDays(7)), edges, intent, ["k8s", "json"], SuggestionLayout.Workload, default);
        var html = Path.Combine(report, "report.html");

        // What the map must show, from the edges themselves: noise (scanner, bare-pod) never; plumbing only when asked.
        var suggestions = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(report, "suggestions.json")));
        var noise = suggestions.RootElement.GetProperty("left_out").EnumerateArray()
            .Where(l => l.GetProperty("reason").GetString() is "scanner" or "bare-pod").Select(l => $"{l.GetProperty("src").GetString()} -> {l.GetProperty("dst").GetString()}:{l.GetProperty("port").GetInt32()}/{l.GetProperty("proto").GetString()}")
            .ToHashSet(StringComparer.Ordinal);
        var drawn = edges.Where(e => !noise.Contains(PipelineReport.EdgeKey(e))).ToList();
        var application = drawn.Where(e => !ServiceMap.IsPlumbing(e)).ToList();
        Assert.NotEmpty(noise);
        Assert.True(drawn.Count > application.Count, "the sample has kubelet probes and DNS: plumbing to hide");
        // Bare addresses (the sample's internet clients) are one map node per kind, their edges one per port.
        static string Node(Endpoint e) => ServiceMap.NodeKey(e);
        static int Endpoints(IEnumerable<Edge> es) => es.SelectMany(e => new[] { Node(e.Client), Node(e.Server) }).Distinct().Count();
        static int MapEdges(IEnumerable<Edge> es) => es.Select(e => (Node(e.Client), Node(e.Server), e.Port, e.Protocol)).Distinct().Count();
        Assert.True(MapEdges(drawn) < drawn.Count, "the sample's internet clients are merged");

        var artifacts = Path.Combine(AppContext.BaseDirectory, "TestResults", "service-map");
        Directory.CreateDirectory(artifacts);
        File.Copy(html, Path.Combine(artifacts, "report.html"), overwrite: true);
        var url = new Uri(html).AbsoluteUri;

        var dom = await RunChromiumAsync(chromium, "--dump-dom", url);
        Assert.Equal("1", Attribute(dom, "data-map-ready"));
        Assert.Equal(MapEdges(application).ToString(), Attribute(dom, "data-map-edges"));
        Assert.Equal(Endpoints(application).ToString(), Attribute(dom, "data-map-nodes"));
        Assert.Contains("<canvas", dom); // Cytoscape drew

        var withPlumbing = await RunChromiumAsync(chromium, "--dump-dom", url + "#plumbing");
        Assert.Equal("1", Attribute(withPlumbing, "data-map-plumbing"));
        Assert.Equal(MapEdges(drawn).ToString(), Attribute(withPlumbing, "data-map-edges"));
        Assert.Equal(Endpoints(drawn).ToString(), Attribute(withPlumbing, "data-map-nodes"));

        // Edge 0 of the blob is the busiest drawn edge; its evidence panel names it and shows its flows.
        var busiest = drawn.GroupBy(e => $"{Node(e.Client)} -> {Node(e.Server)}:{e.Port}/{e.ProtocolName}")
            .Select(g => (Key: g.Key, Flows: g.Sum(e => e.Flows))).OrderByDescending(g => g.Flows).ThenBy(g => g.Key, StringComparer.Ordinal).First();
        var evidence = await RunChromiumAsync(chromium, "--dump-dom", url + "#plumbing&edge=0");
        var title = Regex.Match(evidence, "<h3 id=\"smap-edge-title\">([^<]*)</h3>");
        Assert.True(title.Success, "the evidence panel did not open");
        Assert.Equal(System.Net.WebUtility.HtmlEncode(busiest.Key), title.Groups[1].Value);
        Assert.Contains($"<th>flows</th><td>{busiest.Flows:N0}</td>", evidence);
        Assert.Contains("<th>first seen</th>", evidence);

        foreach (var (name, hash) in new[] { ("map.png", ""), ("map-plumbing.png", "#plumbing&edge=0") })
        {
            var png = Path.Combine(artifacts, name);
            File.Delete(png);
            await RunChromiumAsync(chromium, "--screenshot=" + png, url + hash);
            var info = new FileInfo(png);
            Assert.True(info.Exists && info.Length > 20_000, $"screenshot {png} missing or blank ({(info.Exists ? info.Length : 0)} bytes)");
            output.WriteLine($"screenshot: {png}");
        }
    }

    private static string Attribute(string dom, string name)
    {
        var m = Regex.Match(dom, "id=\"service-map\"[^>]*\\s" + name + "=\"([^\"]*)\"");
        if (!m.Success) m = Regex.Match(dom, "\\s" + name + "=\"([^\"]*)\"[^>]*id=\"service-map\"");
        Assert.True(m.Success, $"the map container has no {name} attribute");
        return m.Groups[1].Value;
    }

    private async Task<string> RunChromiumAsync(string chromium, params string[] args)
    {
        var profile = Path.Combine(_dir, "chromium-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(profile);
        var start = new ProcessStartInfo(chromium) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // The virtual time budget lets the page's scripts (layout included) finish before the DOM or pixels are taken.
        foreach (var flag in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile, "--window-size=1400,1300", "--virtual-time-budget=20000" })
            start.ArgumentList.Add(flag);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("Chromium did not finish in 120 s: " + await stderr);
        }
        Assert.True(process.ExitCode == 0, $"chromium exited {process.ExitCode}: {await stderr}");
        return await stdout;
    }
}
