using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;

namespace FlowPolicy.Analytics.Baseline;

/// <summary>Workloads of one namespace split by a label into parallel groups with traffic only inside each group.</summary>
public sealed record WorkloadGroups(string Namespace, string LabelKey, IReadOnlyDictionary<string, IReadOnlyList<string>> Members, int EdgesInside);

/// <summary>
/// Parallel groups (per-tenant, per-room workloads): for each namespace and label key, when at least two values each
/// label at least two workloads and every edge between labelled workloads stays inside one value, the key splits the
/// namespace into groups the traffic respects.
/// </summary>
internal static class WorkloadGroupDetector
{
    /// <param name="workloads">Pod endpoints, one per key, in key order.</param>
    /// <param name="edges">The traffic that sets the boundaries (recurring kept edges; one-offs are judged against the groups).</param>
    public static List<WorkloadGroups> Detect(List<Endpoint> workloads, IEnumerable<Edge> edges)
    {
        var groups = new List<WorkloadGroups>();
        // Pod -> pod edges inside one namespace, by namespace: one pass instead of one per label key.
        var insideByNamespace = new Dictionary<string, List<Edge>>(StringComparer.Ordinal);
        List<Edge>? current = null;
        string? currentNamespace = null;
        foreach (var e in edges)
        {
            if (e.Client.Kind != EndpointKind.Pod || e.Server.Kind != EndpointKind.Pod || e.Client.Namespace is not { } ns || ns != e.Server.Namespace) continue;
            if (!ReferenceEquals(ns, currentNamespace))
            {
                ref var slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(insideByNamespace, ns, out _);
                current = slot ??= [];
                currentNamespace = ns;
            }
            current!.Add(e);
        }
        foreach (var ns in workloads.GroupBy(w => w.Namespace ?? ""))
        {
            var members = ns.ToList();
            var edgesInNamespace = insideByNamespace.TryGetValue(ns.Key, out var list) ? list : [];
            foreach (var key in members.SelectMany(m => m.Labels.Select(l => l.Key)).Distinct().Order(StringComparer.Ordinal))
            {
                var byValue = members.Where(m => m.Label(key) is not null).GroupBy(m => m.Label(key)!).ToList();
                if (byValue.Count < 2 || byValue.Any(g => g.Count() < 2)) continue;
                // Edges with the label on both sides: none, or one whose sides differ, and the key splits nothing.
                int inside = 0;
                bool crossed = false;
                foreach (var e in edgesInNamespace)
                {
                    if (e.Client.Label(key) is not { } clientValue || e.Server.Label(key) is not { } serverValue) continue;
                    if (clientValue != serverValue)
                    {
                        crossed = true;
                        break;
                    }
                    inside++;
                }
                if (inside == 0 || crossed) continue;
                groups.Add(new WorkloadGroups(ns.Key, key,
                    byValue.OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key,
                        g => (IReadOnlyList<string>)g.Select(m => m.Name).Order(StringComparer.Ordinal).ToList(), StringComparer.Ordinal),
                    inside));
            }
        }
        return groups;
    }
}
