using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace FlowPolicy.Ingest.Formats.Internal;

/// <summary>
/// The byte-level pieces of the JSON line scanners (the canonical and Hubble fast paths): whitespace, escape-free
/// printable-ASCII strings, unsigned integers, RFC 3339 UTC times, numbers, the end of an object or array, and a
/// validating skip of any value made of those. Every helper returns the offset after what it read, or -1 for "not
/// simple or not valid", which sends the line to the decoder's Utf8JsonReader path: the scanners accept a strict subset
/// of what the reader accepts and must decode it to the same result.
/// </summary>
internal static class JsonLineScan
{
    /// <summary>
    /// How deep <see cref="SkipValue"/> goes before it leaves the line to the reader: well inside the reader's own
    /// limit (<see cref="JsonTokens.LineOptions"/>), so nothing the scanner accepts is too deep for the reader.
    /// </summary>
    public const int MaxDepth = 16;

    /// <summary>Bytes that end an escape-free ASCII string run: the closing quote, or anything the scanner leaves to the reader.</summary>
    private static readonly SearchValues<byte> NotPlainStringByte = SearchValues.Create(PlainStringStops());

    private static byte[] PlainStringStops()
    {
        var stops = new List<byte>();
        for (int b = 0; b < 256; b++)
            if (b < 0x20 || b >= 0x7F || b == '"' || b == '\\') stops.Add((byte)b);
        return [.. stops];
    }


    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int SkipSpace(ReadOnlySpan<byte> line, int i)
    {
        while (i < line.Length && line[i] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') i++;
        return i;
    }

    /// <summary>A string of printable ASCII without escapes; <paramref name="text"/> is its content (empty on -1).</summary>
    internal static int PlainString(ReadOnlySpan<byte> line, int i, out ReadOnlySpan<byte> text)
    {
        text = default;
        if (line[i] != (byte)'"') return -1;
        int length = PlainRun(line, i + 1);
        if (length < 0 || line[i + 1 + length] != (byte)'"') return -1;
        text = line.Slice(i + 1, length);
        return i + length + 2;
    }

    /// <summary>
    /// Bytes from <paramref name="start"/> up to the first that is not printable ASCII or is a quote or backslash
    /// (-1: none). Values here are short (addresses, times, names), so 32 bytes at a time in line, not a call.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int PlainRun(ReadOnlySpan<byte> line, int start)
    {
        if (Vector256.IsHardwareAccelerated && start <= line.Length - Vector256<byte>.Count)
        {
            var block = Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(line), (nuint)start);
            // Signed: bytes >= 0x80 are negative, so one comparison catches them and the control characters.
            var stops = Vector256.LessThan(block.AsSByte(), Vector256.Create((sbyte)0x20)).AsByte()
                | Vector256.Equals(block, Vector256.Create((byte)'"'))
                | Vector256.Equals(block, Vector256.Create((byte)'\\'))
                | Vector256.Equals(block, Vector256.Create((byte)0x7F));
            uint mask = stops.ExtractMostSignificantBits();
            if (mask != 0) return BitOperations.TrailingZeroCount(mask);
        }
        return line[start..].IndexOfAny(NotPlainStringByte);
    }

    /// <summary>
    /// A JSON integer without sign, fraction or exponent that fits 64 bits. A fraction or exponent stops it early,
    /// and the caller's check for ',' or '}' after the value then sends the line to the reader.
    /// </summary>
    internal static int UnsignedInteger(ReadOnlySpan<byte> line, int i, out ulong value)
    {
        const ulong Limit = ulong.MaxValue / 10; // 1844674407370955161, and the last digit at most 5
        value = 0;
        int start = i;
        while (i < line.Length)
        {
            uint digit = (uint)(line[i] - '0');
            if (digit > 9) break;
            if (value >= Limit && (value > Limit || digit > 5)) return -1;
            value = value * 10 + digit;
            i++;
        }
        int digits = i - start;
        return digits == 1 || (digits > 1 && line[start] != (byte)'0') ? i : -1; // JSON has no leading zeros
    }


