using System.Text;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Hubble;
using FlowPolicy.Ingest.Formats.Internal;

namespace FlowPolicy.Tests.Formats;

/// <summary>
/// Fixtures follow the protobuf JSON mapping of cilium/cilium api/v1/flow/flow.proto as Cilium writes it
/// (protojson with UseProtoNames: proto field names, enums by name, uint64 as strings, absent defaults).
/// </summary>
public sealed class HubbleJsonTests
{
    private static readonly HubbleJsonDecoder Decoder = new();

    private const string Time = "2026-11-01T10:11:12.123456789Z";
    private static readonly DateTime ExpectedTime = new DateTime(2026, 11, 1, 10, 11, 12, DateTimeKind.Utc).AddTicks(1_234_567);

    private const string FrontendEndpoint =
        """{"ID":1234,"identity":51234,"namespace":"shop","labels":["k8s:app=frontend","k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=shop","k8s:io.cilium.k8s.policy.cluster=default","k8s:io.cilium.k8s.policy.serviceaccount=frontend","k8s:io.kubernetes.pod.namespace=shop","k8s:tier=web"],"pod_name":"frontend-7d4b9c-x2x9z","workloads":[{"name":"frontend","kind":"Deployment"}]}""";

    private const string CartEndpoint =
        """{"ID":2211,"identity":40021,"namespace":"shop","labels":["k8s:app=cart","k8s:io.cilium.k8s.policy.cluster=default","k8s:io.kubernetes.pod.namespace=shop"],"pod_name":"cart-0","workloads":[{"name":"cart","kind":"StatefulSet"}]}""";

    /// <summary>A Flow message: an egress TCP SYN from frontend to cart, allowed by a namespaced policy.</summary>
    private const string TcpFlow =
        """{"time":"2026-11-01T10:11:12.123456789Z","uuid":"6d3c1f3e-2b7e-4d8e-9a43-1f0c2b6c1a11","verdict":"FORWARDED","ethernet":{"source":"ae:6b:35:42:1a:0c","destination":"5e:0d:f1:77:aa:01"},"IP":{"source":"10.244.1.15","destination":"10.244.2.20","ipVersion":"IPv4"},"l4":{"TCP":{"source_port":43512,"destination_port":8080,"flags":{"SYN":true}}},"source":""" + FrontendEndpoint + ""","destination":""" + CartEndpoint + ""","Type":"L3_L4","node_name":"kind-worker","event_type":{"type":5},"traffic_direction":"EGRESS","policy_match_type":3,"is_reply":false,"egress_allowed_by":[{"name":"frontend-to-cart","namespace":"shop","labels":["k8s:io.cilium.k8s.policy.derived-from=CiliumNetworkPolicy","k8s:io.cilium.k8s.policy.name=frontend-to-cart","k8s:io.cilium.k8s.policy.namespace=shop"],"revision":"17"}],"Summary":"TCP Flags: SYN"}""";

    private static string Response(string flow, string node = "kind-worker") =>
        $$"""{"flow":{{flow}},"node_name":"{{node}}","time":"{{Time}}"}""";

    private static FlowRecord DecodeOne(string line) => JsonLineSink.Decode(Decoder, line).Single();

    private static string With(string flow, string replace, string by)
    {
        Assert.Contains(replace, flow); // a fixture edit that misses would test nothing
        return flow.Replace(replace, by);
    }

