using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json;
using FlowPolicy.Tests.Evaluation.Scenarios;

namespace FlowPolicy.Tests.Evaluation.Traffic;

/// <summary>The input formats the evaluation feeds to `suggest`, each with the inventory a user of that source has.</summary>
internal enum EvaluationFormat
{
    /// <summary>Canonical flow JSON from a node agent (identities on pods), plus lease lines and `kubectl get nodes -o json`.</summary>
    Canonical,
    /// <summary>Hubble `GetFlowsResponse` lines (identities, reserved identities for the rest), plus the nodes.</summary>
    Hubble,
    /// <summary>AWS VPC Flow Logs (gzip, v3 custom format with a header): addresses only, plus lease lines and the nodes.</summary>
    AwsVpc,
    /// <summary>
    /// GoFlow2 JSON of NetFlow v9 from the leaf switch of each node (a routed pod network, as with Calico BGP): addresses
    /// only, TCP flags ORed over the flow, plus `kubectl get pods -A -o json` (every pod of the window, owner references
    /// included, as periodic snapshots merged give it) and the nodes.
    /// </summary>
    GoFlow2,
}

/// <summary>What <see cref="FlowLogWriter"/> wrote.</summary>
internal sealed record WrittenFlows(IReadOnlyList<string> FlowFiles, IReadOnlyList<string> InventoryFiles, long Records);

/// <summary>
/// Writes a scenario's connections in one input format, in the shapes the real sources produce, with duplicate
/// reporting as real clusters have it: every connection is reported by the agent (or ENI) on the client's node and by
/// the one on the server's node when they differ, and each report has the request and, when answered, the reply.
/// </summary>
internal sealed class FlowLogWriter
{
    private const string VpcHeader = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr";
    private static readonly JsonWriterOptions Compact = new() { Indented = false };
    private static readonly string[] CiliumFilteredLabelPrefixes =
        ["pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/", "job-name", "controller-uid", "batch.kubernetes.io/"];

    private readonly Scenario _scenario;
    private readonly ClusterPods _pods;
    private readonly Random _random;

    public FlowLogWriter(Scenario scenario, ClusterPods pods)
    {
        _scenario = scenario;
        _pods = pods;
        _random = new Random(scenario.Seed ^ 0x5eed);
    }

    public WrittenFlows Write(EvaluationFormat format, ClusterTraffic traffic, string directory)
    {
        Directory.CreateDirectory(directory);
        string nodes = Path.Combine(directory, "nodes.json");
        WriteNodes(nodes);
        switch (format)
        {
            case EvaluationFormat.Canonical:
            {
                string flows = Path.Combine(directory, "agent-flows.jsonl"), leases = Path.Combine(directory, "leases.jsonl");
                long records = WriteCanonical(traffic, flows);
                WriteLeases(leases);
                return new WrittenFlows([flows], [leases, nodes], records);
            }
            case EvaluationFormat.Hubble:
            {
                string flows = Path.Combine(directory, "hubble-flows.json");
                return new WrittenFlows([flows], [nodes], WriteHubble(traffic, flows));
            }
            case EvaluationFormat.GoFlow2:
            {
                string flows = Path.Combine(directory, "goflow2.json"), podList = Path.Combine(directory, "pods.json");
                long records = WriteGoFlow2(traffic, flows);
                WritePods(podList);
                return new WrittenFlows([flows], [podList, nodes], records);
            }
            default:
            {
                string flows = Path.Combine(directory, "vpc-flowlogs.log.gz"), leases = Path.Combine(directory, "leases.jsonl");
                long records = WriteVpc(traffic, flows);
                WriteLeases(leases);
                return new WrittenFlows([flows], [leases, nodes], records);
            }
        }
    }

    /// <summary>The nodes whose agent or ENI sees the connection: the client's and the server's, once each.</summary>
    private static IEnumerable<string> Observers(in TrafficConnection c)
    {
        var observers = new List<string>(2);
        if (c.Client.Node is { } a && c.Client.Role is PeerRole.Pod) observers.Add(a);
        if (c.Server.Node is { } b && !observers.Contains(b)) observers.Add(b);
        return observers;
    }

    /// <summary>FNV-1a, non-negative: the same identity numbers, ENI names and uids on every run (string hashes are randomised per process).</summary>
    private static int StableHash(string text)
    {
        uint h = 2166136261;
        foreach (char c in text) h = (h ^ c) * 16777619;
        return (int)(h & 0x7fffffff);
    }

