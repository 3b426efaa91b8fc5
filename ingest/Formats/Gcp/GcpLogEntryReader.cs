using System.Text.Json;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats.Internal;

namespace FlowPolicy.Ingest.Formats.Gcp;

/// <summary>
/// Reads one Cloud Logging LogEntry (or a bare jsonPayload) into a <see cref="GcpLogEntry"/> in one pass: the fields
/// come in any order, so <see cref="GcpVpcFlowLogDecoder"/> judges the entry only once it has been read whole. VM and
/// GKE metadata objects repeat across entries and are decoded once per source (<see cref="GcpSourceState"/>).
/// </summary>
internal static class GcpLogEntryReader
{
    public static void Read(ref Utf8JsonReader reader, ref GcpLogEntry entry, ReadOnlySpan<byte> json, GcpSourceState caches)
    {
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            if (reader.ValueTextEquals("jsonPayload"u8))
            {
                reader.Read();
                entry.SawPayload = true;
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                    {
                        if (!TryReadPayloadField(ref reader, ref entry, json, caches))
                        {
                            reader.Read();
                            reader.Skip();
                        }
                    }
                }
                else
                {
                    entry.Fail("jsonPayload is not an object");
                    reader.Skip();
                }
            }
            else if (reader.ValueTextEquals("timestamp"u8))
            {
                reader.Read();
                ReadTime(ref reader, ref entry, "timestamp", out entry.Timestamp, out entry.HasTimestamp);
            }
            // A bare payload (an entry's jsonPayload without the envelope, as some exporters write) has the fields at the top.
            else if (!TryReadPayloadField(ref reader, ref entry, json, caches))
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    /// <summary>Reads one jsonPayload property if it is one this decoder uses; false (nothing read) otherwise.</summary>
    private static bool TryReadPayloadField(ref Utf8JsonReader reader, ref GcpLogEntry entry, ReadOnlySpan<byte> json, GcpSourceState caches)
    {
        if (reader.ValueTextEquals("connection"u8))
        {
            reader.Read();
            ReadConnection(ref reader, ref entry);
        }
        else if (reader.ValueTextEquals("bytes_sent"u8))
        {
            reader.Read();
            if (JsonValues.ReadUInt64(ref reader, out entry.Bytes) == FieldRead.Invalid)
                entry.Fail("bytes_sent " + JsonValues.Describe(ref reader) + " is not a non-negative integer");
            reader.Skip();
        }
        else if (reader.ValueTextEquals("packets_sent"u8))
        {
            reader.Read();
            if (JsonValues.ReadUInt64(ref reader, out entry.Packets) == FieldRead.Invalid)
                entry.Fail("packets_sent " + JsonValues.Describe(ref reader) + " is not a non-negative integer");
            reader.Skip();
        }
        else if (reader.ValueTextEquals("start_time"u8))
        {
            reader.Read();
            ReadTime(ref reader, ref entry, "start_time", out entry.Start, out entry.HasStart);
        }
        else if (reader.ValueTextEquals("end_time"u8))
        {
            reader.Read();
            ReadTime(ref reader, ref entry, "end_time", out entry.End, out entry.HasEnd);
        }
        else if (reader.ValueTextEquals("reporter"u8))
        {
            reader.Read();
            entry.Reporter = reader.TokenType != JsonTokenType.String ? ReporterSide.None
                : reader.ValueTextEquals("SRC"u8) ? ReporterSide.Src
                : reader.ValueTextEquals("DEST"u8) ? ReporterSide.Dest
                : reader.ValueTextEquals("SRC_GATEWAY"u8) ? ReporterSide.SrcGateway
                : reader.ValueTextEquals("DEST_GATEWAY"u8) ? ReporterSide.DestGateway
                : ReporterSide.None;
            reader.Skip();
        }
        else if (reader.ValueTextEquals("src_instance"u8)) { reader.Read(); entry.SrcInstance = ReadInstance(ref reader, json, caches); }
        else if (reader.ValueTextEquals("dest_instance"u8)) { reader.Read(); entry.DstInstance = ReadInstance(ref reader, json, caches); }
        else if (reader.ValueTextEquals("src_gke_details"u8)) { reader.Read(); entry.SrcGke = ReadGke(ref reader, json, caches); }
        else if (reader.ValueTextEquals("dest_gke_details"u8)) { reader.Read(); entry.DstGke = ReadGke(ref reader, json, caches); }
        else if (reader.ValueTextEquals("instance"u8)) { reader.Read(); entry.Instance = ReadInstance(ref reader, json, caches); }
        else if (reader.ValueTextEquals("remote_instance"u8)) { reader.Read(); entry.RemoteInstance = ReadInstance(ref reader, json, caches); }
        else if (reader.ValueTextEquals("disposition"u8))
        {
            reader.Read();
            entry.IsFirewallLog = true;
            entry.Disposition = reader.TokenType != JsonTokenType.String ? Verdict.Unknown
                : reader.ValueTextEquals("ALLOWED"u8) ? Verdict.Allowed
                : reader.ValueTextEquals("DENIED"u8) ? Verdict.Denied
                : Verdict.Unknown; // INTERCEPTED and future values: the rule handed the connection on
            reader.Skip();
        }
        else if (reader.ValueTextEquals("rule_details"u8))
        {
            reader.Read();
            ReadRuleDetails(ref reader, ref entry, caches);
        }
        else
        {
            return false;
        }
        return true;
    }

