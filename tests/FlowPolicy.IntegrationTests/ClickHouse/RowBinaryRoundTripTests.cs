using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.RowBinary;
using FlowPolicy.Core.Net;
using FlowPolicy.IntegrationTests.Infrastructure;
using FlowPolicy.IntegrationTests.Infrastructure.Chdb;

namespace FlowPolicy.IntegrationTests.ClickHouse;

/// <summary>
/// Every column type the writer supports: insert values with RowBinary, select them back, compare with what the
/// server prints. One row per case; <c>expected</c> is the TabSeparated text of <c>SELECT {read}</c>.
/// </summary>
public abstract class RowBinaryRoundTripTests<TServer>(TServer server) : ClickHouseTest<TServer>(server)
    where TServer : IClickHouseTestServer
{
    public sealed record Case(string Name, string Type, Action<RowBinaryWriter> Write, string Expected, string Read = "v", bool NeedsLowCardinalitySetting = false)
    {
        public override string ToString() => Name;
    }

    public static TheoryData<Case> Cases() => new()
    {
        new("UInt8 max", "UInt8", w => w.WriteUInt8(255), "255"),
        new("UInt16 max", "UInt16", w => w.WriteUInt16(ushort.MaxValue), "65535"),
        new("UInt32 max", "UInt32", w => w.WriteUInt32(uint.MaxValue), "4294967295"),
        new("UInt64 max", "UInt64", w => w.WriteUInt64(ulong.MaxValue), "18446744073709551615"),
        new("Int8 min", "Int8", w => w.WriteInt8(sbyte.MinValue), "-128"),
        new("Int16 min", "Int16", w => w.WriteInt16(short.MinValue), "-32768"),
        new("Int32 min", "Int32", w => w.WriteInt32(int.MinValue), "-2147483648"),
        new("Int64 min", "Int64", w => w.WriteInt64(long.MinValue), "-9223372036854775808"),
        new("Float32", "Float32", w => w.WriteFloat32(1.5f), "1.5"),
        new("Float64", "Float64", w => w.WriteFloat64(-0.1), "-0.1"),
        new("Float64 nan", "Float64", w => w.WriteFloat64(double.NaN), "nan"),
        new("String empty", "String", w => w.WriteString(""), "0", "length(v)"),
        new("String unicode", "String", w => w.WriteString("ns/wörk-λ-😀"), "6E732F77C3B6726B2DCEBB2DF09F9880", "hex(v)"),
        new("String 200 chars (2-byte length)", "String", w => w.WriteString(new string('x', 200)), "200", "length(v)"),
        new("String 100k chars (larger than a chunk)", "String", w => w.WriteString(new string('é', 100_000)), "200000", "length(v)"),
        new("String raw non-UTF-8 bytes", "String", w => w.WriteString(new byte[] { 0xFF, 0x00, 0xC3 }), "FF00C3", "hex(v)"),
        new("String null writes empty", "String", w => w.WriteString((string?)null), "", "v"),
        new("FixedString padded", "FixedString(4)", w => w.WriteFixedString("ab"u8, 4), "61620000", "hex(v)"),
        new("FixedString(16) IPv6", "FixedString(16)", w => w.WriteFixedString16(PackedIp.Parse("2001:db8::1")), "2001:db8::1", "IPv6NumToString(v)"),
        new("FixedString(16) IPv4 mapped", "FixedString(16)", w => w.WriteFixedString16(PackedIp.Parse("10.1.2.3")), "::ffff:10.1.2.3", "IPv6NumToString(v)"),
        new("DateTime", "DateTime('UTC')", w => w.WriteDateTime(new DateTime(2026, 3, 4, 5, 6, 7, DateTimeKind.Utc)), "2026-03-04 05:06:07"),
        new("DateTime epoch", "DateTime('UTC')", w => w.WriteDateTime(DateTime.UnixEpoch), "0", "toUInt32(v)"),
        new("DateTime max", "DateTime('UTC')", w => w.WriteDateTime(DateTime.UnixEpoch.AddSeconds(uint.MaxValue)), "4294967295", "toUInt32(v)"),
        new("Date", "Date", w => w.WriteDate(new DateOnly(2026, 3, 4)), "2026-03-04"),
        new("Date max", "Date", w => w.WriteDate(DateOnly.FromDayNumber(DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber + ushort.MaxValue)), "65535", "toUInt16(v)"),
        new("Enum8", "Enum8('unknown' = 0, 'allowed' = 1, 'denied' = 2)", w => w.WriteEnum8(2), "denied"),
        new("Nullable null", "Nullable(UInt16)", w => w.WriteNull(), "1", "isNull(v)"),
        new("Nullable value", "Nullable(UInt16)", w => { w.WriteNotNull(); w.WriteUInt16(18); }, "18"),
        new("Nullable String", "Nullable(String)", w => { w.WriteNotNull(); w.WriteString("x"); }, "x"),
        new("Array(String)", "Array(String)", w => { w.WriteArrayLength(3); w.WriteString("a"); w.WriteString(""); w.WriteString("c'd"); }, "a||c'd", "arrayStringConcat(v, '|')"),
        new("Array empty", "Array(UInt64)", w => w.WriteArrayLength(0), "0", "length(v)"),
        new("Array 300 elements (2-byte length)", "Array(UInt8)", w => { w.WriteArrayLength(300); for (int i = 0; i < 300; i++) w.WriteUInt8((byte)i); }, "300\t33586", "length(v), arraySum(v)"),
        new("Array(Nullable(Int32))", "Array(Nullable(Int32))", w => { w.WriteArrayLength(2); w.WriteNull(); w.WriteNotNull(); w.WriteInt32(-7); }, "[NULL,-7]"),
        new("LowCardinality(String)", "LowCardinality(String)", w => w.WriteLowCardinalityString("kube-system"), "kube-system", NeedsLowCardinalitySetting: true),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Values_written_as_RowBinary_read_back_unchanged(Case c)
    {
        var settings = c.NeedsLowCardinalitySetting && Server.Version.LowCardinalityNeedsExperimentalSetting
            ? new Dictionary<string, string> { ["allow_experimental_low_cardinality_type"] = "1" }
            : null;
        await Db.ExecuteAsync($"CREATE TABLE t (id UInt32, v {c.Type}) ENGINE = MergeTree ORDER BY id", settings: settings);

        using var rows = new RowBinaryWriter();
        rows.WriteUInt32(1);
        c.Write(rows);
        rows.EndRow();
        await Db.InsertRowBinaryAsync("t", ["id", "v"], rows);

        var result = await Db.QueryTsvAsync($"SELECT {c.Read} FROM t");
        Assert.Single(result);
        // Re-escape to TSV shape so multi-column reads compare as one string.
        Assert.Equal(c.Expected, string.Join('\t', result[0]));
    }

    [Fact]
    public async Task Many_rows_spanning_several_chunks_arrive_complete_with_and_without_gzip()
    {
        await Db.ExecuteAsync("CREATE TABLE t (id UInt32, s String) ENGINE = MergeTree ORDER BY id");
        using var rows = new RowBinaryWriter();
        const int count = 50_000;
        for (uint i = 0; i < count; i++)
        {
            rows.WriteUInt32(i);
            rows.WriteString("row-" + i);
            rows.EndRow();
        }
        Assert.True(rows.Length > 4 * RowBinaryWriter.ChunkSize);
        await Db.InsertRowBinaryAsync("t", ["id", "s"], rows);

        using var plain = Server.NewClient(Db.Database, compressInserts: false);
        await plain.InsertRowBinaryAsync("t", ["id", "s"], rows);

        var result = await Db.QueryTsvAsync("SELECT count(), uniqExact(id), sum(length(s)) FROM t");
        long expectedLength = Enumerable.Range(0, count).Sum(i => (long)("row-" + i).Length) * 2;
        Assert.Equal(["100000", "50000", expectedLength.ToString()], result[0]);
    }
}

/// <summary>On the private ClickHouse 18.16 server.</summary>
[Collection(ClickHouseCollection.Name)]
public sealed class RowBinaryRoundTripTests(ClickHouseServerFixture server) : RowBinaryRoundTripTests<ClickHouseServerFixture>(server);

/// <summary>On the current engine (chDB in process).</summary>
[Collection(CurrentClickHouseCollection.Name)]
[Trait("server", "current")]
public sealed class RowBinaryRoundTripTestsOnCurrentServer(ChdbServerFixture server) : RowBinaryRoundTripTests<ChdbServerFixture>(server);
