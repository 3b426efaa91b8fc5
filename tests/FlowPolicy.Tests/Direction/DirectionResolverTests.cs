using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Direction;
using static FlowPolicy.Tests.Direction.Flows;

namespace FlowPolicy.Tests.Direction;

public sealed class DirectionResolverTests
{
    private static (FlowRecord Flow, ResolvedDirection Result) ResolveOne(FlowRecord flow, DirectionResolver? resolver = null)
    {
        resolver ??= new DirectionResolver();
        var result = resolver.Resolve(ref flow);
        return (flow, result);
    }

    [Fact]
    public void A_reply_hint_flips_the_record_and_marks_it_a_reply()
    {
        // Even when the ports say the opposite: the source knows.
        var (flow, result) = ResolveOne(Tcp("10.0.0.2", 443, "10.0.0.1", 50000, hint: DirectionHint.Reply));

        Assert.Equal(new ResolvedDirection(true, true, DirectionSignal.ReplyFlag), result);
        Assert.Equal(("10.0.0.1", (ushort)50000, "10.0.0.2", (ushort)443), (flow.SrcIp.ToString(), flow.SrcPort, flow.DstIp.ToString(), flow.DstPort));
        Assert.Equal(DirectionHint.Request, flow.Direction);
    }

    [Fact]
    public void A_request_hint_keeps_the_record_even_against_the_ports()
    {
        var (flow, result) = ResolveOne(Tcp("10.0.0.1", 443, "10.0.0.2", 50000, hint: DirectionHint.Request));

        Assert.Equal(new ResolvedDirection(false, false, DirectionSignal.ReplyFlag), result);
        Assert.Equal(50000, flow.DstPort);
    }