    private static string Rfc3339(DateTime utc) => utc.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    private static string ProtocolName(Protocol p) => p == Protocol.Udp ? "UDP" : "TCP";

    // ---------------------------------------------------------------- canonical

    private long WriteCanonical(ClusterTraffic traffic, string path)
    {
        using var file = File.Create(path);
        long records = 0;
        foreach (var c in traffic.Connections)
            foreach (var node in Observers(c))
            {
                bool tcp = c.Protocol == Protocol.Tcp;
                int requestFlags = c.Answer == Answer.Answered ? 0x1b : 0x02;
                CanonicalRecord(file, c.Start, c.Client, c.ClientPort, c.Server, c.ServerPort, c.Protocol, c.RequestBytes, "request", tcp ? requestFlags : null, node);
                records++;
                if (c.Answer == Answer.Unanswered) continue;
                CanonicalRecord(file, c.Start.AddMilliseconds(3), c.Server, c.ServerPort, c.Client, c.ClientPort, c.Protocol, c.ResponseBytes, "reply",
                    tcp ? (c.Answer == Answer.Refused ? 0x14 : 0x1b) : null, node);
                records++;
            }
        return records;
    }

    private void CanonicalRecord(Stream output, DateTime at, TrafficPeer src, ushort srcPort, TrafficPeer dst, ushort dstPort, Protocol protocol, ulong bytes,
        string direction, int? tcpFlags, string reporter)
    {
        using (var json = new Utf8JsonWriter(output, Compact))
        {
            json.WriteStartObject();
            json.WriteString("start", Rfc3339(at));
            json.WriteString("end", Rfc3339(at.AddSeconds(1)));
            json.WriteString("src_ip", src.Ip.ToString());
            json.WriteNumber("src_port", srcPort);
            json.WriteString("dst_ip", dst.Ip.ToString());
            json.WriteNumber("dst_port", dstPort);
            json.WriteString("proto", ProtocolName(protocol));
            json.WriteNumber("bytes", bytes);
            json.WriteNumber("packets", 1 + bytes / 1400);
            json.WriteString("verdict", "allowed");
            json.WriteString("direction", direction);
            if (tcpFlags is { } flags) json.WriteNumber("tcp_flags", flags);
            json.WriteString("reporter", reporter);
            CanonicalIdentity(json, "src", src);
            CanonicalIdentity(json, "dst", dst);
            json.WriteEndObject();
        }
        output.WriteByte((byte)'\n');
    }

