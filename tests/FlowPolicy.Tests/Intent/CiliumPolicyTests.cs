using FlowPolicy.Analytics.Intent;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Net;
using static FlowPolicy.Tests.Intent.PolicyFiles;

namespace FlowPolicy.Tests.Intent;

/// <summary>
/// The L3/L4 part of Cilium policies as Cilium enforces it (cilium/cilium pkg/policy/repository.go, pkg/policy/api,
/// Documentation/security/policy/language.rst): isolation per direction, one repository with NetworkPolicies, deny
/// rules winning, entities, CIDR sets with except, toPorts, the namespace a CNP's selectors default to, toFQDNs by name.
/// </summary>
public sealed class CiliumPolicyTests
{
    private static readonly Endpoint Db = Pod("shop", "db", ("app", "db"));
    private static readonly Endpoint Web = Pod("shop", "web", ("app", "web"));
    private static readonly Endpoint Batch = Pod("shop", "batch", ("app", "batch"));
    private static readonly Endpoint OtherWeb = Pod("tools", "web", ("app", "web"));

    /// <summary>A CiliumNetworkPolicy in shop selecting app=<paramref name="app"/>, with <paramref name="sections"/> under spec.</summary>
    private static string Cnp(string name, string app, string sections) =>
        $"apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: {name}, namespace: shop}}\nspec:\n  endpointSelector: {{matchLabels: {{app: {app}}}}}\n" + sections;

    private const string DbFromWeb = """
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: db, namespace: shop}
        spec:
          endpointSelector: {matchLabels: {app: db}}
          ingress:
            - fromEndpoints: [{matchLabels: {app: web}}]
              toPorts: [{ports: [{port: "5432", protocol: TCP}]}]
        """;

    [Fact]
    public void An_ingress_section_isolates_the_selected_endpoint_for_ingress_only_and_names_the_rule()
    {
        var intent = From(DbFromWeb);
        var allowed = intent.Evaluate(Web, Db, 5432, IpProtocols.Tcp);
        Assert.True(allowed.Allowed);
        Assert.Equal(new IntentRule("shop/db", "ingress[0]", "CiliumNetworkPolicy"), Assert.Single(allowed.MatchedRules));
        Assert.Contains("shop/db ingress[0]", allowed.Reason, StringComparison.Ordinal);

        var denied = intent.Evaluate(Batch, Db, 5432, IpProtocols.Tcp);
        Assert.False(denied.Allowed);
        Assert.Contains("isolated for ingress by CiliumNetworkPolicy shop/db", denied.Reason, StringComparison.Ordinal);
        Assert.False(Allows(intent, Web, Db, 5433));
        // Not selected, or the other direction: open.
        Assert.True(Allows(intent, Batch, Web, 80));
        Assert.True(Allows(intent, Db, Batch, 9999));
        Assert.Equal([new IntentRule("shop/db", "ingress[0]", "CiliumNetworkPolicy")], intent.Rules);
    }

    [Fact]
    public void An_empty_section_list_isolates_nothing_an_empty_rule_isolates_and_enable_default_deny_false_leaves_it_open()
    {
        string Head = Cnp("p", "db", "");
        Assert.True(Allows(From(Head + "  ingress: []\n"), Web, Db, 5432));
        Assert.False(Allows(From(Head + "  ingress: [{}]\n"), Web, Db, 5432));
        Assert.True(Allows(From(Head + "  ingress: [{}]\n"), Db, Web, 80));
        Assert.False(Allows(From(Head + "  egress: [{}]\n"), Db, Web, 80));
        Assert.True(Allows(From(Head + "  enableDefaultDeny: {ingress: false}\n  ingress: [{}]\n"), Web, Db, 5432));
        // ...but its deny rules still apply, and another rule that does default-deny isolates it again.
        Assert.False(Allows(From(Head + "  enableDefaultDeny: {ingress: false}\n  ingressDeny: [{fromEndpoints: [{matchLabels: {app: web}}]}]\n"), Web, Db, 5432));
        Assert.False(Allows(From(Head + "  enableDefaultDeny: {ingress: false}\n  ingress: [{}]\n---\n" + DbFromWeb), Batch, Db, 5432));
    }

