namespace FlowPolicy.Core.Flows;

/// <summary>
/// Which labels a policy selects a workload's pods by. A selector must keep matching the workload's pods after the
/// next release and the next rollout, so it is built from keys that identify the workload and never from keys known
/// to change per release (<see cref="IsPerRelease"/>) or per replica (<see cref="StableLabels"/>). The choice is
/// deterministic: the same labels (and the same neighbours in the namespace) always give the same selector.
/// docs/suggest.md ("Which labels select a workload") states the rules for users.
/// </summary>
internal static class WorkloadSelector
{
    /// <summary>
    /// Keys whose value is expected to change at a release, a rollout or a change of deployment tooling, while the
    /// workload stays the same. Selecting by one of them leaves the new pods matched only by the default deny.
    /// </summary>
    private static readonly HashSet<string> PerReleaseKeys = new(StringComparer.Ordinal)
    {
        // The application's version: bumped by every release (Kubernetes recommended labels; Istio's "app"+"version").
        "version",
        "app.kubernetes.io/version",
        // Helm's chart label holds "<chart>-<chart version>": it changes with every chart upgrade.
        "helm.sh/chart",
        "chart",
        // The tool that manages the object ("Helm", "Tiller", "kustomize", "argocd"): identifies no workload, and
        // changes when a team moves tooling (Helm 2 -> 3 rewrote heritage from Tiller to Helm).
        "heritage",
        "app.kubernetes.io/managed-by",
        // Argo Rollouts' per-revision hash (its pod-template-hash) and canary/stable track labels of progressive delivery.
        "rollouts-pod-template-hash",
        "track",
        // Istio's control-plane revision: changes at every canary upgrade of Istio itself.
        "istio.io/rev",
        // Knative stamps the revision on each pod; a new revision per deploy.
        "serving.knative.dev/revision",
        "serving.knative.dev/revisionUID",
        "serving.knative.dev/configurationGeneration",
        // Skaffold's per-run id (dev loops and CI deploys).
        "skaffold.dev/run-id",
    };

    /// <summary>
    /// Keys that name a workload, in order of preference; the first present anchors the selector. Each anchor has
    /// companions that are always added when present (they are part of the same convention's selector) and
    /// disambiguators added only when the selector would otherwise also match another workload of the namespace.
    /// </summary>
    private static readonly IdentifyingKey[] IdentifyingKeys =
    [
        // Kubernetes recommended labels; Helm's default selectorLabels are name + instance, so every pod of a chart's
        // Deployment has both and the release name (instance) stays across upgrades.
        new("app.kubernetes.io/name", ["app.kubernetes.io/instance"], ["app.kubernetes.io/component", "app.kubernetes.io/part-of"]),
        // The older "app" convention (Istio, most hand-written manifests).
        new("app", [], ["component", "tier"]),
        // Kubernetes add-ons (kube-dns, metrics-server ...).
        new("k8s-app", [], ["component"]),
        new("name", [], ["component"]),
        new("app.kubernetes.io/instance", [], ["app.kubernetes.io/component"]),
        new("component", [], []),
    ];

    private sealed record IdentifyingKey(string Anchor, string[] Companions, string[] Disambiguators);

    /// <summary>True for keys that can anchor a selector (the identifying keys).</summary>
    public static bool IsAnchorKey(string key)
    {
        foreach (var candidate in IdentifyingKeys)
            if (candidate.Anchor == key) return true;
        return false;
    }

    /// <summary>
    /// The identifying pair a selector for these labels starts from, or null when there is none (then the selector is
    /// every selectable label). Every workload a selector matches carries this pair.
    /// </summary>
    public static KeyValuePair<string, string>? AnchorOf(IReadOnlyList<KeyValuePair<string, string>> labels)
    {
        foreach (var candidate in IdentifyingKeys)
            if (Find(labels, candidate.Anchor) is { } value) return new(candidate.Anchor, value);
        return null;
    }

    /// <summary>True for keys whose value changes per release, per rollout or per tooling change.</summary>
    public static bool IsPerRelease(string key) => PerReleaseKeys.Contains(key);

    /// <summary>Keys that may appear in a selector: neither per replica nor per release.</summary>
    public static bool IsSelectable(string key) => !StableLabels.IsPerInstance(key) && !IsPerRelease(key);

    /// <summary>The selector of a workload with these labels, chosen without knowing its neighbours.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Choose(IReadOnlyList<KeyValuePair<string, string>> labels) =>
        Choose(labels, []);

