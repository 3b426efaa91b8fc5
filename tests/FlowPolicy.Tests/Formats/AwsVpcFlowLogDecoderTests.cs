using System.Text;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Vpc;

namespace FlowPolicy.Tests.Formats;

public sealed class AwsVpcFlowLogDecoderTests
{
    // Records follow the AWS "Flow log record examples" page (default v2 format unless a header says otherwise).
    private const string AcceptedSsh =
        "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK";
    private const string RejectedRdp =
        "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK";
    private const string NoData =
        "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA";
    private const string SkipData =
        "2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA";
    private const string Ipv6Ssh =
        "2 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK";

    private const string TcpFlagsHeader =
        "version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport dstport pkt-srcaddr pkt-dstaddr protocol bytes packets start end action tcp-flags log-status";

    private const string V5Header =
        "version srcaddr dstaddr srcport dstport protocol start end type packets bytes account-id vpc-id subnet-id instance-id interface-id region az-id sublocation-type sublocation-id action tcp-flags pkt-srcaddr pkt-dstaddr pkt-src-aws-service pkt-dst-aws-service traffic-path flow-direction log-status";

    private static Sink Decode(string text, AwsVpcFlowLogDecoder? decoder = null, string source = "s3://bucket/file.log")
    {
        var cursor = new DecodeCursor(source);
        var sink = new Sink();
        (decoder ?? new AwsVpcFlowLogDecoder()).Decode(Encoding.UTF8.GetBytes(text), ref cursor, sink);
        return sink;
    }

    [Fact]
    public void Accepted_ssh_record_in_the_default_format_decodes_every_field()
    {
        var sink = Decode(AcceptedSsh);

        var flow = Assert.Single(sink.Flows);
        Assert.Empty(sink.Rejects);
        Assert.Equal(PackedIp.Parse("172.31.16.139"), flow.SrcIp);
        Assert.Equal(PackedIp.Parse("172.31.16.21"), flow.DstIp);
        Assert.Equal(20641, flow.SrcPort);
        Assert.Equal(22, flow.DstPort);
        Assert.Equal(IpProtocols.Tcp, flow.Protocol);
        Assert.Equal(20UL, flow.Packets);
        Assert.Equal(4249UL, flow.Bytes);
        Assert.Equal(DateTime.UnixEpoch.AddSeconds(1418530010), flow.Start);
        Assert.Equal(DateTime.UnixEpoch.AddSeconds(1418530070), flow.End);
        Assert.Equal(DateTimeKind.Utc, flow.Start.Kind);
        Assert.Equal(Verdict.Allowed, flow.Verdict);
        Assert.Equal(DirectionHint.Unknown, flow.Direction);
        Assert.False(flow.HasTcpFlags);
        Assert.Equal("eni-1235b8ca123456789", flow.Reporter);
    }

    [Fact]
    public void Rejected_traffic_becomes_a_denied_verdict()
    {
        var flow = Assert.Single(Decode(RejectedRdp).Flows);
        Assert.Equal(Verdict.Denied, flow.Verdict);
        Assert.Equal(3389, flow.DstPort);
    }

    [Fact]
    public void Nodata_and_skipdata_records_are_skipped_and_counted_not_rejected()
    {
        var sink = Decode(NoData + "\n" + SkipData + "\n" + AcceptedSsh + "\n");

        Assert.Single(sink.Flows);
        Assert.Empty(sink.Rejects);
        Assert.Equal(2, sink.Skips.Count);
        Assert.Equal(("NODATA", new SourcePosition("s3://bucket/file.log", 1)), sink.Skips[0]);
        Assert.Equal(("SKIPDATA", new SourcePosition("s3://bucket/file.log", 2)), sink.Skips[1]);
    }

    [Fact]
    public void Ipv6_addresses_are_decoded()
    {
        var flow = Assert.Single(Decode(Ipv6Ssh).Flows);
        Assert.Equal(PackedIp.Parse("2001:db8:1234:a100:8d6e:3477:df66:f105"), flow.SrcIp);
        Assert.Equal(PackedIp.Parse("2001:db8:1234:a102:3304:8879:34cf:4071"), flow.DstIp);
        Assert.False(flow.SrcIp.IsV4);
        Assert.Equal(8855UL, flow.Bytes);
    }

