using System.Globalization;
using FlowPolicy.Analytics.Baseline;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Core.Edges;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Reports;

internal static partial class PipelineReport
{
    /// <summary>One line of "What the numbers mean": a count, what it is, and how it follows from the lines above it.</summary>
    internal sealed record NumberRow(string Label, string Value, string Meaning, int Depth = 0, string? Link = null);

    /// <summary>An unintended edge with what to do about it.</summary>
    internal sealed record UnintendedEdge(AssessedEdge Assessed, string Fix, bool BreaksWhenEnforced);

    /// <summary>The numbers and lists every rendering shows, computed once.</summary>
    internal sealed class Facts
    {
        public required IReadOnlyList<Edge> NewEdges { get; init; }
        public required IReadOnlyList<SuggestedRule> Changes { get; init; }
        public required IReadOnlyList<SuggestedRule> Periodic { get; init; }
        public required IReadOnlyList<Edge> TopDenied { get; init; }
        public required IReadOnlyList<(string Policy, string Rule, string Kind)> StaleRules { get; init; }
        public required long Flows { get; init; }
        public required long DeniedFlows { get; init; }
        public required IReadOnlyList<(LeaveOutReason Reason, int Edges, long Flows)> LeftOutByReason { get; init; }
        public required IReadOnlyList<UnintendedEdge> Unintended { get; init; }
        /// <summary>Observed edge key -> the suggested rule covering it, and whether the intended policy lacks that rule.</summary>
        public required IReadOnlyDictionary<string, (SuggestedRule Rule, bool ToAdd)> SuggestedBy { get; init; }
        public required IReadOnlyDictionary<string, LeftOutEdge> LeftOutBy { get; init; }
        public required ServiceMap.Model Map { get; init; }
        public IReadOnlyList<NumberRow> Numbers { get; private set; } = [];

        public static Facts From(PipelineReportInput input)
        {
            var newEdges = input.PreviousEdges is null ? [] : input.Edges.Where(e => !input.PreviousEdges.Contains(EdgeKey(e))).OrderByDescending(e => e.Flows).ToList();
            var rules = input.Suggestions?.Rules ?? [];
            var changes = input.Diff?.ToAdd ?? rules;
            var periodic = rules.Where(r => (r.FlagSet & (RuleFlags.Periodic | RuleFlags.StartupOnly | RuleFlags.Rare | RuleFlags.ScheduledJob)) != 0).ToList();
            var denied = input.Edges.Where(e => e.DeniedFlows > 0).OrderByDescending(e => e.DeniedFlows).ThenBy(EdgeKey, StringComparer.Ordinal).Take(PipelineReport.TopDenied).ToList();
            var stale = (input.Slis?.StaleRules ?? input.Diff?.Unused ?? []).Select(r => (r.Policy, r.Rule, r.Kind)).ToList();

            var toAdd = input.Diff?.ToAdd.ToHashSet();
            var suggestedBy = new Dictionary<string, (SuggestedRule, bool)>(StringComparer.Ordinal);
            foreach (var rule in rules)
                foreach (var e in rule.Edges)
                    suggestedBy.TryAdd(EdgeKey(e), (rule, toAdd?.Contains(rule) ?? false));
            var leftOutBy = new Dictionary<string, LeftOutEdge>(StringComparer.Ordinal);
            foreach (var l in input.LeftOut) leftOutBy.TryAdd(EdgeKey(l.Edge), l);
            var byReason = input.LeftOut.GroupBy(l => l.Reason).OrderBy(g => g.Key)
                .Select(g => (g.Key, g.Count(), g.Sum(l => l.Edge.Flows))).ToList();

            var mismatched = input.Slis?.VerdictMismatches.Where(m => m.Kind == MismatchKind.ObservedAllowedIntentDenies).Select(m => EdgeKey(m.Edge)).ToHashSet(StringComparer.Ordinal);
            var unintended = (input.Slis?.UnintendedEdges ?? []).OrderByDescending(a => a.Edge.Flows).ThenBy(a => EdgeKey(a.Edge), StringComparer.Ordinal)
                .Select(a =>
                {
                    var key = EdgeKey(a.Edge);
                    bool breaks = mismatched?.Contains(key) == true;
                    return new UnintendedEdge(a, Fix(a.Edge, suggestedBy, leftOutBy, input.Suggestions is not null, breaks), breaks);
                }).ToList();

            var map = ServiceMap.Build(input, suggestedBy, leftOutBy);
            var facts = new Facts
            {
                NewEdges = newEdges, Changes = changes, Periodic = periodic, TopDenied = denied, StaleRules = stale,
                Flows = input.Edges.Sum(e => e.Flows), DeniedFlows = input.Edges.Sum(e => e.DeniedFlows),
                LeftOutByReason = byReason, Unintended = unintended, SuggestedBy = suggestedBy, LeftOutBy = leftOutBy, Map = map,
            };
            facts.Numbers = NumberRows(input, facts);
            return facts;
        }

