using System.Text;
using FlowPolicy.ClickHouse.RowBinary;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Tests.ClickHouse;

/// <summary>
/// <see cref="FlowRowWriter.CopySortedToAsync"/>: the INSERT body holds exactly the rows written, each byte for byte,
/// in the flows table's ORDER BY order (dst_namespace, dst_workload, dst_port, src_namespace, src_workload, start) as
/// ClickHouse compares it, ties in the order written.
/// </summary>
public sealed class FlowRowOrderTests
{
    private static readonly DateTime Day = new(2026, 11, 20, 0, 0, 0, DateTimeKind.Utc);

    // Names whose UTF-8 byte order differs from .NET's UTF-16 ordinal order ("～" U+FF5E sorts before "😀" in UTF-8,
    // after it in UTF-16), prefixes of each other, empty, and non-ASCII.
    private static readonly string?[] Names = ["", "a", "ab", "abc", "b", "é", "～", "😀", "cart", "cart-v2", null];

    private static List<WorkloadIdentity?> Identities(Random random)
    {
        var identities = new List<WorkloadIdentity?> { null };
        for (int i = 0; i < 40; i++)
        {
            var labels = new List<KeyValuePair<string, string>> { new("app", "x" + i) };
            // One identity bigger than a 64 KiB chunk: its rows straddle chunks and the copy's staging buffer.
            if (i == 7) labels.Add(new("blob", new string('z', 70_000)));
            identities.Add(new WorkloadIdentity(i % 5 == 0 ? EndpointKind.Node : EndpointKind.Pod,
                Names[random.Next(Names.Length)], Names[random.Next(Names.Length)], "Deployment", "pod-" + i, labels));
        }
        return identities;
    }

    private static FlowRecord Flow(Random random, List<WorkloadIdentity?> identities)
    {
        var start = Day.AddSeconds(random.Next(86_400));
        return new FlowRecord
        {
            Start = start, End = start.AddSeconds(5),
            SrcIp = PackedIp.Parse("10.0.0." + random.Next(1, 250)), DstIp = PackedIp.Parse("10.0.1." + random.Next(1, 250)),
            SrcPort = (ushort)random.Next(30000, 60000), DstPort = (ushort)(random.Next(3) switch { 0 => 80, 1 => 443, _ => 5432 }),
            Protocol = 6, Bytes = (ulong)random.Next(1000), Packets = 1, Verdict = Verdict.Allowed, Direction = DirectionHint.Request,
            SrcIdentity = identities[random.Next(identities.Count)], DstIdentity = identities[random.Next(identities.Count)],
            Reporter = "node-1",
        };
    }

    /// <summary>One row's bytes, as the writer encodes it alone.</summary>
    private static byte[] Row(in FlowRecord record, long offset)
    {
        using var buffer = new RowBinaryWriter();
        new FlowRowWriter(buffer).Write(record, "canonical", "flows", 3, offset);
        return buffer.ToArray();
    }

    private static byte[] Utf8(string? text) => Encoding.UTF8.GetBytes(text ?? "");

    private sealed class BytesOrder : IComparer<byte[]>
    {
        public static readonly BytesOrder Instance = new();
        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }

    /// <summary>The records (with their index) as ClickHouse orders them: by the key's columns as the server compares them, then as written.</summary>
    private static List<(FlowRecord Record, int Index)> KeyOrder(IReadOnlyList<FlowRecord> records) =>
        records.Select((r, i) => (Record: r, Index: i))
            .OrderBy(x => Utf8(x.Record.DstIdentity?.Namespace), BytesOrder.Instance)
            .ThenBy(x => Utf8(x.Record.DstIdentity?.Workload), BytesOrder.Instance)
            .ThenBy(x => x.Record.DstPort)
            .ThenBy(x => Utf8(x.Record.SrcIdentity?.Namespace), BytesOrder.Instance)
            .ThenBy(x => Utf8(x.Record.SrcIdentity?.Workload), BytesOrder.Instance)
            .ThenBy(x => RowBinaryWriter.DateTimeSeconds(x.Record.Start))
            .ThenBy(x => x.Index)
            .ToList();

