using System.Text.RegularExpressions;
using FlowPolicy.IntegrationTests.Ingest;

namespace FlowPolicy.IntegrationTests.Serve;

/// <summary>The README's first command: the whole pipeline on the sample, servers started and stopped by the command.</summary>
public sealed class DemoCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "flowpolicy-demo-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Demo_recovers_the_generated_graph_through_Kafka_and_ClickHouse_writes_the_report_and_cleans_up()
    {
        var result = IngestTestData.RunCli("demo", "--out", _dir);
        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        var recovered = Regex.Match(result.Stdout, @"Recovered (\d+) of the (\d+) dependencies the sample was generated from; 0 edges not in it");
        Assert.True(recovered.Success, result.Stdout);
        Assert.Equal(recovered.Groups[2].Value, recovered.Groups[1].Value);
        Assert.Equal(File.ReadAllLines(Path.Combine(_dir, "sample", "expected-edges.txt")).Length.ToString(), recovered.Groups[2].Value);
        // Every stage reported progress, and the flows came through Kafka and ingest.
        for (int step = 1; step <= 7; step++) Assert.Contains($"[{step}/7", result.Stderr);
        Assert.Matches(@"\d+ flows, [1-9]\d* L7 observations and 0 dead letters stored", result.Stderr);
        // The L7 facts came back from flows_l7 and became rules: the sample's gRPC calls and its payment provider by name.
        var l7 = Regex.Match(result.Stdout, @"L7: .* -> ([1-9]\d*) Cilium L7 \(HTTP/Kafka\) rules, ([1-9]\d*) toFQDNs rules \(([^)]*)\)");
        Assert.True(l7.Success, result.Stdout);
        Assert.Contains("api.payments.example.com", l7.Groups[3].Value);

        var report = Regex.Match(result.Stdout, @"Report:\s+(\S+report\.html)").Groups[1].Value;
        Assert.True(File.Exists(report), result.Stdout);
        var folder = Path.GetDirectoryName(report)!;
        foreach (var format in new[] { "k8s", "cilium", "istio", "calico" }) Assert.True(Directory.Exists(Path.Combine(folder, format)), format);
        Assert.Contains("<svg", File.ReadAllText(report)); // the SLIs and the map: the sample policies were found
        var payment = File.ReadAllText(Path.Combine(folder, "cilium", "shop", "payment.yaml"));
        Assert.Contains("toFQDNs:", payment);
        Assert.Contains("matchName: api.payments.example.com", payment);
        Assert.Contains("path: \"^/hipstershop\\\\.PaymentService/Charge(\\\\?.*)?$\"", payment);

        // The private ClickHouse is gone with its data.
        var data = Regex.Match(result.Stderr, @"data in (\S+)\)").Groups[1].Value;
        Assert.NotEmpty(data);
        Assert.False(Directory.Exists(data), $"{data} left behind");
    }
}
