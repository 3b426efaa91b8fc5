using FlowPolicy.Analytics.Intent;
using FlowPolicy.Core.Net;
using static FlowPolicy.Tests.Intent.PolicyFiles;

namespace FlowPolicy.Tests.Intent;

/// <summary>
/// Kubernetes NetworkPolicy semantics, with the examples of the Kubernetes "Network Policies" concept page written
/// out as YAML (test-network-policy, default deny/allow all, AND vs OR peers, ipBlock except, endPort, named ports).
/// </summary>
public sealed class NetworkPolicyTests
{
    // The concept page's "test-network-policy", plus the namespace the namespaceSelector names.
    private const string TestNetworkPolicy = """
        apiVersion: v1
        kind: Namespace
        metadata:
          name: myproject-ns
          labels: {project: myproject}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata:
          name: test-network-policy
          namespace: default
        spec:
          podSelector:
            matchLabels:
              role: db
          policyTypes:
            - Ingress
            - Egress
          ingress:
            - from:
                - ipBlock:
                    cidr: 172.17.0.0/16
                    except:
                      - 172.17.1.0/24
                - namespaceSelector:
                    matchLabels:
                      project: myproject
                - podSelector:
                    matchLabels:
                      role: frontend
              ports:
                - protocol: TCP
                  port: 6379
          egress:
            - to:
                - ipBlock:
                    cidr: 10.0.0.0/24
              ports:
                - protocol: TCP
                  port: 5978
        """;

    private static readonly IntentEvaluator Docs = From(TestNetworkPolicy);
    private static readonly Core.Edges.Endpoint Db = Pod("default", "db", ("role", "db"));
    private static readonly Core.Edges.Endpoint Frontend = Pod("default", "frontend", ("role", "frontend"));

