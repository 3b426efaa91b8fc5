namespace FlowPolicy.Core.Flows;

/// <summary>What an address belongs to.</summary>
public enum EndpointKind : byte
{
    /// <summary>A private address nobody told us about.</summary>
    Unknown = 0,
    /// <summary>A pod (or VM) that belongs to a workload.</summary>
    Pod = 1,
    /// <summary>A cluster node (kubelet, host-network pods).</summary>
    Node = 2,
    /// <summary>A Kubernetes Service virtual IP.</summary>
    Service = 3,
    /// <summary>An address outside the cluster and its networks.</summary>
    External = 4,
}

/// <summary>How the owner of a pod identity (<see cref="WorkloadIdentity.Workload"/>, <see cref="WorkloadIdentity.WorkloadKind"/>) became known.</summary>
public enum WorkloadSource : byte
{
    /// <summary>Not a pod, or nothing about an owner was said or concluded.</summary>
    Unknown = 0,
    /// <summary>
    /// The source named it: Hubble's <c>workloads</c>, a pod's ownerReferences (none: a bare pod), a lease's
    /// <c>workload</c>/<c>workload_kind</c>. Enrichment keeps it.
    /// </summary>
    Reported = 1,
    /// <summary>
    /// Concluded by <see cref="PodOwnerInference"/> from the pod name and labels, or "bare" because nothing showed a
    /// controller. The inventory, when it knows the address, replaces it.
    /// </summary>
    Derived = 2,
}

/// <summary>
/// Who owns an address at one time: namespace + workload (the identity policies are written for), plus
/// replica-level evidence (pod name). Immutable and shared between records; readers and the lease index
/// intern them so a million flows of one pod hold one instance.
/// </summary>
public sealed class WorkloadIdentity : IEquatable<WorkloadIdentity>
{
    private static readonly KeyValuePair<string, string>[] NoLabels = [];

    public WorkloadIdentity(
        EndpointKind kind,
        string? @namespace,
        string? workload,
        string? workloadKind = null,
        string? name = null,
        IEnumerable<KeyValuePair<string, string>>? labels = null)
    {
        Kind = kind;
        Namespace = string.IsNullOrEmpty(@namespace) ? null : @namespace;
        Workload = string.IsNullOrEmpty(workload) ? null : workload;
        WorkloadKind = string.IsNullOrEmpty(workloadKind) ? null : workloadKind;
        Name = string.IsNullOrEmpty(name) ? null : name;
        Labels = Sorted(labels);
    }

    private static KeyValuePair<string, string>[] Sorted(IEnumerable<KeyValuePair<string, string>>? labels)
    {
        var sorted = labels?.ToArray() ?? NoLabels;
        if (sorted.Length == 0) return NoLabels;
        Array.Sort(sorted, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        return sorted;
    }

    /// <summary>True for a pod no controller owns (<c>kubectl run</c>, a debug pod): <see cref="WorkloadKinds.BarePod"/>.</summary>
    public bool IsBarePod => Kind == EndpointKind.Pod && WorkloadKind == WorkloadKinds.BarePod;

    public EndpointKind Kind { get; }
    public string? Namespace { get; }
    /// <summary>How <see cref="Workload"/> and <see cref="WorkloadKind"/> became known (pods only).</summary>
    public WorkloadSource WorkloadSource { get; init; }
    /// <summary>
    /// The pod's Kubernetes service account, when the source says (Hubble's <c>io.cilium.k8s.policy.serviceaccount</c>
    /// label, a pod's <c>spec.serviceAccountName</c>, a lease's <c>service_account</c>); null when unknown.
    /// </summary>
    public string? ServiceAccount
    {
        get;
        init => field = string.IsNullOrEmpty(value) ? null : value;
    }
    /// <summary>
    /// Labels of the pod's namespace when the record carries them (Hubble's <c>io.cilium.k8s.namespace.labels.*</c>),
    /// sorted by key; never part of <see cref="Labels"/>: they select namespaces, not pods.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string>> NamespaceLabels
    {
        get;
        init => field = Sorted(value);
    } = NoLabels;
    /// <summary>Owning workload (Deployment, StatefulSet, DaemonSet, CronJob name), or the node name for nodes.</summary>
    public string? Workload { get; }
    /// <summary>Deployment, StatefulSet, DaemonSet, CronJob, Job, Pod (bare pod), Node ...</summary>
    public string? WorkloadKind { get; }
    /// <summary>Replica-level name (pod or instance name): evidence, never part of an edge's identity.</summary>
    public string? Name { get; }
    /// <summary>Labels sorted by key (ordinal).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Labels { get; }

    /// <summary>
    /// This identity's endpoint columns in RowBinary, encoded on first use by FlowRowWriter: an identity is shared by
    /// every flow of its pod, so the ingest hot path copies bytes instead of re-encoding names and labels per row.
    /// Racing writers store equal arrays.
    /// </summary>
    internal byte[]? RowBinaryEndpoint;

    /// <summary>
    /// One more than the id of this identity's (namespace, workload) pair for FlowRowWriter's sort key; 0 until looked
    /// up. Racing writers store the same value.
    /// </summary>
    internal int SortNameId;

    public string? Label(string key)
    {
        foreach (var pair in Labels)
            if (pair.Key == key) return pair.Value;
        return null;
    }

    /// <summary>"namespace/workload", or the node name, or the pod name for a bare pod.</summary>
    public override string ToString() => Kind switch
    {
        EndpointKind.Node => "node:" + (Workload ?? Name),
        _ => Namespace is null ? (Workload ?? Name ?? "?") : Namespace + "/" + (Workload ?? Name ?? "?"),
    };

    /// <summary>Same owner, replica, labels, service account and namespace labels; how the owner became known (<see cref="WorkloadSource"/>) is not part of it.</summary>
    public bool Equals(WorkloadIdentity? other)
    {
        if (ReferenceEquals(this, other)) return true;
        if (other is null) return false;
        if (Kind != other.Kind || Namespace != other.Namespace || Workload != other.Workload
            || WorkloadKind != other.WorkloadKind || Name != other.Name || ServiceAccount != other.ServiceAccount)
            return false;
        return SameLabels(Labels, other.Labels) && SameLabels(NamespaceLabels, other.NamespaceLabels);
    }

    private static bool SameLabels(IReadOnlyList<KeyValuePair<string, string>> a, IReadOnlyList<KeyValuePair<string, string>> b)
    {
        if (a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++)
            if (a[i].Key != b[i].Key || a[i].Value != b[i].Value) return false;
        return true;
    }

    public override bool Equals(object? obj) => Equals(obj as WorkloadIdentity);

    public override int GetHashCode() => HashCode.Combine(Kind, Namespace, Workload, Name, Labels.Count);
}
