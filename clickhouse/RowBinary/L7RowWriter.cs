using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.ClickHouse.RowBinary;

/// <summary>
/// Encodes L7 observations into the RowBinary layout of <see cref="FlowTables.L7Table"/>: <see cref="Columns"/> are that
/// definition's columns without <c>inserted_at</c>, and <see cref="Write"/> fills them in its order (change both together).
/// Endpoints use the flows table's encoding (cached per identity), so an L7 row costs no identity work of its own.
/// </summary>
public sealed class L7RowWriter(RowBinaryWriter writer)
{
    /// <summary>The flows_l7 columns this writer fills, for <c>InsertRowBinaryAsync(FlowTables.L7, Columns, ...)</c>.</summary>
    public static IReadOnlyList<string> Columns { get; } =
        FlowTables.L7Table(ClickHouseServerVersion.Parse("18.16.1")).Columns.Select(c => c.Name)
            .Where(name => name != FlowTables.StoredAt).ToArray(); // the server's clock fills inserted_at

    public RowBinaryWriter Buffer => writer;

    /// <summary>
    /// The flows_l7 partition (UTC day as yyyyMMdd) a row of <paramref name="time"/> lands in: a batch must not mix them.
    /// </summary>
    public static int PartitionKey(DateTime time)
    {
        var utc = time.Kind == DateTimeKind.Local ? time.ToUniversalTime() : time;
        return utc.Year * 10000 + utc.Month * 100 + utc.Day;
    }

    /// <summary>
    /// Appends one row. <paramref name="oriented"/> holds the observation's time, addresses, ports, transport, verdict and
    /// identities with the client as source; the L7 fields come from the observation as the columns describe them.
    /// </summary>
    public void Write(in FlowRecord oriented, L7Protocol protocol, L7Direction direction, string? operation, string? resource, string? path,
        string? version, int status, IReadOnlyList<PackedIp>? addresses, uint ttl, IReadOnlyList<string>? names,
        string topic, int partition, long offset, uint index)
    {
        var w = writer;
        w.WriteDateTime(oriented.Start);
        w.WriteFixedString16(oriented.SrcIp);
        w.WriteFixedString16(oriented.DstIp);
        w.WriteUInt16(oriented.SrcPort);
        w.WriteUInt16(oriented.DstPort);
        w.WriteUInt8(oriented.Protocol);
        w.WriteEnum8((sbyte)oriented.Verdict);
        FlowRowWriter.WriteEndpoint(w, oriented.SrcIdentity);
        FlowRowWriter.WriteEndpoint(w, oriented.DstIdentity);
        w.WriteEnum8((sbyte)protocol);
        w.WriteEnum8((sbyte)direction);
        w.WriteString(operation);
        w.WriteString(resource);
        w.WriteString(path);
        w.WriteString(version);
        w.WriteInt32(status);
        int addressCount = addresses?.Count ?? 0;
        w.WriteArrayLength(addressCount);
        for (int i = 0; i < addressCount; i++) w.WriteFixedString16(addresses![i]);
        w.WriteUInt32(ttl);
        int nameCount = names?.Count ?? 0;
        w.WriteArrayLength(nameCount);
        for (int i = 0; i < nameCount; i++) w.WriteString(names![i]);
        w.WriteString(topic);
        w.WriteInt32(partition);
        w.WriteUInt64(checked((ulong)offset));
        w.WriteUInt32(index);
        w.EndRow();
    }
}
