using System.Text;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.GoFlow2;

namespace FlowPolicy.Tests.Formats;

public sealed class GoFlow2JsonDecoderTests
{
    // GoFlow2 v2 JSON (one object per line; every field printed, proto/etype rendered as names).
    private const string V2Ipfix =
        """{"type":"IPFIX","time_received_ns":1767324720787460121,"sequence_num":65361,"sampling_rate":0,"sampler_address":"192.168.88.1","time_flow_start_ns":1767324700000000000,"time_flow_end_ns":1767324720000000000,"bytes":1432,"packets":9,"src_addr":"192.168.89.2","dst_addr":"192.168.88.30","etype":"IPv4","proto":"TCP","src_port":51544,"dst_port":443,"in_if":11,"out_if":12,"src_mac":"42:61:64:55:53:42","dst_mac":"48:6f:73:74:50:43","src_vlan":0,"dst_vlan":0,"vlan_id":0,"ip_tos":0,"forwarding_status":64,"ip_ttl":0,"ip_flags":0,"tcp_flags":27,"icmp_type":0,"icmp_code":0,"ipv6_flow_label":0,"fragment_id":0,"fragment_offset":0,"src_as":0,"dst_as":0,"next_hop":"0.0.0.0","next_hop_as":0,"src_net":"0.0.0.0/0","dst_net":"0.0.0.0/0","bgp_next_hop":"","bgp_communities":[],"as_path":[],"mpls_ttl":[],"mpls_label":[],"mpls_ip":[],"observation_domain_id":0,"observation_point_id":0,"layer_stack":[],"layer_size":[]}""";

    private const string V2SflowIpv6 =
        """{"type":"SFLOW_5","time_received_ns":1681583295157626000,"sequence_num":2999,"sampling_rate":100,"sampler_address":"192.168.0.1","time_flow_start_ns":1681583295157626000,"time_flow_end_ns":1681583295157626000,"bytes":1500,"packets":1,"src_addr":"fd01::1","dst_addr":"fd01::2","etype":"IPv6","proto":"TCP","src_port":443,"dst_port":50001,"tcp_flags":16}""";

    // GoFlow2 v1 JSON (Go struct names, numbers for proto, seconds for TimeFlowStart/End).
    private const string V1Sflow =
        """{"Type":"SFLOW_5","TimeReceived":1621820000,"SequenceNum":12,"SamplingRate":1,"SamplerAddress":"192.168.1.254","TimeFlowStart":1621820000,"TimeFlowEnd":1621820000,"Bytes":70,"Packets":1,"SrcAddr":"192.168.1.1","DstAddr":"10.0.0.1","Etype":2048,"Proto":6,"SrcPort":46344,"DstPort":443,"InIf":1,"OutIf":2,"SrcMac":"ff:ff:ff:ff:ff:ff","DstMac":"ff:ff:ff:ff:ff:ff","IPTTL":64,"IPTos":0,"TCPFlags":16,"ForwardingStatus":0}""";

    // v1 protobuf-JSON style: bytes fields as base64 of the raw address (10.0.0.1, 2001:db8::1, 192.0.2.1).
    private const string V1Base64 =
        """{"Type":"NETFLOW_V9","TimeReceived":1700000010,"TimeFlowStartMs":1700000000250,"TimeFlowEndMs":1700000009750,"SamplerAddress":"wAACAQ==","SrcAddr":"CgAAAQ==","DstAddr":"IAENuAAAAAAAAAAAAAAAAQ==","Proto":17,"SrcPort":5353,"DstPort":53,"Bytes":120,"Packets":2,"SamplingRate":0}""";

    private static Sink Decode(string text, GoFlow2JsonDecoder? decoder = null)
    {
        var cursor = new DecodeCursor("flows/0@42");
        var sink = new Sink();
        (decoder ?? new GoFlow2JsonDecoder()).Decode(Encoding.UTF8.GetBytes(text), ref cursor, sink);
        return sink;
    }

