using FlowPolicy.Core.ClickHouse.Schema;
using FlowPolicy.Core.Flows;

namespace FlowPolicy.Core.ClickHouse.RowBinary;

/// <summary>
/// Encodes flow records into the RowBinary layout of the flows table (<see cref="Columns"/>, in that order),
/// straight into a pooled <see cref="RowBinaryWriter"/>: no boxing, no per-record allocation.
/// </summary>
public sealed class FlowRowWriter
{
    private readonly RowBinaryWriter _writer;

    public FlowRowWriter(RowBinaryWriter writer) => _writer = writer;

    /// <summary>The flows columns this writer fills, for <c>InsertRowBinaryAsync(FlowTables.Flows, Columns, ...)</c>.</summary>
    public static IReadOnlyList<string> Columns { get; } =
        FlowTables.FlowsTable(ClickHouseServerVersion.Parse("18.16.1")).Columns.Select(c => c.Name).ToArray();

    public RowBinaryWriter Buffer => _writer;

    /// <summary>
    /// The flows partition (UTC day as yyyyMMdd) a record lands in. A batch must not mix partitions: an INSERT
    /// spanning two becomes two parts, which is not atomic.
    /// </summary>
    public static int PartitionKey(in FlowRecord record)
    {
        var start = record.Start.Kind == DateTimeKind.Local ? record.Start.ToUniversalTime() : record.Start;
        return start.Year * 10000 + start.Month * 100 + start.Day;
    }

    /// <summary>
    /// Appends one row. <paramref name="offset"/> is the Kafka offset (never negative for a stored message),
    /// <paramref name="index"/> the record's place inside that message, <paramref name="isReply"/> true for the
    /// server's half of a connection already flipped to client -> server (bytes count, the flow does not).
    /// </summary>
    public void Write(in FlowRecord record, string format, string topic, int partition, long offset, uint index = 0, bool isReply = false)
    {
        var w = _writer;
        w.WriteDateTime(record.Start);
        w.WriteDateTime(record.End);
        w.WriteFixedString16(record.SrcIp);
        w.WriteFixedString16(record.DstIp);
        w.WriteUInt16(record.SrcPort);
        w.WriteUInt16(record.DstPort);
        w.WriteUInt8(record.Protocol);
        w.WriteUInt64(record.Bytes);
        w.WriteUInt64(record.Packets);
        w.WriteEnum8((sbyte)record.Verdict);
        w.WriteEnum8((sbyte)record.Direction);
        if (record.HasTcpFlags)
        {
            w.WriteNotNull();
            w.WriteUInt16(record.TcpFlags);
        }
        else w.WriteNull();
        w.WriteString(record.Reporter);
        w.WriteString(record.PolicyName);
        WriteEndpoint(w, record.SrcIdentity);
        WriteEndpoint(w, record.DstIdentity);
        w.WriteString(format);
        w.WriteString(topic);
        w.WriteInt32(partition);
        w.WriteUInt64(checked((ulong)offset));
        w.WriteUInt32(index);
        w.WriteBool(isReply);
        w.EndRow();
    }

    [ThreadStatic] private static RowBinaryWriter? t_scratch;
    private static readonly byte[] NoEndpoint = EncodeEndpoint(null);

    private static void WriteEndpoint(RowBinaryWriter w, WorkloadIdentity? identity) =>
        w.WriteRaw(identity is null ? NoEndpoint : identity.RowBinaryEndpoint ??= EncodeEndpoint(identity));

    /// <summary>The endpoint columns (kind, namespace, workload, workload kind, pod, label keys, label values) of one identity.</summary>
    internal static byte[] EncodeEndpoint(WorkloadIdentity? identity)
    {
        var w = t_scratch ??= new RowBinaryWriter(maxRetainedBytes: 1 << 16);
        w.Reset();
        if (identity is null)
        {
            w.WriteEnum8(0);
            w.WriteString(ReadOnlySpan<char>.Empty);
            w.WriteString(ReadOnlySpan<char>.Empty);
            w.WriteString(ReadOnlySpan<char>.Empty);
            w.WriteString(ReadOnlySpan<char>.Empty);
            w.WriteArrayLength(0);
            w.WriteArrayLength(0);
            return w.ToArray();
        }
        w.WriteEnum8((sbyte)identity.Kind);
        w.WriteString(identity.Namespace);
        w.WriteString(identity.Workload);
        w.WriteString(identity.WorkloadKind);
        w.WriteString(identity.Name);
        var labels = identity.Labels;
        w.WriteArrayLength(labels.Count);
        for (int i = 0; i < labels.Count; i++) w.WriteString(labels[i].Key);
        w.WriteArrayLength(labels.Count);
        for (int i = 0; i < labels.Count; i++) w.WriteString(labels[i].Value);
        return w.ToArray();
    }
}
