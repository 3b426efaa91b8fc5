using System.CommandLine;
using System.Text.Json;
using FlowPolicy.Cli.Commands;
using FlowPolicy.Tests.Cli;

namespace FlowPolicy.Tests.Analytics;

public sealed class AnalyzeCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "flowpolicy-analyze-" + Guid.NewGuid().ToString("N"));

    public AnalyzeCommandTests()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "intent"));
        // Two requests frontend -> cart:7070 (one denied by the network), one debug -> cart:22; canonical JSON.
        File.WriteAllLines(Path.Combine(_dir, "flows.jsonl"),
        [
            Flow("2026-11-02T10:00:00Z", "10.244.1.7", "frontend", "10.244.2.9", "cart", 7070, "allowed", 1000),
            Flow("2026-11-02T10:30:00Z", "10.244.1.7", "frontend", "10.244.2.9", "cart", 7070, "denied", 3000),
            Flow("2026-11-02T10:59:00Z", "10.244.1.8", "debug", "10.244.2.9", "cart", 22, "allowed", 6000),
        ]);
    }

    private static string Flow(string start, string srcIp, string src, string dstIp, string dst, int port, string verdict, int bytes) =>
        $$$"""{"start":"{{{start}}}","src_ip":"{{{srcIp}}}","dst_ip":"{{{dstIp}}}","src_port":40000,"dst_port":{{{port}}},"proto":"TCP","bytes":{{{bytes}}},"packets":4,"verdict":"{{{verdict}}}","direction":"request","src":{"namespace":"shop","workload":"{{{src}}}","pod":"{{{src}}}-1"},"dst":{"namespace":"shop","workload":"{{{dst}}}","pod":"{{{dst}}}-1"}}""";

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Policy_files_in_intent_drive_the_compliance_rate()
    {
        // The intent allows frontend -> cart:7070 only: 2 of 3 flows comply, the debug -> cart:22 edge is drift.
        File.WriteAllText(Path.Combine(_dir, "intent", "shop.yaml"), """
            apiVersion: flowpolicy.dev/v1
            kind: FlowPolicy
            metadata: {name: shop-baseline}
            spec:
              appliesTo: {namespace: shop}
              rules:
                - name: frontend-to-cart
                  from: {namespace: shop, workload: frontend}
                  to: {namespace: shop, workload: cart}
                  ports: [{port: 7070, protocol: TCP}]
            """);
        var outDir = Path.Combine(_dir, "out");
        var result = CliProcess.Run("analyze", "--flows", Path.Combine(_dir, "flows.jsonl"), "--intent", Path.Combine(_dir, "intent"), "--out", outDir, "--no-svg");
        Assert.True(result.ExitCode == 0, result.Stderr);
        using var slis = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "slis.json")));
        Assert.Equal(2 / 3.0, slis.RootElement.GetProperty("compliance_rate").GetDouble(), 12);
        var unintended = Assert.Single(slis.RootElement.GetProperty("drift").GetProperty("unintended_edges").EnumerateArray());
        Assert.Equal("shop/debug", unintended.GetProperty("src").GetString());
    }

    [Fact]
    public void Broken_policy_files_are_a_usage_error_naming_the_file()
    {
        File.WriteAllText(Path.Combine(_dir, "intent", "bad.yaml"), "apiVersion: flowpolicy.dev/v1\nkind: FlowPolicy\nmetadata: {name: x}\nspec:\n  rules: [ {name: r, from: {cidr: nonsense}} ]\n");
        var result = CliProcess.Run("analyze", "--flows", Path.Combine(_dir, "flows.jsonl"), "--intent", Path.Combine(_dir, "intent"), "--out", Path.Combine(_dir, "out"));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("bad.yaml", result.Stderr);
        Assert.False(File.Exists(Path.Combine(_dir, "out", "slis.json")));
    }

    [Fact]
    public void Flows_and_clickhouse_together_are_a_usage_error()
    {
        var result = CliProcess.Run("analyze", "--flows", Path.Combine(_dir, "flows.jsonl"), "--clickhouse", "http://127.0.0.1:1", "--intent", _dir);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("either --flows", result.Stderr);
    }

    [Fact]
    public void Help_has_examples()
    {
        var result = CliProcess.Run("analyze", "--help");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Examples:", result.Stdout);
    }

    [Fact]
    public async Task Embedded_analysis_writes_slis_graph_json_and_svg_with_the_window_of_the_flows()
    {
        string? loadedFrom = null;
        var command = AnalyzeCommand.Create(dir =>
        {
            loadedFrom = dir;
            return new TestIntent().Allow("shop/frontend", "shop/cart", 7070, "frontend-to-cart").Allow("shop/checkout", "shop/cart", 7070, "checkout-to-cart");
        });
        var root = new RootCommand { command };
        var outDir = Path.Combine(_dir, "out");
        int exit = await root.Parse(["analyze", "--flows", Path.Combine(_dir, "flows.jsonl"), "--intent", Path.Combine(_dir, "intent"), "--out", outDir]).InvokeAsync();

        Assert.Equal(0, exit);
        Assert.Equal(Path.Combine(_dir, "intent"), loadedFrom);
        using var slis = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "slis.json")));
        var root2 = slis.RootElement;
        Assert.Equal("2026-11-02T10:00:00Z", root2.GetProperty("window").GetProperty("from").GetString());
        Assert.Equal("2026-11-02T10:59:00Z", root2.GetProperty("window").GetProperty("to").GetString());
        Assert.Equal(3, root2.GetProperty("flows_total").GetInt64());
        Assert.Equal(2 / 3.0, root2.GetProperty("compliance_rate").GetDouble());
        Assert.Equal(4000 / 10000.0, root2.GetProperty("bytes_compliance_rate").GetDouble());
        Assert.Equal(1 / 59.0, root2.GetProperty("denied_flows_per_minute").GetDouble(), 12);
        var drift = root2.GetProperty("drift");
        var unintended = Assert.Single(drift.GetProperty("unintended_edges").EnumerateArray());
        Assert.Equal(("shop/debug", "shop/cart", 22, "TCP"),
            (unintended.GetProperty("src").GetString(), unintended.GetProperty("dst").GetString(), unintended.GetProperty("port").GetInt32(), unintended.GetProperty("proto").GetString()));
        var stale = Assert.Single(drift.GetProperty("stale_rules").EnumerateArray());
        Assert.Equal("test/checkout-to-cart", stale.GetProperty("policy").GetString());
        Assert.Equal(["allowed/denied", "denied/allowed"], // edge order: shop/debug before shop/frontend
            drift.GetProperty("verdict_mismatches").EnumerateArray().Select(m => m.GetProperty("observed").GetString() + "/" + m.GetProperty("intended").GetString()));
        Assert.Equal(1, root2.GetProperty("blast_radius").GetProperty("shop/frontend").GetProperty("intended").GetInt32());
        Assert.Equal(1, root2.GetProperty("blast_radius").GetProperty("shop/debug").GetProperty("observed").GetInt32());
        Assert.Equal(0, root2.GetProperty("blast_radius").GetProperty("shop/debug").GetProperty("intended").GetInt32());
        Assert.Equal(3, root2.GetProperty("per_service").GetProperty("shop/cart").GetProperty("flows").GetInt64());
        Assert.True(File.Exists(Path.Combine(outDir, "graph.json")));
        Assert.Contains("<svg", File.ReadAllText(Path.Combine(outDir, "graph.svg")));
    }
}
