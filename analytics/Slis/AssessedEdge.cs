using FlowPolicy.Analytics.Intent;
using FlowPolicy.Core.Edges;

namespace FlowPolicy.Analytics.Slis;

/// <summary>An observed edge with what the intended policy says about it (evaluated once, shared by graph and SLIs).</summary>
public sealed record AssessedEdge(Edge Edge, IntentDecision Intent)
{
    private const int ParallelThreshold = 50_000;

    /// <summary>Evaluates every edge once, in the edges' order.</summary>
    public static List<AssessedEdge> Assess(IReadOnlyList<Edge> edges, IIntentEvaluator intent)
    {
        // The built-in evaluator is thread-safe: a million edges are split over the cores. Other evaluators
        // (test doubles, adapters) are asked one edge at a time, in order.
        if (intent is IntentEvaluator && edges.Count >= ParallelThreshold)
        {
            var decided = new AssessedEdge[edges.Count];
            Parallel.For(0, Environment.ProcessorCount, part =>
            {
                int from = (int)((long)edges.Count * part / Environment.ProcessorCount);
                int to = (int)((long)edges.Count * (part + 1) / Environment.ProcessorCount);
                for (int i = from; i < to; i++)
                {
                    var edge = edges[i];
                    decided[i] = new AssessedEdge(edge, intent.Evaluate(edge));
                }
            });
            return [.. decided];
        }
        var result = new List<AssessedEdge>(edges.Count);
        foreach (var edge in edges)
            result.Add(new AssessedEdge(edge, intent.Evaluate(edge)));
        return result;
    }
}
