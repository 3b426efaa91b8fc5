using System.Text;
using System.Text.Json;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats.Internal;

namespace FlowPolicy.Ingest.Formats.Hubble;

/// <summary>
/// Cilium Hubble flows as JSON lines, in the shapes users have: GetFlowsResponse lines
/// (<c>{"flow":{...},"node_name":...,"time":...}</c>, from <c>hubble observe -o json|jsonpb</c> and the Hubble exporter
/// file) and bare Flow objects. Follows the protobuf JSON mapping of cilium/cilium api/v1/flow/flow.proto: Cilium
/// writes proto field names (UseProtoNames), and protobuf JSON readers also accept the lowerCamelCase names, enums by
/// name or number, and 32-bit integers as numbers or strings, so this does too. docs/formats.md, "Cilium Hubble".
/// </summary>
internal sealed partial class HubbleJsonDecoder : LineFlowDecoder
{
    public override FlowFormat Format => FlowFormat.Hubble;

    /// <summary>Whether lines try the byte scanner first (<see cref="TryScan"/>); off only in tests, to compare.</summary>
    internal bool UseScanner { get; init; } = true;

    // Skip reasons are constants so a sink can count them by reason without the counts splitting.
    internal const string SkipNoIpL7 = L7Observations.NotKeptReason;
    internal const string SkipNoIpSock = "hubble: SOCK trace without IP";
    internal const string SkipNoIp = "hubble: flow without IP";
    internal const string SkipNoL4 = "hubble: flow without TCP/UDP/ICMP/SCTP layer";
    internal const string SkipNodeStatus = "hubble: node_status event";
    internal const string SkipLostEvents = "hubble: lost_events event";
    internal const string SkipAgentEvent = "hubble: agent_event event";
    internal const string SkipDebugEvent = "hubble: debug_event event";

    // Verdict enum (flow.proto).
    private const int VerdictForwarded = 1, VerdictDropped = 2, VerdictAudit = 4, VerdictRedirected = 5, VerdictTranslated = 7;
    // FlowType enum.
    private const int TypeL7 = 2, TypeSock = 3;
    // TrafficDirection enum.
    private const int DirectionIngress = 1, DirectionEgress = 2;

    protected override void DecodeLine(ReadOnlySpan<byte> line, long lineNumber, ref DecodeCursor cursor, IFlowSink sink)
    {
        var state = JsonDecodeState.Of(ref cursor);
        switch (Read(line, state, UseScanner, out var flow, out var l7, out var reason))
        {
            case LineOutcome.Accepted:
                sink.Accept(flow);
                if (l7.Protocol != L7Protocol.None) sink.AcceptL7(l7, cursor.At(lineNumber));
                break;
            case LineOutcome.Skipped:
                // An L7 record without a flow (no IP or no l4) is an L7 observation only; sinks that keep none skip it.
                if (l7.Protocol != L7Protocol.None) sink.AcceptL7(l7, cursor.At(lineNumber));
                else sink.Skip(reason!, cursor.At(lineNumber));
                break;
            default:
                Reject(sink, cursor, lineNumber, reason!, line);
                break;
        }
    }

    /// <summary>What one line says, before it becomes a record. Zero means "absent" for every field.</summary>
    private struct FlowFields
    {
        public bool Any; // a Flow field other than the two GetFlowsResponse shares (time, node_name)
        public bool HasTime;
        public DateTime Time;
        public int Verdict;
        public bool HasIp;
        public PackedIp Source;
        public PackedIp Destination;
        public byte Protocol; // 0: no l4
        public ushort SourcePort;
        public ushort DestinationPort;
        public bool HasTcpFlags;
        public ushort TcpFlags;
        public WorkloadIdentity? SourceIdentity;
        public WorkloadIdentity? DestinationIdentity;
        public string? NodeName;
        public byte IsReply; // 0 absent, 1 false, 2 true
        public bool DeprecatedReply;
        public int TrafficDirection;
        public int Type;
        public string? EgressAllowedBy, IngressAllowedBy, EgressDeniedBy, IngressDeniedBy;
        public L7Fields L7;
    }

