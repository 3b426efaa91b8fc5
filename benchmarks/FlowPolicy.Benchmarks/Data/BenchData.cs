using System.Globalization;
using System.Text;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Canonical;

namespace FlowPolicy.Benchmarks.Data;

/// <summary>
/// Deterministic, realistic input for every benchmark: a cluster of pods in a handful of namespaces talking to
/// each other and to a few external services, written in each reader's format. Same seed, same bytes, so runs
/// compare. Built once per benchmark class in GlobalSetup (never inside the measured code).
/// </summary>
internal static class BenchData
{
    /// <summary>Records per payload: every per-record number is the payload's time divided by this.</summary>
    public const int Records = 100_000;

    public static readonly DateTime Start = new(2026, 11, 1, 10, 0, 0, DateTimeKind.Utc);

    private static readonly string[] Namespaces = ["shop", "payments", "search", "identity", "platform", "observability", "kube-system", "data"];
    private static readonly string[] WorkloadNames = ["frontend", "cart", "checkout", "catalog", "recommend", "auth", "ledger", "gateway", "indexer", "worker", "redis", "postgres", "kafka", "prometheus", "coredns"];
    private static readonly string[] WorkloadKinds = ["Deployment", "Deployment", "Deployment", "StatefulSet", "DaemonSet"];
    private static readonly ushort[] ServerPorts = [8080, 443, 5432, 6379, 9092, 53, 9090, 50051, 3306, 8443];

    /// <summary>One pod: address and identity. 2,000 pods on 10.244.0.0/16, 60 workloads.</summary>
    internal sealed record Pod(PackedIp Ip, string IpText, WorkloadIdentity Identity, ushort Port, string Node);

    public static IReadOnlyList<Pod> Pods { get; } = BuildPods(2000);

    private static List<Pod> BuildPods(int count)
    {
        var random = new Random(17);
        var pods = new List<Pod>(count);
        for (int i = 0; i < count; i++)
        {
            int workload = i % 60;
            string ns = Namespaces[workload % Namespaces.Length];
            string name = WorkloadNames[workload % WorkloadNames.Length] + (workload >= WorkloadNames.Length ? "-" + (workload / WorkloadNames.Length) : "");
            string kind = WorkloadKinds[workload % WorkloadKinds.Length];
            var ip = PackedIp.FromV4(10, 244, (byte)(i / 250), (byte)(i % 250 + 1));
            var identity = new WorkloadIdentity(EndpointKind.Pod, ns, name, kind, $"{name}-7d4b9c-{random.Next(10000, 99999)}",
                [new("app", name), new("tier", workload % 3 == 0 ? "web" : "backend")]);
            pods.Add(new Pod(ip, ip.ToString(), identity, ServerPorts[workload % ServerPorts.Length], $"node-{i % 40}"));
        }
        return pods;
    }

    /// <summary>Conversations: 80% pod to pod, 20% pod to internet; Zipf-ish skew so some edges are hot.</summary>
    public static FlowRecord[] Flows(int count = Records, bool withIdentities = true)
    {
        var random = new Random(42);
        var flows = new FlowRecord[count];
        var time = Start;
        for (int i = 0; i < count; i++)
        {
            var client = Pods[Skewed(random, Pods.Count)];
            time = time.AddTicks(random.Next(1, 20_000) * 10); // ~100 ms apart on average, 10 us resolution
            bool external = random.Next(5) == 0;
            var server = external ? null : Pods[Skewed(random, Pods.Count)];
            bool udp = server?.Port == 53;
            bool reply = random.Next(4) == 0;
            var flow = new FlowRecord
            {
                Start = time,
                End = time.AddSeconds(random.Next(1, 60)),
                SrcIp = client.Ip,
                DstIp = server?.Ip ?? PackedIp.FromV4(203, 0, (byte)random.Next(113, 115), (byte)random.Next(1, 255)),
                SrcPort = (ushort)random.Next(32768, 61000),
                DstPort = server?.Port ?? 443,
                Protocol = udp ? IpProtocols.Udp : IpProtocols.Tcp,
                Bytes = (ulong)random.Next(60, 2_000_000),
                Packets = (ulong)random.Next(1, 2000),
                Verdict = random.Next(50) == 0 ? Verdict.Denied : Verdict.Allowed,
                Direction = DirectionHint.Request,
                HasTcpFlags = !udp,
                TcpFlags = udp ? (ushort)0 : (ushort)27,
                Reporter = client.Node,
                PolicyName = random.Next(3) == 0 ? client.Identity.Namespace + "/allow-" + client.Identity.Workload : null,
                SrcIdentity = withIdentities ? client.Identity : null,
                DstIdentity = withIdentities ? server?.Identity : null,
            };
            if (reply) flow.Flip();
            flows[i] = flow;
        }
        return flows;
    }