    [Theory]
    [InlineData(2, false)]   // SYN: the client's record
    [InlineData(3, false)]   // SYN | FIN ORed over the interval
    [InlineData(6, false)]   // SYN | RST
    [InlineData(18, true)]   // SYN-ACK: the server's record
    [InlineData(19, true)]   // SYN-ACK | FIN (AWS docs' example)
    [InlineData(22, true)]   // SYN-ACK | RST
    public void Aws_tcp_flags_decide_which_side_sent_the_record(ushort flags, bool sentByServer)
    {
        // Ports deliberately misleading (the "server" on the higher port) so only the flags can be right.
        var (_, result) = ResolveOne(Tcp("10.0.0.1", 3306, "10.0.0.2", 40000, flags));

        Assert.Equal(DirectionSignal.TcpFlags, result.Signal);
        Assert.Equal(sentByServer, result.Flipped);
        Assert.Equal(sentByServer, result.IsReply);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)] // FIN only: a later interval of a long connection
    [InlineData(4)] // RST only: a refused connection's answer looks the same from both sides
    public void Tcp_flags_without_syn_do_not_decide(ushort flags)
    {
        var (_, result) = ResolveOne(Tcp("10.0.0.1", 40000, "10.0.0.2", 3306, flags));

        Assert.NotEqual(DirectionSignal.TcpFlags, result.Signal);
    }

    [Fact]
    public void With_cumulative_flags_syn_ack_no_longer_means_server()
    {
        // NetFlow/IPFIX OR every packet's flags: the client's record of a short connection is SYN|ACK|FIN too.
        var resolver = new DirectionResolver();
        var midStream = Tcp("10.0.0.9", 40001, "10.0.0.8", 80, FlowRecord.TcpAck | 0x08); // ACK|PSH: AWS never writes this
        resolver.Observe(midStream);
        Assert.True(resolver.FlagsAreCumulative);

        var (_, result) = ResolveOne(Tcp("10.0.0.1", 40000, "10.0.0.2", 3306, 19), resolver);
        Assert.False(result.Flipped);
        Assert.Equal(DirectionSignal.WellKnownPort, result.Signal);

        var (_, syn) = ResolveOne(Tcp("10.0.0.1", 3306, "10.0.0.2", 40000, 2), resolver);
        Assert.Equal((false, DirectionSignal.TcpFlags), (syn.Flipped, syn.Signal)); // SYN without ACK still decides
    }

    [Fact]
    public void Declared_server_ports_decide_before_anything_learned()
    {
        var server = PackedIp.Parse("10.244.1.7");
        var ports = new DelegateServedPorts((ip, port, protocol, _) => ip == server && port == 41000 && protocol == IpProtocols.Tcp);
        var resolver = new DirectionResolver(servedPorts: ports);
        // Learned evidence pointing the wrong way must lose to the declaration.
        for (ushort p = 1; p <= 5; p++)
            resolver.Observe(Tcp("10.0.0.1", 50000, "10.0.0." + (p + 10), (ushort)(1000 + p)));

        var (reply, replyResult) = ResolveOne(Tcp("10.244.1.7", 41000, "10.0.0.1", 50000), resolver);
        var (request, requestResult) = ResolveOne(Tcp("10.0.0.1", 50000, "10.244.1.7", 41000), resolver);

        Assert.Equal(new ResolvedDirection(true, true, DirectionSignal.DeclaredPort), replyResult);
        Assert.Equal(new ResolvedDirection(false, false, DirectionSignal.DeclaredPort), requestResult);
        Assert.Equal(41000, reply.DstPort);
        Assert.Equal(41000, request.DstPort);
    }

    [Fact]
    public void A_handshake_seen_once_orients_later_flagless_records_of_the_endpoint()
    {
        var resolver = new DirectionResolver();
        resolver.Observe(Tcp("10.0.0.1", 45000, "10.0.0.2", 51000, FlowRecord.TcpSyn));

        var (flow, result) = ResolveOne(Tcp("10.0.0.2", 51000, "10.0.0.3", 47000, 0), resolver);

        Assert.Equal(new ResolvedDirection(true, true, DirectionSignal.LearnedListener), result);
        Assert.Equal("10.0.0.2", flow.DstIp.ToString());
    }

    [Fact]
    public void An_endpoint_met_from_many_peer_ports_is_a_listener()
    {
        var resolver = new DirectionResolver();
        for (int i = 0; i < 4; i++)
            resolver.Observe(Tcp("10.0.1." + (i + 1), (ushort)(40000 + 7 * i), "10.0.0.2", 45123));

        // The server's reply, from 45123 to a client port above it: only fan-in knows.
        var (flow, result) = ResolveOne(Tcp("10.0.0.2", 45123, "10.0.1.9", 60001), resolver);

        Assert.Equal(new ResolvedDirection(true, true, DirectionSignal.LearnedListener), result);
        Assert.Equal(45123, flow.DstPort);
    }

    [Fact]
    public void A_client_port_reused_towards_several_services_is_not_a_listener()
    {
        // NetFlow (cumulative flags: SYN and ACK both ways): over three weeks a pod's ephemeral port 41579 met MySQL
        // on Monday and a CDN's 443 on Friday. Two peer ports, both services: a client signature, not fan-in.
        const ushort Cumulative = FlowRecord.TcpSyn | FlowRecord.TcpAck | 0x08 | FlowRecord.TcpFin; // PSH too
        var records = new[]
        {
            Tcp("10.244.1.18", 41579, "10.244.3.11", 3306, Cumulative),
            Tcp("10.244.3.11", 3306, "10.244.1.18", 41579, Cumulative),
            Tcp("10.244.1.18", 41579, "151.101.129.1", 443, Cumulative),
            Tcp("151.101.129.1", 443, "10.244.1.18", 41579, Cumulative),
        };
        var resolver = new DirectionResolver();
        resolver.Observe(records);

        foreach (var record in records)
        {
            var flow = record;
            resolver.ResolveLearned(ref flow);
            Assert.Equal("10.244.1.18", flow.SrcIp.ToString());
            Assert.NotEqual(41579, flow.DstPort);
        }
    }

    [Theory]
    [InlineData(50000, 443, false, DirectionSignal.WellKnownPort)]
    [InlineData(443, 50000, true, DirectionSignal.WellKnownPort)]
    [InlineData(5432, 2000, true, DirectionSignal.WellKnownPort)] // a known service port beats a registered one
    [InlineData(40000, 30080, false, DirectionSignal.EphemeralPort)] // a NodePort is below the ephemeral range
    [InlineData(30080, 40000, true, DirectionSignal.EphemeralPort)]
    [InlineData(8080, 443, false, DirectionSignal.LowerPort)]
    [InlineData(45000, 52000, true, DirectionSignal.LowerPort)]
    [InlineData(53, 53, false, DirectionSignal.Default)]
    public void Port_classes_decide_when_nothing_else_does(ushort srcPort, ushort dstPort, bool flipped, object signal) // object: the enum is internal
    {
        var (_, result) = ResolveOne(Tcp("10.0.0.1", srcPort, "10.0.0.2", dstPort));

        Assert.Equal((flipped, (DirectionSignal)signal), (result.Flipped, result.Signal));
    }

    [Fact]
    public void Icmp_and_portless_records_are_kept()
    {
        var icmp = Make(PackedIp.Parse("10.0.0.1"), 0, PackedIp.Parse("10.0.0.2"), 0, IpProtocols.Icmp);
        var gre = Make(PackedIp.Parse("10.0.0.1"), 0, PackedIp.Parse("10.0.0.2"), 0, 47);
        var resolver = new DirectionResolver();
        resolver.Observe(icmp);

        Assert.Equal(new ResolvedDirection(false, false, DirectionSignal.Default), resolver.Resolve(ref icmp));
        Assert.Equal(new ResolvedDirection(false, false, DirectionSignal.Default), resolver.Resolve(ref gre));
        Assert.Equal("10.0.0.1", icmp.SrcIp.ToString());
        Assert.Equal(0, resolver.Metrics.TrackedEndpoints);
    }

    [Fact]
    public void The_listener_table_stays_within_its_bound_and_keeps_busy_listeners()
    {
        var resolver = new DirectionResolver(new DirectionResolverOptions { MaxTrackedEndpoints = 1000 });
        var server = PackedIp.Parse("10.9.0.1");
        for (int i = 0; i < 50_000; i++)
        {
            var client = PackedIp.FromV4(10, 1, (byte)(i >> 8), (byte)i);
            var flow = Make(client, (ushort)(32768 + i % 28000), server, 44444, IpProtocols.Tcp);
            resolver.Observe(flow);
            Assert.True(resolver.Metrics.TrackedEndpoints <= 1000);
        }

        Assert.True(resolver.Metrics.EvictedEndpoints > 40_000);
        var reply = Make(server, 44444, PackedIp.Parse("10.1.0.1"), 60000, IpProtocols.Tcp);
        Assert.Equal(new ResolvedDirection(true, true, DirectionSignal.LearnedListener), resolver.Resolve(ref reply));
    }

    [Fact]
    public void Metrics_count_decisions_by_signal()
    {
        var resolver = new DirectionResolver();
        FlowRecord[] flows =
        [
            Tcp("10.0.0.1", 40000, "10.0.0.2", 443, FlowRecord.TcpSyn),
            Tcp("10.0.0.2", 443, "10.0.0.1", 40000, 18),
            Tcp("10.0.0.2", 443, "10.0.0.3", 40001),
        ];
        var results = new ResolvedDirection[3];

        resolver.Observe(flows);
        resolver.Resolve(flows, results);

        Assert.Equal(3, resolver.Metrics.Observed);
        Assert.Equal(3, resolver.Metrics.Resolved);
        Assert.Equal(2, resolver.Metrics.DecidedBy(DirectionSignal.TcpFlags));
        Assert.Equal(1, resolver.Metrics.DecidedBy(DirectionSignal.LearnedListener));
        Assert.Equal(2, resolver.Metrics.Flipped);
        Assert.All(flows, f => Assert.Equal(443, f.DstPort));
    }
}

