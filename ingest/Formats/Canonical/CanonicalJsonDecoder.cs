using System.Text;
using System.Text.Json;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats.Internal;

namespace FlowPolicy.Ingest.Formats.Canonical;

/// <summary>
/// FlowPolicy's own JSON lines (docs/formats.md, "Canonical flow JSON"): one flow object per line, snake_case keys.
/// Strict on purpose: it is the format we write ourselves, so anything off is a bug worth seeing, not guessing at.
/// </summary>
internal sealed partial class CanonicalJsonDecoder : LineFlowDecoder
{
    public override FlowFormat Format => FlowFormat.Canonical;

    /// <summary>
    /// False sends every line through the Utf8JsonReader path (the reference the scanner is tested against).
    /// </summary>
    internal bool UseScanner { get; init; } = true;

    protected override void DecodeLine(ReadOnlySpan<byte> line, long lineNumber, ref DecodeCursor cursor, IFlowSink sink)
    {
        var state = JsonDecodeState.Of(ref cursor);
        if (Read(line, state, out var flow, out var reason, UseScanner) == LineOutcome.Accepted) sink.Accept(flow);
        else Reject(sink, cursor, lineNumber, reason!, line);
    }

    /// <summary>
    /// Decodes one line; never throws on bad input (tests call this directly to prove it). The scanner
    /// (<see cref="TryScan"/>) takes the lines it understands; everything else, and every error, is the reader's.
    /// </summary>
    internal static LineOutcome Read(ReadOnlySpan<byte> line, JsonDecodeState state, out FlowRecord flow, out string? reason, bool useScanner = true)
    {
        flow = default;
        if (useScanner)
        {
            try
            {
                if (TryScan(line, state, ref flow))
                {
                    reason = null;
                    return LineOutcome.Accepted;
                }
            }
            catch (Exception ex) when (ex is IndexOutOfRangeException or ArgumentOutOfRangeException)
            {
                // A scanner bug on odd input must not change the outcome: the reader decides (tests call TryScan directly).
            }
            flow = default;
        }
        try
        {
            reason = ReadObject(line, state, ref flow);
        }
        catch (JsonException ex)
        {
            reason = "invalid JSON: " + ex.Message;
        }
        catch (InvalidOperationException ex)
        {
            // Utf8JsonReader reports bad escapes inside strings (lone surrogates) this way.
            reason = "invalid JSON string: " + ex.Message;
        }
        return reason is null ? LineOutcome.Accepted : LineOutcome.Rejected;
    }

    private enum Field : byte { Unknown, Start, End, SrcIp, DstIp, SrcPort, DstPort, Proto, Bytes, Packets, Verdict, Direction, TcpFlags, Reporter, Policy, Src, Dst }

    /// <summary>Key to field by length first: a chain of 16 comparisons per key was a fifth of the decoding time.</summary>
    private static Field FieldOf(ReadOnlySpan<byte> name) => name.Length switch
    {
        3 => name.SequenceEqual("src"u8) ? Field.Src : name.SequenceEqual("dst"u8) ? Field.Dst : name.SequenceEqual("end"u8) ? Field.End : Field.Unknown,
        5 => name.SequenceEqual("start"u8) ? Field.Start : name.SequenceEqual("proto"u8) ? Field.Proto : name.SequenceEqual("bytes"u8) ? Field.Bytes : Field.Unknown,
        6 => name.SequenceEqual("src_ip"u8) ? Field.SrcIp : name.SequenceEqual("dst_ip"u8) ? Field.DstIp : name.SequenceEqual("policy"u8) ? Field.Policy : Field.Unknown,
        7 => name.SequenceEqual("packets"u8) ? Field.Packets : name.SequenceEqual("verdict"u8) ? Field.Verdict : Field.Unknown,
        8 => name.SequenceEqual("src_port"u8) ? Field.SrcPort : name.SequenceEqual("dst_port"u8) ? Field.DstPort : name.SequenceEqual("reporter"u8) ? Field.Reporter : Field.Unknown,
        9 => name.SequenceEqual("direction"u8) ? Field.Direction : name.SequenceEqual("tcp_flags"u8) ? Field.TcpFlags : Field.Unknown,
        _ => Field.Unknown,
    };

