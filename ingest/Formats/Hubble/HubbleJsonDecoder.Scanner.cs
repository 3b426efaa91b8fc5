using System.Text.Json;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats.Internal;
using static FlowPolicy.Ingest.Formats.Internal.JsonLineScan;

namespace FlowPolicy.Ingest.Formats.Hubble;

// The fast path: one pass over the line's bytes, no tokenizer. Utf8JsonReader was ~60% of decoding a Hubble line
// (~900 bytes: two endpoint objects with their label lists, ethernet, event_type, the summary), and most of that was
// classifying tokens the decoder then skips. The scanner reads the fields a record needs in the spelling Cilium writes
// (proto names: `hubble observe -o json|jsonpb` and the exporter), checks everything it skips against JSON's grammar,
// and looks endpoint objects and policy and name lists up in the decode state's caches by their exact bytes; the l7
// object, once checked, is read by the reader path's own code over its bytes. A line it does not fully understand
// (camelCase names, other events, numbers for enums, strings as numbers, escapes or
// non-ASCII outside endpoint objects, null values, duplicate fields, ICMP and SCTP, anything invalid) goes to the
// reader path (ReadFields) from a clean slate, so errors and odd input behave exactly as they always did.
internal sealed partial class HubbleJsonDecoder
{
    /// <summary>A field name the scanner reads; <see cref="Unknown"/> is skipped, <see cref="Reader"/> leaves the line to the reader.</summary>
    private enum ScanKey : byte
    {
        Unknown,
        Reader,
        Flow,
        Time,
        NodeName,
        Verdict,
        Ip,
        L4,
        Source,
        Destination,
        Type,
        IsReply,
        TrafficDirection,
        DropReasonDesc,
        EgressAllowedBy,
        IngressAllowedBy,
        EgressDeniedBy,
        IngressDeniedBy,
        DestinationNames,
        SourceNames,
        Layer7,
    }

    /// <summary>
    /// What <paramref name="name"/> is to the reader path at this level (<paramref name="top"/>: the line's own object,
    /// where a bare Flow's fields and GetFlowsResponse's live), in the scanner's terms: every name the reader knows is
    /// either read here or sends the line to the reader; the rest the reader skips, and so does the scanner.
    /// </summary>
    private static ScanKey KeyOf(ReadOnlySpan<byte> name, bool top)
    {
        switch (name.Length)
        {
            case 2:
                if (name.SequenceEqual("IP"u8)) return ScanKey.Ip;
                if (name.SequenceEqual("l4"u8)) return ScanKey.L4;
                if (name.SequenceEqual("l7"u8)) return ScanKey.Layer7;
                break;
            case 4:
                if (name.SequenceEqual("time"u8)) return ScanKey.Time;
                if (name.SequenceEqual("Type"u8)) return ScanKey.Type;
                if (top && name.SequenceEqual("flow"u8)) return ScanKey.Flow;
                break;
            case 5:
                if (name.SequenceEqual("reply"u8)) return ScanKey.Reader;
                break;
            case 6:
                if (name.SequenceEqual("source"u8)) return ScanKey.Source;
                break;
            case 7:
                if (name.SequenceEqual("verdict"u8)) return ScanKey.Verdict;
                if (name.SequenceEqual("isReply"u8)) return ScanKey.Reader;
                break;
            case 8:
                if (name.SequenceEqual("is_reply"u8)) return ScanKey.IsReply;
                if (name.SequenceEqual("nodeName"u8)) return ScanKey.Reader;
                break;
            case 9:
                if (name.SequenceEqual("node_name"u8)) return ScanKey.NodeName;
                break;
            case 10:
                if (top && (name.SequenceEqual("nodeStatus"u8) || name.SequenceEqual("lostEvents"u8) || name.SequenceEqual("agentEvent"u8)
                            || name.SequenceEqual("debugEvent"u8)))
                    return ScanKey.Reader;
                break;
            case 11:
                if (name.SequenceEqual("destination"u8)) return ScanKey.Destination;
                if (name.SequenceEqual("sourceNames"u8)) return ScanKey.Reader;
                if (top && (name.SequenceEqual("node_status"u8) || name.SequenceEqual("lost_events"u8) || name.SequenceEqual("agent_event"u8)
                            || name.SequenceEqual("debug_event"u8)))
                    return ScanKey.Reader;
                break;
            case 12:
                if (name.SequenceEqual("source_names"u8)) return ScanKey.SourceNames;
                break;
            case 14:
                if (name.SequenceEqual("dropReasonDesc"u8) || name.SequenceEqual("egressDeniedBy"u8)) return ScanKey.Reader;
                break;
            case 15:
                if (name.SequenceEqual("egressAllowedBy"u8) || name.SequenceEqual("ingressDeniedBy"u8)) return ScanKey.Reader;
                break;
            case 16:
                if (name.SequenceEqual("drop_reason_desc"u8)) return ScanKey.DropReasonDesc;
                if (name.SequenceEqual("egress_denied_by"u8)) return ScanKey.EgressDeniedBy;
                if (name.SequenceEqual("trafficDirection"u8) || name.SequenceEqual("ingressAllowedBy"u8)
                    || name.SequenceEqual("destinationNames"u8))
                    return ScanKey.Reader;
                break;
            case 17:
                if (name.SequenceEqual("traffic_direction"u8)) return ScanKey.TrafficDirection;
                if (name.SequenceEqual("egress_allowed_by"u8)) return ScanKey.EgressAllowedBy;
                if (name.SequenceEqual("ingress_denied_by"u8)) return ScanKey.IngressDeniedBy;
                if (name.SequenceEqual("destination_names"u8)) return ScanKey.DestinationNames;
                break;
            case 18:
                if (name.SequenceEqual("ingress_allowed_by"u8)) return ScanKey.IngressAllowedBy;
                break;
        }
        return ScanKey.Unknown;
    }

