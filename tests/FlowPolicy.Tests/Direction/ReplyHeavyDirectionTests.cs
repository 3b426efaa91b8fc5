using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Direction;
using Xunit.Abstractions;

namespace FlowPolicy.Tests.Direction;

/// <summary>
/// VPC-style input where every connection appears twice, as the client's request record and the server's reply
/// record, in random order; TCP flags on some records only; service ports often inside the ephemeral range so
/// port rules are a coin flip and only handshakes, declared ports or fan-in can tell.
/// </summary>
public sealed class ReplyHeavyDirectionTests(ITestOutputHelper output)
{
    private enum ServiceKind { Flagged, Declared, Flagless }

    private enum Evidence { OwnSyn, Declared, Handshake, FanIn, Singleton }

    private sealed record Truth(PackedIp Client, ushort ClientPort, PackedIp Server, ushort ServerPort, bool IsReply, Evidence Evidence);

    private sealed record Service(PackedIp Ip, ushort Port, ServiceKind Kind);

    private static (FlowRecord[] Flows, Truth[] Truths, IServedPorts Declared) Generate(int seed)
    {
        var random = new Random(seed);
        var services = new List<Service>();
        ushort[] knownPorts = [8080, 5432, 6379, 9092, 27017];
        for (int i = 0; i < 300; i++)
        {
            var kind = (i % 10) switch { < 3 => ServiceKind.Flagged, < 5 => ServiceKind.Declared, _ => ServiceKind.Flagless };
            // Two thirds listen inside the ephemeral range, like an app on 41234 behind a Service.
            ushort port = i % 3 == 0 ? knownPorts[i % knownPorts.Length] : (ushort)random.Next(33000, 61000);
            services.Add(new Service(PackedIp.FromV4(10, 1, (byte)(i / 200), (byte)(i % 200 + 1)), port, kind));
        }
        var declared = services.Where(s => s.Kind == ServiceKind.Declared).Select(s => (s.Ip, s.Port)).ToHashSet();
        IServedPorts servedPorts = new DelegateServedPorts((ip, port, protocol, _) => protocol == IpProtocols.Tcp && declared.Contains((ip, port)));

        var flows = new List<FlowRecord>();
        var truths = new List<Truth>();
        var usedTuples = new HashSet<(PackedIp, ushort, PackedIp, ushort)>();
        foreach (var service in services)
        {
            // Skewed popularity; about one service in eight is reached by a single connection.
            int connections = random.Next(8) == 0 ? 1 : 2 + (int)(40 * Math.Pow(random.NextDouble(), 3));
            for (int c = 0; c < connections; c++)
            {
                var client = PackedIp.FromV4(10, 2, (byte)random.Next(2), (byte)random.Next(1, 151));
                ushort clientPort = (ushort)random.Next(32768, 61000);
                if (!usedTuples.Add((client, clientPort, service.Ip, service.Port))) continue;

                ushort? requestFlags = null, replyFlags = null;
                if (service.Kind == ServiceKind.Flagged)
                {
                    if (random.Next(10) < 6)
                    {
                        bool fin = random.Next(2) == 0;
                        requestFlags = (ushort)(FlowRecord.TcpSyn | (fin ? FlowRecord.TcpFin : 0));       // 2 or 3
                        replyFlags = (ushort)(FlowRecord.TcpSyn | FlowRecord.TcpAck | (fin ? FlowRecord.TcpFin : 0)); // 18 or 19
                        if (random.Next(4) == 0) replyFlags = null; // the reply's record fell in another interval
                    }
                    else
                    {
                        requestFlags = (ushort)random.Next(2); // a later interval: 0 or FIN
                        replyFlags = (ushort)random.Next(2);
                    }
                }

                Evidence Classify(ushort? flags) =>
                    flags is { } f && (f & FlowRecord.TcpSyn) != 0 ? Evidence.OwnSyn
                    : service.Kind == ServiceKind.Declared ? Evidence.Declared
                    : service.Kind == ServiceKind.Flagged ? Evidence.Handshake
                    : connections >= 2 ? Evidence.FanIn
                    : Evidence.Singleton;

                flows.Add(Flows.Make(client, clientPort, service.Ip, service.Port, IpProtocols.Tcp, requestFlags));
                truths.Add(new Truth(client, clientPort, service.Ip, service.Port, false, Classify(requestFlags)));
                flows.Add(Flows.Make(service.Ip, service.Port, client, clientPort, IpProtocols.Tcp, replyFlags));
                truths.Add(new Truth(client, clientPort, service.Ip, service.Port, true, Classify(replyFlags)));
            }
        }
        // Handshake evidence needs at least one SYN record somewhere on that service; demote when absent.
        var withSyn = truths.Where(t => t.Evidence == Evidence.OwnSyn).Select(t => (t.Server, t.ServerPort)).ToHashSet();
        var connectionCount = truths.Where(t => !t.IsReply).CountBy(t => (t.Server, t.ServerPort)).ToDictionary();
        for (int i = 0; i < truths.Count; i++)
            if (truths[i].Evidence == Evidence.Handshake && !withSyn.Contains((truths[i].Server, truths[i].ServerPort)))
                truths[i] = truths[i] with { Evidence = connectionCount[(truths[i].Server, truths[i].ServerPort)] >= 2 ? Evidence.FanIn : Evidence.Singleton };

        var order = Enumerable.Range(0, flows.Count).OrderBy(_ => random.Next()).ToArray();
        return (order.Select(i => flows[i]).ToArray(), order.Select(i => truths[i]).ToArray(), servedPorts);
    }

