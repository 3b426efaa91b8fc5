using FlowPolicy.Tests.Enrichment;

namespace FlowPolicy.Tests.Cli;

/// <summary>
/// `check` matches namespaceSelectors with the namespace labels the data carries (Hubble's
/// io.cilium.k8s.namespace.labels.*), without --namespaces; --namespaces still overrides them (issue 16, item 6).
/// </summary>
public sealed class NamespaceLabelCheckTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("flowpolicy-nscheck-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (string Policies, string Flows) Write()
    {
        // Prometheus in "monitoring" (namespace labelled purpose=observability) scrapes cart in "shop".
        var prometheus = PodOwnerTests.Endpoint("monitoring", "prometheus-0",
            PodOwnerTests.CiliumLabels("monitoring", "prometheus", "app.kubernetes.io/name=prometheus") + ",\"k8s:io.cilium.k8s.namespace.labels.purpose=observability\"", identity: 7001);
        var cart = PodOwnerTests.Endpoint("shop", "cart-7c5ddbdf54-k2x7p", PodOwnerTests.CiliumLabels("shop", "cart", "app=cart"), """[{"name":"cart","kind":"Deployment"}]""");
        var flows = Path.Combine(_dir, "hubble.json");
        File.WriteAllText(flows, PodOwnerTests.HubbleLine(prometheus, cart, 9090) + "\n");
        var policies = Path.Combine(_dir, "policies");
        Directory.CreateDirectory(policies);
        File.WriteAllText(Path.Combine(policies, "cart.yaml"), """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: cart-scrape, namespace: shop}
            spec:
              podSelector: {matchLabels: {app: cart}}
              policyTypes: [Ingress]
              ingress:
                - from:
                    - namespaceSelector: {matchLabels: {purpose: observability}}
                  ports: [{port: 9090, protocol: TCP}]
            """);
        return (policies, flows);
    }

    [Fact]
    public void A_namespace_selector_matches_the_labels_hubble_carried_and_namespaces_files_override_them()
    {
        var (policies, flows) = Write();

        var pass = CliProcess.Run("check", "--policies", policies, "--flows", flows);
        Assert.True(pass.ExitCode == 0, pass.Stderr + pass.Stdout);
        Assert.Contains("namespace labels of 2 namespaces", pass.Stderr);

        var namespaces = Path.Combine(_dir, "namespaces.json");
        File.WriteAllText(namespaces, """{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"monitoring","labels":{"purpose":"legacy"}}}""");
        var overridden = CliProcess.Run("check", "--policies", policies, "--namespaces", namespaces, "--flows", flows);
        Assert.Equal(1, overridden.ExitCode);
        Assert.Contains("monitoring/prometheus", overridden.Stdout);
    }
}
