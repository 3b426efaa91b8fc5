using System.Text.Json;
using YamlDotNet.RepresentationModel;

namespace FlowPolicy.Tests.Cli;

/// <summary>
/// `check` judges Istio AuthorizationPolicies' sources and ports at the servers' sidecars: suggest's Istio output for
/// the built-in sample (whose leases and Hubble labels name service accounts) passes on the flows it came from with the
/// same denied edges as its Kubernetes output (the sample's denials are ingress to TCP servers, where Istio judges),
/// and loses exactly the edge whose ALLOW rule goes.
/// </summary>
public sealed class IstioCheckTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("flowpolicy-istio-check-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Suggested_istio_policies_pass_like_the_kubernetes_ones_and_removing_an_allow_rule_blocks_its_edge()
    {
        var run = SuggestedSample.Create(_dir, "--emit", "k8s,istio");
        var output = run.Output;
        JsonElement Check(string policies, int exitCode) => run.Check(policies, exitCode);
        static SortedSet<string> DeniedEdges(JsonElement root) => SuggestedSample.DeniedEdges(root);

        var istio = Check(Path.Combine(output, "istio"), 0);
        var k8s = Check(Path.Combine(output, "k8s"), 0);
        Assert.Equal(0, istio.GetProperty("summary").GetProperty("network_policies").GetInt32());
        Assert.True(istio.GetProperty("summary").GetProperty("istio_policies").GetInt32() > 5);
        // The Istio policies isolate: the scanner's probes and the debug pod are denied by them, as by the NetworkPolicies.
        var denied = DeniedEdges(istio);
        Assert.Contains(denied, e => e.StartsWith("already_denied: 10.0.9.99 -> ", StringComparison.Ordinal));
        Assert.Contains(denied, e => e.StartsWith("blocked_noise: shop/debug-shell -> ", StringComparison.Ordinal));
        Assert.Equal(DeniedEdges(k8s), denied);
        // Every suggested ALLOW rule is used (principals matched by the clients' service accounts).
        Assert.Equal(0, istio.GetProperty("summary").GetProperty("unused_rules").GetInt32());
        Assert.Contains(istio.GetProperty("rule_hits").EnumerateArray(), h =>
            h.GetProperty("policy").GetString() == "shop/payment" && h.GetProperty("rule").GetString() == "rules[0]"
            && h.GetProperty("kind").GetString() == "AuthorizationPolicy" && h.GetProperty("flows").GetInt64() > 0);

        // With --l7 the rules of HTTP/gRPC edges also name methods and paths: at L3/L4 they allow their ports (the
        // requests are the L7 judge's), so the verdicts stay the same and the L7 check passes too.
        var withL7 = Path.Combine(_dir, "suggested-l7");
        run.Suggest(withL7, "--emit", "istio", "--l7");
        Assert.Contains("paths:", File.ReadAllText(Path.Combine(withL7, "istio", "shop", "payment.yaml")), StringComparison.Ordinal);
        Assert.Equal(denied, DeniedEdges(Check(Path.Combine(withL7, "istio"), 0)));

        // Remove checkout's rule from payment's policy: exactly that edge is blocked, with a reason naming the policy.
        var file = Path.Combine(output, "istio", "shop", "payment.yaml");
        var stream = new YamlStream();
        using (var reader = new StreamReader(file)) stream.Load(reader);
        var spec = (YamlMappingNode)((YamlMappingNode)stream.Documents[0].RootNode)["spec"];
        var rules = (YamlSequenceNode)spec["rules"];
        rules.Children.Remove(rules.Children.Single(rule => rule.ToString().Contains("sa/checkout", StringComparison.Ordinal)));
        using (var writer = new StreamWriter(file)) stream.Save(writer, assignAnchors: false);

        var failed = Check(Path.Combine(output, "istio"), 1);
        var blocked = Assert.Single(failed.GetProperty("blocked").EnumerateArray());
        Assert.Equal("shop/checkout", blocked.GetProperty("src").GetString());
        Assert.Equal("shop/payment", blocked.GetProperty("dst").GetString());
        Assert.Equal(50051, blocked.GetProperty("port").GetInt32());
        Assert.Contains("AuthorizationPolicy shop/payment", blocked.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.False(failed.GetProperty("summary").GetProperty("passed").GetBoolean());
    }

    [Fact]
    public void A_mesh_with_another_trust_domain_gets_principals_in_it_and_is_judged_with_it()
    {
        var run = SuggestedSample.Create(_dir, "--emit", "istio", "--istio-trust-domain", "corp.example");
        var payment = File.ReadAllText(Path.Combine(run.Output, "istio", "shop", "payment.yaml"));
        Assert.Contains("corp.example/ns/shop/sa/checkout", payment, StringComparison.Ordinal);
        Assert.DoesNotContain("cluster.local", payment, StringComparison.Ordinal);
        Assert.Contains("corp.example/ns/NAMESPACE/sa/SERVICEACCOUNT", File.ReadAllText(Path.Combine(run.Output, "report.md")), StringComparison.Ordinal);

        // Judged in that mesh, the files pass; judged as cluster.local, no principal matches: every workload client is blocked.
        var inMesh = run.Check(Path.Combine(run.Output, "istio"), 0, "--istio-trust-domain", "corp.example");
        Assert.Equal(0, inMesh.GetProperty("summary").GetProperty("unused_rules").GetInt32());
        var elsewhere = run.Check(Path.Combine(run.Output, "istio"), 1);
        Assert.Contains(elsewhere.GetProperty("blocked").EnumerateArray(), b => b.GetProperty("src").GetString() == "shop/checkout" && b.GetProperty("dst").GetString() == "shop/payment");

        // A value that is no trust domain or namespace is a usage error.
        Assert.Equal(2, CliProcess.Run(["check", "--policies", Path.Combine(run.Output, "istio"), "--flows", .. run.Flows, "--istio-trust-domain", "a/b"]).ExitCode);
        Assert.Equal(2, CliProcess.Run(["check", "--policies", Path.Combine(run.Output, "istio"), "--flows", .. run.Flows, "--istio-root-namespace", "Mesh_Root"]).ExitCode);
    }
}
