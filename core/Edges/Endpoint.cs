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
    private Endpoint(EndpointKind kind, string? @namespace, string name, string? workloadKind,
        IReadOnlyList<KeyValuePair<string, string>> labels, PackedIp address, string key)
    {
        Kind = kind;
        Namespace = @namespace;
        Name = name;
        WorkloadKind = workloadKind;
        Labels = labels;
        Address = address;
        Key = key;
    }

    public EndpointKind Kind { get; }
    public string? Namespace { get; }
    /// <summary>Workload, node or service name; the address text for address endpoints.</summary>
    public string Name { get; }
    public string? WorkloadKind { get; }
    /// <summary>
    /// The Kubernetes service account of the workload's pods when the data said (Hubble, pod inventory, leases); null
    /// when unknown. The first identity seen for an endpoint gives it.
    /// </summary>
    public string? ServiceAccount { get; private init; }
    /// <summary>True for a pod no controller owns (<see cref="WorkloadKinds.BarePod"/>).</summary>
    public bool IsBarePod => Kind == EndpointKind.Pod && WorkloadKind == WorkloadKinds.BarePod;
    /// <summary>Stable labels (per-instance labels dropped), sorted by key.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Labels { get; }
    /// <summary>The address, for endpoints that are an address (external or unknown); <see cref="PackedIp.None"/> otherwise.</summary>
    public PackedIp Address { get; }
    /// <summary>
    /// Canonical text: "namespace/workload", "node:NAME", "service:namespace/name", "external:NAME" for a named
    /// external network, or the IP address itself.
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

    public static Endpoint FromIdentity(WorkloadIdentity identity)
    {
        string name = identity.Workload ?? identity.Name ?? "unnamed";
        var labels = StableLabels.Of(identity.Labels);
        string key = identity.Kind switch
        {
            EndpointKind.Node => "node:" + name,
            EndpointKind.Service => "service:" + (identity.Namespace is null ? name : identity.Namespace + "/" + name),
            EndpointKind.External => "external:" + name,
            _ => (identity.Namespace ?? "") + "/" + name,
        };
        return new Endpoint(identity.Kind, identity.Namespace, name, identity.WorkloadKind, labels, PackedIp.None, key)
        {
            ServiceAccount = identity.Kind == EndpointKind.Pod ? identity.ServiceAccount : null,
        };
    }

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
