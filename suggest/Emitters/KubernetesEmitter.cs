using FlowPolicy.Core.Net;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Emitters;

/// <summary>
/// Kubernetes NetworkPolicy (networking.k8s.io/v1): a default deny per namespace, then an ingress and an egress
/// policy per workload, one rule per neutral rule, its evidence in a comment before it. Node-to-pod traffic needs no rule: the
/// NetworkPolicy spec always allows traffic from the node a pod runs on (kubelet probes).
/// </summary>
internal sealed class KubernetesEmitter : IPolicyEmitter
{
    public string Format => "k8s";

    public string Assumptions =>
        "Kubernetes NetworkPolicy: traffic from the node a pod runs on (kubelet health probes) is always allowed by the spec, so node->pod rules are not emitted (they are in suggestions.json). " +
        "Pods are selected by all their stable labels; other namespaces by the kubernetes.io/metadata.name label. ipBlocks are meant for addresses outside the cluster. " +
        "Protocols without ports (ICMP) cannot be named in a NetworkPolicy: such a rule allows every protocol to that peer. Egress to nodes needs an ipBlock of the node addresses, which flow edges do not carry: add it by hand.";

    public EmitResult Emit(SuggestionSet set, IReadOnlyList<string> namespaces, EmittedFiles files)
    {
        var notes = new List<string>();
        var peers = new NodeCache<(Peer Peer, bool OtherNamespace), YamlRendered>(key => YamlNode.Rendered(Peers(key.Peer, key.OtherNamespace)));
        var ports = new NodeCache<(byte Protocol, ushort Port), YamlRendered>(key =>
            YamlNode.Rendered(YamlNode.Seq().Add(YamlNode.Map().Add("protocol", IpProtocols.Name(key.Protocol)).Add("port", YamlNode.Int(key.Port)))));
        foreach (var ns in namespaces)
        {
            var deny = Policy(PolicyText.Name("default-deny"), ns, set, 0, [("purpose", "default deny: only the allow policies next to it let traffic through")]);
            deny.Add("spec", YamlNode.Map()
                .Add("podSelector", YamlNode.Map())
                .Add("policyTypes", YamlNode.Seq().Add(YamlNode.Str("Ingress")).Add(YamlNode.Str("Egress"))));
            files.Add(new EmittedFile($"k8s/{PolicyText.Name(ns)}/00-default-deny.yaml", [deny]));
            foreach (var workload in PolicyText.WorkloadsIn(set, ns))
            {
                string baseName = PolicyText.Name(workload.Workload!);
                var ingress = PolicyText.IngressOf(set, workload).ToList();
                var fromNodes = ingress.Where(r => r.Client.Kind == PeerKind.Nodes).ToList();
                ingress = ingress.Where(r => r.Client.Kind != PeerKind.Nodes).ToList();
                if (ingress.Count > 0 || fromNodes.Count > 0)
                {
                    var doc = Policy(PolicyText.Name(baseName + "-ingress"), ns, set, ingress.Count + fromNodes.Count, []);
                    var rules = YamlNode.Seq();
                    foreach (var rule in ingress) AddRule(rules, "from", rule.Client, ns, rule, notes, peers, ports);
                    var spec = YamlNode.Map()
                        .Add("podSelector", YamlNode.Map().Add("matchLabels", PolicyText.MatchLabels(workload.Selector)))
                        .Add("policyTypes", YamlNode.Seq().Add(YamlNode.Str("Ingress")));
                    foreach (var rule in fromNodes)
                        spec.Add(new EvidenceComment(rule, "node-probe, no rule needed (the NetworkPolicy spec allows node->pod): "));
                    doc.Add("spec", spec.Add("ingress", rules));
                    files.Add(new EmittedFile($"k8s/{PolicyText.Name(ns)}/{baseName}-ingress.yaml", [doc]));
                }
                var egress = PolicyText.EgressOf(set, workload).ToList();
                if (egress.Count > 0)
                {
                    var doc = Policy(PolicyText.Name(baseName + "-egress"), ns, set, egress.Count, []);
                    var rules = YamlNode.Seq();
                    foreach (var rule in egress) AddRule(rules, "to", rule.Server, ns, rule, notes, peers, ports);
                    doc.Add("spec", YamlNode.Map()
                        .Add("podSelector", YamlNode.Map().Add("matchLabels", PolicyText.MatchLabels(workload.Selector)))
                        .Add("policyTypes", YamlNode.Seq().Add(YamlNode.Str("Egress")))
                        .Add("egress", rules));
                    files.Add(new EmittedFile($"k8s/{PolicyText.Name(ns)}/{baseName}-egress.yaml", [doc]));
                }
            }
        }
        return new EmitResult(Format, files.Count, notes);
    }

    public IReadOnlyList<string> Notes(SuggestionSet set, IReadOnlyList<string> namespaceNotes) => namespaceNotes.Distinct().ToList();

    private static YamlMap Policy(string name, string ns, SuggestionSet set, int rules, IEnumerable<(string, string)> annotations) =>
        YamlNode.Map()
            .Add("apiVersion", "networking.k8s.io/v1")
            .Add("kind", "NetworkPolicy")
            .Add("metadata", PolicyText.Metadata(name, ns, set, rules, annotations));

    /// <summary>The rule with its evidence comment before it; a rule that cannot be expressed leaves the comment only.</summary>
    private static void AddRule(YamlSeq rules, string direction, Peer peer, string policyNamespace, SuggestedRule rule, List<string> notes,
        NodeCache<(Peer, bool), YamlRendered> peers, NodeCache<(byte, ushort), YamlRendered> ports)
    {
        if (peer.Kind == PeerKind.Nodes)
        {
            notes.Add($"{rule.Id} ({rule}): egress to nodes cannot be selected by a NetworkPolicy without the node addresses; not emitted, add an ipBlock of your node CIDR.");
            // An empty "to" would allow every destination.
            rules.Add(new EvidenceComment(rule, "not emitted (see report.md): "));
            return;
        }
        // A workload peer's entry depends on whether it is in the policy's namespace; an address peer's does not.
        var item = YamlNode.Map().Add(direction, peers[(peer, peer.IsWorkload && peer.Namespace != policyNamespace)]);
        if (PolicyText.HasPorts(rule))
            item.Add("ports", ports[(rule.Protocol, rule.Port)]);
        else
            notes.Add($"{rule.Id} ({rule}): NetworkPolicy cannot name {rule.ProtocolName}; the rule allows every protocol to that peer.");
        rules.Add(new EvidenceComment(rule)).Add(item);
    }

    /// <summary>The peers of a rule: a pod selector (with a namespace selector for a peer in another namespace), or ipBlocks.</summary>
    private static YamlSeq Peers(Peer peer, bool otherNamespace)
    {
        var peers = YamlNode.Seq();
        if (peer.Kind == PeerKind.Workload)
        {
            var entry = YamlNode.Map();
            if (otherNamespace)
                entry.Add("namespaceSelector", YamlNode.Map().Add("matchLabels", YamlNode.Map().Add("kubernetes.io/metadata.name", peer.Namespace!)));
            entry.Add("podSelector", YamlNode.Map().Add("matchLabels", PolicyText.MatchLabels(peer.Selector)));
            return peers.Add(entry);
        }
        foreach (var block in peer.Cidrs) peers.Add(YamlNode.Map().Add("ipBlock", PolicyText.CidrBlock(block, peer)));
        return peers;
    }
}