        /// <summary>What to do about one unintended edge: the rule that would allow it, or why the candidate policy blocks it.</summary>
        private static string Fix(Edge edge, Dictionary<string, (SuggestedRule Rule, bool ToAdd)> suggestedBy, Dictionary<string, LeftOutEdge> leftOutBy,
            bool suggested, bool breaks)
        {
            var key = EdgeKey(edge);
            var prefix = breaks ? "Enforcing the intent breaks it (the log shows it allowed). " : "";
            if (suggestedBy.TryGetValue(key, out var s))
                return prefix + $"If it is wanted: add rule {s.Rule.Id} ({s.Rule}) to the intended policy; it is in the suggested policy files. If not: find what started it, then leave it blocked.";
            if (leftOutBy.TryGetValue(key, out var l) && !suggested)
                return prefix + $"It looks like noise ({l.ReasonName}: {l.Detail}). Find what started it; if it is wanted, allow {edge.Client.Key} -> {edge.Server.Key}:{edge.Port}/{edge.ProtocolName} in the intended policy.";
            if (l is not null)
                return prefix + $"The candidate policy blocks it as noise ({l.ReasonName}: {l.Detail}). Find what started it; if it is wanted after all, allow {edge.Client.Key} -> {edge.Server.Key}:{edge.Port}/{edge.ProtocolName} by hand.";
            return prefix + (suggested
                ? $"No suggested rule covers it (outside the policy scope). If it is wanted, allow {edge.Client.Key} -> {edge.Server.Key}:{edge.Port}/{edge.ProtocolName} in the intended policy."
                : $"If it is wanted: allow {edge.Client.Key} -> {edge.Server.Key}:{edge.Port}/{edge.ProtocolName} in the intended policy (`flowpolicy suggest` writes the rule with its evidence). If not: find what started it before enforcing.");
        }

        private static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
        private static string EdgesText(long n) => n == 1 ? "1 edge" : N(n) + " edges";
        private static string FlowsText(long n) => n == 1 ? "1 flow" : N(n) + " flows";

