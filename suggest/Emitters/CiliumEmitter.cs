using FlowPolicy.Core.Net;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Emitters;

/// <summary>
/// CiliumNetworkPolicy (cilium.io/v2): a default deny per namespace and one policy per workload with its ingress
/// and egress rules; nodes are the <c>host</c> and <c>remote-node</c> entities.
/// </summary>
internal sealed class CiliumEmitter : IPolicyEmitter
{
    private const string NamespaceLabel = "k8s:io.kubernetes.pod.namespace";

    public string Format => "cilium";

    public string Assumptions =>
        "Cilium: node traffic (kubelet probes) is allowed with fromEntities [host, remote-node] on the probed ports; " +
        "the per-namespace default deny is a policy selecting every endpoint with one empty ingress and one empty egress rule (enables default deny, allows nothing). " +
        "Peers are selected by their stable labels plus k8s:io.kubernetes.pod.namespace; addresses with fromCIDRSet/toCIDRSet (Cilium never matches cluster endpoints by CIDR).";

    public EmitResult Emit(SuggestionSet set, IReadOnlyList<string> namespaces, EmittedFiles files)
    {
        var peers = new NodeCache<(Peer Peer, string Direction), YamlRendered>(key => YamlNode.Rendered(PeerSelector(key.Peer)));
        var ports = new NodeCache<(byte Protocol, ushort Port), YamlRendered>(key => YamlNode.Rendered(Ports(key.Protocol, key.Port)));
        foreach (var ns in namespaces)
        {
            var deny = Policy("default-deny", ns, set, 0, [("purpose", "default deny for every endpoint of the namespace")]);
            deny.Add("spec", YamlNode.Map()
                .Add("endpointSelector", YamlNode.Map())
                .Add("ingress", YamlNode.Seq().Add(YamlNode.Map()))
                .Add("egress", YamlNode.Seq().Add(YamlNode.Map())));
            files.Add(new EmittedFile($"cilium/{PolicyText.Name(ns)}/00-default-deny.yaml", [deny]));
            foreach (var workload in PolicyText.WorkloadsIn(set, ns))
            {
                var ingress = PolicyText.IngressOf(set, workload).ToList();
                var egress = PolicyText.EgressOf(set, workload).ToList();
                string name = PolicyText.Name(workload.Workload!);
                var doc = Policy(name, ns, set, ingress.Count + egress.Count, []);
                var spec = YamlNode.Map().Add("endpointSelector", YamlNode.Map().Add("matchLabels", PolicyText.MatchLabels(workload.Selector)));
                if (ingress.Count > 0)
                {
                    var rules = YamlNode.Seq();
                    foreach (var rule in ingress) rules.Add(new EvidenceComment(rule)).Add(Rule("from", rule.Client, rule, peers, ports));
                    spec.Add("ingress", rules);
                }
                if (egress.Count > 0)
                {
                    var rules = YamlNode.Seq();
                    foreach (var rule in egress) rules.Add(new EvidenceComment(rule)).Add(Rule("to", rule.Server, rule, peers, ports));
                    spec.Add("egress", rules);
                }
                doc.Add("spec", spec);
                files.Add(new EmittedFile($"cilium/{PolicyText.Name(ns)}/{name}.yaml", [doc]));
            }
        }
        return new EmitResult(Format, files.Count, []);
    }

    public IReadOnlyList<string> Notes(SuggestionSet set, IReadOnlyList<string> namespaceNotes) => [];

    private static YamlMap Policy(string name, string ns, SuggestionSet set, int rules, IEnumerable<(string, string)> annotations) =>
        YamlNode.Map()
            .Add("apiVersion", "cilium.io/v2")
            .Add("kind", "CiliumNetworkPolicy")
            .Add("metadata", PolicyText.Metadata(name, ns, set, rules, annotations));

    private static YamlMap Rule(string direction, Peer peer, SuggestedRule rule,
        NodeCache<(Peer, string), YamlRendered> peers, NodeCache<(byte, ushort), YamlRendered> ports)
    {
        var result = YamlNode.Map();
        string suffix = peer.Kind switch
        {
            PeerKind.Workload => "Endpoints",
            PeerKind.Nodes => "Entities",
            _ => "CIDRSet",
        };
        result.Add(direction + suffix, peers[(peer, direction)]);
        if (PolicyText.HasPorts(rule))
            result.Add("toPorts", ports[(rule.Protocol, rule.Port)]);
        else if (rule.ProtocolName is "ICMP" or "ICMPv6")
            result.Add("icmps", ports[(rule.Protocol, 0)]);
        return result;
    }

    /// <summary>The peer's value: endpoint labels with its namespace, the node entities, or CIDRs with their exceptions.</summary>
    private static YamlSeq PeerSelector(Peer peer)
    {
        switch (peer.Kind)
        {
            case PeerKind.Workload:
                var labels = YamlNode.Map().Add(NamespaceLabel, peer.Namespace!);
                foreach (var (key, value) in peer.Selector) labels.Add(key, value);
                return YamlNode.Seq().Add(YamlNode.Map().Add("matchLabels", labels));
            case PeerKind.Nodes:
                return YamlNode.Seq().Add(YamlNode.Str("host")).Add(YamlNode.Str("remote-node"));
            default:
                var sets = YamlNode.Seq();
                foreach (var block in peer.Cidrs) sets.Add(PolicyText.CidrBlock(block, peer));
                return sets;
        }
    }

    /// <summary>toPorts for a protocol with ports; for ICMP (port 0) the icmps value.</summary>
    private static YamlSeq Ports(byte protocol, ushort port)
    {
        string name = IpProtocols.Name(protocol);
        if (IpProtocols.HasPorts(protocol))
            return YamlNode.Seq().Add(YamlNode.Map().Add("ports", YamlNode.Seq().Add(YamlNode.Map()
                .Add("port", YamlNode.Str(port.ToString(System.Globalization.CultureInfo.InvariantCulture)))
                .Add("protocol", name))));
        return YamlNode.Seq().Add(YamlNode.Map().Add("fields", YamlNode.Seq().Add(YamlNode.Map()
            .Add("family", name == "ICMP" ? "IPv4" : "IPv6").Add("type", YamlNode.Int(8)))));
    }
}