    /// <summary>Whether the scanner takes <paramref name="line"/> (tests: which lines the fast path covers).</summary>
    internal static bool Scans(ReadOnlySpan<byte> line, JsonDecodeState state)
    {
        FlowFields top = default, inner = default;
        bool sawFlow = false;
        return TryScan(line, state, ref top, ref inner, ref sawFlow);
    }

    /// <summary>
    /// Reads <paramref name="line"/> into the two field sets when it is simple enough; false means "use the reader"
    /// (the fields are then partly written and must be reset). Never rejects anything itself and never throws.
    /// </summary>
    private static bool TryScan(ReadOnlySpan<byte> line, JsonDecodeState state, ref FlowFields top, ref FlowFields inner, ref bool sawFlow)
    {
        int i = SkipSpace(line, 0);
        if (i >= line.Length || line[i] != (byte)'{') return false;
        i = ScanFlow(line, i, state, ref top, ref inner, isTop: true, ref sawFlow);
        return i >= 0 && SkipSpace(line, i) == line.Length; // trailing bytes: the reader reports them
    }

    /// <summary>
    /// The object at <paramref name="i"/>: a Flow's fields into <paramref name="f"/>; at the top, also the nested
    /// GetFlowsResponse.flow into <paramref name="inner"/>. The offset after the object, or -1.
    /// </summary>
    private static int ScanFlow(ReadOnlySpan<byte> line, int i, JsonDecodeState state, ref FlowFields f, ref FlowFields inner,
        bool isTop, ref bool sawFlow)
    {
        int depth = isTop ? 1 : 2; // of the values inside this object
        if ((i = ObjectStart(line, i, out bool empty)) < 0 || empty) return i;
        uint seen = 0;
        while (true)
        {
            if ((i = MemberName(line, i, out var name)) < 0) return -1;
            var key = KeyOf(name, isTop);
            if (key == ScanKey.Reader) return -1;
            if (key != ScanKey.Unknown)
            {
                uint bit = 1u << (int)key;
                if ((seen & bit) != 0) return -1; // a repeated field: the reader's order of overwriting applies
                seen |= bit;
                if (line[i] == (byte)'n') return -1; // null: protobuf's "default", by the reader's rules per field
            }
            if ((i = ScanFlowValue(line, i, key, state, ref f, ref inner, depth, ref sawFlow)) < 0) return -1;
            if ((i = NextMember(line, i, out bool closed)) < 0 || closed) return i;
        }
    }

