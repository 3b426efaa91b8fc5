using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Cli.Sample;

/// <summary>What `flowpolicy sample` wrote.</summary>
internal sealed record SampleFiles(string Directory, IReadOnlyList<string> FlowFiles, IReadOnlyList<string> InventoryFiles, string TruthFile, int Records);

/// <summary>
/// Writes the sample's connections as the logs a real cluster produces: Hubble JSON for pod-to-pod traffic,
/// gzip-compressed AWS VPC Flow Logs (custom v3 format with a header) for traffic crossing the VPC, and the
/// inventory: a lease history (JSON lines) for pods plus `kubectl get nodes -o json`. Two more sources see part of
/// the traffic again a second later, as a second exporter would: an in-cluster agent writing canonical JSON (every
/// tenth pod-to-pod connection, identities included) and the border router's NetFlow through GoFlow2 (every tenth
/// egress connection, addresses only). They add flows to edges that exist anyway, so expected-edges.txt holds for
/// any subset of the files that includes the Hubble and VPC logs.
/// </summary>
internal sealed class SampleWriter
{
    private const string VpcHeader = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr";
    private static readonly JsonWriterOptions Compact = new() { Indented = false };
    private readonly SampleApp _app;
    private readonly Random _random;
    // L7 records draw from their own sequence so the L3/L4 records stay what they were before L7 existed.
    private readonly Random _l7Random;

    public SampleWriter(SampleApp app, int seed)
    {
        _app = app;
        _random = new Random(seed ^ 0x5eed);
        _l7Random = new Random(seed ^ 0x17);
    }

    public SampleFiles Write(SampleTraffic traffic, string directory)
    {
        Directory.CreateDirectory(directory);
        Directory.CreateDirectory(Path.Combine(directory, "inventory"));
        string hubble = Path.Combine(directory, "hubble-flows.json");
        string vpc = Path.Combine(directory, "vpc-flowlogs.log.gz");
        string leases = Path.Combine(directory, "inventory", "leases.jsonl");
        string nodes = Path.Combine(directory, "inventory", "nodes.json");
        string truth = Path.Combine(directory, "expected-edges.txt");
        string canonical = Path.Combine(directory, "agent-flows.json");
        string goflow = Path.Combine(directory, "netflow-goflow2.json");
        int records = WriteHubble(traffic, hubble) + WriteVpc(traffic, vpc) + WriteCanonical(traffic, canonical) + WriteGoFlow2(traffic, goflow);
        WriteLeases(traffic, leases);
        WriteNodes(nodes);
        File.WriteAllLines(truth, traffic.Truth);
        return new SampleFiles(directory, [hubble, vpc, canonical, goflow], [leases, nodes], truth, records);
    }

    /// <summary>A second sighting of <paramref name="c"/> one second later, if both its pods still hold their addresses then.</summary>
    private static bool Resighted(in SampleConnection c, out DateTime at)
    {
        at = c.Start.AddSeconds(1);
        return !c.Denied && (c.ClientPod is null || c.ClientPod.LiveAt(at)) && (c.ServerPod is null || c.ServerPod.LiveAt(at));
    }

    private int WriteCanonical(SampleTraffic traffic, string path)
    {
        using var file = File.Create(path);
        int records = 0, eligible = 0;
        foreach (var c in traffic.Connections)
        {
            // Pod to pod between controller-owned workloads (a bare debug pod's one-off traffic stays Hubble's).
            if (c.Log != SampleLog.Hubble || c.ClientPod is not { } client || c.ServerPod is not { } server
                || client.Workload.Kind == "Pod" || server.Workload.Kind == "Pod" || eligible++ % 10 != 0 || !Resighted(c, out var at)) continue;
            WriteCanonicalRecord(file, at, c.ClientIp, client, c.ClientPort, c.ServerIp, server, c.ServerPort, c.Protocol, c.RequestBytes, "request", c.Node);
            WriteCanonicalRecord(file, at.AddMilliseconds(4), c.ServerIp, server, c.ServerPort, c.ClientIp, client, c.ClientPort, c.Protocol, c.ResponseBytes, "reply", c.Node);
            records += 2;
        }
        return records;
    }

