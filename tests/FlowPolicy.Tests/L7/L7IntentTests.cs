using FlowPolicy.Analytics.Intent;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Tests.Suggest;

namespace FlowPolicy.Tests.L7;

/// <summary>
/// The L7 half of the intent (Cilium rules.http/dns, toFQDNs, Istio methods/paths) judged against the sample's real
/// Hubble L7 records: frontend -> catalog calls ListProducts and GetProduct over gRPC, checkout -> payment Charge, and
/// the shop resolves api.payments.example.com and img-N.objects.example.net through kube-dns.
/// </summary>
public sealed class L7IntentTests(SampleSuggestion sample) : IClassFixture<SampleSuggestion>, IDisposable
{
    private const string ListProducts = "/hipstershop.ProductCatalogService/ListProducts";
    private const string GetProduct = "/hipstershop.ProductCatalogService/GetProduct";
    private const string Charge = "/hipstershop.PaymentService/Charge";

    private readonly string _dir = Directory.CreateTempSubdirectory("flowpolicy-l7intent-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private L7BacktestResult Check(string yaml)
    {
        var file = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".yaml");
        File.WriteAllText(file, yaml);
        var set = new IntentPolicyLoader().Load(file);
        return new L7Backtest(new L7IntentEvaluator(set)).Run(sample.Edges);
    }

    private static List<string> Denied(L7BacktestResult result) =>
        result.Denied.Select(d => $"{d.Edge.Client.Key} -> {d.Edge.Server.Key}:{d.Edge.Port} {d.Decision.Operation}").Order(StringComparer.Ordinal).ToList();

    private Edge EdgeOf(string client, string server, ushort port) =>
        Assert.Single(sample.Edges, e => e.Client.Key == client && e.Server.Key == server && e.Port == port);

    private static string CiliumIngress(string server, string client, ushort port, string rules) => $$$"""
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: {{{server}}}, namespace: shop}
        spec:
          endpointSelector: {matchLabels: {app: {{{server}}}}}
          ingress:
            - fromEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": shop, app: {{{client}}}}}]
              toPorts:
                - ports: [{port: "{{{port}}}", protocol: TCP}]
        {{{rules}}}
        ---

        """;

    [Fact]
    public void Cilium_http_rules_deny_exactly_the_observed_calls_they_do_not_list_with_the_request_counts()
    {
        var result = Check(
            CiliumIngress("catalog", "frontend", 3550, """
                      rules:
                        http:
                          - {method: POST, path: "/hipstershop\\.ProductCatalogService/List.*"}
            """) +
            CiliumIngress("payment", "checkout", 50051, """
                      rules:
                        http:
                          - {method: GET, path: "/hipstershop\\.PaymentService/Charge"}
            """));

        Assert.Equal(
        [
            $"shop/checkout -> shop/payment:50051 POST {Charge}",
            $"shop/frontend -> shop/catalog:3550 POST {GetProduct}",
        ], Denied(result));
        var getProduct = Assert.Single(result.Denied, d => d.Decision.Operation.Resource == GetProduct);
        var observed = Assert.Single(EdgeOf("shop/frontend", "shop/catalog", 3550).L7!.Operations, o => o.Resource == GetProduct);
        Assert.Equal(observed.Requests, getProduct.Decision.Operation.Requests);
        Assert.True(observed.Requests > 100, $"{observed.Requests} requests");
        Assert.Contains("CiliumNetworkPolicy shop/catalog ingress[0]", getProduct.Decision.Reason);
        Assert.Equal(result.Denied.Sum(d => d.Decision.Operation.Requests), result.DeniedRequests);
        Assert.False(result.Passed);
        // ListProducts is allowed by the regex; the rule's path regex is anchored as Envoy matches it ("List.*" covers it).
        Assert.Equal(3, result.JudgedOperations);
    }