    /// <summary>
    /// "YYYY-MM-DDTHH:MM:SS[.fraction]Z", what the writer writes, with the date and hour taken from the previous
    /// timestamp when its first 13 bytes are the same. Anything else, or anything out of range, is
    /// <see cref="FlowTimestamps.TryParseRfc3339(ReadOnlySpan{byte}, out DateTime)"/>'s (what the reader calls), so
    /// the result is always the one the reader gets.
    /// </summary>
    internal static bool TryParseUtcTime(ReadOnlySpan<byte> s, JsonDecodeState state, out DateTime utc)
    {
        if (s.Length is < 20 or > 40 || s[^1] != (byte)'Z' || s[13] != (byte)':' || s[16] != (byte)':')
            return FlowTimestamps.TryParseRfc3339(s, out utc);
        ulong head = MemoryMarshal.Read<ulong>(s), tail = MemoryMarshal.Read<ulong>(s[5..]);
        long hourTicks = state.HourTicks;
        if (head != state.HourPrefixHead || tail != state.HourPrefixTail || hourTicks < 0)
        {
            if (s[4] != (byte)'-' || s[7] != (byte)'-' || s[10] != (byte)'T'
                || !TwoDigits(s, 0, out int century) || !TwoDigits(s, 2, out int yearOfCentury) || !TwoDigits(s, 5, out int month)
                || !TwoDigits(s, 8, out int day) || !TwoDigits(s, 11, out int hour))
                return FlowTimestamps.TryParseRfc3339(s, out utc);
            int year = century * 100 + yearOfCentury;
            if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23)
                return FlowTimestamps.TryParseRfc3339(s, out utc);
            hourTicks = new DateTime(year, month, day, hour, 0, 0, DateTimeKind.Utc).Ticks;
            (state.HourPrefixHead, state.HourPrefixTail, state.HourTicks) = (head, tail, hourTicks);
        }
        if (!TwoDigits(s, 14, out int minute) || !TwoDigits(s, 17, out int second) || minute > 59 || second > 59)
            return FlowTimestamps.TryParseRfc3339(s, out utc);
        long fraction = 0;
        int i = 19;
        if (s[i] == (byte)'.')
        {
            int digits = 0;
            for (i++; i < s.Length && (uint)(s[i] - '0') <= 9; i++, digits++)
                if (digits < 7) fraction = fraction * 10 + (s[i] - '0'); // sub-100 ns digits are truncated
            if (digits == 0) return FlowTimestamps.TryParseRfc3339(s, out utc);
            for (; digits < 7; digits++) fraction *= 10;
        }
        if (i != s.Length - 1) return FlowTimestamps.TryParseRfc3339(s, out utc);
        utc = new DateTime(hourTicks + minute * TimeSpan.TicksPerMinute + second * TimeSpan.TicksPerSecond + fraction, DateTimeKind.Utc);
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TwoDigits(ReadOnlySpan<byte> s, int at, out int value)
    {
        uint tens = (uint)(s[at] - '0'), ones = (uint)(s[at + 1] - '0');
        value = (int)(tens * 10 + ones);
        return tens <= 9 && ones <= 9;
    }


    /// <summary>
    /// Offset just past the '}' or ']' closing the object or array that starts at <paramref name="start"/>, counting
    /// its own kind of bracket outside strings; -1 if the line ends first or no object or array starts there. Does not
    /// validate: only a cache hit (or a validating pass) gives the bytes a meaning. 32 bytes a step while there are no
    /// backslashes (the quote mask's prefix XOR tells which bytes are inside strings).
    /// </summary>
    internal static int ContainerEnd(ReadOnlySpan<byte> line, int start)
    {
        if ((uint)start >= (uint)line.Length || line[start] is not ((byte)'{' or (byte)'[')) return -1;
        byte openByte = line[start], closeByte = openByte == (byte)'{' ? (byte)'}' : (byte)']';
        int i = start, depth = 0;
        bool inString = false;
        if (Vector256.IsHardwareAccelerated)
        {
            ref byte first = ref MemoryMarshal.GetReference(line);
            var quote = Vector256.Create((byte)'"');
            var backslash = Vector256.Create((byte)'\\');
            var open = Vector256.Create(openByte);
            var close = Vector256.Create(closeByte);
            uint carry = 0; // all ones when the previous block ended inside a string
            while (i <= line.Length - Vector256<byte>.Count)
            {
                var block = Vector256.LoadUnsafe(ref first, (nuint)i);
                if (Vector256.EqualsAny(block, backslash)) break; // escapes: byte by byte from here
                uint quotes = Vector256.Equals(block, quote).ExtractMostSignificantBits();
                uint inside = quotes;
                inside ^= inside << 1;
                inside ^= inside << 2;
                inside ^= inside << 4;
                inside ^= inside << 8;
                inside ^= inside << 16;
                inside ^= carry;
                carry = (uint)((int)inside >> 31);
                uint opens = Vector256.Equals(block, open).ExtractMostSignificantBits() & ~inside;
                uint braces = (opens | Vector256.Equals(block, close).ExtractMostSignificantBits()) & ~inside;
                while (braces != 0)
                {
                    int bit = BitOperations.TrailingZeroCount(braces);
                    if ((opens >> bit & 1) != 0) depth++;
                    else if (--depth == 0) return i + bit + 1;
                    braces &= braces - 1;
                }
                i += Vector256<byte>.Count;
            }
            inString = carry != 0;
        }
        for (; i < line.Length; i++)
        {
            byte b = line[i];
            if (inString)
            {
                if (b == (byte)'\\') i++;
                else if (b == (byte)'"') inString = false;
            }
            else if (b == (byte)'"') inString = true;
            else if (b == openByte) depth++;
            else if (b == closeByte && --depth == 0) return i + 1;
        }
        return -1;
    }


