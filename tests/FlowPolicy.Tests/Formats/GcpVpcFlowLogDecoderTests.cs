using System.Text;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Gcp;

namespace FlowPolicy.Tests.Formats;

/// <summary>Entries follow Google's "VPC Flow Logs record format" inside a Cloud Logging LogEntry.</summary>
public sealed class GcpVpcFlowLogDecoderTests
{
    private static readonly GcpVpcFlowLogDecoder Decoder = new();

    // GKE pod -> pod, reported by the sending node; int64 fields as proto3 JSON strings.
    internal const string GkePodToPod = """{"insertId":"kx3j2fg1a2b3c","jsonPayload":{"bytes_sent":"1224","connection":{"dest_ip":"10.52.1.9","dest_port":8080,"protocol":6,"src_ip":"10.52.0.14","src_port":51234},"dest_gke_details":{"cluster":{"cluster_location":"us-central1","cluster_name":"prod"},"pod":{"pod_name":"checkout-7d9f8c6b5-x2x9z","pod_namespace":"shop","pod_workload":{"workload_name":"checkout","workload_type":"DEPLOYMENT"}},"service":[{"service_name":"checkout","service_namespace":"shop"}]},"dest_instance":{"project_id":"acme-prod","region":"us-central1","vm_name":"gke-prod-pool-1-abcd","zone":"us-central1-a"},"dest_vpc":{"project_id":"acme-prod","subnetwork_name":"gke-prod","vpc_name":"main"},"end_time":"2026-11-01T10:00:05.123456789Z","packets_sent":"12","reporter":"SRC","rtt_msec":"3","src_gke_details":{"cluster":{"cluster_location":"us-central1","cluster_name":"prod"},"pod":{"pod_name":"frontend-5c7b9d-qwert","pod_namespace":"shop","pod_workload":{"workload_name":"frontend","workload_type":"DEPLOYMENT"}}},"src_instance":{"project_id":"acme-prod","region":"us-central1","vm_name":"gke-prod-pool-1-efgh","zone":"us-central1-b"},"src_vpc":{"project_id":"acme-prod","subnetwork_name":"gke-prod","vpc_name":"main"},"start_time":"2026-11-01T10:00:00.5Z"},"logName":"projects/acme-prod/logs/compute.googleapis.com%2Fvpc_flows","receiveTimestamp":"2026-11-01T10:00:09.8Z","resource":{"labels":{"location":"us-central1-b","project_id":"acme-prod","subnetwork_id":"6120593942","subnetwork_name":"gke-prod"},"type":"gce_subnetwork"},"timestamp":"2026-11-01T10:00:07.1Z"}""";

    // VM -> internet, reported by the VM; the remote side only has a location.
    internal const string VmToInternet = """{"insertId":"a1","jsonPayload":{"bytes_sent":"756","connection":{"dest_ip":"198.51.100.75","dest_port":443,"protocol":6,"src_ip":"10.128.0.2","src_port":49444},"dest_location":{"asn":"64500","city":"Santa Teresa","continent":"America","country":"usa","region":"California"},"end_time":"2026-11-01T13:47:33.937764566Z","packets_sent":"6","reporter":"SRC","src_instance":{"project_id":"yoyodyne-102010","region":"us-west1","vm_name":"vm-instance-01","zone":"us-west1-a"},"src_vpc":{"project_id":"yoyodyne-102010","subnetwork_name":"default","vpc_name":"default"},"start_time":"2026-11-01T13:47:32.805417512Z"},"logName":"projects/yoyodyne-102010/logs/compute.googleapis.com%2Fvpc_flows","resource":{"labels":{"project_id":"yoyodyne-102010","subnetwork_name":"default"},"type":"gce_subnetwork"},"timestamp":"2026-11-01T13:47:40Z"}""";

    internal const string Ipv6 = """{"jsonPayload":{"bytes_sent":"300","connection":{"dest_ip":"2001:db8:1::20","dest_port":53,"protocol":17,"src_ip":"2600:1900:4000:a1b2::5","src_port":40000},"end_time":"2026-11-01T10:00:02Z","packets_sent":"3","reporter":"DEST","start_time":"2026-11-01T10:00:01Z","dest_instance":{"project_id":"p1","vm_name":"dns-1","zone":"europe-west1-b","region":"europe-west1"}},"logName":"projects/p1/logs/compute.googleapis.com%2Fvpc_flows","timestamp":"2026-11-01T10:00:03Z"}""";

