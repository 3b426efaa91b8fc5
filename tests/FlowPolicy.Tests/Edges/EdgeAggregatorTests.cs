using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Tests.Edges;

public sealed class EdgeAggregatorTests
{
    private static readonly DateTime Monday = new(2026, 11, 2, 0, 0, 0, DateTimeKind.Utc);
    private static readonly WorkloadIdentity Frontend1 = Pod("shop", "frontend", "frontend-abc-1", ("app", "frontend"), ("pod-template-hash", "abc"));
    private static readonly WorkloadIdentity Frontend2 = Pod("shop", "frontend", "frontend-def-2", ("app", "frontend"), ("pod-template-hash", "def"));
    private static readonly WorkloadIdentity Cart = Pod("shop", "cart", "cart-xyz-1", ("app", "cart"));

    [Fact]
    public void Reply_records_add_bytes_but_never_flows()
    {
        var aggregator = new EdgeAggregator();
        aggregator.Add(Flow(Frontend1, Cart, Monday, bytes: 100), isReply: false);
        aggregator.Add(Flow(Frontend1, Cart, Monday.AddSeconds(1), bytes: 5000), isReply: true);
        var edge = Assert.Single(aggregator.ToEdges());
        Assert.Equal(1, edge.Flows);
        Assert.Equal(5100UL, edge.Bytes);
        Assert.Equal(Monday.AddSeconds(1), edge.LastSeen);
    }

    [Fact]
    public void Replicas_of_one_workload_are_one_endpoint_with_stable_labels()
    {
        var aggregator = new EdgeAggregator();
        aggregator.Add(Flow(Frontend1, Cart, Monday), false);
        aggregator.Add(Flow(Frontend2, Cart, Monday), false);
        var edge = Assert.Single(aggregator.ToEdges());
        Assert.Equal("shop/frontend", edge.Client.Key);
        Assert.Equal(2, edge.ClientReplicas);
        Assert.Equal(2, edge.Flows);
        Assert.Null(edge.Client.Label("pod-template-hash"));
        Assert.Equal("frontend", edge.Client.Label("app"));
    }

    [Fact]
    public void Days_and_hours_of_the_week_are_counted_in_utc()
    {
        var aggregator = new EdgeAggregator();
        aggregator.Add(Flow(Frontend1, Cart, Monday.AddHours(1)), false);
        aggregator.Add(Flow(Frontend1, Cart, Monday.AddHours(1.5)), false);
        aggregator.Add(Flow(Frontend1, Cart, Monday.AddDays(6).AddHours(23)), false);
        var edge = Assert.Single(aggregator.ToEdges());
        Assert.Equal([DateOnly.FromDateTime(Monday), DateOnly.FromDateTime(Monday.AddDays(6))], edge.Days);
        Assert.Equal(2, edge.HourOfWeek[1]);
        Assert.Equal(1, edge.HourOfWeek[167]);
        Assert.Equal(3, edge.HourOfWeek.Sum());
    }

    [Fact]
    public void Flows_outside_the_window_are_counted_not_aggregated()
    {
        var aggregator = new EdgeAggregator(Monday, Monday.AddDays(1));
        aggregator.Add(Flow(Frontend1, Cart, Monday.AddSeconds(-1)), false);
        aggregator.Add(Flow(Frontend1, Cart, Monday), false);
        aggregator.Add(Flow(Frontend1, Cart, Monday.AddDays(1)), false);
        Assert.Equal(1, Assert.Single(aggregator.ToEdges()).Flows);
        Assert.Equal(2, aggregator.OutsideWindow);
    }

    [Fact]
    public void Unknown_addresses_become_ip_endpoints_private_unknown_public_external()
    {
        var aggregator = new EdgeAggregator();
        var flow = Flow(null, null, Monday);
        flow.SrcIp = PackedIp.Parse("10.9.9.9");
        flow.DstIp = PackedIp.Parse("203.0.113.10");
        flow.DstPort = 443;
        aggregator.Add(flow, false);
        var edge = Assert.Single(aggregator.ToEdges());
        Assert.Equal("10.9.9.9", edge.Client.Key);
        Assert.Equal(EndpointKind.Unknown, edge.Client.Kind);
        Assert.Equal("203.0.113.10", edge.Server.Key);
        Assert.Equal(EndpointKind.External, edge.Server.Kind);
    }

    [Fact]
    public void Verdicts_are_counted_per_request_flow()
    {
        var aggregator = new EdgeAggregator();
        var allowed = Flow(Frontend1, Cart, Monday);
        allowed.Verdict = Verdict.Allowed;
        var denied = allowed;
        denied.Verdict = Verdict.Denied;
        aggregator.Add(allowed, false);
        aggregator.Add(denied, false);
        aggregator.Add(denied, false);
        aggregator.Add(allowed, true);
        var edge = Assert.Single(aggregator.ToEdges());
        Assert.Equal((1L, 2L, 0L), (edge.AllowedFlows, edge.DeniedFlows, edge.UnknownVerdictFlows));
    }