    [Fact]
    public void V2_ipfix_record_decodes_every_mapped_field()
    {
        var sink = Decode(V2Ipfix);

        Assert.Empty(sink.Rejects);
        var flow = Assert.Single(sink.Flows);
        Assert.Equal(PackedIp.Parse("192.168.89.2"), flow.SrcIp);
        Assert.Equal(PackedIp.Parse("192.168.88.30"), flow.DstIp);
        Assert.Equal(51544, flow.SrcPort);
        Assert.Equal(443, flow.DstPort);
        Assert.Equal(IpProtocols.Tcp, flow.Protocol);
        Assert.Equal(1432UL, flow.Bytes); // sampling_rate 0: not sampled
        Assert.Equal(9UL, flow.Packets);
        Assert.Equal(DateTime.UnixEpoch.AddTicks(1767324700000000000 / 100), flow.Start);
        Assert.Equal(DateTime.UnixEpoch.AddTicks(1767324720000000000 / 100), flow.End);
        Assert.Equal(Verdict.Allowed, flow.Verdict); // forwarding_status 64: forwarded
        Assert.True(flow.HasTcpFlags);
        Assert.Equal(27, flow.TcpFlags);
        Assert.Equal(DirectionHint.Unknown, flow.Direction);
        Assert.Equal("192.168.88.1", flow.Reporter);
    }

    [Fact]
    public void Sampled_counters_are_multiplied_by_the_sampling_rate_and_ipv6_is_decoded()
    {
        var flow = Assert.Single(Decode(V2SflowIpv6).Flows);

        Assert.Equal(PackedIp.Parse("fd01::1"), flow.SrcIp);
        Assert.Equal(PackedIp.Parse("fd01::2"), flow.DstIp);
        Assert.Equal(150_000UL, flow.Bytes);
        Assert.Equal(100UL, flow.Packets);
        Assert.Equal(flow.Start, flow.End);
        Assert.Equal(Verdict.Unknown, flow.Verdict); // sFlow has no forwarding status
    }

    [Fact]
    public void V1_camel_case_record_decodes()
    {
        var sink = Decode(V1Sflow);

        Assert.Empty(sink.Rejects);
        var flow = Assert.Single(sink.Flows);
        Assert.Equal(PackedIp.Parse("192.168.1.1"), flow.SrcIp);
        Assert.Equal(PackedIp.Parse("10.0.0.1"), flow.DstIp);
        Assert.Equal(46344, flow.SrcPort);
        Assert.Equal(443, flow.DstPort);
        Assert.Equal(IpProtocols.Tcp, flow.Protocol);
        Assert.Equal(70UL, flow.Bytes); // SamplingRate 1
        Assert.Equal(DateTime.UnixEpoch.AddSeconds(1621820000), flow.Start);
        Assert.Equal(FlowRecord.TcpAck, flow.TcpFlags);
        Assert.Equal(Verdict.Unknown, flow.Verdict);
        Assert.Equal("192.168.1.254", flow.Reporter);
    }

    [Fact]
    public void V1_base64_addresses_and_millisecond_times_decode()
    {
        var sink = Decode(V1Base64);

        Assert.Empty(sink.Rejects);
        var flow = Assert.Single(sink.Flows);
        Assert.Equal(PackedIp.Parse("10.0.0.1"), flow.SrcIp);
        Assert.Equal(PackedIp.Parse("2001:db8::1"), flow.DstIp);
        Assert.Equal("192.0.2.1", flow.Reporter);
        Assert.Equal(IpProtocols.Udp, flow.Protocol);
        Assert.Equal(DateTime.UnixEpoch.AddMilliseconds(1700000000250), flow.Start);
        Assert.Equal(DateTime.UnixEpoch.AddMilliseconds(1700000009750), flow.End);
        Assert.False(flow.HasTcpFlags);
    }

