using BenchmarkDotNet.Attributes;
using FlowPolicy.Benchmarks.Data;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Benchmarks.Edges;

/// <summary>
/// 100k enriched, oriented flows (client -> server) into edges. Baseline: the LINQ GroupBy one writes first,
/// keyed by identity (or address when unknown), port and protocol, computing the same counters.
/// </summary>
public class EdgeAggregation
{
    private const int Rows = BenchData.Records;
    private FlowRecord[] _flows = [];
    private bool[] _isReply = [];

    [GlobalSetup]
    public void Setup()
    {
        _flows = BenchData.Flows();
        _isReply = new bool[_flows.Length];
        for (int i = 0; i < _flows.Length; i++)
        {
            if (_flows[i].Direction != DirectionHint.Reply) continue;
            _flows[i].Flip(); // what DirectionResolver hands the aggregator: client -> server
            _isReply[i] = true;
        }
        int edges = EdgeAggregator(), groups = LinqGroupBy();
        if (edges != groups) throw new InvalidOperationException($"aggregator made {edges} edges, GroupBy {groups}");
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Rows, Description = "LINQ GroupBy")]
    public int LinqGroupBy() =>
        _flows.Select((f, i) => (Flow: f, IsReply: _isReply[i]))
            .GroupBy(p => (
                Client: EndpointKey(p.Flow.SrcIdentity, p.Flow.SrcIp),
                Server: EndpointKey(p.Flow.DstIdentity, p.Flow.DstIp),
                Port: IpProtocols.HasPorts(p.Flow.Protocol) ? p.Flow.DstPort : (ushort)0,
                p.Flow.Protocol))
            .Select(g => new
            {
                g.Key,
                Flows = g.Count(p => !p.IsReply),
                Bytes = g.Aggregate(0UL, (sum, p) => sum + p.Flow.Bytes),
                Packets = g.Aggregate(0UL, (sum, p) => sum + p.Flow.Packets),
                FirstSeen = g.Min(p => p.Flow.Start),
                LastSeen = g.Max(p => p.Flow.End),
                Denied = g.Count(p => p.Flow.Verdict == Verdict.Denied),
            })
            .Count();

    /// <summary>An edge's endpoint is the workload (the pod name is evidence), or the address when unknown.</summary>
    private static (EndpointKind, string?, string?, PackedIp) EndpointKey(WorkloadIdentity? identity, PackedIp address) =>
        identity is { Workload: not null } ? (identity.Kind, identity.Namespace, identity.Workload, default) : (EndpointKind.Unknown, null, null, address);

    [Benchmark(OperationsPerInvoke = Rows, Description = "EdgeAggregator")]
    public int EdgeAggregator()
    {
        var aggregator = new EdgeAggregator();
        var flows = _flows;
        for (int i = 0; i < flows.Length; i++) aggregator.Add(flows[i], _isReply[i]);
        return aggregator.EdgeCount;
    }
}