    [Fact]
    public void Gke_pod_to_pod_entry_decodes_tuple_counters_times_and_pod_identities()
    {
        var sink = CloudRecordingSink.Decode(Decoder, GkePodToPod);

        Assert.Empty(sink.Rejected);
        var flow = Assert.Single(sink.Accepted);
        Assert.Equal(PackedIp.Parse("10.52.0.14"), flow.SrcIp);
        Assert.Equal(PackedIp.Parse("10.52.1.9"), flow.DstIp);
        Assert.Equal(51234, flow.SrcPort);
        Assert.Equal(8080, flow.DstPort);
        Assert.Equal(IpProtocols.Tcp, flow.Protocol);
        Assert.Equal(1224UL, flow.Bytes);
        Assert.Equal(12UL, flow.Packets);
        Assert.Equal(new DateTime(2026, 11, 1, 10, 0, 0, 500, DateTimeKind.Utc), flow.Start);
        Assert.Equal(new DateTime(2026, 11, 1, 10, 0, 5, DateTimeKind.Utc).AddTicks(1_234_567), flow.End);
        Assert.Equal(DateTimeKind.Utc, flow.Start.Kind);
        Assert.Equal(Verdict.Allowed, flow.Verdict);
        Assert.Equal(DirectionHint.Unknown, flow.Direction);
        Assert.Null(flow.PolicyName);
        Assert.Equal("SRC:gke-prod-pool-1-efgh", flow.Reporter);

        var src = flow.SrcIdentity!;
        Assert.Equal(EndpointKind.Pod, src.Kind);
        Assert.Equal("shop", src.Namespace);
        Assert.Equal("frontend", src.Workload);
        Assert.Equal("Deployment", src.WorkloadKind);
        Assert.Equal("frontend-5c7b9d-qwert", src.Name);
        // The pod wins over the Service it backs.
        Assert.Equal(new WorkloadIdentity(EndpointKind.Pod, "shop", "checkout", "Deployment", "checkout-7d9f8c6b5-x2x9z"), flow.DstIdentity);
        Assert.Equal(WorkloadSource.Reported, flow.DstIdentity!.WorkloadSource);
    }

    [Fact]
    public void Vm_to_internet_entry_gets_a_vm_identity_on_the_vm_side_only()
    {
        var flow = Assert.Single(CloudRecordingSink.Decode(Decoder, VmToInternet).Accepted);

        Assert.Equal(PackedIp.Parse("10.128.0.2"), flow.SrcIp);
        Assert.Equal(PackedIp.Parse("198.51.100.75"), flow.DstIp);
        Assert.Equal(756UL, flow.Bytes);
        Assert.Equal(6UL, flow.Packets);
        Assert.Equal(new WorkloadIdentity(EndpointKind.Pod, "yoyodyne-102010", "vm-instance-01", "VM", "vm-instance-01"), flow.SrcIdentity);
        Assert.Null(flow.DstIdentity);
        Assert.Equal("SRC:vm-instance-01", flow.Reporter);
    }

    [Fact]
    public void Ipv6_addresses_and_dest_reporter_decode()
    {
        var flow = Assert.Single(CloudRecordingSink.Decode(Decoder, Ipv6).Accepted);

        Assert.Equal(PackedIp.Parse("2600:1900:4000:a1b2::5"), flow.SrcIp);
        Assert.Equal(PackedIp.Parse("2001:db8:1::20"), flow.DstIp);
        Assert.False(flow.SrcIp.IsV4);
        Assert.Equal(IpProtocols.Udp, flow.Protocol);
        Assert.Equal("DEST:dns-1", flow.Reporter);
        Assert.Equal("dns-1", flow.DstIdentity!.Workload);
    }