    /// <summary>Decodes one line; never throws on bad input (tests call this directly to prove it).</summary>
    internal static LineOutcome Read(ReadOnlySpan<byte> line, JsonDecodeState state, out FlowRecord flow, out string? reason) =>
        Read(line, state, out flow, out _, out reason);

    /// <summary>Decodes one line and its L7 part (<see cref="L7Observation.Protocol"/> None when it has none).</summary>
    internal static LineOutcome Read(ReadOnlySpan<byte> line, JsonDecodeState state, out FlowRecord flow, out L7Observation l7, out string? reason) =>
        Read(line, state, scan: true, out flow, out l7, out reason);

    /// <summary>
    /// As above; <paramref name="scan"/> false skips the fast path (<see cref="TryScan"/>), so tests can hold the two
    /// paths' results side by side.
    /// </summary>
    internal static LineOutcome Read(ReadOnlySpan<byte> line, JsonDecodeState state, bool scan, out FlowRecord flow, out L7Observation l7, out string? reason)
    {
        flow = default;
        l7 = default;
        var top = new FlowFields();   // a bare Flow, or the GetFlowsResponse's own time / node_name
        var inner = new FlowFields(); // GetFlowsResponse.flow
        try
        {
            return ReadLine(line, state, scan, ref top, ref inner, ref flow, ref l7, out reason);
        }
        catch (JsonException ex)
        {
            reason = "invalid JSON: " + ex.Message;
        }
        catch (InvalidOperationException ex)
        {
            reason = "invalid JSON string: " + ex.Message;
        }
        flow = default;
        l7 = default;
        return LineOutcome.Rejected;
    }

    private static LineOutcome ReadLine(ReadOnlySpan<byte> line, JsonDecodeState state, bool scan, ref FlowFields top,
        ref FlowFields inner, ref FlowRecord flow, ref L7Observation l7, out string? reason)
    {
        bool sawFlow = false;
        string? otherEvent = null;
        if (!scan || !TryScan(line, state, ref top, ref inner, ref sawFlow))
        {
            // Not the fast path's kind of line (or asked not to try it): the reader decides, from a clean slate.
            top = default;
            inner = default;
            sawFlow = false;
            if ((reason = ReadFields(line, state, ref top, ref inner, ref sawFlow, ref otherEvent)) is not null) return LineOutcome.Rejected;
        }
        return Build(ref top, ref inner, sawFlow, otherEvent, ref flow, ref l7, out reason);
    }

