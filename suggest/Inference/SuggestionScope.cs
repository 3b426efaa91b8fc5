using System.Globalization;
using FlowPolicy.Core.Edges;

namespace FlowPolicy.Suggest.Inference;

/// <summary>
/// Applies a <see cref="NamespaceScope"/> to a suggestion before anything is emitted: the one place that decides which
/// workloads get policies. Inference itself sees every edge (scanner and noise detection need the whole picture).
/// </summary>
public static class SuggestionScope
{
    /// <summary>
    /// The suggestion for the workloads of included namespaces: their namespaces and workloads only (an excluded
    /// namespace gets no default deny and no policy file), and every rule one of whose sides is such a workload, so a
    /// workload inside keeps its egress to an excluded namespace (CoreDNS in kube-system) and its ingress from one.
    /// </summary>
    public static SuggestionSet Restrict(SuggestionSet set, NamespaceScope scope)
    {
        if (scope.IsEverything) return set;
        bool Inside(Peer peer) => peer.IsWorkload && scope.Includes(peer.Namespace);
        var rules = set.Rules.Where(r => Inside(r.Client) || Inside(r.Server)).ToList();
        var namespaces = set.Namespaces.Where(scope.Includes).ToList();
        var excluded = set.Namespaces.Where(ns => !scope.Includes(ns)).ToList();
        var warnings = set.Warnings.ToList();
        if (excluded.Count > 0)
        {
            int workloads = set.Workloads.Count(w => !scope.Includes(w.Namespace));
            warnings.Add(string.Create(CultureInfo.InvariantCulture,
                $"No policies for the {workloads} workloads of {excluded.Count} excluded namespaces ({string.Join(", ", excluded)}; scope: {scope}); " +
                $"{set.Rules.Count - rules.Count} rules between them left out. Workloads of included namespaces keep their rules to and from them."));
        }
        return new SuggestionSet
        {
            WindowStart = set.WindowStart,
            WindowEnd = set.WindowEnd,
            Rules = rules,
            LeftOut = set.LeftOut.Where(l => scope.Keeps(l.Edge)).ToList(),
            Groups = set.Groups.Where(g => scope.Includes(g.Namespace)).ToList(),
            Warnings = warnings,
            Namespaces = namespaces,
            Workloads = set.Workloads.Where(w => scope.Includes(w.Namespace)).ToList(),
            InputEdges = set.InputEdges,
        };
    }
}
