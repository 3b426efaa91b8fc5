using System.Buffers.Text;
using System.Globalization;

namespace FlowPolicy.Ingest.Formats.Internal;

/// <summary>Timestamp parsing shared by the readers. All results are UTC.</summary>
internal static class FlowTimestamps
{
    /// <summary>
    /// Parses RFC 3339 text ("2026-11-01T10:00:00Z", "...T10:00:00.123456789+02:00"). Fractions longer than
    /// .NET's 100 ns resolution (Hubble writes nanoseconds) are truncated, not rejected.
    /// </summary>
    public static bool TryParseRfc3339(ReadOnlySpan<byte> utf8, out DateTime utc)
    {
        // Every record carries one or two timestamps, and DateTimeOffset.TryParse was the largest single cost of
        // the JSON readers: the shape the exporters write is parsed directly, anything else goes the general way.
        if (TryParseCommonShape(utf8, out utc)) return true;
        return TryParseGeneral(utf8, out utc);
    }

    /// <summary>
    /// "YYYY-MM-DDTHH:MM:SS", optional "." and 1+ fraction digits, then "Z" or "+HH:MM"/"-HH:MM". False means
    /// "not this shape or not valid here", never "invalid": the caller then tries the general parser.
    /// </summary>
    private static bool TryParseCommonShape(ReadOnlySpan<byte> s, out DateTime utc)
    {
        utc = default;
        if (s.Length < 20 || s.Length > 40 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') return false;
        if (!Digits(s, 0, 4, out int year) || !Digits(s, 5, 2, out int month) || !Digits(s, 8, 2, out int day)
            || !Digits(s, 11, 2, out int hour) || !Digits(s, 14, 2, out int minute) || !Digits(s, 17, 2, out int second))
            return false;
        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
            return false;
        int i = 19;
        long fractionTicks = 0;
        if (s[i] == '.')
        {
            int digits = 0;
            i++;
            while (i < s.Length && (uint)(s[i] - '0') <= 9)
            {
                if (digits < 7) fractionTicks = fractionTicks * 10 + (s[i] - '0'); // sub-100 ns digits are truncated
                digits++;
                i++;
            }
            if (digits == 0) return false;
            for (int pad = digits; pad < 7; pad++) fractionTicks *= 10;
        }
        long offsetTicks;
        if (i == s.Length - 1 && s[i] == 'Z') offsetTicks = 0;
        else if (i == s.Length - 6 && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':'
                 && Digits(s, i + 1, 2, out int offsetHours) && Digits(s, i + 4, 2, out int offsetMinutes)
                 && offsetMinutes <= 59 && offsetHours * 60 + offsetMinutes <= 14 * 60)
        {
            offsetTicks = (offsetHours * 60L + offsetMinutes) * TimeSpan.TicksPerMinute;
            if (s[i] == '-') offsetTicks = -offsetTicks;
        }
        else return false;

        long ticks = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Utc).Ticks + fractionTicks - offsetTicks;
        if (ticks < DateTime.MinValue.Ticks || ticks > DateTime.MaxValue.Ticks) return false;
        utc = new DateTime(ticks, DateTimeKind.Utc);
        return true;
    }

    private static bool Digits(ReadOnlySpan<byte> s, int start, int count, out int value)
    {
        value = 0;
        for (int i = start; i < start + count; i++)
        {
            uint digit = (uint)(s[i] - '0');
            if (digit > 9) return false;
            value = value * 10 + (int)digit;
        }
        return true;
    }

    /// <summary>Any RFC 3339 / ISO 8601 text DateTimeOffset accepts (internal: tests hold the fast path to it).</summary>
    internal static bool TryParseGeneral(ReadOnlySpan<byte> utf8, out DateTime utc)
    {
        utc = default;
        if (utf8.Length is < 19 or > 40) return false;
        Span<char> chars = stackalloc char[utf8.Length];
        int n = 0;
        int fractionDigits = 0;
        bool inFraction = false;
        for (int i = 0; i < utf8.Length; i++)
        {
            byte b = utf8[i];
            if (b > 127) return false;
            if (inFraction)
            {
                if ((uint)(b - '0') <= 9)
                {
                    if (++fractionDigits > 7) continue; // drop sub-100ns digits
                }
                else inFraction = false;
            }
            else if (b == '.' && i >= 19) inFraction = true;
            chars[n++] = (char)b;
        }
        if (n > 10 && chars[10] == ' ') chars[10] = 'T';
        if (!DateTimeOffset.TryParse(chars[..n], CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
            return false;
        utc = parsed.UtcDateTime;
        return true;
    }

    public static bool TryParseRfc3339(string? text, out DateTime utc)
    {
        utc = default;
        if (text is null || text.Length > 40) return false;
        Span<byte> utf8 = stackalloc byte[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] > 127) return false;
            utf8[i] = (byte)text[i];
        }
        return TryParseRfc3339(utf8, out utc);
    }

    /// <summary>Unix seconds; rejects values outside 1970..2200 so a field in the wrong unit is caught.</summary>
    public static bool TryFromUnixSeconds(long seconds, out DateTime utc)
    {
        utc = default;
        if (seconds < 0 || seconds > 7_258_118_400L) return false;
        utc = DateTime.UnixEpoch.AddSeconds(seconds);
        return true;
    }

    public static bool TryFromUnixMilliseconds(long milliseconds, out DateTime utc)
    {
        utc = default;
        if (milliseconds < 0 || milliseconds > 7_258_118_400_000L) return false;
        utc = DateTime.UnixEpoch.AddTicks(milliseconds * TimeSpan.TicksPerMillisecond);
        return true;
    }

    public static bool TryFromUnixNanoseconds(ulong nanoseconds, out DateTime utc)
    {
        utc = default;
        if (nanoseconds > 7_258_118_400_000_000_000UL) return false;
        utc = DateTime.UnixEpoch.AddTicks((long)(nanoseconds / 100));
        return true;
    }

    /// <summary>Parses an unsigned decimal from UTF-8 (digits only).</summary>
    public static bool TryParseUInt64(ReadOnlySpan<byte> utf8, out ulong value) =>
        Utf8Parser.TryParse(utf8, out value, out int consumed) && consumed == utf8.Length;
}