    private static bool Correct(in FlowRecord flow, in ResolvedDirection result, Truth truth) =>
        flow.SrcIp == truth.Client && flow.SrcPort == truth.ClientPort && flow.DstIp == truth.Server
        && flow.DstPort == truth.ServerPort && result.IsReply == truth.IsReply && result.Flipped == truth.IsReply;

    private Dictionary<Evidence, (int Total, int Right)> Score(FlowRecord[] flows, ResolvedDirection[] results, Truth[] truths)
    {
        var score = new Dictionary<Evidence, (int Total, int Right)>();
        for (int i = 0; i < flows.Length; i++)
        {
            var (total, right) = score.GetValueOrDefault(truths[i].Evidence);
            score[truths[i].Evidence] = (total + 1, right + (Correct(flows[i], results[i], truths[i]) ? 1 : 0));
        }
        foreach (var (evidence, (total, right)) in score.OrderBy(p => p.Key))
            output.WriteLine($"{evidence,-10} {right,6}/{total,-6} {100.0 * right / total:F2}%");
        return score;
    }

    [Theory]
    [InlineData(7)]
    [InlineData(21)]
    [InlineData(1234)]
    [InlineData(99991)]
    public void Observe_all_then_resolve_all_orients_every_decidable_record_client_to_server(int seed)
    {
        var (flows, truths, declared) = Generate(seed);
        var resolver = new DirectionResolver(servedPorts: declared);
        var results = new ResolvedDirection[flows.Length];

        resolver.Observe(flows);
        resolver.Resolve(flows, results);

        var score = Score(flows, results, truths);
        Assert.True(flows.Length > 4000, $"only {flows.Length} records generated");
        Assert.All(new[] { Evidence.OwnSyn, Evidence.Declared, Evidence.Handshake, Evidence.FanIn }, e => Assert.True(score[e].Total > 100, $"{e}: {score[e].Total}"));
        // A decisive signal on the record or its endpoint: every record right.
        Assert.Equal(score[Evidence.OwnSyn].Total, score[Evidence.OwnSyn].Right);
        Assert.Equal(score[Evidence.Declared].Total, score[Evidence.Declared].Right);
        Assert.Equal(score[Evidence.Handshake].Total, score[Evidence.Handshake].Right);
        // Fan-in only (no flags, nothing declared, ports uninformative for most): at least 99%.
        Assert.True(score[Evidence.FanIn].Right >= 0.99 * score[Evidence.FanIn].Total,
            $"fan-in accuracy {score[Evidence.FanIn].Right}/{score[Evidence.FanIn].Total}");
        // Every reply was recognised as one exactly when it was right (no record counted twice as a new flow).
        Assert.Equal(truths.Count(t => t.IsReply), results.Count(r => r.IsReply));
    }

    [Theory]
    [InlineData(11)]
    [InlineData(4242)]
    public void Online_batches_with_a_small_listener_table_stay_accurate(int seed)
    {
        var (flows, truths, declared) = Generate(seed);
        var resolver = new DirectionResolver(new DirectionResolverOptions { MaxTrackedEndpoints = 2000 }, declared);
        var results = new ResolvedDirection[flows.Length];

        for (int start = 0; start < flows.Length; start += 500)
        {
            var batch = flows.AsSpan(start, Math.Min(500, flows.Length - start));
            resolver.Observe(batch);
            resolver.Resolve(batch, results.AsSpan(start, batch.Length));
            Assert.True(resolver.Metrics.TrackedEndpoints <= 2000);
        }

        var score = Score(flows, results, truths);
        output.WriteLine($"tracked {resolver.Metrics.TrackedEndpoints}, evicted {resolver.Metrics.EvictedEndpoints}");
        Assert.True(resolver.Metrics.EvictedEndpoints > 0);
        Assert.Equal(score[Evidence.OwnSyn].Total, score[Evidence.OwnSyn].Right);
        Assert.Equal(score[Evidence.Declared].Total, score[Evidence.Declared].Right);
        // Early batches have seen less: a lower bar for what is learned.
        Assert.True(score[Evidence.Handshake].Right >= 0.95 * score[Evidence.Handshake].Total);
        Assert.True(score[Evidence.FanIn].Right >= 0.95 * score[Evidence.FanIn].Total);
    }
}