    private static void CanonicalIdentity(Utf8JsonWriter json, string name, TrafficPeer peer)
    {
        if (peer.Pod is { } pod)
        {
            json.WriteStartObject(name);
            json.WriteString("kind", "pod");
            json.WriteString("namespace", pod.Workload.Namespace);
            json.WriteString("workload", WorkloadName(pod));
            json.WriteString("workload_kind", WorkloadKindName(pod));
            json.WriteString("pod", pod.Name);
            json.WriteStartObject("labels");
            foreach (var (key, value) in pod.Labels) json.WriteString(key, value);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        else if (peer.Role is PeerRole.Node or PeerRole.ApiServer && peer.Node is { } node)
        {
            json.WriteStartObject(name);
            json.WriteString("kind", "node");
            json.WriteString("workload", node);
            json.WriteString("workload_kind", "Node");
            json.WriteEndObject();
        }
    }

    /// <summary>The workload as an agent that reads the owner chain names it: the pod itself when it has no controller.</summary>
    private static string WorkloadName(SimPod pod) => pod.Workload.Kind == ControllerKind.BarePod ? pod.Name : pod.Workload.Name;

    private static string WorkloadKindName(SimPod pod) => pod.Workload.Kind switch
    {
        ControllerKind.BarePod => "Pod",
        ControllerKind.Deployment => "Deployment",
        ControllerKind.StatefulSet => "StatefulSet",
        ControllerKind.DaemonSet => "DaemonSet",
        ControllerKind.CronJob => "CronJob",
        _ => "Job",
    };

    // ---------------------------------------------------------------- Hubble

    private long WriteHubble(ClusterTraffic traffic, string path)
    {
        using var file = File.Create(path);
        long records = 0;
        foreach (var c in traffic.Connections)
        {
            bool first = true;
            foreach (var node in Observers(c))
            {
                // The agent on the client's node sees the packet leave (EGRESS), the one on the server's node sees it arrive.
                string direction = c.Client.Node == node && c.Client.Role == PeerRole.Pod ? "EGRESS" : "INGRESS";
                HubbleFlow(file, c, reply: false, node, direction);
                records++;
                if (first && c.Answer != Answer.Unanswered)
                {
                    HubbleFlow(file, c, reply: true, node, direction);
                    records++;
                }
                first = false;
            }
        }
        return records;
    }

    private void HubbleFlow(Stream output, in TrafficConnection c, bool reply, string node, string direction)
    {
        var time = Rfc3339(c.Start.AddMilliseconds(reply ? 2 + _random.Next(30) : 0));
        var src = reply ? c.Server : c.Client;
        var dst = reply ? c.Client : c.Server;
        using (var json = new Utf8JsonWriter(output, Compact))
        {
            json.WriteStartObject();
            json.WriteStartObject("flow");
            json.WriteString("time", time);
            json.WriteString("verdict", "FORWARDED");
            json.WriteStartObject("IP");
            json.WriteString("source", src.Ip.ToString());
            json.WriteString("destination", dst.Ip.ToString());
            json.WriteString("ipVersion", "IPv4");
            json.WriteEndObject();
            json.WriteStartObject("l4");
            json.WriteStartObject(c.Protocol == Protocol.Udp ? "UDP" : "TCP");
            json.WriteNumber("source_port", reply ? c.ServerPort : c.ClientPort);
            json.WriteNumber("destination_port", reply ? c.ClientPort : c.ServerPort);
            if (c.Protocol == Protocol.Tcp)
            {
                json.WriteStartObject("flags");
                if (reply && c.Answer == Answer.Refused)
                {
                    json.WriteBoolean("RST", true);
                    json.WriteBoolean("ACK", true);
                }
                else
                {
                    json.WriteBoolean("SYN", true);
                    if (reply) json.WriteBoolean("ACK", true);
                }
                json.WriteEndObject();
            }
            json.WriteEndObject();
            json.WriteEndObject();
            HubbleEndpoint(json, "source", src, node);
            HubbleEndpoint(json, "destination", dst, node);
            json.WriteString("Type", "L3_L4");
            json.WriteString("node_name", node);
            json.WriteBoolean("is_reply", reply);
            json.WriteString("traffic_direction", direction);
            json.WriteString("trace_observation_point", direction == "EGRESS" ? "TO_STACK" : "TO_ENDPOINT");
            json.WriteEndObject();
            json.WriteString("node_name", node);
            json.WriteString("time", time);
            json.WriteEndObject();
        }
        output.WriteByte((byte)'\n');
    }

    /// <summary>
    /// A Hubble endpoint: pods with their identity labels (Cilium filters per-pod labels out), namespace labels and
    /// service account as Cilium's `io.cilium.k8s.*` labels, and `workloads` only when the reporting agent runs on the
    /// pod's node and the pod has a controller; everything else as a reserved identity.
    /// </summary>
    private void HubbleEndpoint(Utf8JsonWriter json, string name, TrafficPeer peer, string reportingNode)
    {
        json.WriteStartObject(name);
        if (peer.Pod is not { } pod)
        {
            (int identity, string[] labels) = peer.Role switch
            {
                PeerRole.Node when peer.Node == reportingNode => (1, new[] { "reserved:host" }),
                PeerRole.Node => (6, new[] { "reserved:remote-node" }),
                PeerRole.ApiServer => (7, new[] { "reserved:kube-apiserver", "reserved:remote-node" }),
                _ => (2, new[] { "reserved:world" }),
            };
            json.WriteNumber("identity", identity);
            json.WriteStartArray("labels");
            foreach (var label in labels) json.WriteStringValue(label);
            json.WriteEndArray();
            json.WriteEndObject();
            return;
        }
        var labelsOut = new List<string>();
        foreach (var (key, value) in pod.Labels.OrderBy(l => l.Key, StringComparer.Ordinal))
            if (!CiliumFilteredLabelPrefixes.Any(p => key.StartsWith(p, StringComparison.Ordinal))) labelsOut.Add($"k8s:{key}={value}");
        foreach (var (key, value) in _scenario.Namespaces[pod.Workload.Namespace])
            labelsOut.Add($"k8s:io.cilium.k8s.namespace.labels.{key}={value}");
        labelsOut.Add("k8s:io.cilium.k8s.policy.cluster=default");
        labelsOut.Add($"k8s:io.cilium.k8s.policy.serviceaccount={pod.Workload.ServiceAccount}");
        labelsOut.Add($"k8s:io.kubernetes.pod.namespace={pod.Workload.Namespace}");
        json.WriteNumber("ID", 1000 + (StableHash(pod.Name) % 3000));
        json.WriteNumber("identity", 10000 + (StableHash(string.Join(",", labelsOut)) % 50000));
        json.WriteString("namespace", pod.Workload.Namespace);
        json.WriteStartArray("labels");
        foreach (var label in labelsOut) json.WriteStringValue(label);
        json.WriteEndArray();
        json.WriteString("pod_name", pod.Name);
        if (pod.Node == reportingNode && pod.Workload.Kind != ControllerKind.BarePod)
        {
            json.WriteStartArray("workloads");
            json.WriteStartObject();
            json.WriteString("name", pod.Workload.Name);
            json.WriteString("kind", WorkloadKindName(pod));
            json.WriteEndObject();
            json.WriteEndArray();
        }
        json.WriteEndObject();
    }

    // ---------------------------------------------------------------- AWS VPC

    private long WriteVpc(ClusterTraffic traffic, string path)
    {
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        using var text = new StreamWriter(gzip, new UTF8Encoding(false)) { NewLine = "\n" };
        text.WriteLine(VpcHeader);
        long records = 0;
        foreach (var c in traffic.Connections)
            foreach (var node in Observers(c))
            {
                string eni = "eni-0" + (StableHash(node) % 0x10000000).ToString("x7", CultureInfo.InvariantCulture);
                long start = (long)(c.Start - DateTime.UnixEpoch).TotalSeconds;
                long end = start + 60;
                bool tcp = c.Protocol == Protocol.Tcp;
                string request = VpcLine(eni, c.Client.Ip, c.Server.Ip, c.ClientPort, c.ServerPort, c.Protocol, 1UL + c.RequestBytes / 1400, c.RequestBytes,
                    start, end, tcp ? (c.Answer == Answer.Answered ? 3 : 2) : 0, node);
                string? reply = c.Answer == Answer.Unanswered ? null
                    : VpcLine(eni, c.Server.Ip, c.Client.Ip, c.ServerPort, c.ClientPort, c.Protocol, 1UL + c.ResponseBytes / 1400, c.ResponseBytes, start, end,
                        tcp ? (c.Answer == Answer.Refused ? 4 : 19) : 0, node);
                // AWS writes the two directions in no particular order.
                if (reply is not null && _random.NextDouble() < 0.3)
                {
                    text.WriteLine(reply);
                    text.WriteLine(request);
                }
                else
                {
                    text.WriteLine(request);
                    if (reply is not null) text.WriteLine(reply);
                }
                records += reply is null ? 1 : 2;
            }
        return records;
    }

    private static string VpcLine(string eni, IPAddress src, IPAddress dst, ushort srcPort, ushort dstPort, Protocol protocol, ulong packets, ulong bytes,
        long start, long end, int tcpFlags, string node) =>
        string.Create(CultureInfo.InvariantCulture,
            $"3 123456789012 {eni} {src} {dst} {srcPort} {dstPort} {(int)protocol} {packets} {bytes} {start} {end} ACCEPT OK vpc-0abc subnet-0abc i-{node} {tcpFlags} IPv4 {src} {dst}");

    // ---------------------------------------------------------------- GoFlow2

    private long WriteGoFlow2(ClusterTraffic traffic, string path)
    {
        using var file = File.Create(path);
        long records = 0;
        foreach (var c in traffic.Connections)
            foreach (var node in Observers(c))
            {
                // Each node's leaf switch exports what crosses it; the exporter is the switch, named after the node's rack.
                string sampler = "10.0.255." + (1 + _scenario.Nodes.Select(n => n.Name).ToList().IndexOf(node));
                bool tcp = c.Protocol == Protocol.Tcp;
                // NetFlow ORs the flags of every packet: both directions of an exchange show SYN and ACK.
                GoFlow2Record(file, c.Start, c.Client.Ip, c.ClientPort, c.Server.Ip, c.ServerPort, c.Protocol, c.RequestBytes,
                    tcp ? (c.Answer == Answer.Unanswered ? 0x02 : c.Answer == Answer.Refused ? 0x02 : 0x1b) : 0, sampler);
                records++;
                if (c.Answer == Answer.Unanswered) continue;
                GoFlow2Record(file, c.Start.AddMilliseconds(5), c.Server.Ip, c.ServerPort, c.Client.Ip, c.ClientPort, c.Protocol, c.ResponseBytes,
                    tcp ? (c.Answer == Answer.Refused ? 0x14 : 0x1b) : 0, sampler);
                records++;
            }
        return records;
    }

    private static void GoFlow2Record(Stream output, DateTime at, IPAddress src, ushort srcPort, IPAddress dst, ushort dstPort, Protocol protocol, ulong bytes,
        int tcpFlags, string sampler)
    {
        long ns = (at - DateTime.UnixEpoch).Ticks * 100;
        using (var json = new Utf8JsonWriter(output, Compact))
        {
            json.WriteStartObject();
            json.WriteString("type", "NETFLOW_V9");
            json.WriteNumber("time_received_ns", ns + 30_000_000_000);
            json.WriteNumber("sequence_num", 1);
            json.WriteNumber("sampling_rate", 0);
            json.WriteString("sampler_address", sampler);
            json.WriteNumber("time_flow_start_ns", ns);
            json.WriteNumber("time_flow_end_ns", ns + 1_000_000_000);
            json.WriteNumber("bytes", bytes);
            json.WriteNumber("packets", 1 + bytes / 1400);
            json.WriteString("src_addr", src.ToString());
            json.WriteString("dst_addr", dst.ToString());
            json.WriteString("etype", "IPv4");
            json.WriteString("proto", ProtocolName(protocol));
            json.WriteNumber("src_port", srcPort);
            json.WriteNumber("dst_port", dstPort);
            json.WriteNumber("in_if", 1);
            json.WriteNumber("out_if", 2);
            json.WriteNumber("tcp_flags", tcpFlags);
            json.WriteNumber("forwarding_status", 64);
            json.WriteEndObject();
        }
        output.WriteByte((byte)'\n');
    }

    // ---------------------------------------------------------------- inventory

    /// <summary>Lease lines for every pod: what a pod watcher records (per-pod labels included, ports, the owner).</summary>
    private void WriteLeases(string path)
    {
        using var file = File.Create(path);
        foreach (var pod in _pods.Pods.OrderBy(p => p.From).ThenBy(p => p.Name, StringComparer.Ordinal))
        {
            using (var json = new Utf8JsonWriter(file, Compact))
            {
                json.WriteStartObject();
                json.WriteString("ip", pod.Ip.ToString());
                json.WriteString("from", Rfc3339(pod.From));
                if (pod.To is { } to) json.WriteString("to", Rfc3339(to));
                json.WriteString("kind", "pod");
                json.WriteString("namespace", pod.Workload.Namespace);
                json.WriteString("workload", WorkloadName(pod));
                json.WriteString("workload_kind", WorkloadKindName(pod));
                json.WriteString("name", pod.Name);
                json.WriteStartObject("labels");
                foreach (var (key, value) in pod.Labels) json.WriteString(key, value);
                json.WriteEndObject();
                json.WriteStartArray("ports");
                foreach (var port in pod.Workload.Ports)
                {
                    json.WriteStartObject();
                    json.WriteNumber("port", port.Port);
                    json.WriteString("protocol", ProtocolName(port.Protocol));
                    if (port.Name is { } portName) json.WriteString("name", portName);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                json.WriteEndObject();
            }
            file.WriteByte((byte)'\n');
        }
    }

    /// <summary>
    /// `kubectl get pods -A -o json` for every pod of the window: owner references (none for the bare pod), labels,
    /// container ports, the node, the address; ended pods with their deletionTimestamp, finished Job pods Succeeded with
    /// the time their container finished.
    /// </summary>
    private void WritePods(string path)
    {
        using var file = File.Create(path);
        using var json = new Utf8JsonWriter(file, Compact);
        json.WriteStartObject();
        json.WriteString("apiVersion", "v1");
        json.WriteString("kind", "List");
        json.WriteStartArray("items");
        foreach (var pod in _pods.Pods.OrderBy(p => p.From).ThenBy(p => p.Name, StringComparer.Ordinal))
        {
            bool job = pod.Workload.Kind is ControllerKind.CronJob or ControllerKind.Job;
            json.WriteStartObject();
            json.WriteString("apiVersion", "v1");
            json.WriteString("kind", "Pod");
            json.WriteStartObject("metadata");
            json.WriteString("name", pod.Name);
            json.WriteString("namespace", pod.Workload.Namespace);
            json.WriteString("uid", "10000000-0000-0000-0000-" + StableHash(pod.Name + pod.From.Ticks).ToString("D12", CultureInfo.InvariantCulture));
            json.WriteString("creationTimestamp", Rfc3339(pod.From));
            if (pod.To is { } to && !job) json.WriteString("deletionTimestamp", Rfc3339(to));
            json.WriteStartObject("labels");
            foreach (var (key, value) in pod.Labels) json.WriteString(key, value);
            json.WriteEndObject();
            if (pod.Owner is { } owner)
            {
                json.WriteStartArray("ownerReferences");
                json.WriteStartObject();
                json.WriteString("apiVersion", owner.Kind == "Job" ? "batch/v1" : "apps/v1");
                json.WriteString("kind", owner.Kind);
                json.WriteString("name", owner.Name);
                json.WriteString("uid", "00000000-0000-0000-0000-" + (StableHash(owner.Name) % 1_000_000_000_000).ToString("D12", CultureInfo.InvariantCulture));
                json.WriteBoolean("controller", true);
                json.WriteBoolean("blockOwnerDeletion", true);
                json.WriteEndObject();
                json.WriteEndArray();
            }
            json.WriteEndObject();
            json.WriteStartObject("spec");
            json.WriteString("nodeName", pod.Node);
            json.WriteString("serviceAccountName", pod.Workload.ServiceAccount);
            json.WriteStartArray("containers");
            json.WriteStartObject();
            json.WriteString("name", "main");
            json.WriteStartArray("ports");
            foreach (var port in pod.Workload.Ports)
            {
                json.WriteStartObject();
                json.WriteNumber("containerPort", port.Port);
                json.WriteString("protocol", ProtocolName(port.Protocol));
                if (port.Name is { } portName) json.WriteString("name", portName);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteStartObject("status");
            bool finished = job && pod.To is not null;
            json.WriteString("phase", finished ? "Succeeded" : "Running");
            json.WriteString("hostIP", _pods.NodeIp(pod.Node).ToString());
            json.WriteString("podIP", pod.Ip.ToString());
            json.WriteStartArray("podIPs");
            json.WriteStartObject();
            json.WriteString("ip", pod.Ip.ToString());
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteString("startTime", Rfc3339(pod.From));
            if (finished)
            {
                json.WriteStartArray("containerStatuses");
                json.WriteStartObject();
                json.WriteString("name", "main");
                json.WriteStartObject("state");
                json.WriteStartObject("terminated");
                json.WriteNumber("exitCode", 0);
                json.WriteString("reason", "Completed");
                json.WriteString("startedAt", Rfc3339(pod.From));
                json.WriteString("finishedAt", Rfc3339(pod.To!.Value));
                json.WriteEndObject();
                json.WriteEndObject();
                json.WriteEndObject();
                json.WriteEndArray();
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>`kubectl get nodes -o json`: the control-plane node carries the API server.</summary>
    private void WriteNodes(string path)
    {
        using var file = File.Create(path);
        using var json = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("apiVersion", "v1");
        json.WriteString("kind", "List");
        json.WriteStartArray("items");
        foreach (var (name, ip, controlPlane) in _scenario.Nodes)
        {
            json.WriteStartObject();
            json.WriteString("apiVersion", "v1");
            json.WriteString("kind", "Node");
            json.WriteStartObject("metadata");
            json.WriteString("name", name);
            json.WriteString("creationTimestamp", Rfc3339(_scenario.Start.AddDays(-60)));
            json.WriteStartObject("labels");
            json.WriteString("kubernetes.io/hostname", name);
            if (controlPlane) json.WriteString("node-role.kubernetes.io/control-plane", "");
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteStartObject("status");
            json.WriteStartArray("addresses");
            json.WriteStartObject();
            json.WriteString("type", "InternalIP");
            json.WriteString("address", ip.ToString());
            json.WriteEndObject();
            json.WriteStartObject();
            json.WriteString("type", "Hostname");
            json.WriteString("address", name);
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteStartObject("daemonEndpoints");
            json.WriteStartObject("kubeletEndpoint");
            json.WriteNumber("Port", 10250);
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }
}