    [Fact]
    public void Protojson_rendering_of_v2_protobuf_messages_decodes()
    {
        // protojson: lowerCamelCase names, uint64 as strings, bytes fields as base64, enums by name.
        var flow = Assert.Single(Decode(
            """{"type":"IPFIX","timeReceivedNs":"1700000001123000000","timeFlowStartNs":"1700000000100123456","timeFlowEndNs":"1700000000900123456","samplerAddress":"wAACAQ==","srcAddr":"wAACCg==","dstAddr":"xjNkFA==","srcPort":12345,"dstPort":443,"proto":6,"bytes":"321","packets":"7","samplingRate":"100","forwardingStatus":137}""").Flows);

        Assert.Equal(PackedIp.Parse("192.0.2.10"), flow.SrcIp);
        Assert.Equal(PackedIp.Parse("198.51.100.20"), flow.DstIp);
        Assert.Equal("192.0.2.1", flow.Reporter);
        Assert.Equal(32_100UL, flow.Bytes);
        Assert.Equal(700UL, flow.Packets);
        Assert.Equal(Verdict.Denied, flow.Verdict);
        Assert.Equal(DateTime.UnixEpoch.AddTicks(17000000001001234), flow.Start);
    }

    [Fact]
    public void Nanosecond_times_win_over_second_times_in_the_same_record()
    {
        var flow = Assert.Single(Decode(
            """{"TimeFlowStart":1700000000,"TimeFlowStartNs":1700000000500000000,"TimeFlowEnd":1700000001,"SrcAddr":"10.0.0.1","DstAddr":"10.0.0.2"}""").Flows);
        Assert.Equal(DateTime.UnixEpoch.AddMilliseconds(1700000000500), flow.Start);
        Assert.Equal(DateTime.UnixEpoch.AddSeconds(1700000001), flow.End);
    }

    [Theory]
    [InlineData(0, Verdict.Unknown)]
    [InlineData(63, Verdict.Unknown)]
    [InlineData(64, Verdict.Allowed)] // forwarded, unknown reason
    [InlineData(66, Verdict.Allowed)] // forwarded, fragmented
    [InlineData(127, Verdict.Allowed)]
    [InlineData(128, Verdict.Denied)] // dropped, unknown reason
    [InlineData(137, Verdict.Denied)] // dropped, ACL deny
    [InlineData(191, Verdict.Denied)]
    [InlineData(194, Verdict.Unknown)] // consumed by the device itself
    [InlineData(1000, Verdict.Unknown)]
    public void Forwarding_status_maps_to_a_verdict_per_the_ipfix_registry(int status, Verdict expected)
    {
        var flow = Assert.Single(Decode(
            $$"""{"time_received_ns":1700000000000000000,"src_addr":"10.0.0.1","dst_addr":"10.0.0.2","forwarding_status":{{status}}}""").Flows);
        Assert.Equal(expected, flow.Verdict);
    }

    [Theory]
    [InlineData("6", IpProtocols.Tcp)]
    [InlineData("\"TCP\"", IpProtocols.Tcp)]
    [InlineData("\"udp\"", IpProtocols.Udp)]
    [InlineData("\"ICMPv6\"", IpProtocols.IcmpV6)]
    [InlineData("\"GRE\"", (byte)47)]
    [InlineData("\"\"", (byte)0)] // GoFlow2's renderer has no name for this protocol
    [InlineData("132", IpProtocols.Sctp)]
    public void Proto_is_read_as_a_number_or_a_name(string json, byte expected)
    {
        var flow = Assert.Single(Decode(
            $$"""{"time_received_ns":1700000000000000000,"src_addr":"10.0.0.1","dst_addr":"10.0.0.2","proto":{{json}}}""").Flows);
        Assert.Equal(expected, flow.Protocol);
    }

    [Fact]
    public void Rfc3339_times_from_goflow2_datetime_renderers_are_read()
    {
        var flow = Assert.Single(Decode(
            """{"type":"IPFIX","time_received_ns":"2025-03-15T17:10:51.064235982Z","sampling_rate":0,"sampler_address":"10.255.255.254","time_flow_start_ns":0,"time_flow_end_ns":0,"bytes":52,"packets":1,"src_addr":"10.8.31.235","dst_addr":"1.1.1.1","proto":"UDP","src_port":41015,"dst_port":53}""").Flows);
        Assert.Equal(new DateTime(2025, 3, 15, 17, 10, 51, DateTimeKind.Utc).AddTicks(642359), flow.Start);
        Assert.Equal(flow.Start, flow.End);
    }

