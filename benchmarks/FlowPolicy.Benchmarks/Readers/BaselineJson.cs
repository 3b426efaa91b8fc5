using System.Text.Json.Serialization;

namespace FlowPolicy.Benchmarks.Readers;

// The POCOs a user would write to read these formats with System.Text.Json: the fields the readers use, typed
// the obvious way (timestamps as DateTime, addresses as strings). Unmapped JSON members are skipped by STJ.

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(CanonicalFlow))]
[JsonSerializable(typeof(HubbleResponse))]
[JsonSerializable(typeof(GoFlow2Flow))]
[JsonSerializable(typeof(GcpLogEntry))]
internal sealed partial class BaselineJson : JsonSerializerContext;

internal sealed class CanonicalFlow
{
    public DateTime Start { get; set; }
    public DateTime? End { get; set; }
    public string? SrcIp { get; set; }
    public int SrcPort { get; set; }
    public string? DstIp { get; set; }
    public int DstPort { get; set; }
    public string? Proto { get; set; }
    public ulong Bytes { get; set; }
    public ulong Packets { get; set; }
    public string? Verdict { get; set; }
    public string? Direction { get; set; }
    public int? TcpFlags { get; set; }
    public string? Reporter { get; set; }
    public string? Policy { get; set; }
    public CanonicalIdentity? Src { get; set; }
    public CanonicalIdentity? Dst { get; set; }
}

internal sealed class CanonicalIdentity
{
    public string? Kind { get; set; }
    public string? Namespace { get; set; }
    public string? Workload { get; set; }
    public string? WorkloadKind { get; set; }
    public string? Pod { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
}

internal sealed class HubbleResponse
{
    public HubbleFlow? Flow { get; set; }
    public string? NodeName { get; set; }
    public DateTime? Time { get; set; }
}

internal sealed class HubbleFlow
{
    public DateTime? Time { get; set; }
    public string? Verdict { get; set; }
    [JsonPropertyName("IP")] public HubbleIp? Ip { get; set; }
    public HubbleL4? L4 { get; set; }
    public HubbleEndpoint? Source { get; set; }
    public HubbleEndpoint? Destination { get; set; }
    [JsonPropertyName("Type")] public string? Type { get; set; }
    public string? NodeName { get; set; }
    public string? TrafficDirection { get; set; }
    public bool? IsReply { get; set; }
    public List<HubblePolicy>? EgressAllowedBy { get; set; }
    public List<HubblePolicy>? IngressAllowedBy { get; set; }
}

internal sealed class HubbleIp
{
    public string? Source { get; set; }
    public string? Destination { get; set; }
    public string? IpVersion { get; set; }
}

internal sealed class HubbleL4
{
    [JsonPropertyName("TCP")] public HubblePorts? Tcp { get; set; }
    [JsonPropertyName("UDP")] public HubblePorts? Udp { get; set; }
}

internal sealed class HubblePorts
{
    public int SourcePort { get; set; }
    public int DestinationPort { get; set; }
    public Dictionary<string, bool>? Flags { get; set; }
}

internal sealed class HubbleEndpoint
{
    [JsonPropertyName("ID")] public long Id { get; set; }
    public long Identity { get; set; }
    public string? Namespace { get; set; }
    public List<string>? Labels { get; set; }
    public string? PodName { get; set; }
    public List<HubbleWorkload>? Workloads { get; set; }
}

internal sealed class HubbleWorkload
{
    public string? Name { get; set; }
    public string? Kind { get; set; }
}

internal sealed class HubblePolicy
{
    public string? Name { get; set; }
    public string? Namespace { get; set; }
    public string? Revision { get; set; }
}

internal sealed class GoFlow2Flow
{
    public string? Type { get; set; }
    public ulong TimeReceivedNs { get; set; }
    public ulong SequenceNum { get; set; }
    public ulong SamplingRate { get; set; }
    public string? SamplerAddress { get; set; }
    public ulong TimeFlowStartNs { get; set; }
    public ulong TimeFlowEndNs { get; set; }
    public ulong Bytes { get; set; }
    public ulong Packets { get; set; }
    public string? SrcAddr { get; set; }
    public string? DstAddr { get; set; }
    public string? Etype { get; set; }
    public string? Proto { get; set; }
    public int SrcPort { get; set; }
    public int DstPort { get; set; }
    public int InIf { get; set; }
    public int OutIf { get; set; }
    public int ForwardingStatus { get; set; }
    public int TcpFlags { get; set; }
}

internal sealed class GcpLogEntry
{
    [JsonPropertyName("insertId")] public string? InsertId { get; set; }
    [JsonPropertyName("jsonPayload")] public GcpFlowPayload? JsonPayload { get; set; }
    [JsonPropertyName("logName")] public string? LogName { get; set; }
    [JsonPropertyName("receiveTimestamp")] public DateTime? ReceiveTimestamp { get; set; }
    [JsonPropertyName("timestamp")] public DateTime? Timestamp { get; set; }
}

internal sealed class GcpFlowPayload
{
    public string? BytesSent { get; set; }
    public string? PacketsSent { get; set; }
    public GcpConnection? Connection { get; set; }
    public DateTime? StartTime { get; set; }
    public DateTime? EndTime { get; set; }
    public string? Reporter { get; set; }
    public GcpGkeDetails? SrcGkeDetails { get; set; }
    public GcpGkeDetails? DestGkeDetails { get; set; }
    public GcpInstance? SrcInstance { get; set; }
    public GcpInstance? DestInstance { get; set; }
}

internal sealed class GcpConnection
{
    public string? SrcIp { get; set; }
    public int SrcPort { get; set; }
    public string? DestIp { get; set; }
    public int DestPort { get; set; }
    public int Protocol { get; set; }
}

internal sealed class GcpGkeDetails
{
    public GcpCluster? Cluster { get; set; }
    public GcpPod? Pod { get; set; }
}

internal sealed class GcpCluster
{
    public string? ClusterLocation { get; set; }
    public string? ClusterName { get; set; }
}

internal sealed class GcpPod
{
    public string? PodName { get; set; }
    public string? PodNamespace { get; set; }
    public GcpWorkload? PodWorkload { get; set; }
}

internal sealed class GcpWorkload
{
    public string? WorkloadName { get; set; }
    public string? WorkloadType { get; set; }
}

internal sealed class GcpInstance
{
    public string? ProjectId { get; set; }
    public string? Region { get; set; }
    public string? VmName { get; set; }
    public string? Zone { get; set; }
}