    [Theory]
    [InlineData("\"bytes_sent\":\"5000000000\",\"packets_sent\":\"4000000\"")] // int64 as strings (proto3 JSON)
    [InlineData("\"bytes_sent\":5000000000,\"packets_sent\":4000000")] // plain numbers
    [InlineData("\"bytes_sent\":5000000000.0,\"packets_sent\":4.0e6")] // Struct doubles
    public void Int64_counters_are_accepted_as_strings_numbers_and_integral_doubles(string counters)
    {
        string line = "{\"jsonPayload\":{" + counters + ",\"connection\":{\"src_ip\":\"10.0.0.1\",\"src_port\":\"1234\",\"dest_ip\":\"10.0.0.2\",\"dest_port\":443.0,\"protocol\":\"6\"},\"start_time\":\"2026-11-01T10:00:00Z\",\"end_time\":\"2026-11-01T10:00:01Z\"}}";

        var flow = Assert.Single(CloudRecordingSink.Decode(Decoder, line).Accepted);

        Assert.Equal(5_000_000_000UL, flow.Bytes);
        Assert.Equal(4_000_000UL, flow.Packets);
        Assert.Equal(1234, flow.SrcPort);
        Assert.Equal(443, flow.DstPort);
        Assert.Equal(IpProtocols.Tcp, flow.Protocol);
    }

    [Fact]
    public void Json_lines_are_line_oriented_and_each_bad_line_is_rejected_at_its_line()
    {
        string text = GkePodToPod + "\n\n" + VmToInternet.Replace("\"10.128.0.2\"", "\"10.128.0.999\"") + "\n" + Ipv6 + "\n{\"jsonPayload\": {\"connection\": \n" + VmToInternet + "\n";
        var bytes = Encoding.UTF8.GetBytes(text);

        Assert.True(Decoder.IsLineOriented(bytes));
        var sink = CloudRecordingSink.Decode(Decoder, bytes, out var cursor, "flows.jsonl", firstLine: 100);

        Assert.Equal(3, sink.Accepted.Count);
        Assert.Equal(2, sink.Rejected.Count);
        Assert.Equal(new SourcePosition("flows.jsonl", 102), sink.Rejected[0].Position);
        Assert.Contains("connection.src_ip '10.128.0.999' is not an IP address", sink.Rejected[0].Reason);
        Assert.StartsWith("gcp: ", sink.Rejected[0].Reason);
        Assert.Equal(104, sink.Rejected[1].Position.Line);
        Assert.Contains("invalid JSON", sink.Rejected[1].Reason);
        Assert.Equal(106, cursor.Line);
    }

    [Fact]
    public void Json_array_is_not_line_oriented_and_bad_elements_are_rejected_at_the_line_where_they_start()
    {
        string text = "[\n  " + Pretty(GkePodToPod) + ",\n  " + Pretty(VmToInternet.Replace("\"dest_port\":443", "\"dest_port\":70000")) + ",\n  "
            + Pretty(Ipv6) + "\n]\n";
        var bytes = Encoding.UTF8.GetBytes(text);

        Assert.False(Decoder.IsLineOriented(bytes));
        Assert.False(Decoder.IsLineOriented("\uFEFF  \n ["u8.ToArray()));
        var sink = CloudRecordingSink.Decode(Decoder, bytes, out var cursor);

        Assert.Equal(2, sink.Accepted.Count);
        var error = Assert.Single(sink.Rejected);
        Assert.Equal(CloudRecordingSink.LineOf(text, "\"insertId\": \"a1\"") - 1, error.Position.Line);
        Assert.Contains("connection.dest_port '70000' is not a port", error.Reason);
        Assert.Equal(1 + text.Count(c => c == '\n'), cursor.Line);
    }

    [Fact]
    public void Broken_json_inside_an_array_element_is_rejected_and_the_following_elements_still_decode()
    {
        string broken = Pretty(VmToInternet).Replace("\"packets_sent\": \"6\",", "\"packets_sent\": ,");
        string text = "[\n  " + Pretty(GkePodToPod) + ",\n  " + broken + ",\n  " + Pretty(Ipv6) + "\n]";

        var sink = CloudRecordingSink.Decode(Decoder, text);

        Assert.Equal(2, sink.Accepted.Count);
        Assert.Equal(PackedIp.Parse("2001:db8:1::20"), sink.Accepted[1].DstIp);
        var error = Assert.Single(sink.Rejected);
        Assert.Equal(CloudRecordingSink.LineOf(text, "\"packets_sent\": ,"), error.Position.Line);
        Assert.Contains("invalid JSON", error.Reason);
    }

