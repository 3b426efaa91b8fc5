using System.Globalization;

namespace FlowPolicy.Core.Edges;

/// <summary>
/// A UTC time as "yyyy-MM-ddTHH:mm:ssZ" (or "yyyy-MM-dd HH:mm" without seconds), formatted straight into the
/// interpolated text or a JSON writer: a million rules or edges format two times each, and the general DateTime
/// formatter showed in profiles.
/// </summary>
public readonly record struct TimeText(DateTime Time, bool Seconds) : ISpanFormattable
{
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider)
    {
        int length = Seconds ? 20 : 16;
        charsWritten = 0;
        if (destination.Length < length || Time.Year > 9999) return false;
        Digits(destination, 0, Time.Year, 4);
        destination[4] = '-';
        Digits(destination, 5, Time.Month, 2);
        destination[7] = '-';
        Digits(destination, 8, Time.Day, 2);
        destination[10] = Seconds ? 'T' : ' ';
        Digits(destination, 11, Time.Hour, 2);
        destination[13] = ':';
        Digits(destination, 14, Time.Minute, 2);
        if (Seconds)
        {
            destination[16] = ':';
            Digits(destination, 17, Time.Second, 2);
            destination[19] = 'Z';
        }
        charsWritten = length;
        return true;
    }

    private static void Digits(Span<char> destination, int at, int value, int count)
    {
        for (int i = at + count - 1; i >= at; i--)
        {
            destination[i] = (char)('0' + value % 10);
            value /= 10;
        }
    }

    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    public override string ToString() => Seconds
        ? Time.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)
        : Time.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
}