    private static void AssertFrontendToCart(FlowRecord flow)
    {
        Assert.Equal(ExpectedTime, flow.Start);
        Assert.Equal(flow.Start, flow.End);
        Assert.Equal(DateTimeKind.Utc, flow.Start.Kind);
        Assert.Equal(PackedIp.Parse("10.244.1.15"), flow.SrcIp);
        Assert.Equal(PackedIp.Parse("10.244.2.20"), flow.DstIp);
        Assert.Equal(43512, flow.SrcPort);
        Assert.Equal(8080, flow.DstPort);
        Assert.Equal(IpProtocols.Tcp, flow.Protocol);
        Assert.True(flow.HasTcpFlags);
        Assert.Equal(FlowRecord.TcpSyn, flow.TcpFlags);
        Assert.Equal(Verdict.Allowed, flow.Verdict);
        Assert.Equal(DirectionHint.Request, flow.Direction);
        Assert.Equal("kind-worker", flow.Reporter);
        Assert.Equal("shop/frontend-to-cart", flow.PolicyName);
        Assert.Equal(1UL, flow.Packets);
        Assert.Equal(0UL, flow.Bytes);

        var src = flow.SrcIdentity!;
        Assert.Equal(EndpointKind.Pod, src.Kind);
        Assert.Equal("shop", src.Namespace);
        Assert.Equal("frontend", src.Workload);
        Assert.Equal("Deployment", src.WorkloadKind);
        Assert.Equal("frontend-7d4b9c-x2x9z", src.Name);
        // Source prefixes stripped, Cilium bookkeeping labels dropped.
        Assert.Equal(new[] { "app=frontend", "tier=web" }, src.Labels.Select(l => l.Key + "=" + l.Value));

        var dst = flow.DstIdentity!;
        Assert.Equal("shop/cart", dst.ToString());
        Assert.Equal("StatefulSet", dst.WorkloadKind);
        Assert.Equal("cart-0", dst.Name);
        Assert.Equal(new[] { "app=cart" }, dst.Labels.Select(l => l.Key + "=" + l.Value));
    }

    [Fact]
    public void Get_flows_response_lines_decode_every_field()
    {
        AssertFrontendToCart(DecodeOne(Response(TcpFlow)));
    }

    [Fact]
    public void Bare_flow_lines_decode_the_same_as_wrapped_ones()
    {
        AssertFrontendToCart(DecodeOne(TcpFlow));
    }

    [Fact]
    public void Exporter_file_lines_decode()
    {
        // The Hubble exporter writes GetFlowsResponse objects, one per line, with node_name and time after the flow.
        string exporter = $$"""{"flow":{{TcpFlow}},"node_name":"kind-worker","time":"{{Time}}"}""" + "\n"
            + $$"""{"node_name":"kind-worker","time":"{{Time}}","flow":{{TcpFlow}}}""";
        var sink = JsonLineSink.Decode(Decoder, exporter);
        Assert.Equal(2, sink.Accepted.Count);
        Assert.All(sink.Accepted, AssertFrontendToCart);
    }

    [Fact]
    public void Lower_camel_case_names_and_numeric_enums_are_accepted()
    {
        // Protobuf JSON readers accept the json_name spelling and enum numbers; some tools write them.
        string camel = With(With(With(With(With(With(TcpFlow,
            "\"source_port\":43512", "\"sourcePort\":\"43512\""),
            "\"destination_port\":8080", "\"destinationPort\":8080"),
            "\"node_name\":\"kind-worker\"", "\"nodeName\":\"kind-worker\""),
            "\"is_reply\":false", "\"isReply\":false"),
            "\"verdict\":\"FORWARDED\"", "\"verdict\":1"),
            "\"egress_allowed_by\"", "\"egressAllowedBy\"");
        camel = camel.Replace("\"pod_name\"", "\"podName\"").Replace("\"traffic_direction\":\"EGRESS\"", "\"trafficDirection\":2");

        AssertFrontendToCart(DecodeOne(camel));
    }

    [Fact]
    public void Wrapper_time_and_node_fill_in_for_a_flow_without_them()
    {
        string flow = With(With(TcpFlow, "\"time\":\"2026-11-01T10:11:12.123456789Z\",", ""), "\"node_name\":\"kind-worker\",", "");
        var record = DecodeOne(Response(flow, node: "kind-worker"));
        Assert.Equal(ExpectedTime, record.Start);
        Assert.Equal("kind-worker", record.Reporter);
    }

    [Fact]
    public void Ipv6_icmpv6_flows_decode_without_ports()
    {
        string flow = """{"time":"2026-11-01T10:11:12Z","verdict":"FORWARDED","IP":{"source":"fd00:10:244:1::15","destination":"fd00:10:244:2::20","ipVersion":"IPv6"},"l4":{"ICMPv6":{"type":128}},"source":{"identity":51234,"namespace":"shop","labels":["k8s:app=frontend"],"pod_name":"frontend-1"},"destination":{"identity":40021,"namespace":"shop","labels":["k8s:app=cart"],"pod_name":"cart-0"},"Type":"L3_L4","node_name":"kind-worker","traffic_direction":"EGRESS","is_reply":false}""";
        var record = DecodeOne(Response(flow));
        Assert.Equal(PackedIp.Parse("fd00:10:244:1::15"), record.SrcIp);
        Assert.Equal(PackedIp.Parse("fd00:10:244:2::20"), record.DstIp);
        Assert.Equal(IpProtocols.IcmpV6, record.Protocol);
        Assert.Equal(0, record.SrcPort);
        Assert.Equal(0, record.DstPort);
        Assert.False(record.HasTcpFlags);
        // No workloads[]: an ordinal the app label agrees with is a StatefulSet's pod, inferred, not reported.
        Assert.Equal("frontend", record.SrcIdentity!.Workload);
        Assert.Equal("StatefulSet", record.SrcIdentity.WorkloadKind);
        Assert.Equal(WorkloadSource.Derived, record.SrcIdentity.WorkloadSource);
        Assert.Equal("frontend-1", record.SrcIdentity.Name);
    }

