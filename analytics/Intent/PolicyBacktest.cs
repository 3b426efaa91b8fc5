using FlowPolicy.Analytics.Baseline;
using FlowPolicy.Core.Edges;

namespace FlowPolicy.Analytics.Intent;

/// <summary>An observed edge the intended policy would block, and why.</summary>
public sealed record BlockedEdge(Edge Edge, IntentDecision Decision);

/// <summary>A blocked baseline edge that is noise (what `suggest` leaves out): reported, not a failure unless strict.</summary>
public sealed record BlockedNoise(Edge Edge, IntentDecision Decision, NoiseVerdict Noise);

/// <summary>How much observed traffic one allow rule matched.</summary>
public sealed record RuleHit(IntentRule Rule, long Flows, int Edges);

public sealed class BacktestResult
{
    /// <summary>Baseline edges (see <see cref="PolicyBacktest.IsBaseline"/>) the policy would block: each one is an outage.</summary>
    public required IReadOnlyList<BlockedEdge> Blocked { get; init; }
    /// <summary>
    /// Baseline edges the policy would block that are noise by the classifier `suggest` uses (scanners, one-off bare
    /// pods, one-off boundary crossings ...): listed with their reason; they fail only a strict check.
    /// </summary>
    public IReadOnlyList<BlockedNoise> BlockedNoise { get; init; } = [];
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
    public long BlockedNoiseFlows { get; init; }
    /// <summary>No baseline edge blocked, noise apart.</summary>
    public bool Passed => Blocked.Count == 0;
    /// <summary>No baseline edge blocked at all, noise included (`check --strict`).</summary>
    public bool PassedStrict => Blocked.Count == 0 && BlockedNoise.Count == 0;
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

    /// <param name="edges">The observed edges.</param>
    /// <param name="noise">The classification of <paramref name="edges"/> (same order): blocked noise is listed apart; null: none is noise.</param>
    /// <param name="cancellationToken">Checked every few thousand edges.</param>
    private static ArgumentException NoiseMismatch(BaselineClassification noise, int count) =>
        new($"the classification holds {noise.Verdicts.Length} edges, the backtest got {count} or more: classify the same edges", nameof(noise));

    public BacktestResult Run(IEnumerable<Edge> edges, BaselineClassification? noise = null, CancellationToken cancellationToken = default)
    {
        var blocked = new List<BlockedEdge>();
        var blockedNoise = new List<BlockedNoise>();
        long blockedNoiseFlows = 0;
        var alreadyDenied = new List<BlockedEdge>();
        var hits = new Dictionary<IntentRule, (long Flows, int Edges)>();
        int count = 0, baseline = 0, newlyAllowed = 0;
        long blockedFlows = 0;
        foreach (var edge in edges)
        {
            if ((++count & 0xFFF) == 0) cancellationToken.ThrowIfCancellationRequested();
            if (noise is not null && count > noise.Verdicts.Length) throw NoiseMismatch(noise, count);
            bool isBaseline = IsBaseline(edge);
            if (isBaseline) baseline++;
            var decision = _evaluator.Evaluate(edge);
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
            if (isBaseline && noise?.Verdicts[count - 1] is { } verdict)
            {
                blockedNoise.Add(new BlockedNoise(edge, decision, verdict));
                blockedNoiseFlows += edge.Flows;
            }
            else if (isBaseline)
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
        if (noise is not null && noise.Verdicts.Length != count) throw NoiseMismatch(noise, count);
        blocked.Sort(Order);
        alreadyDenied.Sort(Order);
        blockedNoise.Sort((a, b) =>
        {
            int byReason = a.Noise.Reason.CompareTo(b.Noise.Reason);
            return byReason != 0 ? byReason : Order(new BlockedEdge(a.Edge, a.Decision), new BlockedEdge(b.Edge, b.Decision));
        });
        return new BacktestResult
        {
            Blocked = blocked,
            BlockedNoise = blockedNoise,
            BlockedNoiseFlows = blockedNoiseFlows,
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