    [Fact]
    public void Network_policies_and_cilium_policies_are_one_repository_isolation_if_any_selects_allows_add_up()
    {
        const string NetworkPolicy = """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: db-from-batch, namespace: shop}
            spec:
              podSelector: {matchLabels: {app: db}}
              ingress:
                - from: [{podSelector: {matchLabels: {app: batch}}}]
                  ports: [{port: 5432}]
            """;
        var both = From(NetworkPolicy + "\n---\n" + DbFromWeb);
        Assert.True(Allows(both, Web, Db, 5432));   // Cilium's allow
        Assert.True(Allows(both, Batch, Db, 5432)); // the NetworkPolicy's allow
        Assert.False(Allows(both, OtherWeb, Db, 5432));
        var decision = both.Evaluate(Batch, Db, 5432, IpProtocols.Tcp);
        Assert.Equal(new IntentRule("shop/db-from-batch", "ingress[0]", "NetworkPolicy"), Assert.Single(decision.MatchedRules));
        Assert.Contains("shop/db-from-batch", both.Evaluate(OtherWeb, Db, 5432, IpProtocols.Tcp).Reason, StringComparison.Ordinal);
        Assert.Contains("CiliumNetworkPolicy shop/db", both.Evaluate(OtherWeb, Db, 5432, IpProtocols.Tcp).Reason, StringComparison.Ordinal);
        Assert.Equal(2, both.Rules.Count);
        // Only the NetworkPolicy isolates (its deny-all), the Cilium policy only adds an allow.
        var denyAll = From("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\nspec: {podSelector: {}}\n---\n" + DbFromWeb);
        Assert.True(Allows(denyAll, Web, Db, 5432));
        Assert.False(Allows(denyAll, Web, Batch, 80));
    }