    /// <summary>JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?</summary>
    internal static int SkipNumber(ReadOnlySpan<byte> line, int i)
    {
        if (i < line.Length && line[i] == (byte)'-') i++;
        if (i >= line.Length || !char.IsAsciiDigit((char)line[i])) return -1;
        i = line[i] == (byte)'0' ? i + 1 : SkipDigits(line, i);
        if (i < line.Length && line[i] == (byte)'.')
        {
            int fraction = SkipDigits(line, i + 1);
            if (fraction == i + 1) return -1;
            i = fraction;
        }
        if (i < line.Length && (line[i] | 0x20) == (byte)'e')
        {
            i++;
            if (i < line.Length && line[i] is (byte)'+' or (byte)'-') i++;
            int exponent = SkipDigits(line, i);
            if (exponent == i) return -1;
            i = exponent;
        }
        return i;
    }

    private static int SkipDigits(ReadOnlySpan<byte> line, int i)
    {
        while (i < line.Length && char.IsAsciiDigit((char)line[i])) i++;
        return i;
    }

    /// <summary>
    /// The start of an object's members: past <c>{</c> (which must be at <paramref name="i"/>) and the whitespace after
    /// it. <paramref name="empty"/> says the object ended right away, and then the offset is past its <c>}</c>.
    /// </summary>
    internal static int ObjectStart(ReadOnlySpan<byte> line, int i, out bool empty)
    {
        empty = false;
        if ((uint)i >= (uint)line.Length || line[i] != (byte)'{') return -1;
        i = SkipSpace(line, i + 1);
        if (i < line.Length && line[i] == (byte)'}')
        {
            empty = true;
            return i + 1;
        }
        return i;
    }

    /// <summary>A member's name, the colon and the whitespace around it: the offset of its value (never the line's end), or -1.</summary>
    internal static int MemberName(ReadOnlySpan<byte> line, int i, out ReadOnlySpan<byte> name)
    {
        name = default;
        if (i >= line.Length || (i = PlainString(line, i, out name)) < 0) return -1;
        i = SkipSpace(line, i);
        if (i >= line.Length || line[i] != (byte)':') return -1;
        i = SkipSpace(line, i + 1);
        return i < line.Length ? i : -1;
    }

    /// <summary>
    /// After a member's value: a comma (the offset of the next member's name) or the closing <c>}</c>
    /// (<paramref name="closed"/>, the offset past it); -1 for anything else.
    /// </summary>
    internal static int NextMember(ReadOnlySpan<byte> line, int i, out bool closed)
    {
        closed = false;
        i = SkipSpace(line, i);
        if (i >= line.Length) return -1;
        if (line[i] == (byte)'}')
        {
            closed = true;
            return i + 1;
        }
        return line[i] == (byte)',' ? SkipSpace(line, i + 1) : -1;
    }

    /// <summary>
    /// The JSON value at <paramref name="i"/> (at nesting <paramref name="depth"/>, 1 for a value inside the line's
    /// object), checked against JSON's grammar: objects, arrays, escape-free printable-ASCII strings, numbers, true,
    /// false and null, with JSON's four whitespace bytes between tokens. -1 for anything else, invalid or not.
    /// </summary>
    internal static int SkipValue(ReadOnlySpan<byte> line, int i, int depth)
    {
        if ((uint)i >= (uint)line.Length) return -1;
        switch (line[i])
        {
            case (byte)'"':
                return PlainString(line, i, out _);
            case (byte)'t':
                return line[i..].StartsWith("true"u8) ? i + 4 : -1;
            case (byte)'f':
                return line[i..].StartsWith("false"u8) ? i + 5 : -1;
            case (byte)'n':
                return line[i..].StartsWith("null"u8) ? i + 4 : -1;
            case (byte)'{':
            case (byte)'[':
                break;
            default:
                return SkipNumber(line, i);
        }
        if (depth >= MaxDepth) return -1;
        bool isObject = line[i] == (byte)'{';
        byte close = isObject ? (byte)'}' : (byte)']';
        i = SkipSpace(line, i + 1);
        if (i < line.Length && line[i] == close) return i + 1;
        while (true)
        {
            if (isObject && (i = MemberName(line, i, out _)) < 0) return -1;
            if ((i = SkipValue(line, i, depth + 1)) < 0) return -1;
            i = SkipSpace(line, i);
            if (i >= line.Length) return -1;
            if (line[i] == close) return i + 1;
            if (line[i] != (byte)',') return -1;
            i = SkipSpace(line, i + 1);
        }
    }
}
