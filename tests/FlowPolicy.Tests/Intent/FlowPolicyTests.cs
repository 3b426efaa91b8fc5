using FlowPolicy.Analytics.Intent;
using FlowPolicy.Core.Net;
using static FlowPolicy.Tests.Intent.PolicyFiles;

namespace FlowPolicy.Tests.Intent;

/// <summary>Our policy-as-code (flowpolicy.dev/v1 FlowPolicy): patterns, precedence, scope, ports, and how it combines with NetworkPolicy.</summary>
public sealed class FlowPolicyTests
{
    private const string ShopBaseline = """
        apiVersion: flowpolicy.dev/v1
        kind: FlowPolicy
        metadata: {name: shop-baseline}
        spec:
          defaultAction: deny
          appliesTo: {namespace: shop}
          rules:
            - name: frontend-to-cart
              from: {namespace: shop, workload: frontend}
              to: {namespace: shop, workload: cart}
              ports: [{port: 7070, protocol: TCP}]
            - name: dns
              from: {namespace: shop}
              to: kube-system/coredns
              ports: [53/UDP, 53/TCP]
            - name: internet-to-frontend
              from: world
              to: shop/frontend
              ports: [8080]
            - name: probes
              from: node
              to: {namespace: shop}
            - name: payment-gateway
              from: shop/payment
              to: {cidr: 203.0.113.0/24}
              ports: [443]
        """;

    private static readonly IntentEvaluator Baseline = From(ShopBaseline);

    [Fact]
    public void Listed_connections_are_allowed_and_name_their_rule()
    {
        var decision = Baseline.Evaluate(Pod("shop", "frontend"), Pod("shop", "cart"), 7070, IpProtocols.Tcp);
        Assert.True(decision.Allowed);
        Assert.Equal([new IntentRule("policy.yaml#shop-baseline", "frontend-to-cart", "FlowPolicy")], decision.MatchedRules);
        Assert.True(Allows(Baseline, Pod("shop", "cart"), Pod("kube-system", "coredns"), 53, IpProtocols.Udp));
        Assert.True(Allows(Baseline, Pod("shop", "cart"), Pod("kube-system", "coredns"), 53, IpProtocols.Tcp));
        Assert.True(Allows(Baseline, Ip("198.51.100.20"), Pod("shop", "frontend"), 8080));
        Assert.True(Allows(Baseline, Node("node-a"), Pod("shop", "redis"), 6379));
        Assert.True(Allows(Baseline, Pod("shop", "payment"), Ip("203.0.113.10"), 443));
    }

    [Fact]
    public void Unlisted_connections_touching_the_governed_namespace_are_denied_by_default()
    {
        Assert.False(Allows(Baseline, Pod("shop", "frontend"), Pod("shop", "cart"), 7071));
        Assert.False(Allows(Baseline, Pod("shop", "debug-shell"), Pod("shop", "cart"), 7070));
        Assert.False(Allows(Baseline, Pod("shop", "payment"), Ip("198.51.100.7"), 443));
        Assert.False(Allows(Baseline, Ip("10.0.9.99"), Pod("shop", "frontend"), 8080)); // a private address is not "world"
        var decision = Baseline.Evaluate(Pod("monitoring", "prometheus"), Pod("shop", "cart"), 7070, IpProtocols.Tcp);
        Assert.False(decision.Allowed);
        Assert.Contains("policy.yaml#shop-baseline (defaultAction deny) governs", decision.Reason);
    }

    [Fact]
    public void Connections_no_flow_policy_governs_are_allowed()
    {
        Assert.True(Allows(Baseline, Pod("rooms", "a"), Pod("rooms", "b"), 1));
        Assert.True(Allows(Baseline, Ip("203.0.113.1"), Pod("kube-system", "coredns"), 53, IpProtocols.Udp));
    }