    [Fact]
    public void Slis_per_operation_count_the_requests_the_l7_rules_deny_and_those_the_port_denies()
    {
        var file = Path.Combine(_dir, "l7.yaml");
        File.WriteAllText(file, CiliumIngress("catalog", "frontend", 3550, """
                      rules:
                        http:
                          - {method: POST, path: "/hipstershop\\.ProductCatalogService/ListProducts"}
            """));
        var l7 = new L7IntentEvaluator(new IntentPolicyLoader().Load(file));
        // L4: everything allowed except checkout -> payment (a FlowPolicy denying it).
        var l4File = Path.Combine(_dir, "l4.yaml");
        File.WriteAllText(l4File, "apiVersion: flowpolicy.dev/v1\nkind: FlowPolicy\nmetadata: {name: p}\nspec:\n  defaultAction: allow\n  rules:\n    - {name: no-pay, action: deny, from: shop/checkout, to: shop/payment}\n");
        var l4 = new IntentEvaluator(new IntentPolicyLoader().Load(l4File));
        var report = FlowPolicy.Analytics.Slis.SliCalculator.Compute(sample.Edges, l4, AnalysisWindow.Spanning(sample.Edges), l7);

        var get = Assert.Single(report.L7Operations, o => o.Resource == GetProduct);
        var list = Assert.Single(report.L7Operations, o => o.Resource == ListProducts);
        var charge = Assert.Single(report.L7Operations, o => o.Resource == Charge);
        var observed = Assert.Single(EdgeOf("shop/frontend", "shop/catalog", 3550).L7!.Operations, o => o.Resource == GetProduct);
        Assert.Equal(("shop/catalog", (ushort)3550, observed.Requests, observed.Requests, observed.Requests, 0.0),
            (get.Server, get.Port, get.Requests, get.RequestsDeniedAtL7, get.RequestsDeniedByIntent, get.ComplianceRate!.Value));
        Assert.Contains("CiliumNetworkPolicy shop/catalog ingress[0]", get.DeniedReason);
        Assert.Equal((1.0, 0L), (list.ComplianceRate!.Value, list.RequestsDeniedAtL7));
        Assert.Equal((0.0, 0L, charge.Requests), (charge.ComplianceRate!.Value, charge.RequestsDeniedAtL7, charge.RequestsDeniedByIntent));
        // DNS operations on the shop's kube-dns edges are there too, allowed (no rule names them).
        Assert.Contains(report.L7Operations, o => o.Protocol == L7Protocol.Dns && o.Resource == "api.payments.example.com" && o.ComplianceRate == 1.0);
    }

    [Fact]
    public void A_cilium_path_regex_matches_the_whole_path_as_envoy_does()
    {
        // "/hipstershop" alone would match as a prefix under an unanchored search: Envoy's safe_regex needs the whole path.
        var result = Check(CiliumIngress("catalog", "frontend", 3550, """
                      rules:
                        http:
                          - {method: POST, path: "/hipstershop"}
            """));
        Assert.Equal(
        [
            $"shop/frontend -> shop/catalog:3550 POST {GetProduct}",
            $"shop/frontend -> shop/catalog:3550 POST {ListProducts}",
        ], Denied(result));
    }

    [Fact]
    public void A_cilium_rule_without_l7_rules_for_the_same_peer_and_port_makes_the_l7_rules_ineffective()
    {
        var yaml = CiliumIngress("catalog", "frontend", 3550, """
                      rules:
                        http:
                          - {method: GET}
            """).Replace("---", """
                - fromEndpoints: [{matchLabels: {app: frontend}}]
                  toPorts: [{ports: [{port: "3550"}]}]
            ---
            """, StringComparison.Ordinal);
        var result = Check(yaml);
        Assert.Empty(result.Denied);
        Assert.Equal(0, result.Edges);
    }

    [Fact]
    public void Istio_paths_follow_istio_matching_prefix_suffix_and_exact()
    {
        var result = Check($$$"""
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: catalog, namespace: shop}
            spec:
              selector: {matchLabels: {app: catalog}}
              action: ALLOW
              rules:
                - from: [{source: {namespaces: [shop]}}]
                  to: [{operation: {ports: ["3550"], methods: [POST], paths: ["/hipstershop.ProductCatalogService/List*"]}}]
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: payment, namespace: shop}
            spec:
              selector: {matchLabels: {app: payment}}
              rules:
                - from: [{source: {namespaces: ["sh*"]}}]
                  to: [{operation: {paths: ["*/Charge"]}}]
            """);
        Assert.Equal([$"shop/frontend -> shop/catalog:3550 POST {GetProduct}"], Denied(result));
        Assert.StartsWith("Istio: AuthorizationPolicy shop/catalog (ALLOW) selects the server", Assert.Single(result.Denied).Decision.Reason);
    }

    [Fact]
    public void An_istio_deny_policy_denies_the_paths_it_names_and_nothing_else()
    {
        var result = Check($$$"""
            apiVersion: security.istio.io/v1beta1
            kind: AuthorizationPolicy
            metadata: {name: no-charges, namespace: istio-system}
            spec:
              action: DENY
              rules:
                - to: [{operation: {methods: ["POST"], paths: ["{{{Charge}}}"]}}]
            """);
        Assert.Equal([$"shop/checkout -> shop/payment:50051 POST {Charge}"], Denied(result));
    }

