using System.Runtime.CompilerServices;
using System.Text.Json;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats.Internal;
using static FlowPolicy.Ingest.Formats.Internal.JsonLineScan;

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
        int end = ContainerEnd(line, i);
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

    /// <summary>The value of a key the format does not know: the reader skips it, so does the scanner if it is simple.</summary>
    private static int SkipSimpleValue(ReadOnlySpan<byte> line, int i) => line[i] switch
    {
        (byte)'"' => PlainString(line, i, out _),
        (byte)'t' => line[i..].StartsWith("true"u8) ? i + 4 : -1,
        (byte)'f' => line[i..].StartsWith("false"u8) ? i + 5 : -1,
        _ => SkipNumber(line, i),
    };
}