    [Fact]
    public void Truncated_array_keeps_the_complete_elements_and_rejects_the_tail()
    {
        string text = "[\n  " + Pretty(GkePodToPod) + ",\n  " + Pretty(VmToInternet);
        text = text[..(text.Length - 40)];

        var sink = CloudRecordingSink.Decode(Decoder, text);

        Assert.Single(sink.Accepted);
        var error = Assert.Single(sink.Rejected);
        Assert.Equal(text.Count(c => c == '\n') + 1, error.Position.Line);
    }

    [Theory]
    [InlineData("""{"jsonPayload":{"bytes_sent":"1","start_time":"2026-11-01T10:00:00Z"}}""", "no jsonPayload.connection")]
    [InlineData("""{"jsonPayload":{"connection":{"dest_ip":"10.0.0.2","protocol":6},"start_time":"2026-11-01T10:00:00Z"}}""", "connection.src_ip is missing")]
    [InlineData("""{"jsonPayload":{"connection":{"src_ip":"10.0.0.1","dest_ip":"10.0.0.2"},"start_time":"2026-11-01T10:00:00Z"}}""", "connection.protocol is missing")]
    [InlineData("""{"jsonPayload":{"connection":{"src_ip":"10.0.0.1","dest_ip":"10.0.0.2","protocol":300},"start_time":"2026-11-01T10:00:00Z"}}""", "connection.protocol '300'")]
    [InlineData("""{"jsonPayload":{"connection":{"src_ip":"10.0.0.1","dest_ip":"10.0.0.2","protocol":6,"src_port":-1},"start_time":"2026-11-01T10:00:00Z"}}""", "connection.src_port '-1' is not a port")]
    [InlineData("""{"jsonPayload":{"connection":{"src_ip":"10.0.0.1","dest_ip":"10.0.0.2","protocol":6},"bytes_sent":"-5","start_time":"2026-11-01T10:00:00Z"}}""", "bytes_sent '-5' is not a non-negative integer")]
    [InlineData("""{"jsonPayload":{"connection":{"src_ip":"10.0.0.1","dest_ip":"10.0.0.2","protocol":6},"packets_sent":"12abc","start_time":"2026-11-01T10:00:00Z"}}""", "packets_sent '12abc'")]
    [InlineData("""{"jsonPayload":{"connection":{"src_ip":"10.0.0.1","dest_ip":"10.0.0.2","protocol":6},"start_time":"yesterday"}}""", "start_time 'yesterday' is not an RFC 3339 timestamp")]
    [InlineData("""{"jsonPayload":{"connection":{"src_ip":"10.0.0.1","dest_ip":"10.0.0.2","protocol":6}}}""", "no start_time, end_time or timestamp")]
    [InlineData("""{"jsonPayload":{"connection":[1,2]}}""", "connection is not an object")]
    [InlineData("""{"jsonPayload":"flows"}""", "jsonPayload is not an object")]
    [InlineData("""{"textPayload":"hello"}""", "not a flow log record")]
    [InlineData("""42""", "expected a JSON object, found a number")]
    [InlineData("""{"jsonPayload":{"connection":{"src_ip":"10.0.0.1",""", "invalid JSON")]
    public void Malformed_entries_are_rejected_with_a_reason_and_the_next_line_still_decodes(string bad, string reason)
    {
        string text = bad + "\n" + VmToInternet + "\n";

        var sink = CloudRecordingSink.Decode(Decoder, text, "gcp.jsonl");

        var error = Assert.Single(sink.Rejected);
        Assert.Contains(reason, error.Reason);
        Assert.Equal(new SourcePosition("gcp.jsonl", 1), error.Position);
        Assert.NotNull(error.Excerpt);
        Assert.Single(sink.Accepted);
    }