    private static int ScanFlowValue(ReadOnlySpan<byte> line, int i, ScanKey key, JsonDecodeState state, ref FlowFields f,
        ref FlowFields inner, int depth, ref bool sawFlow)
    {
        ReadOnlySpan<byte> text;
        switch (key)
        {
            case ScanKey.Unknown:
                return SkipValue(line, i, depth);
            case ScanKey.Flow:
                if (line[i] != (byte)'{') return -1;
                bool unused = false;
                i = ScanFlow(line, i, state, ref inner, ref inner, isTop: false, ref unused);
                if (i >= 0) sawFlow = true;
                return i;
            case ScanKey.Time:
                if ((i = PlainString(line, i, out text)) < 0 || !TryParseUtcTime(text, state, out f.Time)) return -1;
                f.HasTime = true;
                return i;
            case ScanKey.NodeName:
                if ((i = PlainString(line, i, out text)) < 0) return -1;
                f.NodeName = text.IsEmpty ? null : state.String(text);
                return i;
        }

        f.Any = true; // every other field the scanner reads is a Flow field
        switch (key)
        {
            case ScanKey.Verdict:
                if ((i = PlainString(line, i, out text)) < 0) return -1;
                f.Verdict = VerdictNamed(text);
                return i;
            case ScanKey.Type:
                if ((i = PlainString(line, i, out text)) < 0) return -1;
                f.Type = TypeNamed(text);
                return i;
            case ScanKey.TrafficDirection:
                if ((i = PlainString(line, i, out text)) < 0) return -1;
                f.TrafficDirection = DirectionNamed(text);
                return i;
            case ScanKey.IsReply:
                if (line[i..].StartsWith("true"u8))
                {
                    f.IsReply = 2;
                    return i + 4;
                }
                if (line[i..].StartsWith("false"u8))
                {
                    f.IsReply = 1;
                    return i + 5;
                }
                return -1;
            case ScanKey.DropReasonDesc:
                return line[i] == (byte)'"' ? PlainString(line, i, out _) : -1; // a name: validated, not kept
            case ScanKey.Ip:
                return ScanIp(line, i, depth, ref f);
            case ScanKey.L4:
                return ScanLayer4(line, i, depth, ref f);
            case ScanKey.Source:
                return ScanCached(line, i, depth, state, (byte)'{', state.Identities, EndpointParser, out f.SourceIdentity);
            case ScanKey.Destination:
                return ScanCached(line, i, depth, state, (byte)'{', state.Identities, EndpointParser, out f.DestinationIdentity);
            case ScanKey.EgressAllowedBy:
                return ScanCached(line, i, depth, state, (byte)'[', state.Policies, PolicyParser, out f.EgressAllowedBy);
            case ScanKey.IngressAllowedBy:
                return ScanCached(line, i, depth, state, (byte)'[', state.Policies, PolicyParser, out f.IngressAllowedBy);
            case ScanKey.EgressDeniedBy:
                return ScanCached(line, i, depth, state, (byte)'[', state.Policies, PolicyParser, out f.EgressDeniedBy);
            case ScanKey.IngressDeniedBy:
                return ScanCached(line, i, depth, state, (byte)'[', state.Policies, PolicyParser, out f.IngressDeniedBy);
            case ScanKey.DestinationNames:
                return ScanCached(line, i, depth, state, (byte)'[', state.Names, NameParser, out f.L7.DestinationNames);
            case ScanKey.SourceNames:
                return ScanCached(line, i, depth, state, (byte)'[', state.Names, NameParser, out f.L7.SourceNames);
            case ScanKey.Layer7:
                return ScanLayer7(line, i, depth, state, ref f.L7);
            default:
                return -1;
        }
    }

