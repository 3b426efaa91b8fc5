using FlowPolicy.Core.Net;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Emitters;

/// <summary>
/// Kubernetes NetworkPolicy (networking.k8s.io/v1): a default deny per namespace, then an ingress and an egress
/// policy per workload. Rules on the same protocol and port are one rule listing every peer (an allow list is a union,
/// so a busy server gets one rule per port instead of one per client), each peer's evidence in a comment before it.
/// Node-to-pod traffic: the NetworkPolicy spec allows only the node a pod runs on (kubelet probes) whatever the policy
/// says; traffic from the other nodes (NodePort and LoadBalancer Services with externalTrafficPolicy Cluster, which
/// SNAT to the forwarding node's address, and host-network clients) needs a rule: an ipBlock per node address.
/// </summary>
internal sealed class KubernetesEmitter(ClusterFacts cluster) : IPolicyEmitter
{
    public string Format => "k8s";

    public string Assumptions =>
        "Kubernetes NetworkPolicy: the spec always allows traffic from the node a pod runs on (kubelet health probes), not from the other nodes: " +
        "node->pod rules are an ipBlock per node address from the inventory, so traffic forwarded by another node (NodePort/LoadBalancer Services with externalTrafficPolicy Cluster) and host-network clients keep working; " +
        "without node addresses they are not emitted (they are in suggestions.json) and only the pod's own node gets through. " +
        "Cilium matches ipBlocks against other nodes' addresses only with policy-cidr-match-mode=nodes: use --emit cilium there. " +
        "Pods are selected by their stable labels (labels that are not valid Kubernetes labels are left out); other namespaces by the kubernetes.io/metadata.name label. ipBlocks are meant for addresses outside the cluster. " +
        "Rules with the same protocol and port are merged into one rule listing every peer. " +
        "Protocols without ports (ICMP, GRE, ESP) cannot be named in a NetworkPolicy: such a rule allows every protocol to that peer. " +
        "DNS is allowed on TCP 53 as well as UDP 53. Internet rules open only the address families their clients used. " +
        "Egress to nodes (the API server, node services) is an ipBlock per node address from the inventory (kubectl get nodes -o json, node leases); " +
        "without node addresses it is allowed on its port to any destination, and the namespace's default deny leaves egress out.";

    public EmitResult Emit(SuggestionSet set, IReadOnlyList<string> namespaces, EmittedFiles files)
    {
        var notes = new List<string>();
        var unaddressedNodeRules = new List<string>();
        foreach (var ns in PolicyText.WritableNamespaces(namespaces, notes))
        {
            var workloads = PolicyText.WorkloadsIn(set, ns).ToList();
            var names = new PolicyNames(workloads);
            bool nodeEgressUnknown = PolicyText.NodeEgressUnknown(set, workloads, cluster);
            var types = YamlNode.Seq().Add(YamlNode.Str("Ingress"));
            if (nodeEgressUnknown)
                notes.Add($"namespace {ns}: no default deny for egress: workloads here reach the nodes (API server, node services) and the inventory gave no node addresses for an ipBlock; add `kubectl get nodes -o json` to --inventory to get one.");
            else
                types.Add(YamlNode.Str("Egress"));
            var deny = Policy(PolicyNames.DefaultDeny, ns, set, 0, [("purpose", nodeEgressUnknown
                ? "default deny for ingress only: egress to the nodes could not be allowed by address (see report.md)"
                : "default deny: only the allow policies next to it let traffic through")]);
            deny.Add("spec", YamlNode.Map().Add("podSelector", YamlNode.Map()).Add("policyTypes", types));
            files.Add(new EmittedFile($"k8s/{ns}/{PolicyNames.DefaultDeny}.yaml", [deny]));

            foreach (var workload in workloads)
            {
                var selector = SelectableLabels.OfPolicyWorkload(workload, notes);
                if (selector is null) continue;
                string stem = names.Stem(workload);
                var ingress = EmittedRules.Of(PolicyText.IngressOf(set, workload), ingress: true);
                // Without node addresses a rule from the nodes could only allow the port from anywhere: left to the
                // spec's own-node exemption instead, with a note for the traffic of the other nodes.
                var fromNodes = cluster.NodeAddressesKnown ? [] : ingress.Where(r => r.Peer.Kind == PeerKind.Nodes).ToList();
                ingress = cluster.NodeAddressesKnown ? ingress : ingress.Where(r => r.Peer.Kind != PeerKind.Nodes).ToList();
                unaddressedNodeRules.AddRange(fromNodes.Select(r => r.Rule.Id));
                WriteDirection(files, set, ns, stem + "-ingress", selector, "Ingress", "ingress", "from", ingress, fromNodes, notes);
                var egress = EmittedRules.Of(PolicyText.EgressOf(set, workload), ingress: false);
                WriteDirection(files, set, ns, stem + "-egress", selector, "Egress", "egress", "to", egress, [], notes);
            }
        }
        // One note for all of them: a cluster without node addresses has one such rule per probed workload.
        if (unaddressedNodeRules.Count > 0)
            notes.Add($"{unaddressedNodeRules.Count} rule(s) from the nodes ({string.Join(", ", unaddressedNodeRules.Take(8))}{(unaddressedNodeRules.Count > 8 ? ", ..." : "")}): " +
                      "only the node each pod runs on gets through (the spec's exemption); traffic from the other nodes " +
                      "(NodePort/LoadBalancer Services with externalTrafficPolicy Cluster, host-network clients) will be blocked; " +
                      "add `kubectl get nodes -o json` to --inventory for an ipBlock per node.");
        return new EmitResult(Format, files.Count, notes);
    }

