using FlowPolicy.ClickHouse.Schema;

namespace FlowPolicy.ClickHouse.RowBinary;

/// <summary>
/// Encodes dead letters into the RowBinary layout of <see cref="FlowTables.DeadLetterTable"/>: <see cref="Columns"/> are
/// that definition's columns, and <see cref="Write"/> fills them in its order (change both together).
/// </summary>
public sealed class DeadLetterRowWriter(RowBinaryWriter writer)
{
    /// <summary>The dead letter columns, for <c>InsertRowBinaryAsync(FlowTables.DeadLetters, Columns, ...)</c>.</summary>
    public static IReadOnlyList<string> Columns { get; } =
        FlowTables.DeadLetterTable(ClickHouseServerVersion.Parse("18.16.1")).Columns.Select(c => c.Name).ToArray();

    public RowBinaryWriter Buffer => writer;

    /// <summary>Appends one row; <paramref name="received"/> must be whole seconds in UTC (DateTime).</summary>
    public void Write(DateTime received, string topic, int partition, long offset, string format, string error, ReadOnlySpan<char> raw, uint index, long line)
    {
        writer.WriteDateTime(received);
        writer.WriteString(topic);
        writer.WriteInt32(partition);
        writer.WriteUInt64(checked((ulong)offset));
        writer.WriteString(format);
        writer.WriteString(error);
        writer.WriteString(raw);
        writer.WriteUInt32(index);
        writer.WriteUInt64(line < 0 ? 0 : (ulong)line);
        writer.EndRow();
    }
}