    [Fact]
    public void Icmp_records_with_zero_ports_decode()
    {
        var sink = Decode(
            "2 123456789010 eni-1235b8ca123456789 203.0.113.12 172.31.16.139 0 0 1 4 336 1432917027 1432917142 ACCEPT OK\n" +
            "2 123456789010 eni-1235b8ca123456789 172.31.16.139 203.0.113.12 0 0 1 4 336 1432917094 1432917142 REJECT OK\n");

        Assert.Equal(2, sink.Flows.Count);
        Assert.All(sink.Flows, f => Assert.Equal(IpProtocols.Icmp, f.Protocol));
        Assert.Equal([Verdict.Allowed, Verdict.Denied], sink.Flows.Select(f => f.Verdict));
    }

    [Fact]
    public void Header_line_sets_the_field_order_and_tcp_flags_are_read()
    {
        var sink = Decode(TcpFlagsHeader + "\n" +
            "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 52.213.180.42 10.0.0.62 43416 5001 52.213.180.42 10.0.0.62 6 568 8 1566848875 1566848933 ACCEPT 2 OK\n" +
            "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 10.0.0.62 52.213.180.42 5001 43416 10.0.0.62 52.213.180.42 6 376 7 1566848875 1566848933 ACCEPT 18 OK\n");

        Assert.Empty(sink.Rejects);
        Assert.Equal(2, sink.Flows.Count);
        var syn = sink.Flows[0];
        Assert.Equal(PackedIp.Parse("52.213.180.42"), syn.SrcIp);
        Assert.Equal(5001, syn.DstPort);
        Assert.Equal(568UL, syn.Bytes); // bytes before packets in this header
        Assert.Equal(8UL, syn.Packets);
        Assert.True(syn.HasTcpFlags);
        Assert.Equal(FlowRecord.TcpSyn, syn.TcpFlags);
        var synAck = sink.Flows[1];
        Assert.Equal(18, synAck.TcpFlags); // SYN-ACK
        Assert.Equal(DirectionHint.Unknown, synAck.Direction); // left to the direction component
    }

    [Fact]
    public void Doubled_space_inside_a_record_is_tolerated()
    {
        // The AWS examples page itself has a doubled space in one of these records.
        var sink = Decode(TcpFlagsHeader + "\n" +
            "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 10.0.0.62 52.213.180.42 5001 43638  10.0.0.62 52.213.180.42 6 967 14 1566933133 1566933193 ACCEPT 19 OK\n");

        var flow = Assert.Single(sink.Flows);
        Assert.Equal(19, flow.TcpFlags); // SYN-ACK and FIN ORed over the interval
        Assert.Equal(43638, flow.DstPort);
    }

    [Fact]
    public void Version5_header_with_reordered_fields_decodes_and_flow_direction_is_not_a_direction_hint()
    {
        var sink = Decode(V5Header + "\n" +
            "5 52.95.128.179 10.0.0.71 80 34210 6 1616729292 1616729349 IPv4 14 15044 123456789012 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 ap-southeast-2 apse2-az3 - - ACCEPT 19 52.95.128.179 10.0.0.71 S3 - - ingress OK\n" +
            "5 10.0.0.71 52.95.128.179 34210 80 6 1616729292 1616729349 IPv4 7 471 123456789012 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 ap-southeast-2 apse2-az3 - - ACCEPT 3 10.0.0.71 52.95.128.179 - S3 8 egress OK\n");

        Assert.Empty(sink.Rejects);
        Assert.Equal(2, sink.Flows.Count);
        var ingress = sink.Flows[0];
        Assert.Equal(PackedIp.Parse("52.95.128.179"), ingress.SrcIp);
        Assert.Equal(80, ingress.SrcPort);
        Assert.Equal(34210, ingress.DstPort);
        Assert.Equal(14UL, ingress.Packets);
        Assert.Equal(15044UL, ingress.Bytes);
        Assert.Equal("eni-1235b8ca123456789", ingress.Reporter);
        Assert.All(sink.Flows, f => Assert.Equal(DirectionHint.Unknown, f.Direction));
        Assert.Equal(3, sink.Flows[1].TcpFlags);
    }

