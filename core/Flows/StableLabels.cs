namespace FlowPolicy.Core.Flows;

/// <summary>
/// Labels that differ between replicas of one workload (or between rollouts) and so must never identify it:
/// Kubernetes controllers stamp them on each pod. Policies written on them break at the next rollout.
/// </summary>
public static class StableLabels
{
    private static readonly HashSet<string> PerInstanceKeys = new(StringComparer.Ordinal)
    {
        "pod-template-hash",
        "controller-revision-hash",
        "pod-template-generation",
        "statefulset.kubernetes.io/pod-name",
        "apps.kubernetes.io/pod-index",
        "job-name",
        "controller-uid",
        "batch.kubernetes.io/job-name",
        "batch.kubernetes.io/controller-uid",
        "batch.kubernetes.io/job-completion-index",
        "security.istio.io/tlsMode",
        "service.istio.io/canonical-revision",
    };

    public static bool IsPerInstance(string key) => PerInstanceKeys.Contains(key);

    /// <summary>The labels that stay the same across replicas and rollouts, sorted by key.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Of(IReadOnlyList<KeyValuePair<string, string>> labels)
    {
        bool any = false;
        foreach (var pair in labels)
            if (IsPerInstance(pair.Key)) { any = true; break; }
        if (!any) return labels;
        var kept = new List<KeyValuePair<string, string>>(labels.Count);
        foreach (var pair in labels)
            if (!IsPerInstance(pair.Key)) kept.Add(pair);
        return kept;
    }
}