    [Fact]
    public void Icmp_edges_have_no_port()
    {
        var aggregator = new EdgeAggregator();
        var ping = Flow(Frontend1, Cart, Monday);
        ping.Protocol = IpProtocols.Icmp;
        ping.DstPort = 2048;
        aggregator.Add(ping, false);
        Assert.Equal(0, Assert.Single(aggregator.ToEdges()).Port);
    }

    [Fact]
    public void Merging_split_aggregates_gives_the_same_edges_as_one()
    {
        var random = new Random(3);
        var identities = new[] { Frontend1, Frontend2, Cart, Pod("shop", "redis", "redis-0", ("app", "redis")) };
        var flows = Enumerable.Range(0, 2000).Select(_ =>
        {
            var f = Flow(identities[random.Next(4)], identities[random.Next(4)], Monday.AddMinutes(random.Next(20000)), (ulong)random.Next(1000));
            f.DstPort = (ushort)(random.Next(3) * 1000);
            return (f, reply: random.Next(4) == 0);
        }).ToList();
        var one = new EdgeAggregator();
        var left = new EdgeAggregator();
        var right = new EdgeAggregator();
        for (int i = 0; i < flows.Count; i++)
        {
            one.Add(flows[i].f, flows[i].reply);
            (i % 2 == 0 ? left : right).Add(flows[i].f, flows[i].reply);
        }
        left.MergeFrom(right);
        Assert.Equal(Render(one.ToEdges()), Render(left.ToEdges()));
    }

    [Fact]
    public void A_rollout_within_the_window_keeps_the_labels_that_stayed_and_says_which_changed()
    {
        var v1 = new WorkloadIdentity(EndpointKind.Pod, "shop", "cart", "Deployment", "cart-aaa-1",
            WorkloadSelectorTests.Labels(("app", "cart"), ("build", "1041"), ("pod-template-hash", "aaa"), ("version", "v1")));
        var v2 = new WorkloadIdentity(EndpointKind.Pod, "shop", "cart", "Deployment", "cart-bbb-1",
            WorkloadSelectorTests.Labels(("app", "cart"), ("build", "1042"), ("pod-template-hash", "bbb"), ("version", "v2")));
        var aggregator = new EdgeAggregator();
        aggregator.Add(Flow(Frontend1, v1, Monday), false);
        aggregator.Add(Flow(Frontend1, v2, Monday.AddDays(1)), false);
        aggregator.Add(Flow(v2, Pod("shop", "redis", "redis-0", ("app", "redis")), Monday.AddDays(1)), false);
        var edges = aggregator.ToEdges();
        var cart = edges.Single(e => e.Server.Key == "shop/cart" && e.Client.Key == "shop/frontend").Server;
        Assert.Equal(WorkloadSelectorTests.Labels(("app", "cart")), cart.Labels);
        Assert.Equal(["build", "version"], cart.ChangedLabelKeys);
        Assert.Equal(WorkloadSelectorTests.Labels(("app", "cart")), cart.Selector);
        // One endpoint object for every edge of the workload: the client side of shop/cart -> shop/cart says the same.
        Assert.Same(cart, edges.Single(e => e.Client.Key == "shop/cart").Client);
        Assert.False(edges.Single(e => e.Client.Key == "shop/frontend").Client.LabelsChanged);
    }

    [Fact]
    public void An_observation_without_labels_neither_narrows_the_labels_nor_counts_as_a_change()
    {
        // A source that knows the workload but not its labels (a flow enriched without an inventory) seen first.
        var unlabelled = new WorkloadIdentity(EndpointKind.Pod, "shop", "cart", "Deployment", "cart-aaa-1");
        var labelled = new WorkloadIdentity(EndpointKind.Pod, "shop", "cart", "Deployment", "cart-aaa-1", WorkloadSelectorTests.Labels(("app", "cart")));
        var aggregator = new EdgeAggregator();
        aggregator.Add(Flow(Frontend1, unlabelled, Monday), false);
        aggregator.Add(Flow(Frontend1, labelled, Monday), false);
        aggregator.Add(Flow(Frontend1, unlabelled, Monday), false);
        var cart = Assert.Single(aggregator.ToEdges()).Server;
        Assert.Equal(WorkloadSelectorTests.Labels(("app", "cart")), cart.Labels);
        Assert.Equal(WorkloadSelectorTests.Labels(("app", "cart")), cart.Selector);
        Assert.False(cart.LabelsChanged);
    }

    [Fact]
    public void Label_changes_survive_merging_split_aggregates()
    {
        var v1 = new WorkloadIdentity(EndpointKind.Pod, "shop", "cart", "Deployment", "cart-aaa-1", WorkloadSelectorTests.Labels(("app", "cart"), ("build", "1")));
        var v2 = new WorkloadIdentity(EndpointKind.Pod, "shop", "cart", "Deployment", "cart-bbb-1", WorkloadSelectorTests.Labels(("app", "cart"), ("build", "2")));
        var left = new EdgeAggregator();
        var right = new EdgeAggregator();
        left.Add(Flow(Frontend1, v1, Monday), false);
        right.Add(Flow(Frontend1, v2, Monday), false);
        left.MergeFrom(right);
        var cart = Assert.Single(left.ToEdges()).Server;
        Assert.Equal(["build"], cart.ChangedLabelKeys);
        Assert.Equal(WorkloadSelectorTests.Labels(("app", "cart")), cart.Labels);
    }