        /// <summary>From the records read to every count the page shows, each from the ones above it.</summary>
        private static List<NumberRow> NumberRows(PipelineReportInput input, Facts f)
        {
            var rows = new List<NumberRow>();
            if (input.Counts is { } c)
            {
                rows.Add(new("records read", N(c.RecordsRead), $"flow log records read from {c.Source}; a connection is usually two records, the client's request and the server's reply"));
                if (c.OutsideWindow > 0) rows.Add(new("outside the window", "− " + N(c.OutsideWindow), "records that started before or after the report's window: not counted", 1));
                rows.Add(new("replies folded", "− " + N(c.RepliesFolded), "records that were the server's half of a connection: folded into their request's edge, adding bytes and packets but not a flow (docs/enrichment.md says how the server side is found)", 1));
                if (c.Rejected is > 0) rows.Add(new("could not be decoded", N(c.Rejected.Value), "malformed records, not in any count below (`flowpolicy edges --rejects FILE` lists each with its line)", 1));
                rows.Add(new("flows", N(f.Flows), f.Flows == c.Flows
                    ? $"request records in the window: {N(c.RecordsRead)} read{(c.OutsideWindow > 0 ? " − " + N(c.OutsideWindow) + " outside the window" : "")} − {N(c.RepliesFolded)} replies"
                    : f.Flows < c.Flows && input.EdgeScope is { } scope
                        ? $"request records in the window on edges of the namespace scope ({scope}): {N(c.Flows)} in the window, {N(c.Flows - f.Flows)} on edges outside the scope"
                        : $"request records in the window as the edges count them; records − replies gives {N(c.Flows)} ({N(Math.Abs(c.Flows - f.Flows))} {(c.Flows < f.Flows ? "fewer" : "more")}): the raw table keeps fewer days than the edge rollups (retention), or ingest is still writing the window"));
            }
            else rows.Add(new("flows", N(f.Flows), "request flows on the edges below (each connection once; replies add bytes, not flows)"));
            rows.Add(new("edges", N(input.Edges.Count), "distinct client → server:port/protocol, where client and server are workloads (a Deployment's pods are one workload), nodes, services or addresses", Link: "#smap"));
            var m = f.Map;
            if (m.DrawnEdges > 0 || m.NoiseHidden > 0)
            {
                var parts = new List<string>();
                if (m.MergedAway > 0) parts.Add($"{EdgesText(m.MergedAway)} fewer because bare addresses are one node per kind (internet clients, unknown private addresses), their edges one per port");
                if (m.NoiseHidden > 0) parts.Add($"{EdgesText(m.NoiseHidden)} of noise (scanners, debug pods) not drawn");
                if (m.NotDrawn > 0) parts.Add($"{EdgesText(m.NotDrawn)} quieter ones not drawn (the busiest {N(ServiceMap.MaxEdges)} are)");
                if (m.Plumbing > 0) parts.Add($"{EdgesText(m.Plumbing)} of plumbing (node probes, DNS, the API server) behind the toggle");
                rows.Add(new("on the map", N(m.DrawnEdges), "map edges drawn" + (parts.Count > 0 ? ": " + string.Join("; ", parts) : ""), 1, "#smap"));
            }
            if (input.Slis is { } slis)
            {
                var allowed = slis.Edges.Where(a => a.Intent.Allowed).ToList();
                rows.Add(new("allowed by intent", $"{EdgesText(allowed.Count)}, {FlowsText(allowed.Sum(a => a.Edge.Flows))}", "edges the intended policy allows (compliance counts their flows)", 1));
                rows.Add(new("unintended", $"{EdgesText(slis.UnintendedEdges.Count)}, {FlowsText(slis.UnintendedEdges.Sum(a => a.Edge.Flows))}",
                    "observed, and the intended policy does not allow them: each is listed below with its evidence and a fix", 1, "#unintended"));
            }
            int deniedEdges = input.Edges.Count(e => e.DeniedFlows > 0);
            rows.Add(new("denied in the log", $"{EdgesText(deniedEdges)}, {FlowsText(f.DeniedFlows)}", "flows the network's own policy denied, as the log recorded them (of all flows)", 1, f.DeniedFlows > 0 ? "#denied" : null));
            if (input.PreviousEdges is not null)
                rows.Add(new("new since the last report", N(f.NewEdges.Count), $"edges not in {input.PreviousReport ?? "the previous report"}", 1, "#new"));
            if (input.Suggestions is { } set)
            {
                long coveredFlows = 0;
                int covered = 0;
                foreach (var e in input.Edges)
                    if (f.SuggestedBy.ContainsKey(EdgeKey(e))) { covered++; coveredFlows += e.Flows; }
                rows.Add(new("allowed by the suggestion", $"{EdgesText(covered)}, {FlowsText(coveredFlows)}", $"edges the {N(set.Rules.Count)} suggested rules allow", 1, "#rules"));
            }
            int leftOut = input.LeftOut.Count;
            if (leftOut > 0 || input.Suggestions is not null)
            {
                rows.Add(new("left out as noise", $"{EdgesText(leftOut)}, {FlowsText(input.LeftOut.Sum(l => l.Edge.Flows))}",
                    input.Suggestions is null ? "edges judged noise rather than dependencies (the classifier suggest uses), by reason:" : "edges no suggested rule allows, by reason:", 1, "#noise"));
                foreach (var (reason, edges, flows) in f.LeftOutByReason)
                    rows.Add(new(reason.Name(), $"{EdgesText(edges)}, {FlowsText(flows)}", reason.Description(), 2));
            }
            if (input.Suggestions is not null)
            {
                int rest = input.Edges.Count - input.Edges.Count(e => f.SuggestedBy.ContainsKey(EdgeKey(e))) - leftOut;
                if (rest > 0) rows.Add(new("outside the policy scope", EdgesText(rest), "edges between namespaces that get no policies (excluded: system namespaces by default); no rule, no default deny", 1));
                rows.Add(new("blocked by the candidate policy", $"{EdgesText(leftOut)}, {FlowsText(input.LeftOut.Sum(l => l.Edge.Flows))}",
                    "applying the suggested policies (default deny plus the rules) blocks exactly the edges left out as noise in the namespaces they cover", 1, "#noise"));
            }
            return rows;
        }
    }
}