    [Fact]
    public void Glob_patterns_match_workload_names_and_label_values()
    {
        var evaluator = From("""
            apiVersion: flowpolicy.dev/v1
            kind: FlowPolicy
            metadata: {name: rooms}
            spec:
              appliesTo: {namespace: rooms}
              rules:
                - name: room-a
                  from: {namespace: rooms, workload: "room-a-*"}
                  to: {namespace: rooms, workload: "room-a-*"}
                - name: labelled
                  from: {labels: {team: "pay*"}}
                  to: {labels: {app: "media"}}
                  ports: ["7100/UDP"]
            """);
        Assert.True(Allows(evaluator, Pod("rooms", "room-a-signal"), Pod("rooms", "room-a-media"), 7100, IpProtocols.Udp));
        Assert.False(Allows(evaluator, Pod("rooms", "room-a-signal"), Pod("rooms", "room-b-media"), 7100, IpProtocols.Udp));
        Assert.True(Allows(evaluator, Pod("x", "y", ("team", "payments")), Pod("rooms", "m", ("app", "media")), 7100, IpProtocols.Udp));
        Assert.False(Allows(evaluator, Pod("x", "y", ("team", "search")), Pod("rooms", "m", ("app", "media")), 7100, IpProtocols.Udp));
        Assert.False(Allows(evaluator, Pod("x", "y", ("team", "payments")), Pod("rooms", "m", ("app", "media")), 7100, IpProtocols.Tcp));
    }

    [Fact]
    public void Deny_rules_win_over_allow_rules_in_any_governing_policy()
    {
        using var files = new PolicyFiles();
        files.Write("allow.yaml", """
            apiVersion: flowpolicy.dev/v1
            kind: FlowPolicy
            metadata: {name: open-shop}
            spec:
              defaultAction: allow
              appliesTo: {namespace: shop}
              rules:
                - {name: all, from: any, to: any}
            """);
        files.Write("security/deny.yaml", """
            apiVersion: flowpolicy.dev/v1
            kind: FlowPolicy
            metadata: {name: no-debug}
            spec:
              defaultAction: allow
              appliesTo: {namespace: shop}
              rules:
                - name: debug-pods
                  action: deny
                  from: {namespace: shop, workload: "debug-*"}
            """);
        var evaluator = files.Evaluator();
        var decision = evaluator.Evaluate(Pod("shop", "debug-shell"), Pod("shop", "cart"), 7070, IpProtocols.Tcp);
        Assert.False(decision.Allowed);
        Assert.Contains("security/deny.yaml#no-debug debug-pods", decision.Reason);
        Assert.True(Allows(evaluator, Pod("shop", "frontend"), Pod("shop", "cart"), 7070));
        // Deny rules are not allow rules: Rules lists only the allow rule.
        Assert.Equal([new IntentRule("allow.yaml#open-shop", "all", "FlowPolicy")], evaluator.Rules);
    }

    [Fact]
    public void A_policy_rules_only_speak_for_connections_it_governs()
    {
        using var files = new PolicyFiles();
        files.Write("shop.yaml", """
            apiVersion: flowpolicy.dev/v1
            kind: FlowPolicy
            metadata: {name: shop}
            spec:
              appliesTo: {namespace: shop}
              direction: ingress
            """);
        files.Write("rooms.yaml", """
            apiVersion: flowpolicy.dev/v1
            kind: FlowPolicy
            metadata: {name: rooms}
            spec:
              appliesTo: {namespace: rooms}
              rules:
                - {name: anything-on-7000, ports: [7000]}
            """);
        var evaluator = files.Evaluator();
        Assert.True(Allows(evaluator, Pod("rooms", "a"), Pod("rooms", "b"), 7000));
        // rooms' rule would match, but rooms does not govern traffic from monitoring into shop.
        Assert.False(Allows(evaluator, Pod("monitoring", "p"), Pod("shop", "cart"), 7000));
        // rooms governs rooms -> shop (its client side), and its rule allows it; shop governs it too (ingress) and
        // an allow rule in any governing policy beats a defaultAction.
        Assert.True(Allows(evaluator, Pod("rooms", "a"), Pod("shop", "cart"), 7000));
    }

