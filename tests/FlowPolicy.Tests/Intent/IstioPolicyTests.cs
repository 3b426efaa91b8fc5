using FlowPolicy.Analytics.Intent;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using static FlowPolicy.Tests.Intent.PolicyFiles;

namespace FlowPolicy.Tests.Intent;

/// <summary>
/// The L3/L4 part of Istio AuthorizationPolicies as the server's sidecar enforces it (istio/api
/// security/v1beta1/authorization_policy.proto): DENY wins, an applying ALLOW policy must match, no ALLOW policy
/// allows; selectors, namespace-wide and root-namespace policies; principals, namespaces, ipBlocks, ports; and the
/// AND with the network layer.
/// </summary>
public sealed class IstioPolicyTests
{
    private static Endpoint Workload(string ns, string name, string? serviceAccount) =>
        Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, ns, name, "Deployment", labels: [new("app", name)]) { ServiceAccount = serviceAccount });

    private static readonly Endpoint Db = Workload("shop", "db", "db");
    private static readonly Endpoint Web = Workload("shop", "web", "web");
    private static readonly Endpoint Batch = Workload("shop", "batch", "batch");
    private static readonly Endpoint WebWithoutAccount = Workload("shop", "web", null);
    private static readonly Endpoint ToolsWeb = Workload("tools", "web", "web");

    private static string Policy(string name, string ns, string spec) =>
        $"apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n" + spec;

    /// <summary>ALLOW on app=db: web's principal on 5432.</summary>
    private static readonly string DbFromWeb = Policy("db", "shop", """
          selector: {matchLabels: {app: db}}
          action: ALLOW
          rules:
            - from: [{source: {principals: ["cluster.local/ns/shop/sa/web"]}}]
              to: [{operation: {ports: ["5432"]}}]
        """);

    [Fact]
    public void An_allow_policy_admits_only_what_one_of_its_rules_matches_and_names_the_rule()
    {
        var intent = From(DbFromWeb);
        var allowed = intent.Evaluate(Web, Db, 5432, IpProtocols.Tcp);
        Assert.True(allowed.Allowed, allowed.Reason);
        Assert.Equal(new IntentRule("shop/db", "rules[0]", "AuthorizationPolicy"), Assert.Single(allowed.MatchedRules));
        Assert.Equal([new IntentRule("shop/db", "rules[0]", "AuthorizationPolicy")], intent.Rules);

        var denied = intent.Evaluate(Batch, Db, 5432, IpProtocols.Tcp);
        Assert.False(denied.Allowed);
        Assert.Contains("AuthorizationPolicy shop/db (ALLOW) applies", denied.Reason, StringComparison.Ordinal);
        Assert.False(Allows(intent, Web, Db, 5433));
        // Not selected: no ALLOW policy applies, allowed. UDP and a node's probe never reach the authoriser.
        Assert.True(Allows(intent, Batch, Web, 80));
        Assert.True(Allows(intent, Batch, Db, 5432, IpProtocols.Udp));
        Assert.True(Allows(intent, Node("n1"), Db, 8080));
    }

    [Fact]
    public void An_allow_policy_without_rules_allows_nothing_and_an_empty_rule_allows_everything()
    {
        var nothing = From(Policy("allow-nothing", "shop", "  {}\n"));
        Assert.False(Allows(nothing, Web, Db, 5432));
        Assert.False(Allows(nothing, Ip("203.0.113.9"), Db, 5432));
        Assert.Empty(nothing.Rules);
        var everything = From(Policy("allow-all", "shop", "  rules: [{}]\n"));
        Assert.True(Allows(everything, Web, Db, 5432));
        Assert.True(Allows(everything, Ip("203.0.113.9"), Db, 1));
        // An empty rule beside allow-nothing: ALLOW policies add up.
        Assert.True(Allows(From(Policy("allow-nothing", "shop", "  {}\n") + "\n---\n" + DbFromWeb), Web, Db, 5432));
        Assert.False(Allows(From(Policy("allow-nothing", "shop", "  {}\n") + "\n---\n" + DbFromWeb), Web, Batch, 80));
    }

    [Fact]
    public void A_matching_deny_policy_wins_over_every_allow_and_a_deny_without_rules_denies_nothing()
    {
        string deny = Policy("deny-web", "shop", """
              action: DENY
              rules: [{from: [{source: {namespaces: ["shop"]}}], to: [{operation: {notPorts: ["80"]}}]}]
            """);
        var intent = From(Policy("allow-all", "shop", "  rules: [{}]\n") + "\n---\n" + deny);
        var denied = intent.Evaluate(Web, Db, 5432, IpProtocols.Tcp);
        Assert.False(denied.Allowed);
        Assert.Contains("denied by AuthorizationPolicy shop/deny-web rules[0] (DENY)", denied.Reason, StringComparison.Ordinal);
        Assert.True(Allows(intent, Web, Db, 80));       // notPorts
        Assert.True(Allows(intent, ToolsWeb, Db, 5432)); // another namespace
        Assert.True(Allows(From(Policy("d", "shop", "  action: DENY\n")), Web, Db, 5432));
        // A DENY rule on methods denies some requests (the L7 evaluator's), not the connection.
        Assert.True(Allows(From(Policy("d", "shop", "  action: DENY\n  rules: [{to: [{operation: {methods: [DELETE]}}]}]\n")), Web, Db, 5432));
        // CUSTOM and AUDIT decide nothing here.
        Assert.True(Allows(From(Policy("c", "shop", "  action: CUSTOM\n  provider: {name: ext}\n  rules: [{}]\n")), Web, Db, 5432));
        Assert.True(Allows(From(Policy("a", "shop", "  action: AUDIT\n  rules: [{}]\n")), Web, Db, 5432));
    }

    [Fact]
    public void Selector_namespace_wide_and_root_namespace_policies_apply_where_istio_applies_them()
    {
        string allowNothing(string ns) => Policy("allow-nothing", ns, "  {}\n");
        // No selector: every workload of its namespace, none elsewhere.
        Assert.False(Allows(From(allowNothing("shop")), Web, Batch, 80));
        Assert.True(Allows(From(allowNothing("shop")), Web, ToolsWeb, 80));
        // The root namespace: the mesh; a custom root namespace is an option.
        Assert.False(Allows(From(allowNothing("istio-system")), Web, ToolsWeb, 80));
        Assert.True(Allows(From(allowNothing("mesh-root")), Web, ToolsWeb, 80));
        Assert.False(Allows(From(allowNothing("mesh-root"), new IntentEvaluatorOptions { Istio = IstioMesh.Default with { RootNamespace = "mesh-root" } }), Web, ToolsWeb, 80));
        // A selector: only workloads with every label, in its namespace.
        var selected = From(Policy("db-only", "shop", "  selector: {matchLabels: {app: db}}\n"));
        Assert.False(Allows(selected, Web, Db, 5432));
        Assert.True(Allows(selected, Web, Batch, 5432));
        Assert.True(Allows(selected, Web, Workload("tools", "db", "db"), 5432));
        // targetRefs are not resolved: the policy is not applied here.
        Assert.True(Allows(From(Policy("gw", "shop", "  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: gw}]\n")), Web, Db, 5432));
    }

    [Fact]
    public void Principals_need_the_clients_service_account_unknown_ones_do_not_allow_and_do_deny()
    {
        var allow = From(DbFromWeb);
        var maybe = allow.Evaluate(WebWithoutAccount, Db, 5432, IpProtocols.Tcp);
        Assert.False(maybe.Allowed);
        Assert.Contains("AuthorizationPolicy shop/db rules[0] may", maybe.Reason, StringComparison.Ordinal);
        Assert.Contains("service account", maybe.Reason, StringComparison.Ordinal);
        // Address clients have no mTLS identity: principals never match them, notPrincipals always do.
        Assert.False(Allows(allow, Ip("203.0.113.9"), Db, 5432));
        var notWeb = From(Policy("p", "shop", "  rules: [{from: [{source: {notPrincipals: [\"cluster.local/ns/shop/sa/web\"]}}]}]\n"));
        Assert.False(Allows(notWeb, Web, Db, 5432));
        Assert.True(Allows(notWeb, Batch, Db, 5432));
        Assert.True(Allows(notWeb, Ip("203.0.113.9"), Db, 5432));
        // Prefix and suffix matches as the proto defines them; the trust domain is an option.
        Assert.True(Allows(From(Policy("p", "shop", "  rules: [{from: [{source: {principals: [\"*/sa/web\"]}}]}]\n")), Web, Db, 5432));
        Assert.False(Allows(From(Policy("p", "shop", "  rules: [{from: [{source: {principals: [\"*/sa/web\"]}}]}]\n")), Batch, Db, 5432));
        Assert.False(Allows(From(DbFromWeb, new IntentEvaluatorOptions { Istio = IstioMesh.Default with { TrustDomain = "corp.example" } }), Web, Db, 5432));

        var deny = From(Policy("d", "shop", "  action: DENY\n  rules: [{from: [{source: {principals: [\"cluster.local/ns/shop/sa/web\"]}}]}]\n"));
        Assert.False(Allows(deny, Web, Db, 5432));
        Assert.True(Allows(deny, Batch, Db, 5432));
        var unknown = deny.Evaluate(WebWithoutAccount, Db, 5432, IpProtocols.Tcp);
        Assert.False(unknown.Allowed);
        Assert.Contains("may deny", unknown.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Namespaces_ip_blocks_ports_and_request_fields_at_l4()
    {
        var ns = From(Policy("p", "shop", "  rules: [{from: [{source: {namespaces: [tools]}}]}]\n"));
        Assert.True(Allows(ns, ToolsWeb, Db, 5432));
        Assert.False(Allows(ns, Web, Db, 5432));
        Assert.False(Allows(ns, Ip("203.0.113.9"), Db, 5432));
        Assert.True(Allows(From(Policy("p", "shop", "  rules: [{from: [{source: {notNamespaces: [tools]}}]}]\n")), Web, Db, 5432));
        Assert.False(Allows(From(Policy("p", "shop", "  rules: [{from: [{source: {notNamespaces: [tools]}}]}]\n")), ToolsWeb, Db, 5432));

        var blocks = From(Policy("p", "shop", "  rules: [{from: [{source: {ipBlocks: [203.0.113.0/24], notIpBlocks: [203.0.113.7]}}]}]\n"));
        Assert.True(Allows(blocks, Ip("203.0.113.9"), Db, 5432));
        Assert.False(Allows(blocks, Ip("203.0.113.7"), Db, 5432));
        Assert.False(Allows(blocks, Ip("198.51.100.1"), Db, 5432));

        var ports = From(Policy("p", "shop", "  rules: [{to: [{operation: {ports: [\"8080\", \"9090\"]}}, {operation: {notPorts: [\"1\", \"2\"], ports: [\"2\", \"3\"]}}]}]\n"));
        Assert.True(Allows(ports, Web, Db, 8080));
        Assert.True(Allows(ports, Web, Db, 3));
        Assert.False(Allows(ports, Web, Db, 2));
        Assert.False(Allows(ports, Web, Db, 80));

        // Methods, paths, requestPrincipals and when are judged per request (L7): at L4 they let the port through.
        var l7 = From(Policy("p", "shop", """
              rules:
                - from: [{source: {requestPrincipals: ["*"]}}]
                  to: [{operation: {ports: ["8080"], methods: [GET], paths: ["/api/*"]}}]
                  when: [{key: "request.headers[x-user]", values: [admin]}]
            """));
        Assert.True(Allows(l7, Web, Db, 8080));
        Assert.False(Allows(l7, Web, Db, 8081));
    }

    [Fact]
    public void Istio_is_anded_with_the_network_layer_and_with_flow_policies()
    {
        const string NetworkPolicy = """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: db, namespace: shop}
            spec:
              podSelector: {matchLabels: {app: db}}
              ingress:
                - from: [{podSelector: {matchLabels: {app: batch}}}]
            """;
        var both = From(NetworkPolicy + "\n---\n" + DbFromWeb);
        // Istio allows web, the NetworkPolicy does not; the NetworkPolicy allows batch, Istio does not.
        var web = both.Evaluate(Web, Db, 5432, IpProtocols.Tcp);
        Assert.False(web.Allowed);
        Assert.Contains("isolated for ingress by shop/db", web.Reason, StringComparison.Ordinal);
        Assert.Equal(new IntentRule("shop/db", "rules[0]", "AuthorizationPolicy"), Assert.Single(web.MatchedRules));
        var batch = both.Evaluate(Batch, Db, 5432, IpProtocols.Tcp);
        Assert.False(batch.Allowed);
        Assert.Contains("Istio: AuthorizationPolicy shop/db (ALLOW)", batch.Reason, StringComparison.Ordinal);
        Assert.Equal(new IntentRule("shop/db", "ingress[0]", "NetworkPolicy"), Assert.Single(batch.MatchedRules));
        // Both allow: allowed, by both rules.
        var open = From(NetworkPolicy.Replace("app: batch", "app: web", StringComparison.Ordinal) + "\n---\n" + DbFromWeb).Evaluate(Web, Db, 5432, IpProtocols.Tcp);
        Assert.True(open.Allowed, open.Reason);
        Assert.Equal(2, open.MatchedRules.Count);
    }

    [Fact]
    public void The_indexed_evaluator_and_the_endpoint_classes_agree_with_the_reference()
    {
        string yaml = DbFromWeb + "\n---\n" + Policy("allow-nothing", "shop", "  {}\n") + "\n---\n"
            + Policy("deny-tools", "istio-system", "  action: DENY\n  rules: [{from: [{source: {namespaces: [tools]}}], to: [{operation: {ports: [\"22\"]}}]}]\n")
            + "\n---\n" + Policy("web", "shop", "  selector: {matchLabels: {app: web}}\n  rules: [{from: [{source: {ipBlocks: [203.0.113.0/24]}}, {source: {namespaces: [tools]}}]}]\n");
        var indexed = From(yaml);
        var reference = From(yaml, new IntentEvaluatorOptions { UseIndex = false });
        Endpoint[] endpoints = [Db, Web, Batch, WebWithoutAccount, ToolsWeb, Ip("203.0.113.9"), Ip("198.51.100.1"), Node("n1")];
        var classes = indexed.Classify(endpoints)!;
        foreach (var client in endpoints)
            foreach (var server in endpoints)
                foreach (ushort port in (ushort[])[22, 80, 5432])
                {
                    bool expected = reference.Evaluate(client, server, port, IpProtocols.Tcp).Allowed;
                    Assert.Equal(expected, indexed.Evaluate(client, server, port, IpProtocols.Tcp).Allowed);
                    Assert.Equal(expected, indexed.Allows(client, server, port, IpProtocols.Tcp));
                }
        // Clients the sources tell apart are in different classes: web (principal) and batch; web without an account;
        // addresses in and out of the ipBlock. Servers by the policies applying to them.
        Assert.NotEqual(classes.ClientClass[1], classes.ClientClass[2]);
        Assert.NotEqual(classes.ClientClass[1], classes.ClientClass[3]);
        Assert.NotEqual(classes.ClientClass[5], classes.ClientClass[6]);
        int ServerClass(Endpoint e) => classes.ServerClass[Array.IndexOf(endpoints, e)];
        Assert.NotEqual(ServerClass(Db), ServerClass(Batch));
    }
}