    [Theory]
    [InlineData("""{"UDP":{"source_port":53000,"destination_port":53}}""", 17, 53000, 53)]
    [InlineData("""{"SCTP":{"source_port":3868,"destination_port":3868}}""", 132, 3868, 3868)]
    [InlineData("""{"ICMPv4":{"type":8,"code":0}}""", 1, 0, 0)]
    [InlineData("""{"TCP":{"destination_port":443}}""", 6, 0, 443)]
    public void Every_layer4_kind_maps_to_its_protocol(string l4, int protocol, int srcPort, int dstPort)
    {
        var record = DecodeOne(With(TcpFlow, """{"TCP":{"source_port":43512,"destination_port":8080,"flags":{"SYN":true}}}""", l4));
        Assert.Equal(protocol, record.Protocol);
        Assert.Equal(srcPort, record.SrcPort);
        Assert.Equal(dstPort, record.DstPort);
        Assert.Equal(protocol == 6 && l4.Contains("flags"), record.HasTcpFlags);
    }

    [Fact]
    public void Tcp_flags_map_to_header_bits()
    {
        var record = DecodeOne(With(TcpFlow, "\"flags\":{\"SYN\":true}",
            "\"flags\":{\"FIN\":true,\"SYN\":true,\"RST\":true,\"PSH\":true,\"ACK\":true,\"URG\":true,\"ECE\":true,\"CWR\":true,\"NS\":true,\"XYZ\":true}"));
        Assert.Equal(0x1FF, record.TcpFlags);

        record = DecodeOne(With(TcpFlow, "\"flags\":{\"SYN\":true}", "\"flags\":{\"SYN\":true,\"ACK\":true,\"FIN\":false}"));
        Assert.Equal(FlowRecord.TcpSyn | FlowRecord.TcpAck, record.TcpFlags);
    }

    [Theory]
    [InlineData("\"is_reply\":true", DirectionHint.Reply)]
    [InlineData("\"is_reply\":false", DirectionHint.Request)]
    [InlineData("\"is_reply\":null", DirectionHint.Unknown)]
    [InlineData("\"reply\":true", DirectionHint.Reply)]
    [InlineData("\"reply\":false", DirectionHint.Unknown)]
    [InlineData("\"uuid_x\":false", DirectionHint.Unknown)]
    public void Reply_flag_sets_the_direction_hint(string field, DirectionHint expected)
    {
        var record = DecodeOne(With(TcpFlow, "\"is_reply\":false", field));
        Assert.Equal(expected, record.Direction);
    }

    [Theory]
    [InlineData("FORWARDED", Verdict.Allowed)]
    [InlineData("REDIRECTED", Verdict.Allowed)]
    [InlineData("TRANSLATED", Verdict.Allowed)]
    [InlineData("AUDIT", Verdict.Allowed)]
    [InlineData("DROPPED", Verdict.Denied)]
    [InlineData("ERROR", Verdict.Unknown)]
    [InlineData("TRACED", Verdict.Unknown)]
    [InlineData("VERDICT_UNKNOWN", Verdict.Unknown)]
    [InlineData("SOMETHING_NEWER", Verdict.Unknown)]
    public void Verdicts_map_to_allowed_denied_or_unknown(string verdict, Verdict expected)
    {
        var record = DecodeOne(With(TcpFlow, "\"verdict\":\"FORWARDED\"", $"\"verdict\":\"{verdict}\""));
        Assert.Equal(expected, record.Verdict);
    }

