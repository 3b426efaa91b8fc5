using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;

namespace FlowPolicy.Suggest.Inference;

/// <summary>A DNS name or pattern a rule allows (Cilium matchName / matchPattern, an Istio ServiceEntry host).</summary>
internal readonly record struct DnsNameMatch(string Text, bool IsPattern)
{
    public override string ToString() => Text;
}

/// <summary>
/// What a rule's edges say at L7, for the emitters that can express it (docs/l7.md): the HTTP/gRPC operations and
/// Kafka operations clients used, and the DNS names an address server was reached by. Each is all-or-nothing over the
/// rule's edges: an edge without the facts means traffic nobody saw at L7, so the rule stays L4.
/// </summary>
internal static class RuleL7
{
    /// <summary>Sibling names under one parent domain that become <c>*.parent</c>.</summary>
    public const int WildcardMinNames = 3;

    // Second-level labels that make "label.tld" a public suffix (co.uk, com.au ...): never wildcarded under.
    private static readonly HashSet<string> SuffixLabels = new(StringComparer.Ordinal) { "co", "com", "net", "org", "gov", "edu", "ac", "ne", "or", "go" };

    /// <summary>HTTP/gRPC operations of every edge (merged by operation), or null when an edge has none.</summary>
    public static IReadOnlyList<L7Operation>? HttpOperations(SuggestedRule rule) =>
        Operations(rule, static p => p is L7Protocol.Http or L7Protocol.Grpc);

    /// <summary>Kafka operations of every edge, or null when an edge has none.</summary>
    public static IReadOnlyList<L7Operation>? KafkaOperations(SuggestedRule rule) => Operations(rule, static p => p == L7Protocol.Kafka);

    private static IReadOnlyList<L7Operation>? Operations(SuggestedRule rule, Func<L7Protocol, bool> protocol)
    {
        var merged = new Dictionary<(L7Protocol, string, string), L7Operation>();
        foreach (var edge in rule.Edges)
        {
            bool any = false;
            foreach (var op in edge.L7?.Operations ?? [])
            {
                if (!protocol(op.Protocol) || op.Requests - op.Denied <= 0) continue;
                any = true;
                merged.TryAdd((op.Protocol, op.Operation, op.Resource), op);
            }
            if (!any) return null;
        }
        return merged.Count == 0 ? null : merged.Values.OrderBy(o => o.Resource, StringComparer.Ordinal).ThenBy(o => o.Operation, StringComparer.Ordinal).ToList();
    }

    /// <summary>The DNS names of an address rule's servers when every edge has one, or null.</summary>
    public static IReadOnlyList<string>? ServerNames(SuggestedRule rule)
    {
        if (rule.Server.IsWorkload || rule.Server.Kind == PeerKind.Nodes) return null;
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var edge in rule.Edges)
        {
            if (edge.L7?.Names is not { Count: > 0 } edgeNames) return null;
            foreach (var n in edgeNames) names.Add(n.Name.ToLowerInvariant());
        }
        return names.Count == 0 ? null : names.ToList();
    }

    /// <summary>
    /// Names as match entries: <see cref="WildcardMinNames"/> or more siblings under one parent of at least two labels
    /// (not a public suffix like co.uk) become <c>*.parent</c>, which in Cilium and Istio matches one label, so
    /// <c>a.s3.amazonaws.com</c> ... under <c>*.s3.amazonaws.com</c> and nothing deeper; the rest stay exact.
    /// </summary>
    public static IReadOnlyList<DnsNameMatch> Matches(IEnumerable<string> names)
    {
        var distinct = names.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var byParent = distinct.GroupBy(Parent).ToDictionary(g => g.Key ?? "", g => g.Count());
        var result = new List<DnsNameMatch>();
        foreach (var name in distinct)
        {
            var parent = Parent(name);
            if (parent is not null && byParent[parent] >= WildcardMinNames && CanWildcardUnder(parent))
            {
                var pattern = new DnsNameMatch("*." + parent, true);
                if (!result.Contains(pattern)) result.Add(pattern);
            }
            else result.Add(new DnsNameMatch(name, false));
        }
        return result;
    }

    private static string? Parent(string name)
    {
        int dot = name.IndexOf('.');
        return dot < 0 ? null : name[(dot + 1)..];
    }

    private static bool CanWildcardUnder(string parent)
    {
        var labels = parent.Split('.');
        if (labels.Length < 2) return false;
        return labels.Length > 2 || !SuffixLabels.Contains(labels[0]);
    }

    /// <summary>Evidence of an operation on one line: "GET /users/{id}: 1200 requests, 3 paths, 2xx=1190 5xx=10, 7 days".</summary>
    public static string Evidence(L7Operation op)
    {
        var classes = op.StatusClasses.Count == 0 ? "" : string.Join(" ", Enumerable.Range(1, 5).Where(c => op.StatusClasses[c] > 0).Select(c => $"{c}xx={op.StatusClasses[c]}"));
        var text = $"{op}: {op.Requests} requests";
        if (op.DistinctPaths > 1) text += $", {op.DistinctPaths} paths";
        if (classes.Length > 0) text += ", " + classes;
        return text + $", {op.Days.Count} days";
    }
}
