namespace FlowPolicy.Core.Edges;

/// <summary>
/// Which namespaces a command works on (`--include-namespace`, `--exclude-namespace`, serve's `namespaces:`), as
/// name patterns (<see cref="Glob"/>: `*`, `?`). A namespace is in scope when it matches an include pattern (or no
/// include pattern is given and it does not match a default exclusion), and it matches no exclude pattern.
/// Endpoints without a namespace (nodes, addresses) are neither in nor out: scope is about namespaces only.
/// </summary>
public sealed class NamespaceScope
{
    /// <summary>
    /// Left out of suggestions unless named by an include pattern: the cluster's own control plane (CoreDNS,
    /// kube-proxy, the CNI agents, metrics-server live in kube-system) breaks in ways that take the cluster down when a
    /// week of observation misses one of its flows, and kube-public / kube-node-lease hold no workloads of yours.
    /// </summary>
    public static readonly IReadOnlyList<string> SystemNamespaces = ["kube-system", "kube-public", "kube-node-lease"];

    /// <summary>Everything in scope.</summary>
    public static readonly NamespaceScope Everything = new([], [], []);

    private readonly Glob[] _include;
    private readonly Glob[] _exclude;
    private readonly Glob[] _defaultExclude;

    private NamespaceScope(IReadOnlyList<string> include, IReadOnlyList<string> exclude, IReadOnlyList<string> defaultExclude)
    {
        foreach (var pattern in include.Concat(exclude))
            if (string.IsNullOrWhiteSpace(pattern)) throw new ArgumentException("a namespace pattern is empty");
        Include = include;
        Exclude = exclude;
        _include = include.Select(p => new Glob(p)).ToArray();
        _exclude = exclude.Select(p => new Glob(p)).ToArray();
        // An include list says exactly what is wanted: the defaults step aside (`--include-namespace '*'` is everything).
        DefaultExclude = include.Count == 0 ? defaultExclude : [];
        _defaultExclude = DefaultExclude.Select(p => new Glob(p)).ToArray();
    }

    public IReadOnlyList<string> Include { get; }
    public IReadOnlyList<string> Exclude { get; }
    /// <summary>The default exclusions in force (none when an include pattern is given).</summary>
    public IReadOnlyList<string> DefaultExclude { get; }

    public bool IsEverything => _include.Length == 0 && _exclude.Length == 0 && _defaultExclude.Length == 0;

    /// <summary>For suggestions: <see cref="SystemNamespaces"/> excluded unless an include pattern is given.</summary>
    /// <exception cref="ArgumentException">An empty pattern.</exception>
    public static NamespaceScope ForPolicies(IReadOnlyList<string> include, IReadOnlyList<string> exclude) => new(include, exclude, SystemNamespaces);

    /// <summary>
    /// For check and analyze: only what the user names. A policy set that covers kube-system must be checked against
    /// kube-system's traffic, or a CI gate passes a policy that breaks it.
    /// </summary>
    public static NamespaceScope Exactly(IReadOnlyList<string> include, IReadOnlyList<string> exclude) => new(include, exclude, []);

    public bool Includes(string? ns)
    {
        if (ns is null) return false;
        foreach (var glob in _exclude)
            if (glob.Matches(ns)) return false;
        if (_include.Length > 0)
        {
            foreach (var glob in _include)
                if (glob.Matches(ns)) return true;
            return false;
        }
        foreach (var glob in _defaultExclude)
            if (glob.Matches(ns)) return false;
        return true;
    }

    /// <summary>
    /// Whether an edge concerns the scope: one of its ends is in an included namespace, or neither end has a
    /// namespace (node and address traffic). An edge between two excluded namespaces, or between an excluded
    /// namespace and the outside, is out; one between an included and an excluded namespace stays, because the
    /// included side's policy has to allow it (egress to CoreDNS in kube-system, ingress from a monitoring namespace).
    /// </summary>
    public bool Keeps(Edge edge)
    {
        if (IsEverything) return true;
        string? client = edge.Client.Namespace, server = edge.Server.Namespace;
        if (client is null && server is null) return true;
        return Includes(client) || Includes(server);
    }

    public override string ToString()
    {
        var parts = new List<string>();
        if (Include.Count > 0) parts.Add("only " + string.Join(", ", Include));
        if (DefaultExclude.Count > 0) parts.Add("not " + string.Join(", ", DefaultExclude) + " (default)");
        if (Exclude.Count > 0) parts.Add("not " + string.Join(", ", Exclude));
        return parts.Count == 0 ? "every namespace" : string.Join("; ", parts);
    }
}
