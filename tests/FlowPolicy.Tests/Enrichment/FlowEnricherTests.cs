using System.Text;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Enrichment;

namespace FlowPolicy.Tests.Enrichment;

public sealed class FlowEnricherTests
{
    private static readonly DateTime Nov1 = new(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);

    private static readonly LeaseIndex Index = InventoryLoader.Parse(Encoding.UTF8.GetBytes("""
        {"ip":"10.244.1.7","from":"2026-11-01T00:00:00Z","to":"2026-11-02T00:00:00Z","kind":"pod","namespace":"shop","workload":"cart","workload_kind":"Deployment"}
        {"ip":"10.244.1.7","from":"2026-11-02T00:00:00Z","kind":"pod","namespace":"shop","workload":"payment","workload_kind":"Deployment"}
        {"ip":"10.244.2.2","from":"2026-11-01T00:00:00Z","kind":"pod","namespace":"shop","workload":"frontend","workload_kind":"Deployment"}
        """), "leases.jsonl").Index;

    private static FlowRecord Flow(string src, string dst, DateTime at, WorkloadIdentity? srcIdentity = null) => new()
    {
        Start = at,
        End = at,
        SrcIp = PackedIp.Parse(src),
        DstIp = PackedIp.Parse(dst),
        SrcPort = 40000,
        DstPort = 8080,
        Protocol = IpProtocols.Tcp,
        SrcIdentity = srcIdentity,
    };

    [Fact]
    public void Flows_get_the_identity_of_their_start_time()
    {
        var enricher = new FlowEnricher(Index);
        FlowRecord[] flows =
        [
            Flow("10.244.2.2", "10.244.1.7", Nov1.AddHours(23)),
            Flow("10.244.2.2", "10.244.1.7", Nov1.AddHours(25)),
        ];

        enricher.Enrich(flows);

        Assert.Equal("shop/cart", flows[0].DstIdentity?.ToString());
        Assert.Equal("shop/payment", flows[1].DstIdentity?.ToString());
        Assert.Same(flows[0].SrcIdentity, flows[1].SrcIdentity);
        Assert.Equal(2, enricher.Metrics.FlowsEnriched);
    }

    [Fact]
    public void An_identity_carried_by_the_record_wins_when_it_names_a_workload()
    {
        var hubble = new WorkloadIdentity(EndpointKind.Pod, "shop", "frontend-canary", "Deployment", "frontend-canary-abc");
        var flow = Flow("10.244.2.2", "10.244.1.7", Nov1.AddHours(1), hubble);

        new FlowEnricher(Index).Enrich(ref flow);

        Assert.Same(hubble, flow.SrcIdentity);
        Assert.Equal("shop/cart", flow.DstIdentity?.ToString());
    }

    [Fact]
    public void An_identity_without_a_workload_is_replaced_by_the_inventory()
    {
        var labelsOnly = new WorkloadIdentity(EndpointKind.Pod, "shop", null, labels: [new("app", "frontend")]);
        var flow = Flow("10.244.2.2", "10.244.1.7", Nov1.AddHours(1), labelsOnly);
        var enricher = new FlowEnricher(Index);

        enricher.Enrich(ref flow);

        Assert.Equal("frontend", flow.SrcIdentity?.Workload);
        Assert.Equal(0, enricher.Metrics.IdentitiesKeptFromSource);
    }

    [Fact]
    public void Unknown_addresses_keep_no_identity_and_are_counted()
    {
        var enricher = new FlowEnricher(Index);
        FlowRecord[] flows =
        [
            Flow("10.9.9.9", "10.244.1.7", Nov1.AddHours(1)),
            Flow("10.244.2.2", "8.8.8.8", Nov1.AddHours(1)),
            Flow("10.244.2.2", "10.244.1.7", Nov1.AddDays(-1)), // before every lease of both sides
        ];

        enricher.Enrich(flows);

        Assert.Null(flows[0].SrcIdentity);
        Assert.NotNull(flows[0].DstIdentity);
        Assert.Null(flows[1].DstIdentity);
        Assert.Null(flows[2].SrcIdentity);
        Assert.Null(flows[2].DstIdentity);
        Assert.Equal(3, enricher.Metrics.Flows);
        Assert.Equal(2, enricher.Metrics.FlowsEnriched);
        Assert.Equal(2, enricher.Metrics.UnknownSrc);
        Assert.Equal(2, enricher.Metrics.UnknownDst);
    }
}
