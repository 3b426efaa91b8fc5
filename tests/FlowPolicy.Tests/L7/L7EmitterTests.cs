using System.Text.Json.Nodes;
using FlowPolicy.Tests.PolicyValidation;
using FlowPolicy.Tests.Suggest;

namespace FlowPolicy.Tests.L7;

/// <summary>
/// suggest --l7 on the built-in sample (its Hubble file carries gRPC records for frontend -> catalog and checkout ->
/// payment, and the DNS answers for the payment API and the object store's eight names): the L7 and FQDN rules, and
/// every document still passes the validation suite.
/// </summary>
public sealed class L7EmitterTests(SampleSuggestion sample) : IClassFixture<SampleSuggestion>
{
    private static string All(JsonNode? node) => node?.ToJsonString() ?? "";

    private static PolicyDocument Doc(string dir, string format, string ns, string name) =>
        Assert.Single(PolicyDocuments.Load(Path.Combine(dir, format, ns)), d => d.Name == name);

    [Fact]
    public void L7_output_of_every_format_passes_the_servers_rules()
    {
        var errors = PolicyValidator.Check(sample.OutL7, schemas: false);
        Assert.True(errors.Count == 0, PolicyValidator.Summary(errors));
    }

    [NodeFact]
    public void L7_output_of_every_format_passes_the_official_schemas()
    {
        var errors = PolicyValidator.Check(sample.OutL7);
        Assert.True(errors.Count == 0, PolicyValidator.Summary(errors));
    }

    [Fact]
    public void Cilium_names_external_providers_with_toFQDNs_and_turns_the_DNS_proxy_on()
    {
        var payment = Doc(sample.OutL7, "cilium", "shop", "payment");
        var egress = payment.Spec!["egress"]!.AsArray();
        var fqdn = Assert.Single(egress, r => r!["toFQDNs"] is not null)!;
        Assert.Equal("""[{"matchName":"api.payments.example.com"}]""", All(fqdn["toFQDNs"]));
        Assert.Equal("443", (string?)fqdn["toPorts"]![0]!["ports"]![0]!["port"]);
        Assert.DoesNotContain(egress, r => All(r).Contains("203.0.113.10", StringComparison.Ordinal));
        // The observed DNS egress to coredns carries the DNS proxy rule, on UDP and on TCP.
        var dns = egress.Where(r => All(r!["toPorts"]).Contains("\"53\"", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, dns.Count);
        Assert.All(dns, r => Assert.Equal("""{"dns":[{"matchPattern":"*"}]}""", All(r!["toPorts"]![0]!["rules"])));

        // Eight sibling names of the object store: one pattern, not eight /32s.
        var catalog = Doc(sample.OutL7, "cilium", "shop", "catalog");
        var store = Assert.Single(catalog.Spec!["egress"]!.AsArray(), r => r!["toFQDNs"] is not null)!;
        Assert.Equal("""[{"matchPattern":"*.objects.example.net"}]""", All(store["toFQDNs"]));
    }

    [Fact]
    public void Cilium_allows_only_the_observed_grpc_methods_on_the_server_port()
    {
        var catalog = Doc(sample.OutL7, "cilium", "shop", "catalog");
        var fromFrontend = Assert.Single(catalog.Spec!["ingress"]!.AsArray(), r => All(r!["fromEndpoints"]).Contains("frontend", StringComparison.Ordinal))!;
        var http = fromFrontend["toPorts"]![0]!["rules"]!["http"]!.AsArray();
        Assert.Equal(
            [@"^/hipstershop\.ProductCatalogService/GetProduct(\?.*)?$", @"^/hipstershop\.ProductCatalogService/ListProducts(\?.*)?$"],
            http.Select(h => (string)h!["path"]!));
        Assert.All(http, h => Assert.Equal("POST", (string?)h!["method"]));
        // Clients without L7 records (the kubelet probe from the nodes) keep an L4 rule.
        Assert.Contains(catalog.Spec!["ingress"]!.AsArray(), r => r!["fromEntities"] is not null && r["toPorts"]![0]!["rules"] is null);
    }

    [Fact]
    public void Istio_lists_grpc_paths_and_registers_named_hosts()
    {
        var catalog = Doc(sample.OutL7, "istio", "shop", "catalog");
        var rule = Assert.Single(catalog.Spec!["rules"]!.AsArray(), r => All(r!["from"]).Contains("/sa/frontend", StringComparison.Ordinal))!;
        var operation = Assert.Single(rule["to"]!.AsArray())!["operation"]!;
        Assert.Equal("""["POST"]""", All(operation["methods"]));
        Assert.Equal("""["/hipstershop.ProductCatalogService/GetProduct","/hipstershop.ProductCatalogService/ListProducts"]""", All(operation["paths"]));

        var entry = Doc(sample.OutL7, "istio", "shop", "flowpolicy--external-hosts");
        Assert.Equal("ServiceEntry", entry.Kind);
        Assert.Equal("""["api.payments.example.com","*.objects.example.net"]""", All(entry.Spec!["hosts"]));
        Assert.Equal("NONE", (string?)entry.Spec["resolution"]);
    }

    [Fact]
    public void Without_l7_and_in_L4_formats_named_peers_stay_addresses()
    {
        Assert.DoesNotContain("toFQDNs", File.ReadAllText(Path.Combine(sample.Out, "cilium", "shop", "payment.yaml")));
        Assert.DoesNotContain("http:", File.ReadAllText(Path.Combine(sample.Out, "cilium", "shop", "catalog.yaml")));
        Assert.False(File.Exists(Path.Combine(sample.Out, "istio", "shop", "flowpolicy--external-hosts.yaml")));
        Assert.Contains("203.0.113.10/32", File.ReadAllText(Path.Combine(sample.OutL7, "k8s", "shop", "payment-egress.yaml")));
        Assert.Contains("203.0.113.10/32", File.ReadAllText(Path.Combine(sample.OutL7, "calico", "shop", "payment.yaml")));
    }
}