    [Fact]
    public void An_edge_with_l7_rules_but_no_l7_history_is_not_judged_compliant()
    {
        // frontend -> cart:7070 has flows but no L7 records in the sample.
        Assert.Null(EdgeOf("shop/frontend", "shop/cart", 7070).L7);
        var result = Check(CiliumIngress("cart", "frontend", 7070, """
                      rules:
                        http:
                          - {method: GET, path: "/cart"}
            """));
        Assert.Empty(result.Denied);
        Assert.True(result.Passed);
        var edge = Assert.Single(result.NotObserved);
        Assert.Equal("shop/frontend", edge.Edge.Client.Key);
        Assert.Equal(L7EdgeStatus.NotObserved, edge.Status);
        Assert.StartsWith("L7 not observed, cannot judge: CiliumNetworkPolicy shop/cart ingress[0]", edge.Reason);
        Assert.Equal(0, result.JudgedOperations);
    }

    [Fact]
    public void Cilium_dns_rules_and_toFQDNs_judge_the_names_the_shop_resolved()
    {
        var result = Check("""
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: catalog, namespace: shop}
            spec:
              endpointSelector: {matchLabels: {app: catalog}}
              egress:
                - toEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": kube-system, k8s-app: kube-dns}}]
                  toPorts:
                    - ports: [{port: "53", protocol: ANY}]
                      rules:
                        dns: [{matchName: img-1.objects.example.net}, {matchPattern: "img-2*.objects.example.net"}]
                - toFQDNs: [{matchName: img-1.objects.example.net.}]
                  toPorts: [{ports: [{port: "443", protocol: TCP}]}]
            """);
        // Every name the catalog resolved other than img-1 and img-2 is a denied DNS operation ...
        var deniedQueries = result.Denied.Where(d => d.Decision.Operation.Protocol == L7Protocol.Dns).Select(d => d.Decision.Operation.Resource).Distinct().Order().ToList();
        Assert.Equal(Enumerable.Range(3, 6).Select(i => $"img-{i}.objects.example.net").ToList(), deniedQueries);
        Assert.All(result.Denied, d => Assert.Equal("shop/catalog", d.Edge.Client.Key));
        // ... and every connection reached by another name is a denied name of its edge.
        var deniedNames = result.DeniedNames.Select(d => d.Decision.Name.Name).Distinct().Order().ToList();
        Assert.Equal(Enumerable.Range(2, 7).Select(i => $"img-{i}.objects.example.net").ToList(), deniedNames);
        Assert.All(result.DeniedNames, d => Assert.Equal(443, d.Edge.Port));
    }

    [Fact]
    public void The_suggested_l7_policies_allow_every_observed_operation()
    {
        var set = new IntentPolicyLoader().Load([Path.Combine(sample.OutL7, "cilium"), Path.Combine(sample.OutL7, "istio")]);
        var result = new L7Backtest(new L7IntentEvaluator(set)).Run(sample.Edges);
        Assert.Empty(result.Denied);
        Assert.Empty(result.DeniedNames);
        Assert.True(result.JudgedOperations >= 3, $"{result.JudgedOperations} operations judged");
        // Cilium alone (the Istio principals name service accounts the sample does not carry) allows them outright.
        var cilium = new L7Backtest(new L7IntentEvaluator(new IntentPolicyLoader().Load(Path.Combine(sample.OutL7, "cilium")))).Run(sample.Edges);
        Assert.Empty(cilium.Denied);
        Assert.Empty(cilium.Undetermined);
        Assert.Empty(cilium.DeniedNames);
    }
}

