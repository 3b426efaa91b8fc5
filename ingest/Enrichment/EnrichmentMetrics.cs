namespace FlowPolicy.Ingest.Enrichment;

/// <summary>
/// Counters of <see cref="FlowEnricher"/>; safe to read from another thread while workers add. The ingest worker
/// publishes its lanes' sums on its Meter (<c>flowpolicy.ingest.enrichment.*</c>, docs/metrics.md).
/// </summary>
internal sealed class EnrichmentMetrics
{
    private long _flows;
    private long _flowsEnriched;
    private long _unknownSrc;
    private long _unknownDst;
    private long _keptFromSource;

    /// <summary>Flows that went through enrichment.</summary>
    public long Flows => Interlocked.Read(ref _flows);
    /// <summary>Flows where at least one side got its identity from the inventory.</summary>
    public long FlowsEnriched => Interlocked.Read(ref _flowsEnriched);
    /// <summary>Flows whose source has no identity after enrichment.</summary>
    public long UnknownSrc => Interlocked.Read(ref _unknownSrc);
    /// <summary>Flows whose destination has no identity after enrichment.</summary>
    public long UnknownDst => Interlocked.Read(ref _unknownDst);
    /// <summary>Sides whose identity came with the record (Hubble) and was kept over the inventory.</summary>
    public long IdentitiesKeptFromSource => Interlocked.Read(ref _keptFromSource);

    internal void Add(long flows, long enriched, long unknownSrc, long unknownDst, long kept)
    {
        Interlocked.Add(ref _flows, flows);
        if (enriched != 0) Interlocked.Add(ref _flowsEnriched, enriched);
        if (unknownSrc != 0) Interlocked.Add(ref _unknownSrc, unknownSrc);
        if (unknownDst != 0) Interlocked.Add(ref _unknownDst, unknownDst);
        if (kept != 0) Interlocked.Add(ref _keptFromSource, kept);
    }
}
