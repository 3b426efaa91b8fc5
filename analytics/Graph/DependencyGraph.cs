using FlowPolicy.Analytics.Slis;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;

namespace FlowPolicy.Analytics.Graph;

/// <summary>
/// The service-level dependency graph of a window: nodes are endpoints (workloads, nodes, services, external networks
/// and addresses, unknown private addresses), edges the observed client -> server:port edges with their evidence and
/// the intended policy's decision. Exact: graph.json writes it as is; the SVG collapses internet addresses.
/// </summary>
public sealed class DependencyGraph
{
    private DependencyGraph(AnalysisWindow window, IReadOnlyList<Endpoint> nodes, IReadOnlyList<AssessedEdge> edges)
    {
        Window = window;
        Nodes = nodes;
        Edges = edges;
    }

    public AnalysisWindow Window { get; }
    /// <summary>Every endpoint on an edge, ordered by key.</summary>
    public IReadOnlyList<Endpoint> Nodes { get; }
    public IReadOnlyList<AssessedEdge> Edges { get; }

    public static DependencyGraph Build(AnalysisWindow window, IReadOnlyList<AssessedEdge> edges)
    {
        // The first endpoint seen per key, then ordered by key (hashing a million edges, sorting only the nodes).
        var nodes = new Dictionary<string, Endpoint>(StringComparer.Ordinal);
        foreach (var item in edges)
        {
            nodes.TryAdd(item.Edge.Client.Key, item.Edge.Client);
            nodes.TryAdd(item.Edge.Server.Key, item.Edge.Server);
        }
        var ordered = nodes.Values.ToList();
        ordered.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        return new DependencyGraph(window, ordered, edges);
    }

    /// <summary>The cluster (namespace) a node is drawn in; null for nodes outside any namespace.</summary>
    public static string? NamespaceOf(Endpoint endpoint) =>
        endpoint.Kind is EndpointKind.Pod or EndpointKind.Service ? endpoint.Namespace : null;
}