/// <summary>Matching rules on synthetic edges: templates, placeholders, Kafka roles, what the flows cannot show.</summary>
public sealed class L7IntentMatchingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("flowpolicy-l7match-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly DateTime T = new(2026, 11, 2, 0, 0, 0, DateTimeKind.Utc);

    private static Edge EdgeWith(ushort port, params L7Operation[] ops)
    {
        var client = Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, "shop", "web", labels: [new("app", "web")]));
        var server = Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, "shop", "api", labels: [new("app", "api")]));
        return new Edge(client, server, port, 6) { Flows = 10, UnknownVerdictFlows = 10, FirstSeen = T, LastSeen = T, L7 = new EdgeL7Facts { Operations = ops } };
    }

    private static L7Operation Op(L7Protocol protocol, string operation, string resource, long requests = 5) =>
        new() { Protocol = protocol, Operation = operation, Resource = resource, Requests = requests, FirstSeen = T, LastSeen = T };

    private L7EdgeDecision Judge(string rules, Edge edge, string kind = "cilium")
    {
        var file = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".yaml");
        File.WriteAllText(file, kind == "cilium" ? $$$"""
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: api, namespace: shop}
            spec:
              endpointSelector: {matchLabels: {app: api}}
              ingress:
                - fromEndpoints: [{matchLabels: {app: web}}]
                  toPorts:
                    - ports: [{port: "{{{edge.Port}}}"}]
                      rules:
            {{{rules}}}
            """ : rules);
        return new L7IntentEvaluator(new IntentPolicyLoader().Load(file)).Evaluate(edge);
    }

    private static L7Verdict VerdictOf(L7EdgeDecision decision, string resource) => Assert.Single(decision.Operations, o => o.Operation.Resource == resource).Verdict;

    [Fact]
    public void A_template_placeholder_is_allowed_only_when_the_rule_allows_every_value_of_its_class()
    {
        var edge = EdgeWith(8080, Op(L7Protocol.Http, "GET", "/users/{id}/orders"), Op(L7Protocol.Http, "GET", "/files/{uuid}"));
        var wide = Judge("""
                        http:
                          - {method: GET, path: "/users/[0-9]+/orders"}
                          - {method: GET, path: "/files/[0-9a-f-]+"}
            """, edge);
        Assert.Equal(L7Verdict.Allowed, VerdictOf(wide, "/users/{id}/orders"));
        Assert.Equal(L7Verdict.Allowed, VerdictOf(wide, "/files/{uuid}"));
        var one = Judge("""
                        http:
                          - {method: GET, path: "/users/1/orders"}
            """, edge);
        Assert.Equal(L7Verdict.Undetermined, VerdictOf(one, "/users/{id}/orders"));
        Assert.Equal(L7Verdict.Denied, VerdictOf(one, "/files/{uuid}"));
    }

    [Fact]
    public void Header_and_host_conditions_cannot_be_judged_from_flows()
    {
        var edge = EdgeWith(8080, Op(L7Protocol.Http, "GET", "/health"), Op(L7Protocol.Http, "DELETE", "/health"));
        var decision = Judge("""
                        http:
                          - {method: GET, path: /health, headers: ["X-Probe: 1"]}
            """, edge);
        Assert.Equal(L7Verdict.Undetermined, Assert.Single(decision.Operations, o => o.Operation.Operation == "GET").Verdict);
        Assert.Equal(L7Verdict.Denied, Assert.Single(decision.Operations, o => o.Operation.Operation == "DELETE").Verdict);
    }

    [Fact]
    public void Kafka_roles_expand_to_their_api_keys_and_topics_match_exactly()
    {
        var edge = EdgeWith(9092, Op(L7Protocol.Kafka, "produce", "orders"), Op(L7Protocol.Kafka, "fetch", "orders"), Op(L7Protocol.Kafka, "produce", "audit"));
        var decision = Judge("""
                        kafka:
                          - {role: produce, topic: orders}
            """, edge);
        Assert.Equal(L7Verdict.Allowed, decision.Operations.Single(o => o.Operation.Operation == "produce" && o.Operation.Resource == "orders").Verdict);
        Assert.Equal(L7Verdict.Denied, decision.Operations.Single(o => o.Operation.Operation == "fetch").Verdict);
        Assert.Equal(L7Verdict.Denied, decision.Operations.Single(o => o.Operation.Resource == "audit").Verdict);
    }

    [Fact]
    public void Istio_path_templates_match_one_segment_or_the_rest()
    {
        var edge = EdgeWith(8080, Op(L7Protocol.Http, "GET", "/users/{id}/orders"), Op(L7Protocol.Http, "GET", "/users/{id}/orders/{id}/items"));
        var decision = Judge("""
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: api, namespace: shop}
            spec:
              selector: {matchLabels: {app: api}}
              rules:
                - to: [{operation: {methods: [GET], paths: ["/users/{*}/orders"]}}]
            """, edge, kind: "istio");
        Assert.Equal(L7Verdict.Allowed, VerdictOf(decision, "/users/{id}/orders"));
        Assert.Equal(L7Verdict.Denied, VerdictOf(decision, "/users/{id}/orders/{id}/items"));
    }

    [Fact]
    public void A_misspelt_field_of_an_l7_rule_is_an_error_not_a_wider_rule()
    {
        var error = Assert.Throws<PolicyLoadException>(() => Judge("""
                        http:
                          - {method: GET, pathh: /health}
            """, EdgeWith(8080)));
        Assert.Contains("unknown field 'pathh' in a rules.http entry", error.Message);
    }
}
