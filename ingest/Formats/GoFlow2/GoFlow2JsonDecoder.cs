using System.Buffers;
using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Text;
using System.Text.Json;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats.Internal;

namespace FlowPolicy.Ingest.Formats.GoFlow2;

/// <summary>
/// JSON lines written by GoFlow2 (netsampler/goflow2) for NetFlow v5/v9, IPFIX and sFlow: the v2 snake_case
/// schema (<c>src_addr</c>, <c>time_flow_start_ns</c>, <c>proto: "TCP"</c>) and the v1 CamelCase one
/// (<c>SrcAddr</c>, <c>TimeFlowStart</c>, <c>Proto: 6</c>), addresses as text or as base64 of the raw bytes (how
/// protobuf JSON writes bytes fields). See docs/formats.md for the mapping.
/// </summary>
/// <remarks>
/// Bytes and packets are multiplied by the sampling rate when it is above 1, so counters estimate real traffic.
/// forwarding_status (NetFlow v9/IPFIX element 89) gives the verdict: 64..127 forwarded, 128..191 dropped; anything
/// else is Unknown. Direction stays Unknown: flow_direction is ingress/egress of an interface, not request/reply.
/// </remarks>
internal sealed class GoFlow2JsonDecoder : LineFlowDecoder
{
    private const int MaxReporters = 65_536;
    private readonly ConcurrentDictionary<PackedIp, string> _reporters = new();
    private int _reporterCount;

    public override FlowFormat Format => FlowFormat.GoFlow2;

    protected override void DecodeLine(ReadOnlySpan<byte> line, long lineNumber, ref DecodeCursor cursor, IFlowSink sink) =>
        DecodeRecord(line, lineNumber, cursor, sink);

    private enum Field : byte
    {
        Unknown,
        SamplingRate,
        SamplerAddress,
        ReceivedNs,
        ReceivedSeconds,
        StartNs,
        StartMs,
        StartSeconds,
        EndNs,
        EndMs,
        EndSeconds,
        Bytes,
        Packets,
        SrcAddr,
        DstAddr,
        Etype,
        Proto,
        SrcPort,
        DstPort,
        TcpFlags,
        ForwardingStatus,
    }