    [Fact]
    public void An_ipv6_only_ip_block_never_admits_an_ipv4_peer()
    {
        var policy = From("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata:
              name: v6-clients
              namespace: default
            spec:
              podSelector:
                matchLabels:
                  role: db
              policyTypes: [Ingress, Egress]
              ingress:
                - from:
                    - ipBlock:
                        cidr: ::/0
                        except: [fc00::/7]
              egress:
                - to:
                    - ipBlock:
                        cidr: 0.0.0.0/0
            """);
        Assert.True(Allows(policy, Ip("2001:db8::7"), Db, 6379));
        Assert.False(Allows(policy, Ip("fd00::7"), Db, 6379));
        Assert.False(Allows(policy, Ip("203.0.113.7"), Db, 6379));
        Assert.False(Allows(policy, Ip("10.0.0.7"), Db, 6379));
        // And the reverse: an IPv4-only egress block never reaches an IPv6 address.
        Assert.True(Allows(policy, Db, Ip("198.51.100.1"), 443));
        Assert.False(Allows(policy, Db, Ip("2001:db8::1"), 443));
    }

    [Fact]
    public void Test_network_policy_admits_frontend_pods_of_its_namespace_on_6379_only()
    {
        Assert.True(Allows(Docs, Frontend, Db, 6379));
        Assert.False(Allows(Docs, Frontend, Db, 6380));
        Assert.False(Allows(Docs, Frontend, Db, 6379, IpProtocols.Udp));
        Assert.False(Allows(Docs, Pod("default", "web", ("role", "web")), Db, 6379));
        // A bare podSelector means the policy's namespace: role=frontend elsewhere is not admitted.
        Assert.False(Allows(Docs, Pod("other", "frontend", ("role", "frontend")), Db, 6379));
    }

    [Fact]
    public void Test_network_policy_admits_every_pod_of_namespaces_labelled_project_myproject()
    {
        Assert.True(Allows(Docs, Pod("myproject-ns", "anything"), Db, 6379));
        Assert.False(Allows(Docs, Pod("unlabelled-ns", "anything"), Db, 6379));
    }

    [Fact]
    public void Test_network_policy_ip_block_admits_the_cidr_but_not_its_except()
    {
        Assert.True(Allows(Docs, Ip("172.17.0.5"), Db, 6379));
        Assert.True(Allows(Docs, Ip("172.17.255.1"), Db, 6379));
        Assert.False(Allows(Docs, Ip("172.17.1.5"), Db, 6379));
        Assert.False(Allows(Docs, Ip("172.18.0.1"), Db, 6379));
    }

    [Fact]
    public void Test_network_policy_egress_allows_only_10_0_0_0_24_on_5978()
    {
        Assert.True(Allows(Docs, Db, Ip("10.0.0.7"), 5978));
        Assert.False(Allows(Docs, Db, Ip("10.0.0.7"), 5979));
        Assert.False(Allows(Docs, Db, Ip("10.0.1.7"), 5978));
        // ipBlock names addresses; a workload endpoint is matched by selectors only.
        Assert.False(Allows(Docs, Db, Pod("default", "other"), 5978));
    }

    [Fact]
    public void Pods_no_policy_selects_are_not_isolated()
    {
        var web = Pod("default", "web", ("role", "web"));
        Assert.True(Allows(Docs, web, Pod("kube-system", "coredns"), 53, IpProtocols.Udp));
        Assert.True(Allows(Docs, Ip("198.51.100.1"), web, 443));
        var decision = Docs.Evaluate(web, Frontend, 80, IpProtocols.Tcp);
        Assert.Empty(decision.MatchedRules);
        Assert.Contains("no policy isolates", decision.Reason);
    }

    [Fact]
    public void Matched_rules_name_the_policy_and_rule_on_both_sides()
    {
        var evaluator = From(TestNetworkPolicy + """

            ---
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: frontend-egress, namespace: default}
            spec:
              podSelector: {matchLabels: {role: frontend}}
              policyTypes: [Egress]
              egress:
                - to: [{podSelector: {matchLabels: {role: cache}}}]
                - to: [{podSelector: {matchLabels: {role: db}}}]
            """);
        var decision = evaluator.Evaluate(Frontend, Db, 6379, IpProtocols.Tcp);
        Assert.True(decision.Allowed);
        Assert.Equal(
            [new IntentRule("default/test-network-policy", "ingress[0]", "NetworkPolicy"), new IntentRule("default/frontend-egress", "egress[1]", "NetworkPolicy")],
            decision.MatchedRules);
        Assert.Equal(4, evaluator.Rules.Count);
    }

    [Fact]
    public void Denial_reason_names_the_isolating_policy_and_the_side()
    {
        var decision = Docs.Evaluate(Frontend, Db, 22, IpProtocols.Tcp);
        Assert.False(decision.Allowed);
        Assert.Contains("default/db is isolated for ingress by default/test-network-policy", decision.Reason);
        var egress = Docs.Evaluate(Db, Ip("8.8.8.8"), 53, IpProtocols.Udp);
        Assert.Contains("default/db is isolated for egress", egress.Reason);
    }

    private const string DefaultDenyIngress = """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: default-deny-ingress, namespace: shop}
        spec:
          podSelector: {}
          policyTypes: [Ingress]
        """;

    [Fact]
    public void Default_deny_ingress_isolates_every_pod_of_the_namespace_for_ingress_only()
    {
        var evaluator = From(DefaultDenyIngress);
        var cart = Pod("shop", "cart", ("app", "cart"));
        Assert.False(Allows(evaluator, Pod("shop", "frontend"), cart, 7070));
        Assert.False(Allows(evaluator, Ip("203.0.113.9"), cart, 7070));
        Assert.True(Allows(evaluator, cart, Ip("203.0.113.9"), 443)); // egress untouched
        Assert.True(Allows(evaluator, cart, Pod("other", "x"), 80)); // other namespaces untouched
    }

    [Fact]
    public void Allow_all_ingress_opens_a_namespace_even_next_to_default_deny()
    {
        var evaluator = From(DefaultDenyIngress + """

