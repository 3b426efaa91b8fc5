using FlowPolicy.Core.Net;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Emitters;

/// <summary>
/// What the inventory says about the cluster itself, which flow edges do not carry: the node addresses (from
/// <c>kubectl get nodes -o json</c> or node leases). Formats that select nodes by address (NetworkPolicy ipBlocks,
/// Calico nets) need them to allow egress to the API server and node services under a default deny. And the Istio
/// mesh's trust domain (--istio-trust-domain), which Istio principals are written with.
/// </summary>
public sealed class ClusterFacts
{
    public static readonly ClusterFacts Unknown = new([]);

    public ClusterFacts(IEnumerable<PackedIp> nodeAddresses)
    {
        NodeBlocks = nodeAddresses.Where(a => !a.IsNone).Distinct().Select(Cidr.Host).Order().ToList();
    }

    /// <summary>One /32 or /128 per node address, sorted; empty when the inventory named no node.</summary>
    public IReadOnlyList<Cidr> NodeBlocks { get; }

    public bool NodeAddressesKnown => NodeBlocks.Count > 0;

    /// <summary>The mesh's trust domain, which the Istio files' principals name (<c>TRUST_DOMAIN/ns/NS/sa/SA</c>).</summary>
    public string IstioTrustDomain { get; init; } = Analytics.Intent.IstioMesh.Default.TrustDomain;
}
