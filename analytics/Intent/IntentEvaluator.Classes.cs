using System.Runtime.InteropServices;
using FlowPolicy.Analytics.Intent.Internal;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;

namespace FlowPolicy.Analytics.Intent;

/// <summary>
/// Endpoints the intended policy cannot tell apart. Two endpoints share a client class when, for every server, port
/// and protocol, the decision with either of them as the client is the same (likewise server classes). Whole-graph
/// questions (the blast radius asks every endpoint against every served port) then cost classes x classes
/// decisions instead of endpoints x endpoints.
/// </summary>
internal sealed record EndpointClasses(int[] ClientClass, int ClientClassCount, int[] ServerClass, int ServerClassCount);

public sealed partial class IntentEvaluator
{
    /// <summary>
    /// <see cref="Evaluate"/>(...).Allowed without the reasons and matched rules (no strings, no lists), and not
    /// counted in <see cref="Metrics"/>. Needs the index (the reference evaluator has none).
    /// </summary>
    internal bool Allows(Endpoint client, Endpoint server, ushort port, byte protocol)
    {
        if (!_options.UseIndex) return Evaluate(client, server, port, protocol).Allowed;
        var clientFacts = Facts(client);
        if ((clientFacts.EgressSelecting.Length > 0 || clientFacts.CiliumEgressSelecting.Length > 0)
            && SideDenial(egress: true, clientFacts.EgressSelecting, clientFacts.CiliumEgressSelecting, client, server, port, protocol, names: null, matched: null) is not null)
            return false;
        if (!(client.Kind == EndpointKind.Node && IsWorkload(server)))
        {
            var serverFacts = Facts(server);
            if ((serverFacts.IngressSelecting.Length > 0 || serverFacts.CiliumIngressSelecting.Length > 0)
                && SideDenial(egress: false, serverFacts.IngressSelecting, serverFacts.CiliumIngressSelecting, client, server, port, protocol, names: null, matched: null) is not null)
                return false;
        }
        if (IstioVerdict(client, server, port, protocol, matched: null) is not null) return false;
        if (_flowPolicies.Length == 0) return true;
        // FlowVerdict's precedence: a deny rule wins, then an allow rule, then any governing defaultAction: deny.
        var governing = FlowIndexed(client, server, port, protocol, matched: null, out var deny, out bool allowed);
        if (governing.Length == 0) return true;
        if (deny is not null) return false;
        if (allowed) return true;
        foreach (int p in governing)
            if (_flowPolicies[p].DefaultDeny) return false;
        return true;
    }

    /// <summary>
    /// Client and server classes of <paramref name="endpoints"/> (see <see cref="EndpointClasses"/>); null when this
    /// evaluator cannot be classified exactly (the reference evaluator without an index). A class is the exact set
    /// of facts every decision reads about that side: the policies selecting it, each peer list of the other side's
    /// rules that matches it, the FlowPolicies governing it and the FlowPolicy rules matching it, its node/workload
    /// status; with a named-port resolver and named ports in use, each server is its own class (the resolver may
    /// answer per server).
    /// </summary>
    internal EndpointClasses? Classify(IReadOnlyList<Endpoint> endpoints)
    {
        if (!_options.UseIndex) return null;
        var policyIndex = new Dictionary<NetworkPolicyDefinition, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < _networkPolicies.Length; i++) policyIndex[_networkPolicies[i]] = i;
        // Ingress peer lists decide about the client; egress peer lists about the server.
        var ingressPeers = new PeerRuleIndex(_networkPolicies, egress: false);
        var egressPeers = new PeerRuleIndex(_networkPolicies, egress: true);
        var ciliumIngress = CiliumRulesOf(egress: false);
        var ciliumEgress = CiliumRulesOf(egress: true);
        var istioSources = IstioSources();
        bool namedPorts = _options.NamedPorts is not null && _networkPolicies.Any(p =>
            p.IngressRules.Concat(p.EgressRules).Any(r => r.Ports is not null && r.Ports.Any(x => x.Name is not null)));