    [Fact]
    public void Packet_addresses_win_over_interface_addresses()
    {
        // Transit gateway example: srcaddr is the TGW interface, pkt-srcaddr the client in VPC A.
        const string header =
            "version interface-id account-id vpc-id subnet-id instance-id srcaddr dstaddr srcport dstport protocol tcp-flags type pkt-srcaddr pkt-dstaddr start end action log-status";
        var sink = Decode(header + "\n" +
            "3 eni-11111111111111111 123456789010 vpc-abcdefab012345678 subnet-11111111aaaaaaaaa - 10.40.1.175 10.40.2.236 39812 80 6 3 IPv4 10.20.33.164 10.40.2.236 1566848875 1566848933 ACCEPT OK\n" +
            "3 eni-22222222222222222 123456789010 vpc-abcdefab012345678 subnet-22222222bbbbbbbbb - 10.40.2.236 10.40.2.31 80 39812 6 19 IPv4 10.40.2.236 10.20.33.164 1566848875 1566848933 ACCEPT OK\n" +
            "3 eni-33333333333333333 123456789010 vpc-abcdefab012345678 subnet-22222222bbbbbbbbb i-01234567890123456 10.40.2.236 10.40.2.31 80 39812 6 19 IPv4 - - 1566848875 1566848933 ACCEPT OK\n");

        Assert.Empty(sink.Rejects);
        Assert.Equal(PackedIp.Parse("10.20.33.164"), sink.Flows[0].SrcIp);
        Assert.Equal(PackedIp.Parse("10.40.2.236"), sink.Flows[0].DstIp);
        Assert.Equal(PackedIp.Parse("10.20.33.164"), sink.Flows[1].DstIp);
        // pkt-* written as '-': fall back to srcaddr/dstaddr.
        Assert.Equal(PackedIp.Parse("10.40.2.236"), sink.Flows[2].SrcIp);
        Assert.Equal(PackedIp.Parse("10.40.2.31"), sink.Flows[2].DstIp);
    }

    [Fact]
    public void Header_is_carried_across_decode_calls_of_the_same_cursor()
    {
        var decoder = new AwsVpcFlowLogDecoder();
        var cursor = new DecodeCursor("s3://bucket/custom.log");
        var sink = new Sink();
        const string header = "srcaddr dstaddr srcport dstport protocol packets bytes start end action interface-id";

        decoder.Decode(Encoding.UTF8.GetBytes(header + "\n10.0.0.1 10.0.0.2 40000 443 6 3 180 1700000000 1700000060 ACCEPT eni-aaa\n"), ref cursor, sink);
        decoder.Decode(Encoding.UTF8.GetBytes("10.0.0.3 10.0.0.4 40001 5432 6 5 900 1700000000 1700000060 REJECT eni-bbb\n"), ref cursor, sink);

        Assert.Empty(sink.Rejects);
        Assert.Equal(2, sink.Flows.Count);
        Assert.Equal(5432, sink.Flows[1].DstPort);
        Assert.Equal(Verdict.Denied, sink.Flows[1].Verdict);
        Assert.Equal("eni-bbb", sink.Flows[1].Reporter);
        Assert.Equal(4, cursor.Line); // three lines consumed, next is line 4
    }

    [Fact]
    public void A_new_cursor_does_not_inherit_another_files_header()
    {
        var decoder = new AwsVpcFlowLogDecoder();
        var first = new DecodeCursor("a.log");
        decoder.Decode("srcaddr dstaddr start\n10.0.0.1 10.0.0.2 1700000000\n"u8, ref first, new Sink());

        var second = new DecodeCursor("b.log");
        var sink = new Sink();
        decoder.Decode("10.0.0.1 10.0.0.2 1700000000\n"u8, ref second, sink);

        var reject = Assert.Single(sink.Rejects);
        Assert.Contains("default format", reject.Reason);
    }

    [Fact]
    public void Unknown_header_fields_are_ignored()
    {
        var sink = Decode(
            "version srcaddr some-future-field dstaddr start end ecs-task-id action\n" +
            "9 10.0.0.1 whatever 10.0.0.2 1700000000 1700000001 abc123 ACCEPT\n");

        var flow = Assert.Single(sink.Flows);
        Assert.Equal(PackedIp.Parse("10.0.0.2"), flow.DstIp);
        Assert.Null(flow.Reporter);
    }

    [Fact]
    public void Reporter_falls_back_to_instance_id_without_interface_id()
    {
        var sink = Decode("instance-id srcaddr dstaddr start\ni-0123 10.0.0.1 10.0.0.2 1700000000\n");
        Assert.Equal("i-0123", Assert.Single(sink.Flows).Reporter);
    }