    public IReadOnlyList<string> Notes(SuggestionSet set, IReadOnlyList<string> namespaceNotes) => namespaceNotes.Distinct().ToList();

    private void WriteDirection(EmittedFiles files, SuggestionSet set, string ns, string name, IReadOnlyList<KeyValuePair<string, string>> selector,
        string type, string rulesKey, string peersKey, List<EmitRule> rules, List<EmitRule> fromNodes, List<string> notes)
    {
        if (rules.Count == 0 && fromNodes.Count == 0) return;
        var items = new List<(YamlNode[] Comments, YamlMap? Item, long Size)>();
        // Same protocol and port: one rule listing the peers. Egress to nodes without addresses has no peer list at
        // all (it allows the port to any destination), so it never shares a rule with peers.
        foreach (var (key, group) in EmittedRules.GroupInOrder(rules, r => (r.Protocol, Port: r.HasPort ? r.Port : (ushort)0, AnyPeer: r.Peer.Kind == PeerKind.Nodes && !cluster.NodeAddressesKnown)))
        {
            foreach (var chunk in group.Chunk(EmittedRules.MaxPeersPerRule))
            {
                var comments = new List<YamlNode>();
                var peers = YamlNode.Seq();
                var seen = new HashSet<string>(StringComparer.Ordinal);
                long size = 200;
                foreach (var rule in chunk)
                {
                    var entries = Peers(rule, ns, notes);
                    if (entries is null)
                    {
                        comments.Add(new EvidenceComment(rule.Rule, "not emitted (see report.md): "));
                        continue;
                    }
                    comments.Add(new EvidenceComment(rule.Rule, rule.AddedForDns ? $"DNS on {rule.ProtocolName} too (resolvers fall back to TCP); added for: " : null));
                    if (!seen.Add(rule.Peer.Key)) continue;
                    foreach (var entry in entries) peers.Add(entry);
                    size += EmittedRules.PeerSize(rule.Peer);
                }
                if (peers.ValueCount == 0 && !key.AnyPeer)
                {
                    items.Add((comments.ToArray(), null, 0));
                    continue;
                }
                var item = YamlNode.Map();
                if (!key.AnyPeer) item.Add(peersKey, peers);
                var first = chunk[0];
                if (IpProtocols.HasPorts(first.Protocol))
                {
                    var port = YamlNode.Map().Add("protocol", first.ProtocolName);
                    if (first.HasPort) port.Add("port", YamlNode.Int(first.Port));
                    else notes.Add($"{first.Rule.Id} ({first.Rule}): port 0 is not a port; the rule allows every {first.ProtocolName} port to those peers.");
                    item.Add("ports", YamlNode.Seq().Add(port));
                }
                else
                    notes.Add($"{first.Rule.Id} ({first.Rule}): NetworkPolicy cannot name {first.ProtocolName}; the rule allows every protocol to those peers.");
                if (key.AnyPeer)
                    notes.Add($"{first.Rule.Id} ({first.Rule}): egress to the nodes is allowed on {first.Port}/{first.ProtocolName} to any destination: the inventory gave no node addresses for an ipBlock (add `kubectl get nodes -o json` to --inventory).");
                items.Add((comments.ToArray(), item, size));
            }
        }
        var parts = EmittedRules.Chunks(items, int.MaxValue, i => i.Size, EmittedRules.MaxObjectBytes).ToList();
        if (parts.Count == 0) parts.Add([]);
        for (int p = 0; p < parts.Count; p++)
        {
            var part = parts[p];
            string partName = PolicyNames.Part(name, p);
            var list = YamlNode.Seq();
            int count = 0;
            foreach (var (comments, item, _) in part)
            {
                foreach (var c in comments) list.Add(c);
                if (item is null) continue;
                list.Add(item);
                count++;
            }
            var spec = YamlNode.Map().Add("podSelector", YamlNode.Map().Add("matchLabels", PolicyText.MatchLabels(selector)))
                .Add("policyTypes", YamlNode.Seq().Add(YamlNode.Str(type)));
            if (p == 0)
                foreach (var rule in fromNodes)
                    spec.Add(new EvidenceComment(rule.Rule, "not emitted, from the nodes: the spec lets only the pod's own node through (no node addresses for an ipBlock, see report.md): "));
            var doc = Policy(partName, ns, set, count, []);
            doc.Add("spec", spec.Add(rulesKey, list));
            files.Add(new EmittedFile($"k8s/{ns}/{partName}.yaml", [doc]));
        }
    }

