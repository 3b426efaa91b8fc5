using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Core.Edges;

/// <summary>
/// One side of an edge: a workload (namespace + workload), a node, a service, an external address or network,
/// or an unknown private address. Replica-level facts (pod names, pod IPs) are evidence, never part of it.
/// Two endpoints are equal when their <see cref="Key"/> is.
/// </summary>
public sealed class Endpoint : IEquatable<Endpoint>
{
    private static readonly string[] NoKeys = [];

    internal Endpoint(EndpointKind kind, string? @namespace, string name, string? workloadKind,
        IReadOnlyList<KeyValuePair<string, string>> labels, PackedIp address, string key,
        IReadOnlyList<KeyValuePair<string, string>>? selector = null, IReadOnlyList<string>? changedLabelKeys = null)
    {
        Kind = kind;
        Namespace = @namespace;
        Name = name;
        WorkloadKind = workloadKind;
        Labels = labels;
        Address = address;
        Key = key;
        Selector = selector ?? (kind == EndpointKind.Pod ? WorkloadSelector.Choose(labels) : labels);
        ChangedLabelKeys = changedLabelKeys ?? NoKeys;
    }

    public EndpointKind Kind { get; }
    public string? Namespace { get; }
    /// <summary>Workload, node or service name; the address text for address endpoints.</summary>
    public string Name { get; }
    public string? WorkloadKind { get; }
    /// <summary>
    /// The Kubernetes service account of the workload's pods when the data said (Hubble, pod inventory, leases); null
    /// when unknown. The first observation that names one gives it.
    /// </summary>
    public string? ServiceAccount { get; internal init; }
    /// <summary>True for a pod no controller owns (<see cref="WorkloadKinds.BarePod"/>).</summary>
    public bool IsBarePod => Kind == EndpointKind.Pod && WorkloadKind == WorkloadKinds.BarePod;
    /// <summary>
    /// Stable labels (per-instance labels dropped), sorted by key. From an edge source: the labels every pod of the
    /// workload had over the window (the intersection), so a label that changed with a rollout is not among them.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string>> Labels { get; }
    /// <summary>
    /// The labels a policy selects this workload's pods by (<see cref="WorkloadSelector"/>): identifying keys, never
    /// per-release ones, extended only as far as needed to tell it from the other workloads of its namespace the edge
    /// source saw. A subset of <see cref="Labels"/>, sorted by key.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string>> Selector { get; }
    /// <summary>
    /// Stable label keys whose value changed (or that came or went) within the window: the pods were relabelled, by a
    /// rollout most often. Empty when every observation carried the same labels. Sorted (ordinal).
    /// </summary>
    public IReadOnlyList<string> ChangedLabelKeys { get; }
    /// <summary>True when the workload's labels changed within the window (<see cref="ChangedLabelKeys"/>).</summary>
    public bool LabelsChanged => ChangedLabelKeys.Count > 0;
    /// <summary>The address, for endpoints that are an address (external or unknown); <see cref="PackedIp.None"/> otherwise.</summary>
    public PackedIp Address { get; }
    /// <summary>
    /// Canonical text: "namespace/workload", "node:NAME", "service:namespace/name", "external:NAME" for a named
    /// external network, or the IP address itself. When one window holds two workloads of different kinds with one
    /// name in one namespace, an edge source qualifies each with its kind: "namespace/statefulset/NAME"
    /// (<see cref="EndpointCatalog"/>).
    /// </summary>
    public string Key { get; }

    // A reference, so writers on several threads see it whole or not at all (a struct field could tear).
    private System.Runtime.CompilerServices.StrongBox<System.Text.Json.JsonEncodedText>? _encodedKey;

    /// <summary><see cref="Key"/> encoded once for JSON writers (EdgeJson writes it for every edge).</summary>
    internal System.Text.Json.JsonEncodedText EncodedKey => (_encodedKey ??= new(System.Text.Json.JsonEncodedText.Encode(Key))).Value;

    /// <summary>True when the endpoint is an address rather than a named identity.</summary>
    public bool IsAddress => !Address.IsNone;

    public string? Label(string key)
    {
        foreach (var pair in Labels)
            if (pair.Key == key) return pair.Value;
        return null;
    }

    public static Endpoint FromIdentity(WorkloadIdentity identity) => FromIdentity(identity, null);

    /// <summary>An identity observed with label keys already known to have changed (a rollup row's).</summary>
    public static Endpoint FromIdentity(WorkloadIdentity identity, IReadOnlyList<string>? changedLabelKeys)
    {
        string name = identity.Workload ?? identity.Name ?? "unnamed";
        var labels = StableLabels.Of(identity.Labels);
        return new Endpoint(identity.Kind, identity.Namespace, name, identity.WorkloadKind, labels, PackedIp.None,
            KeyOf(identity.Kind, identity.Namespace, name), changedLabelKeys: changedLabelKeys is { Count: > 0 } ? [.. changedLabelKeys.Order(StringComparer.Ordinal)] : null)
        {
            ServiceAccount = identity.Kind == EndpointKind.Pod ? identity.ServiceAccount : null,
        };
    }

    /// <summary>The key of a named endpoint (not qualified by workload kind).</summary>
    internal static string KeyOf(EndpointKind kind, string? @namespace, string name) => kind switch
    {
        EndpointKind.Node => "node:" + name,
        EndpointKind.Service => "service:" + (@namespace is null ? name : @namespace + "/" + name),
        EndpointKind.External => "external:" + name,
        _ => (@namespace ?? "") + "/" + name,
    };

    /// <summary>The key of a workload qualified by its kind, for a name two kinds share in one namespace.</summary>
    internal static string QualifiedKeyOf(string? @namespace, string name, string workloadKind) =>
        (@namespace ?? "") + "/" + workloadKind.ToLowerInvariant() + "/" + name;

    /// <summary>An address no identity is known for: public addresses are external, private ones unknown.</summary>
    public static Endpoint FromAddress(PackedIp address)
    {
        string text = address.ToString();
        var kind = address.IsPrivate ? EndpointKind.Unknown : EndpointKind.External;
        return new Endpoint(kind, null, text, null, [], address, text);
    }

    public bool Equals(Endpoint? other) => other is not null && (ReferenceEquals(this, other) || Key == other.Key);
    public override bool Equals(object? obj) => Equals(obj as Endpoint);
    public override int GetHashCode() => Key.GetHashCode(StringComparison.Ordinal);
    public override string ToString() => Key;
}
