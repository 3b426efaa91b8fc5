using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;

namespace FlowPolicy.Suggest.Inference;

public enum PeerKind
{
    /// <summary>Pods of one workload: a namespace plus a label selector.</summary>
    Workload,
    /// <summary>Any cluster node (kubelet probes, host-network agents): probes come from whichever node runs the pod.</summary>
    Nodes,
    /// <summary>Address blocks (exact /32 or /128, or a documented generalisation).</summary>
    Network,
    /// <summary>Any public address: 0.0.0.0/0 and ::/0 minus private, loopback and link-local ranges.</summary>
    Internet,
}

/// <summary>
/// One side of a suggested rule, in terms every policy format can express. Matching is by selector, not by
/// workload name, so the neutral decision is exactly what the emitted selectors allow.
/// </summary>
public sealed class Peer
{
    private Peer(PeerKind kind, string key, string? @namespace, string? workload, string? workloadKind,
        IReadOnlyList<KeyValuePair<string, string>> selector, IReadOnlyList<Cidr> cidrs, IReadOnlyList<Cidr> except)
    {
        Kind = kind;
        Key = key;
        Namespace = @namespace;
        Workload = workload;
        WorkloadKind = workloadKind;
        Selector = selector;
        Cidrs = cidrs;
        Except = except;
    }

    public PeerKind Kind { get; }
    /// <summary>"namespace/workload", "nodes", "internet", or the blocks joined by ",".</summary>
    public string Key { get; }
    public string? Namespace { get; }
    public string? Workload { get; }
    public string? WorkloadKind { get; }
    /// <summary>The workload's Kubernetes service account when the data named it (Hubble, pod inventory, leases); null when unknown.</summary>
    public string? ServiceAccount { get; private init; }
    /// <summary>matchLabels of the workload's pods: <see cref="Endpoint.Selector"/> (identifying labels, never per-release ones), sorted by key.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Selector { get; }
    public IReadOnlyList<Cidr> Cidrs { get; }
    /// <summary>Blocks carved out of <see cref="Cidrs"/> (the private ranges of <see cref="PeerKind.Internet"/>).</summary>
    public IReadOnlyList<Cidr> Except { get; }

    public bool IsWorkload => Kind == PeerKind.Workload;

    public static Peer ForWorkload(Endpoint endpoint) =>
        new(PeerKind.Workload, endpoint.Key, endpoint.Namespace, endpoint.Name, endpoint.WorkloadKind, endpoint.Selector, [], [])
        {
            ServiceAccount = endpoint.ServiceAccount,
        };

    public static readonly Peer Nodes = new(PeerKind.Nodes, "nodes", null, null, null, [], [], []);

    public static readonly Peer Internet = new(PeerKind.Internet, "internet", null, null, null, [],
        [Cidr.AllV4, Cidr.AllV6], [.. Cidr.NonInternetV4, .. Cidr.NonInternetV6]);

    public static Peer ForNetwork(IEnumerable<Cidr> blocks)
    {
        var sorted = blocks.Distinct().Order().ToList();
        return new(PeerKind.Network, string.Join(",", sorted), null, null, null, [], sorted, []);
    }

    /// <summary>Whether an observed endpoint falls under this peer.</summary>
    public bool Matches(Endpoint endpoint)
    {
        switch (Kind)
        {
            case PeerKind.Workload:
                if (endpoint.Kind != EndpointKind.Pod || endpoint.Namespace != Namespace) return false;
                foreach (var (key, value) in Selector)
                    if (endpoint.Label(key) != value) return false;
                return true;
            case PeerKind.Nodes:
                return endpoint.Kind == EndpointKind.Node;
            default:
                if (!endpoint.IsAddress) return false;
                bool inside = false;
                foreach (var block in Cidrs) inside |= block.Contains(endpoint.Address);
                if (!inside) return false;
                foreach (var block in Except)
                    if (block.Contains(endpoint.Address)) return false;
                return true;
        }
    }

    public override string ToString() => Key;
}