            ---
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: allow-all-ingress, namespace: shop}
            spec:
              podSelector: {}
              ingress:
                - {}
              policyTypes: [Ingress]
            """);
        var decision = evaluator.Evaluate(Ip("203.0.113.9"), Pod("shop", "cart"), 7070, IpProtocols.Udp);
        Assert.True(decision.Allowed);
        Assert.Equal([new IntentRule("shop/allow-all-ingress", "ingress[0]", "NetworkPolicy")], decision.MatchedRules);
    }

    [Fact]
    public void Default_deny_egress_isolates_egress_only()
    {
        var evaluator = From("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: default-deny-egress, namespace: shop}
            spec:
              podSelector: {}
              policyTypes: [Egress]
            """);
        Assert.False(Allows(evaluator, Pod("shop", "cart"), Pod("kube-system", "coredns"), 53, IpProtocols.Udp));
        Assert.True(Allows(evaluator, Pod("other", "x"), Pod("shop", "cart"), 7070));
    }

    [Fact]
    public void Allow_all_egress_opens_egress()
    {
        var evaluator = From("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: allow-all-egress, namespace: shop}
            spec:
              podSelector: {}
              egress:
                - {}
              policyTypes: [Egress]
            """);
        Assert.True(Allows(evaluator, Pod("shop", "cart"), Ip("8.8.8.8"), 53, IpProtocols.Udp));
    }

    [Fact]
    public void Default_deny_all_isolates_both_directions_and_icmp_too()
    {
        var evaluator = From("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: default-deny-all, namespace: shop}
            spec:
              podSelector: {}
              policyTypes: [Ingress, Egress]
            """);
        Assert.False(Allows(evaluator, Pod("shop", "a"), Pod("other", "b"), 80));
        Assert.False(Allows(evaluator, Pod("other", "b"), Pod("shop", "a"), 80));
        Assert.False(Allows(evaluator, Pod("other", "b"), Pod("shop", "a"), 0, IpProtocols.Icmp));
    }

    [Fact]
    public void Policy_types_default_to_ingress_plus_egress_when_an_egress_section_exists()
    {
        var withEgress = From("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: p, namespace: shop}
            spec:
              podSelector: {matchLabels: {app: cart}}
              egress:
                - to: [{podSelector: {matchLabels: {app: redis}}}]
            """);
        var cart = Pod("shop", "cart", ("app", "cart"));
        Assert.True(Allows(withEgress, cart, Pod("shop", "redis", ("app", "redis")), 6379));
        Assert.False(Allows(withEgress, cart, Pod("shop", "db"), 5432)); // egress isolated
        Assert.False(Allows(withEgress, Pod("shop", "frontend"), cart, 7070)); // ingress isolated though no ingress section

        var ingressOnly = From("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: p, namespace: shop}
            spec:
              podSelector: {matchLabels: {app: cart}}
              ingress:
                - from: [{podSelector: {}}]
            """);
        Assert.True(Allows(ingressOnly, cart, Ip("8.8.8.8"), 53, IpProtocols.Udp)); // not egress isolated
        Assert.True(Allows(ingressOnly, Pod("shop", "frontend"), cart, 7070));
        Assert.False(Allows(ingressOnly, Pod("other", "frontend"), cart, 7070));
    }

    [Fact]
    public void Explicit_policy_types_ignore_a_section_they_do_not_list()
    {
        var evaluator = From("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: p, namespace: shop}
            spec:
              podSelector: {}
              policyTypes: [Egress]
              ingress:
                - {}
              egress:
                - to: [{ipBlock: {cidr: 0.0.0.0/0}}]
            """);
        Assert.DoesNotContain(evaluator.Rules, r => r.Rule.StartsWith("ingress"));
        Assert.True(Allows(evaluator, Pod("shop", "a"), Ip("8.8.8.8"), 53, IpProtocols.Udp));
        Assert.True(Allows(evaluator, Pod("other", "b"), Pod("shop", "a"), 80)); // not ingress isolated
    }

    private const string AndPolicy = """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: and, namespace: server-ns}
        spec:
          podSelector: {}
          ingress:
            - from:
                - namespaceSelector:
                    matchLabels: {user: alice}
                  podSelector:
                    matchLabels: {role: client}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: alice-ns, labels: {user: alice}}
        """;

    private const string OrPolicy = """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: or, namespace: server-ns}
        spec:
          podSelector: {}
          ingress:
            - from:
                - namespaceSelector:
                    matchLabels: {user: alice}
                - podSelector:
                    matchLabels: {role: client}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: alice-ns, labels: {user: alice}}
        """;

    [Theory]
    //          client namespace, role,     AND,   OR
    [InlineData("alice-ns", "client", true, true)]
    [InlineData("alice-ns", "other", false, true)]
    [InlineData("server-ns", "client", false, true)]
    [InlineData("bob-ns", "client", false, false)]
    [InlineData("server-ns", "other", false, false)]
    public void Namespace_and_pod_selector_in_one_peer_is_AND_in_two_peers_is_OR(string ns, string role, bool and, bool or)
    {
        var server = Pod("server-ns", "api");
        var client = Pod(ns, "c", ("role", role));
        Assert.Equal(and, Allows(From(AndPolicy), client, server, 80));
        Assert.Equal(or, Allows(From(OrPolicy), client, server, 80));
    }

    [Fact]
    public void Namespace_selector_matches_the_automatic_metadata_name_label()
    {
        var evaluator = From("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: from-monitoring, namespace: shop}
            spec:
              podSelector: {}
              ingress:
                - from:
                    - namespaceSelector:
                        matchLabels: {kubernetes.io/metadata.name: monitoring}
            """);
        Assert.True(Allows(evaluator, Pod("monitoring", "prometheus"), Pod("shop", "cart"), 7070));
        Assert.False(Allows(evaluator, Pod("batch", "job"), Pod("shop", "cart"), 7070));
    }

    [Fact]
    public void Empty_namespace_selector_matches_every_workload_but_no_address()
    {
        var evaluator = From("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: cluster-only, namespace: shop}
            spec:
              podSelector: {}
              ingress:
                - from: [{namespaceSelector: {}}]
            """);
        Assert.True(Allows(evaluator, Pod("anything", "x"), Pod("shop", "cart"), 1));
        Assert.False(Allows(evaluator, Ip("10.9.9.9"), Pod("shop", "cart"), 1));
        Assert.False(Allows(evaluator, Ip("203.0.113.1"), Pod("shop", "cart"), 1));
    }

    [Fact]
    public void Namespace_labels_come_from_an_extra_namespaces_file()
    {
        using var files = new PolicyFiles();
        files.Write("policies/p.yaml", """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: p, namespace: shop}
            spec:
              podSelector: {}
              ingress:
                - from: [{namespaceSelector: {matchLabels: {team: obs}}}]
            """);
        var namespaces = files.Write("namespaces.json", """
            {"apiVersion": "v1", "kind": "List", "items": [
              {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring", "labels": {"team": "obs"}}}
            ]}
            """);
        var set = new IntentPolicyLoader(new IntentPolicyLoaderOptions { NamespaceFiles = [namespaces] }).Load(Path.Combine(files.Directory, "policies"));
        var evaluator = new IntentEvaluator(set);
        Assert.True(Allows(evaluator, Pod("monitoring", "prometheus"), Pod("shop", "cart"), 7070));
        Assert.False(Allows(evaluator, Pod("logging", "fluentd"), Pod("shop", "cart"), 7070));
    }

    [Theory]
    [InlineData("In", "[a, b]", "a", true)]
    [InlineData("In", "[a, b]", "c", false)]
    [InlineData("In", "[a, b]", null, false)]
    [InlineData("NotIn", "[a, b]", "c", true)]
    [InlineData("NotIn", "[a, b]", "a", false)]
    [InlineData("NotIn", "[a, b]", null, true)]
    [InlineData("Exists", "null", "anything", true)]
    [InlineData("Exists", "null", null, false)]
    [InlineData("DoesNotExist", "null", null, true)]
    [InlineData("DoesNotExist", "null", "x", false)]
    public void Match_expressions_follow_kubernetes_operators(string op, string values, string? tier, bool selected)
    {
        var evaluator = From($$"""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: p, namespace: shop}
            spec:
              podSelector:
                matchExpressions:
                  - {key: tier, operator: {{op}}, values: {{values}}}
              policyTypes: [Ingress]
            """);
        var server = tier is null ? Pod("shop", "x") : Pod("shop", "x", ("tier", tier));
        // Selected pods are isolated (no ingress rules): selection shows as a denial.
        Assert.Equal(!selected, Allows(evaluator, Pod("shop", "client"), server, 80));
    }

    [Fact]
    public void Match_labels_and_match_expressions_are_ANDed()
    {
        var evaluator = From("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: p, namespace: shop}
            spec:
              podSelector:
                matchLabels: {app: cart}
                matchExpressions: [{key: env, operator: In, values: [prod]}]
              policyTypes: [Ingress]
            """);
        var client = Pod("shop", "client");
        Assert.False(Allows(evaluator, client, Pod("shop", "cart", ("app", "cart"), ("env", "prod")), 80));
        Assert.True(Allows(evaluator, client, Pod("shop", "cart", ("app", "cart"), ("env", "dev")), 80));
        Assert.True(Allows(evaluator, client, Pod("shop", "other", ("env", "prod")), 80));
    }

    [Fact]
    public void End_port_allows_the_whole_range_inclusive()
    {
        // The concept page's multi-port-egress example.
        var evaluator = From("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata:
              name: multi-port-egress
              namespace: default
            spec:
              podSelector:
                matchLabels:
                  role: db
              policyTypes:
                - Egress
              egress:
                - to:
                    - ipBlock:
                        cidr: 10.0.0.0/24
                  ports:
                    - protocol: TCP
                      port: 32000
                      endPort: 32768
            """);
        Assert.True(Allows(evaluator, Db, Ip("10.0.0.1"), 32000));
        Assert.True(Allows(evaluator, Db, Ip("10.0.0.1"), 32500));
        Assert.True(Allows(evaluator, Db, Ip("10.0.0.1"), 32768));
        Assert.False(Allows(evaluator, Db, Ip("10.0.0.1"), 31999));
        Assert.False(Allows(evaluator, Db, Ip("10.0.0.1"), 32769));
        Assert.False(Allows(evaluator, Db, Ip("10.0.0.1"), 32000, IpProtocols.Udp));
    }

    private const string NamedPortPolicy = """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: web, namespace: shop}
        spec:
          podSelector: {matchLabels: {app: web}}
          ingress:
            - ports:
                - port: http
                - port: dns
                  protocol: UDP
        """;

    [Fact]
    public void Named_ports_resolve_against_the_server_declared_ports()
    {
        var evaluator = From(NamedPortPolicy, new IntentEvaluatorOptions
        {
            NamedPorts = (server, name, protocol) => (server.Name, name, protocol) switch
            {
                ("web", "http", IpProtocols.Tcp) => 8080,
                ("web", "dns", IpProtocols.Udp) => 5353,
                _ => null,
            },
        });
        var web = Pod("shop", "web", ("app", "web"));
        Assert.True(Allows(evaluator, Pod("a", "b"), web, 8080));
        Assert.True(Allows(evaluator, Pod("a", "b"), web, 5353, IpProtocols.Udp));
        Assert.False(Allows(evaluator, Pod("a", "b"), web, 9090));
        Assert.False(Allows(evaluator, Pod("a", "b"), web, 5353));
    }

    [Fact]
    public void Unresolved_named_ports_match_nothing()
    {
        var evaluator = From(NamedPortPolicy);
        var web = Pod("shop", "web", ("app", "web"));
        Assert.False(Allows(evaluator, Pod("a", "b"), web, 80));
        Assert.False(Allows(evaluator, Pod("a", "b"), web, 8080));
    }

    [Fact]
    public void Ports_without_a_number_allow_every_port_of_their_protocol_and_protocol_defaults_to_tcp()
    {
        var evaluator = From("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: p, namespace: shop}
            spec:
              podSelector: {}
              ingress:
                - ports: [{protocol: UDP}]
                - ports: [{port: 443}]
                - ports: [{protocol: SCTP, port: 9000}]
            """);
        var server = Pod("shop", "x");
        var client = Pod("o", "c");
        Assert.True(Allows(evaluator, client, server, 12345, IpProtocols.Udp));
        Assert.True(Allows(evaluator, client, server, 443));
        Assert.False(Allows(evaluator, client, server, 443, IpProtocols.Sctp));
        Assert.True(Allows(evaluator, client, server, 9000, IpProtocols.Sctp));
        Assert.False(Allows(evaluator, client, server, 9000));
        Assert.False(Allows(evaluator, client, server, 0, IpProtocols.Icmp));
    }

    [Fact]
    public void Ip_block_works_for_ipv6_with_except()
    {
        var evaluator = From("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: v6, namespace: shop}
            spec:
              podSelector: {}
              ingress:
                - from:
                    - ipBlock:
                        cidr: 2001:db8::/32
                        except: [2001:db8:bad::/48]
            """);
        var server = Pod("shop", "web");
        Assert.True(Allows(evaluator, Ip("2001:db8:1::5"), server, 443));
        Assert.False(Allows(evaluator, Ip("2001:db8:bad::5"), server, 443));
        Assert.False(Allows(evaluator, Ip("2001:db9::1"), server, 443));
        Assert.False(Allows(evaluator, Ip("10.0.0.1"), server, 443));
    }

    [Fact]
    public void Ip_block_zero_cidr_matches_every_ipv4_address_but_no_workload()
    {
        var evaluator = From("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: internet, namespace: shop}
            spec:
              podSelector: {}
              ingress:
                - from: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}]
            """);
        var server = Pod("shop", "web");
        Assert.True(Allows(evaluator, Ip("203.0.113.1"), server, 443));
        Assert.True(Allows(evaluator, Ip("192.168.1.1"), server, 443));
        Assert.False(Allows(evaluator, Ip("10.1.1.1"), server, 443));
        Assert.False(Allows(evaluator, Pod("other", "x"), server, 443));
        Assert.False(Allows(evaluator, Ip("2001:db8::1"), server, 443));
    }

    [Fact]
    public void Nodes_always_reach_pods_but_isolated_pods_do_not_reach_nodes()
    {
        var evaluator = From("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: deny-all, namespace: shop}
            spec:
              podSelector: {}
              policyTypes: [Ingress, Egress]
            """);
        var decision = evaluator.Evaluate(Node("node-a"), Pod("shop", "cart"), 7070, IpProtocols.Tcp);
        Assert.True(decision.Allowed);
        Assert.Contains("node", decision.Reason);
        Assert.False(Allows(evaluator, Pod("shop", "cart"), Node("node-a"), 10250));
    }

    [Fact]
    public void A_rule_allowing_the_nodes_by_address_is_matched_though_the_exemption_lets_them_through()
    {
        // What suggest writes for node -> pod (the spec exempts only the pod's own node): an ipBlock per node address.
        const string yaml = """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: cart-ingress, namespace: shop}
            spec:
              podSelector: {matchLabels: {app: cart}}
              policyTypes: [Ingress]
              ingress:
                - from: [{ipBlock: {cidr: 10.0.1.10/32}}, {ipBlock: {cidr: 10.0.1.11/32}}]
                  ports: [{protocol: TCP, port: 7070}]
            """;
        var nodes = new Dictionary<string, IReadOnlyList<PackedIp>> { ["node-a"] = [PackedIp.Parse("10.0.1.10")], ["node-b"] = [PackedIp.Parse("10.0.1.11")] };
        foreach (bool index in new[] { true, false })
        {
            var evaluator = From(yaml, new IntentEvaluatorOptions { NodeAddresses = nodes, UseIndex = index });
            var cart = Pod("shop", "cart", ("app", "cart"));
            var decision = evaluator.Evaluate(Node("node-b"), cart, 7070, IpProtocols.Tcp);
            Assert.True(decision.Allowed);
            Assert.Equal("shop/cart-ingress ingress[0]", Assert.Single(decision.MatchedRules).ToString()); // used, so not reported as stale
            // Another port: the exemption still lets a node through, and no rule claims it.
            decision = evaluator.Evaluate(Node("node-b"), cart, 9090, IpProtocols.Tcp);
            Assert.True(decision.Allowed);
            Assert.Empty(decision.MatchedRules);
        }
    }

    [Fact]
    public void Services_are_selected_and_matched_like_workloads_with_their_labels()
    {
        var evaluator = From("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: p, namespace: shop}
            spec:
              podSelector: {matchLabels: {app: cart}}
              ingress:
                - from: [{podSelector: {matchLabels: {app: frontend}}}]
            """);
        var cartService = Service("shop", "cart", ("app", "cart"));
        Assert.True(Allows(evaluator, Pod("shop", "frontend", ("app", "frontend")), cartService, 80));
        Assert.False(Allows(evaluator, Pod("shop", "other"), cartService, 80));
        Assert.True(Allows(evaluator, Service("shop", "frontend", ("app", "frontend")), cartService, 80));
    }

    [Fact]
    public void Policies_without_namespace_apply_to_default()
    {
        var evaluator = From("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: deny}
            spec:
              podSelector: {}
            """);
        Assert.False(Allows(evaluator, Pod("x", "y"), Pod("default", "a"), 80));
        Assert.True(Allows(evaluator, Pod("x", "y"), Pod("shop", "a"), 80));
        Assert.Equal("default/deny", Assert.Single(From("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: deny}
            spec:
              podSelector: {}
              ingress: [{}]
            """).Rules).Policy);
    }

    [Fact]
    public void Empty_from_list_means_all_sources()
    {
        var evaluator = From("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: p, namespace: shop}
            spec:
              podSelector: {}
              ingress:
                - from: []
                  ports: [{port: 80}]
            """);
        Assert.True(Allows(evaluator, Ip("203.0.113.1"), Pod("shop", "a"), 80));
        Assert.True(Allows(evaluator, Node("n"), Pod("shop", "a"), 81)); // the node exemption, not the rule
        Assert.False(Allows(evaluator, Pod("x", "y"), Pod("shop", "a"), 81));
    }
}
