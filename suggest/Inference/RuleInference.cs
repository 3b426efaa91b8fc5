using FlowPolicy.Analytics.Baseline;
using FlowPolicy.Core.Edges;

namespace FlowPolicy.Suggest.Inference;

/// <summary>
/// Observed edges -> least-privilege allow rules at workload-identity level (docs/suggest.md). Keeps every
/// dependency the baseline needs (DNS, start-up-only, periodic, scheduled jobs), leaves noise out with a reason, and
/// widens an address only where the report says by how much. Each job has its own type: noise and groups
/// (<see cref="BaselineClassifier"/>, shared with `check`), periodicity (<see cref="PeriodicityClassifier"/>), address
/// generalisation (<see cref="AddressGeneralisation"/>), drafts (<see cref="RuleDrafts"/>), evidence and confidence
/// (<see cref="RuleBuilder"/>, <see cref="RuleConfidences"/>), warnings (<see cref="SuggestionWarnings"/>).
/// </summary>
public sealed class RuleInference
{
    private readonly SuggestOptions _options;
    private readonly BaselineClassifier _baseline;

    public RuleInference(SuggestOptions? options = null)
    {
        _options = options ?? new SuggestOptions();
        _options.Validate();
        _baseline = new BaselineClassifier(_options.Baseline);
    }

    public SuggestMetrics Metrics { get; } = new();

    public SuggestionSet Infer(IReadOnlyList<Edge> edges)
    {
        var window = BaselineWindow.Of(edges, _options.WindowStart, _options.WindowEnd);
        var baseline = _baseline.Classify(edges, window);
        var kept = new List<Edge>(edges.Count - baseline.NoiseEdges);
        var leftOut = new List<LeftOutEdge>(baseline.NoiseEdges);
        for (int i = 0; i < edges.Count; i++)
        {
            if (baseline.Verdicts[i] is { } verdict) leftOut.Add(new LeftOutEdge(edges[i], verdict.Reason, verdict.Detail));
            else kept.Add(edges[i]);
        }
        Metrics.Classified(kept.Count, leftOut.Count);

        // Identity drafts here, address drafts on a pool thread. Address drafts group by their own ids and blocks; their
        // workload side gets its peer from the one table below, so every endpoint still has exactly one peer object.
        var addressTask = Task.Run(() => new AddressGeneralisation(_options).AddressDrafts(kept));
        var peers = new PeerTable();
        var drafts = new List<Draft>(kept.Count);
        RuleDrafts.IdentityDrafts(kept, peers, drafts);
        foreach (var (draft, workload, workloadIsServer) in addressTask.GetAwaiter().GetResult())
            drafts.Add(workloadIsServer ? draft with { Server = peers.Of(workload) } : draft with { Client = peers.Of(workload) });

        var order = RuleDrafts.RuleOrder(drafts);
        // Rules are independent of each other: built on every core, each part with its own scratch space. Two steps:
        // the edges are read in draft order (the order they sit in memory; rule order jumps across the whole heap at
        // every rule), then the rule objects are made in rule order (so the writers read them in memory order too).
        var summaries = new RuleSummary[drafts.Count];
        var rules = new SuggestedRule[drafts.Count];
        int parts = Math.Clamp(drafts.Count / 4096, 1, Environment.ProcessorCount);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = parts };
        Parallel.For(0, parts, parallel, part =>
        {
            var builder = new RuleBuilder(new PeriodicityClassifier(_options.Baseline, window), baseline.LongLivedClients);
            int from = (int)((long)rules.Length * part / parts), to = (int)((long)rules.Length * (part + 1) / parts);
            for (int k = from; k < to; k++) builder.Summarise(drafts[k], ref summaries[k]);
        });
        Parallel.For(0, parts, parallel, part =>
        {
            int from = (int)((long)rules.Length * part / parts), to = (int)((long)rules.Length * (part + 1) / parts);
            for (int k = from; k < to; k++) rules[k] = RuleBuilder.Build(drafts[order[k]], in summaries[order[k]]);
        });
        summaries = null;
        drafts = null;
        long generalisedRules = 0, periodicRules = 0;
        foreach (var rule in rules)
        {
            if (rule.Generalisation is not null) generalisedRules++;
            if ((rule.FlagSet & RuleFlags.Periodic) != 0) periodicRules++;
        }
        Metrics.Drafted(generalisedRules, periodicRules);

        var workloads = WorkloadPeers(rules);
        var warnings = SuggestionWarnings.Of(_options, rules, baseline.Groups, baseline.Workloads, workloads, window.Days);
        var namespaceSet = new HashSet<string>(StringComparer.Ordinal);
        var namespaces = new List<string>();
        foreach (var endpoint in baseline.Workloads)
            if (endpoint.Namespace is { } ns && namespaceSet.Add(ns)) namespaces.Add(ns);
        namespaces.Sort(StringComparer.Ordinal);
        return new SuggestionSet
        {
            WindowStart = window.Start,
            WindowEnd = window.End,
            Rules = rules,
            LeftOut = leftOut,
            Groups = baseline.Groups,
            Warnings = warnings,
            Namespaces = namespaces,
            Workloads = workloads,
            InputEdges = edges.Count,
        };
    }

    /// <summary>Workload peers of the rules (client, then server, in rule order), one per key, in key order.</summary>
    private static List<Peer> WorkloadPeers(SuggestedRule[] rules)
    {
        var byKey = new Dictionary<string, Peer>(StringComparer.Ordinal);
        foreach (var r in rules)
        {
            if (r.Client.IsWorkload) byKey.TryAdd(r.Client.Key, r.Client);
            if (r.Server.IsWorkload) byKey.TryAdd(r.Server.Key, r.Server);
        }
        var result = byKey.Values.ToList();
        result.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        return result;
    }
}