        var clientClasses = new Dictionary<int[], int>(IntSequenceComparer.Instance);
        var serverClasses = new Dictionary<int[], int>(IntSequenceComparer.Instance);
        var clientClass = new int[endpoints.Count];
        var serverClass = new int[endpoints.Count];
        var signature = new List<int>();
        const int Separator = -1;
        for (int i = 0; i < endpoints.Count; i++)
        {
            var endpoint = endpoints[i];
            var facts = Facts(endpoint);

            signature.Clear();
            signature.Add(endpoint.Kind == EndpointKind.Node ? 1 : 0);
            signature.Add(Separator);
            foreach (var policy in facts.EgressSelecting) signature.Add(policyIndex[policy]);
            signature.Add(Separator);
            ingressPeers.AddMatching(this, endpoint, signature);
            signature.Add(Separator);
            signature.AddRange(facts.FlowGovernsAsClient);
            signature.Add(Separator);
            signature.AddRange(facts.FlowFromRules);
            signature.Add(Separator);
            signature.AddRange(facts.CiliumEgressSelecting);
            signature.Add(Separator);
            AddCiliumPeerMatches(ciliumIngress, endpoint, signature);
            signature.Add(Separator);
            AddIstioSourceMatches(istioSources, endpoint, signature);
            clientClass[i] = ClassOf(clientClasses, signature);

            signature.Clear();
            if (namedPorts) signature.Add(i);
            // Cilium named ports match Unknown for every server alike, so they need no class of their own.
            signature.Add(IsWorkload(endpoint) ? 1 : 0);
            signature.Add(Separator);
            foreach (var policy in facts.IngressSelecting) signature.Add(policyIndex[policy]);
            signature.Add(Separator);
            egressPeers.AddMatching(this, endpoint, signature);
            signature.Add(Separator);
            signature.AddRange(facts.FlowGovernsAsServer);
            signature.Add(Separator);
            signature.AddRange(facts.FlowToRules);
            signature.Add(Separator);
            signature.AddRange(facts.CiliumIngressSelecting);
            signature.Add(Separator);
            AddCiliumPeerMatches(ciliumEgress, endpoint, signature);
            signature.Add(Separator);
            signature.AddRange(facts.IstioSelecting);
            serverClass[i] = ClassOf(serverClasses, signature);
        }
        return new EndpointClasses(clientClass, clientClasses.Count, serverClass, serverClasses.Count);
    }

    private static int ClassOf(Dictionary<int[], int> classes, List<int> signature)
    {
        var key = signature.ToArray();
        ref int id = ref CollectionsMarshal.GetValueRefOrAddDefault(classes, key, out bool exists);
        if (!exists) id = classes.Count - 1;
        return id;
    }

    /// <summary>
    /// The peer lists (from/to) of every ingress or egress rule, numbered, with the ones that can only match workloads
    /// of the policy's own namespace (bare podSelectors) filed under it, so an endpoint is tried against its
    /// namespace's rules and the few that reach further, not against every rule.
    /// </summary>
    private sealed class PeerRuleIndex
    {
        private readonly List<(int Id, string Namespace, NetworkPolicyPeer[] Peers)> _anyNamespace = new();
        private readonly List<(int Id, string Namespace, NetworkPolicyPeer[] Peers)> _addresses = new();
        private readonly Dictionary<string, List<(int Id, string Namespace, NetworkPolicyPeer[] Peers)>> _ownNamespace = new(StringComparer.Ordinal);

        public PeerRuleIndex(NetworkPolicyDefinition[] policies, bool egress)
        {
            int id = 0;
            foreach (var policy in policies)
                foreach (var rule in egress ? policy.EgressRules : policy.IngressRules)
                {
                    id++;
                    // Null peers match every endpoint: the same answer for all, so no part of a class.
                    if (rule.Peers is not { } peers) continue;
                    var entry = (id, policy.Namespace, peers);
                    if (peers.Any(p => p.IpBlock is not null)) _addresses.Add(entry);
                    if (peers.Any(p => p.IpBlock is null && p.NamespaceSelector is not null)) _anyNamespace.Add(entry);
                    else if (peers.Any(p => p.IpBlock is null))
                    {
                        if (!_ownNamespace.TryGetValue(policy.Namespace, out var list)) _ownNamespace[policy.Namespace] = list = new();
                        list.Add(entry);
                    }
                }
        }

        /// <summary>Appends the ids (ascending) of the peer lists that match <paramref name="endpoint"/>.</summary>
        public void AddMatching(IntentEvaluator evaluator, Endpoint endpoint, List<int> ids)
        {
            int start = ids.Count;
            if (endpoint.IsAddress || evaluator.NodeAddressesOf(endpoint).Count > 0)
            {
                foreach (var (id, ns, peers) in _addresses)
                    if (evaluator.PeersMatch(peers, ns, endpoint)) ids.Add(id);
            }
            else if (IsWorkload(endpoint))
            {
                if (_ownNamespace.TryGetValue(endpoint.Namespace!, out var local))
                    foreach (var (id, ns, peers) in local)
                        if (evaluator.PeersMatch(peers, ns, endpoint)) ids.Add(id);
                foreach (var (id, ns, peers) in _anyNamespace)
                    if (evaluator.PeersMatch(peers, ns, endpoint)) ids.Add(id);
            }
            // Anything else (nodes without known addresses, named endpoints of other kinds) matches no ipBlock and no selector.
            ids.Sort(start, ids.Count - start, Comparer<int>.Default);
        }
    }

    private sealed class IntSequenceComparer : IEqualityComparer<int[]>
    {
        public static readonly IntSequenceComparer Instance = new();

        public bool Equals(int[]? x, int[]? y) => ReferenceEquals(x, y) || (x is not null && y is not null && x.AsSpan().SequenceEqual(y));

        public int GetHashCode(int[] value)
        {
            var hash = new HashCode();
            hash.AddBytes(MemoryMarshal.AsBytes(value.AsSpan()));
            return hash.ToHashCode();
        }
    }
}