    [Fact]
    public void Policy_drops_are_denied_and_name_the_denying_policy()
    {
        string drop = """{"time":"2026-11-01T10:11:12Z","verdict":"DROPPED","drop_reason":181,"IP":{"source":"10.244.3.7","destination":"10.244.2.20","ipVersion":"IPv4"},"l4":{"TCP":{"source_port":50022,"destination_port":8080,"flags":{"SYN":true}}},"source":{"identity":61000,"namespace":"batch","labels":["k8s:app=report"],"pod_name":"report-28811-abcde","workloads":[{"name":"report","kind":"CronJob"}]},"destination":""" + CartEndpoint + ""","Type":"L3_L4","node_name":"kind-worker2","event_type":{"type":1,"sub_type":181},"traffic_direction":"INGRESS","drop_reason_desc":"POLICY_DENY","ingress_denied_by":[{"name":"deny-batch","namespace":"shop","revision":"18"}],"Summary":"TCP Flags: SYN"}""";
        var record = DecodeOne(Response(drop, "kind-worker2"));

        Assert.Equal(Verdict.Denied, record.Verdict);
        Assert.Equal("shop/deny-batch", record.PolicyName);
        Assert.Equal(DirectionHint.Unknown, record.Direction);
        Assert.Equal("kind-worker2", record.Reporter);
        Assert.Equal("CronJob", record.SrcIdentity!.WorkloadKind);
    }

    [Fact]
    public void Several_and_clusterwide_policies_are_joined()
    {
        var record = DecodeOne(With(TcpFlow, "\"egress_allowed_by\":[{\"name\":\"frontend-to-cart\",\"namespace\":\"shop\",",
            "\"egress_allowed_by\":[{\"name\":\"allow-dns\",\"kind\":\"CiliumClusterwideNetworkPolicy\"},{\"name\":\"frontend-to-cart\",\"namespace\":\"shop\","));
        Assert.Equal("allow-dns,shop/frontend-to-cart", record.PolicyName);
    }

    [Fact]
    public void Policy_list_follows_the_traffic_direction()
    {
        string both = With(TcpFlow, "\"egress_allowed_by\":", "\"ingress_allowed_by\":[{\"name\":\"cart-ingress\",\"namespace\":\"shop\"}],\"egress_allowed_by\":");
        Assert.Equal("shop/frontend-to-cart", DecodeOne(both).PolicyName);
        Assert.Equal("shop/cart-ingress", DecodeOne(With(both, "\"EGRESS\"", "\"INGRESS\"")).PolicyName);
    }

    [Fact]
    public void Audit_verdicts_are_allowed_and_marked()
    {
        string audit = With(TcpFlow, "\"verdict\":\"FORWARDED\"", "\"verdict\":\"AUDIT\"");
        Assert.Equal("audit", DecodeOne(audit).PolicyName);

        var record = DecodeOne(With(audit, "\"egress_allowed_by\":", "\"egress_denied_by\":[{\"name\":\"lockdown\",\"namespace\":\"shop\"}],\"x\":"));
        Assert.Equal(Verdict.Allowed, record.Verdict);
        Assert.Equal("audit:shop/lockdown", record.PolicyName);
    }

    [Theory]
    [InlineData("""["reserved:world"]""", 2u, EndpointKind.External)]
    [InlineData("""["reserved:world-ipv4","cidr:0.0.0.0/0"]""", 9u, EndpointKind.External)]
    [InlineData("""["reserved:host","reserved:kube-apiserver"]""", 1u, EndpointKind.Node)]
    [InlineData("""["reserved:remote-node"]""", 6u, EndpointKind.Node)]
    // The API server (identity 7) is node traffic wherever it runs, never a /32 of some address; with the world label
    // too (a managed API server outside the nodes) it stays the cluster's.
    [InlineData("""["reserved:kube-apiserver"]""", 7u, EndpointKind.Node)]
    [InlineData("""["reserved:kube-apiserver","reserved:world"]""", 7u, EndpointKind.Node)]
    [InlineData("""["reserved:world","reserved:kube-apiserver"]""", 7u, EndpointKind.Node)]
    [InlineData("""[]""", 7u, EndpointKind.Node)]
    [InlineData("""[]""", 2u, EndpointKind.External)]
    [InlineData("""[]""", 6u, EndpointKind.Node)]
    public void Reserved_labels_and_identities_mark_nodes_and_the_world(string labels, uint identity, EndpointKind kind)
    {
        string endpoint = $$"""{"identity":{{identity}},"labels":{{labels}}}""";
        var record = DecodeOne(With(TcpFlow, "\"destination\":" + CartEndpoint, "\"destination\":" + endpoint));
        Assert.Equal(kind, record.DstIdentity!.Kind);
        Assert.Null(record.DstIdentity.Namespace);
        Assert.Empty(record.DstIdentity.Labels); // reserved and cidr labels are not workload labels
    }