    private static readonly FrozenDictionary<string, Field> Names = new Dictionary<string, Field>
    {
        // v2 (protobuf field names)
        ["sampling_rate"] = Field.SamplingRate,
        ["sampler_address"] = Field.SamplerAddress,
        ["time_received_ns"] = Field.ReceivedNs,
        ["time_received"] = Field.ReceivedSeconds,
        ["time_flow_start_ns"] = Field.StartNs,
        ["time_flow_start_ms"] = Field.StartMs,
        ["time_flow_end_ns"] = Field.EndNs,
        ["time_flow_end_ms"] = Field.EndMs,
        ["bytes"] = Field.Bytes,
        ["packets"] = Field.Packets,
        ["src_addr"] = Field.SrcAddr,
        ["dst_addr"] = Field.DstAddr,
        ["etype"] = Field.Etype,
        ["proto"] = Field.Proto,
        ["src_port"] = Field.SrcPort,
        ["dst_port"] = Field.DstPort,
        ["tcp_flags"] = Field.TcpFlags,
        ["forwarding_status"] = Field.ForwardingStatus,
        // v1 (Go struct names)
        ["SamplingRate"] = Field.SamplingRate,
        ["SamplerAddress"] = Field.SamplerAddress,
        ["TimeReceivedNs"] = Field.ReceivedNs,
        ["TimeReceived"] = Field.ReceivedSeconds,
        ["TimeFlowStartNs"] = Field.StartNs,
        ["TimeFlowStartMs"] = Field.StartMs,
        ["TimeFlowStart"] = Field.StartSeconds,
        ["TimeFlowEndNs"] = Field.EndNs,
        ["TimeFlowEndMs"] = Field.EndMs,
        ["TimeFlowEnd"] = Field.EndSeconds,
        ["Bytes"] = Field.Bytes,
        ["Packets"] = Field.Packets,
        ["SrcAddr"] = Field.SrcAddr,
        ["DstAddr"] = Field.DstAddr,
        ["Etype"] = Field.Etype,
        ["Proto"] = Field.Proto,
        ["SrcPort"] = Field.SrcPort,
        ["DstPort"] = Field.DstPort,
        ["TCPFlags"] = Field.TcpFlags,
        ["ForwardingStatus"] = Field.ForwardingStatus,
        // v2 protobuf messages turned into JSON by protojson (lowerCamelCase; uint64 as strings, bytes as base64)
        ["samplingRate"] = Field.SamplingRate,
        ["samplerAddress"] = Field.SamplerAddress,
        ["timeReceivedNs"] = Field.ReceivedNs,
        ["timeFlowStartNs"] = Field.StartNs,
        ["timeFlowEndNs"] = Field.EndNs,
        ["srcAddr"] = Field.SrcAddr,
        ["dstAddr"] = Field.DstAddr,
        ["srcPort"] = Field.SrcPort,
        ["dstPort"] = Field.DstPort,
        ["tcpFlags"] = Field.TcpFlags,
        ["forwardingStatus"] = Field.ForwardingStatus,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private static readonly Utf8NameTable<Field> NamesByUtf8 = new(Names);

    /// <summary>Time of one kind (start, end, received) from the most precise field seen: ns over ms over seconds.</summary>
    private struct BestTime
    {
        public DateTime Value;
        public int Precision; // 0 none, 1 seconds, 2 ms, 3 ns

        public void Offer(DateTime value, int precision)
        {
            if (precision > Precision)
            {
                Value = value;
                Precision = precision;
            }
        }
    }

    /// <summary>One line. Internal so tests can prove it never throws, independent of the base class's safety net.</summary>
    internal void DecodeRecord(ReadOnlySpan<byte> line, long lineNumber, in DecodeCursor cursor, IFlowSink sink)
    {
        string? error;
        var flow = new FlowRecord();
        try
        {
            error = Read(line, ref flow, out bool nonIp);
            if (error is null && nonIp)
            {
                sink.Skip("non-IP", cursor.At(lineNumber));
                return;
            }
        }
        catch (JsonException ex)
        {
            error = "invalid JSON: " + ex.Message;
        }
        if (error is not null)
        {
            Reject(sink, cursor, lineNumber, error, line);
            return;
        }
        sink.Accept(flow);
    }

    private string? Read(ReadOnlySpan<byte> line, ref FlowRecord flow, out bool nonIp)
    {
        nonIp = false;
        var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 16 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return "expected a JSON object";

        ulong samplingRate = 0, bytes = 0, packets = 0, tcpFlags = 0, forwardingStatus = 0;
        bool hasSrc = false, hasDst = false, hasSampler = false, hasTcpFlags = false;
        bool etypeIsIp = true;
        PackedIp sampler = default;
        BestTime start = default, end = default, received = default;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = Classify(ref reader);
            if (!reader.Read()) return "truncated JSON";
            if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                reader.Skip(); // bgp_communities, as_path, mpls_label, layer_stack ...
                continue;
            }
            if (reader.TokenType == JsonTokenType.Null || field == Field.Unknown) continue;

            string? error = null;
            switch (field)
            {
                case Field.SamplingRate: error = ReadUInt(ref reader, "sampling_rate", out samplingRate); break;
                case Field.Bytes: error = ReadUInt(ref reader, "bytes", out bytes); break;
                case Field.Packets: error = ReadUInt(ref reader, "packets", out packets); break;
                case Field.SrcPort: error = ReadPort(ref reader, "src_port", out flow.SrcPort); break;
                case Field.DstPort: error = ReadPort(ref reader, "dst_port", out flow.DstPort); break;
                case Field.TcpFlags:
                    error = ReadUInt(ref reader, "tcp_flags", out tcpFlags);
                    if (error is null && tcpFlags > ushort.MaxValue) error = $"tcp_flags {tcpFlags} is not a flag bitmask";
                    hasTcpFlags = true;
                    break;
                case Field.ForwardingStatus: error = ReadUInt(ref reader, "forwarding_status", out forwardingStatus); break;
                case Field.Proto: error = ReadProtocol(ref reader, out flow.Protocol); break;
                case Field.Etype: etypeIsIp = IsIpEtype(ref reader); break;
                case Field.SrcAddr: error = ReadAddress(ref reader, "src_addr", out flow.SrcIp, out hasSrc); break;
                case Field.DstAddr: error = ReadAddress(ref reader, "dst_addr", out flow.DstIp, out hasDst); break;
                case Field.SamplerAddress: error = ReadAddress(ref reader, "sampler_address", out sampler, out hasSampler); break;
                case Field.StartNs: error = ReadTime(ref reader, "time_flow_start_ns", 3, ref start); break;
                case Field.StartMs: error = ReadTime(ref reader, "time_flow_start_ms", 2, ref start); break;
                case Field.StartSeconds: error = ReadTime(ref reader, "TimeFlowStart", 1, ref start); break;
                case Field.EndNs: error = ReadTime(ref reader, "time_flow_end_ns", 3, ref end); break;
                case Field.EndMs: error = ReadTime(ref reader, "time_flow_end_ms", 2, ref end); break;
                case Field.EndSeconds: error = ReadTime(ref reader, "TimeFlowEnd", 1, ref end); break;
                case Field.ReceivedNs: error = ReadTime(ref reader, "time_received_ns", 3, ref received); break;
                case Field.ReceivedSeconds: error = ReadTime(ref reader, "time_received", 1, ref received); break;
            }
            if (error is not null) return error;
        }
        if (reader.TokenType != JsonTokenType.EndObject) return "expected a property name or '}'";
        if (reader.Read()) return "unexpected content after the JSON object";