    private static string? ReadObject(ReadOnlySpan<byte> line, JsonDecodeState state, ref FlowRecord flow)
    {
        var reader = new Utf8JsonReader(line, JsonTokens.LineOptions);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            return "expected a JSON object per line, got " + JsonTokens.Describe(reader.TokenType);

        Span<byte> nameScratch = state.NameScratch;
        Span<byte> scratch = state.ValueScratch;
        bool hasStart = false, hasEnd = false, hasSrcIp = false, hasDstIp = false, hasProto = false;
        string? error;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = FieldOf(JsonTokens.Utf8(ref reader, nameScratch));
            reader.Read();
            bool isNull = reader.TokenType == JsonTokenType.Null;
            if (field == Field.Start)
            {
                if (isNull) continue;
                if ((error = ReadTime(ref reader, scratch, "start", out flow.Start)) is not null) return error;
                hasStart = true;
            }
            else if (field == Field.End)
            {
                if (isNull) continue;
                if ((error = ReadTime(ref reader, scratch, "end", out flow.End)) is not null) return error;
                hasEnd = true;
            }
            else if (field == Field.SrcIp)
            {
                if (isNull) continue;
                if ((error = ReadIp(ref reader, scratch, "src_ip", out flow.SrcIp)) is not null) return error;
                hasSrcIp = true;
            }
            else if (field == Field.DstIp)
            {
                if (isNull) continue;
                if ((error = ReadIp(ref reader, scratch, "dst_ip", out flow.DstIp)) is not null) return error;
                hasDstIp = true;
            }
            else if (field == Field.SrcPort)
            {
                if (!isNull && (error = ReadPort(ref reader, "src_port", out flow.SrcPort)) is not null) return error;
            }
            else if (field == Field.DstPort)
            {
                if (!isNull && (error = ReadPort(ref reader, "dst_port", out flow.DstPort)) is not null) return error;
            }
            else if (field == Field.Proto)
            {
                if (isNull) continue;
                if ((error = ReadProtocol(ref reader, scratch, out flow.Protocol)) is not null) return error;
                hasProto = true;
            }
            else if (field == Field.Bytes)
            {
                if (!isNull && (error = ReadCounter(ref reader, "bytes", out flow.Bytes)) is not null) return error;
            }
            else if (field == Field.Packets)
            {
                if (!isNull && (error = ReadCounter(ref reader, "packets", out flow.Packets)) is not null) return error;
            }
            else if (field == Field.Verdict)
            {
                if (!isNull && (error = ReadVerdict(ref reader, scratch, out flow.Verdict)) is not null) return error;
            }
            else if (field == Field.Direction)
            {
                if (!isNull && (error = ReadDirection(ref reader, scratch, out flow.Direction)) is not null) return error;
            }
            else if (field == Field.TcpFlags)
            {
                if (isNull) continue;
                if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out int flags) || flags is < 0 or > 511)
                    return Expected("tcp_flags", "an integer 0..511", ref reader);
                flow.TcpFlags = (ushort)flags;
                flow.HasTcpFlags = true;
            }
            else if (field == Field.Reporter)
            {
                if (!isNull && (error = ReadString(ref reader, scratch, state, "reporter", out flow.Reporter)) is not null) return error;
            }
            else if (field == Field.Policy)
            {
                if (!isNull && (error = ReadString(ref reader, scratch, state, "policy", out flow.PolicyName)) is not null) return error;
            }
            else if (field == Field.Src)
            {
                if (!isNull && (error = ReadIdentity(ref reader, line, state, "src", out flow.SrcIdentity)) is not null) return error;
            }
            else if (field == Field.Dst)
            {
                if (!isNull && (error = ReadIdentity(ref reader, line, state, "dst", out flow.DstIdentity)) is not null) return error;
            }
            else
            {
                reader.Skip(); // unknown keys are ignored so newer writers stay readable
            }
        }

        // The loop ends on the closing brace; anything after it but whitespace makes Read throw (trailing garbage).
        while (reader.Read()) { }

        if (!hasStart) return "missing required field 'start'";
        if (!hasSrcIp) return "missing required field 'src_ip'";
        if (!hasDstIp) return "missing required field 'dst_ip'";
        if (!hasProto) return "missing required field 'proto'";
        if (!hasEnd) flow.End = flow.Start;
        else if (flow.End < flow.Start) return "field 'end': before 'start'";
        return null;
    }

    private static string Expected(string field, string what, ref Utf8JsonReader reader) =>
        $"field '{field}': expected {what}, got {JsonTokens.Describe(reader.TokenType)}";

    private static string? ReadTime(ref Utf8JsonReader reader, Span<byte> scratch, string field, out DateTime utc)
    {
        utc = default;
        if (reader.TokenType == JsonTokenType.String)
        {
            return FlowTimestamps.TryParseRfc3339(JsonTokens.Utf8(ref reader, scratch), out utc)
                ? null
                : $"field '{field}': not an RFC 3339 timestamp";
        }
        if (reader.TokenType == JsonTokenType.Number)
        {
            if (reader.TryGetInt64(out long seconds))
                return FlowTimestamps.TryFromUnixSeconds(seconds, out utc) ? null : $"field '{field}': unix seconds out of range";
            if (reader.TryGetDecimal(out decimal fractional) && fractional >= 0 && fractional <= 7_258_118_400m)
            {
                utc = DateTime.UnixEpoch.AddTicks((long)decimal.Truncate(fractional * TimeSpan.TicksPerSecond));
                return null;
            }
            return $"field '{field}': unix seconds out of range";
        }
        return Expected(field, "an RFC 3339 string or unix seconds", ref reader);
    }

    private static string? ReadIp(ref Utf8JsonReader reader, Span<byte> scratch, string field, out PackedIp ip)
    {
        ip = default;
        if (reader.TokenType != JsonTokenType.String) return Expected(field, "an IP address string", ref reader);
        return PackedIp.TryParse(JsonTokens.Utf8(ref reader, scratch), out ip) ? null : $"field '{field}': not an IPv4 or IPv6 address";
    }

    private static string? ReadPort(ref Utf8JsonReader reader, string field, out ushort port)
    {
        port = 0;
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out int value) || value is < 0 or > 65535)
            return Expected(field, "an integer 0..65535", ref reader);
        port = (ushort)value;
        return null;
    }

    private static string? ReadCounter(ref Utf8JsonReader reader, string field, out ulong value)
    {
        value = 0;
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetUInt64(out value))
            return Expected(field, "a non-negative integer", ref reader);
        return null;
    }

    private static string? ReadProtocol(ref Utf8JsonReader reader, Span<byte> scratch, out byte protocol)
    {
        protocol = 0;
        if (reader.TokenType == JsonTokenType.Number)
        {
            if (reader.TryGetInt32(out int number) && number is >= 0 and <= 255)
            {
                protocol = (byte)number;
                return null;
            }
            return "field 'proto': expected a protocol number 0..255";
        }
        if (reader.TokenType != JsonTokenType.String) return Expected("proto", "a protocol number or name", ref reader);
        return TryProtocolName(JsonTokens.Utf8(ref reader, scratch), out protocol) ? null : "field 'proto': unknown protocol name";
    }

    private static bool TryProtocolName(ReadOnlySpan<byte> text, out byte protocol)
    {
        // The common names without the allocation IpProtocols.TryParse makes for names; the writer's spelling first.
        if (text.SequenceEqual("TCP"u8) || Ascii.EqualsIgnoreCase(text, "TCP"u8)) protocol = IpProtocols.Tcp;
        else if (Ascii.EqualsIgnoreCase(text, "UDP"u8)) protocol = IpProtocols.Udp;
        else if (Ascii.EqualsIgnoreCase(text, "ICMP"u8)) protocol = IpProtocols.Icmp;
        else if (Ascii.EqualsIgnoreCase(text, "ICMPv6"u8)) protocol = IpProtocols.IcmpV6;
        else if (Ascii.EqualsIgnoreCase(text, "SCTP"u8)) protocol = IpProtocols.Sctp;
        else
        {
            protocol = 0;
            Span<char> chars = stackalloc char[16];
            if (text.Length > chars.Length || !Ascii.IsValid(text)) return false;
            for (int i = 0; i < text.Length; i++) chars[i] = (char)text[i];
            return IpProtocols.TryParse(chars[..text.Length], out protocol);
        }
        return true;
    }

    private static string? ReadVerdict(ref Utf8JsonReader reader, Span<byte> scratch, out Verdict verdict)
    {
        verdict = Verdict.Unknown;
        if (reader.TokenType != JsonTokenType.String) return Expected("verdict", "\"allowed\", \"denied\" or \"unknown\"", ref reader);
        var text = JsonTokens.Utf8(ref reader, scratch);
        if (text.SequenceEqual("allowed"u8)) verdict = Verdict.Allowed;
        else if (text.SequenceEqual("denied"u8)) verdict = Verdict.Denied;
        else if (!text.SequenceEqual("unknown"u8)) return "field 'verdict': expected \"allowed\", \"denied\" or \"unknown\"";
        return null;
    }

    private static string? ReadDirection(ref Utf8JsonReader reader, Span<byte> scratch, out DirectionHint direction)
    {
        direction = DirectionHint.Unknown;
        if (reader.TokenType != JsonTokenType.String) return Expected("direction", "\"request\", \"reply\" or \"unknown\"", ref reader);
        var text = JsonTokens.Utf8(ref reader, scratch);
        if (text.SequenceEqual("request"u8)) direction = DirectionHint.Request;
        else if (text.SequenceEqual("reply"u8)) direction = DirectionHint.Reply;
        else if (!text.SequenceEqual("unknown"u8)) return "field 'direction': expected \"request\", \"reply\" or \"unknown\"";
        return null;
    }

    private static string? ReadString(ref Utf8JsonReader reader, Span<byte> scratch, JsonDecodeState state, string field, out string? value)
    {
        value = null;
        if (reader.TokenType != JsonTokenType.String) return Expected(field, "a string", ref reader);
        var text = JsonTokens.Utf8(ref reader, scratch);
        value = text.IsEmpty ? null : state.String(text);
        return null;
    }

    private static string? ReadIdentity(ref Utf8JsonReader reader, ReadOnlySpan<byte> line, JsonDecodeState state, string field, out WorkloadIdentity? identity)
    {
        identity = null;
        if (reader.TokenType != JsonTokenType.StartObject) return Expected(field, "an object", ref reader);
        var raw = JsonTokens.RawValue(ref reader, line);
        if (state.Identities.TryGet(raw, out int slot, out identity)) return null;
        var error = ParseIdentity(raw, state, field, out identity);
        if (error is null) state.Identities.Set(slot, raw, identity);
        return error;
    }

    private static string? ParseIdentity(ReadOnlySpan<byte> raw, JsonDecodeState state, string field, out WorkloadIdentity? identity) =>
        ParseIdentity(raw, state, field, JsonTokens.LineOptions, out identity, out _);

    /// <param name="consumed">Where the object ended: the scanner, which has not had the line validated, checks it is all of <paramref name="raw"/>.</param>
    private static string? ParseIdentity(ReadOnlySpan<byte> raw, JsonDecodeState state, string field, JsonReaderOptions options,
        out WorkloadIdentity? identity, out long consumed)
    {
        identity = null;
        consumed = 0;
        var reader = new Utf8JsonReader(raw, options);
        reader.Read(); // the StartObject the caller saw
        Span<byte> nameScratch = state.NameScratch;
        Span<byte> scratch = state.ValueScratch;
        var kind = EndpointKind.Pod;
        string? ns = null, workload = null, workloadKind = null, pod = null;
        List<KeyValuePair<string, string>>? labels = null;
        string? error;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = JsonTokens.Utf8(ref reader, nameScratch);
            reader.Read();
            if (reader.TokenType == JsonTokenType.Null) continue;
            if (name.SequenceEqual("kind"u8))
            {
                if (reader.TokenType != JsonTokenType.String) return Expected(field + ".kind", "a string", ref reader);
                var text = JsonTokens.Utf8(ref reader, scratch);
                if (text.SequenceEqual("pod"u8)) kind = EndpointKind.Pod;
                else if (text.SequenceEqual("node"u8)) kind = EndpointKind.Node;
                else if (text.SequenceEqual("service"u8)) kind = EndpointKind.Service;
                else if (text.SequenceEqual("external"u8)) kind = EndpointKind.External;
                else if (text.SequenceEqual("unknown"u8)) kind = EndpointKind.Unknown;
                else return $"field '{field}.kind': expected pod, node, service, external or unknown";
            }
            else if (name.SequenceEqual("namespace"u8))
            {
                if ((error = ReadString(ref reader, scratch, state, field + ".namespace", out ns)) is not null) return error;
            }
            else if (name.SequenceEqual("workload"u8))
            {
                if ((error = ReadString(ref reader, scratch, state, field + ".workload", out workload)) is not null) return error;
            }
            else if (name.SequenceEqual("workload_kind"u8))
            {
                if ((error = ReadString(ref reader, scratch, state, field + ".workload_kind", out workloadKind)) is not null) return error;
            }
            else if (name.SequenceEqual("pod"u8))
            {
                if ((error = ReadString(ref reader, scratch, state, field + ".pod", out pod)) is not null) return error;
            }
            else if (name.SequenceEqual("labels"u8))
            {
                if (reader.TokenType != JsonTokenType.StartObject) return Expected(field + ".labels", "an object of strings", ref reader);
                labels = [];
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var key = state.String(JsonTokens.Utf8(ref reader, scratch));
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String) return Expected($"{field}.labels.{key}", "a string", ref reader);
                    labels.Add(new(key, state.String(JsonTokens.Utf8(ref reader, scratch))));
                }
            }
            else
            {
                reader.Skip();
            }
        }
        var source = WorkloadSource.Unknown;
        if (kind == EndpointKind.Pod && workload is { Length: > 0 }) source = WorkloadSource.Reported;
        else if (kind == EndpointKind.Pod && pod is { Length: > 0 })
        {
            // A pod without its workload: its controller from the name and labels, else a bare pod.
            var owner = PodOwnerInference.Infer(pod, (IReadOnlyList<KeyValuePair<string, string>>?)labels ?? []);
            (workload, workloadKind, source) = (owner.Workload, workloadKind ?? owner.Kind, WorkloadSource.Derived);
        }
        identity = new WorkloadIdentity(kind, ns, workload, workloadKind, pod, labels) { WorkloadSource = source };
        consumed = reader.BytesConsumed;
        return null;
    }
}