    [Fact]
    public void Empty_endpoints_carry_no_identity()
    {
        var record = DecodeOne(With(TcpFlow, "\"destination\":" + CartEndpoint, "\"destination\":{\"ID\":0}"));
        Assert.Null(record.DstIdentity);
    }

    [Fact]
    public void Namespace_falls_back_to_the_pod_namespace_label_and_label_sources_are_stripped()
    {
        string endpoint = """{"identity":777,"labels":["k8s:io.kubernetes.pod.namespace=kube-system","k8s:k8s-app=kube-dns","container:extra=1","unprefixed=yes","k8s:io.cilium.k8s.policy.serviceaccount=coredns"]}""";
        var record = DecodeOne(With(TcpFlow, "\"destination\":" + CartEndpoint, "\"destination\":" + endpoint));
        var dst = record.DstIdentity!;
        Assert.Equal(EndpointKind.Pod, dst.Kind);
        Assert.Equal("kube-system", dst.Namespace);
        Assert.Equal(new[] { "extra=1", "k8s-app=kube-dns", "unprefixed=yes" }, dst.Labels.Select(l => l.Key + "=" + l.Value));
    }

    [Fact]
    public void Identical_endpoints_within_a_source_share_one_identity()
    {
        var sink = JsonLineSink.Decode(Decoder, Response(TcpFlow) + "\n" + TcpFlow + "\n" + Response(TcpFlow));
        Assert.Equal(3, sink.Accepted.Count);
        Assert.Same(sink.Accepted[0].SrcIdentity, sink.Accepted[1].SrcIdentity);
        Assert.Same(sink.Accepted[0].DstIdentity, sink.Accepted[2].DstIdentity);
        Assert.Same(sink.Accepted[0].PolicyName, sink.Accepted[2].PolicyName);
        Assert.Same(sink.Accepted[0].Reporter, sink.Accepted[1].Reporter);
    }

    [Fact]
    public void Records_without_ip_or_flow_are_skipped_and_counted()
    {
        string l7 = """{"time":"2026-11-01T10:11:12Z","verdict":"FORWARDED","source":{"namespace":"shop","pod_name":"frontend-1"},"Type":"L7","node_name":"kind-worker","l7":{"type":"REQUEST","http":{"method":"GET","url":"http://cart/"}}}""";
        string sock = """{"time":"2026-11-01T10:11:12Z","verdict":"TRACED","Type":"SOCK","node_name":"kind-worker","sock_xlate_point":"SOCK_XLATE_POINT_PRE_DIRECTION_FWD","socket_cookie":"12345","cgroup_id":"678"}""";
        string noL4 = With(TcpFlow, "\"l4\":{\"TCP\":{\"source_port\":43512,\"destination_port\":8080,\"flags\":{\"SYN\":true}}},", "");
        string nodeStatus = """{"node_status":{"state_change":"NODE_CONNECTED","node_names":["kind-worker"]},"node_name":"kind-worker","time":"2026-11-01T10:11:12Z"}""";
        string lost = """{"lost_events":{"source":"HUBBLE_RING_BUFFER","num_events_lost":"42"},"time":"2026-11-01T10:11:12Z"}""";
        var text = string.Join("\n", Response(l7), sock, noL4, nodeStatus, lost, TcpFlow);

        var sink = JsonLineSink.Decode(Decoder, text);

        Assert.Single(sink.Accepted);
        Assert.Empty(sink.Rejected);
        Assert.Equal(
            new[] { HubbleJsonDecoder.SkipNoIpL7, HubbleJsonDecoder.SkipNoIpSock, HubbleJsonDecoder.SkipNoL4, HubbleJsonDecoder.SkipNodeStatus, HubbleJsonDecoder.SkipLostEvents },
            sink.Skipped.Select(s => s.Reason));
        Assert.Equal(new long[] { 1, 2, 3, 4, 5 }, sink.Skipped.Select(s => s.Position.Line));
    }