    private static void ReadConnection(ref Utf8JsonReader reader, ref GcpLogEntry entry)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            entry.Fail("connection is not an object");
            reader.Skip();
            return;
        }
        entry.SawConnection = true;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            if (reader.ValueTextEquals("src_ip"u8))
            {
                reader.Read();
                entry.HasSrcIp = ReadIp(ref reader, ref entry, "connection.src_ip", out entry.SrcIp);
            }
            else if (reader.ValueTextEquals("dest_ip"u8))
            {
                reader.Read();
                entry.HasDstIp = ReadIp(ref reader, ref entry, "connection.dest_ip", out entry.DstIp);
            }
            else if (reader.ValueTextEquals("src_port"u8))
            {
                reader.Read();
                entry.SrcPort = ReadPort(ref reader, ref entry, "connection.src_port");
            }
            else if (reader.ValueTextEquals("dest_port"u8))
            {
                reader.Read();
                entry.DstPort = ReadPort(ref reader, ref entry, "connection.dest_port");
            }
            else if (reader.ValueTextEquals("protocol"u8))
            {
                reader.Read();
                var read = JsonValues.ReadUInt64(ref reader, out ulong protocol);
                if (read == FieldRead.Ok && protocol <= byte.MaxValue)
                {
                    entry.Protocol = (byte)protocol;
                    entry.HasProtocol = true;
                }
                // Names are not in Google's format, but "TCP"/"UDP" from hand-made or converted logs are unambiguous.
                else if (reader.TokenType == JsonTokenType.String && TryProtocolName(ref reader, out byte named))
                {
                    entry.Protocol = named;
                    entry.HasProtocol = true;
                }
                else if (read != FieldRead.Missing)
                {
                    entry.Fail("connection.protocol " + JsonValues.Describe(ref reader) + " is not an IP protocol number (0-255)");
                }
                reader.Skip();
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    private static bool TryProtocolName(ref Utf8JsonReader reader, out byte protocol)
    {
        protocol = 0;
        Span<byte> scratch = stackalloc byte[32];
        if (!JsonValues.TryGetUtf8(in reader, scratch, out var text) || text.Length > 16) return false;
        Span<char> chars = stackalloc char[text.Length];
        for (int i = 0; i < text.Length; i++) chars[i] = (char)text[i];
        return IpProtocols.TryParse(chars, out protocol);
    }

    private static bool ReadIp(ref Utf8JsonReader reader, ref GcpLogEntry entry, string field, out PackedIp ip)
    {
        ip = default;
        Span<byte> scratch = stackalloc byte[64];
        if (reader.TokenType == JsonTokenType.Null) return false;
        if (reader.TokenType == JsonTokenType.String && JsonValues.TryGetUtf8(in reader, scratch, out var text)
            && PackedIp.TryParse(text, out ip))
            return true;
        entry.Fail(field + " " + JsonValues.Describe(ref reader) + " is not an IP address");
        reader.Skip();
        return false;
    }

    private static ushort ReadPort(ref Utf8JsonReader reader, ref GcpLogEntry entry, string field)
    {
        var read = JsonValues.ReadUInt64(ref reader, out ulong port);
        if (read == FieldRead.Ok && port <= ushort.MaxValue) return (ushort)port;
        if (read != FieldRead.Missing) entry.Fail(field + " " + JsonValues.Describe(ref reader) + " is not a port (0-65535)");
        reader.Skip();
        return 0;
    }

    private static void ReadTime(ref Utf8JsonReader reader, ref GcpLogEntry entry, string field, out DateTime time, out bool present)
    {
        time = default;
        present = false;
        if (reader.TokenType == JsonTokenType.Null) return;
        Span<byte> scratch = stackalloc byte[48];
        if (reader.TokenType == JsonTokenType.String && JsonValues.TryGetUtf8(in reader, scratch, out var text)
            && FlowTimestamps.TryParseRfc3339(text, out time))
        {
            present = true;
            return;
        }
        entry.Fail(field + " " + JsonValues.Describe(ref reader) + " is not an RFC 3339 timestamp");
        reader.Skip();
    }

    private static void ReadRuleDetails(ref Utf8JsonReader reader, ref GcpLogEntry entry, GcpSourceState caches)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return;
        }
        entry.IsFirewallLog = true;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            if (reader.ValueTextEquals("reference"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String) entry.RuleReference = InternString(ref reader, caches);
            }
            else if (reader.ValueTextEquals("direction"u8))
            {
                reader.Read();
                entry.RuleDirection = reader.TokenType != JsonTokenType.String ? RuleDirection.None
                    : reader.ValueTextEquals("INGRESS"u8) ? RuleDirection.Ingress
                    : reader.ValueTextEquals("EGRESS"u8) ? RuleDirection.Egress
                    : RuleDirection.None;
            }
            else
            {
                reader.Read();
            }
            reader.Skip();
        }
    }

    /// <summary>A string value, decoded once per distinct spelling in this source (rule references repeat).</summary>
    private static string InternString(ref Utf8JsonReader reader, GcpSourceState caches)
    {
        var raw = reader.ValueSpan; // as written (escapes included): equal bytes always decode to equal text
        if (caches.Strings.TryGet(raw, out int slot, out var value)) return value!;
        value = reader.GetString()!;
        caches.Strings.Set(slot, raw, value);
        return value;
    }

    /// <summary>Raw bytes of the object the reader is on, and leaves the reader on its end.</summary>
    private static ReadOnlySpan<byte> RawObject(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, out Utf8JsonReader atStart)
    {
        atStart = reader;
        int start = (int)reader.TokenStartIndex;
        reader.Skip();
        return json[start..(int)reader.BytesConsumed];
    }

    private static GcpInstance? ReadInstance(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, GcpSourceState caches)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return null;
        }
        var raw = RawObject(ref reader, json, out var parser);
        if (caches.Instances.TryGet(raw, out int slot, out var known)) return known;

        string? project = null, vm = null;
        while (parser.Read() && parser.TokenType != JsonTokenType.EndObject)
        {
            if (parser.ValueTextEquals("project_id"u8)) { parser.Read(); project = JsonValues.GetStringOrNull(ref parser); }
            else if (parser.ValueTextEquals("vm_name"u8)) { parser.Read(); vm = JsonValues.GetStringOrNull(ref parser); }
            else parser.Read();
            parser.Skip();
        }
        var instance = new GcpInstance(project, vm);
        caches.Instances.Set(slot, raw, instance);
        return instance;
    }

    private static GcpGke? ReadGke(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, GcpSourceState caches)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return null;
        }
        var raw = RawObject(ref reader, json, out var parser);
        if (caches.Gke.TryGet(raw, out int slot, out var known)) return known;

        string? cluster = null, podName = null, podNamespace = null, workload = null, workloadType = null;
        string? serviceName = null, serviceNamespace = null;
        int depth = parser.CurrentDepth;
        while (parser.Read() && !(parser.TokenType == JsonTokenType.EndObject && parser.CurrentDepth == depth))
        {
            if (parser.TokenType != JsonTokenType.PropertyName) continue;
            // Property names are unique across GKE details' nested objects, so match them at any depth.
            if (parser.ValueTextEquals("cluster_name"u8)) { parser.Read(); cluster = JsonValues.GetStringOrNull(ref parser); }
            else if (parser.ValueTextEquals("pod_name"u8)) { parser.Read(); podName = JsonValues.GetStringOrNull(ref parser); }
            else if (parser.ValueTextEquals("pod_namespace"u8)) { parser.Read(); podNamespace = JsonValues.GetStringOrNull(ref parser); }
            else if (parser.ValueTextEquals("workload_name"u8)) { parser.Read(); workload = JsonValues.GetStringOrNull(ref parser); }
            else if (parser.ValueTextEquals("workload_type"u8)) { parser.Read(); workloadType = JsonValues.GetStringOrNull(ref parser); }
            else if (parser.ValueTextEquals("service_name"u8))
            {
                parser.Read();
                serviceName ??= JsonValues.GetStringOrNull(ref parser); // the first Service of the list
            }
            else if (parser.ValueTextEquals("service_namespace"u8))
            {
                parser.Read();
                serviceNamespace ??= JsonValues.GetStringOrNull(ref parser);
            }
            else
            {
                parser.Read();
                continue; // a primitive, or an object/array to descend into: cluster, pod, pod_workload, service[]
            }
            parser.Skip();
        }
        var gke = new GcpGke(cluster, podName, podNamespace, workload, workloadType, serviceName, serviceNamespace);
        caches.Gke.Set(slot, raw, gke);
        return gke;
    }
}
