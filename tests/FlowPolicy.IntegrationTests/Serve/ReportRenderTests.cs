using FlowPolicy.Suggest.Reports;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Cli.Commands;
using FlowPolicy.Cli.Serve;
using FlowPolicy.Core.Edges;
using FlowPolicy.Ingest.Embedded;
using FlowPolicy.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace FlowPolicy.IntegrationTests.Serve;

/// <summary>
/// The suggestion report's HTML as a browser shows it: headless Chromium renders it from disk (no network), the
/// rendered DOM has every section with the sample's content, printing swaps the interactive map for the static one,
/// without scripts the static one shows, and a screenshot is kept in the artifacts directory for a human look.
/// </summary>
public sealed class ReportRenderTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "flowpolicy-render-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task The_report_renders_in_Chromium_with_the_numbers_the_map_the_SLIs_and_the_noise_and_prints_the_static_map()
    {
        var start = new DateTime(2026, 11, 2, 0, 0, 0, DateTimeKind.Utc);
        var files = SampleCommand.Write(Path.Combine(_dir, "sample"), start, days: 7, seed: 42, rate: 2);
        var load = new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = files.FlowFiles, InventoryFiles = files.InventoryFiles }).Load();
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Directory.Build.props"))) root = Path.GetDirectoryName(root)!;
        var intent = PolicyInputs.LoadIntent(Path.Combine(root, "docs", "examples", "sample-policies"));
        var report = await SuggestReport.WriteAsync(Path.Combine(_dir, "reports", "suggest"), "2026-11-09T00-00-00Z",
            new AnalysisWindow(start, start.AddDays(7)), load.Edges, intent, ["k8s"], FlowPolicy.Suggest.Reports.SuggestionLayout.Workload, default, counts: load.Counts);
        var html = Path.Combine(report, "report.html");
        var artifacts = ServiceMapRenderTests.ArtifactsDirectory("serve-report");
        File.Copy(html, Path.Combine(artifacts, "report.html"), overwrite: true);

        await using var page = await ChromiumPage.StartAsync(Path.Combine(_dir, "chromium"), height: 2000);
        await page.NavigateAsync(new Uri(html).AbsoluteUri);
        await page.WaitForAsync("document.readyState === 'complete' && document.getElementById('service-map')?.getAttribute('data-map-ready') === '1'");
        var dom = (await page.EvaluateAsync("document.documentElement.outerHTML"))!.GetValue<string>();
        var screenshot = Path.Combine(artifacts, "report.png");
        await File.WriteAllBytesAsync(screenshot, await page.ScreenshotAsync());
        output.WriteLine($"screenshot: {screenshot}");

        foreach (var section in new[] { "What the numbers mean", "Service map", "SLIs per service", "New edges since the last report", "Suggested rule changes",
                     "Rare and periodic dependencies (kept)", "Stale rules", "Top denied flows", "Noise left out" })
            Assert.Contains($"<h2>{section}</h2>", dom, StringComparison.Ordinal);
        Assert.Matches("<h2>Unintended edges \\(\\d+\\)</h2>", dom);
        Assert.Contains("<svg", dom, StringComparison.Ordinal);
        Assert.Contains("shop/frontend", dom, StringComparison.Ordinal);       // a service row and map node
        Assert.Contains("batch/weekly-report", dom, StringComparison.Ordinal);  // the Sunday CronJob: a periodic dependency, kept
        Assert.Contains(">scanner<", dom, StringComparison.Ordinal);            // noise, with its reason
        Assert.Contains("startup-only", dom, StringComparison.Ordinal);         // the licence check, kept and flagged
        Assert.True(new FileInfo(screenshot).Length > 20_000, $"screenshot {screenshot} blank");

        // The L7 section: the sample's gRPC calls with their evidence, the SLIs per operation, the names the shop reaches.
        Assert.Contains("<h2>L7 surface and external names</h2>", dom, StringComparison.Ordinal);
        Assert.Contains("<code>shop/catalog</code> serves", dom, StringComparison.Ordinal);
        Assert.Contains("<code>POST /hipstershop.ProductCatalogService/ListProducts</code> from <code>shop/frontend</code>", dom, StringComparison.Ordinal);
        Assert.Contains("<code>shop/payment</code> reaches by name", dom, StringComparison.Ordinal);
        Assert.Contains("<code>api.payments.example.com</code>", dom, StringComparison.Ordinal);
        Assert.True((await page.EvaluateAsync("document.querySelectorAll('table.l7-slis tbody tr').length"))!.GetValue<int>() >= 3);
        var l7Visible = (await page.EvaluateAsync("(() => { const h = [...document.querySelectorAll('h2')].find(e => e.textContent === 'L7 surface and external names'); const r = h.parentElement.getBoundingClientRect(); return r.height > 50 && getComputedStyle(h.parentElement).display !== 'none'; })()"))!.GetValue<bool>();
        Assert.True(l7Visible, "the L7 section has no height or is hidden");
        // report.md says the same: its section names the same operations.
        var markdown = await File.ReadAllTextAsync(Path.Combine(report, "report.md"));
        Assert.Contains("`POST /hipstershop.ProductCatalogService/ListProducts` from `shop/frontend`", markdown, StringComparison.Ordinal);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(markdown, "#+ L7 surface and external names"));

        // With the map running the static picture is folded away; printed, the interactive map gives way to it.
        Assert.False((await page.EvaluateAsync("document.querySelector('details.map-static').open"))!.GetValue<bool>());
        await page.SendAsync("Emulation.setEmulatedMedia", new System.Text.Json.Nodes.JsonObject { ["media"] = "print" });
        Assert.Equal("none", (await page.EvaluateAsync("getComputedStyle(document.getElementById('service-map')).display"))!.GetValue<string>());
        Assert.Equal("block", (await page.EvaluateAsync("getComputedStyle(document.querySelector('details.map-static')).display"))!.GetValue<string>());

        // Without scripts (a locked-down mail viewer, say) the static map is open and the empty map box hidden.
        await using var noScript = await ChromiumPage.StartAsync(Path.Combine(_dir, "chromium-noscript"));
        await noScript.SendAsync("Emulation.setScriptExecutionDisabled", new System.Text.Json.Nodes.JsonObject { ["value"] = true });
        await noScript.NavigateAsync(new Uri(html).AbsoluteUri);
        await noScript.WaitForAsync("document.readyState === 'complete' && document.querySelector('details.map-static') !== null");
        Assert.True((await noScript.EvaluateAsync("document.querySelector('details.map-static').open"))!.GetValue<bool>());
        Assert.Equal("none", (await noScript.EvaluateAsync("getComputedStyle(document.getElementById('service-map')).display"))!.GetValue<string>());
    }
}