    /// <summary>The rows' bytes in <see cref="KeyOrder"/>.</summary>
    private static byte[] Expected(IReadOnlyList<FlowRecord> records) =>
        KeyOrder(records).SelectMany(x => Row(x.Record, x.Index)).ToArray();

    private static async Task<byte[]> SortedBody(FlowRowWriter writer)
    {
        var body = new MemoryStream();
        await writer.CopySortedToAsync(body);
        return body.ToArray();
    }

    [Fact]
    public async Task The_body_holds_every_row_byte_for_byte_in_the_tables_sort_order()
    {
        var random = new Random(7);
        var identities = Identities(random);
        var records = Enumerable.Range(0, 3_000).Select(_ => Flow(random, identities)).ToList();
        using var buffer = new RowBinaryWriter();
        var writer = new FlowRowWriter(buffer);
        for (int i = 0; i < records.Count; i++) writer.Write(records[i], "canonical", "flows", 3, i);

        var expected = Expected(records);
        var body = await SortedBody(writer);
        Assert.Equal(buffer.Length, body.Length);
        Assert.NotEqual(buffer.ToArray(), body); // the input was not in key order
        Assert.Equal(expected, body);
        // An INSERT retried sends the same body.
        Assert.Equal(expected, await SortedBody(writer));
    }

    [Fact]
    public async Task Rows_already_in_key_order_go_out_as_written()
    {
        var random = new Random(11);
        var identities = Identities(random);
        var records = Enumerable.Range(0, 500).Select(_ => Flow(random, identities)).ToList();
        using var buffer = new RowBinaryWriter();
        var writer = new FlowRowWriter(buffer);
        var ordered = Expected(records);
        // Written in the expected order: nothing to sort.
        foreach (var (record, index) in KeyOrder(records)) writer.Write(record, "canonical", "flows", 3, index);
        Assert.Equal(ordered, buffer.ToArray());
        Assert.Equal(ordered, await SortedBody(writer));
    }

    [Fact]
    public async Task A_reset_starts_a_new_batch_with_its_own_keys()
    {
        var random = new Random(3);
        var identities = Identities(random);
        using var buffer = new RowBinaryWriter();
        var writer = new FlowRowWriter(buffer);
        for (int i = 0; i < 200; i++) writer.Write(Flow(random, identities), "canonical", "flows", 3, i);
        _ = await SortedBody(writer);
        writer.Reset();
        var next = Enumerable.Range(0, 300).Select(_ => Flow(random, identities)).ToList();
        for (int i = 0; i < next.Count; i++) writer.Write(next[i], "canonical", "flows", 3, i);
        Assert.Equal(Expected(next), await SortedBody(writer));
    }

    [Fact]
    public async Task Rows_the_writer_did_not_write_make_it_send_the_buffer_as_it_is()
    {
        var random = new Random(5);
        var identities = Identities(random);
        using var buffer = new RowBinaryWriter();
        var writer = new FlowRowWriter(buffer);
        for (int i = 0; i < 100; i++) writer.Write(Flow(random, identities), "canonical", "flows", 3, i);
        // Someone else's row in the buffer: the writer no longer knows every row's place, so it sorts nothing.
        var other = new FlowRowWriter(buffer);
        other.Write(Flow(random, identities), "canonical", "flows", 3, 100);
        Assert.Equal(buffer.ToArray(), await SortedBody(writer));
    }

    [Fact]
    public async Task A_key_too_wide_for_64_bits_sends_the_rows_as_written()
    {
        // 600 workloads (10 bits of rank each side) and times over decades (32 bits): 68 bits, more than the packed key.
        var random = new Random(9);
        using var buffer = new RowBinaryWriter();
        var writer = new FlowRowWriter(buffer);
        for (int i = 0; i < 1_200; i++)
        {
            var flow = Flow(random, [new WorkloadIdentity(EndpointKind.Pod, "ns", "w" + (i % 600), "Deployment", "p" + i)]);
            flow.Start = flow.End = new DateTime(1971 + random.Next(60), 1, 1, 0, 0, 0, DateTimeKind.Utc);
            writer.Write(flow, "canonical", "flows", 3, i);
        }
        Assert.Equal(buffer.ToArray(), await SortedBody(writer));
    }
}
