using FlowPolicy.ClickHouse;

namespace FlowPolicy.Tests.ClickHouse;

public sealed class ClickHouseSqlTests
{
    [Theory]
    [InlineData("flows", "`flows`")]
    [InlineData("we`ird", "`we\\`ird`")]
    [InlineData("back\\slash", "`back\\\\slash`")]
    [InlineData("it's", "`it\\'s`")]
    [InlineData("new\nline\ttab", "`new\\nline\\ttab`")]
    [InlineData("\u0001", "`\\x01`")]
    [InlineData("ünï", "`ünï`")]
    public void Identifiers_are_backquoted_with_escapes(string name, string expected) =>
        Assert.Equal(expected, ClickHouseSql.QuoteIdentifier(name));

    [Theory]
    [InlineData("")]
    [InlineData("a\0b")]
    public void Empty_identifiers_and_NUL_are_refused(string name) =>
        Assert.Throws<ArgumentException>(() => ClickHouseSql.QuoteIdentifier(name));

    [Fact]
    public void Qualified_names_quote_both_parts() =>
        Assert.Equal("`my db`.`t\\``", ClickHouseSql.QuoteIdentifier("my db", "t`"));

    [Fact]
    public void Lone_surrogates_become_the_replacement_character() =>
        Assert.Equal("'a\uFFFDb'", ClickHouseSql.QuoteString("a\uD800b"));

    [Theory]
    [InlineData("", "''")]
    [InlineData("it's", "'it\\'s'")]
    [InlineData("\\", "'\\\\'")]
    [InlineData("'; DROP TABLE x; --", "'\\'; DROP TABLE x; --'")]
    [InlineData("a\0b", "'a\\x00b'")]
    [InlineData("\r\n\t", "'\\r\\n\\t'")]
    [InlineData("\u007f", "'\\x7F'")]
    [InlineData("`", "'`'")]
    [InlineData("日本", "'日本'")]
    public void String_literals_escape_quotes_backslashes_and_control_characters(string value, string expected) =>
        Assert.Equal(expected, ClickHouseSql.QuoteString(value));

    [Fact]
    public void Byte_literals_hex_escape_invalid_UTF8_and_keep_valid_sequences() =>
        Assert.Equal("'A\\xFF\\xC3é\\''", ClickHouseSql.QuoteString(new byte[] { 0x41, 0xFF, 0xC3, 0xC3, 0xA9, 0x27 }));

    [Fact]
    public void DateTime_literals_are_numeric_UTC_seconds()
    {
        Assert.Equal("toDateTime(0, 'UTC')", ClickHouseSql.FormatDateTime(DateTime.UnixEpoch));
        Assert.Equal("toDateTime(1767225600, 'UTC')", ClickHouseSql.FormatDateTime(new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc)));
        Assert.Equal("toDateTime(1767225600, 'UTC')", ClickHouseSql.FormatDateTime(new DateTime(2026, 1, 1, 0, 0, 0, 900, DateTimeKind.Unspecified)));
        Assert.Throws<ArgumentOutOfRangeException>(() => ClickHouseSql.FormatDateTime(new DateTime(1969, 12, 31, 23, 59, 59, DateTimeKind.Utc)));
        Assert.Throws<ArgumentOutOfRangeException>(() => ClickHouseSql.FormatDateTime(DateTime.UnixEpoch.AddSeconds(uint.MaxValue + 1.0)));
    }

    [Fact]
    public void Numbers_use_invariant_round_trip_text()
    {
        Assert.Equal("-5", ClickHouseSql.FormatNumber(-5L));
        Assert.Equal("0.1", ClickHouseSql.FormatNumber(0.1));
        Assert.Equal("1E+300", ClickHouseSql.FormatNumber(1e300));
        Assert.Equal("nan", ClickHouseSql.FormatNumber(double.NaN));
        Assert.Equal("-inf", ClickHouseSql.FormatNumber(double.NegativeInfinity));
    }
}
