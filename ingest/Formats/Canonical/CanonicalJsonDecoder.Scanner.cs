using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text.Json;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats.Internal;

namespace FlowPolicy.Ingest.Formats.Canonical;

// The fast path: one pass over the line's bytes, no tokenizer. Utf8JsonReader was ~47% of decoding a canonical
// line (it validates and classifies every token, then the decoder looks at each again). The scanner only
// accepts lines it fully understands and that decode without error: plain keys in any order with any whitespace,
// known fields at most once, values that are integers, escape-free printable-ASCII strings, null, and identity
// objects (found by their exact bytes in the identity cache, or parsed cleanly by the reader path's own
// ParseIdentity). Anything else (escapes, non-ASCII, fractions, exponents, minus signs, arrays, duplicate or
// missing keys, any value the reader would reject) returns false and the line goes the Utf8JsonReader way, so
// errors and odd input behave exactly as they always did. Unknown keys with a simple value are skipped, as the
// reader skips them. The exact layout CanonicalJsonWriter writes is tried first, as straight-line code
// (CanonicalJsonDecoder.WriterLayout.cs).
internal sealed partial class CanonicalJsonDecoder
{
    /// <summary>Bytes that end an escape-free ASCII string run: the closing quote, or anything the scanner leaves to the reader.</summary>
    private static readonly SearchValues<byte> NotPlainStringByte = SearchValues.Create(PlainStringStops());

    private static byte[] PlainStringStops()
    {
        var stops = new List<byte>();
        for (int b = 0; b < 256; b++)
            if (b < 0x20 || b >= 0x7F || b == '"' || b == '\\') stops.Add((byte)b);
        return [.. stops];
    }

    /// <summary>
    /// Decodes <paramref name="line"/> into <paramref name="flow"/> when it is simple enough; false means "use the
    /// reader" (<paramref name="flow"/> is then partly written and must be reset). Never rejects anything itself.
    /// The helpers return the offset after what they read, or -1 for "not simple" (so the offset stays in a register).
    /// </summary>
    internal static bool TryScan(ReadOnlySpan<byte> line, JsonDecodeState state, ref FlowRecord flow)
    {
        if (TryScanWriterLayout(line, state, ref flow)) return true;
        flow = default;
        int i = SkipSpace(line, 0);
        if (i >= line.Length || line[i] != (byte)'{') return false;
        i = SkipSpace(line, i + 1);
        uint keys = 0, values = 0; // known keys seen; known keys with a non-null value
        int next = 0; // index in WriterOrder of the key expected next
        while (true)
        {
            // Key: the one the writer puts next, or one of the few after it (optional keys left out), else any
            // escape-free ASCII string.
            Field field = Field.Unknown;
            int match = -1;
            for (int k = next, last = Math.Min(next + 4, WriterKeys.Length); k < last; k++)
            {
                if (WriterKeys[k].IsAt(line, i))
                {
                    match = k;
                    break;
                }
            }
            if (match >= 0)
            {
                field = WriterOrder[match];
                i += WriterKeys[match].Length;
                next = match + 1;
            }
            else
            {
                if (i >= line.Length || line[i] != (byte)'"') return false;
                int nameStart = i + 1;
                int nameLength = PlainRun(line, nameStart);
                if (nameLength < 0 || line[nameStart + nameLength] != (byte)'"') return false;
                field = FieldOf(line.Slice(nameStart, nameLength));
                i = SkipSpace(line, nameStart + nameLength + 1);
                if (i >= line.Length || line[i] != (byte)':') return false;
                i++;
                if (field != Field.Unknown) next = WriterIndex[(int)field] + 1;
            }
            i = SkipSpace(line, i);
            if (i >= line.Length) return false;

            if (field != Field.Unknown)
            {
                uint bit = 1u << (int)field;
                if ((keys & bit) != 0) return false; // duplicate key: the reader's "last one wins" (and null) rules apply
                keys |= bit;
            }
            if (line[i] == (byte)'n')
            {
                // null counts as absent, for every field (and unknown keys).
                if (!line[i..].StartsWith("null"u8)) return false;
                i += 4;
            }
            else
            {
                i = ScanValue(line, i, field, state, ref flow);
                if (i < 0) return false;
                if (field != Field.Unknown) values |= 1u << (int)field;
            }

            i = SkipSpace(line, i);
            if (i >= line.Length) return false;
            if (line[i] == (byte)',')
            {
                i = SkipSpace(line, i + 1);
                continue;
            }
            if (line[i] != (byte)'}') return false;
            i = SkipSpace(line, i + 1);
            break;
        }
        if (i != line.Length) return false; // trailing bytes: the reader reports them

        const uint Required = 1u << (int)Field.Start | 1u << (int)Field.SrcIp | 1u << (int)Field.DstIp | 1u << (int)Field.Proto;
        if ((values & Required) != Required) return false; // missing: the reader names the field
        if ((values & (1u << (int)Field.End)) == 0) flow.End = flow.Start;
        else if (flow.End < flow.Start) return false;
        return true;
    }