    /// <summary>The IP object: both addresses required, ipVersion and encrypted skipped.</summary>
    private static int ScanIp(ReadOnlySpan<byte> line, int i, int depth, ref FlowFields f)
    {
        bool hasSource = false, hasDestination = false;
        // No addresses at all (an empty object): the reader names the missing one.
        if ((i = ObjectStart(line, i, out bool empty)) < 0 || empty) return -1;
        bool closed = false;
        while (!closed)
        {
            if ((i = MemberName(line, i, out var name)) < 0) return -1;
            bool isSource = name.SequenceEqual("source"u8);
            if (isSource || name.SequenceEqual("destination"u8))
            {
                if ((isSource ? hasSource : hasDestination) || (i = PlainString(line, i, out var text)) < 0) return -1;
                if (isSource)
                {
                    if (!PackedIp.TryParse(text, out f.Source)) return -1;
                    hasSource = true;
                }
                else
                {
                    if (!PackedIp.TryParse(text, out f.Destination)) return -1;
                    hasDestination = true;
                }
            }
            else if ((i = SkipValue(line, i, depth + 1)) < 0) return -1;
            if ((i = NextMember(line, i, out closed)) < 0) return -1;
        }
        if (!hasSource || !hasDestination) return -1;
        f.HasIp = true;
        return i;
    }

    /// <summary>The l4 object with one TCP or UDP layer (ICMP and SCTP go to the reader): ports and TCP flags.</summary>
    private static int ScanLayer4(ReadOnlySpan<byte> line, int i, int depth, ref FlowFields f)
    {
        if ((i = ObjectStart(line, i, out bool empty)) < 0 || empty) return i;
        while (true)
        {
            if ((i = MemberName(line, i, out var name)) < 0) return -1;
            byte protocol = name.SequenceEqual("TCP"u8) ? IpProtocols.Tcp : name.SequenceEqual("UDP"u8) ? IpProtocols.Udp : (byte)0;
            if (protocol != 0)
            {
                // A second layer in the oneof, or null: the reader's rules.
                if (f.Protocol != 0 || line[i] != (byte)'{') return -1;
                f.Protocol = protocol;
                if ((i = ScanPorts(line, i, depth + 1, ref f)) < 0) return -1;
            }
            else if (name.SequenceEqual("SCTP"u8) || name.SequenceEqual("ICMPv4"u8) || name.SequenceEqual("ICMPv6"u8)) return -1;
            else if ((i = SkipValue(line, i, depth + 1)) < 0) return -1;
            if ((i = NextMember(line, i, out bool closed)) < 0 || closed) return i;
        }
    }

    /// <summary>A TCP or UDP object (<see cref="FlowFields.Protocol"/> set): source_port, destination_port, TCP's flags.</summary>
    private static int ScanPorts(ReadOnlySpan<byte> line, int i, int depth, ref FlowFields f)
    {
        if ((i = ObjectStart(line, i, out bool empty)) < 0 || empty) return i;
        while (true)
        {
            if ((i = MemberName(line, i, out var name)) < 0) return -1;
            ulong port;
            if (name.SequenceEqual("source_port"u8))
            {
                if ((i = UnsignedInteger(line, i, out port)) < 0 || port > 65535) return -1;
                f.SourcePort = (ushort)port;
            }
            else if (name.SequenceEqual("destination_port"u8))
            {
                if ((i = UnsignedInteger(line, i, out port)) < 0 || port > 65535) return -1;
                f.DestinationPort = (ushort)port;
            }
            else if (name.SequenceEqual("sourcePort"u8) || name.SequenceEqual("destinationPort"u8)) return -1;
            else if (f.Protocol == IpProtocols.Tcp && name.SequenceEqual("flags"u8))
            {
                if (line[i] != (byte)'{' || (i = ScanTcpFlags(line, i, out f.TcpFlags)) < 0) return -1;
                f.HasTcpFlags = true;
            }
            else if ((i = SkipValue(line, i, depth + 1)) < 0) return -1;
            if ((i = NextMember(line, i, out bool closed)) < 0 || closed) return i;
        }
    }