    private static YamlMap Policy(string name, string ns, SuggestionSet set, int rules, IEnumerable<(string, string)> annotations) =>
        YamlNode.Map()
            .Add("apiVersion", "networking.k8s.io/v1")
            .Add("kind", "NetworkPolicy")
            .Add("metadata", PolicyText.Metadata(name, ns, set, rules, annotations));

    /// <summary>
    /// A rule's peer entries: a pod selector (with a namespace selector for a peer in another namespace), or ipBlocks;
    /// null when the peer cannot be selected (the reason is in the notes).
    /// </summary>
    private List<YamlNode>? Peers(EmitRule rule, string policyNamespace, List<string> notes)
    {
        var peer = rule.Peer;
        var entries = new List<YamlNode>();
        switch (peer.Kind)
        {
            case PeerKind.Workload:
                var labels = SelectableLabels.Of(peer, notes);
                if (labels is null || !KubernetesNames.IsDns1123Label(peer.Namespace))
                {
                    notes.Add($"{rule.Rule.Id} ({rule.Rule}): {peer.Key} has no valid label or namespace to select it by; not emitted.");
                    return null;
                }
                var entry = YamlNode.Map();
                if (peer.Namespace != policyNamespace)
                    entry.Add("namespaceSelector", YamlNode.Map().Add("matchLabels", YamlNode.Map().Add("kubernetes.io/metadata.name", peer.Namespace!)));
                entry.Add("podSelector", YamlNode.Map().Add("matchLabels", PolicyText.MatchLabels(labels)));
                entries.Add(entry);
                return entries;
            case PeerKind.Nodes:
                // The node addresses (ingress gets here only when they are known; egress without them allows any destination).
                foreach (var block in cluster.NodeBlocks)
                    entries.Add(YamlNode.Map().Add("ipBlock", YamlNode.Map().Add("cidr", block.ToString())));
                return entries;
            default:
                foreach (var (block, except) in EmittedRules.Blocks(peer, EmittedRules.Families(rule.Rule, peer)))
                    entries.Add(YamlNode.Map().Add("ipBlock", PolicyText.CidrBlock(block, except)));
                return entries;
        }
    }
}
