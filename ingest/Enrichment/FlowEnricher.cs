using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Ingest.Enrichment;

/// <summary>
/// Sets each side's identity from the inventory as of the flow's start. An identity the record already carries
/// (Hubble) wins when the source named its workload; one whose workload was only inferred from the pod name
/// (<see cref="WorkloadSource.Derived"/>) gives way to an inventory pod of the same namespace, and one without a
/// workload is replaced when the inventory knows more.
/// Unknown addresses keep a null identity: aggregation renders private ones as IPs and public ones as external.
/// One instance per worker; the index is read once per batch, so a reload never splits a batch.
/// </summary>
internal sealed class FlowEnricher
{
    private readonly Func<LeaseIndex> _index;

    public FlowEnricher(LeaseIndex index, EnrichmentMetrics? metrics = null)
        : this(() => index, metrics)
    {
    }

    /// <summary>Follows the watcher: every batch uses the index current when it starts.</summary>
    public FlowEnricher(InventoryWatcher watcher, EnrichmentMetrics? metrics = null)
        : this(() => watcher.Current, metrics)
    {
    }

    private FlowEnricher(Func<LeaseIndex> index, EnrichmentMetrics? metrics)
    {
        _index = index;
        Metrics = metrics ?? new EnrichmentMetrics();
    }

    public EnrichmentMetrics Metrics { get; }

    public void Enrich(ref FlowRecord flow) => Enrich(new Span<FlowRecord>(ref flow));

    public void Enrich(Span<FlowRecord> flows)
    {
        var index = _index();
        long enriched = 0, unknownSrc = 0, unknownDst = 0, kept = 0;
        for (int i = 0; i < flows.Length; i++)
        {
            ref var flow = ref flows[i];
            bool fromInventory = false;
            flow.SrcIdentity = Side(index, flow.SrcIp, flow.Start, flow.SrcIdentity, ref fromInventory, ref kept);
            flow.DstIdentity = Side(index, flow.DstIp, flow.Start, flow.DstIdentity, ref fromInventory, ref kept);
            if (fromInventory) enriched++;
            if (flow.SrcIdentity is null) unknownSrc++;
            if (flow.DstIdentity is null) unknownDst++;
        }
        Metrics.Add(flows.Length, enriched, unknownSrc, unknownDst, kept);
    }

    private static WorkloadIdentity? Side(LeaseIndex index, PackedIp ip, DateTime at, WorkloadIdentity? carried,
        ref bool fromInventory, ref long kept)
    {
        bool derived = false;
        if (carried?.Workload is not null)
        {
            derived = carried.WorkloadSource == WorkloadSource.Derived;
            if (!derived)
            {
                kept++;
                return carried;
            }
        }
        if (ip.IsNone) return carried;
        var found = index.Lookup(ip, at);
        if (found is null) return carried;
        // An inferred owner yields only to what the inventory says about that pod, never to a node or service lease.
        if (derived && (found.Kind != EndpointKind.Pod || found.Workload is null || found.Namespace != carried!.Namespace))
        {
            kept++;
            return carried;
        }
        fromInventory = true;
        return found;
    }
}
