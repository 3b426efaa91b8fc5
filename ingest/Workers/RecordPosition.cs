namespace FlowPolicy.Ingest.Workers;

/// <summary>
/// Where a stored row came from inside its Kafka partition: the message offset and the record's index inside that
/// message (a VPC batch or an Azure document holds many records; records and rejects share one index sequence).
/// </summary>
internal readonly record struct RecordPosition(long Offset, uint Index) : IComparable<RecordPosition>
{
    public int CompareTo(RecordPosition other) =>
        Offset != other.Offset ? Offset.CompareTo(other.Offset) : Index.CompareTo(other.Index);

    public static bool operator <(RecordPosition a, RecordPosition b) => a.CompareTo(b) < 0;
    public static bool operator >(RecordPosition a, RecordPosition b) => a.CompareTo(b) > 0;
    public static bool operator <=(RecordPosition a, RecordPosition b) => a.CompareTo(b) <= 0;
    public static bool operator >=(RecordPosition a, RecordPosition b) => a.CompareTo(b) >= 0;

    public override string ToString() => $"{Offset}#{Index}";
}

/// <summary>
/// What ClickHouse holds of one Kafka partition: the highest stored position in flows and in flows_dead_letter
/// (null when the table has no row of the partition). The worker writes a batch's dead letters before its flows,
/// and batches in order, so the stored rows of each table are a prefix of that table's rows in partition order;
/// and every dead letter at or before the highest stored flow is stored. Hence: seek to the message of the highest
/// stored flow (the start of the partition when there is none), and skip each record already in its table.
/// </summary>
/// <remarks>
/// L7 observations (flows_l7, their own index sequence per message) follow the dead letters' rule: a batch stores them
/// before its flows, so every L7 row of a message before the highest stored flow is stored, and those of later messages
/// are skipped when at or before <see cref="L7"/>.
/// </remarks>
internal readonly record struct ResumePoint(RecordPosition? Flows, RecordPosition? DeadLetters, RecordPosition? L7 = null)
{
    public static ResumePoint Empty => default;

    /// <summary>The offset to seek to, or null for the start of the partition (nothing stored yet).</summary>
    public long? SeekOffset => Flows?.Offset;

    public bool FlowStored(RecordPosition position) => Flows is { } stored && position <= stored;

    public bool DeadLetterStored(RecordPosition position) => DeadLetters is { } stored && position <= stored;

    /// <summary>Whether the L7 row at <paramref name="position"/> (its offset, its index among the message's L7 observations) is stored.</summary>
    public bool L7Stored(RecordPosition position) => L7 is { } stored && position <= stored;

    public override string ToString() =>
        $"flows up to {(Flows?.ToString() ?? "none")}, dead letters up to {(DeadLetters?.ToString() ?? "none")}, L7 up to {(L7?.ToString() ?? "none")}";
}
