using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats.Internal;

namespace FlowPolicy.Ingest.Formats.Gcp;

internal enum ReporterSide : byte { None, Src, Dest, SrcGateway, DestGateway }

internal enum RuleDirection : byte { None, Ingress, Egress }

/// <summary>What one entry said, gathered in one pass (fields come in any order).</summary>
internal struct GcpLogEntry
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

/// <summary>
/// One source's memory of the VM and GKE metadata objects (and rule references) it has decoded, kept in
/// <see cref="DecodeCursor.State"/> so the decoder itself holds no state. Keyed by the raw bytes as written, so a
/// source decodes the same with or without it; a Kafka lane carries it from message to message.
/// </summary>
internal sealed class GcpSourceState : IReusableDecodeState
{
    public readonly Utf8KeyedCache<GcpInstance> Instances = new(maxSlots: 8192, maxKeyLength: 4096);
    public readonly Utf8KeyedCache<GcpGke> Gke = new(maxSlots: 8192, maxKeyLength: 4096);
    public readonly Utf8KeyedCache<string> Strings = new(maxSlots: 4096, maxKeyLength: 4096);

    /// <summary>Only caches, keyed by raw bytes: all of it carries over.</summary>
    public void PrepareForNextSource()
    {
    }
}

/// <summary>A VM from InstanceDetails, with everything derived from it computed once.</summary>
internal sealed class GcpInstance
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
internal sealed class GcpGke
{
    public GcpGke(string? cluster, string? podName, string? podNamespace, string? workload, string? workloadType,
        string? serviceName, string? serviceNamespace)
    {
        PodName = string.IsNullOrEmpty(podName) ? null : podName;
        if (PodName is not null || !string.IsNullOrEmpty(workload))
        {
            string? kind = GcpVpcFlowLogDecoder.KubernetesKind(workloadType);
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