    [Fact]
    public void Reporter_strings_are_shared_between_records_of_one_interface()
    {
        var sink = Decode(AcceptedSsh + "\n" + RejectedRdp + "\n");
        Assert.Same(sink.Flows[0].Reporter, sink.Flows[1].Reporter);
    }

    [Fact]
    public void Custom_format_without_log_status_whose_flow_fields_are_all_dashes_is_skipped_as_nodata()
    {
        var sink = Decode("interface-id srcaddr dstaddr srcport dstport start end\neni-1 - - - - 1700000000 1700000060\n");
        Assert.Empty(sink.Flows);
        Assert.Empty(sink.Rejects);
        Assert.Equal("NODATA", Assert.Single(sink.Skips).Reason);
    }

    [Fact]
    public void Configured_format_is_used_for_records_without_a_header()
    {
        var decoder = new AwsVpcFlowLogDecoder("${version} ${interface-id} ${srcaddr} ${dstaddr} ${dstport} ${protocol} ${start} ${end} ${action} ${tcp-flags}");
        var sink = Decode("3 eni-9 10.1.0.5 10.2.0.9 8080 6 1700000000 1700000060 ACCEPT 2\n", decoder);

        var flow = Assert.Single(sink.Flows);
        Assert.Equal(8080, flow.DstPort);
        Assert.Equal(FlowRecord.TcpSyn, flow.TcpFlags);
        Assert.Equal("eni-9", flow.Reporter);
    }