    /// <summary>Index in [0, n) with a heavy head: real traffic concentrates on a few services.</summary>
    private static int Skewed(Random random, int n)
    {
        double u = random.NextDouble();
        return (int)(n * u * u * u) % n;
    }

    public static byte[] Canonical() => Bytes(Records * 420, text => WriteCanonical(text, Records));

    /// <summary>Canonical JSON lines for the first <paramref name="count"/> flows of <see cref="Flows"/>, streamed (the end-to-end files are GBs).</summary>
    public static void WriteCanonical(TextWriter text, int count)
    {
        foreach (var flow in Flows(count)) text.Write(CanonicalJsonWriter.ToLine(flow) + "\n");
    }

    private static byte[] Bytes(int capacity, Action<TextWriter> write)
    {
        var text = new StringWriter(new StringBuilder(capacity), CultureInfo.InvariantCulture);
        write(text);
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    public const string VpcHeader = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";

    /// <summary>An S3 VPC flow log file: the v2 header line, then one record per line (the header is not a record).</summary>
    public static byte[] AwsVpc() => Bytes(Records * 120, text => WriteAwsVpc(text, Records));

    public static void WriteAwsVpc(TextWriter output, int count)
    {
        var text = new StringBuilder(256);
        output.Write(VpcHeader + "\n");
        foreach (var f in Flows(count, withIdentities: false))
        {
            text.Clear();
            text.Append("2 123456789012 eni-0a1b2c3d").Append(f.SrcIp.V4 & 0xFFFF).Append(' ')
                .Append(f.SrcIp).Append(' ').Append(f.DstIp).Append(' ').Append(f.SrcPort).Append(' ').Append(f.DstPort).Append(' ')
                .Append(f.Protocol).Append(' ').Append(f.Packets).Append(' ').Append(f.Bytes).Append(' ')
                .Append(Unix(f.Start)).Append(' ').Append(Unix(f.End)).Append(' ')
                .Append(f.Verdict == Verdict.Denied ? "REJECT" : "ACCEPT").Append(" OK\n");
            output.Write(text);
        }
    }

    /// <summary>`hubble observe -o jsonpb` lines (GetFlowsResponse), the shape the sample generator writes.</summary>
    public static byte[] Hubble() => Bytes(Records * 900, text => WriteHubble(text, Records));

    public static void WriteHubble(TextWriter output, int count)
    {
        var text = new StringBuilder(1024);
        foreach (var f in Flows(count))
        {
            text.Clear();
            string time = Rfc3339Nanos(f.Start);
            bool reply = f.Direction == DirectionHint.Reply;
            string l4 = f.Protocol == IpProtocols.Udp ? "UDP" : "TCP";
            string flags = f.Protocol == IpProtocols.Udp ? "" : reply ? ",\"flags\":{\"SYN\":true,\"ACK\":true}" : ",\"flags\":{\"ACK\":true,\"PSH\":true}";
            text.Append("{\"flow\":{\"time\":\"").Append(time).Append("\",\"verdict\":\"").Append(f.Verdict == Verdict.Denied ? "DROPPED" : "FORWARDED")
                .Append("\",\"ethernet\":{\"source\":\"3e:2a:11:4f:90:01\",\"destination\":\"a2:11:4f:90:3e:02\"}")
                .Append(",\"IP\":{\"source\":\"").Append(f.SrcIp).Append("\",\"destination\":\"").Append(f.DstIp).Append("\",\"ipVersion\":\"IPv4\"}")
                .Append(",\"l4\":{\"").Append(l4).Append("\":{\"source_port\":").Append(f.SrcPort).Append(",\"destination_port\":").Append(f.DstPort).Append(flags).Append("}}")
                .Append(",\"source\":");
            HubbleEndpoint(text, f.SrcIdentity);
            text.Append(",\"destination\":");
            HubbleEndpoint(text, f.DstIdentity);
            text.Append(",\"Type\":\"L3_L4\",\"node_name\":\"").Append(f.Reporter).Append("\",\"event_type\":{\"type\":4}")
                .Append(",\"traffic_direction\":\"EGRESS\",\"trace_observation_point\":\"TO_ENDPOINT\",\"is_reply\":").Append(reply ? "true" : "false")
                .Append(",\"Summary\":\"").Append(l4).Append(" Flags: ACK\"");
            if (f.PolicyName is { } policy)
            {
                int slash = policy.IndexOf('/');
                text.Append(",\"egress_allowed_by\":[{\"name\":\"").Append(policy[(slash + 1)..]).Append("\",\"namespace\":\"").Append(policy[..slash]).Append("\",\"revision\":\"7\"}]");
            }
            text.Append("},\"node_name\":\"").Append(f.Reporter).Append("\",\"time\":\"").Append(time).Append("\"}\n");
            output.Write(text);
        }
    }

    private static void HubbleEndpoint(StringBuilder text, WorkloadIdentity? identity)
    {
        if (identity is null)
        {
            text.Append("{\"identity\":2,\"labels\":[\"reserved:world\"]}");
            return;
        }
        text.Append("{\"ID\":").Append(identity.Name!.Length * 97).Append(",\"identity\":").Append(10000 + identity.Workload!.Length)
            .Append(",\"namespace\":\"").Append(identity.Namespace).Append("\",\"labels\":[");
        foreach (var (key, value) in identity.Labels) text.Append("\"k8s:").Append(key).Append('=').Append(value).Append("\",");
        text.Append("\"k8s:io.kubernetes.pod.namespace=").Append(identity.Namespace).Append("\",\"k8s:io.cilium.k8s.policy.cluster=default\"]")
            .Append(",\"pod_name\":\"").Append(identity.Name).Append("\",\"workloads\":[{\"name\":\"").Append(identity.Workload)
            .Append("\",\"kind\":\"").Append(identity.WorkloadKind).Append("\"}]}");
    }

    /// <summary>GoFlow2 v2 JSON lines (`-format=json`), IPFIX records as the collector prints them.</summary>
    public static byte[] GoFlow2()
    {
        var text = new StringBuilder(Records * 900);
        long seq = 65000;
        foreach (var f in Flows(withIdentities: false))
        {
            text.Append("{\"type\":\"IPFIX\",\"time_received_ns\":").Append(UnixNanos(f.End) + 787_460_121).Append(",\"sequence_num\":").Append(seq++)
                .Append(",\"sampling_rate\":0,\"sampler_address\":\"192.168.88.1\",\"time_flow_start_ns\":").Append(UnixNanos(f.Start))
                .Append(",\"time_flow_end_ns\":").Append(UnixNanos(f.End)).Append(",\"bytes\":").Append(f.Bytes).Append(",\"packets\":").Append(f.Packets)
                .Append(",\"src_addr\":\"").Append(f.SrcIp).Append("\",\"dst_addr\":\"").Append(f.DstIp)
                .Append("\",\"etype\":\"IPv4\",\"proto\":\"").Append(f.Protocol == IpProtocols.Udp ? "UDP" : "TCP")
                .Append("\",\"src_port\":").Append(f.SrcPort).Append(",\"dst_port\":").Append(f.DstPort)
                .Append(",\"in_if\":11,\"out_if\":12,\"src_mac\":\"42:61:64:55:53:42\",\"dst_mac\":\"48:6f:73:74:50:43\",\"src_vlan\":0,\"dst_vlan\":0,\"vlan_id\":0,\"ip_tos\":0,\"forwarding_status\":64,\"ip_ttl\":64,\"ip_flags\":0,\"tcp_flags\":")
                .Append(f.TcpFlags)
                .Append(",\"icmp_type\":0,\"icmp_code\":0,\"ipv6_flow_label\":0,\"fragment_id\":0,\"fragment_offset\":0,\"src_as\":0,\"dst_as\":0,\"next_hop\":\"0.0.0.0\",\"next_hop_as\":0,\"src_net\":\"0.0.0.0/0\",\"dst_net\":\"0.0.0.0/0\",\"bgp_next_hop\":\"\",\"bgp_communities\":[],\"as_path\":[],\"mpls_ttl\":[],\"mpls_label\":[],\"mpls_ip\":[],\"observation_domain_id\":0,\"observation_point_id\":0,\"layer_stack\":[],\"layer_size\":[]}\n");
        }
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>GCP VPC flow log entries as JSON lines (a Pub/Sub or `gcloud logging read --format=json` export, one entry per line).</summary>
    public static byte[] GcpVpc()
    {
        var text = new StringBuilder(Records * 1500);
        int insert = 0;
        foreach (var f in Flows())
        {
            text.Append("{\"insertId\":\"kx3j").Append(insert++.ToString("x8", CultureInfo.InvariantCulture))
                .Append("\",\"jsonPayload\":{\"bytes_sent\":\"").Append(f.Bytes).Append("\",\"connection\":{\"dest_ip\":\"").Append(f.DstIp)
                .Append("\",\"dest_port\":").Append(f.DstPort).Append(",\"protocol\":").Append(f.Protocol).Append(",\"src_ip\":\"").Append(f.SrcIp)
                .Append("\",\"src_port\":").Append(f.SrcPort).Append('}');
            if (f.DstIdentity is { } dst) GcpGke(text, "dest", dst, f.Reporter!);
            else text.Append(",\"dest_location\":{\"asn\":\"64500\",\"city\":\"Santa Teresa\",\"continent\":\"America\",\"country\":\"usa\",\"region\":\"California\"}");
            text.Append(",\"end_time\":\"").Append(Rfc3339Nanos(f.End)).Append("\",\"packets_sent\":\"").Append(f.Packets)
                .Append("\",\"reporter\":\"SRC\",\"rtt_msec\":\"3\"");
            if (f.SrcIdentity is { } src) GcpGke(text, "src", src, f.Reporter!);
            text.Append(",\"start_time\":\"").Append(Rfc3339Nanos(f.Start))
                .Append("\"},\"logName\":\"projects/acme-prod/logs/compute.googleapis.com%2Fvpc_flows\",\"receiveTimestamp\":\"").Append(Rfc3339Nanos(f.End.AddSeconds(4)))
                .Append("\",\"resource\":{\"labels\":{\"location\":\"us-central1-b\",\"project_id\":\"acme-prod\",\"subnetwork_id\":\"6120593942\",\"subnetwork_name\":\"gke-prod\"},\"type\":\"gce_subnetwork\"},\"timestamp\":\"")
                .Append(Rfc3339Nanos(f.End.AddSeconds(2))).Append("\"}\n");
        }
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static void GcpGke(StringBuilder text, string side, WorkloadIdentity identity, string node)
    {
        text.Append(",\"").Append(side).Append("_gke_details\":{\"cluster\":{\"cluster_location\":\"us-central1\",\"cluster_name\":\"prod\"},\"pod\":{\"pod_name\":\"")
            .Append(identity.Name).Append("\",\"pod_namespace\":\"").Append(identity.Namespace).Append("\",\"pod_workload\":{\"workload_name\":\"")
            .Append(identity.Workload).Append("\",\"workload_type\":\"").Append(identity.WorkloadKind!.ToUpperInvariant()).Append("\"}}}")
            .Append(",\"").Append(side).Append("_instance\":{\"project_id\":\"acme-prod\",\"region\":\"us-central1\",\"vm_name\":\"gke-prod-pool-1-").Append(node)
            .Append("\",\"zone\":\"us-central1-b\"},\"").Append(side).Append("_vpc\":{\"project_id\":\"acme-prod\",\"subnetwork_name\":\"gke-prod\",\"vpc_name\":\"main\"}");
    }

    /// <summary>
    /// One Azure NSG flow log blob (PT1H.json, version 2): 1,000 records (one per minute and NSG) of 100 tuples
    /// each under two rules, as Network Watcher writes them.
    /// </summary>
    public static byte[] Azure()
    {
        const int tuplesPerRecord = 100;
        var flows = Flows(withIdentities: false);
        var text = new StringBuilder(Records * 80);
        text.Append("{\"records\":[");
        for (int r = 0; r < flows.Length / tuplesPerRecord; r++)
        {
            if (r > 0) text.Append(',');
            var first = flows[r * tuplesPerRecord];
            text.Append("{\"time\":\"").Append(first.Start.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture))
                .Append("\",\"systemId\":\"66aa66aa-bb77-cc88-dd99-00ee00ee00ee\",\"macAddress\":\"000D3AF87856\",\"category\":\"NetworkSecurityGroupFlowEvent\"")
                .Append(",\"resourceId\":\"/SUBSCRIPTIONS/AAAA0A0A-BB1B-CC2C-DD3D-EEEEEE4E4E4E/RESOURCEGROUPS/SHOP-RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/SHOP-NSG-")
                .Append(r % 8).Append("\",\"operationName\":\"NetworkSecurityGroupFlowEvents\",\"properties\":{\"Version\":2,\"flows\":[");
            for (int rule = 0; rule < 2; rule++)
            {
                if (rule > 0) text.Append(',');
                text.Append("{\"rule\":\"").Append(rule == 0 ? "UserRule_allow-internal" : "DefaultRule_AllowInternetOutBound")
                    .Append("\",\"flows\":[{\"mac\":\"000D3AF87856\",\"flowTuples\":[");
                int half = tuplesPerRecord / 2;
                for (int t = 0; t < half; t++)
                {
                    var f = flows[r * tuplesPerRecord + rule * half + t];
                    if (t > 0) text.Append(',');
                    char state = "BCE"[t % 3];
                    text.Append('"').Append(Unix(f.Start)).Append(',').Append(f.SrcIp).Append(',').Append(f.DstIp).Append(',')
                        .Append(f.SrcPort).Append(',').Append(f.DstPort).Append(',').Append(f.Protocol == IpProtocols.Udp ? 'U' : 'T')
                        .Append(",O,").Append(f.Verdict == Verdict.Denied ? 'D' : 'A').Append(',').Append(state);
                    if (state == 'B') text.Append(",,,,\"");
                    else text.Append(',').Append(f.Packets).Append(',').Append(f.Bytes).Append(',').Append(f.Packets / 2 + 1).Append(',').Append(f.Bytes / 3 + 60).Append('"');
                }
                text.Append("]}]}");
            }
            text.Append("]}}");
        }
        text.Append("]}\n");
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static long Unix(DateTime utc) => (utc.Ticks - DateTime.UnixEpoch.Ticks) / TimeSpan.TicksPerSecond;
    private static long UnixNanos(DateTime utc) => (utc.Ticks - DateTime.UnixEpoch.Ticks) * 100;
    private static string Rfc3339Nanos(DateTime utc) => utc.ToString("yyyy-MM-ddTHH:mm:ss.fffffff00Z", CultureInfo.InvariantCulture);
}
