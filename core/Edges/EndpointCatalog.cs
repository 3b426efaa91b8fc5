using FlowPolicy.Core.Flows;

namespace FlowPolicy.Core.Edges;

/// <summary>
/// The endpoints of one window, built the same way by both edge sources (the in-memory aggregate and the ClickHouse
/// rollups): every observation of an endpoint (a pod identity, a rollup row's label set) is added, and
/// <see cref="Resolve"/> turns them into the window's endpoints:
/// <list type="bullet">
/// <item>Workload identity includes its kind: a Deployment and a StatefulSet named alike in one namespace are two
/// endpoints. Their keys are qualified with the kind ("ns/statefulset/db") only when a name has two kinds in the
/// window, so the common key stays "ns/db". Observations without a kind join the one kind the name has; when it has
/// several they stay an endpoint of their own under the plain key.</item>
/// <item>Labels are those every observation carried (the intersection); keys that changed are kept in
/// <see cref="Endpoint.ChangedLabelKeys"/>. An observation without any stable label is a source that did not know
/// them and is not intersected.</item>
/// <item>Selectors are chosen per namespace by <see cref="WorkloadSelector"/>, knowing the other workloads there.</item>
/// </list>
/// Not thread-safe.
/// </summary>
public sealed class EndpointCatalog
{
    private readonly Dictionary<string, int> _idByObservationKey = new(StringComparer.Ordinal);
    private readonly List<Entry> _entries = [];

    /// <summary>Observed endpoints (before <see cref="Resolve"/> merges kinds).</summary>
    public int Count => _entries.Count;

    /// <summary>
    /// Adds an observation and returns its id (stable for the catalog's life). Observations of one endpoint (same kind,
    /// namespace, name and workload kind; or the same address) share an id and their labels are intersected.
    /// </summary>
    public int Add(Endpoint observed)
    {
        ArgumentNullException.ThrowIfNull(observed);
        string key = ObservationKey(observed);
        if (_idByObservationKey.TryGetValue(key, out int id))
        {
            _entries[id].Observe(observed.Labels, observed.ChangedLabelKeys, observed.ServiceAccount);
            return id;
        }
        id = _entries.Count;
        _entries.Add(new Entry(observed));
        _idByObservationKey[key] = id;
        return id;
    }

    /// <summary>An observation as added so far (labels intersected), for merging one catalog into another.</summary>
    public Endpoint Observed(int id) => _entries[id].ToEndpoint(_entries[id].Prototype.Key, _entries[id].Prototype.WorkloadKind, null);

    /// <summary>
    /// The window's endpoints, indexed by observation id: ids of one endpoint map to the same object. Equal endpoints
    /// (same <see cref="Endpoint.Key"/>) are the same object.
    /// </summary>
    public Endpoint[] Resolve()
    {
        // 1. Workloads by (namespace, name): which kinds each name has.
        var kindsByName = new Dictionary<(string?, string), SortedSet<string>>();
        foreach (var entry in _entries)
            if (entry.IsWorkload && entry.Prototype.WorkloadKind is { } kind)
            {
                var name = (entry.Prototype.Namespace, entry.Prototype.Name);
                if (!kindsByName.TryGetValue(name, out var kinds)) kindsByName[name] = kinds = new(StringComparer.Ordinal);
                kinds.Add(kind);
            }

        // 2. Final keys; entries with one key merge (intersection of their labels).
        var merged = new Dictionary<string, Entry>(StringComparer.Ordinal);
        var keyOfId = new string[_entries.Count];
        for (int id = 0; id < _entries.Count; id++)
        {
            var entry = _entries[id];
            var p = entry.Prototype;
            string key = p.Key;
            string? workloadKind = p.WorkloadKind;
            if (entry.IsWorkload && kindsByName.TryGetValue((p.Namespace, p.Name), out var kinds))
            {
                if (kinds.Count == 1) workloadKind = kinds.Min;
                else if (workloadKind is not null) key = Endpoint.QualifiedKeyOf(p.Namespace, p.Name, workloadKind);
            }
            keyOfId[id] = key;
            if (merged.TryGetValue(key, out var into)) into.Observe(entry.Labels, entry.ChangedKeys, entry.ServiceAccount);
            else merged[key] = new Entry(entry, workloadKind);
        }

        // 3. Selectors per namespace, then the endpoints.
        var byNamespace = new Dictionary<string, List<KeyValuePair<string, Entry>>>(StringComparer.Ordinal);
        foreach (var pair in merged)
            if (pair.Value.IsWorkload)
            {
                var ns = pair.Value.Prototype.Namespace ?? "";
                if (!byNamespace.TryGetValue(ns, out var list)) byNamespace[ns] = list = [];
                list.Add(pair);
            }
        var endpoints = new Dictionary<string, Endpoint>(StringComparer.Ordinal);
        foreach (var list in byNamespace.Values)
        {
            // A neighbour the selector could match carries the selector's anchor pair: index workloads by it, so a
            // namespace of thousands of workloads is not compared pairwise.
            var byAnchor = new Dictionary<KeyValuePair<string, string>, List<int>>();
            for (int i = 0; i < list.Count; i++)
                foreach (var pair in list[i].Value.Labels)
                {
                    if (!WorkloadSelector.IsAnchorKey(pair.Key)) continue;
                    if (!byAnchor.TryGetValue(pair, out var holders)) byAnchor[pair] = holders = [];
                    holders.Add(i);
                }
            for (int i = 0; i < list.Count; i++)
            {
                var (key, entry) = list[i];
                var neighbours = new List<IReadOnlyList<KeyValuePair<string, string>>>();
                if (WorkloadSelector.AnchorOf(entry.Labels) is { } anchor && byAnchor.TryGetValue(anchor, out var holders))
                    foreach (int j in holders)
                        if (j != i) neighbours.Add(list[j].Value.Labels);
                endpoints[key] = entry.ToEndpoint(key, entry.WorkloadKind, WorkloadSelector.Choose(entry.Labels, neighbours));
            }
        }
        foreach (var (key, entry) in merged)
            if (!endpoints.ContainsKey(key)) endpoints[key] = entry.ToEndpoint(key, entry.WorkloadKind, null);

        var result = new Endpoint[_entries.Count];
        for (int id = 0; id < result.Length; id++) result[id] = endpoints[keyOfId[id]];
        return result;
    }