    /// <summary>
    /// The selector of a workload with <paramref name="labels"/> (its stable labels, those all its pods had) among the
    /// other workloads of its namespace (<paramref name="neighbours"/>, their labels). With an identifying key: that key
    /// and its companions, then disambiguators, other identifying keys and the remaining selectable keys (ordinal order)
    /// one at a time until no neighbour matches or none are left. Without one: every selectable label. Sorted by key.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Choose(IReadOnlyList<KeyValuePair<string, string>> labels,
        IReadOnlyList<IReadOnlyList<KeyValuePair<string, string>>> neighbours)
    {
        IdentifyingKey? anchor = null;
        foreach (var candidate in IdentifyingKeys)
            if (Find(labels, candidate.Anchor) is not null) { anchor = candidate; break; }
        if (anchor is null)
        {
            // Nothing identifies the workload: every selectable label, as specific as the data allows. A neighbour can
            // still share them all; RuleInference warns about that.
            var all = new List<KeyValuePair<string, string>>(labels.Count);
            foreach (var pair in labels)
                if (IsSelectable(pair.Key)) all.Add(pair);
            return Sorted(all);
        }

        var chosen = new List<KeyValuePair<string, string>>(4);
        AddIfPresent(chosen, labels, anchor.Anchor);
        foreach (var key in anchor.Companions) AddIfPresent(chosen, labels, key);
        if (!MatchesAny(chosen, neighbours)) return Sorted(chosen);

        var extra = new List<string>();
        extra.AddRange(anchor.Disambiguators);
        foreach (var other in IdentifyingKeys) extra.Add(other.Anchor);
        var rest = new List<string>();
        foreach (var pair in labels) rest.Add(pair.Key);
        rest.Sort(StringComparer.Ordinal);
        extra.AddRange(rest);
        foreach (var key in extra)
        {
            if (!IsSelectable(key) || !AddIfPresent(chosen, labels, key)) continue;
            if (!MatchesAny(chosen, neighbours)) break;
        }
        return Sorted(chosen);
    }

    /// <summary>
    /// The labels two label sets share (same key, same value), sorted by key; the changed keys (in one and not the other,
    /// or with different values) are added to <paramref name="changedKeys"/>.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Intersect(IReadOnlyList<KeyValuePair<string, string>> a,
        IReadOnlyList<KeyValuePair<string, string>> b, ISet<string> changedKeys)
    {
        ArgumentNullException.ThrowIfNull(changedKeys);
        if (SameLabels(a, b)) return a;
        var kept = new List<KeyValuePair<string, string>>(Math.Min(a.Count, b.Count));
        foreach (var pair in a)
        {
            if (Find(b, pair.Key) == pair.Value) kept.Add(pair);
            else changedKeys.Add(pair.Key);
        }
        foreach (var pair in b)
            if (Find(a, pair.Key) != pair.Value) changedKeys.Add(pair.Key);
        return Sorted(kept);
    }

    /// <summary>True when both lists hold the same pairs (both sorted by key, as identities and endpoints keep them).</summary>
    public static bool SameLabels(IReadOnlyList<KeyValuePair<string, string>> a, IReadOnlyList<KeyValuePair<string, string>> b)
    {
        if (ReferenceEquals(a, b)) return true;
        if (a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++)
            if (a[i].Key != b[i].Key || a[i].Value != b[i].Value) return false;
        return true;
    }

    private static bool MatchesAny(List<KeyValuePair<string, string>> selector, IReadOnlyList<IReadOnlyList<KeyValuePair<string, string>>> neighbours)
    {
        foreach (var labels in neighbours)
        {
            bool all = true;
            foreach (var (key, value) in selector)
                if (Find(labels, key) != value) { all = false; break; }
            if (all) return true;
        }
        return false;
    }

    private static bool AddIfPresent(List<KeyValuePair<string, string>> chosen, IReadOnlyList<KeyValuePair<string, string>> labels, string key)
    {
        if (Find(chosen, key) is not null) return false;
        if (Find(labels, key) is not { } value) return false;
        chosen.Add(new(key, value));
        return true;
    }

    private static string? Find(IReadOnlyList<KeyValuePair<string, string>> labels, string key)
    {
        foreach (var pair in labels)
            if (pair.Key == key) return pair.Value;
        return null;
    }

    private static List<KeyValuePair<string, string>> Sorted(List<KeyValuePair<string, string>> labels)
    {
        labels.Sort(static (x, y) => string.CompareOrdinal(x.Key, y.Key));
        return labels;
    }
}
