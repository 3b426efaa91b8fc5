using FlowPolicy.ClickHouse.Schema;

namespace FlowPolicy.ClickHouse.RowBinary;

/// <summary>
/// Encodes ingest statistics into the RowBinary layout of <see cref="FlowTables.IngestProgressTable"/>:
/// <see cref="Columns"/> are that definition's columns, and <see cref="Write"/> fills them in its order.
/// </summary>
public sealed class IngestProgressRowWriter(RowBinaryWriter writer)
{
    /// <summary>The ingest_progress columns, for <c>InsertRowBinaryAsync(FlowTables.IngestProgress, Columns, ...)</c>.</summary>
    public static IReadOnlyList<string> Columns { get; } =
        FlowTables.IngestProgressTable(ClickHouseServerVersion.Parse("18.16.1")).Columns.Select(c => c.Name).ToArray();

    public RowBinaryWriter Buffer => writer;

    /// <summary>Appends one row: one stored batch's share of one Kafka partition. <paramref name="time"/> is cut to whole seconds.</summary>
    public void Write(DateTime time, string worker, string topic, int partition, long firstOffset, long lastOffset, long rows, long bytes, long lag,
        long deadLetters, long insertMillis)
    {
        writer.WriteDateTime(new DateTime(time.Ticks - time.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc));
        writer.WriteString(worker);
        writer.WriteString(topic);
        writer.WriteInt32(partition);
        writer.WriteUInt64((ulong)firstOffset);
        writer.WriteUInt64((ulong)lastOffset);
        writer.WriteUInt64((ulong)rows);
        writer.WriteUInt64((ulong)bytes);
        writer.WriteInt64(lag);
        writer.WriteUInt64((ulong)deadLetters);
        writer.WriteUInt32((uint)Math.Clamp(insertMillis, 0, uint.MaxValue));
        writer.EndRow();
    }
}
