using System.Text;
using FlowPolicy.ClickHouse;
using FlowPolicy.IntegrationTests.Infrastructure;
using FlowPolicy.IntegrationTests.Infrastructure.Chdb;

namespace FlowPolicy.IntegrationTests.ClickHouse;

/// <summary>Literals and identifiers built by ClickHouseSql, executed on the real server, read back byte for byte.</summary>
public abstract class ClickHouseSqlRoundTripTests<TServer>(TServer server) : ClickHouseTest<TServer>(server)
    where TServer : IClickHouseTestServer
{
    public static TheoryData<string> NastyStrings() => new()
    {
        "",
        "plain",
        "it's",
        "back\\slash",
        "trailing backslash\\",
        "\\'",
        "'; DROP TABLE flows; --",
        "`backtick`",
        "tab\tnew\nline\rcarriage",
        "nul\0inside",
        "\u0001\u001f\u007f control",
        "\"double\"",
        "ünïcødé λ 日本語",
        "emoji 😀 surrogate pair",
        "{x:String} $1 ? %s",
        "\\x41 looks like an escape",
        "\\N",
    };

    [Theory]
    [MemberData(nameof(NastyStrings))]
    public async Task String_literals_reach_the_server_as_the_exact_UTF8_bytes(string value)
    {
        var hex = await Db.QueryScalarAsync("SELECT hex(" + ClickHouseSql.QuoteString(value) + ")");
        Assert.Equal(Convert.ToHexString(Encoding.UTF8.GetBytes(value)), hex);
    }

    [Fact]
    public async Task Lone_surrogates_become_the_replacement_character()
    {
        var hex = await Db.QueryScalarAsync("SELECT hex(" + ClickHouseSql.QuoteString("a\uD800b") + ")");
        Assert.Equal("61EFBFBD62", hex);
    }

    [Fact]
    public async Task Byte_literals_keep_invalid_UTF8_and_every_byte_value()
    {
        var bytes = new byte[256 + 6];
        for (int i = 0; i < 256; i++) bytes[i] = (byte)i;
        "\u00e9\u20ac"u8.CopyTo(bytes.AsSpan(256)); // valid multi-byte sequences after the invalid ones
        var hex = await Db.QueryScalarAsync("SELECT hex(" + ClickHouseSql.QuoteString(bytes) + ")");
        Assert.Equal(Convert.ToHexString(bytes), hex);
    }

    [Theory]
    [MemberData(nameof(NastyStrings))]
    public async Task Identifiers_name_tables_and_columns_exactly(string name)
    {
        if (name.Length == 0 || name.Contains('\0')) return; // refused by QuoteIdentifier, covered by unit tests
        await Db.ExecuteAsync($"CREATE TABLE {ClickHouseSql.QuoteIdentifier(Db.Database, name)} ({ClickHouseSql.QuoteIdentifier(name)} UInt8) ENGINE = Memory");
        var tables = await Db.QueryTsvAsync($"SELECT name FROM system.tables WHERE database = {ClickHouseSql.QuoteString(Db.Database)}");
        Assert.Equal(name, Assert.Single(tables)[0]);
        var column = await Db.QueryScalarAsync(
            $"SELECT name FROM system.columns WHERE database = {ClickHouseSql.QuoteString(Db.Database)} AND table = {ClickHouseSql.QuoteString(name)}");
        Assert.Equal(name, column);
    }

    [Fact]
    public async Task DateTime_literals_are_UTC_seconds_whatever_the_kind()
    {
        var utc = new DateTime(2026, 2, 28, 23, 59, 58, 999, DateTimeKind.Utc);
        Assert.Equal(((long)(utc - DateTime.UnixEpoch).TotalSeconds).ToString(),
            await Db.QueryScalarAsync("SELECT toUInt32(" + ClickHouseSql.FormatDateTime(utc) + ")"));
        Assert.Equal("0", await Db.QueryScalarAsync("SELECT toUInt32(" + ClickHouseSql.FormatDateTime(DateTime.UnixEpoch) + ")"));
        Assert.Equal("4294967295", await Db.QueryScalarAsync("SELECT toUInt32(" + ClickHouseSql.FormatDateTime(DateTime.UnixEpoch.AddSeconds(uint.MaxValue)) + ")"));
        Assert.Equal("2026-03-04", await Db.QueryScalarAsync("SELECT " + ClickHouseSql.FormatDate(new DateOnly(2026, 3, 4))));
    }

    [Fact]
    public async Task Number_literals_round_trip()
    {
        Assert.Equal("-9223372036854775808", await Db.QueryScalarAsync("SELECT " + ClickHouseSql.FormatNumber(long.MinValue)));
        Assert.Equal("18446744073709551615", await Db.QueryScalarAsync("SELECT " + ClickHouseSql.FormatNumber(ulong.MaxValue)));
        Assert.Equal("1", await Db.QueryScalarAsync("SELECT " + ClickHouseSql.FormatNumber(0.1) + " = toFloat64('0.1')"));
        Assert.Equal("1", await Db.QueryScalarAsync("SELECT " + ClickHouseSql.FormatNumber(1e300) + " = toFloat64('1e300')"));
        Assert.Equal("nan\tinf\t-inf", string.Join('\t', (await Db.QueryTsvAsync(
            $"SELECT {ClickHouseSql.FormatNumber(double.NaN)}, {ClickHouseSql.FormatNumber(double.PositiveInfinity)}, {ClickHouseSql.FormatNumber(double.NegativeInfinity)}"))[0]));
    }
}

/// <summary>On the private ClickHouse 18.16 server.</summary>
[Collection(ClickHouseCollection.Name)]
public sealed class ClickHouseSqlRoundTripTests(ClickHouseServerFixture server) : ClickHouseSqlRoundTripTests<ClickHouseServerFixture>(server);

/// <summary>On the current engine (chDB in process).</summary>
[Collection(CurrentClickHouseCollection.Name)]
[Trait("server", "current")]
public sealed class ClickHouseSqlRoundTripTestsOnCurrentServer(ChdbServerFixture server) : ClickHouseSqlRoundTripTests<ChdbServerFixture>(server);