    [Fact]
    public void A_deny_rule_wins_over_every_allow_of_either_kind()
    {
        var intent = From("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: db-open, namespace: shop}
            spec:
              podSelector: {matchLabels: {app: db}}
              ingress: [{}]
            ---
            apiVersion: cilium.io/v2
            kind: CiliumClusterwideNetworkPolicy
            metadata: {name: no-web-to-db}
            spec:
              endpointSelector: {matchLabels: {app: db}}
              ingress: [{fromEntities: [all]}]
              ingressDeny:
                - fromEndpoints: [{matchLabels: {app: web}}]
                  toPorts: [{ports: [{port: "5432", protocol: TCP}]}]
            """);
        var denied = intent.Evaluate(Web, Db, 5432, IpProtocols.Tcp);
        Assert.False(denied.Allowed);
        Assert.Contains("denied by CiliumClusterwideNetworkPolicy no-web-to-db ingressDeny[0]", denied.Reason, StringComparison.Ordinal);
        Assert.True(Allows(intent, Web, Db, 5433));     // the deny's toPorts AND its peers
        Assert.True(Allows(intent, Batch, Db, 5432));
        Assert.False(Allows(intent, OtherWeb, Db, 5432)); // clusterwide: web in every namespace
        // Deny rules are not allow rules: stale-rule detection does not list them.
        Assert.DoesNotContain(intent.Rules, r => r.Rule.Contains("Deny", StringComparison.Ordinal));
    }

    [Fact]
    public void Entities_map_to_endpoint_kinds()
    {
        static IntentEvaluator To(string entities) => From(Cnp("out", "web", $"  egress: [{{toEntities: [{entities}]}}]\n"));
        var world = To("world");
        Assert.True(Allows(world, Web, Ip("203.0.113.7"), 443));
        Assert.False(Allows(world, Web, Db, 5432));
        Assert.False(Allows(world, Web, Node("n1"), 10250));
        Assert.False(Allows(world, Web, Ip("10.9.9.9"), 443)); // a private address nobody named: Unknown, not allowed
        Assert.Contains("may", world.Evaluate(Web, Ip("10.9.9.9"), 443, IpProtocols.Tcp).Reason, StringComparison.Ordinal);
        var cluster = To("cluster");
        Assert.True(Allows(cluster, Web, Db, 5432));
        Assert.True(Allows(cluster, Web, Node("n1"), 10250));
        Assert.False(Allows(cluster, Web, Ip("203.0.113.7"), 443));
        Assert.False(Allows(To("host"), Web, Node("n1"), 10250)); // which node is the pod's own is not in the flows
        Assert.True(Allows(To("host, remote-node"), Web, Node("n1"), 10250));
        Assert.False(Allows(To("host, remote-node"), Web, Db, 5432));
        var all = To("all");
        Assert.True(Allows(all, Web, Db, 5432));
        Assert.True(Allows(all, Web, Ip("203.0.113.7"), 443));
    }

    [Fact]
    public void Cidr_sets_honour_except_and_never_match_workloads_or_nodes()
    {
        var intent = From("""
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: out, namespace: shop}
            spec:
              endpointSelector: {matchLabels: {app: web}}
              egress:
                - toCIDRSet: [{cidr: 10.0.0.0/8, except: [10.1.0.0/16]}]
                - toCIDR: [203.0.113.0/24]
            """, new IntentEvaluatorOptions { NodeAddresses = new Dictionary<string, IReadOnlyList<PackedIp>> { ["n1"] = [PackedIp.Parse("10.2.0.1")] } });
        Assert.True(Allows(intent, Web, Ip("10.2.3.4"), 443));
        Assert.False(Allows(intent, Web, Ip("10.1.2.3"), 443));
        Assert.True(Allows(intent, Web, Ip("203.0.113.9"), 443));
        Assert.False(Allows(intent, Web, Ip("198.51.100.1"), 443));
        Assert.False(Allows(intent, Web, Node("n1"), 443)); // Cilium matches nodes by identity, not by CIDR
        Assert.False(Allows(intent, Web, Db, 5432));
    }

    [Fact]
    public void To_ports_take_protocol_any_end_port_and_and_with_the_peers()
    {
        static IntentEvaluator Ports(string ports) => From(Cnp("db", "db",
            $"  ingress:\n    - fromEndpoints: [{{matchLabels: {{app: web}}}}]\n      toPorts: [{{ports: [{ports}]}}]\n"));
        var any = Ports("{port: \"53\", protocol: ANY}");
        Assert.True(Allows(any, Web, Db, 53, IpProtocols.Udp));
        Assert.True(Allows(any, Web, Db, 53, IpProtocols.Tcp));
        Assert.False(Allows(any, Web, Db, 54, IpProtocols.Udp));
        Assert.False(Allows(any, Batch, Db, 53, IpProtocols.Udp)); // peer AND ports
        var tcp = Ports("{port: \"53\", protocol: TCP}");
        Assert.False(Allows(tcp, Web, Db, 53, IpProtocols.Udp));
        var range = Ports("{port: \"8000\", endPort: 8100, protocol: TCP}");
        Assert.True(Allows(range, Web, Db, 8050));
        Assert.False(Allows(range, Web, Db, 8101));
        var noPort = Ports("{protocol: UDP}");
        Assert.True(Allows(noPort, Web, Db, 7100, IpProtocols.Udp));
        Assert.False(Allows(noPort, Web, Db, 7100, IpProtocols.Tcp));
        // toPorts alone: every peer on those ports (Cilium's L3 wildcard).
        var portsOnly = From(Cnp("p", "db", "  ingress: [{toPorts: [{ports: [{port: \"80\"}]}]}]\n"));
        Assert.True(Allows(portsOnly, Ip("203.0.113.7"), Db, 80));
        Assert.False(Allows(portsOnly, Ip("203.0.113.7"), Db, 81));
    }

    [Fact]
    public void A_namespaced_policy_selects_peers_in_its_namespace_unless_it_names_one_a_clusterwide_one_everywhere()
    {
        var namespaced = From(DbFromWeb);
        Assert.True(Allows(namespaced, Web, Db, 5432));
        Assert.False(Allows(namespaced, OtherWeb, Db, 5432));
        var named = From(DbFromWeb.Replace("{matchLabels: {app: web}}", "{matchLabels: {app: web, 'k8s:io.kubernetes.pod.namespace': tools}}", StringComparison.Ordinal));
        Assert.True(Allows(named, OtherWeb, Db, 5432));
        Assert.False(Allows(named, Web, Db, 5432));
        // A CNP selects endpoints of its own namespace only; a CCNP of every namespace, and its peers too.
        var otherDb = Pod("tools", "db", ("app", "db"));
        Assert.True(Allows(namespaced, Batch, otherDb, 5432));
        var clusterwide = From(DbFromWeb.Replace("kind: CiliumNetworkPolicy", "kind: CiliumClusterwideNetworkPolicy", StringComparison.Ordinal)
            .Replace("namespace: shop", "", StringComparison.Ordinal).Replace("{name: db, }", "{name: db}", StringComparison.Ordinal));
        Assert.False(Allows(clusterwide, Batch, otherDb, 5432));
        Assert.True(Allows(clusterwide, OtherWeb, Db, 5432));
        Assert.True(Allows(clusterwide, Web, otherDb, 5432));
        Assert.Equal(new IntentRule("db", "ingress[0]", "CiliumClusterwideNetworkPolicy"), Assert.Single(clusterwide.Rules));
    }

    [Fact]
    public void To_fqdns_allow_an_address_only_by_the_names_the_edge_carries()
    {
        var intent = From("""
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: web-out, namespace: shop}
            spec:
              endpointSelector: {matchLabels: {app: web}}
              egress:
                - toFQDNs: [{matchName: api.example.com}, {matchPattern: "*.cdn.example.net"}]
                  toPorts: [{ports: [{port: "443", protocol: TCP}]}]
            """);
        var server = Ip("203.0.113.7");
        Edge Edge(ushort port, params string[] names)
        {
            var edge = new Edge(Web, server, port, IpProtocols.Tcp);
            if (names.Length > 0)
                edge.L7 = new EdgeL7Facts { Names = names.Select(n => new PeerName(n, 1, DateTime.UnixEpoch, DateTime.UnixEpoch)).ToArray() };
            return edge;
        }
        var byName = intent.Evaluate(Edge(443, "api.example.com"));
        Assert.True(byName.Allowed);
        Assert.Equal(new IntentRule("shop/web-out", "egress[0]", "CiliumNetworkPolicy"), Assert.Single(byName.MatchedRules));
        Assert.True(intent.Evaluate(Edge(443, "img.cdn.example.net")).Allowed);
        Assert.False(intent.Evaluate(Edge(443, "evil.example.org")).Allowed);
        Assert.False(intent.Evaluate(Edge(80, "api.example.com")).Allowed); // toPorts still apply
        var nameless = intent.Evaluate(Edge(443));
        Assert.False(nameless.Allowed);
        Assert.Contains("no DNS names", nameless.Reason, StringComparison.Ordinal);
        Assert.False(intent.Evaluate(Web, server, 443, IpProtocols.Tcp).Allowed); // endpoints alone carry no names
    }

    [Fact]
    public void Each_spec_of_a_policy_selects_with_its_own_selector_and_host_policies_are_noted()
    {
        using var files = new PolicyFiles();
        files.Write("p.yaml", """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: two, namespace: shop}
            specs:
              - endpointSelector: {matchLabels: {app: db}}
                ingress: [{fromEndpoints: [{matchLabels: {app: web}}]}]
              - endpointSelector: {matchLabels: {app: batch}}
                egress: [{toEntities: [world]}]
              - nodeSelector: {}
                ingress: [{}]
            """);
        var set = files.Load();
        Assert.Equal(1, set.CiliumPolicyCount);
        Assert.Contains(set.Notes, n => n.Contains("nodeSelector (host policies) not evaluated", StringComparison.Ordinal));
        var intent = new IntentEvaluator(set);
        Assert.True(Allows(intent, Web, Db, 5432));
        Assert.False(Allows(intent, Batch, Db, 5432));
        Assert.False(Allows(intent, Batch, Web, 80)); // the second spec isolates batch's egress
        Assert.True(Allows(intent, Batch, Ip("203.0.113.7"), 443));
        Assert.True(Allows(intent, Db, Web, 80));
        Assert.Contains(new IntentRule("shop/two", "specs[1].egress[0]", "CiliumNetworkPolicy"), intent.Rules);
    }

    [Fact]
    public void Unresolvable_peers_are_not_taken_as_allowing_and_the_reason_says_so()
    {
        var intent = From("""
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: web-out, namespace: shop}
            spec:
              endpointSelector: {matchLabels: {app: web}}
              egress: [{toServices: [{k8sService: {serviceName: db, namespace: shop}}]}]
            """);
        var decision = intent.Evaluate(Web, Db, 5432, IpProtocols.Tcp);
        Assert.False(decision.Allowed);
        Assert.Contains("CiliumNetworkPolicy shop/web-out egress[0] may", decision.Reason, StringComparison.Ordinal);
    }
}
