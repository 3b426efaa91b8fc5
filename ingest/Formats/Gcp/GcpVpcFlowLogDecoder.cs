using System.Text.Json;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats.Internal;

namespace FlowPolicy.Ingest.Formats.Gcp;

/// <summary>
/// Google Cloud VPC Flow Logs (and Firewall Rules Logging) as Cloud Logging LogEntry JSON: one entry per line
/// (a Logging sink to Cloud Storage, Pub/Sub messages) or a JSON array of entries (`gcloud logging read
/// --format=json`). Field names follow Google's "VPC Flow Logs record format"; docs/formats.md has the
/// mapping and the decisions (identities, reporter, verdict, direction).
/// </summary>
/// <remarks>
/// This file turns a read entry into a flow (identities, reporter, verdict); <see cref="GcpLogEntryReader"/> reads the
/// JSON. Stateless: the metadata caches are the source's (<see cref="GcpSourceState"/> in the cursor).
/// </remarks>
internal sealed class GcpVpcFlowLogDecoder : FlowDecoder
{
    private const string Name = "gcp";

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

    internal override void Decode(ReadOnlySpan<byte> payload, ref DecodeCursor cursor, IFlowSink sink) =>
        JsonObjectScanner.Scan(payload, ref cursor, sink, Name, new EntryDecoder(DecodeStates.Of<GcpSourceState>(ref cursor)), jsonLines: IsLineOriented(payload));

    /// <summary>Decodes the entries of one source with its caches (a struct: the scanner's generic call does not box it).</summary>
    private readonly struct EntryDecoder(GcpSourceState caches) : IJsonObjectDecoder
    {
        public bool DecodeObject(ref Utf8JsonReader reader, ref JsonScanContext context) => DecodeEntry(ref reader, ref context, caches);
    }

    private static bool DecodeEntry(ref Utf8JsonReader reader, ref JsonScanContext context, GcpSourceState caches)
    {
        int start = context.Absolute(reader.TokenStartIndex);
        var entry = new GcpLogEntry();
        GcpLogEntryReader.Read(ref reader, ref entry, context.ReaderBytes, caches);
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
}
