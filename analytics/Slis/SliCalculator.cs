using FlowPolicy.Analytics.Intent;
using FlowPolicy.Core.Edges;

namespace FlowPolicy.Analytics.Slis;

/// <summary>
/// Computes the SLIs of a window from its edges and the intended policy. Pure: the same edges and intent give the
/// same report, whichever edge source (files or ClickHouse rollups) produced them. Definitions: README "SLI definitions".
/// </summary>
public static class SliCalculator
{
    /// <param name="l7">The intent's L7 rules (<see cref="L7IntentEvaluator"/>), for the SLIs per L7 operation; null: judged by the ports alone.</param>
    public static SliReport Compute(IReadOnlyList<Edge> edges, IIntentEvaluator intent, AnalysisWindow window, L7IntentEvaluator? l7 = null)
    {
        ArgumentNullException.ThrowIfNull(edges);
        ArgumentNullException.ThrowIfNull(intent);
        var sorted = edges.ToList();
        if (!InOrder(sorted)) sorted.Sort(EdgeOrder.Compare); // both edge sources deliver them sorted already
        var assessed = AssessedEdge.Assess(sorted, intent);

        var overall = new ServiceSli { Service = "" };
        var perService = new SortedDictionary<string, ServiceSli>(StringComparer.Ordinal);
        var unintended = new List<AssessedEdge>();
        var mismatches = new List<VerdictMismatch>();
        var matched = new HashSet<IntentRule>();

        foreach (var item in assessed)
        {
            var edge = item.Edge;
            foreach (var rule in item.Intent.MatchedRules) matched.Add(rule);
            if (edge.Flows <= 0) continue; // reply halves only: no request was observed

            ServiceSli? service = null;
            if (!edge.Server.IsAddress && !perService.TryGetValue(edge.Server.Key, out service))
                perService[edge.Server.Key] = service = new ServiceSli { Service = edge.Server.Key };

            MismatchKind? mismatch = null;
            long mismatchFlows = 0;
            if (!item.Intent.Allowed && edge.AllowedFlows > 0) (mismatch, mismatchFlows) = (MismatchKind.ObservedAllowedIntentDenies, edge.AllowedFlows);
            else if (item.Intent.Allowed && edge.DeniedFlows > 0) (mismatch, mismatchFlows) = (MismatchKind.ObservedDeniedIntentAllows, edge.DeniedFlows);
            if (mismatch is { } kind) mismatches.Add(new VerdictMismatch(edge, item.Intent, kind, mismatchFlows));
            if (!item.Intent.Allowed) unintended.Add(item);

            Count(overall, item, mismatch is not null);
            if (service is not null) Count(service, item, mismatch is not null);
        }

        overall.DeniedFlowsPerMinute = overall.DeniedFlows / window.Minutes;
        foreach (var service in perService.Values) service.DeniedFlowsPerMinute = service.DeniedFlows / window.Minutes;

        var stale = intent.Rules.Where(r => !matched.Contains(r))
            .OrderBy(r => r.Policy, StringComparer.Ordinal).ThenBy(r => r.Rule, StringComparer.Ordinal).ToList();

        return new SliReport
        {
            Window = window,
            Overall = overall,
            PerService = perService,
            UnintendedEdges = unintended,
            StaleRules = stale,
            VerdictMismatches = mismatches,
            BlastRadius = BlastRadius.Compute(sorted, intent),
            Edges = assessed,
            L7Operations = L7OperationSli.Compute(assessed, l7 is { HasRules: true } ? l7 : null),
        };
    }

    private static bool InOrder(List<Edge> edges)
    {
        for (int i = 1; i < edges.Count; i++)
            if (EdgeOrder.Compare(edges[i - 1], edges[i]) > 0) return false;
        return true;
    }

    private static void Count(ServiceSli sli, AssessedEdge item, bool mismatch)
    {
        var edge = item.Edge;
        sli.Flows += edge.Flows;
        sli.Bytes += edge.Bytes;
        sli.DeniedFlows += edge.DeniedFlows;
        if (item.Intent.Allowed)
        {
            sli.FlowsAllowedByIntent += edge.Flows;
            sli.BytesAllowedByIntent += edge.Bytes;
        }
        else sli.UnintendedEdges++;
        if (mismatch) sli.VerdictMismatches++;
    }
}
