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
                    foreach (var rule in ingress) AddRule(rules, "from", rule.Client, ns, rule, notes);
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
                    foreach (var rule in egress) AddRule(rules, "to", rule.Server, ns, rule, notes);
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
    private static void AddRule(YamlSeq rules, string direction, Peer peer, string policyNamespace, SuggestedRule rule, List<string> notes)
    {
        if (Rule(direction, peer, policyNamespace, rule, notes) is { } item)
            rules.Add(new EvidenceComment(rule)).Add(item);
        else
            rules.Add(new EvidenceComment(rule, "not emitted (see report.md): "));
    }

    private static YamlMap? Rule(string direction, Peer peer, string policyNamespace, SuggestedRule rule, List<string> notes)
    {
        var peers = YamlNode.Seq();
        switch (peer.Kind)
        {
            case PeerKind.Workload:
                var entry = YamlNode.Map();
                if (peer.Namespace != policyNamespace)
                    entry.Add("namespaceSelector", YamlNode.Map().Add("matchLabels", YamlNode.Map().Add("kubernetes.io/metadata.name", peer.Namespace!)));
                entry.Add("podSelector", YamlNode.Map().Add("matchLabels", PolicyText.MatchLabels(peer.Selector)));
                peers.Add(entry);
                break;
            case PeerKind.Nodes:
                notes.Add($"{rule.Id} ({rule}): egress to nodes cannot be selected by a NetworkPolicy without the node addresses; not emitted, add an ipBlock of your node CIDR.");
                return null; // an empty "to" would allow every destination
            default:
                foreach (var block in peer.Cidrs)
                {
                    var ipBlock = YamlNode.Map().Add("cidr", block.ToString());
                    var except = peer.Except.Where(x => x.IsV4 == block.IsV4).ToList();
                    if (except.Count > 0)
                    {
                        var seq = YamlNode.Seq();
                        foreach (var x in except) seq.Add(YamlNode.Str(x.ToString()));
                        ipBlock.Add("except", seq);
                    }
                    peers.Add(YamlNode.Map().Add("ipBlock", ipBlock));
                }
                break;
        }
        var result = YamlNode.Map().Add(direction, peers);
        if (PolicyText.HasPorts(rule))
            result.Add("ports", YamlNode.Seq().Add(YamlNode.Map().Add("protocol", rule.ProtocolName).Add("port", YamlNode.Int(rule.Port))));
        else
            notes.Add($"{rule.Id} ({rule}): NetworkPolicy cannot name {rule.ProtocolName}; the rule allows every protocol to that peer.");
        return result;
    }
}