    [Fact]
    public void Firewall_rule_log_maps_disposition_rule_and_instance_side()
    {
        const string denied = """{"jsonPayload":{"connection":{"dest_ip":"10.128.0.5","dest_port":22,"protocol":6,"src_ip":"203.0.113.7","src_port":40123},"disposition":"DENIED","instance":{"project_id":"acme","region":"us-east1","vm_name":"bastion","zone":"us-east1-b"},"remote_location":{"country":"nld"},"rule_details":{"action":"DENY","direction":"INGRESS","priority":1000,"reference":"network:default/firewall:deny-ssh"},"vpc":{"project_id":"acme","subnetwork_name":"default","vpc_name":"default"}},"logName":"projects/acme/logs/compute.googleapis.com%2Ffirewall","timestamp":"2026-11-01T10:00:00.25Z"}""";
        const string allowedEgress = """{"jsonPayload":{"connection":{"dest_ip":"10.128.0.9","dest_port":5432,"protocol":6,"src_ip":"10.128.0.5","src_port":40124},"disposition":"ALLOWED","instance":{"project_id":"acme","vm_name":"api-1"},"remote_instance":{"project_id":"acme","vm_name":"db-1"},"rule_details":{"direction":"EGRESS","reference":"network:default/firewall:allow-db"}},"timestamp":"2026-11-01T10:00:01Z"}""";

        var sink = CloudRecordingSink.Decode(Decoder, denied + "\n" + allowedEgress);

        Assert.Empty(sink.Rejected);
        var deny = sink.Accepted[0];
        Assert.Equal(Verdict.Denied, deny.Verdict);
        Assert.Equal("network:default/firewall:deny-ssh", deny.PolicyName);
        Assert.Equal(new DateTime(2026, 11, 1, 10, 0, 0, 250, DateTimeKind.Utc), deny.Start);
        Assert.Equal(deny.Start, deny.End);
        Assert.Null(deny.SrcIdentity);
        Assert.Equal("bastion", deny.DstIdentity!.Workload);
        Assert.Equal("bastion", deny.Reporter);

        var allow = sink.Accepted[1];
        Assert.Equal(Verdict.Allowed, allow.Verdict);
        Assert.Equal("api-1", allow.SrcIdentity!.Workload);
        Assert.Equal("db-1", allow.DstIdentity!.Workload);
    }

    [Fact]
    public void Gke_node_and_service_details_map_to_node_and_service_identities()
    {
        const string line = """{"jsonPayload":{"connection":{"dest_ip":"10.60.0.10","dest_port":53,"protocol":17,"src_ip":"10.128.0.40","src_port":3000},"src_gke_details":{"cluster":{"cluster_location":"us-central1","cluster_name":"prod"}},"src_instance":{"project_id":"acme","vm_name":"gke-prod-pool-1-zz"},"dest_gke_details":{"cluster":{"cluster_name":"prod"},"service":[{"service_name":"kube-dns","service_namespace":"kube-system"}]},"reporter":"SRC","start_time":"2026-11-01T10:00:00Z","end_time":"2026-11-01T10:00:01Z"}}""";

        var flow = Assert.Single(CloudRecordingSink.Decode(Decoder, line).Accepted);

        Assert.Equal(new WorkloadIdentity(EndpointKind.Node, null, "gke-prod-pool-1-zz", "Node", "gke-prod-pool-1-zz"), flow.SrcIdentity);
        Assert.Equal(new WorkloadIdentity(EndpointKind.Service, "kube-system", "kube-dns", "Service"), flow.DstIdentity);
    }

    [Theory]
    [InlineData("DEPLOYMENT", "Deployment")]
    [InlineData("STATEFUL_SET", "StatefulSet")]
    [InlineData("STATEFULSET", "StatefulSet")]
    [InlineData("DAEMON_SET", "DaemonSet")]
    [InlineData("CRON_JOB", "CronJob")]
    [InlineData("JOB", "Job")]
    [InlineData("Rollout", "Rollout")]
    public void Google_workload_types_are_spelled_as_kubernetes_kinds(string google, string kubernetes) =>
        Assert.Equal(kubernetes, GcpVpcFlowLogDecoder.KubernetesKind(google));

    [Fact]
    public void Bare_pod_without_workload_uses_the_pod_name_as_workload()
    {
        const string line = """{"jsonPayload":{"connection":{"dest_ip":"10.0.0.2","protocol":1,"src_ip":"10.0.0.1"},"src_gke_details":{"pod":{"pod_name":"debug","pod_namespace":"default"}},"start_time":"2026-11-01T10:00:00Z"}}""";

        var flow = Assert.Single(CloudRecordingSink.Decode(Decoder, line).Accepted);

        Assert.Equal(new WorkloadIdentity(EndpointKind.Pod, "default", "debug", "Pod", "debug"), flow.SrcIdentity);
        Assert.True(flow.SrcIdentity!.IsBarePod);
        Assert.Equal(0, flow.SrcPort);
        Assert.Equal(IpProtocols.Icmp, flow.Protocol);
        Assert.Equal(flow.Start, flow.End);
    }

