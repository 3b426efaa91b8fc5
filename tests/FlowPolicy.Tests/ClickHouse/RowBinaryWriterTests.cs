using FlowPolicy.ClickHouse.RowBinary;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Tests.Support;

namespace FlowPolicy.Tests.ClickHouse;

public sealed class RowBinaryWriterTests
{
    private static byte[] Bytes(Action<RowBinaryWriter> write)
    {
        using var writer = new RowBinaryWriter();
        write(writer);
        return writer.ToArray();
    }

    [Theory]
    [InlineData(0UL, new byte[] { 0x00 })]
    [InlineData(127UL, new byte[] { 0x7F })]
    [InlineData(128UL, new byte[] { 0x80, 0x01 })]
    [InlineData(300UL, new byte[] { 0xAC, 0x02 })]
    [InlineData(ulong.MaxValue, new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 })]
    public void Lengths_are_LEB128(ulong value, byte[] expected) => Assert.Equal(expected, Bytes(w => w.WriteVarUInt(value)));

    [Fact]
    public void Integers_are_little_endian() =>
        Assert.Equal(new byte[] { 0x34, 0x12, 0x78, 0x56, 0x34, 0x12, 0xFF }, Bytes(w => { w.WriteUInt16(0x1234); w.WriteInt32(0x12345678); w.WriteInt8(-1); }));

    [Theory]
    [InlineData(0)]
    [InlineData(42)]
    [InlineData(43)]
    [InlineData(127)]
    [InlineData(128)]
    [InlineData(5000)]
    public void Strings_are_length_prefixed_UTF8_on_both_paths(int length)
    {
        var text = new string('é', length); // two bytes each: crosses the one-byte length boundary
        var bytes = Bytes(w => w.WriteString(text));
        var utf8 = System.Text.Encoding.UTF8.GetBytes(text);
        using var expected = new RowBinaryWriter();
        expected.WriteVarUInt((ulong)utf8.Length);
        Assert.Equal(expected.ToArray().Concat(utf8), bytes);
    }

    [Fact]
    public void Values_straddling_chunk_ends_are_not_split()
    {
        using var writer = new RowBinaryWriter();
        for (int i = 0; i < RowBinaryWriter.ChunkSize / 8 * 3; i++) writer.WriteUInt64((ulong)i);
        writer.WriteUInt8(1);
        for (int i = 0; i < 20_000; i++) writer.WriteString("value-" + i);
        var bytes = writer.ToArray();
        Assert.Equal(writer.Length, bytes.Length);
        for (int i = 0; i < RowBinaryWriter.ChunkSize / 8 * 3; i++)
            Assert.Equal((ulong)i, BitConverter.ToUInt64(bytes, i * 8));
    }

    [Fact]
    public void Reset_forgets_rows_and_length()
    {
        using var writer = new RowBinaryWriter();
        writer.WriteString(new string('x', 200_000));
        writer.EndRow();
        writer.Reset();
        Assert.Equal(0, writer.Length);
        Assert.Equal(0, writer.RowCount);
        writer.WriteUInt8(7);
        Assert.Equal(new byte[] { 7 }, writer.ToArray());
    }

    [Fact]
    public void FixedString_pads_with_zeros_and_refuses_longer_values()
    {
        Assert.Equal(new byte[] { 0x61, 0, 0 }, Bytes(w => w.WriteFixedString("a"u8, 3)));
        Assert.Throws<ArgumentException>(() => Bytes(w => w.WriteFixedString("abcd"u8, 3)));
    }

    [Fact]
    public void DateTime_and_Date_are_seconds_and_days_since_the_epoch()
    {
        Assert.Equal(new byte[] { 0x80, 0x51, 0x01, 0x00, 0x01, 0x00 },
            Bytes(w => { w.WriteDateTime(DateTime.UnixEpoch.AddDays(1)); w.WriteDate(new DateOnly(1970, 1, 2)); }));
        Assert.Throws<ArgumentOutOfRangeException>(() => Bytes(w => w.WriteDateTime(new DateTime(1960, 1, 1, 0, 0, 0, DateTimeKind.Utc))));
        Assert.Throws<ArgumentOutOfRangeException>(() => Bytes(w => w.WriteDate(new DateOnly(2150, 1, 1))));
    }

    [Fact]
    public void Nullable_writes_a_marker_then_the_value() =>
        Assert.Equal(new byte[] { 1, 0, 5, 0 }, Bytes(w => { w.WriteNull(); w.WriteNotNull(); w.WriteUInt16(5); }));

    [Fact]
    public void Flow_rows_follow_the_flows_table_column_list()
    {
        // Every column but inserted_at, which the server fills (DEFAULT now()) and which comes last.
        var columns = FlowTables.FlowsTable(global::FlowPolicy.ClickHouse.ClickHouseServerVersion.Parse("24.3")).Columns.Select(c => c.Name).ToList();
        Assert.Equal(FlowTables.StoredAt, columns[^1]);
        Assert.Equal(columns[..^1], FlowRowWriter.Columns);
    }

    [Fact]
    public void An_identity_encoded_once_writes_the_same_endpoint_columns_as_field_by_field_encoding()
    {
        var identity = new WorkloadIdentity(EndpointKind.Pod, "shop", "cärt", "Deployment", "cart-1",
            [new("tier", "back"), new("app", new string('x', 300))]);
        var record = new FlowRecord
        {
            Start = new DateTime(2026, 11, 2, 3, 4, 5, DateTimeKind.Utc), End = new DateTime(2026, 11, 2, 3, 4, 6, DateTimeKind.Utc),
            SrcIp = PackedIp.Parse("10.0.0.1"), DstIp = PackedIp.Parse("10.0.0.2"), SrcIdentity = identity, DstIdentity = null,
        };
        using var rows = new RowBinaryWriter();
        var writer = new FlowRowWriter(rows);
        writer.Write(record, "vpc", "flows", 1, 7);
        writer.Write(record, "vpc", "flows", 1, 8); // from the identity's cached bytes
        var bytes = rows.ToArray();
        var first = bytes.AsSpan(0, bytes.Length / 2);
        var second = bytes.AsSpan(bytes.Length / 2);

        // The reference: the endpoint columns encoded value by value, as the table lists them.
        using var reference = new RowBinaryWriter();
        reference.WriteEnum8((sbyte)EndpointKind.Pod);
        reference.WriteString("shop");
        reference.WriteString("cärt");
        reference.WriteString("Deployment");
        reference.WriteString("cart-1");
        reference.WriteArrayLength(2);
        reference.WriteString("app");
        reference.WriteString("tier");
        reference.WriteArrayLength(2);
        reference.WriteString(new string('x', 300));
        reference.WriteString("back");
        reference.WriteEnum8(0);
        for (int i = 0; i < 4; i++) reference.WriteString("");
        reference.WriteArrayLength(0);
        reference.WriteArrayLength(0);
        var endpoints = reference.ToArray();

        Assert.True(first.IndexOf(endpoints) > 0, "the endpoint columns appear encoded value by value");
        Assert.True(second.IndexOf(endpoints) > 0, "and so do they from the identity's cached bytes");
    }

    [Fact]
    public void Writing_flow_rows_allocates_nothing_once_warm()
    {
        using var buffer = new RowBinaryWriter();
        var writer = new FlowRowWriter(buffer);
        var identity = new WorkloadIdentity(EndpointKind.Pod, "shop", "cart", "Deployment", "cart-1", [new("app", "cart")]);
        var record = new FlowRecord
        {
            Start = DateTime.UtcNow, End = DateTime.UtcNow, SrcIp = PackedIp.Parse("10.0.0.1"), DstIp = PackedIp.Parse("fd00::2"),
            SrcIdentity = identity, DstIdentity = identity, HasTcpFlags = true, Reporter = "node-1",
        };
        for (int i = 0; i < 1000; i++) writer.Write(record, "hubble", "flows", 1, i);
        buffer.Reset();
        int rows = 0;
        long least = Allocations.LeastBytes(() =>
        {
            for (int i = 0; i < 100; i++) writer.Write(record, "hubble", "flows", 1, rows++);
        });
        Assert.Equal(0, least);
        Assert.Equal(rows, buffer.RowCount);
    }

    [Fact]
    public void Batches_after_a_reset_reuse_their_chunks_and_write_the_same_bytes()
    {
        using var writer = new RowBinaryWriter();
        var row = new byte[1000];
        new Random(3).NextBytes(row);
        byte[] Batch()
        {
            writer.Reset();
            for (int i = 0; i < 2000; i++) writer.WriteString(row.AsSpan()); // ~2 MB: 31 chunks
            return writer.ToArray();
        }
        var first = Batch();
        long allocated = Allocations.LeastBytes(() =>
        {
            writer.Reset();
            for (int i = 0; i < 2000; i++) writer.WriteString(row.AsSpan());
        });
        Assert.True(allocated < 4096, $"a batch after the first allocated {allocated} bytes; its chunks should have been kept");
        Assert.Equal(first, writer.ToArray());
    }

    [Fact]
    public void Reset_keeps_chunks_up_to_the_bound_and_gives_back_what_the_next_batch_did_not_need()
    {
        var row = new byte[1000];
        using var bounded = new RowBinaryWriter(maxRetainedBytes: 4 * 65536);
        for (int i = 0; i < 2000; i++) bounded.WriteString(row.AsSpan()); // ~2 MB: 30 filled chunks + the current one
        bounded.Reset();
        Assert.Equal(3, bounded.RetainedChunks); // the current chunk counts towards the bound

        using var writer = new RowBinaryWriter();
        for (int i = 0; i < 2000; i++) writer.WriteString(row.AsSpan());
        writer.Reset();
        Assert.Equal(30, writer.RetainedChunks);
        writer.WriteString(row.AsSpan()); // a small batch: fits the current chunk
        writer.Reset();
        Assert.Equal(0, writer.RetainedChunks);
    }
}
