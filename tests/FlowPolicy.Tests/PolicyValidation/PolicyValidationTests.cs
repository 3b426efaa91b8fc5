using System.Net;
using System.Text.Json.Nodes;
using FlowPolicy.Core.Net;
using FlowPolicy.Suggest.Emitters;
using FlowPolicy.Suggest.Inference;
using FlowPolicy.Suggest.Reports;
using FlowPolicy.Tests.Suggest;

using FlowPolicy.Tests.Evaluation.Judge;
using FlowPolicy.Tests.Evaluation.Scenarios;

namespace FlowPolicy.Tests.PolicyValidation;

/// <summary>
/// Every emitted document of every format, judged the way its server would (official schemas, the servers' own
/// validation rules ported) and the way `kubectl apply -f DIR` would take the set, on the built-in sample and on
/// adversarial suggestions.
/// </summary>
public sealed class PolicyValidationTests(SampleSuggestion sample, AdversarialOutput adversarial) : IClassFixture<SampleSuggestion>, IClassFixture<AdversarialOutput>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("flowpolicy-validate-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Sample_output_of_every_format_passes_the_servers_rules()
    {
        var errors = PolicyValidator.Check(sample.Out, schemas: false);
        Assert.True(errors.Count == 0, PolicyValidator.Summary(errors));
        Assert.True(PolicyDocuments.Load(Path.Combine(sample.Out, "calico")).Count > 20);
    }

    [NodeFact]
    public void Sample_output_of_every_format_passes_the_official_schemas()
    {
        var errors = PolicyValidator.Check(sample.Out);
        Assert.True(errors.Count == 0, PolicyValidator.Summary(errors));
        Assert.Equal("5.1.0", OfficialSchemas.Versions["kubernetes-models"]);
        Assert.Equal("4.0.0", OfficialSchemas.Versions["@kubernetes-models/cilium"]);
        Assert.Equal("3.0.1", OfficialSchemas.Versions["@kubernetes-models/istio"]);
    }

    /// <summary>
    /// Validates any suggestion output directory: FLOWPOLICY_VALIDATE_DIR=DIR dotnet test --filter
    /// "FullyQualifiedName~Output_directory_from_the_environment" (skipped without the variable).
    /// </summary>
    [ValidateDirFact]
    public void Output_directory_from_the_environment_passes_every_check()
    {
        var errors = PolicyValidator.Check(Environment.GetEnvironmentVariable(ValidateDirFactAttribute.Variable)!);
        Assert.True(errors.Count == 0, $"{errors.Count} problems:\n" + PolicyValidator.Summary(errors));
    }

    [Fact]
    public void Sample_calico_front_door_has_one_address_family_per_rule()
    {
        // Was rejected by Calico: "rule contains both IPv4 and IPv6 CIDRs" (0.0.0.0/0 and ::/0 in one rule).
        var doc = Assert.Single(PolicyDocuments.Load(Path.Combine(sample.Out, "calico", "shop")), d => d.Name == "frontend");
        foreach (var rule in doc.Spec!["ingress"]!.AsArray())
        {
            var nets = (rule!["source"]?["nets"] as JsonArray ?? []).Concat(rule["source"]?["notNets"] as JsonArray ?? []).Select(n => (string)n!).ToList();
            Assert.True(nets.Select(CalicoRules.CidrVersion).Distinct().Count() <= 1, string.Join(",", nets));
        }
    }

    [Fact]
    public void Adversarial_suggestions_pass_the_servers_rules() => AssertAdversarialValid(schemas: false);

    [NodeFact]
    public void Adversarial_suggestions_pass_the_official_schemas() => AssertAdversarialValid(schemas: true);

    private void AssertAdversarialValid(bool schemas)
    {
        foreach (var dir in new[] { adversarial.WithoutNodes, adversarial.WithNodes })
        {
            var errors = PolicyValidator.Check(dir, schemas);
            Assert.True(errors.Count == 0, dir + ":\n" + PolicyValidator.Summary(errors));
        }
    }

    /// <summary>Odd and colliding names, reserved names, invalid labels, every protocol, IPv6, 1,200 clients of one server, 1,100 ports, nodes.</summary>
    internal static SuggestionSet Adversarial()
    {
        var b = new AdversarialSuggestion();
        var web1 = b.Workload("shop", "Web_App", "Deployment", ("app", "web-app-1"));
        var web2 = b.Workload("shop", "web-app", "Deployment", ("app", "web-app-2"));
        var sts = b.Workload("shop", "web", "StatefulSet", ("app", "web-sts"));
        var deny = b.Workload("shop", "default-deny", "Deployment", ("app", "default-deny"));
        var nothing = b.Workload("shop", "allow-nothing", "Deployment", ("app", "allow-nothing"));
        var zero = b.Workload("shop", "00-default-deny", "Deployment", ("app", "zero"));
        var fp = b.Workload("shop", "flowpolicy--default-deny", "Deployment", ("app", "fp"));
        var longName = b.Workload("shop", new string('x', 120) + ".Api.V2", "Deployment", ("app", "long"));
        var cafe = b.Workload("shop", "café", "Deployment", ("app", "cafe"));
        var helm = b.Workload("shop", "checkout", "Deployment", AdversarialSuggestion.HelmLabels("checkout"));
        var quote = b.Workload("shop", "quoted", "Deployment", ("app", "quoted"), ("note", "it's"), ("bad key", "x"), ("tier", "-edge-"));
        var onlyBad = b.Workload("shop", "unselectable", "Deployment", ("owner", "it's"));
        var badNs = b.Workload("Shop_Legacy", "api", "Deployment", ("app", "api"));
        var dns = b.Workload("kube-system", "coredns", "Deployment", ("k8s-app", "kube-dns"));
        var busy = b.Workload("shop", "catalog", "Deployment", ("app.kubernetes.io/name", "catalog"));
        var scanner = b.Workload("tools", "sweeper", "Deployment", ("app", "sweeper"));

        foreach (var w in new[] { web1, web2, sts, deny, nothing, zero, fp, longName, cafe, helm, quote, onlyBad })
        {
            b.Allow(w, busy, 8080, IpProtocols.Tcp);
            b.Allow(w, dns, 53, IpProtocols.Udp);
            b.Allow(helm, w, 8080, IpProtocols.Tcp);
        }
        b.Allow(badNs, busy, 8080, IpProtocols.Tcp);
        b.Allow(web1, web2, 9000, IpProtocols.Sctp);
        b.Allow(web1, web2, 0, IpProtocols.Tcp);
        b.Allow(web1, web2, 0, IpProtocols.Icmp);
        b.Allow(web1, web2, 0, IpProtocols.IcmpV6);
        b.Allow(web1, web2, 0, 47); // GRE
        b.Allow(web1, web2, 0, 50); // ESP
        b.Allow(web1, dns, 53, IpProtocols.Tcp);
        b.Allow(Peer.Nodes, web1, 8080, IpProtocols.Tcp);
        b.Allow(dns, Peer.Nodes, 6443, IpProtocols.Tcp);
        b.Allow(helm, Peer.Nodes, 10250, IpProtocols.Tcp);
        // Internet clients: IPv4 only, IPv6 only, both.
        b.Allow(Peer.Internet, web1, 443, IpProtocols.Tcp, AdversarialSuggestion.Address("203.0.113.7"), AdversarialSuggestion.Address("198.51.100.9"));
        b.Allow(Peer.Internet, web2, 443, IpProtocols.Tcp, AdversarialSuggestion.Address("2a00:1450::1"));
        b.Allow(Peer.Internet, sts, 443, IpProtocols.Tcp, AdversarialSuggestion.Address("203.0.113.7"), AdversarialSuggestion.Address("2a00:1450::1"));
        b.Allow(Peer.ForNetwork([Cidr.Parse("192.0.2.0/24"), Cidr.Parse("2001:db8:5::/64")]), busy, 5432, IpProtocols.Tcp);
        b.Allow(web1, Peer.ForNetwork([Cidr.Parse("198.51.100.0/24"), Cidr.Parse("2600:1f18::/32")]), 443, IpProtocols.Tcp);
        // 1,200 clients of one server on one port, and one client on 1,100 ports of another.
        for (int i = 0; i < 1200; i++)
            b.Allow(b.Workload("load", $"client-{i:D4}", "Deployment", AdversarialSuggestion.HelmLabels($"client-{i:D4}")), busy, 8080, IpProtocols.Tcp);
        for (int p = 0; p < 1100; p++) b.Allow(scanner, busy, (ushort)(20000 + p), IpProtocols.Tcp);
        return b.Build();
    }

    [Fact]
    public void Names_are_unique_and_no_workload_takes_a_reserved_name()
    {
        var dir = adversarial.WithoutNodes;
        foreach (var format in new[] { "k8s", "cilium", "calico", "istio" })
        {
            var docs = PolicyDocuments.Load(Path.Combine(dir, format, "shop"));
            Assert.Empty(docs.GroupBy(d => (d.Kind, d.Name)).Where(g => g.Count() > 1).Select(g => g.Key));
            // Workloads named like a default deny get their own policies; the namespace's deny keeps its name.
            var deny = format == "istio" ? PolicyNames.AllowNothing : PolicyNames.DefaultDeny;
            Assert.Single(docs, d => d.Name == deny && d.Kind is not "StagedNetworkPolicy");
            if (format != "istio") Assert.Contains(docs, d => d.Name.StartsWith("default-deny", StringComparison.Ordinal) && d.Name != deny);
            // Web_App and web-app: two workloads, two policies each, neither named after the other.
            var stems = docs.Select(d => d.Name).Where(n => n.StartsWith("web-app--", StringComparison.Ordinal)).Select(n => n["web-app--".Length..][..8]).Distinct().ToList();
            Assert.Equal(2, stems.Count);
            Assert.All(docs, d => Assert.True(d.Name.Length <= 63, d.Name));
        }
    }

    [Fact]
    public void Invalid_labels_and_namespaces_never_reach_a_document_and_cannot_inject_into_a_selector()
    {
        var dir = adversarial.WithoutNodes;
        var text = string.Join("\n", Directory.EnumerateFiles(dir, "*.yaml", SearchOption.AllDirectories).Select(File.ReadAllText)
            .Select(t => string.Join("\n", t.Split('\n').Where(l => !l.TrimStart().StartsWith('#')))));
        Assert.DoesNotContain("it's", text);
        Assert.DoesNotContain("bad key", text);
        Assert.DoesNotContain("Shop_Legacy", text);
        Assert.DoesNotContain("-edge-", text);
        var report = File.ReadAllText(Path.Combine(dir, "report.md"));
        Assert.Contains("'it''s'", report.Replace("'it's'", "'it''s'", StringComparison.Ordinal));
        Assert.Contains("namespace 'Shop_Legacy' is not a valid Kubernetes namespace name", report);
        Assert.Contains("shop/unselectable: no valid label to select it by", report);
        // The workload with one bad label is still selected by its valid ones.
        var quoted = PolicyDocuments.Load(Path.Combine(dir, "calico", "shop")).Single(d => d.Kind == "NetworkPolicy" && d.Name.StartsWith("quoted", StringComparison.Ordinal));
        Assert.Equal("app == 'quoted'", (string?)quoted.Spec!["selector"]);
    }

    [Fact]
    public void Calico_selector_literals_never_break_out_of_their_quotes()
    {
        Assert.Equal("a == \"it's\"", CalicoEmitter.Selector([new("a", "it's")]));
        Assert.Null(CalicoSelector.Parse(CalicoEmitter.Selector([new("a", "it's"), new("b/c", "x")])).Error);
        Assert.Throws<ArgumentException>(() => CalicoEmitter.Selector([new("a", "'\" || all() || \"'")]));
        Assert.Throws<ArgumentException>(() => CalicoEmitter.Selector([new("a == 'x' || b", "y")]));
        // The old way, pasted between single quotes, is exactly what Calico refuses.
        Assert.NotNull(CalicoSelector.Parse("a == 'it's'").Error);
    }

    [Fact]
    public void Busy_servers_stay_within_the_CRD_limits_and_keep_every_client()
    {
        var dir = adversarial.WithoutNodes;
        var istio = PolicyDocuments.Load(Path.Combine(dir, "istio", "shop")).Where(d => d.Name.StartsWith("catalog", StringComparison.Ordinal)).ToList();
        Assert.True(istio.Count >= 3, "1,100 ports over 512 rules per policy need three policies: " + istio.Count);
        Assert.All(istio, d => Assert.InRange(d.Spec!["rules"]!.AsArray().Count, 1, IstioEmitter.MaxRules));
        var principals = istio.SelectMany(d => d.Spec!["rules"]!.AsArray())
            .SelectMany(r => r!["from"]!.AsArray()).SelectMany(f => f!["source"]?["principals"] as JsonArray ?? []).Select(p => (string)p!).ToHashSet();
        Assert.Equal(1200, principals.Count(p => p.StartsWith("cluster.local/ns/load/sa/client-", StringComparison.Ordinal)));

        var calico = PolicyDocuments.Load(Path.Combine(dir, "calico", "shop")).Where(d => d.Kind == "NetworkPolicy" && d.Name.StartsWith("catalog", StringComparison.Ordinal)).ToList();
        Assert.True(calico.Count >= 2);
        Assert.All(calico, d => Assert.True(((d.Spec!["ingress"] as JsonArray)?.Count ?? 0) <= CalicoEmitter.MaxRulesPerDirection));
        // 1,200 clients on 8080 from another namespace: merged into a handful of rules, not 1,200.
        var from8080 = calico.SelectMany(d => d.Spec!["ingress"] as JsonArray ?? []).Where(r => r!["destination"]?["ports"]?[0]?.GetValue<long>() == 8080).ToList();
        Assert.InRange(from8080.Count, 2, 20);
        Assert.All(PolicyDocuments.Load(dir), d => Assert.True(d.StoredBytes < KubernetesObjectRules.MaxObjectBytes, d.ToString()));
    }

    [Fact]
    public void Protocols_and_ports_are_written_as_each_format_names_them()
    {
        var dir = adversarial.WithoutNodes;
        string Text(string format) => string.Join("\n", Directory.EnumerateFiles(Path.Combine(dir, format), "*.yaml", SearchOption.AllDirectories).Select(File.ReadAllText)
            .SelectMany(t => t.Split('\n')).Where(l => !l.TrimStart().StartsWith('#')));
        foreach (var format in new[] { "k8s", "cilium", "calico", "istio" })
        {
            Assert.DoesNotMatch(@"port: 0\b|port: ""0""|- 0\n|- ""0""", Text(format));
            Assert.DoesNotContain("GRE", Text(format));
        }
        var cilium = PolicyDocuments.Load(Path.Combine(dir, "cilium", "shop")).SelectMany(d => Rules(d)).ToList();
        var icmp = cilium.SelectMany(r => r["icmps"] as JsonArray ?? []).SelectMany(i => i!["fields"]!.AsArray()).Select(f => ((string)f!["family"]!, f["type"]!.GetValue<long>())).Distinct().ToList();
        Assert.Contains(("IPv4", 8L), icmp);
        Assert.Contains(("IPv6", 128L), icmp);
        Assert.DoesNotContain(("IPv6", 8L), icmp);
        var calico = PolicyDocuments.Load(Path.Combine(dir, "calico", "shop")).SelectMany(d => Rules(d)).ToList();
        Assert.Contains(calico, r => r["protocol"] is JsonValue v && v.TryGetValue(out long n) && n == 47);
        Assert.Contains(calico, r => r["protocol"] is JsonValue v && v.TryGetValue(out long n) && n == 50);
        Assert.Contains(calico, r => Str(r["protocol"]) == "SCTP" && r["destination"]?["ports"] is not null);
        Assert.Contains(calico, r => Str(r["protocol"]) == "TCP" && r["destination"]?["ports"] is null && r["source"]?["selector"] is not null); // port 0: every TCP port
    }

    private static string? Str(JsonNode? node) => node is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    private static IEnumerable<JsonObject> Rules(PolicyDocument d) =>
        (d.Spec?["ingress"] as JsonArray ?? []).Concat(d.Spec?["egress"] as JsonArray ?? []).OfType<JsonObject>();

    [Fact]
    public void DNS_is_allowed_on_tcp_and_udp_wherever_it_is_allowed()
    {
        var dir = adversarial.WithoutNodes;
        var k8s = K8sPolicies.Load(Path.Combine(dir, "k8s"));
        var cilium = CiliumPolicies.Load(Path.Combine(dir, "cilium"));
        var calico = CalicoPolicies.Load(Path.Combine(dir, "calico"));
        var set = adversarial.Set;
        var dnsRules = set.Rules.Where(r => r.Port == 53).ToList();
        Assert.NotEmpty(dnsRules);
        foreach (var rule in dnsRules)
        {
            var client = AdversarialSuggestion.EndpointOf(rule.Client);
            var server = AdversarialSuggestion.EndpointOf(rule.Server);
            if (rule.Client.Selector.Any(l => l.Value == "it's" && rule.Client.Selector.Count == 1)) continue; // unselectable
            foreach (var protocol in new[] { IpProtocols.Udp, IpProtocols.Tcp })
            {
                Assert.True(k8s.Allows(client, server, 53, protocol), $"k8s {rule} {protocol}");
                Assert.True(cilium.Allows(client, server, 53, protocol), $"cilium {rule} {protocol}");
                Assert.True(calico.Allows(client, server, 53, protocol), $"calico {rule} {protocol}");
            }
        }
    }

    [Fact]
    public void Internet_rules_open_only_the_families_their_clients_used_and_leave_out_special_ranges()
    {
        var dir = adversarial.WithoutNodes;
        var docs = PolicyDocuments.Load(Path.Combine(dir, "k8s", "shop"));
        var byWorkload = docs.Where(d => d.Name.EndsWith("-ingress", StringComparison.Ordinal)).ToDictionary(d => d.Name,
            d => d.Spec!["ingress"]!.AsArray().SelectMany(r => r!["from"]!.AsArray()).Select(p => (string?)p!["ipBlock"]?["cidr"]).OfType<string>().ToList());
        Assert.Contains(byWorkload.Values, c => c.Contains("0.0.0.0/0") && !c.Contains("::/0"));
        Assert.Contains(byWorkload.Values, c => c.Contains("::/0") && !c.Contains("0.0.0.0/0"));
        Assert.Contains(byWorkload.Values, c => c.Contains("::/0") && c.Contains("0.0.0.0/0"));
        var v6Except = docs.SelectMany(d => d.Spec!["ingress"] as JsonArray ?? []).SelectMany(r => r!["from"]!.AsArray())
            .Where(p => (string?)p!["ipBlock"]?["cidr"] == "::/0").SelectMany(p => p!["ipBlock"]!["except"]!.AsArray()).Select(x => (string)x!).ToHashSet();
        foreach (var special in new[] { "::ffff:0:0/96", "fc00::/7", "fe80::/10", "::1/128", "2001:db8::/32", "100::/64", "64:ff9b:1::/48" })
            Assert.Contains(special, v6Except);
    }

    [Fact]
    public void Egress_to_the_nodes_uses_their_addresses_or_keeps_egress_out_of_the_default_deny()
    {
        var known = adversarial.WithNodes;
        var deny = PolicyDocuments.Load(Path.Combine(known, "k8s", "kube-system")).Single(d => d.Name == PolicyNames.DefaultDeny);
        Assert.Equal(["Ingress", "Egress"], deny.Spec!["policyTypes"]!.AsArray().Select(t => (string)t!));
        var coredns = PolicyDocuments.Load(Path.Combine(known, "k8s", "kube-system")).Single(d => d.Name == "coredns-egress");
        var blocks = coredns.Spec!["egress"]!.AsArray().SelectMany(r => r!["to"]!.AsArray()).Select(p => (string?)p!["ipBlock"]?["cidr"]).ToList();
        Assert.Equal(["10.0.1.10/32", "10.0.1.11/32", "fd00:1::10/128"], blocks);
        var calico = PolicyDocuments.Load(Path.Combine(known, "calico", "kube-system")).Single(d => d.Kind == "NetworkPolicy" && d.Name == "coredns");
        var nets = calico.Spec!["egress"]!.AsArray().Select(r => r!["destination"]?["nets"] as JsonArray).OfType<JsonArray>().Select(n => string.Join(",", n.Select(x => (string)x!))).ToList();
        Assert.Equal(["10.0.1.10/32,10.0.1.11/32", "fd00:1::10/128"], nets);
        var cilium = PolicyDocuments.Load(Path.Combine(known, "cilium", "kube-system")).Single(d => d.Name == "coredns");
        var entities = cilium.Spec!["egress"]!.AsArray().SelectMany(r => r!["toEntities"] as JsonArray ?? []).Select(e => (string)e!).ToList();
        Assert.Contains("kube-apiserver", entities);

        var unknown = adversarial.WithoutNodes;
        deny = PolicyDocuments.Load(Path.Combine(unknown, "k8s", "kube-system")).Single(d => d.Name == PolicyNames.DefaultDeny);
        Assert.Equal(["Ingress"], deny.Spec!["policyTypes"]!.AsArray().Select(t => (string)t!));
        var calicoDeny = PolicyDocuments.Load(Path.Combine(unknown, "calico", "kube-system")).Single(d => d.Kind == "NetworkPolicy" && d.Name == PolicyNames.DefaultDeny);
        Assert.Equal(["Ingress"], calicoDeny.Spec!["types"]!.AsArray().Select(t => (string)t!));
        Assert.Contains("namespace kube-system: no default deny for egress", File.ReadAllText(Path.Combine(unknown, "report.md")));
        // A namespace without egress to the nodes keeps its full default deny.
        deny = PolicyDocuments.Load(Path.Combine(unknown, "k8s", "load")).Single(d => d.Name == PolicyNames.DefaultDeny);
        Assert.Equal(["Ingress", "Egress"], deny.Spec!["policyTypes"]!.AsArray().Select(t => (string)t!));
    }

    [Fact]
    public void Traffic_from_the_nodes_is_allowed_by_address_since_the_spec_exempts_only_the_pods_own_node()
    {
        // The independent judge reads the spec: only the node a pod runs on gets through whatever the policy says. A
        // NodePort forwarded by another node, or a host-network client there, arrives from that node's address.
        var web = new PodEndpoint(new JudgePod("shop", new Dictionary<string, string> { ["app"] = "web-app-1" }, IPAddress.Parse("10.244.1.5"), "node-a",
            new Dictionary<string, (ushort, Protocol)>()));
        var ownNode = new AddressEndpoint(IPAddress.Parse("10.0.1.10"), "node-a");
        var otherNode = new AddressEndpoint(IPAddress.Parse("10.0.1.11"), "node-b");
        var notANode = new AddressEndpoint(IPAddress.Parse("10.0.1.99"));
        var noLabels = new Dictionary<string, IReadOnlyDictionary<string, string>>();

        var known = new NetworkPolicyJudge(NetworkPolicyDocument.LoadDirectory(Path.Combine(adversarial.WithNodes, "k8s", "shop")), noLabels);
        Assert.True(known.Allows(ownNode, web, 8080, Protocol.Tcp));
        Assert.True(known.Allows(otherNode, web, 8080, Protocol.Tcp));
        Assert.False(known.Allows(otherNode, web, 8081, Protocol.Tcp)); // only the port the nodes used
        Assert.False(known.Allows(notANode, web, 8080, Protocol.Tcp));

        // Without node addresses there is nothing to name them by: the spec's exemption is all that holds, and the
        // report says what that leaves blocked instead of opening the port to every source.
        var unknown = new NetworkPolicyJudge(NetworkPolicyDocument.LoadDirectory(Path.Combine(adversarial.WithoutNodes, "k8s", "shop")), noLabels);
        Assert.True(unknown.Allows(ownNode, web, 8080, Protocol.Tcp));
        Assert.False(unknown.Allows(otherNode, web, 8080, Protocol.Tcp));
        Assert.False(unknown.Allows(notANode, web, 8080, Protocol.Tcp));
        Assert.Contains("traffic from the other nodes (NodePort/LoadBalancer Services with externalTrafficPolicy Cluster, host-network clients) will be blocked",
            System.IO.File.ReadAllText(Path.Combine(adversarial.WithoutNodes, "report.md")));
    }

    [Fact]
    public void The_suite_rejects_what_the_servers_reject()
    {
        // Each broken document the servers refuse must be caught, or the suite proves nothing.
        var dir = Path.Combine(_dir, "broken");
        void File(string path, string text)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(dir, path))!);
            System.IO.File.WriteAllText(Path.Combine(dir, path), text);
        }
        File("calico/shop/mixed.yaml", """
            apiVersion: projectcalico.org/v3
            kind: NetworkPolicy
            metadata: {name: mixed, namespace: shop}
            spec:
              selector: "app == 'it's'"
              ingress:
                - {action: Allow, protocol: GRE, source: {nets: ["0.0.0.0/0", "::/0"]}, destination: {ports: [80]}}
                - {action: Allow, protocol: TCP, source: {nets: ["::/0"], notNets: ["::ffff:0:0/96"]}}
                - {action: Allow, protocol: ICMP, destination: {ports: [0]}}
            """);
        File("calico/shop/Bad_Name.yaml", """
            apiVersion: projectcalico.org/v3
            kind: NetworkPolicy
            metadata: {name: Bad_Name, namespace: shop}
            spec: {selector: "all()", egress: [{action: Allow, destination: {selector: "global()"}}]}
            """);
        File("k8s/shop/a.yaml", """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: default-deny, namespace: shop}
            spec: {podSelector: {matchLabels: {app: "it's"}}, ingress: [{ports: [{protocol: TCP, port: 0}], from: [{ipBlock: {cidr: "::/0", except: ["10.0.0.0/8"]}}]}]}
            """);
        File("k8s/shop/b.yaml", """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: default-deny, namespace: shop}
            spec: {podSelector: {}, policyTypes: [Ingress]}
            """);
        File("cilium/shop/a.yaml", """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: a, namespace: shop}
            spec: {endpointSelector: {}, ingress: [{icmps: [{fields: [{family: IPv6, type: 8}]}]}]}
            """);
        File("istio/shop/a.yaml", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a, namespace: shop}\nspec:\n  rules:\n"
            + string.Concat(Enumerable.Repeat("    - {from: [{source: {principals: [\"cluster.local/ns/shop/sa/Web_App\"]}}], to: [{operation: {ports: [\"0\"]}}]}\n", 513)));
        var errors = PolicyValidator.Check(dir, schemas: false);
        string all = string.Join("\n", errors);
        foreach (var expected in new[]
                 {
                     "rule contains both IPv4 and IPv6 CIDRs", "is not one of TCP, UDP", "does not parse", "must set protocol to TCP or UDP or SCTP",
                     "does not match Calico's NetworkPolicy name format", "global() can only be used", "is not a valid label value",
                     "is not inside ::/0", "port 0 is not in 1-65535", "2 documents named shop/default-deny", "ICMPv6 type 8",
                     "513 rules, over the CRD's 512", "bad port (0)", "principal 'cluster.local/ns/shop/sa/Web_App'",
                 })
            Assert.Contains(expected, all);
        // ::ffff:0:0/96 counts as IPv4 for Calico (mixed with ::/0 in the second rule).
        Assert.Contains(errors, e => e.Contains("ingress[1]", StringComparison.Ordinal) && e.Contains("both IPv4 and IPv6", StringComparison.Ordinal));
    }

    [NodeFact]
    public void The_official_schemas_reject_what_the_api_server_rejects()
    {
        var dir = Path.Combine(_dir, "schema-broken");
        Directory.CreateDirectory(Path.Combine(dir, "istio", "shop"));
        Directory.CreateDirectory(Path.Combine(dir, "cilium", "shop"));
        System.IO.File.WriteAllText(Path.Combine(dir, "istio", "shop", "a.yaml"), "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a, namespace: shop}\nspec:\n  rules:\n"
            + string.Concat(Enumerable.Repeat("    - {from: [{source: {principals: [\"x\"]}}]}\n", 513)));
        System.IO.File.WriteAllText(Path.Combine(dir, "cilium", "shop", "a.yaml"),
            "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: a, namespace: shop}\nspec: {endpointSelector: {}, ingress: [{toPorts: [{ports: [{port: \"80\", protocol: GRE}]}]}]}\n");
        var errors = PolicyValidator.Check(dir);
        Assert.Contains(errors, e => e.Contains("(official schema)", StringComparison.Ordinal) && e.Contains("more than 512", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("(official schema)", StringComparison.Ordinal) && e.Contains("protocol", StringComparison.Ordinal));
    }
}

/// <summary>The adversarial suggestion written once with node addresses known and once without (each run writes ~6,000 files).</summary>
public sealed class AdversarialOutput : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("flowpolicy-adversarial-").FullName;

    public AdversarialOutput()
    {
        Set = PolicyValidationTests.Adversarial();
        WithNodes = Path.Combine(_root, "with-nodes");
        WithoutNodes = Path.Combine(_root, "without-nodes");
        new SuggestionOutput(new SuggestionOutputOptions { Directory = WithNodes, Cluster = Nodes }).Write(Set);
        new SuggestionOutput(new SuggestionOutputOptions { Directory = WithoutNodes }).Write(Set);
    }

    public static readonly ClusterFacts Nodes = new([PackedIp.Parse("10.0.1.10"), PackedIp.Parse("10.0.1.11"), PackedIp.Parse("fd00:1::10")]);

    internal SuggestionSet Set { get; }
    public string WithNodes { get; }
    public string WithoutNodes { get; }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