    [Theory]
    [InlineData("{\"flow\":{\"time\":\"2026-11-01T10:11:12Z\",\"IP\":{\"source\":", "invalid JSON")]
    [InlineData("""{"flow":{"time":"2026-11-01T10:11:12Z"}} trailing""", "invalid JSON")]
    [InlineData("""["not","an","object"]""", "expected a JSON object")]
    [InlineData("""{}""", "not a Hubble flow")]
    [InlineData("""{"something":"else"}""", "not a Hubble flow")]
    [InlineData("""{"flow":"text"}""", "'flow'")]
    [InlineData("""{"flow":{"verdict":"FORWARDED","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"UDP":{"destination_port":53}}}}""", "'time'")]
    [InlineData("""{"time":"10:11","verdict":"FORWARDED","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"UDP":{}}}""", "'time'")]
    [InlineData("""{"time":1762000000,"IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"UDP":{}}}""", "'time'")]
    [InlineData("""{"time":"2026-11-01T10:11:12Z","IP":{"destination":"10.0.0.2"},"l4":{"UDP":{}}}""", "'IP.source'")]
    [InlineData("""{"time":"2026-11-01T10:11:12Z","IP":{"source":"10.0.0.1"},"l4":{"UDP":{}}}""", "'IP.destination'")]
    [InlineData("""{"time":"2026-11-01T10:11:12Z","IP":{"source":"10.0.0.300","destination":"10.0.0.2"},"l4":{"UDP":{}}}""", "'IP.source'")]
    [InlineData("""{"time":"2026-11-01T10:11:12Z","IP":{"source":10,"destination":"10.0.0.2"},"l4":{"UDP":{}}}""", "'IP.source'")]
    [InlineData("""{"time":"2026-11-01T10:11:12Z","IP":"10.0.0.1","l4":{"UDP":{}}}""", "'IP'")]
    [InlineData("""{"time":"2026-11-01T10:11:12Z","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{"source_port":true}}}""", "'l4.TCP.source_port'")]
    [InlineData("""{"time":"2026-11-01T10:11:12Z","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"UDP":{"destination_port":70000}}}""", "'l4.UDP.destination_port'")]
    [InlineData("""{"time":"2026-11-01T10:11:12Z","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"UDP":{"destination_port":"http"}}}""", "'l4.UDP.destination_port'")]
    [InlineData("""{"time":"2026-11-01T10:11:12Z","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{"flags":{"SYN":"yes"}}}}""", "'l4.TCP.flags'")]
    [InlineData("""{"time":"2026-11-01T10:11:12Z","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"ICMPv4":{"type":-1}}}""", "'l4.ICMPv4.type'")]
    [InlineData("""{"time":"2026-11-01T10:11:12Z","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":[]}""", "'l4'")]
    [InlineData("""{"time":"2026-11-01T10:11:12Z","verdict":true,"IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"UDP":{}}}""", "'verdict'")]
    [InlineData("""{"time":"2026-11-01T10:11:12Z","is_reply":"yes","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"UDP":{}}}""", "'is_reply'")]
    [InlineData("""{"time":"2026-11-01T10:11:12Z","source":[],"IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"UDP":{}}}""", "'source'")]
    [InlineData("""{"time":"2026-11-01T10:11:12Z","source":{"labels":"k8s:app=x"},"IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"UDP":{}}}""", "'source.labels'")]
    [InlineData("""{"time":"2026-11-01T10:11:12Z","destination":{"labels":[1]},"IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"UDP":{}}}""", "'destination.labels[]'")]
    [InlineData("""{"time":"2026-11-01T10:11:12Z","destination":{"identity":-3},"IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"UDP":{}}}""", "'destination.identity'")]
    [InlineData("""{"time":"2026-11-01T10:11:12Z","destination":{"workloads":[{"name":5}]},"IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"UDP":{}}}""", "'destination.workloads[].name'")]
    [InlineData("""{"time":"2026-11-01T10:11:12Z","egress_allowed_by":{"name":"x"},"IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"UDP":{}}}""", "'egress_allowed_by'")]
    [InlineData("""{"time":"2026-11-01T10:11:12Z","ingress_denied_by":["x"],"IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"UDP":{}}}""", "'ingress_denied_by[]'")]
    [InlineData("""{"time":"2026-11-01T10:11:12Z","drop_reason_desc":{},"IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"UDP":{}}}""", "'drop_reason_desc'")]
    [InlineData("""{"time":"2026-11-01T10:11:12Z","node_name":42,"IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"UDP":{}}}""", "'node_name'")]
    public void Malformed_lines_are_rejected_naming_the_problem(string line, string expected)
    {
        var sink = JsonLineSink.Decode(Decoder, line);
        Assert.Empty(sink.Accepted);
        Assert.Empty(sink.Skipped);
        var error = Assert.Single(sink.Rejected);
        Assert.StartsWith("hubble: ", error.Reason);
        Assert.Contains(expected, error.Reason);
        Assert.Equal(1, error.Position.Line);
    }

