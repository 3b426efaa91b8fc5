using System.Diagnostics;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Cli.Commands;
using FlowPolicy.Cli.Serve;
using FlowPolicy.Core.Edges;
using FlowPolicy.Ingest.Embedded;
using Xunit.Abstractions;

namespace FlowPolicy.IntegrationTests.Serve;

/// <summary>
/// The suggestion report's HTML as a browser shows it: headless Chromium renders it (no network, no scripts), the
/// rendered DOM has every section with the sample's content, and a screenshot is kept in TestResults for a human look.
/// </summary>
public sealed class ReportRenderTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "flowpolicy-render-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task The_report_renders_in_Chromium_with_the_map_the_SLIs_and_the_noise()
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
            new AnalysisWindow(start, start.AddDays(7)), edges, intent, ["k8s"], FlowPolicy.Suggest.Reports.SuggestionLayout.Workload, default);
        var html = Path.Combine(report, "report.html");

        var artifacts = Path.Combine(AppContext.BaseDirectory, "TestResults", "serve-report");
        Directory.CreateDirectory(artifacts);
        var screenshot = Path.Combine(artifacts, "report.png");
        File.Delete(screenshot);
        File.Copy(html, Path.Combine(artifacts, "report.html"), overwrite: true);

        var dom = await RunChromiumAsync(chromium, "--dump-dom", "file://" + html);
        await RunChromiumAsync(chromium, "--screenshot=" + screenshot, "file://" + html);
        output.WriteLine($"screenshot: {screenshot}");

        foreach (var section in new[] { "Service map", "SLIs per service", "New edges since the last report", "Suggested rule changes",
                     "Rare and periodic dependencies (kept)", "Stale rules", "Top denied flows", "Noise left out" })
            Assert.Contains($"<h2>{section}</h2>", dom);
        Assert.Contains("<svg", dom);
        Assert.Contains("shop/frontend", dom);       // a service row and map node
        Assert.Contains("batch/weekly-report", dom);  // the Sunday CronJob: a periodic dependency, kept
        Assert.Contains(">scanner<", dom);            // noise, with its reason
        Assert.Contains("startup-only", dom);         // the licence check, kept and flagged
        var png = new FileInfo(screenshot);
        Assert.True(png.Exists && png.Length > 20_000, $"screenshot {screenshot} missing or blank ({(png.Exists ? png.Length : 0)} bytes)");
    }

    private async Task<string> RunChromiumAsync(string chromium, params string[] args)
    {
        var profile = Path.Combine(_dir, "chromium-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(profile);
        var start = new ProcessStartInfo(chromium) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var flag in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile, "--window-size=1400,2000" })
            start.ArgumentList.Add(flag);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("Chromium did not finish in 90 s: " + await stderr);
        }
        Assert.True(process.ExitCode == 0, $"chromium exited {process.ExitCode}: {await stderr}");
        return await stdout;
    }
}
