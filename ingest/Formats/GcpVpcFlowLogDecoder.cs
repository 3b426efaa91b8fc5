using System.Text.Json;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats.Internal;

namespace FlowPolicy.Ingest.Formats;

/// <summary>
/// Google Cloud VPC Flow Logs (and Firewall Rules Logging) as Cloud Logging LogEntry JSON: one entry per line
/// (a Logging sink to Cloud Storage, Pub/Sub messages) or a JSON array of entries (`gcloud logging read
/// --format=json`). Field names follow Google's "VPC Flow Logs record format"; docs/formats.md has the
/// mapping and the decisions (identities, reporter, verdict, direction).
/// </summary>
public sealed class GcpVpcFlowLogDecoder : FlowDecoder, IJsonObjectDecoder
{
    private const string Name = "gcp";

    [ThreadStatic] private static Utf8KeyedCache<GcpInstance>? t_instances;
    [ThreadStatic] private static Utf8KeyedCache<GcpGke>? t_gke;
    [ThreadStatic] private static Utf8KeyedCache<string>? t_strings;

    public override FlowFormat Format => FlowFormat.GcpVpc;

    /// <summary>False for a JSON array (decoded whole, elements may span lines); true for JSON lines.</summary>
    public override bool IsLineOriented(ReadOnlySpan<byte> head)
    {
        if (head.StartsWith("\uFEFF"u8)) head = head[3..];
        foreach (byte b in head)
        {
            if (b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') continue;
            return b != (byte)'[';
        }
        return true;
    }

    public override void Decode(ReadOnlySpan<byte> payload, ref DecodeCursor cursor, IFlowSink sink) =>
        JsonObjectScanner.Scan(payload, ref cursor, sink, Name, this, jsonLines: IsLineOriented(payload));

    bool IJsonObjectDecoder.DecodeObject(ref Utf8JsonReader reader, ref JsonScanContext context)
    {
        int start = context.Absolute(reader.TokenStartIndex);
        var entry = new Entry();
        ReadEntry(ref reader, ref entry, context.ReaderBytes);
        int end = context.Absolute(reader.BytesConsumed);
        if (!entry.SawPayload && !entry.SawConnection) return false;

        var raw = context.Payload[start..end];
        if (entry.Error is not null)
        {
            context.Reject(start, entry.Error, raw);
            return true;
        }
        if (!entry.SawConnection)
        {
            context.Reject(start, "entry has no jsonPayload.connection (not a VPC flow or firewall log)", raw);
            return true;
        }
        if (!entry.HasSrcIp || !entry.HasDstIp)
        {
            context.Reject(start, entry.HasSrcIp ? "connection.dest_ip is missing" : "connection.src_ip is missing", raw);
            return true;
        }
        if (!entry.HasProtocol)
        {
            context.Reject(start, "connection.protocol is missing", raw);
            return true;
        }

        DateTime? first = entry.HasStart ? entry.Start : entry.HasEnd ? entry.End : entry.HasTimestamp ? entry.Timestamp : null;
        DateTime? last = entry.HasEnd ? entry.End : first;
        if (first is null || last is null)
        {
            context.Reject(start, "entry has no start_time, end_time or timestamp", raw);
            return true;
        }

        var flow = new FlowRecord
        {
            Start = first.Value,
            End = last.Value,
            SrcIp = entry.SrcIp,
            DstIp = entry.DstIp,
            SrcPort = entry.SrcPort,
            DstPort = entry.DstPort,
            Protocol = entry.Protocol,
            Bytes = entry.Bytes,
            Packets = entry.Packets,
            // Sampled flow logs carry only traffic the VPC passed; firewall logs say what the rule did.
            Verdict = entry.IsFirewallLog ? entry.Disposition : Verdict.Allowed,
            // Google logs each direction of a connection as its own record; which side opened it is decided later.
            Direction = DirectionHint.Unknown,
            PolicyName = entry.RuleReference,
        };

        var srcInstance = entry.SrcInstance;
        var dstInstance = entry.DstInstance;
        if (entry.IsFirewallLog && entry.Instance is not null)
        {
            // Firewall logs name the VM the rule applied to and the remote VM; the rule direction says which is which.
            if (entry.RuleDirection == RuleDirection.Egress)
            {
                srcInstance ??= entry.Instance;
                dstInstance ??= entry.RemoteInstance;
            }
            else if (entry.RuleDirection == RuleDirection.Ingress)
            {
                dstInstance ??= entry.Instance;
                srcInstance ??= entry.RemoteInstance;
            }
        }
        flow.SrcIdentity = IdentityOf(entry.SrcGke, srcInstance);
        flow.DstIdentity = IdentityOf(entry.DstGke, dstInstance);
        flow.Reporter = entry.Reporter switch
        {
            ReporterSide.Src => ReporterName(ReporterSide.Src, entry.SrcGke, srcInstance),
            ReporterSide.Dest => ReporterName(ReporterSide.Dest, entry.DstGke, dstInstance),
            ReporterSide.SrcGateway => "SRC_GATEWAY",
            ReporterSide.DestGateway => "DEST_GATEWAY",
            _ => entry.IsFirewallLog ? entry.Instance?.VmName : null,
        };
        context.Sink.Accept(in flow);
        return true;
    }

    /// <summary>
    /// GKE pod first (workload identity), then a Service VIP, then the node VM of a GKE cluster, then a plain VM
    /// (namespace = project, workload = VM name, kind "VM"); null when Google attached no metadata.
    /// </summary>
    private static WorkloadIdentity? IdentityOf(GcpGke? gke, GcpInstance? instance)
    {
        if (gke?.Pod is { } pod) return pod;
        if (gke?.Service is { } service) return service;
        if (gke is not null && instance?.Node is { } node) return node;
        return instance?.Vm;
    }

    private static string ReporterName(ReporterSide side, GcpGke? gke, GcpInstance? instance)
    {
        if (instance?.VmName is not null) return side == ReporterSide.Src ? instance.SrcReporter : instance.DestReporter;
        if (gke?.PodName is not null) return side == ReporterSide.Src ? gke.SrcReporter : gke.DestReporter;
        return side == ReporterSide.Src ? "SRC" : "DEST";
    }

    // ---- parsing -------------------------------------------------------------------------------------------

    private static void ReadEntry(ref Utf8JsonReader reader, ref Entry entry, ReadOnlySpan<byte> json)
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
                        if (!TryReadPayloadField(ref reader, ref entry, json))
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
            else if (!TryReadPayloadField(ref reader, ref entry, json))
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    /// <summary>Reads one jsonPayload property if it is one this decoder uses; false (nothing read) otherwise.</summary>
    private static bool TryReadPayloadField(ref Utf8JsonReader reader, ref Entry entry, ReadOnlySpan<byte> json)
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
        else if (reader.ValueTextEquals("src_instance"u8)) { reader.Read(); entry.SrcInstance = ReadInstance(ref reader, json); }
        else if (reader.ValueTextEquals("dest_instance"u8)) { reader.Read(); entry.DstInstance = ReadInstance(ref reader, json); }
        else if (reader.ValueTextEquals("src_gke_details"u8)) { reader.Read(); entry.SrcGke = ReadGke(ref reader, json); }
        else if (reader.ValueTextEquals("dest_gke_details"u8)) { reader.Read(); entry.DstGke = ReadGke(ref reader, json); }
        else if (reader.ValueTextEquals("instance"u8)) { reader.Read(); entry.Instance = ReadInstance(ref reader, json); }
        else if (reader.ValueTextEquals("remote_instance"u8)) { reader.Read(); entry.RemoteInstance = ReadInstance(ref reader, json); }
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
            ReadRuleDetails(ref reader, ref entry);
        }
        else
        {
            return false;
        }
        return true;
    }

    private static void ReadConnection(ref Utf8JsonReader reader, ref Entry entry)
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

    private static bool ReadIp(ref Utf8JsonReader reader, ref Entry entry, string field, out PackedIp ip)
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

    private static ushort ReadPort(ref Utf8JsonReader reader, ref Entry entry, string field)
    {
        var read = JsonValues.ReadUInt64(ref reader, out ulong port);
        if (read == FieldRead.Ok && port <= ushort.MaxValue) return (ushort)port;
        if (read != FieldRead.Missing) entry.Fail(field + " " + JsonValues.Describe(ref reader) + " is not a port (0-65535)");
        reader.Skip();
        return 0;
    }

    private static void ReadTime(ref Utf8JsonReader reader, ref Entry entry, string field, out DateTime time, out bool present)
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

    private static void ReadRuleDetails(ref Utf8JsonReader reader, ref Entry entry)
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
                if (reader.TokenType == JsonTokenType.String) entry.RuleReference = InternString(ref reader);
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

    /// <summary>A string value, decoded once per distinct spelling on this thread (rule references repeat).</summary>
    private static string InternString(ref Utf8JsonReader reader)
    {
        var raw = reader.ValueSpan; // as written (escapes included): equal bytes always decode to equal text
        var cache = t_strings ??= new Utf8KeyedCache<string>(4096);
        int hash = Utf8KeyedCache<string>.Hash(raw);
        if (cache.TryGet(raw, hash, out var value)) return value;
        value = reader.GetString()!;
        cache.Add(raw, hash, value);
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

    private static GcpInstance? ReadInstance(ref Utf8JsonReader reader, ReadOnlySpan<byte> json)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return null;
        }
        var raw = RawObject(ref reader, json, out var parser);
        var cache = t_instances ??= new Utf8KeyedCache<GcpInstance>(8192);
        int hash = Utf8KeyedCache<GcpInstance>.Hash(raw);
        if (cache.TryGet(raw, hash, out var known)) return known;

        string? project = null, vm = null;
        while (parser.Read() && parser.TokenType != JsonTokenType.EndObject)
        {
            if (parser.ValueTextEquals("project_id"u8)) { parser.Read(); project = JsonValues.GetStringOrNull(ref parser); }
            else if (parser.ValueTextEquals("vm_name"u8)) { parser.Read(); vm = JsonValues.GetStringOrNull(ref parser); }
            else parser.Read();
            parser.Skip();
        }
        var instance = new GcpInstance(project, vm);
        cache.Add(raw, hash, instance);
        return instance;
    }

    private static GcpGke? ReadGke(ref Utf8JsonReader reader, ReadOnlySpan<byte> json)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return null;
        }
        var raw = RawObject(ref reader, json, out var parser);
        var cache = t_gke ??= new Utf8KeyedCache<GcpGke>(8192);
        int hash = Utf8KeyedCache<GcpGke>.Hash(raw);
        if (cache.TryGet(raw, hash, out var known)) return known;

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
        cache.Add(raw, hash, gke);
        return gke;
    }

    /// <summary>Google's workload types (DEPLOYMENT, STATEFUL_SET ...) in Kubernetes' spelling.</summary>
    internal static string? KubernetesKind(string? workloadType)
    {
        if (string.IsNullOrEmpty(workloadType)) return null;
        return workloadType.Replace("_", "", StringComparison.Ordinal).ToUpperInvariant() switch
        {
            "DEPLOYMENT" => "Deployment",
            "STATEFULSET" => "StatefulSet",
            "DAEMONSET" => "DaemonSet",
            "REPLICASET" => "ReplicaSet",
            "JOB" => "Job",
            "CRONJOB" => "CronJob",
            "POD" => "Pod",
            "REPLICATIONCONTROLLER" => "ReplicationController",
            _ => workloadType,
        };
    }

    private enum ReporterSide : byte { None, Src, Dest, SrcGateway, DestGateway }

    private enum RuleDirection : byte { None, Ingress, Egress }

    /// <summary>What one entry said, gathered in one pass (fields come in any order).</summary>
    private struct Entry
    {
        public bool SawPayload, SawConnection, HasSrcIp, HasDstIp, HasProtocol, HasStart, HasEnd, HasTimestamp;
        public PackedIp SrcIp, DstIp;
        public ushort SrcPort, DstPort;
        public byte Protocol;
        public ulong Bytes, Packets;
        public DateTime Start, End, Timestamp;
        public ReporterSide Reporter;
        public GcpInstance? SrcInstance, DstInstance, Instance, RemoteInstance;
        public GcpGke? SrcGke, DstGke;
        public bool IsFirewallLog;
        public Verdict Disposition;
        public string? RuleReference;
        public RuleDirection RuleDirection;
        public string? Error;

        public void Fail(string reason) => Error ??= reason;
    }

    /// <summary>A VM from InstanceDetails, with everything derived from it computed once.</summary>
    private sealed class GcpInstance
    {
        public GcpInstance(string? project, string? vmName)
        {
            VmName = string.IsNullOrEmpty(vmName) ? null : vmName;
            if (VmName is null) return;
            Vm = new WorkloadIdentity(EndpointKind.Pod, project, VmName, "VM", VmName);
            Node = new WorkloadIdentity(EndpointKind.Node, null, VmName, "Node", VmName);
            SrcReporter = "SRC:" + VmName;
            DestReporter = "DEST:" + VmName;
        }

        public string? VmName { get; }
        public WorkloadIdentity? Vm { get; }
        public WorkloadIdentity? Node { get; }
        public string SrcReporter { get; } = "SRC";
        public string DestReporter { get; } = "DEST";
    }

    /// <summary>A pod (or Service) from GkeDetails, with its identity built once.</summary>
    private sealed class GcpGke
    {
        public GcpGke(string? cluster, string? podName, string? podNamespace, string? workload, string? workloadType,
            string? serviceName, string? serviceNamespace)
        {
            PodName = string.IsNullOrEmpty(podName) ? null : podName;
            if (PodName is not null || !string.IsNullOrEmpty(workload))
            {
                string? kind = KubernetesKind(workloadType);
                var source = WorkloadSource.Reported;
                if (string.IsNullOrEmpty(workload))
                {
                    // No pod_workload: a bare pod, unless the pod name shows its controller (GKE records carry no labels).
                    var owner = PodOwnerInference.Infer(PodName!, []);
                    (workload, kind, source) = (owner.Workload, owner.Kind, WorkloadSource.Derived);
                }
                Pod = new WorkloadIdentity(EndpointKind.Pod, podNamespace, workload, kind, PodName) { WorkloadSource = source };
                string who = podNamespace is null ? PodName ?? workload! : podNamespace + "/" + (PodName ?? workload);
                SrcReporter = "SRC:" + who;
                DestReporter = "DEST:" + who;
            }
            if (!string.IsNullOrEmpty(serviceName))
                Service = new WorkloadIdentity(EndpointKind.Service, serviceNamespace, serviceName, "Service");
            Cluster = cluster;
        }

        public string? Cluster { get; }
        public string? PodName { get; }
        public WorkloadIdentity? Pod { get; }
        public WorkloadIdentity? Service { get; }
        public string SrcReporter { get; } = "SRC";
        public string DestReporter { get; } = "DEST";
    }
}
