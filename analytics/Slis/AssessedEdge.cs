using FlowPolicy.Analytics.Intent;
using FlowPolicy.Core.Edges;

namespace FlowPolicy.Analytics.Slis;

/// <summary>An observed edge with what the intended policy says about it (evaluated once, shared by graph and SLIs).</summary>
public sealed record AssessedEdge(Edge Edge, IntentDecision Intent)
{
    /// <summary>Evaluates every edge once, in the edges' order.</summary>
    public static List<AssessedEdge> Assess(IReadOnlyList<Edge> edges, IIntentEvaluator intent)
    {
        var result = new List<AssessedEdge>(edges.Count);
        foreach (var edge in edges)
            result.Add(new AssessedEdge(edge, intent.Evaluate(edge.Client, edge.Server, edge.Port, edge.Protocol)));
        return result;
    }
}
