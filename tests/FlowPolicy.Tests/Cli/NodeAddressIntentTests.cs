using System.Text.Json;

namespace FlowPolicy.Tests.Cli;

/// <summary>
/// An ipBlock of a node's address (how suggest writes egress to the API server) matches the <c>node:NAME</c> endpoint
/// the inventory's Node objects turn that address into, in `analyze` as in `check`: otherwise the API server traffic the
/// intent allows is reported as unintended drift.
/// </summary>
public sealed class NodeAddressIntentTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("flowpolicy-nodeaddr-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (string Flows, string Inventory, string Intent) Write()
    {
        var inventory = Path.Combine(_dir, "nodes.json");
        File.WriteAllText(inventory, """
            {"apiVersion": "v1", "kind": "List", "items": [
              {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "cp-1"}, "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.10"}]}}
            ]}
            """);
        var flows = Path.Combine(_dir, "flows.jsonl");
        File.WriteAllLines(flows, Enumerable.Range(0, 5).Select(i =>
            """{"start":"2026-11-02T10:0#:00.000Z","end":"2026-11-02T10:0#:01.000Z","src_ip":"10.244.0.18","src_port":4037#,"dst_ip":"10.0.0.10","dst_port":6443,"proto":"TCP","bytes":900,"packets":3,"verdict":"allowed","direction":"request","src":{"kind":"pod","namespace":"shop","workload":"operator","workload_kind":"Deployment","pod":"operator-5f7d8c9b6d-x2x2x","labels":{"app":"operator"}}}""".Replace("#", i.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)));
        var intent = Path.Combine(_dir, "intent");
        Directory.CreateDirectory(intent);
        File.WriteAllText(Path.Combine(intent, "operator.yaml"), """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: operator, namespace: shop}
            spec:
              podSelector: {matchLabels: {app: operator}}
              policyTypes: [Egress]
              egress:
                - to: [{ipBlock: {cidr: 10.0.0.10/32}}]
                  ports: [{port: 6443, protocol: TCP}]
            """);
        return (flows, inventory, intent);
    }

    [Fact]
    public void Analyze_counts_traffic_to_a_node_address_the_intent_allows_by_ipBlock_as_intended()
    {
        var (flows, inventory, intent) = Write();
        var output = Path.Combine(_dir, "out");
        var run = CliProcess.Run(["analyze", "--flows", flows, "--inventory", inventory, "--intent", intent, "--out", output, "--no-svg"]);
        Assert.True(run.ExitCode == 0, run.Stderr);
        using var slis = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "slis.json")));
        Assert.Equal(1.0, slis.RootElement.GetProperty("compliance_rate").GetDouble());
        Assert.Empty(slis.RootElement.GetProperty("drift").GetProperty("unintended_edges").EnumerateArray());

        var check = CliProcess.Run(["check", "--policies", intent, "--flows", flows, "--inventory", inventory]);
        Assert.True(check.ExitCode == 0, check.Stderr);
    }
}