    [Fact]
    public void Configured_format_naming_no_field_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new AwsVpcFlowLogDecoder("foo bar"));
    }

    [Fact]
    public void Trailing_spaces_and_crlf_line_ends_are_tolerated()
    {
        var sink = Decode(AcceptedSsh + " \r\n" + RejectedRdp + "\t\r\n");
        Assert.Equal(2, sink.Flows.Count);
        Assert.Empty(sink.Rejects);
    }

    [Fact]
    public void Tcp_flags_of_non_tcp_flows_are_not_reported()
    {
        var sink = Decode("srcaddr dstaddr protocol tcp-flags start\n10.0.0.1 10.0.0.2 17 0 1700000000\n");
        Assert.False(Assert.Single(sink.Flows).HasTcpFlags);
    }

    [Fact]
    public void Tcp_zero_flags_are_reported_because_aws_only_records_syn_fin_rst_and_syn_ack()
    {
        var sink = Decode("srcaddr dstaddr protocol tcp-flags start\n10.0.0.1 10.0.0.2 6 0 1700000000\n");
        var flow = Assert.Single(sink.Flows);
        Assert.True(flow.HasTcpFlags);
        Assert.Equal(0, flow.TcpFlags);
    }

    [Theory]
    [InlineData("2 123456789010 eni-1 10.0.0.1 10.0.0.2 20641 22 6 20 4249 1418530010 1418530070 ACCEPT", "expected the 14 fields")]
    [InlineData("2 123456789010 eni-1 10.0.0.1 10.0.0.2 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK extra", "found 15")]
    [InlineData("2 123456789010 eni-1 10.0.0.1 10.0.0.2 ssh 22 6 20 4249 1418530010 1418530070 ACCEPT OK", "srcport 'ssh'")]
    [InlineData("2 123456789010 eni-1 10.0.0.1 10.0.0.2 20641 70000 6 20 4249 1418530010 1418530070 ACCEPT OK", "dstport '70000'")]
    [InlineData("2 123456789010 eni-1 10.0.0.1 10.0.0.2 20641 22 tcp 20 4249 1418530010 1418530070 ACCEPT OK", "protocol 'tcp'")]
    [InlineData("2 123456789010 eni-1 10.0.0.1 10.0.0.2 20641 22 6 -20 4249 1418530010 1418530070 ACCEPT OK", "packets '-20'")]
    [InlineData("2 123456789010 eni-1 10.0.0.1 10.0.0.2 20641 22 6 20 42x9 1418530010 1418530070 ACCEPT OK", "bytes '42x9'")]
    [InlineData("2 123456789010 eni-1 10.0.0.1 10.0.0.2 20641 22 6 20 4249 yesterday 1418530070 ACCEPT OK", "start 'yesterday'")]
    [InlineData("2 123456789010 eni-1 10.0.0.1 10.0.0.2 20641 22 6 20 4249 1418530010 99999999999999 ACCEPT OK", "end '99999999999999'")]
    [InlineData("2 123456789010 eni-1 10.0.0.1 10.0.0.2 20641 22 6 20 4249 1418530070 1418530010 ACCEPT OK", "end is before start")]
    [InlineData("2 123456789010 eni-1 10.0.0.1 10.0.0.2 20641 22 6 20 4249 1418530010 1418530070 MAYBE OK", "action 'MAYBE'")]
    [InlineData("2 123456789010 eni-1 10.0.0.1 10.0.0.2 20641 22 6 20 4249 1418530010 1418530070 ACCEPT FINE", "log-status 'FINE'")]
    [InlineData("2 123456789010 eni-1 300.0.0.1 10.0.0.2 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK", "srcaddr '300.0.0.1'")]
    [InlineData("2 123456789010 eni-1 10.0.0.1 host 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK", "dstaddr 'host'")]
    [InlineData("2 123456789010 eni-1 - 10.0.0.2 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK", "no srcaddr")]
    [InlineData("v2 123456789010 eni-1 10.0.0.1 10.0.0.2 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK", "version 'v2'")]
    public void Malformed_records_are_rejected_naming_the_problem_and_the_rest_decodes(string bad, string expectedReason)
    {
        var sink = Decode(AcceptedSsh + "\n" + bad + "\n" + RejectedRdp + "\n");

        Assert.Equal(2, sink.Flows.Count);
        var reject = Assert.Single(sink.Rejects);
        Assert.Contains(expectedReason, reject.Reason);
        Assert.StartsWith("vpc: ", reject.Reason);
        Assert.Equal(new SourcePosition("s3://bucket/file.log", 2), reject.Position);
        Assert.NotNull(reject.Excerpt);
    }

    [Fact]
    public void Header_records_are_checked_against_the_header_field_count()
    {
        var sink = Decode("srcaddr dstaddr start\n10.0.0.1 10.0.0.2\n10.0.0.1 10.0.0.2 1700000000\n");
        Assert.Single(sink.Flows);
        var reject = Assert.Single(sink.Rejects);
        Assert.Contains("expected 3 fields as in the header, found 2", reject.Reason);
        Assert.Equal(2, reject.Position.Line);
    }

    [Fact]
    public void Records_without_any_time_and_no_time_for_them_are_rejected_naming_what_to_pass()
    {
        // The NAT gateway example format has no start/end; read from a path without a delivery date, and no --time.
        var sink = Decode("instance-id interface-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr\n- eni-1235b8ca123456789 10.0.1.5 10.0.0.220 10.0.1.5 203.0.113.5\n");
        var reason = Assert.Single(sink.Rejects).Reason;
        Assert.Contains("no start or end field", reason);
        Assert.Contains("--time", reason);
        Assert.Contains("AWSLogs/ACCOUNT/vpcflowlogs/REGION/YYYY/MM/DD", reason);
    }

    [Fact]
    public void Random_and_mutated_input_never_throws()
    {
        var decoder = new AwsVpcFlowLogDecoder();
        var random = new Random(20261121);
        string[] seeds = [AcceptedSsh, NoData, Ipv6Ssh, TcpFlagsHeader, V5Header,
            "5 52.95.128.179 10.0.0.71 80 34210 6 1616729292 1616729349 IPv4 14 15044 123456789012 vpc-a subnet-a i-0c5 eni-1 ap-southeast-2 apse2-az3 - - ACCEPT 19 52.95.128.179 10.0.0.71 S3 - - ingress OK"];
        byte[] alphabet = "0123456789abcdef-: .\t\nACEPTROKNDSIvx"u8.ToArray();
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
                    input[random.Next(input.Length)] = random.Next(3) == 0 ? (byte)random.Next(256) : alphabet[random.Next(alphabet.Length)];
            }

            var sink = new Sink();
            var cursor = new DecodeCursor("fuzz");
            if (i % 2 == 0) cursor.State = null;
            // Straight into the line decoder: the base class's catch-all must not be what keeps us safe.
            int newline = Array.IndexOf(input, (byte)'\n');
            var firstLine = newline < 0 ? input : input[..newline];
            if (firstLine.Length > 0 && firstLine[^1] == '\r') firstLine = firstLine[..^1];
            decoder.DecodeRecord(firstLine, 1, ref cursor, sink);
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