    [Fact]
    public void Records_without_flow_times_use_the_receive_time()
    {
        var flow = Assert.Single(Decode(
            """{"type":"NETFLOW_V5","time_received_ns":1791323155565530742,"time_flow_start_ns":0,"time_flow_end_ns":0,"src_addr":"192.0.2.10","dst_addr":"198.51.100.20","proto":"TCP","src_port":49152,"dst_port":23}""").Flows);
        Assert.Equal(DateTime.UnixEpoch.AddTicks(1791323155565530742 / 100), flow.Start);
    }

    [Fact]
    public void Zero_tcp_flags_mean_not_reported()
    {
        var flow = Assert.Single(Decode(
            """{"time_received_ns":1700000000000000000,"src_addr":"10.0.0.1","dst_addr":"10.0.0.2","proto":"TCP","tcp_flags":0}""").Flows);
        Assert.False(flow.HasTcpFlags);
    }

    [Fact]
    public void Non_ip_samples_are_skipped_not_rejected()
    {
        var sink = Decode(
            """{"type":"SFLOW_5","time_received_ns":1700000000000000000,"src_addr":"","dst_addr":"","etype":"ARP","proto":"","src_mac":"aa:bb:cc:dd:ee:ff"}""");
        Assert.Empty(sink.Flows);
        Assert.Empty(sink.Rejects);
        Assert.Equal("non-IP", Assert.Single(sink.Skips).Reason);
    }

    [Fact]
    public void Reporter_strings_are_shared_between_records_of_one_sampler()
    {
        var sink = Decode(V2Ipfix + "\n" + V2Ipfix + "\n");
        Assert.Same(sink.Flows[0].Reporter, sink.Flows[1].Reporter);
    }

    [Fact]
    public void Escaped_strings_are_unescaped()
    {
        var flow = Assert.Single(Decode(
            """{"time_received_ns":1700000000000000000,"src_addr":"10.0.0.\u0031","dst_addr":"10.0.0.2"}""").Flows);
        Assert.Equal(PackedIp.Parse("10.0.0.1"), flow.SrcIp);
    }