    /// <summary>Reads the value at <paramref name="i"/> into its field; the offset after it, or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ScanValue(ReadOnlySpan<byte> line, int i, Field field, JsonDecodeState state, ref FlowRecord flow)
    {
        ReadOnlySpan<byte> text;
        ulong number;
        switch (field)
        {
            case Field.Start:
                return ScanTime(line, i, state, out flow.Start);
            case Field.End:
                return ScanTime(line, i, state, out flow.End);
            case Field.SrcIp:
                i = PlainString(line, i, out text);
                return i >= 0 && PackedIp.TryParse(text, out flow.SrcIp) ? i : -1;
            case Field.DstIp:
                i = PlainString(line, i, out text);
                return i >= 0 && PackedIp.TryParse(text, out flow.DstIp) ? i : -1;
            case Field.SrcPort:
                i = UnsignedInteger(line, i, out number);
                if (i < 0 || number > 65535) return -1;
                flow.SrcPort = (ushort)number;
                return i;
            case Field.DstPort:
                i = UnsignedInteger(line, i, out number);
                if (i < 0 || number > 65535) return -1;
                flow.DstPort = (ushort)number;
                return i;
            case Field.Proto:
                if (line[i] == (byte)'"')
                {
                    i = PlainString(line, i, out text);
                    return i >= 0 && TryProtocolName(text, out flow.Protocol) ? i : -1;
                }
                i = UnsignedInteger(line, i, out number);
                if (i < 0 || number > 255) return -1;
                flow.Protocol = (byte)number;
                return i;
            case Field.Bytes:
                return UnsignedInteger(line, i, out flow.Bytes);
            case Field.Packets:
                return UnsignedInteger(line, i, out flow.Packets);
            case Field.Verdict:
                i = PlainString(line, i, out text);
                if (text.SequenceEqual("allowed"u8)) flow.Verdict = Verdict.Allowed;
                else if (text.SequenceEqual("denied"u8)) flow.Verdict = Verdict.Denied;
                else if (text.SequenceEqual("unknown"u8)) flow.Verdict = Verdict.Unknown;
                else return -1;
                return i;
            case Field.Direction:
                i = PlainString(line, i, out text);
                if (text.SequenceEqual("request"u8)) flow.Direction = DirectionHint.Request;
                else if (text.SequenceEqual("reply"u8)) flow.Direction = DirectionHint.Reply;
                else if (text.SequenceEqual("unknown"u8)) flow.Direction = DirectionHint.Unknown;
                else return -1;
                return i;
            case Field.TcpFlags:
                i = UnsignedInteger(line, i, out number);
                if (i < 0 || number > 511) return -1;
                flow.TcpFlags = (ushort)number;
                flow.HasTcpFlags = true;
                return i;
            case Field.Reporter:
                i = PlainString(line, i, out text);
                if (i >= 0) flow.Reporter = text.IsEmpty ? null : state.String(text);
                return i;
            case Field.Policy:
                i = PlainString(line, i, out text);
                if (i >= 0) flow.PolicyName = text.IsEmpty ? null : state.String(text);
                return i;
            case Field.Src:
                return CachedIdentity(line, i, Field.Src, state, out flow.SrcIdentity);
            case Field.Dst:
                return CachedIdentity(line, i, Field.Dst, state, out flow.DstIdentity);
            default:
                return SkipSimpleValue(line, i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SkipSpace(ReadOnlySpan<byte> line, int i)
    {
        while (i < line.Length && line[i] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') i++;
        return i;
    }

    /// <summary>A string of printable ASCII without escapes; <paramref name="text"/> is its content (empty on -1).</summary>
    private static int PlainString(ReadOnlySpan<byte> line, int i, out ReadOnlySpan<byte> text)
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
    private static int PlainRun(ReadOnlySpan<byte> line, int start)
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
    private static int UnsignedInteger(ReadOnlySpan<byte> line, int i, out ulong value)
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

    private static int ScanTime(ReadOnlySpan<byte> line, int i, JsonDecodeState state, out DateTime utc)
    {
        utc = default;
        if (line[i] == (byte)'"')
        {
            i = PlainString(line, i, out var text);
            return i >= 0 && TryParseUtcTime(text, state, out utc) ? i : -1;
        }
        i = UnsignedInteger(line, i, out ulong seconds);
        return i >= 0 && seconds <= long.MaxValue && FlowTimestamps.TryFromUnixSeconds((long)seconds, out utc) ? i : -1;
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
    /// An identity object: looked up by its exact bytes in the identity cache, or parsed and cached by the reader
    /// path's own <see cref="ParseIdentity(ReadOnlySpan{byte}, JsonDecodeState, string, JsonReaderOptions, out WorkloadIdentity?, out long)"/>.
    /// </summary>
    /// <remarks>
    /// Any candidate end is safe to look up: a hit means these exact bytes were a valid identity object before (the
    /// reader checked them), so they are now, and the reader would end the object there too, since a valid JSON
    /// object is never a prefix of a longer one. So the writer's layout is tried first (`src` ends at the first
    /// `},"`, the last object just before the line's closing brace), and the brace count only when that misses.
    /// </remarks>
    private static int CachedIdentity(ReadOnlySpan<byte> line, int i, Field field, JsonDecodeState state, out WorkloadIdentity? identity)
    {
        identity = null;
        if (line[i] != (byte)'{') return -1;
        int guess = field == Field.Dst ? -1 : line[i..].IndexOf("},\""u8) is int comma and >= 0 ? i + comma + 1 : -1;
        if (guess < 0) guess = LastObjectEnd(line, i);
        if (guess > i && state.Identities.TryPeek(line[i..guess], out identity) && identity is not null) return guess;
        int end = ObjectEnd(line, i);
        if (end < 0) return -1;
        var raw = line[i..end];
        // The lookup the reader path makes (it counts the miss, which is what grows the cache), then its parse.
        if (state.Identities.TryGet(raw, out int slot, out identity)) return identity is null ? -1 : end;
        if (!TryParseNewIdentity(raw, state, out identity)) return -1;
        state.Identities.Set(slot, raw, identity);
        return end;
    }

    /// <summary>The reader's options for a line, one level less deep: here the identity is the outermost object.</summary>
    private static readonly JsonReaderOptions IdentityOptions = new()
    {
        CommentHandling = JsonTokens.LineOptions.CommentHandling,
        AllowTrailingCommas = JsonTokens.LineOptions.AllowTrailingCommas,
        MaxDepth = JsonTokens.LineOptions.MaxDepth - 1,
    };

    /// <summary>
    /// A new identity object, parsed by the same code the reader path runs after its `Skip` validated the object.
    /// Here nothing has validated it yet, so anything but a clean parse of exactly these bytes (broken JSON,
    /// something after the closing brace, a wrong type or kind) sends the line to the reader for its error.
    /// </summary>
    private static bool TryParseNewIdentity(ReadOnlySpan<byte> raw, JsonDecodeState state, out WorkloadIdentity? identity)
    {
        identity = null;
        try
        {
            return ParseIdentity(raw, state, "", IdentityOptions, out identity, out long consumed) is null
                && consumed == raw.Length && identity is not null;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            identity = null;
            return false;
        }
    }

    /// <summary>Where an object that is the line's last value ends: just before the closing brace of the line ("...}}").</summary>
    private static int LastObjectEnd(ReadOnlySpan<byte> line, int start)
    {
        int last = line.Length - 1;
        while (last > start && line[last] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') last--;
        return last > start + 1 && line[last] == (byte)'}' && line[last - 1] == (byte)'}' ? last : -1;
    }

    /// <summary>
    /// Offset just past the '}' closing the object that starts at <paramref name="start"/>, counting braces outside
    /// strings; -1 if the line ends first. Does not validate: only a cache hit gives the bytes a meaning. 32 bytes
    /// a step while there are no backslashes (the quote mask's prefix XOR tells which bytes are inside strings).
    /// </summary>
    internal static int ObjectEnd(ReadOnlySpan<byte> line, int start)
    {
        int i = start, depth = 0;
        bool inString = false;
        if (Vector256.IsHardwareAccelerated)
        {
            ref byte first = ref MemoryMarshal.GetReference(line);
            var quote = Vector256.Create((byte)'"');
            var backslash = Vector256.Create((byte)'\\');
            var open = Vector256.Create((byte)'{');
            var close = Vector256.Create((byte)'}');
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
            else if (b == (byte)'{') depth++;
            else if (b == (byte)'}' && --depth == 0) return i + 1;
        }
        return -1;
    }

    /// <summary>The value of a key the format does not know: the reader skips it, so does the scanner if it is simple.</summary>
    private static int SkipSimpleValue(ReadOnlySpan<byte> line, int i) => line[i] switch
    {
        (byte)'"' => PlainString(line, i, out _),
        (byte)'t' => line[i..].StartsWith("true"u8) ? i + 4 : -1,
        (byte)'f' => line[i..].StartsWith("false"u8) ? i + 5 : -1,
        _ => SkipNumber(line, i),
    };

    /// <summary>JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?</summary>
    private static int SkipNumber(ReadOnlySpan<byte> line, int i)
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
}
