using FlowPolicy.Core.Edges;

namespace FlowPolicy.Analytics.Intent;

/// <summary>An observed edge the intended policy would block, and why.</summary>
public sealed record BlockedEdge(Edge Edge, IntentDecision Decision);

/// <summary>How much observed traffic one allow rule matched.</summary>
public sealed record RuleHit(IntentRule Rule, long Flows, int Edges);

public sealed class BacktestResult
{
    /// <summary>Baseline edges (see <see cref="PolicyBacktest.IsBaseline"/>) the policy would block: each one is an outage.</summary>
    public required IReadOnlyList<BlockedEdge> Blocked { get; init; }
    /// <summary>Edges the network already denied every time that the policy blocks too: not a regression.</summary>
    public required IReadOnlyList<BlockedEdge> AlreadyDenied { get; init; }
    /// <summary>Every allow rule with at least one hit, most flows first.</summary>
    public required IReadOnlyList<RuleHit> RuleHits { get; init; }
    /// <summary>Allow rules no observed edge matched, in policy order.</summary>
    public required IReadOnlyList<IntentRule> UnusedRules { get; init; }
    public int Edges { get; init; }
    public int BaselineEdges { get; init; }
    public long BlockedFlows { get; init; }
    /// <summary>Edges that were only ever denied but the policy would allow (a widening worth reviewing).</summary>
    public int NewlyAllowedEdges { get; init; }
    public bool Passed => Blocked.Count == 0;
}

/// <summary>
/// Replays observed edges against an intended policy: which traffic it would block, which rules carry traffic,
/// which rules nothing uses. The `check` command's engine; suggest uses it to simulate suggested rule sets.
/// </summary>
public sealed class PolicyBacktest
{
    private readonly IIntentEvaluator _evaluator;

    public PolicyBacktest(IIntentEvaluator evaluator) => _evaluator = evaluator;

    /// <summary>
    /// Traffic the policy must keep working: an edge with at least one request flow the log saw allowed or with no
    /// verdict (most flow logs have none). Edges whose every flow was denied are not baseline: blocking them changes
    /// nothing (a port scan, a connection today's policy already refuses).
    /// </summary>
    public static bool IsBaseline(Edge edge) => edge.AllowedFlows + edge.UnknownVerdictFlows > 0;

    public BacktestResult Run(IEnumerable<Edge> edges, CancellationToken cancellationToken = default)
    {
        var blocked = new List<BlockedEdge>();
        var alreadyDenied = new List<BlockedEdge>();
        var hits = new Dictionary<IntentRule, (long Flows, int Edges)>();
        int count = 0, baseline = 0, newlyAllowed = 0;
        long blockedFlows = 0;
        foreach (var edge in edges)
        {
            if ((++count & 0xFFF) == 0) cancellationToken.ThrowIfCancellationRequested();
            bool isBaseline = IsBaseline(edge);
            if (isBaseline) baseline++;
            var decision = _evaluator.Evaluate(edge.Client, edge.Server, edge.Port, edge.Protocol);
            foreach (var rule in decision.MatchedRules)
            {
                hits.TryGetValue(rule, out var hit);
                hits[rule] = (hit.Flows + edge.Flows, hit.Edges + 1);
            }
            if (decision.Allowed)
            {
                if (!isBaseline) newlyAllowed++;
                continue;
            }
            if (isBaseline)
            {
                blocked.Add(new BlockedEdge(edge, decision));
                blockedFlows += edge.Flows;
            }
            else alreadyDenied.Add(new BlockedEdge(edge, decision));
        }
        static int Order(BlockedEdge a, BlockedEdge b)
        {
            int byFlows = b.Edge.Flows.CompareTo(a.Edge.Flows);
            return byFlows != 0 ? byFlows : string.CompareOrdinal(a.Edge.ToString(), b.Edge.ToString());
        }
        blocked.Sort(Order);
        alreadyDenied.Sort(Order);
        return new BacktestResult
        {
            Blocked = blocked,
            AlreadyDenied = alreadyDenied,
            RuleHits = _evaluator.Rules.Where(hits.ContainsKey).Select(r => new RuleHit(r, hits[r].Flows, hits[r].Edges))
                .OrderByDescending(h => h.Flows).ToList(),
            UnusedRules = _evaluator.Rules.Where(r => !hits.ContainsKey(r)).ToList(),
            Edges = count,
            BaselineEdges = baseline,
            BlockedFlows = blockedFlows,
            NewlyAllowedEdges = newlyAllowed,
        };
    }
}