    [Theory]
    [InlineData("not json at all", "invalid JSON")]
    [InlineData("""["src_addr","10.0.0.1"]""", "expected a JSON object")]
    [InlineData("""{"time_received_ns":1700000000000000000,"dst_addr":"10.0.0.2"}""", "no src_addr")]
    [InlineData("""{"time_received_ns":1700000000000000000,"src_addr":"10.0.0.1"}""", "no dst_addr")]
    [InlineData("""{"time_received_ns":1700000000000000000}""", "no src_addr or dst_addr")]
    [InlineData("""{"time_received_ns":1700000000000000000,"src_addr":"10.0.0.300","dst_addr":"10.0.0.2"}""", "src_addr '10.0.0.300'")]
    [InlineData("""{"time_received_ns":1700000000000000000,"src_addr":10,"dst_addr":"10.0.0.2"}""", "src_addr is not a string")]
    [InlineData("""{"time_received_ns":1700000000000000000,"src_addr":"10.0.0.1","dst_addr":"10.0.0.2","dst_port":70000}""", "dst_port 70000")]
    [InlineData("""{"time_received_ns":1700000000000000000,"src_addr":"10.0.0.1","dst_addr":"10.0.0.2","src_port":-1}""", "src_port is not")]
    [InlineData("""{"time_received_ns":1700000000000000000,"src_addr":"10.0.0.1","dst_addr":"10.0.0.2","bytes":1.5}""", "bytes is not")]
    [InlineData("""{"time_received_ns":1700000000000000000,"src_addr":"10.0.0.1","dst_addr":"10.0.0.2","packets":"many"}""", "packets is not")]
    [InlineData("""{"time_received_ns":1700000000000000000,"src_addr":"10.0.0.1","dst_addr":"10.0.0.2","proto":"carrier-pigeon"}""", "proto 'carrier-pigeon'")]
    [InlineData("""{"time_received_ns":1700000000000000000,"src_addr":"10.0.0.1","dst_addr":"10.0.0.2","proto":300}""", "proto is not")]
    [InlineData("""{"src_addr":"10.0.0.1","dst_addr":"10.0.0.2"}""", "no time_flow_start_ns")]
    [InlineData("""{"time_received_ns":"yesterday","src_addr":"10.0.0.1","dst_addr":"10.0.0.2"}""", "time_received_ns is not")]
    [InlineData("""{"TimeFlowStart":99999999999999,"SrcAddr":"10.0.0.1","DstAddr":"10.0.0.2"}""", "TimeFlowStart 99999999999999 is out of range")]
    [InlineData("""{"time_received_ns":1700000000000000000,"src_addr":"10.0.0.1","dst_addr":"10.0.0.2"} {}""", "invalid JSON")]
    [InlineData("""{"time_received_ns":1700000000000000000,"src_addr":"10.0.0.1","dst_addr":"10.0.0.2",""", "JSON")]
    [InlineData("""{"time_received_ns":1700000000000000000,"src_addr":"10.0.0.1","dst_addr":"10.0.0.2","bytes":18446744073709551615,"sampling_rate":2}""", "overflows")]
    public void Malformed_records_are_rejected_naming_the_problem_and_the_rest_decodes(string bad, string expectedReason)
    {
        var sink = Decode(V2Ipfix + "\n" + bad + "\n" + V1Sflow + "\n");

        Assert.Equal(2, sink.Flows.Count);
        var reject = Assert.Single(sink.Rejects);
        Assert.Contains(expectedReason, reject.Reason);
        Assert.StartsWith("goflow2: ", reject.Reason);
        Assert.Equal(new SourcePosition("flows/0@42", 2), reject.Position);
    }

    [Fact]
    public void Random_and_mutated_input_never_throws()
    {
        var decoder = new GoFlow2JsonDecoder();
        var random = new Random(4242);
        string[] seeds = [V2Ipfix, V2SflowIpv6, V1Sflow, V1Base64];
        byte[] alphabet = "{}[]\":,0123456789.-eE \\untrfalsTCPUDwA=="u8.ToArray();
        int outcomes = 0;
        for (int i = 0; i < 5000; i++)
        {
            byte[] input;
            if (i % 5 == 0)
            {
                input = new byte[random.Next(0, 300)];
                random.NextBytes(input);
            }
            else
            {
                input = Encoding.UTF8.GetBytes(seeds[random.Next(seeds.Length)]);
                int mutations = random.Next(1, 6);
                for (int m = 0; m < mutations && input.Length > 0; m++)
                {
                    int at = random.Next(input.Length);
                    if (random.Next(4) == 0) input = input[..at]; // truncation
                    else input[at] = random.Next(3) == 0 ? (byte)random.Next(256) : alphabet[random.Next(alphabet.Length)];
                }
            }

            var sink = new Sink();
            var cursor = new DecodeCursor("fuzz");
            // Straight into the line decoder: the base class's catch-all must not be what keeps us safe.
            decoder.DecodeRecord(input, 1, cursor, sink);
            decoder.Decode(input, ref cursor, sink);
            Assert.DoesNotContain(sink.Rejects, r => r.Reason.Contains("Exception", StringComparison.Ordinal));
            outcomes += sink.Flows.Count + sink.Rejects.Count + sink.Skips.Count;
        }
        Assert.True(outcomes > 0);
    }

    private sealed class Sink : IFlowSink
    {
        public List<FlowRecord> Flows { get; } = [];
        public List<FlowDecodeError> Rejects { get; } = [];
        public List<(string Reason, SourcePosition Position)> Skips { get; } = [];
        public void Accept(in FlowRecord flow) => Flows.Add(flow);
        public void Reject(FlowDecodeError error) => Rejects.Add(error);
        public void Skip(string reason, SourcePosition position) => Skips.Add((reason, position));
    }
}
