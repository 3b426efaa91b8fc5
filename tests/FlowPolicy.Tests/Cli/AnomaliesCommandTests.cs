using System.Globalization;
using System.Text.Json;

namespace FlowPolicy.Tests.Cli;

public sealed class AnomaliesCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("flowpolicy-anomalies-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Flow(DateTime start, string src, string dst, int srcPort, int dstPort, string verdict) => string.Create(CultureInfo.InvariantCulture,
        $$"""{"start":"{{start:yyyy-MM-ddTHH:mm:ssZ}}","src_ip":"{{src}}","dst_ip":"{{dst}}","src_port":{{srcPort}},"dst_port":{{dstPort}},"proto":"TCP","bytes":500,"packets":2,"verdict":"{{verdict}}","direction":"request"}""");

    [Fact]
    public void Four_weeks_of_steady_flows_then_a_scan_and_a_denied_spike_in_the_last_hour()
    {
        var start = new DateTime(2026, 10, 5, 0, 0, 0, DateTimeKind.Utc);
        var lines = new List<string>();
        int hours = 29 * 24;
        for (int h = 0; h < hours; h++)
            for (int i = 0; i < 12; i++)
                lines.Add(Flow(start.AddHours(h).AddMinutes(i * 5), "10.0.0.1", "10.0.0.2", 40000 + i, 5432, "allowed"));
        var last = start.AddHours(hours - 1);
        for (int i = 0; i < 60; i++) lines.Add(Flow(last.AddSeconds(i * 10), "10.0.0.1", "10.0.0.2", 41000 + i, 5432, "denied"));
        for (int i = 0; i < 40; i++) lines.Add(Flow(last.AddSeconds(i), "10.0.0.9", "10.0.1." + (i + 1), 50000 + i, 22, "denied"));
        var path = Path.Combine(_dir, "flows.jsonl");
        File.WriteAllLines(path, lines);

        var result = CliProcess.Run("anomalies", "--flows", path, "--evaluate", "1", "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var anomalies = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var scan = Assert.Single(anomalies, a => a.GetProperty("kind").GetString() == "scan");
        Assert.Equal("10.0.0.9", scan.GetProperty("subject").GetString());
        Assert.Equal(40, scan.GetProperty("observed").GetDouble());
        Assert.Equal("2026-11-02T23:00:00Z", scan.GetProperty("start").GetString());
        Assert.Equal(5, scan.GetProperty("edges").GetArrayLength());
        var denied = Assert.Single(anomalies, a => a.GetProperty("kind").GetString() == "denied_spike" && a.GetProperty("scope").GetString() == "edge");
        Assert.Equal("10.0.0.1 -> 10.0.0.2:5432/TCP", denied.GetProperty("subject").GetString());
        Assert.Equal(60, denied.GetProperty("observed").GetDouble());
        Assert.Equal("hour_of_week", denied.GetProperty("baseline").GetString());
        Assert.Contains("denied spike of edge 10.0.0.1 -> 10.0.0.2:5432/TCP", denied.GetProperty("explanation").GetString());

        var table = CliProcess.Run("anomalies", "--flows", path, "--evaluate", "1");
        Assert.Equal(0, table.ExitCode);
        Assert.NotEmpty(table.Stdout.Trim());
        Assert.Contains($"{anomalies.Count} anomalies in 2026-11-02 23:00..2026-11-03 00:00 UTC", table.Stderr);
    }

    [Fact]
    public void Bad_input_exits_2_and_says_what_to_do()
    {
        var path = Path.Combine(_dir, "flows.jsonl");
        File.WriteAllText(path, """{"start":"2026-11-02T10:00:00Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","src_port":40000,"dst_port":5432,"proto":"TCP","bytes":100,"packets":2}""" + "\n");
        var hour = CliProcess.Run("anomalies", "--flows", path, "--to", "2026-11-02T10:30:00Z");
        Assert.Equal(2, hour.ExitCode);
        Assert.Contains("not on a whole hour", hour.Stderr);
        var evaluate = CliProcess.Run("anomalies", "--flows", path, "--evaluate", "0");
        Assert.Equal(2, evaluate.ExitCode);
        var missing = CliProcess.Run("anomalies", "--flows", Path.Combine(_dir, "nope.jsonl"));
        Assert.Equal(2, missing.ExitCode);
    }
}