    [Fact]
    public void Ports_given_as_decimal_strings_follow_the_protobuf_json_mapping()
    {
        var record = DecodeOne(With(TcpFlow, "\"source_port\":43512,\"destination_port\":8080", "\"source_port\":\"43512\",\"destination_port\":\"8080\""));
        Assert.Equal(43512, record.SrcPort);
        Assert.Equal(8080, record.DstPort);
    }

    [Fact]
    public void Good_lines_survive_bad_neighbours_and_rejects_carry_line_numbers()
    {
        string good = Response(TcpFlow);
        var text = string.Join("\n",
            good,                                                                             // 1
            "{\"flow\":{\"time\":\"2026-11-01T10:11:12Z\"",                                   // 2 truncated
            good,                                                                             // 3
            With(TcpFlow, "\"source_port\":43512", "\"source_port\":[43512]"),                // 4 bad port type
            With(TcpFlow, "\"IP\":{\"source\":\"10.244.1.15\",", "\"IP\":{"),                 // 5 IP without source
            "",                                                                               // 6 blank
            "this is not json",                                                               // 7
            good[..(good.Length / 2)],                                                        // 8 cut in half
            good);                                                                            // 9

        var sink = JsonLineSink.Decode(Decoder, text, "hubble-export.log");

        Assert.Equal(3, sink.Accepted.Count);
        Assert.All(sink.Accepted, AssertFrontendToCart);
        Assert.Equal(new long[] { 2, 4, 5, 7, 8 }, sink.Rejected.Select(r => r.Position.Line));
        Assert.All(sink.Rejected, r => Assert.Equal("hubble-export.log", r.Position.Source));
        Assert.Contains("'l4.TCP.source_port'", sink.Rejected[1].Reason);
        Assert.Contains("'IP.source'", sink.Rejected[2].Reason);
    }

    [Fact]
    public void Random_and_mutated_input_never_throws()
    {
        var random = new Random(4242);
        var seeds = new[] { Response(TcpFlow), TcpFlow, With(TcpFlow, "\"TCP\"", "\"UDP\"") }
            .Select(s => Encoding.UTF8.GetBytes(s)).ToList();
        var state = new JsonDecodeState();
        var outcomes = new int[3];

        for (int i = 0; i < 4000; i++)
        {
            byte[] input = JsonFuzz.Mutate(random, seeds[random.Next(seeds.Count)], i);
            var outcome = HubbleJsonDecoder.Read(input, state, out _, out var reason);
            outcomes[(int)outcome]++;
            if (outcome != LineOutcome.Accepted) Assert.False(string.IsNullOrWhiteSpace(reason));
        }
        Assert.True(outcomes[(int)LineOutcome.Rejected] > 1000, "the fuzzer is not producing bad input");
        Assert.True(outcomes[(int)LineOutcome.Accepted] > 50, "the fuzzer destroys every input");

        var text = new StringBuilder();
        int lines = 0;
        for (int i = 0; i < 500; i++)
        {
            var line = Encoding.UTF8.GetString(JsonFuzz.Mutate(random, seeds[random.Next(seeds.Count)], i)).Replace('\n', ' ').Replace('\r', ' ');
            if (string.IsNullOrWhiteSpace(line.Replace('\t', ' '))) continue;
            text.Append(line).Append('\n');
            lines++;
        }
        var sink = JsonLineSink.Decode(Decoder, text.ToString());
        Assert.Equal(lines, sink.Outcomes);
        Assert.DoesNotContain(sink.Rejected, r => r.Reason.Contains("Exception", StringComparison.Ordinal));
    }
}