public sealed class AwsTcpFlagSequenceTests
{
    [Fact]
    public void The_aws_documentation_tcp_flag_sequence_orients_every_record_towards_port_5001()
    {
        // AWS VPC docs, "TCP flag sequence": two connections from 52.213.180.42 (ports 43416, 43418) to a server on
        // 10.0.0.62:5001. First interval: SYN (2) from the client, SYN-ACK (18) from the server. Next interval:
        // FIN (1) both ways on one connection, no SYN left to tell the sides apart.
        const string client = "52.213.180.42", server = "10.0.0.62";
        FlowRecord[] firstInterval =
        [
            Tcp(client, 43416, server, 5001, 2),
            Tcp(server, 5001, client, 43416, 18),
            Tcp(client, 43418, server, 5001, 2),
            Tcp(server, 5001, client, 43418, 18),
        ];
        FlowRecord[] secondInterval =
        [
            Tcp(server, 5001, client, 43418, 1),
            Tcp(client, 43418, server, 5001, 1),
        ];
        var resolver = new DirectionResolver();
        var results = new ResolvedDirection[4];

        resolver.Observe(firstInterval);
        resolver.Resolve(firstInterval, results);
        Assert.Equal([false, true, false, true], results.Select(r => r.IsReply));
        Assert.All(results, r => Assert.Equal(DirectionSignal.TcpFlags, r.Signal));

        resolver.Observe(secondInterval);
        resolver.Resolve(secondInterval, results.AsSpan(0, 2));
        Assert.Equal([true, false], results.Take(2).Select(r => r.IsReply));
        Assert.Equal(DirectionSignal.LearnedListener, results[0].Signal);
        Assert.All(firstInterval.Concat(secondInterval), f => Assert.Equal((server, (ushort)5001), (f.DstIp.ToString(), f.DstPort)));
    }
}