    [Fact]
    public void Direction_limits_which_side_a_policy_governs()
    {
        var evaluator = From("""
            apiVersion: flowpolicy.dev/v1
            kind: FlowPolicy
            metadata: {name: egress-only}
            spec:
              appliesTo: {namespace: shop}
              direction: egress
              rules:
                - {name: dns, to: kube-system/coredns, ports: [53/UDP]}
            """);
        Assert.True(Allows(evaluator, Pod("other", "x"), Pod("shop", "cart"), 7070)); // ingress not governed
        Assert.False(Allows(evaluator, Pod("shop", "cart"), Pod("other", "x"), 80));
        Assert.True(Allows(evaluator, Pod("shop", "cart"), Pod("kube-system", "coredns"), 53, IpProtocols.Udp));
    }

    [Fact]
    public void Port_forms_ranges_protocols_and_any()
    {
        var evaluator = From("""
            apiVersion: flowpolicy.dev/v1
            kind: FlowPolicy
            metadata: {name: ports}
            spec:
              appliesTo: shop/web
              rules:
                - {name: range, ports: ["8000-8010/TCP"]}
                - {name: end-port, ports: [{port: 9000, endPort: 9002, protocol: UDP}]}
                - {name: icmp, ports: [ICMP]}
                - {name: any-proto, ports: [{port: 4000, protocol: any}]}
            """);
        var web = Pod("shop", "web");
        var c = Pod("x", "c");
        Assert.True(Allows(evaluator, c, web, 8005));
        Assert.False(Allows(evaluator, c, web, 8011));
        Assert.True(Allows(evaluator, c, web, 9002, IpProtocols.Udp));
        Assert.False(Allows(evaluator, c, web, 9002));
        Assert.True(Allows(evaluator, c, web, 0, IpProtocols.Icmp));
        Assert.True(Allows(evaluator, c, web, 4000, IpProtocols.Sctp));
        Assert.False(Allows(evaluator, c, web, 4001, IpProtocols.Sctp));
    }

    [Fact]
    public void Endpoint_keywords_and_lists_are_ORed()
    {
        var evaluator = From("""
            apiVersion: flowpolicy.dev/v1
            kind: FlowPolicy
            metadata: {name: k}
            spec:
              appliesTo: shop/web
              direction: ingress
              rules:
                - name: some
                  from: [node, "10.0.0.0/8", {service: "ingress-*"}, unknown]
            """);
        var web = Pod("shop", "web");
        Assert.True(Allows(evaluator, Node("n1"), web, 1));
        Assert.True(Allows(evaluator, Ip("10.2.3.4"), web, 1));
        Assert.True(Allows(evaluator, Ip("192.168.0.1"), web, 1)); // unknown private address
        Assert.True(Allows(evaluator, Service("infra", "ingress-nginx"), web, 1));
        Assert.False(Allows(evaluator, Pod("infra", "ingress-nginx"), web, 1));
        Assert.False(Allows(evaluator, Ip("203.0.113.5"), web, 1));
    }

    [Fact]
    public void A_connection_is_allowed_only_when_both_policy_systems_allow_it()
    {
        var evaluator = From("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: cart, namespace: shop}
            spec:
              podSelector: {matchLabels: {app: cart}}
              ingress:
                - from: [{podSelector: {}}]
            ---
            apiVersion: flowpolicy.dev/v1
            kind: FlowPolicy
            metadata: {name: fp}
            spec:
              appliesTo: shop/cart
              rules:
                - {name: frontend, from: shop/frontend, ports: [7070]}
            """);
        var cart = Pod("shop", "cart", ("app", "cart"));
        var both = evaluator.Evaluate(Pod("shop", "frontend"), cart, 7070, IpProtocols.Tcp);
        Assert.True(both.Allowed);
        Assert.Equal(["NetworkPolicy", "FlowPolicy"], both.MatchedRules.Select(r => r.Kind));
        var npOnly = evaluator.Evaluate(Pod("shop", "checkout"), cart, 7070, IpProtocols.Tcp);
        Assert.False(npOnly.Allowed);
        Assert.Contains("no FlowPolicy rule allows", npOnly.Reason);
        Assert.Single(npOnly.MatchedRules); // the NetworkPolicy rule still matched and is reported
        Assert.False(Allows(evaluator, Pod("other", "frontend"), cart, 7070)); // NetworkPolicy denies
    }
}
