using System.Buffers;
using System.Globalization;
using System.Text;

namespace FlowPolicy.ClickHouse;

/// <summary>
/// The one place SQL text is made from values: identifiers in backticks, strings in single quotes, both with
/// ClickHouse's backslash escapes; DateTime/Date/number literals in forms every version since 18.16 parses.
/// Nothing else may paste names or values into SQL.
/// </summary>
public static class ClickHouseSql
{
    /// <summary>
    /// `name` with backslash, backtick and control characters escaped. Empty names and NUL are refused:
    /// ClickHouse cannot store them as table or column names, so they can only be mistakes or attacks.
    /// </summary>
    public static string QuoteIdentifier(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0) throw new ArgumentException("An identifier must not be empty.", nameof(name));
        if (name.Contains('\0')) throw new ArgumentException("An identifier must not contain NUL.", nameof(name));
        var builder = new StringBuilder(name.Length + 2);
        builder.Append('`');
        AppendEscaped(builder, name, '`');
        builder.Append('`');
        return builder.ToString();
    }

    /// <summary>`database`.`table`.</summary>
    public static string QuoteIdentifier(string database, string table) =>
        QuoteIdentifier(database) + "." + QuoteIdentifier(table);

    /// <summary>
    /// 'value' with backslash, quote and control characters escaped. The server receives the UTF-8 bytes of
    /// <paramref name="value"/>; a lone UTF-16 surrogate (which has no UTF-8 form) becomes U+FFFD, as in any
    /// UTF-8 encoding. Use the byte overload when exact bytes matter.
    /// </summary>
    public static string QuoteString(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var builder = new StringBuilder(value.Length + 2);
        builder.Append('\'');
        AppendEscaped(builder, value, '\'');
        builder.Append('\'');
        return builder.ToString();
    }

    /// <summary>
    /// A string literal whose value is exactly <paramref name="bytes"/>: valid UTF-8 stays readable, every byte
    /// that is not part of a valid UTF-8 sequence is written as \xHH.
    /// </summary>
    public static string QuoteString(ReadOnlySpan<byte> bytes)
    {
        var builder = new StringBuilder(bytes.Length + 2);
        builder.Append('\'');
        Span<char> chars = stackalloc char[2];
        while (!bytes.IsEmpty)
        {
            var status = Rune.DecodeFromUtf8(bytes, out var rune, out int consumed);
            if (status == OperationStatus.Done)
            {
                if (rune.IsAscii) AppendEscapedChar(builder, (char)rune.Value, '\'');
                else builder.Append(chars[..rune.EncodeToUtf16(chars)]);
                bytes = bytes[consumed..];
            }
            else
            {
                AppendHexByte(builder, bytes[0]);
                bytes = bytes[1..];
            }
        }
        builder.Append('\'');
        return builder.ToString();
    }

    /// <summary>
    /// toDateTime(seconds, 'UTC'): second precision, UTC regardless of the server's time zone. Numeric, not text,
    /// because 18.16 parses text only up to 2105-12-31 and silently wraps later times (verified).
    /// Local times are converted to UTC; Unspecified is taken as UTC. Outside 1970..2106-02-07 throws, as the column would overflow.
    /// </summary>
    public static string FormatDateTime(DateTime value)
    {
        var utc = value.Kind == DateTimeKind.Local ? value.ToUniversalTime() : value;
        if (utc < DateTime.UnixEpoch || utc >= MaxDateTime)
            throw new ArgumentOutOfRangeException(nameof(value), value, "ClickHouse DateTime holds 1970-01-01 to 2106-02-07 UTC.");
        long seconds = (utc.Ticks - DateTime.UnixEpoch.Ticks) / TimeSpan.TicksPerSecond;
        return "toDateTime(" + seconds.ToString(CultureInfo.InvariantCulture) + ", 'UTC')";
    }

    /// <summary>toDate('yyyy-MM-dd').</summary>
    public static string FormatDate(DateOnly value)
    {
        if (value < DateOnly.FromDateTime(DateTime.UnixEpoch) || value.DayNumber - EpochDayNumber > ushort.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(value), value, "ClickHouse Date holds 1970-01-01 to 2149-06-06.");
        return "toDate('" + value.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + "')";
    }

    public static string FormatNumber(long value) => value.ToString(CultureInfo.InvariantCulture);
    public static string FormatNumber(ulong value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Shortest round-trip text; nan, inf and -inf as ClickHouse spells them.</summary>
    public static string FormatNumber(double value) =>
        double.IsNaN(value) ? "nan"
        : double.IsPositiveInfinity(value) ? "inf"
        : double.IsNegativeInfinity(value) ? "-inf"
        : value.ToString("R", CultureInfo.InvariantCulture);

    internal static readonly DateTime MaxDateTime = DateTime.UnixEpoch.AddSeconds(uint.MaxValue + 1.0);
    private static readonly int EpochDayNumber = DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;

    private static void AppendEscaped(StringBuilder builder, string value, char quote)
    {
        // Encode through UTF-8 semantics: lone surrogates become U+FFFD here rather than in the HTTP encoder.
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (char.IsSurrogate(c))
            {
                if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
                {
                    builder.Append(c).Append(value[i + 1]);
                    i++;
                }
                else builder.Append('\uFFFD');
                continue;
            }
            AppendEscapedChar(builder, c, quote);
        }
    }

    private static void AppendEscapedChar(StringBuilder builder, char c, char quote)
    {
        switch (c)
        {
            case '\\': builder.Append("\\\\"); break;
            case '\'': builder.Append("\\'"); break;
            case '`': builder.Append(quote == '`' ? "\\`" : "`"); break;
            case '\n': builder.Append("\\n"); break;
            case '\r': builder.Append("\\r"); break;
            case '\t': builder.Append("\\t"); break;
            default:
                if (c < 0x20 || c == 0x7F) AppendHexByte(builder, (byte)c);
                else builder.Append(c);
                break;
        }
    }

    private static void AppendHexByte(StringBuilder builder, byte b)
    {
        const string Hex = "0123456789ABCDEF";
        builder.Append("\\x").Append(Hex[b >> 4]).Append(Hex[b & 0xF]);
    }
}
