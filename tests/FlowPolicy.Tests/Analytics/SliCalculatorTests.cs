using FlowPolicy.Analytics.Slis;
using FlowPolicy.Core.Edges;
using static FlowPolicy.Tests.Analytics.TestEdges;

namespace FlowPolicy.Tests.Analytics;

public sealed class SliCalculatorTests
{
    private static readonly Endpoint Frontend = Workload("shop", "frontend");
    private static readonly Endpoint Cart = Workload("shop", "cart");
    private static readonly Endpoint Redis = Workload("shop", "redis");
    private static readonly Endpoint Debug = Workload("shop", "debug");
    private static readonly Endpoint Postgres = Workload("data", "postgres");
    private static readonly Endpoint Scanner = Address("10.9.9.9");
    private static readonly Endpoint Client = Address("203.0.113.5");

    private static readonly AnalysisWindow Hour = new(Start, Start.AddHours(1));

    /// <summary>
    /// frontend -> cart:7070 100 allowed (intended); cart -> redis:6379 40 allowed + 10 denied (intended: the 10 are
    /// enforcement stricter than intent); debug -> postgres:5432 5 allowed (not intended: outage risk); scanner ->
    /// cart:22 20 denied (not intended, consistently denied); internet -> frontend:443 30 allowed (intended);
    /// checkout -> payment:443 is intended but never seen (stale).
    /// </summary>
    private static (List<Edge> Edges, TestIntent Intent) Scenario()
    {
        var edges = new List<Edge>
        {
            Edge(Frontend, Cart, 7070, allowed: 100, bytes: 10_000),
            Edge(Cart, Redis, 6379, allowed: 40, denied: 10, bytes: 5_000),
            Edge(Debug, Postgres, 5432, allowed: 5, bytes: 50_000),
            Edge(Scanner, Cart, 22, allowed: 0, denied: 20, bytes: 1_000),
            Edge(Client, Frontend, 443, allowed: 30, bytes: 4_000),
        };
        var intent = new TestIntent()
            .Allow("shop/frontend", "shop/cart", 7070, "frontend-to-cart")
            .Allow("shop/cart", "shop/redis", 6379, "cart-to-redis")
            .Allow("internet", "shop/frontend", 443, "internet-to-frontend")
            .Allow("shop/checkout", "payments/payment", 443, "checkout-to-payment");
        return (edges, intent);
    }

    [Fact]
    public void Compliance_rate_is_the_share_of_request_flows_and_of_bytes_the_intent_allows()
    {
        var (edges, intent) = Scenario();
        var report = SliCalculator.Compute(edges, intent, Hour);

        Assert.Equal(205, report.Overall.Flows);
        Assert.Equal((100 + 50 + 30) / 205.0, report.Overall.ComplianceRate);
        Assert.Equal((10_000 + 5_000 + 4_000) / 70_000.0, report.Overall.BytesComplianceRate);
        Assert.Equal(100 / 120.0, report.PerService["shop/cart"].ComplianceRate);
        Assert.Equal(0.0, report.PerService["data/postgres"].ComplianceRate);
        Assert.Equal(1.0, report.PerService["shop/frontend"].ComplianceRate);
    }

    [Fact]
    public void Denied_flow_rate_divides_denied_flows_by_the_window_minutes()
    {
        var (edges, intent) = Scenario();
        var report = SliCalculator.Compute(edges, intent, Hour);

        Assert.Equal(30, report.Overall.DeniedFlows);
        Assert.Equal(0.5, report.Overall.DeniedFlowsPerMinute);
        Assert.Equal(20 / 60.0, report.PerService["shop/cart"].DeniedFlowsPerMinute);
        Assert.Equal(10 / 60.0, report.PerService["shop/redis"].DeniedFlowsPerMinute);
    }