    /// <summary>TCP flags as an object of booleans ({"SYN":true,"ACK":true}); bits as in the reader path.</summary>
    private static int ScanTcpFlags(ReadOnlySpan<byte> line, int i, out ushort flags)
    {
        flags = 0;
        if ((i = ObjectStart(line, i, out bool empty)) < 0 || empty) return i;
        while (true)
        {
            if ((i = MemberName(line, i, out var name)) < 0) return -1;
            var value = line[i..];
            bool set;
            if (value.StartsWith("true"u8))
            {
                set = true;
                i += 4;
            }
            else if (value.StartsWith("false"u8))
            {
                set = false;
                i += 5;
            }
            else if (value.StartsWith("null"u8))
            {
                set = false;
                i += 4;
            }
            else return -1; // the reader rejects other values of known flags, and skips those of unknown ones
            if (set)
            {
                flags |= name.Length switch
                {
                    2 when name.SequenceEqual("NS"u8) => (ushort)0x100,
                    3 when name.SequenceEqual("FIN"u8) => (ushort)0x001,
                    3 when name.SequenceEqual("SYN"u8) => (ushort)0x002,
                    3 when name.SequenceEqual("RST"u8) => (ushort)0x004,
                    3 when name.SequenceEqual("PSH"u8) => (ushort)0x008,
                    3 when name.SequenceEqual("ACK"u8) => (ushort)0x010,
                    3 when name.SequenceEqual("URG"u8) => (ushort)0x020,
                    3 when name.SequenceEqual("ECE"u8) => (ushort)0x040,
                    3 when name.SequenceEqual("CWR"u8) => (ushort)0x080,
                    _ => (ushort)0,
                };
            }
            if ((i = NextMember(line, i, out bool closed)) < 0 || closed) return i;
        }
    }

    /// <summary>The reader path's parser of one cached value's bytes (an endpoint object, a policy or name list): an error, or null.</summary>
    private delegate string? RawParser<T>(ReadOnlySpan<byte> raw, JsonDecodeState state, string field, out T? value) where T : class;

    private static readonly RawParser<WorkloadIdentity> EndpointParser = HubbleEndpointReader.Parse;
    private static readonly RawParser<string> PolicyParser = ParsePolicies;
    private static readonly RawParser<string[]> NameParser = ParseNames;

    /// <summary>
    /// An object or array (<paramref name="open"/>) looked up by its exact bytes in <paramref name="cache"/>: a hit means
    /// the reader path or this one checked and parsed these bytes before, and a valid value is never the prefix of a
    /// longer one, so the reader would end it in the same place. On a miss it is checked against JSON's grammar here,
    /// then parsed by the reader path's own <paramref name="parse"/> and cached as the reader path caches it.
    /// </summary>
    private static int ScanCached<T>(ReadOnlySpan<byte> line, int i, int depth, JsonDecodeState state, byte open, Utf8KeyedCache<T> cache,
        RawParser<T> parse, out T? value) where T : class
    {
        value = null;
        int end = ContainerEnd(line, i);
        if (end < 0 || line[i] != open) return -1;
        var raw = line[i..end];
        if (cache.TryGet(raw, out int slot, out value)) return end;
        if (SkipValue(line, i, depth) != end) return -1;
        try
        {
            if (parse(raw, state, "", out value) is not null) return -1;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return -1;
        }
        cache.Set(slot, raw, value);
        return end;
    }

    /// <summary>
    /// The l7 object: checked against JSON's grammar here, then read by the reader path's <see cref="ReadLayer7"/> over
    /// its bytes (HTTP, DNS and Kafka fields have many spellings and few records: one implementation of them).
    /// </summary>
    private static int ScanLayer7(ReadOnlySpan<byte> line, int i, int depth, JsonDecodeState state, ref L7Fields l7)
    {
        if (line[i] != (byte)'{') return -1;
        int end = SkipValue(line, i, depth);
        if (end < 0) return -1;
        try
        {
            var reader = new Utf8JsonReader(line[i..end], JsonTokens.LineOptions);
            reader.Read();
            if (ReadLayer7(ref reader, state, ref l7) is not null || reader.BytesConsumed != end - i) return -1;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return -1;
        }
        return end;
    }
}