    private static string ObservationKey(Endpoint endpoint) => endpoint.IsAddress
        ? endpoint.Key
        : endpoint.Kind == EndpointKind.Pod && endpoint.WorkloadKind is { } kind
            ? endpoint.Key + "\0" + kind
            : endpoint.Key;

    private sealed class Entry
    {
        private SortedSet<string>? _changed;

        public Entry(Endpoint observed)
        {
            Prototype = observed;
            WorkloadKind = observed.WorkloadKind;
            Labels = observed.Labels;
            ServiceAccount = observed.ServiceAccount;
            if (observed.ChangedLabelKeys.Count > 0) _changed = new(observed.ChangedLabelKeys, StringComparer.Ordinal);
        }

        public Entry(Entry other, string? workloadKind)
        {
            Prototype = other.Prototype;
            WorkloadKind = workloadKind;
            Labels = other.Labels;
            ServiceAccount = other.ServiceAccount;
            if (other._changed is not null) _changed = new(other._changed, StringComparer.Ordinal);
        }

        /// <summary>The first observation: kind, namespace, name, address.</summary>
        public Endpoint Prototype { get; }
        public string? WorkloadKind { get; }
        public IReadOnlyList<KeyValuePair<string, string>> Labels { get; private set; }
        /// <summary>The ordinally least service account an observation named (sources without one say nothing): the same
        /// in any order of observations, so parallel readers and rollup rows in any order agree.</summary>
        public string? ServiceAccount { get; private set; }
        public IReadOnlyCollection<string> ChangedKeys => (IReadOnlyCollection<string>?)_changed ?? [];
        public bool IsWorkload => Prototype.Kind == EndpointKind.Pod && !Prototype.IsAddress;

        public void Observe(IReadOnlyList<KeyValuePair<string, string>> labels, IReadOnlyCollection<string> changedKeys, string? serviceAccount)
        {
            if (serviceAccount is not null && (ServiceAccount is null || string.CompareOrdinal(serviceAccount, ServiceAccount) < 0)) ServiceAccount = serviceAccount;
            if (changedKeys.Count > 0) (_changed ??= new(StringComparer.Ordinal)).UnionWith(changedKeys);
            // No stable label at all means the source did not know them (a VPC record enriched without an inventory,
            // a Hubble record without labels), not that the pods lost every label (a controller's pods always carry
            // its selector's labels): it neither narrows the labels nor counts as a change. Otherwise one poorer source
            // would leave the workload without a selector, and its rules out.
            // An empty set that comes with changes (a rollup row whose flows shared no label) is known, and intersects.
            if (labels.Count == 0 && changedKeys.Count == 0) return;
            if (Labels.Count == 0 && _changed is null) { Labels = labels; return; }
            if (WorkloadSelector.SameLabels(Labels, labels)) return;
            var changed = _changed ??= new(StringComparer.Ordinal);
            Labels = WorkloadSelector.Intersect(Labels, labels, changed);
        }

        public Endpoint ToEndpoint(string key, string? workloadKind, IReadOnlyList<KeyValuePair<string, string>>? selector) =>
            new(Prototype.Kind, Prototype.Namespace, Prototype.Name, workloadKind, Labels, Prototype.Address, key,
                selector, _changed is null ? null : [.. _changed]) { ServiceAccount = ServiceAccount };
    }
}
