using System.Text.Json;
using YamlDotNet.RepresentationModel;

namespace FlowPolicy.Tests.Cli;

/// <summary>
/// `check` judges Cilium policies' L3/L4 rules: suggest's Cilium output for the built-in sample passes on the flows it
/// came from with the same verdict per edge as its Kubernetes output, and loses an edge when one of its rules goes.
/// </summary>
public sealed class CiliumCheckTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("flowpolicy-cilium-check-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Suggested_cilium_policies_pass_like_the_kubernetes_ones_and_removing_a_rule_blocks_its_edge()
    {
        var run = SuggestedSample.Create(_dir, "--emit", "k8s,cilium");
        var output = run.Output;
        JsonElement Check(string policies, int exitCode) => run.Check(policies, exitCode);
        static SortedSet<string> DeniedEdges(JsonElement root) => SuggestedSample.DeniedEdges(root);

        var cilium = Check(Path.Combine(output, "cilium"), 0);
        var k8s = Check(Path.Combine(output, "k8s"), 0);
        Assert.Equal(0, cilium.GetProperty("summary").GetProperty("network_policies").GetInt32());
        Assert.True(cilium.GetProperty("summary").GetProperty("cilium_policies").GetInt32() > 10);
        // The Cilium policies isolate: the scanner's probes are denied by them, as by the NetworkPolicies.
        var denied = DeniedEdges(cilium);
        Assert.Contains(denied, e => e.StartsWith("already_denied: 10.0.9.99 -> ", StringComparison.Ordinal));
        Assert.Equal(DeniedEdges(k8s), denied);
        foreach (var field in new[] { "baseline_edges", "blocked_edges", "blocked_noise_edges", "already_denied_edges", "unused_rules" })
            Assert.Equal(k8s.GetProperty("summary").GetProperty(field).GetInt32(), cilium.GetProperty("summary").GetProperty(field).GetInt32());
        Assert.Contains(cilium.GetProperty("rule_hits").EnumerateArray(), h =>
            h.GetProperty("policy").GetString() == "shop/payment" && h.GetProperty("kind").GetString() == "CiliumNetworkPolicy" && h.GetProperty("flows").GetInt64() > 0);

        // With --l7, payment reaches its provider by name only (toFQDNs, no CIDR): the edge's DNS names allow it.
        var withL7 = Path.Combine(_dir, "suggested-l7");
        run.Suggest(withL7, "--emit", "cilium", "--l7");
        var paymentL7 = File.ReadAllText(Path.Combine(withL7, "cilium", "shop", "payment.yaml"));
        Assert.Contains("toFQDNs", paymentL7, StringComparison.Ordinal);
        Assert.DoesNotContain("toCIDR", paymentL7, StringComparison.Ordinal);
        var byName = Check(Path.Combine(withL7, "cilium"), 0);
        Assert.Equal(denied, DeniedEdges(byName));

        // Remove checkout's ingress rule from payment's policy: exactly that edge is blocked, with a reason naming the policy.
        var file = Path.Combine(output, "cilium", "shop", "payment.yaml");
        var stream = new YamlStream();
        using (var reader = new StreamReader(file)) stream.Load(reader);
        var spec = (YamlMappingNode)((YamlMappingNode)stream.Documents[0].RootNode)["spec"];
        var ingress = (YamlSequenceNode)spec["ingress"];
        var fromCheckout = ingress.Children.Single(rule => rule.ToString().Contains("checkout", StringComparison.Ordinal));
        ingress.Children.Remove(fromCheckout);
        using (var writer = new StreamWriter(file)) stream.Save(writer, assignAnchors: false);

        var failed = Check(Path.Combine(output, "cilium"), 1);
        var blocked = Assert.Single(failed.GetProperty("blocked").EnumerateArray());
        Assert.Equal("shop/checkout", blocked.GetProperty("src").GetString());
        Assert.Equal("shop/payment", blocked.GetProperty("dst").GetString());
        Assert.Equal(50051, blocked.GetProperty("port").GetInt32());
        Assert.Contains("CiliumNetworkPolicy shop/payment", blocked.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.False(failed.GetProperty("summary").GetProperty("passed").GetBoolean());
    }
}