    [Fact]
    public void A_pod_without_workload_whose_name_shows_a_replicaset_belongs_to_its_deployment()
    {
        const string line = """{"jsonPayload":{"connection":{"dest_ip":"10.0.0.2","protocol":6,"src_ip":"10.0.0.1","src_port":41000,"dest_port":8080},"src_gke_details":{"pod":{"pod_name":"checkout-5d59d67564-qwxzt","pod_namespace":"shop"}},"start_time":"2026-11-01T10:00:00Z"}}""";

        var flow = Assert.Single(CloudRecordingSink.Decode(Decoder, line).Accepted);

        Assert.Equal(new WorkloadIdentity(EndpointKind.Pod, "shop", "checkout", "Deployment", "checkout-5d59d67564-qwxzt"), flow.SrcIdentity);
        Assert.Equal(WorkloadSource.Derived, flow.SrcIdentity!.WorkloadSource);
    }

    [Fact]
    public void A_bare_payload_without_the_log_entry_envelope_decodes()
    {
        const string line = """{"connection":{"src_ip":"10.0.0.1","src_port":1,"dest_ip":"10.0.0.2","dest_port":2,"protocol":6},"bytes_sent":"10","packets_sent":"1","start_time":"2026-11-01T10:00:00Z","end_time":"2026-11-01T10:00:01Z","reporter":"DEST"}""";

        var flow = Assert.Single(CloudRecordingSink.Decode(Decoder, line).Accepted);

        Assert.Equal(10UL, flow.Bytes);
        Assert.Equal("DEST", flow.Reporter);
    }

    [Fact]
    public void Entry_timestamp_stands_in_when_start_and_end_are_missing()
    {
        const string line = """{"jsonPayload":{"connection":{"src_ip":"10.0.0.1","dest_ip":"10.0.0.2","protocol":6}},"timestamp":"2026-11-01T10:00:09+02:00"}""";

        var flow = Assert.Single(CloudRecordingSink.Decode(Decoder, line).Accepted);

        Assert.Equal(new DateTime(2026, 11, 1, 8, 0, 9, DateTimeKind.Utc), flow.Start);
        Assert.Equal(flow.Start, flow.End);
    }

    [Fact]
    public void Repeated_pod_metadata_shares_one_identity_instance()
    {
        var sink = CloudRecordingSink.Decode(Decoder, GkePodToPod + "\n" + GkePodToPod + "\n");

        Assert.Equal(2, sink.Accepted.Count);
        Assert.Same(sink.Accepted[0].SrcIdentity, sink.Accepted[1].SrcIdentity);
        Assert.Same(sink.Accepted[0].Reporter, sink.Accepted[1].Reporter);
    }

    [Fact]
    public void Escaped_strings_decode_like_plain_ones()
    {
        const string line = """{"jsonPayload":{"connection":{"src_ip":"10.0.0.\u0031","dest_ip":"10.0.0.2","protocol":6},"start_time":"2026-11-01T10:00:00\u005A","src_instance":{"vm_name":"vm\u002d1"}}}""";

        var flow = Assert.Single(CloudRecordingSink.Decode(Decoder, line).Accepted);

        Assert.Equal(PackedIp.Parse("10.0.0.1"), flow.SrcIp);
        Assert.Equal("vm-1", flow.SrcIdentity!.Workload);
    }

    /// <summary>Re-indents a one-line entry the way `gcloud logging read --format=json` prints it.</summary>
    internal static string Pretty(string json)
    {
        using var document = System.Text.Json.JsonDocument.Parse(json);
        string pretty = System.Text.Json.JsonSerializer.Serialize(document.RootElement, new System.Text.Json.JsonSerializerOptions
        {
            WriteIndented = true,
            IndentSize = 2,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        });
        return pretty.Replace("\n", "\n  ");
    }
}
