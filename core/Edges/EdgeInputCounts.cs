namespace FlowPolicy.Core.Edges;

/// <summary>
/// What a window's edges were made from, so a report can explain its flow count next to the records read: every
/// record read, those outside the window, the replies folded into their requests (the server's half of a connection
/// adds bytes and packets to its edge, not a flow) and the records that could not be decoded.
/// <c>records read − outside the window − replies folded = flows</c> (<see cref="Flows"/>), which is what the edges sum to.
/// </summary>
public sealed record EdgeInputCounts
{
    /// <summary>Where the records came from, as the report names it ("3 flow files", "ClickHouse table db.flows").</summary>
    public required string Source { get; init; }
    /// <summary>Records decoded (files: every record; ClickHouse: the raw rows of the window).</summary>
    public required long RecordsRead { get; init; }
    /// <summary>Records whose start lies outside the window (files only: the ClickHouse query reads only the window).</summary>
    public long OutsideWindow { get; init; }
    /// <summary>Records of the window that were the server's half of a connection.</summary>
    public required long RepliesFolded { get; init; }
    /// <summary>Records that could not be decoded; null where the source does not know (ClickHouse: ingest's dead-letter table).</summary>
    public long? Rejected { get; init; }

    public long RecordsInWindow => RecordsRead - OutsideWindow;
    /// <summary>Request records of the window: the flows the edges count.</summary>
    public long Flows => RecordsInWindow - RepliesFolded;
}