    private static void WriteCanonicalRecord(Stream output, DateTime at, PackedIp srcIp, SamplePod src, ushort srcPort, PackedIp dstIp, SamplePod dst, ushort dstPort,
        byte protocol, ulong bytes, string direction, string node)
    {
        using (var json = new Utf8JsonWriter(output, Compact))
        {
            json.WriteStartObject();
            json.WriteString("start", Rfc3339(at));
            json.WriteString("end", Rfc3339(at.AddSeconds(1)));
            json.WriteString("src_ip", srcIp.ToString());
            json.WriteNumber("src_port", srcPort);
            json.WriteString("dst_ip", dstIp.ToString());
            json.WriteNumber("dst_port", dstPort);
            json.WriteString("proto", IpProtocols.Name(protocol));
            json.WriteNumber("bytes", bytes);
            json.WriteNumber("packets", 1 + bytes / 1400);
            json.WriteString("verdict", "allowed");
            json.WriteString("direction", direction);
            json.WriteString("reporter", node);
            WriteCanonicalIdentity(json, "src", src);
            WriteCanonicalIdentity(json, "dst", dst);
            json.WriteEndObject();
        }
        output.WriteByte((byte)'\n');
    }

    private static void WriteCanonicalIdentity(Utf8JsonWriter json, string name, SamplePod pod)
    {
        json.WriteStartObject(name);
        json.WriteString("kind", "pod");
        json.WriteString("namespace", pod.Workload.Namespace);
        json.WriteString("workload", pod.Workload.Name);
        json.WriteString("workload_kind", pod.Workload.Kind);
        json.WriteString("pod", pod.Name);
        json.WriteStartObject("labels");
        foreach (var (key, value) in pod.Workload.Labels) json.WriteString(key, value);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private int WriteGoFlow2(SampleTraffic traffic, string path)
    {
        using var file = File.Create(path);
        int records = 0, eligible = 0;
        foreach (var c in traffic.Connections)
        {
            // Egress from a pod to an outside server as the border router exports it (NetFlow v9, unsampled). The licence
            // check stays out: its evidence is "once per pod start", which a second exporter would double.
            if (c.Log != SampleLog.Vpc || c.ClientPod is null || c.ServerPod is not null || c.ServerIp == SampleApp.LicenseServer
                || eligible++ % 10 != 0 || !Resighted(c, out var at)) continue;
            WriteGoFlow2Record(file, at, c.ClientIp, c.ClientPort, c.ServerIp, c.ServerPort, c.Protocol, c.RequestBytes, 0x1b);
            if (c.ResponseBytes > 0)
            {
                WriteGoFlow2Record(file, at.AddMilliseconds(20), c.ServerIp, c.ServerPort, c.ClientIp, c.ClientPort, c.Protocol, c.ResponseBytes, 0x12 | 0x08);
                records++;
            }
            records++;
        }
        return records;
    }

    private static void WriteGoFlow2Record(Stream output, DateTime at, PackedIp src, ushort srcPort, PackedIp dst, ushort dstPort, byte protocol, ulong bytes, int tcpFlags)
    {
        long ns = (at - DateTime.UnixEpoch).Ticks * 100;
        using (var json = new Utf8JsonWriter(output, Compact))
        {
            json.WriteStartObject();
            json.WriteString("type", "NETFLOW_V9");
            json.WriteNumber("time_received_ns", ns + 60_000_000_000);
            json.WriteNumber("sequence_num", 1);
            json.WriteNumber("sampling_rate", 0);
            json.WriteString("sampler_address", "10.0.0.1");
            json.WriteNumber("time_flow_start_ns", ns);
            json.WriteNumber("time_flow_end_ns", ns + 1_000_000_000);
            json.WriteNumber("bytes", bytes);
            json.WriteNumber("packets", 1 + bytes / 1400);
            json.WriteString("src_addr", src.ToString());
            json.WriteString("dst_addr", dst.ToString());
            json.WriteString("etype", "IPv4");
            json.WriteString("proto", IpProtocols.Name(protocol));
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

    private int WriteHubble(SampleTraffic traffic, string path)
    {
        using var file = File.Create(path);
        int records = 0;
        foreach (var c in traffic.Connections)
        {
            // Egress to a provider by name: the client's DNS answer, seen by Cilium's DNS proxy, just before.
            if (c.Log == SampleLog.Vpc && c.ClientPod is { } client && c.ServerPod is null && SampleApp.ExternalName(c.ServerIp) is { } name
                && _app.PodsOf("kube-system/coredns", c.Start).FirstOrDefault() is { } dns)
            {
                WriteHubbleDnsAnswer(file, c.Start.AddSeconds(-2), dns, client, name, c.ServerIp);
                records++;
            }
            if (c.Log != SampleLog.Hubble) continue;
            WriteHubbleFlow(file, c, reply: false);
            records++;
            if (c.Denied) continue;
            WriteHubbleFlow(file, c, reply: true);
            records++;
            if (c.ClientPod is not null && SampleApp.GrpcMethods(c.ServerPod?.Workload.Key, c.ServerPort) is { } methods)
            {
                // The server's sidecar-less Envoy (Cilium L7 visibility) logs the gRPC call: request, then response.
                var method = methods[_l7Random.Next(methods.Length)];
                WriteHubbleHttp(file, c, c.Start.AddMilliseconds(1), method, response: false);
                WriteHubbleHttp(file, c, c.Start.AddMilliseconds(2 + _l7Random.Next(30)), method, response: true);
                records += 2;
            }
        }
        return records;
    }

    /// <summary>An L7 HTTP/2 (gRPC) record as Cilium's proxy writes it (cilium/cilium pkg/hubble/parser/seven: Type L7, l7.http; responses go server -> client with the code).</summary>
    private static void WriteHubbleHttp(Stream output, in SampleConnection c, DateTime at, string path, bool response)
    {
        string url = $"http://{c.ServerPod!.Workload.Name}:{c.ServerPort}{path}";
        WriteHubbleL7(output, at, c.Node, response, "INGRESS", udp: false,
            response ? (c.ServerIp, c.ServerPod, c.ServerPort) : (c.ClientIp, c.ClientPod, c.ClientPort),
            response ? (c.ClientIp, c.ClientPod, c.ClientPort) : (c.ServerIp, c.ServerPod, c.ServerPort),
            json =>
            {
                json.WriteStartObject("http");
                if (response) json.WriteNumber("code", 200);
                json.WriteString("method", "POST");
                json.WriteString("url", url);
                json.WriteString("protocol", "HTTP/2");
                json.WriteEndObject();
            });
    }

    /// <summary>A DNS answer from kube-dns to a client, as Cilium's DNS proxy reports it (l7.dns with query, ips, ttl, rcode).</summary>
    private void WriteHubbleDnsAnswer(Stream output, DateTime at, SamplePod dns, SamplePod client, string name, PackedIp address) =>
        WriteHubbleL7(output, at, client.Node, response: true, "EGRESS", udp: true,
            (dns.Ip, dns, 53), (client.Ip, client, (ushort)_l7Random.Next(32768, 61000)),
            json =>
            {
                json.WriteStartObject("dns");
                json.WriteString("query", name + ".");
                json.WriteStartArray("ips");
                json.WriteStringValue(address.ToString());
                json.WriteEndArray();
                json.WriteNumber("ttl", 60);
                json.WriteNumber("rcode", 0);
                json.WriteStartArray("qtypes");
                json.WriteStringValue("A");
                json.WriteEndArray();
                json.WriteString("observation_source", "proxy");
                json.WriteEndObject();
            });

    /// <summary>One Type L7 GetFlowsResponse line: addresses, ports, endpoints, and the l7 object <paramref name="record"/> fills after its type.</summary>
    private static void WriteHubbleL7(Stream output, DateTime at, string node, bool response, string trafficDirection, bool udp,
        (PackedIp Ip, SamplePod? Pod, ushort Port) source, (PackedIp Ip, SamplePod? Pod, ushort Port) destination, Action<Utf8JsonWriter> record)
    {
        var time = Rfc3339(at);
        using (var json = new Utf8JsonWriter(output, Compact))
        {
            json.WriteStartObject();
            json.WriteStartObject("flow");
            json.WriteString("time", time);
            json.WriteString("verdict", "FORWARDED");
            json.WriteStartObject("IP");
            json.WriteString("source", source.Ip.ToString());
            json.WriteString("destination", destination.Ip.ToString());
            json.WriteString("ipVersion", "IPv4");
            json.WriteEndObject();
            json.WriteStartObject("l4");
            json.WriteStartObject(udp ? "UDP" : "TCP");
            json.WriteNumber("source_port", source.Port);
            json.WriteNumber("destination_port", destination.Port);
            json.WriteEndObject();
            json.WriteEndObject();
            WriteHubbleEndpoint(json, "source", source.Pod);
            WriteHubbleEndpoint(json, "destination", destination.Pod);
            json.WriteString("Type", "L7");
            json.WriteString("node_name", node);
            json.WriteStartObject("l7");
            json.WriteString("type", response ? "RESPONSE" : "REQUEST");
            record(json);
            json.WriteEndObject();
            json.WriteBoolean("is_reply", response);
            json.WriteString("traffic_direction", trafficDirection);
            json.WriteEndObject();
            json.WriteString("node_name", node);
            json.WriteString("time", time);
            json.WriteEndObject();
        }
        output.WriteByte((byte)'\n');
    }

    private void WriteHubbleFlow(Stream output, in SampleConnection c, bool reply)
    {
        var time = Rfc3339(c.Start.AddMilliseconds(reply ? 3 + _random.Next(40) : 0));
        using (var json = new Utf8JsonWriter(output, Compact))
        {
            json.WriteStartObject();
            json.WriteStartObject("flow");
            json.WriteString("time", time);
            json.WriteString("verdict", c.Denied ? "DROPPED" : "FORWARDED");
            if (c.Denied) json.WriteString("drop_reason_desc", "POLICY_DENIED");
            json.WriteStartObject("IP");
            json.WriteString("source", (reply ? c.ServerIp : c.ClientIp).ToString());
            json.WriteString("destination", (reply ? c.ClientIp : c.ServerIp).ToString());
            json.WriteString("ipVersion", "IPv4");
            json.WriteEndObject();
            json.WriteStartObject("l4");
            json.WriteStartObject(c.Protocol == IpProtocols.Udp ? "UDP" : "TCP");
            json.WriteNumber("source_port", reply ? c.ServerPort : c.ClientPort);
            json.WriteNumber("destination_port", reply ? c.ClientPort : c.ServerPort);
            if (c.Protocol == IpProtocols.Tcp)
            {
                json.WriteStartObject("flags");
                json.WriteBoolean("SYN", true);
                if (reply) json.WriteBoolean("ACK", true);
                json.WriteEndObject();
            }
            json.WriteEndObject();
            json.WriteEndObject();
            WriteHubbleEndpoint(json, "source", reply ? c.ServerPod : c.ClientPod);
            WriteHubbleEndpoint(json, "destination", reply ? c.ClientPod : c.ServerPod);
            json.WriteString("Type", "L3_L4");
            json.WriteString("node_name", c.Node);
            json.WriteBoolean("is_reply", reply);
            json.WriteString("traffic_direction", "EGRESS");
            json.WriteEndObject();
            json.WriteString("node_name", c.Node);
            json.WriteString("time", time);
            json.WriteEndObject();
        }
        output.WriteByte((byte)'\n');
    }

    /// <summary>
    /// Each workload runs as its own service account (the usual chart layout); bare pods (kubectl run) as "default".
    /// Leases and Hubble's labels carry it, as on a cluster: Istio principals are made of it (suggest --emit istio, check).
    /// </summary>
    private static string ServiceAccountOf(SamplePod pod) => pod.Workload.Kind == "Pod" ? "default" : pod.Workload.Name;

    private static void WriteHubbleEndpoint(Utf8JsonWriter json, string name, SamplePod? pod)
    {
        json.WriteStartObject(name);
        if (pod is null)
        {
            // Kubelet probes come from the node itself: Cilium's reserved "host" identity.
            json.WriteNumber("identity", 1);
            json.WriteStartArray("labels");
            json.WriteStringValue("reserved:host");
            json.WriteEndArray();
            json.WriteEndObject();
            return;
        }
        json.WriteNumber("identity", 10000 + (Math.Abs(StringComparer.Ordinal.GetHashCode(pod.Workload.Key)) % 50000));
        json.WriteString("namespace", pod.Workload.Namespace);
        json.WriteStartArray("labels");
        foreach (var (key, value) in pod.Workload.Labels)
            json.WriteStringValue($"k8s:{key}={value}");
        json.WriteStringValue($"k8s:io.kubernetes.pod.namespace={pod.Workload.Namespace}");
        json.WriteStringValue($"k8s:io.cilium.k8s.policy.serviceaccount={ServiceAccountOf(pod)}");
        json.WriteEndArray();
        json.WriteString("pod_name", pod.Name);
        json.WriteStartArray("workloads");
        json.WriteStartObject();
        json.WriteString("name", pod.Workload.Kind == "CronJob" ? pod.Workload.Name : pod.Workload.Kind == "Pod" ? pod.Name : pod.Workload.Name);
        json.WriteString("kind", pod.Workload.Kind);
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private int WriteVpc(SampleTraffic traffic, string path)
    {
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        using var text = new StreamWriter(gzip, new UTF8Encoding(false)) { NewLine = "\n" };
        text.WriteLine(VpcHeader);
        int records = 0;
        foreach (var c in traffic.Connections)
        {
            if (c.Log != SampleLog.Vpc) continue;
            string eni = "eni-" + Math.Abs(StringComparer.Ordinal.GetHashCode(c.Node)).ToString("x8", CultureInfo.InvariantCulture);
            long start = (long)(c.Start - DateTime.UnixEpoch).TotalSeconds;
            long end = start + 60;
            // One connection is two records, one per direction; AWS writes them in no particular order.
            string request = VpcLine(eni, c.ClientIp, c.ServerIp, c.ClientPort, c.ServerPort, c.Protocol, c.Denied ? 1UL : 2UL + c.RequestBytes / 1400,
                c.RequestBytes, start, end, c.Denied ? "REJECT" : "ACCEPT", c.Denied ? 2 : 3);
            string? reply = c.Denied || c.ResponseBytes == 0 ? null : VpcLine(eni, c.ServerIp, c.ClientIp, c.ServerPort, c.ClientPort, c.Protocol,
                1UL + c.ResponseBytes / 1400, c.ResponseBytes, start, end, "ACCEPT", 19);
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
        // Quiet intervals are logged too.
        text.WriteLine($"3 123456789012 eni-0a1b2c3d - - - - - - - {(long)(_app.Start - DateTime.UnixEpoch).TotalSeconds} {(long)(_app.Start - DateTime.UnixEpoch).TotalSeconds + 60} - NODATA vpc-0abc subnet-0abc i-0abc - - - -");
        return records;
    }

    private static string VpcLine(string eni, PackedIp src, PackedIp dst, ushort srcPort, ushort dstPort, byte protocol, ulong packets, ulong bytes,
        long start, long end, string action, int tcpFlags) =>
        string.Create(CultureInfo.InvariantCulture,
            $"3 123456789012 {eni} {src} {dst} {srcPort} {dstPort} {protocol} {packets} {bytes} {start} {end} {action} OK vpc-0abc subnet-0abc i-0abc {tcpFlags} IPv4 {src} {dst}");

    private void WriteLeases(SampleTraffic traffic, string path)
    {
        // The pods the traffic generator started on the fly (job runs, debug pods) have leases too.
        var pods = _app.Pods.Concat(traffic.Connections.Select(c => c.ClientPod).Where(p => p is not null).Select(p => p!))
            .Distinct().OrderBy(p => p.From).ThenBy(p => p.Name, StringComparer.Ordinal);
        using var file = File.Create(path);
        foreach (var pod in pods)
        {
            using (var json = new Utf8JsonWriter(file, Compact))
            {
                json.WriteStartObject();
                json.WriteString("ip", pod.Ip.ToString());
                json.WriteString("from", Rfc3339(pod.From));
                if (pod.To is { } to) json.WriteString("to", Rfc3339(to));
                json.WriteString("kind", "pod");
                json.WriteString("namespace", pod.Workload.Namespace);
                json.WriteString("workload", pod.Workload.Kind == "Pod" ? pod.Name : pod.Workload.Name);
                json.WriteString("workload_kind", pod.Workload.Kind);
                json.WriteString("name", pod.Name);
                json.WriteString("service_account", ServiceAccountOf(pod));
                json.WriteStartObject("labels");
                foreach (var (key, value) in pod.Workload.Labels) json.WriteString(key, value);
                if (pod.Workload.Kind == "Deployment") json.WriteString("pod-template-hash", pod.Name.Split('-')[^2]);
                if (pod.Workload.Kind == "StatefulSet") json.WriteString("statefulset.kubernetes.io/pod-name", pod.Name);
                json.WriteEndObject();
                json.WriteStartArray("ports");
                foreach (var (port, protocol) in pod.Workload.Ports)
                {
                    json.WriteStartObject();
                    json.WriteNumber("port", port);
                    json.WriteString("protocol", IpProtocols.Name(protocol));
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                json.WriteEndObject();
            }
            file.WriteByte((byte)'\n');
        }
    }

    private void WriteNodes(string path)
    {
        using var file = File.Create(path);
        using var json = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("apiVersion", "v1");
        json.WriteString("kind", "List");
        json.WriteStartArray("items");
        foreach (var (name, ip) in _app.Nodes)
        {
            json.WriteStartObject();
            json.WriteString("apiVersion", "v1");
            json.WriteString("kind", "Node");
            json.WriteStartObject("metadata");
            json.WriteString("name", name);
            json.WriteString("creationTimestamp", Rfc3339(_app.Start.AddDays(-30)));
            json.WriteStartObject("labels");
            json.WriteString("kubernetes.io/hostname", name);
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
            json.WriteEndObject();
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static string Rfc3339(DateTime utc) => utc.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
}
