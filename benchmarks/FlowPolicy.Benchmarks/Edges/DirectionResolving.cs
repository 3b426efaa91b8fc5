using BenchmarkDotNet.Attributes;
using FlowPolicy.Benchmarks.Data;
using FlowPolicy.Core.Flows;
using FlowPolicy.Ingest.Direction;

namespace FlowPolicy.Benchmarks.Edges;

/// <summary>
/// DirectionResolver on records without a direction hint or flags (VPC and NetFlow records look like this), so
/// the port evidence decides. Baseline: the rule of thumb "the lower port is the server".
/// </summary>
public class DirectionResolving
{
    private const int Rows = BenchData.Records;
    private FlowRecord[] _flows = [];
    private DirectionResolver _observer = null!;
    private DirectionResolver _resolver = null!;

    [GlobalSetup]
    public void Setup()
    {
        _flows = BenchData.Flows(withIdentities: false);
        for (int i = 0; i < _flows.Length; i++)
        {
            _flows[i].Direction = DirectionHint.Unknown;
            _flows[i].HasTcpFlags = false;
            _flows[i].TcpFlags = 0;
        }
        _observer = new DirectionResolver();
        _resolver = new DirectionResolver();
        _resolver.Observe(_flows);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Rows, Description = "Lower port is the server")]
    public long LowerPortIsServer()
    {
        long flipped = 0;
        foreach (var flow in _flows)
        {
            var f = flow;
            if (f.SrcPort < f.DstPort)
            {
                f.Flip();
                flipped++;
            }
        }
        return flipped;
    }

    [Benchmark(OperationsPerInvoke = Rows, Description = "DirectionResolver.Observe")]
    public long Observe()
    {
        _observer.Observe(_flows);
        return _observer.Metrics.Observed;
    }

    [Benchmark(OperationsPerInvoke = Rows, Description = "DirectionResolver.Resolve")]
    public long Resolve()
    {
        long flipped = 0;
        foreach (var flow in _flows)
        {
            var f = flow; // resolve a copy: the input stays the same for every iteration
            if (_resolver.Resolve(ref f).Flipped) flipped++;
        }
        return flipped;
    }
}