    [Fact]
    public void A_deployment_and_a_statefulset_of_one_name_are_two_endpoints_with_kind_qualified_keys()
    {
        var deployment = new WorkloadIdentity(EndpointKind.Pod, "shop", "db", "Deployment", "db-5f6-1", WorkloadSelectorTests.Labels(("app", "db-proxy")));
        var statefulSet = new WorkloadIdentity(EndpointKind.Pod, "shop", "db", "StatefulSet", "db-0", WorkloadSelectorTests.Labels(("app", "db")));
        var aggregator = new EdgeAggregator();
        aggregator.Add(Flow(Frontend1, deployment, Monday), false);
        aggregator.Add(Flow(Frontend1, statefulSet, Monday), false);
        aggregator.Add(Flow(Frontend1, statefulSet, Monday), false);
        var edges = aggregator.ToEdges();
        Assert.Equal(["shop/deployment/db", "shop/statefulset/db"], edges.Select(e => e.Server.Key));
        Assert.Equal([1L, 2L], edges.Select(e => e.Flows));
        Assert.Equal(["Deployment", "StatefulSet"], edges.Select(e => e.Server.WorkloadKind));
        Assert.Equal(["db-proxy", "db"], edges.Select(e => e.Server.Label("app")));
        Assert.Equal("db", edges[1].Server.Name);
    }

    [Fact]
    public void A_workload_seen_with_and_without_its_kind_is_one_endpoint_under_the_plain_key()
    {
        var withKind = new WorkloadIdentity(EndpointKind.Pod, "shop", "db", "StatefulSet", "db-0", WorkloadSelectorTests.Labels(("app", "db")));
        var withoutKind = new WorkloadIdentity(EndpointKind.Pod, "shop", "db", null, "db-1", WorkloadSelectorTests.Labels(("app", "db")));
        var aggregator = new EdgeAggregator();
        aggregator.Add(Flow(Frontend1, withKind, Monday), false);
        aggregator.Add(Flow(Frontend1, withoutKind, Monday.AddMinutes(1)), false);
        var edge = Assert.Single(aggregator.ToEdges());
        Assert.Equal("shop/db", edge.Server.Key);
        Assert.Equal("StatefulSet", edge.Server.WorkloadKind);
        Assert.Equal(2, edge.Flows);
        Assert.Equal(Monday.AddMinutes(1), edge.LastSeen);
    }

    [Fact]
    public void Selectors_are_chosen_knowing_the_namespace_neighbours()
    {
        var primary = new WorkloadIdentity(EndpointKind.Pod, "data", "db-primary", "StatefulSet", "db-primary-0", WorkloadSelectorTests.Labels(
            ("app.kubernetes.io/component", "primary"), ("app.kubernetes.io/instance", "db"), ("app.kubernetes.io/name", "postgresql")));
        var read = new WorkloadIdentity(EndpointKind.Pod, "data", "db-read", "StatefulSet", "db-read-0", WorkloadSelectorTests.Labels(
            ("app.kubernetes.io/component", "read"), ("app.kubernetes.io/instance", "db"), ("app.kubernetes.io/name", "postgresql")));
        var aggregator = new EdgeAggregator();
        aggregator.Add(Flow(Frontend1, primary, Monday), false);
        aggregator.Add(Flow(Frontend1, read, Monday), false);
        var servers = aggregator.ToEdges().Select(e => e.Server).ToList();
        Assert.All(servers, s => Assert.Contains(s.Selector, l => l.Key == "app.kubernetes.io/component"));
        Assert.DoesNotContain(servers[0].Selector, l => l.Key == "app.kubernetes.io/component" && l.Value == servers[1].Label("app.kubernetes.io/component"));
    }

    private static string Render(IEnumerable<Edge> edges) => string.Join("\n", edges.Select(e =>
        $"{e} {e.Flows} {e.Bytes} {e.Packets} {e.FirstSeen:O} {e.LastSeen:O} {e.DaysSeen} {e.ClientReplicas} {string.Join(',', e.HourOfWeek)}"));

    private static WorkloadIdentity Pod(string ns, string workload, string pod, params (string, string)[] labels) =>
        new(EndpointKind.Pod, ns, workload, "Deployment", pod, labels.Select(l => KeyValuePair.Create(l.Item1, l.Item2)));

    private static FlowRecord Flow(WorkloadIdentity? src, WorkloadIdentity? dst, DateTime at, ulong bytes = 10) => new()
    {
        Start = at,
        End = at,
        SrcIp = PackedIp.Parse("10.244.0.1"),
        DstIp = PackedIp.Parse("10.244.0.2"),
        SrcPort = 40000,
        DstPort = 7070,
        Protocol = IpProtocols.Tcp,
        Bytes = bytes,
        Packets = 1,
        SrcIdentity = src,
        DstIdentity = dst,
    };
}