    /// <summary>The reader path: every field of the line into <paramref name="top"/> and <paramref name="inner"/>; an error, or null.</summary>
    private static string? ReadFields(ReadOnlySpan<byte> line, JsonDecodeState state, ref FlowFields top, ref FlowFields inner,
        ref bool sawFlow, ref string? otherEvent)
    {
        var reader = new Utf8JsonReader(line, JsonTokens.LineOptions);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            return "expected a JSON object per line, got " + JsonTokens.Describe(reader.TokenType);

        Span<byte> nameScratch = state.NameScratch;
        string? reason;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = JsonTokens.Utf8(ref reader, nameScratch);
            reader.Read();
            if (name.SequenceEqual("flow"u8))
            {
                if (reader.TokenType == JsonTokenType.Null) continue;
                if (reader.TokenType != JsonTokenType.StartObject) return Expected("flow", "an object", ref reader);
                if ((reason = ReadFlow(ref reader, line, state, ref inner)) is not null) return reason;
                sawFlow = true;
            }
            else if (Is(name, "node_status"u8, "nodeStatus"u8)) { otherEvent = SkipNodeStatus; reader.Skip(); }
            else if (Is(name, "lost_events"u8, "lostEvents"u8)) { otherEvent = SkipLostEvents; reader.Skip(); }
            else if (Is(name, "agent_event"u8, "agentEvent"u8)) { otherEvent = SkipAgentEvent; reader.Skip(); }
            else if (Is(name, "debug_event"u8, "debugEvent"u8)) { otherEvent = SkipDebugEvent; reader.Skip(); }
            else if ((reason = ReadFlowField(name, ref reader, line, state, ref top)) is not null) return reason;
        }
        while (reader.Read()) { } // throws on anything but whitespace after the object
        return null;
    }

    /// <summary>The record (and L7 observation) the fields make, whichever path read them.</summary>
    private static LineOutcome Build(ref FlowFields top, ref FlowFields inner, bool sawFlow, string? otherEvent,
        ref FlowRecord flow, ref L7Observation l7, out string? reason)
    {
        ref FlowFields f = ref top;
        if (sawFlow)
        {
            f = ref inner;
            if (!f.HasTime && top.HasTime)
            {
                f.HasTime = true;
                f.Time = top.Time;
            }
            f.NodeName ??= top.NodeName;
        }
        else if (otherEvent is not null)
        {
            reason = otherEvent;
            return LineOutcome.Skipped;
        }
        else if (!top.Any)
        {
            reason = "not a Hubble flow: no 'flow' object and no flow fields";
            return LineOutcome.Rejected;
        }

        if (!f.HasIp)
        {
            reason = f.Type == TypeL7 || f.L7.Protocol != L7Protocol.None ? SkipNoIpL7 : f.Type == TypeSock ? SkipNoIpSock : SkipNoIp;
            // The proxy wrote no addresses: the observation joins its edge by the endpoints' identities.
            if (f.HasTime && f.L7.Protocol != L7Protocol.None) BuildL7(f, carriesFlow: false, ref l7);
            return LineOutcome.Skipped;
        }
        if (!f.HasTime)
        {
            reason = "missing required field 'time'";
            return LineOutcome.Rejected;
        }
        if (f.Protocol == 0)
        {
            reason = SkipNoL4;
            if (f.L7.Protocol != L7Protocol.None) BuildL7(f, carriesFlow: false, ref l7);
            return LineOutcome.Skipped;
        }
        BuildL7(f, carriesFlow: true, ref l7);

        flow.Start = f.Time;
        flow.End = f.Time;
        flow.SrcIp = f.Source;
        flow.DstIp = f.Destination;
        flow.Protocol = f.Protocol;
        flow.SrcPort = f.SourcePort;
        flow.DstPort = f.DestinationPort;
        flow.HasTcpFlags = f.HasTcpFlags;
        flow.TcpFlags = f.TcpFlags;
        flow.SrcIdentity = f.SourceIdentity;
        flow.DstIdentity = f.DestinationIdentity;
        flow.Reporter = f.NodeName;
        // Hubble reports events (packets or connection events), not counted flows: one event stands for one packet
        // and the bytes are unknown. Zero bytes keeps byte totals honest rather than invented.
        flow.Packets = 1;
        flow.Bytes = 0;
        flow.Direction = f.IsReply switch
        {
            2 => DirectionHint.Reply,
            1 => DirectionHint.Request,
            // The deprecated bool cannot say "request" (false is also "absent"), only "reply".
            _ => f.DeprecatedReply ? DirectionHint.Reply : DirectionHint.Unknown,
        };
        switch (f.Verdict)
        {
            case VerdictForwarded or VerdictRedirected or VerdictTranslated:
                flow.Verdict = Verdict.Allowed;
                flow.PolicyName = ByDirection(f.TrafficDirection, f.EgressAllowedBy, f.IngressAllowedBy);
                break;
            case VerdictDropped:
                flow.Verdict = Verdict.Denied;
                flow.PolicyName = ByDirection(f.TrafficDirection, f.EgressDeniedBy, f.IngressDeniedBy);
                break;
            case VerdictAudit:
                // Audit mode let through what policy would have dropped: the traffic happened (Allowed), and the
                // "audit" policy marker keeps the fact that enforcing current policy would break it.
                flow.Verdict = Verdict.Allowed;
                var wouldDeny = ByDirection(f.TrafficDirection, f.EgressDeniedBy, f.IngressDeniedBy);
                flow.PolicyName = wouldDeny is null ? "audit" : "audit:" + wouldDeny;
                break;
            default:
                // VERDICT_UNKNOWN, ERROR, and TRACED ("no particular verdict has been reached yet").
                flow.Verdict = Verdict.Unknown;
                break;
        }
        reason = null;
        return LineOutcome.Accepted;
    }

    private static string? ByDirection(int trafficDirection, string? egress, string? ingress) => trafficDirection switch
    {
        DirectionEgress => egress ?? ingress,
        DirectionIngress => ingress ?? egress,
        _ => ingress ?? egress,
    };

    internal static bool Is(ReadOnlySpan<byte> name, ReadOnlySpan<byte> protoName, ReadOnlySpan<byte> jsonName) =>
        name.SequenceEqual(protoName) || name.SequenceEqual(jsonName);

    internal static string Expected(string field, string what, ref Utf8JsonReader reader) =>
        $"field '{field}': expected {what}, got {JsonTokens.Describe(reader.TokenType)}";

    private static string? ReadFlow(ref Utf8JsonReader reader, ReadOnlySpan<byte> line, JsonDecodeState state, ref FlowFields f)
    {
        Span<byte> nameScratch = state.NameScratch;
        string? error;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = JsonTokens.Utf8(ref reader, nameScratch);
            reader.Read();
            if ((error = ReadFlowField(name, ref reader, line, state, ref f)) is not null) return error;
        }
        return null;
    }

    /// <summary>One field of a Flow message, with the reader on its value; unknown fields are skipped.</summary>
    private static string? ReadFlowField(scoped ReadOnlySpan<byte> name, ref Utf8JsonReader reader, ReadOnlySpan<byte> line,
        JsonDecodeState state, ref FlowFields f)
    {
        Span<byte> scratch = state.ValueScratch;
        if (reader.TokenType == JsonTokenType.Null) return null; // protobuf JSON: null is the default value
        if (name.SequenceEqual("time"u8))
        {
            if (reader.TokenType != JsonTokenType.String) return Expected("time", "an RFC 3339 string", ref reader);
            if (!FlowTimestamps.TryParseRfc3339(JsonTokens.Utf8(ref reader, scratch), out f.Time)) return "field 'time': not an RFC 3339 timestamp";
            f.HasTime = true;
            return null;
        }
        if (Is(name, "node_name"u8, "nodeName"u8))
        {
            if (reader.TokenType != JsonTokenType.String) return Expected("node_name", "a string", ref reader);
            var text = JsonTokens.Utf8(ref reader, scratch);
            f.NodeName = text.IsEmpty ? null : state.String(text);
            return null;
        }

        bool hadFlowFields = f.Any;
        f.Any = true;
        if (name.SequenceEqual("verdict"u8)) return ReadVerdict(ref reader, scratch, out f.Verdict);
        if (name.SequenceEqual("IP"u8)) return ReadIp(ref reader, scratch, ref f);
        if (name.SequenceEqual("l4"u8)) return ReadLayer4(ref reader, state, ref f);
        if (name.SequenceEqual("source"u8)) return HubbleEndpointReader.Read(ref reader, line, state, "source", out f.SourceIdentity);
        if (name.SequenceEqual("destination"u8)) return HubbleEndpointReader.Read(ref reader, line, state, "destination", out f.DestinationIdentity);
        if (name.SequenceEqual("Type"u8)) return ReadType(ref reader, scratch, out f.Type);
        if (Is(name, "is_reply"u8, "isReply"u8))
        {
            if (reader.TokenType is not (JsonTokenType.True or JsonTokenType.False)) return Expected("is_reply", "a boolean", ref reader);
            f.IsReply = reader.TokenType == JsonTokenType.True ? (byte)2 : (byte)1;
            return null;
        }
        if (name.SequenceEqual("reply"u8))
        {
            if (reader.TokenType is not (JsonTokenType.True or JsonTokenType.False)) return Expected("reply", "a boolean", ref reader);
            f.DeprecatedReply = reader.TokenType == JsonTokenType.True;
            return null;
        }
        if (Is(name, "traffic_direction"u8, "trafficDirection"u8)) return ReadTrafficDirection(ref reader, scratch, out f.TrafficDirection);
        if (Is(name, "drop_reason_desc"u8, "dropReasonDesc"u8))
        {
            // Validated, not kept: FlowRecord has no drop-reason field; denied_by names the policy when there is one.
            if (reader.TokenType == JsonTokenType.String) return null;
            return JsonTokens.TryGetInt32(ref reader, scratch, out _) ? null : Expected("drop_reason_desc", "a drop reason name or number", ref reader);
        }
        if (Is(name, "egress_allowed_by"u8, "egressAllowedBy"u8)) return ReadPolicies(ref reader, line, state, "egress_allowed_by", out f.EgressAllowedBy);
        if (Is(name, "ingress_allowed_by"u8, "ingressAllowedBy"u8)) return ReadPolicies(ref reader, line, state, "ingress_allowed_by", out f.IngressAllowedBy);
        if (Is(name, "egress_denied_by"u8, "egressDeniedBy"u8)) return ReadPolicies(ref reader, line, state, "egress_denied_by", out f.EgressDeniedBy);
        if (Is(name, "ingress_denied_by"u8, "ingressDeniedBy"u8)) return ReadPolicies(ref reader, line, state, "ingress_denied_by", out f.IngressDeniedBy);
        if (name.SequenceEqual("l7"u8)) return ReadLayer7(ref reader, state, ref f.L7);
        if (Is(name, "destination_names"u8, "destinationNames"u8)) return ReadNames(ref reader, line, state, "destination_names", out f.L7.DestinationNames);
        if (Is(name, "source_names"u8, "sourceNames"u8)) return ReadNames(ref reader, line, state, "source_names", out f.L7.SourceNames);

        f.Any = hadFlowFields;
        reader.Skip(); // ethernet, event_type, uuid, Summary, ... carry nothing a flow record keeps
        return null;
    }

    /// <summary>A Verdict by name; a name this build does not know (a newer Cilium) is an unknown verdict, not a broken record.</summary>
    private static int VerdictNamed(ReadOnlySpan<byte> name) =>
        name.SequenceEqual("FORWARDED"u8) ? VerdictForwarded
        : name.SequenceEqual("DROPPED"u8) ? VerdictDropped
        : name.SequenceEqual("ERROR"u8) ? 3
        : name.SequenceEqual("AUDIT"u8) ? VerdictAudit
        : name.SequenceEqual("REDIRECTED"u8) ? VerdictRedirected
        : name.SequenceEqual("TRACED"u8) ? 6
        : name.SequenceEqual("TRANSLATED"u8) ? VerdictTranslated
        : 0;

    private static int TypeNamed(ReadOnlySpan<byte> name) =>
        name.SequenceEqual("L3_L4"u8) ? 1 : name.SequenceEqual("L7"u8) ? TypeL7 : name.SequenceEqual("SOCK"u8) ? TypeSock : 0;

    private static int DirectionNamed(ReadOnlySpan<byte> name) =>
        name.SequenceEqual("INGRESS"u8) ? DirectionIngress : name.SequenceEqual("EGRESS"u8) ? DirectionEgress : 0;

    private static string? ReadVerdict(ref Utf8JsonReader reader, Span<byte> scratch, out int verdict)
    {
        verdict = 0;
        if (reader.TokenType == JsonTokenType.String)
        {
            verdict = VerdictNamed(JsonTokens.Utf8(ref reader, scratch));
            return null;
        }
        return JsonTokens.TryGetInt32(ref reader, scratch, out verdict) ? null : Expected("verdict", "a verdict name or number", ref reader);
    }

    private static string? ReadType(ref Utf8JsonReader reader, Span<byte> scratch, out int type)
    {
        type = 0;
        if (reader.TokenType == JsonTokenType.String)
        {
            type = TypeNamed(JsonTokens.Utf8(ref reader, scratch));
            return null;
        }
        return JsonTokens.TryGetInt32(ref reader, scratch, out type) ? null : Expected("Type", "a flow type name or number", ref reader);
    }

    private static string? ReadTrafficDirection(ref Utf8JsonReader reader, Span<byte> scratch, out int direction)
    {
        direction = 0;
        if (reader.TokenType == JsonTokenType.String)
        {
            direction = DirectionNamed(JsonTokens.Utf8(ref reader, scratch));
            return null;
        }
        return JsonTokens.TryGetInt32(ref reader, scratch, out direction) ? null : Expected("traffic_direction", "a direction name or number", ref reader);
    }

    private static string? ReadIp(ref Utf8JsonReader reader, Span<byte> scratch, ref FlowFields f)
    {
        if (reader.TokenType != JsonTokenType.StartObject) return Expected("IP", "an object", ref reader);
        bool hasSource = false, hasDestination = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool isSource = reader.ValueTextEquals("source"u8);
            bool isDestination = !isSource && reader.ValueTextEquals("destination"u8);
            reader.Read();
            if (!isSource && !isDestination || reader.TokenType == JsonTokenType.Null)
            {
                reader.Skip(); // ipVersion, encrypted
                continue;
            }
            string field = isSource ? "IP.source" : "IP.destination";
            if (reader.TokenType != JsonTokenType.String) return Expected(field, "an IP address string", ref reader);
            if (!PackedIp.TryParse(JsonTokens.Utf8(ref reader, scratch), out var ip)) return $"field '{field}': not an IPv4 or IPv6 address";
            if (isSource)
            {
                f.Source = ip;
                hasSource = true;
            }
            else
            {
                f.Destination = ip;
                hasDestination = true;
            }
        }
        if (!hasSource) return "field 'IP.source': missing";
        if (!hasDestination) return "field 'IP.destination': missing";
        f.HasIp = true;
        return null;
    }

    private static string? ReadLayer4(ref Utf8JsonReader reader, JsonDecodeState state, ref FlowFields f)
    {
        if (reader.TokenType != JsonTokenType.StartObject) return Expected("l4", "an object", ref reader);
        Span<byte> scratch = state.ValueScratch;
        string? error;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            // Layer4 is a oneof; the five names are the same in both JSON spellings.
            byte protocol = reader.ValueTextEquals("TCP"u8) ? IpProtocols.Tcp
                : reader.ValueTextEquals("UDP"u8) ? IpProtocols.Udp
                : reader.ValueTextEquals("SCTP"u8) ? IpProtocols.Sctp
                : reader.ValueTextEquals("ICMPv4"u8) ? IpProtocols.Icmp
                : reader.ValueTextEquals("ICMPv6"u8) ? IpProtocols.IcmpV6
                : (byte)0;
            reader.Read();
            if (protocol == 0 || reader.TokenType == JsonTokenType.Null)
            {
                reader.Skip();
                continue;
            }
            string field = protocol switch
            {
                IpProtocols.Tcp => "l4.TCP",
                IpProtocols.Udp => "l4.UDP",
                IpProtocols.Sctp => "l4.SCTP",
                IpProtocols.Icmp => "l4.ICMPv4",
                _ => "l4.ICMPv6",
            };
            if (reader.TokenType != JsonTokenType.StartObject) return Expected(field, "an object", ref reader);
            f.Protocol = protocol;
            bool hasPorts = IpProtocols.HasPorts(protocol);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (hasPorts && (reader.ValueTextEquals("source_port"u8) || reader.ValueTextEquals("sourcePort"u8)))
                {
                    reader.Read();
                    if ((error = ReadPort(ref reader, scratch, field, "source_port", out f.SourcePort)) is not null) return error;
                }
                else if (hasPorts && (reader.ValueTextEquals("destination_port"u8) || reader.ValueTextEquals("destinationPort"u8)))
                {
                    reader.Read();
                    if ((error = ReadPort(ref reader, scratch, field, "destination_port", out f.DestinationPort)) is not null) return error;
                }
                else if (protocol == IpProtocols.Tcp && reader.ValueTextEquals("flags"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Null) continue;
                    if ((error = ReadTcpFlags(ref reader, out f.TcpFlags)) is not null) return error;
                    f.HasTcpFlags = true;
                }
                else if (!hasPorts && (reader.ValueTextEquals("type"u8) || reader.ValueTextEquals("code"u8)))
                {
                    // ICMP type and code are validated but not kept: FlowRecord ports mean nothing for ICMP.
                    bool isType = reader.ValueTextEquals("type"u8);
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.Null && !JsonTokens.TryGetUInt32(ref reader, scratch, out _))
                        return Expected(field + (isType ? ".type" : ".code"), "an unsigned integer", ref reader);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        return null;
    }

    private static string? ReadPort(ref Utf8JsonReader reader, Span<byte> scratch, string layer, string name, out ushort port)
    {
        port = 0;
        if (reader.TokenType == JsonTokenType.Null) return null;
        if (!JsonTokens.TryGetUInt32(ref reader, scratch, out uint value) || value > 65535)
            return Expected(layer + "." + name, "an integer 0..65535", ref reader);
        port = (ushort)value;
        return null;
    }

    private static string? ReadTcpFlags(ref Utf8JsonReader reader, out ushort flags)
    {
        flags = 0;
        if (reader.TokenType != JsonTokenType.StartObject) return Expected("l4.TCP.flags", "an object", ref reader);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            // Bit positions as in the TCP header, NS being the ninth bit.
            ushort bit = reader.ValueTextEquals("FIN"u8) ? (ushort)0x001
                : reader.ValueTextEquals("SYN"u8) ? (ushort)0x002
                : reader.ValueTextEquals("RST"u8) ? (ushort)0x004
                : reader.ValueTextEquals("PSH"u8) ? (ushort)0x008
                : reader.ValueTextEquals("ACK"u8) ? (ushort)0x010
                : reader.ValueTextEquals("URG"u8) ? (ushort)0x020
                : reader.ValueTextEquals("ECE"u8) ? (ushort)0x040
                : reader.ValueTextEquals("CWR"u8) ? (ushort)0x080
                : reader.ValueTextEquals("NS"u8) ? (ushort)0x100
                : (ushort)0;
            reader.Read();
            if (bit == 0)
            {
                reader.Skip();
                continue;
            }
            if (reader.TokenType == JsonTokenType.True) flags |= bit;
            else if (reader.TokenType is not (JsonTokenType.False or JsonTokenType.Null)) return Expected("l4.TCP.flags", "boolean flags", ref reader);
        }
        return null;
    }

    private static string? ReadPolicies(ref Utf8JsonReader reader, ReadOnlySpan<byte> line, JsonDecodeState state, string field, out string? names)
    {
        names = null;
        if (reader.TokenType != JsonTokenType.StartArray) return Expected(field, "an array of policies", ref reader);
        var raw = JsonTokens.RawValue(ref reader, line);
        if (state.Policies.TryGet(raw, out int slot, out names)) return null;
        var error = ParsePolicies(raw, state, field, out names);
        if (error is null) state.Policies.Set(slot, raw, names);
        return error;
    }

    /// <summary>Policy objects to "namespace/name" (clusterwide policies: "name"), comma separated.</summary>
    private static string? ParsePolicies(ReadOnlySpan<byte> raw, JsonDecodeState state, string field, out string? names)
    {
        names = null;
        var reader = new Utf8JsonReader(raw, JsonTokens.LineOptions);
        reader.Read();
        Span<byte> scratch = state.ValueScratch;
        StringBuilder? joined = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject) return Expected(field + "[]", "a policy object", ref reader);
            string? name = null, ns = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isName = reader.ValueTextEquals("name"u8);
                bool isNamespace = !isName && reader.ValueTextEquals("namespace"u8);
                reader.Read();
                if (!isName && !isNamespace || reader.TokenType == JsonTokenType.Null)
                {
                    reader.Skip(); // labels, revision, kind
                    continue;
                }
                if (reader.TokenType != JsonTokenType.String) return Expected(field + (isName ? "[].name" : "[].namespace"), "a string", ref reader);
                var text = JsonTokens.Utf8(ref reader, scratch);
                if (isName) name = state.String(text);
                else ns = state.String(text);
            }
            if (string.IsNullOrEmpty(name)) continue;
            joined ??= new StringBuilder();
            if (joined.Length > 0) joined.Append(',');
            if (!string.IsNullOrEmpty(ns)) joined.Append(ns).Append('/');
            joined.Append(name);
        }
        names = joined?.ToString();
        return null;
    }
}
