using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using FlowPolicy.Analytics.Baseline;
using FlowPolicy.Ingest.Embedded;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Cli.Commands;
using FlowPolicy.Core.Edges;
using FlowPolicy.Tests.Cli;

namespace FlowPolicy.Tests.Serve;

/// <summary>
/// report.html explains every number where it shows it (docs/report.md): the counts of "What the numbers mean" are the
/// counts of the data, the unintended edges are listed with their evidence and a fix, one-off runs compare with the
/// previous run's report.json, and `analyze --out` writes the page too.
/// </summary>
public sealed class ReportNumbersTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "flowpolicy-numbers-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    /// <summary>The rows of "What the numbers mean" by label: (value, meaning).</summary>
    private static Dictionary<string, (string Value, string Meaning)> Numbers(string html)
    {
        var table = Regex.Match(html, "<table class=\"numbers\">(.*?)</table>", RegexOptions.Singleline);
        Assert.True(table.Success, "report.html has no numbers table");
        var rows = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
        foreach (Match m in Regex.Matches(table.Groups[1].Value, "<tr class=\"d\\d\"><td>(.*?)</td><td class=\"n\">(.*?)</td><td class=\"meaning\">(.*?)</td></tr>"))
            rows[WebUtility.HtmlDecode(Regex.Replace(m.Groups[1].Value, "<[^>]+>", ""))] = (WebUtility.HtmlDecode(m.Groups[2].Value), WebUtility.HtmlDecode(m.Groups[3].Value));
        return rows;
    }

    private static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private (FlowPolicy.Cli.Sample.SampleFiles Files, FileEdgeLoad Load) Sample()
    {
        var files = SampleCommand.Write(Path.Combine(_dir, "sample"), SampleCommand.DefaultStart, days: 2, seed: 7, rate: 1);
        var load = new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = files.FlowFiles, InventoryFiles = files.InventoryFiles }).Load();
        return (files, load);
    }

    private static string[] Args(string command, FlowPolicy.Cli.Sample.SampleFiles files, string output, params string[] more) =>
        [command, "--flows", .. files.FlowFiles, "--inventory", .. files.InventoryFiles,
            "--intent", Path.Combine(CliProcess.RepositoryRoot(), "docs", "examples", "sample-policies"), "--out", output, .. more];

    [Fact]
    public void Suggest_explains_records_replies_flows_edges_and_noise_and_lists_every_unintended_edge()
    {
        var (files, load) = Sample();
        var output = Path.Combine(_dir, "out");
        var run = CliProcess.Run(Args("suggest", files, output));
        Assert.True(run.ExitCode == 0, run.Stderr);
        var html = File.ReadAllText(Path.Combine(output, "report.html"));
        var numbers = Numbers(html);

        // Records read - replies folded = flows: the flow count is explained by the records, not next to them.
        long flows = load.Edges.Sum(e => e.Flows);
        Assert.True(load.RepliesFolded > 0 && load.Records > flows, "the sample has replies");
        Assert.Equal(N(load.Records), numbers["records read"].Value);
        Assert.Equal("− " + N(load.RepliesFolded), numbers["replies folded"].Value);
        Assert.Equal(N(flows), numbers["flows"].Value);
        Assert.Equal(load.Records - load.OutsideWindow - load.RepliesFolded, flows);
        Assert.Contains($"{N(load.Records)} read − {N(load.RepliesFolded)} replies", numbers["flows"].Meaning);
        Assert.Equal(N(load.Edges.Count), numbers["edges"].Value);

        // Left out, by reason, as suggestions.json lists them; the blocked count is theirs.
        using var suggestions = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output, "suggestions.json")));
        var leftOut = suggestions.RootElement.GetProperty("left_out").EnumerateArray().GroupBy(l => l.GetProperty("reason").GetString()!).ToList();
        Assert.NotEmpty(leftOut);
        foreach (var reason in leftOut)
        {
            Assert.StartsWith(reason.Count() == 1 ? "1 edge," : $"{N(reason.Count())} edges,", numbers[reason.Key].Value);
            Assert.Equal(Enum.GetValues<LeaveOutReason>().Single(r => r.Name() == reason.Key).Description(), numbers[reason.Key].Meaning);
        }
        int leftOutEdges = leftOut.Sum(g => g.Count());
        Assert.StartsWith($"{N(leftOutEdges)} edges,", numbers["blocked by the candidate policy"].Value);

        // Every unintended edge is listed with its evidence and a fix; the count shown is the SLIs' count.
        var intent = PolicyInputs.LoadIntent(Path.Combine(CliProcess.RepositoryRoot(), "docs", "examples", "sample-policies"));
        var slis = SliCalculator.Compute(load.Edges, intent, AnalysisWindow.Spanning(load.Edges));
        Assert.NotEmpty(slis.UnintendedEdges);
        Assert.StartsWith($"{N(slis.UnintendedEdges.Count)} edges,", numbers["unintended"].Value);
        var section = Regex.Match(html, "<section id=\"unintended\">(.*?)</section>", RegexOptions.Singleline).Groups[1].Value;
        Assert.Contains($"<h2>Unintended edges ({slis.UnintendedEdges.Count})</h2>", section);
        Assert.Equal(slis.UnintendedEdges.Count, Regex.Matches(section, "<tr(?: class=\"breaks\")?><td>").Count);
        foreach (var u in slis.UnintendedEdges)
            Assert.Contains($"<td>{WebUtility.HtmlEncode(u.Edge.Client.Key)}</td><td>{WebUtility.HtmlEncode(u.Edge.Server.Key)}</td><td>{u.Edge.Port}/{u.Edge.ProtocolName}</td><td class=\"n\">{N(u.Edge.Flows)}</td>", section);
        Assert.Contains("The candidate policy blocks it as noise (scanner", section); // the sample's scanner probes are unintended and noise

        using var report = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output, "report.json")));
        Assert.Equal(load.Records, report.RootElement.GetProperty("records").GetProperty("read").GetInt64());
        Assert.Equal(slis.UnintendedEdges.Count, report.RootElement.GetProperty("unintended").GetArrayLength());
    }

    [Fact]
    public void A_second_suggest_into_the_same_directory_marks_the_edges_the_first_did_not_see_as_new()
    {
        var (files, load) = Sample();
        var output = Path.Combine(_dir, "out");
        var first = CliProcess.Run(Args("suggest", files, output, "--from", "2026-11-02T00:00:00Z", "--to", "2026-11-02T06:00:00Z"));
        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.Contains("first report", File.ReadAllText(Path.Combine(output, "report.html")));
        var seen = PipelineReportKeys(output);

        var second = CliProcess.Run(Args("suggest", files, output));
        Assert.True(second.ExitCode == 0, second.Stderr);
        var html = File.ReadAllText(Path.Combine(output, "report.html"));
        Assert.Contains("compared with the run of ", html);
        var expected = load.Edges.Select(FlowPolicy.Suggest.Reports.PipelineReport.EdgeKey).Where(k => !seen.Contains(k)).ToList();
        Assert.NotEmpty(expected);
        Assert.Equal(N(expected.Count), Numbers(html)["new since the last report"].Value);
        using var report = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output, "report.json")));
        Assert.Equal(expected.Order(StringComparer.Ordinal), report.RootElement.GetProperty("new_edges").EnumerateArray().Select(e => e.GetString()!).Order(StringComparer.Ordinal));
    }

    private static HashSet<string> PipelineReportKeys(string directory) =>
        FlowPolicy.Suggest.Reports.PipelineReport.ReadEdgeKeys(Path.Combine(directory, "report.json")) ?? throw new InvalidOperationException("no report.json");

    [Fact]
    public void Analyze_writes_report_html_with_the_slis_the_map_and_the_unintended_edges()
    {
        var (files, load) = Sample();
        var output = Path.Combine(_dir, "analysis");
        var run = CliProcess.Run(Args("analyze", files, output, "--no-svg"));
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains(Path.Combine(output, "report.html"), run.Stdout);
        var html = File.ReadAllText(Path.Combine(output, "report.html"));
        Assert.Contains("<h2>SLIs per service</h2>", html);
        Assert.Contains("<section id=\"unintended\">", html);
        Assert.Contains("id=\"smap-data\"", html);
        Assert.DoesNotContain("<h2>Suggested rule changes</h2>", html); // analyze suggests nothing
        var numbers = Numbers(html);
        Assert.Equal(N(load.Records), numbers["records read"].Value);
        Assert.Equal(N(load.Edges.Sum(e => e.Flows)), numbers["flows"].Value);
        Assert.Contains("left out as noise", numbers.Keys); // the classifier's noise, so the map hides the scanner
        Assert.Contains("scanner", numbers.Keys);
    }
}
