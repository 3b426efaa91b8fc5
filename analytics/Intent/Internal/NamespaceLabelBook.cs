using System.Collections.Concurrent;

namespace FlowPolicy.Analytics.Intent.Internal;

/// <summary>
/// The labels of each namespace as selectors see them (NetworkPolicy namespaceSelector, Cilium's
/// io.cilium.k8s.namespace.labels.*): what the data showed, replaced by what the policy set declares for a namespace,
/// plus kubernetes.io/metadata.name, which the API server sets on every namespace since 1.21. Memoised; thread-safe.
/// </summary>
internal sealed class NamespaceLabelBook
{
    private const string MetadataNameLabel = "kubernetes.io/metadata.name";

    private readonly Dictionary<string, IReadOnlyList<KeyValuePair<string, string>>> _declared = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, IReadOnlyList<KeyValuePair<string, string>>> _labels = new(StringComparer.Ordinal);

    /// <param name="observed">Labels the data showed (Hubble records, inventory Namespace objects); may be null.</param>
    /// <param name="declared">Labels of Namespace objects among the policies or --namespaces: they win.</param>
    public NamespaceLabelBook(IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string>>>? observed,
        IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string>>> declared)
    {
        if (observed is not null)
            foreach (var (ns, labels) in observed) _declared[ns] = labels;
        foreach (var (ns, labels) in declared) _declared[ns] = labels;
    }

    public IReadOnlyList<KeyValuePair<string, string>> Of(string ns) =>
        _labels.GetOrAdd(ns, static (name, declared) =>
        {
            var labels = new List<KeyValuePair<string, string>>();
            if (declared.TryGetValue(name, out var known)) labels.AddRange(known.Where(l => l.Key != MetadataNameLabel));
            labels.Add(new(MetadataNameLabel, name));
            return labels;
        }, _declared);
}
