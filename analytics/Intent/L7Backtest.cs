using FlowPolicy.Core.Edges;

namespace FlowPolicy.Analytics.Intent;

/// <summary>An observed operation the intent's L7 rules would deny although its port is allowed.</summary>
public sealed record L7DeniedOperation(Edge Edge, L7OperationDecision Decision);

/// <summary>A name an edge's external server was reached by that the intent's toFQDNs would not allow.</summary>
public sealed record L7DeniedName(Edge Edge, L7NameDecision Decision);

public sealed class L7BacktestResult
{
    public static L7BacktestResult Empty { get; } = new() { Denied = [], AlreadyDenied = [], DeniedNames = [], Undetermined = [], NotObserved = [] };

    /// <summary>Operations with requests the proxy let through that the intent denies: each is a regression once enforced. Most requests first.</summary>
    public required IReadOnlyList<L7DeniedOperation> Denied { get; init; }
    /// <summary>Operations the intent denies whose every request the proxy already denied (an L7 policy in force): not a regression.</summary>
    public required IReadOnlyList<L7DeniedOperation> AlreadyDenied { get; init; }
    public required IReadOnlyList<L7DeniedName> DeniedNames { get; init; }
    /// <summary>Operations and names the rules decide on what the flows do not show: listed, never a failure.</summary>
    public required IReadOnlyList<L7EdgeDecision> Undetermined { get; init; }
    /// <summary>Edges an L7 rule applies to without L7 history: "L7 not observed, cannot judge".</summary>
    public required IReadOnlyList<L7EdgeDecision> NotObserved { get; init; }
    /// <summary>Edges an L7 rule applies to (judged, undetermined or not observed).</summary>
    public int Edges { get; init; }
    public int JudgedOperations { get; init; }
    public long JudgedRequests { get; init; }
    public long DeniedRequests { get; init; }
    public bool Passed => Denied.Count == 0 && DeniedNames.Count == 0;
}

/// <summary>
/// `check`'s L7 half: replays every edge's L7 history (<see cref="Edge.L7"/>) against the intent's L7 rules
/// (<see cref="L7IntentEvaluator"/>). Runs beside <see cref="PolicyBacktest"/>, which judges the ports.
/// </summary>
public sealed class L7Backtest(L7IntentEvaluator evaluator)
{
    public L7BacktestResult Run(IEnumerable<Edge> edges, CancellationToken cancellationToken = default)
    {
        var denied = new List<L7DeniedOperation>();
        var already = new List<L7DeniedOperation>();
        var names = new List<L7DeniedName>();
        var undetermined = new List<L7EdgeDecision>();
        var notObserved = new List<L7EdgeDecision>();
        int count = 0, judgedEdges = 0, judgedOps = 0;
        long judgedRequests = 0, deniedRequests = 0;
        foreach (var edge in edges)
        {
            if ((++count & 0xFFF) == 0) cancellationToken.ThrowIfCancellationRequested();
            var decision = evaluator.Evaluate(edge);
            if (decision.Status == L7EdgeStatus.NoL7Rule) continue;
            judgedEdges++;
            if (decision.Status == L7EdgeStatus.NotObserved)
            {
                notObserved.Add(decision);
                continue;
            }
            bool anyUndetermined = false;
            foreach (var op in decision.Operations)
            {
                judgedOps++;
                judgedRequests += op.Operation.Requests;
                if (op.Verdict == L7Verdict.Undetermined) anyUndetermined = true;
                if (op.Verdict != L7Verdict.Denied) continue;
                // Requests the proxy denied already are not a regression; the rest would start failing with 403.
                if (op.Operation.Requests > op.Operation.Denied)
                {
                    denied.Add(new L7DeniedOperation(edge, op));
                    deniedRequests += op.Operation.Requests - op.Operation.Denied;
                }
                else already.Add(new L7DeniedOperation(edge, op));
            }
            foreach (var name in decision.Names)
            {
                if (name.Verdict == L7Verdict.Undetermined) anyUndetermined = true;
                if (name.Verdict == L7Verdict.Denied) names.Add(new L7DeniedName(edge, name));
            }
            if (anyUndetermined) undetermined.Add(decision);
        }
        static int Order(L7DeniedOperation a, L7DeniedOperation b)
        {
            int byRequests = b.Decision.Operation.Requests.CompareTo(a.Decision.Operation.Requests);
            return byRequests != 0 ? byRequests : string.CompareOrdinal(a.Edge + " " + a.Decision.Operation, b.Edge + " " + b.Decision.Operation);
        }
        denied.Sort(Order);
        already.Sort(Order);
        names.Sort((a, b) => b.Decision.Name.Flows.CompareTo(a.Decision.Name.Flows));
        return new L7BacktestResult
        {
            Denied = denied,
            AlreadyDenied = already,
            DeniedNames = names,
            Undetermined = undetermined,
            NotObserved = notObserved,
            Edges = judgedEdges,
            JudgedOperations = judgedOps,
            JudgedRequests = judgedRequests,
            DeniedRequests = deniedRequests,
        };
    }
}
