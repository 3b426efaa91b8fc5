using System.Text;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Emitters;

/// <summary>
/// Calico NetworkPolicy and StagedNetworkPolicy (projectcalico.org/v3): the staged copy shows what enforcement would
/// do before it does it (Calico's flow logs report staged verdicts). Same rules in both.
/// </summary>
internal sealed class CalicoEmitter : IPolicyEmitter
{
    public const string NodeSelector = "has(kubernetes.io/hostname)";

    public string Format => "calico";

    public string Assumptions =>
        "Calico: node traffic (kubelet probes) is allowed from the nodes' host endpoints, selected by `has(kubernetes.io/hostname)` with namespaceSelector `global()` " +
        "(needs host endpoints, e.g. Calico's automatic host endpoints; otherwise replace it by `nets:` of your node CIDR). " +
        "Each policy comes twice: NetworkPolicy (enforced) and StagedNetworkPolicy (stagedAction Set: reported, not enforced) under staged/, to try before enforcing. " +
        "Other namespaces are selected by projectcalico.org/name.";

    public EmitResult Emit(SuggestionSet set, IReadOnlyList<string> namespaces, EmittedFiles files)
    {
        var nodes = new PeerNodes();
        foreach (var ns in namespaces)
        {
            string dir = PolicyText.Name(ns);
            var denySpec = YamlNode.Map().Add("selector", "all()")
                .Add("types", YamlNode.Seq().Add(YamlNode.Str("Ingress")).Add(YamlNode.Str("Egress")));
            Add(files, dir, "00-default-deny", ns, set, 0, [("purpose", "default deny: an endpoint selected by a policy drops what no rule allows")], denySpec);
            foreach (var workload in PolicyText.WorkloadsIn(set, ns))
            {
                var ingress = PolicyText.IngressOf(set, workload).ToList();
                var egress = PolicyText.EgressOf(set, workload).ToList();
                var types = YamlNode.Seq();
                if (ingress.Count > 0) types.Add(YamlNode.Str("Ingress"));
                if (egress.Count > 0) types.Add(YamlNode.Str("Egress"));
                var spec = YamlNode.Map().Add("selector", Selector(workload.Selector)).Add("types", types);
                if (ingress.Count > 0)
                {
                    var rules = YamlNode.Seq();
                    foreach (var rule in ingress) rules.Add(new EvidenceComment(rule)).Add(Rule(rule, rule.Client, ns, ingress: true, nodes));
                    spec.Add("ingress", rules);
                }
                if (egress.Count > 0)
                {
                    var rules = YamlNode.Seq();
                    foreach (var rule in egress) rules.Add(new EvidenceComment(rule)).Add(Rule(rule, rule.Server, ns, ingress: false, nodes));
                    spec.Add("egress", rules);
                }
                Add(files, dir, PolicyText.Name(workload.Workload!), ns, set, ingress.Count + egress.Count, [], spec);
            }
        }
        return new EmitResult(Format, files.Count, []);
    }

    public IReadOnlyList<string> Notes(SuggestionSet set, IReadOnlyList<string> namespaceNotes) => [];

    private static void Add(EmittedFiles files, string dir, string name, string ns, SuggestionSet set, int rules, IReadOnlyList<(string, string)> annotations, YamlMap spec)
    {
        var enforced = YamlNode.Map().Add("apiVersion", "projectcalico.org/v3").Add("kind", "NetworkPolicy")
            .Add("metadata", PolicyText.Metadata(name, ns, set, rules, annotations)).Add("spec", spec);
        files.Add(new EmittedFile($"calico/{dir}/{name}.yaml", [enforced]));
        var stagedSpec = YamlNode.Map().Add("stagedAction", "Set");
        foreach (var (key, value) in spec.Entries) stagedSpec.Add(key, value);
        var staged = YamlNode.Map().Add("apiVersion", "projectcalico.org/v3").Add("kind", "StagedNetworkPolicy")
            .Add("metadata", PolicyText.Metadata(name, ns, set, rules, annotations)).Add("spec", stagedSpec);
        files.Add(new EmittedFile($"calico/staged/{dir}/{name}.yaml", [staged]));
    }

    /// <summary>Calico selector expression: every label as key == 'value', joined by &&.</summary>
    public static string Selector(IEnumerable<KeyValuePair<string, string>> labels)
    {
        var sb = new StringBuilder();
        foreach (var (key, value) in labels)
        {
            if (sb.Length > 0) sb.Append(" && ");
            sb.Append(key).Append(" == '").Append(value).Append('\'');
        }
        return sb.Length == 0 ? "all()" : sb.ToString();
    }

    /// <summary>The parts of rules that depend only on a peer, a namespace or a port: made and rendered once per emitter part.</summary>
    private sealed class PeerNodes
    {
        public readonly NodeCache<Peer, YamlRendered> Selector = new(peer => YamlNode.Rendered(YamlNode.Str(CalicoEmitter.Selector(peer.Selector))));
        public readonly NodeCache<string, YamlRendered> Namespace = new(ns => YamlNode.Rendered(YamlNode.Str($"projectcalico.org/name == '{ns}'")));
        public readonly NodeCache<Peer, YamlRendered> Nets = new(peer => YamlNode.Rendered(Blocks(peer.Cidrs)));
        public readonly NodeCache<Peer, YamlRendered> NotNets = new(peer => YamlNode.Rendered(Blocks(peer.Except)));
        public readonly NodeCache<ushort, YamlRendered> Ports = new(port => YamlNode.Rendered(YamlNode.Seq().Add(YamlNode.Int(port))));

        private static YamlSeq Blocks(IReadOnlyList<Cidr> blocks)
        {
            var seq = YamlNode.Seq();
            foreach (var block in blocks) seq.Add(YamlNode.Str(block.ToString()));
            return seq;
        }
    }

    private static YamlMap Rule(SuggestedRule rule, Peer peer, string policyNamespace, bool ingress, PeerNodes nodes)
    {
        var result = YamlNode.Map().Add("action", "Allow").Add("protocol", rule.ProtocolName);
        var entity = YamlNode.Map();
        switch (peer.Kind)
        {
            case PeerKind.Workload:
                entity.Add("selector", nodes.Selector[peer]);
                if (peer.Namespace != policyNamespace) entity.Add("namespaceSelector", nodes.Namespace[peer.Namespace!]);
                break;
            case PeerKind.Nodes:
                entity.Add("selector", NodeSelector).Add("namespaceSelector", "global()");
                break;
            default:
                entity.Add("nets", nodes.Nets[peer]);
                if (peer.Except.Count > 0) entity.Add("notNets", nodes.NotNets[peer]);
                break;
        }
        if (ingress)
        {
            result.Add("source", entity);
            if (PolicyText.HasPorts(rule)) result.Add("destination", YamlNode.Map().Add("ports", nodes.Ports[rule.Port]));
        }
        else
        {
            if (PolicyText.HasPorts(rule)) entity.Add("ports", nodes.Ports[rule.Port]);
            result.Add("destination", entity);
        }
        return result;
    }
}
