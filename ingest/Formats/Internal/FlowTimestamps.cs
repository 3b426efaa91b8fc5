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