        if (!hasSrc && !hasDst)
        {
            if (!etypeIsIp)
            {
                nonIp = true; // an sFlow sample of ARP or another non-IP frame: well formed, no flow
                return null;
            }
            return "no src_addr or dst_addr";
        }
        if (!hasSrc) return "no src_addr";
        if (!hasDst) return "no dst_addr";

        // NetFlow v5 and sFlow carry no flow times of their own: GoFlow2 then writes the receive time (or 0).
        if (start.Precision == 0) start = end.Precision != 0 ? end : received;
        if (end.Precision == 0) end = start;
        if (start.Precision == 0) return "no time_flow_start_ns, time_flow_end_ns or time_received_ns";
        flow.Start = start.Value;
        // Exporter uptime arithmetic can put the end before the start; keep the flow, clamp the interval.
        flow.End = end.Value < start.Value ? start.Value : end.Value;

        if (samplingRate > 1)
        {
            if (!TryMultiply(bytes, samplingRate, out bytes) || !TryMultiply(packets, samplingRate, out packets))
                return $"bytes or packets times sampling_rate {samplingRate} overflows";
        }
        flow.Bytes = bytes;
        flow.Packets = packets;

        // GoFlow2 prints every field, so tcp_flags is 0 when the exporter did not report flags; a TCP flow that was
        // really observed always has some flag set, so 0 means "not reported".
        if (hasTcpFlags && tcpFlags != 0 && flow.Protocol == IpProtocols.Tcp)
        {
            flow.TcpFlags = (ushort)tcpFlags;
            flow.HasTcpFlags = true;
        }
        flow.Verdict = VerdictOf(forwardingStatus);
        flow.Direction = DirectionHint.Unknown;
        flow.Reporter = hasSampler ? ReporterName(sampler) : null;
        return null;
    }

    /// <summary>
    /// forwardingStatus (IPFIX IE 89, RFC 7270 and the IANA registry): the two high bits of the one-byte value are
    /// the status: 00 unknown, 01 forwarded, 10 dropped, 11 consumed (terminated by the device itself). Values above
    /// 255 do not follow that layout and stay Unknown.
    /// </summary>
    internal static Verdict VerdictOf(ulong forwardingStatus) => forwardingStatus switch
    {
        >= 64 and <= 127 => Verdict.Allowed,
        >= 128 and <= 191 => Verdict.Denied,
        _ => Verdict.Unknown,
    };

    private static Field Classify(ref Utf8JsonReader reader)
    {
        if (reader.ValueIsEscaped) return Field.Unknown;
        return NamesByUtf8.TryGetValue(reader.ValueSpan, out var field) ? field : Field.Unknown;
    }

    private static string? ReadUInt(ref Utf8JsonReader reader, string name, out ulong value)
    {
        value = 0;
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetUInt64(out value)) return null;
        if (reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped && FlowTimestamps.TryParseUInt64(reader.ValueSpan, out value))
            return null;
        return $"{name} is not a non-negative integer";
    }

    private static string? ReadPort(ref Utf8JsonReader reader, string name, out ushort port)
    {
        port = 0;
        var error = ReadUInt(ref reader, name, out ulong value);
        if (error is not null) return error;
        if (value > ushort.MaxValue) return $"{name} {value} is not a port number";
        port = (ushort)value;
        return null;
    }

    private static string? ReadProtocol(ref Utf8JsonReader reader, out byte protocol)
    {
        protocol = 0;
        if (reader.TokenType == JsonTokenType.Number)
        {
            if (reader.TryGetUInt64(out ulong number) && number <= byte.MaxValue)
            {
                protocol = (byte)number;
                return null;
            }
            return "proto is not an IANA protocol number";
        }
        if (reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped || reader.ValueSpan.Length > 16)
            return "proto is not a protocol number or name";
        var text = reader.ValueSpan;
        // GoFlow2's proto renderer writes "" for protocols it has no name for: keep the flow, protocol unknown (0).
        if (text.IsEmpty) return null;
        if (Ascii.EqualsIgnoreCase(text, "TCP"u8)) protocol = IpProtocols.Tcp;
        else if (Ascii.EqualsIgnoreCase(text, "UDP"u8)) protocol = IpProtocols.Udp;
        else if (Ascii.EqualsIgnoreCase(text, "ICMP"u8)) protocol = IpProtocols.Icmp;
        else if (Ascii.EqualsIgnoreCase(text, "ICMPv6"u8)) protocol = IpProtocols.IcmpV6;
        else
        {
            Span<char> chars = stackalloc char[16];
            for (int i = 0; i < text.Length; i++) chars[i] = (char)text[i];
            if (!IpProtocols.TryParse(chars[..text.Length], out protocol))
                return $"proto '{Excerpts.Of(text)}' is not a protocol number or name";
        }
        return null;
    }

    private static bool IsIpEtype(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Number)
            return reader.TryGetUInt32(out uint etype) && etype is 0 or 0x0800 or 0x86DD;
        if (reader.TokenType != JsonTokenType.String) return true;
        var text = reader.ValueSpan;
        return text.IsEmpty || text.SequenceEqual("IPv4"u8) || text.SequenceEqual("IPv6"u8);
    }

    /// <summary>Text ("10.0.0.1", "2001:db8::1") or base64 of 4/16 raw bytes ("CgAAAQ=="). "" means absent.</summary>
    private static string? ReadAddress(ref Utf8JsonReader reader, string name, out PackedIp ip, out bool present)
    {
        ip = default;
        present = false;
        if (reader.TokenType != JsonTokenType.String) return $"{name} is not a string";
        Span<byte> buffer = stackalloc byte[64];
        scoped ReadOnlySpan<byte> text;
        if (reader.ValueIsEscaped)
        {
            if (reader.ValueSpan.Length > buffer.Length) return $"{name} is not an IP address";
            text = buffer[..reader.CopyString(buffer)];
        }
        else text = reader.ValueSpan;
        if (text.IsEmpty) return null;
        if (PackedIp.TryParse(text, out ip) || TryDecodeBase64Address(text, out ip))
        {
            present = true;
            return null;
        }
        return $"{name} '{Excerpts.Of(text.Length > 40 ? text[..40] : text)}' is not an IP address";
    }

    private static bool TryDecodeBase64Address(ReadOnlySpan<byte> text, out PackedIp ip)
    {
        ip = default;
        if (text.Length is not (8 or 24)) return false;
        Span<byte> raw = stackalloc byte[18];
        if (Base64.DecodeFromUtf8(text, raw, out _, out int written) != OperationStatus.Done || written is not (4 or 16))
            return false;
        ip = PackedIp.FromBytes(raw[..written]);
        return true;
    }

    /// <summary>Number (or numeric string) in the field's unit, or RFC 3339 text (GoFlow2's datetime renderers). 0 means absent.</summary>
    private static string? ReadTime(ref Utf8JsonReader reader, string name, int precision, ref BestTime best)
    {
        if (reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped && reader.ValueSpan.Length > 0
            && (uint)(reader.ValueSpan[0] - '0') <= 9 && reader.ValueSpan.IndexOfAny("-T:"u8) > 0)
        {
            if (!FlowTimestamps.TryParseRfc3339(reader.ValueSpan, out var parsed)) return $"{name} is not a time";
            best.Offer(parsed, precision);
            return null;
        }
        var error = ReadUInt(ref reader, name, out ulong value);
        if (error is not null) return error;
        if (value == 0) return null;
        DateTime time;
        bool ok = precision switch
        {
            3 => FlowTimestamps.TryFromUnixNanoseconds(value, out time),
            2 => FlowTimestamps.TryFromUnixMilliseconds((long)Math.Min(value, long.MaxValue), out time),
            _ => FlowTimestamps.TryFromUnixSeconds((long)Math.Min(value, long.MaxValue), out time),
        };
        if (!ok) return $"{name} {value} is out of range";
        best.Offer(time, precision);
        return null;
    }

    private static bool TryMultiply(ulong value, ulong factor, out ulong result)
    {
        ulong high = Math.BigMul(value, factor, out result);
        return high == 0;
    }

    private string ReporterName(PackedIp sampler)
    {
        if (_reporters.TryGetValue(sampler, out var name)) return name;
        name = sampler.ToString();
        if (Volatile.Read(ref _reporterCount) < MaxReporters && _reporters.TryAdd(sampler, name))
            Interlocked.Increment(ref _reporterCount);
        return name;
    }
}