    [Fact]
    public void Drift_lists_unintended_edges_stale_rules_and_mismatches_in_both_directions()
    {
        var (edges, intent) = Scenario();
        var report = SliCalculator.Compute(edges, intent, Hour);

        Assert.Equal(["10.9.9.9 -> shop/cart:22", "shop/debug -> data/postgres:5432"],
            report.UnintendedEdges.Select(e => $"{e.Edge.Client} -> {e.Edge.Server}:{e.Edge.Port}"));
        Assert.Equal(["test/checkout-to-payment ingress[0]"], report.StaleRules.Select(r => r.ToString()));
        Assert.Equal(
            ["shop/cart -> shop/redis:6379 ObservedDeniedIntentAllows 10", "shop/debug -> data/postgres:5432 ObservedAllowedIntentDenies 5"],
            report.VerdictMismatches.Select(m => $"{m.Edge.Client} -> {m.Edge.Server}:{m.Edge.Port} {m.Kind} {m.Flows}"));
        Assert.Equal(1, report.PerService["shop/cart"].UnintendedEdges);
        Assert.Equal(1, report.PerService["shop/redis"].VerdictMismatches);
    }

    [Fact]
    public void Bare_addresses_are_not_services_and_reply_only_edges_are_not_flows()
    {
        var (edges, intent) = Scenario();
        var egress = Address("198.51.100.10");
        edges.Add(Edge(Cart, egress, 443, allowed: 3));
        edges.Add(Edge(Frontend, Redis, 6379, allowed: 0)); // reply halves only
        var report = SliCalculator.Compute(edges, intent, Hour);

        Assert.DoesNotContain("198.51.100.10", report.PerService.Keys);
        Assert.Equal(208, report.Overall.Flows);
        Assert.DoesNotContain(report.UnintendedEdges, e => e.Edge.Client == Frontend && e.Edge.Server == Redis);
        Assert.Contains(report.UnintendedEdges, e => e.Edge.Server == egress);
    }

    [Fact]
    public void A_window_without_flows_has_no_compliance_rate_rather_than_a_perfect_one()
    {
        var report = SliCalculator.Compute([], new TestIntent().Allow("*", "shop/cart", 1, "r"), Hour);
        Assert.Null(report.Overall.ComplianceRate);
        Assert.Equal(0, report.Overall.DeniedFlowsPerMinute);
        Assert.Single(report.StaleRules);
    }

    [Fact]
    public void Blast_radius_counts_workloads_reachable_transitively_under_intent_and_under_observation()
    {
        var (edges, intent) = Scenario();
        var report = SliCalculator.Compute(edges, intent, Hour);

        // Observed: frontend -> cart -> redis; debug -> postgres. Intended: frontend -> cart -> redis only.
        Assert.Equal(new BlastRadiusCount(2, 2), report.BlastRadius["shop/frontend"]);
        Assert.Equal(new BlastRadiusCount(1, 1), report.BlastRadius["shop/cart"]);
        Assert.Equal(new BlastRadiusCount(0, 1), report.BlastRadius["shop/debug"]);
        Assert.Equal(new BlastRadiusCount(0, 0), report.BlastRadius["data/postgres"]);
        Assert.DoesNotContain("10.9.9.9", report.BlastRadius.Keys);
    }

    [Fact]
    public void Intended_reach_uses_ports_the_server_was_observed_serving_even_between_pairs_never_seen_talking()
    {
        var (edges, _) = Scenario();
        // "*" may reach postgres:5432: every workload, including ones never seen talking to it, gets that reach.
        var intent = new TestIntent().Allow("*", "data/postgres", 5432, "anyone-to-postgres").Allow("*", "shop/redis", 9999, "unused-port");
        var report = SliCalculator.Compute(edges, intent, Hour);

        Assert.Equal(1, report.BlastRadius["shop/frontend"].Intended);
        Assert.Equal(1, report.BlastRadius["shop/redis"].Intended);
        Assert.Equal(0, report.BlastRadius["data/postgres"].Intended);
    }
}
