using System.Text;
using FlowPolicy.Core.Net;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Emitters;

/// <summary>
/// Calico NetworkPolicy and StagedNetworkPolicy (projectcalico.org/v3): the staged copy shows what enforcement would
/// do before it does it (Calico's flow logs report staged verdicts). Same rules in both. Calico's validator rejects a
/// rule whose nets mix IPv4 and IPv6, so address rules come one per family; rules on the same protocol and port toward
/// one namespace (or one family of addresses) are one rule whose selector ORs the peers.
/// </summary>
internal sealed class CalicoEmitter(ClusterFacts cluster) : IPolicyEmitter
{
    public const string NodeSelector = "has(kubernetes.io/hostname)";

    /// <summary>
    /// Rules per direction in one policy, at most. Calico's CRD (crd.projectcalico.org_networkpolicies.yaml at
    /// projectcalico/calico 0058a49) sets no maxItems; every rule is a chain entry on every node that hosts a selected
    /// endpoint, and the issue this answers asked for 1,024: larger sets are split over several policies (allow
    /// policies of one tier are a union).
    /// </summary>
    public const int MaxRulesPerDirection = 1024;

    public string Format => "calico";

    public string Assumptions =>
        "Calico: node traffic (kubelet probes) is allowed from the nodes' host endpoints, selected by `has(kubernetes.io/hostname)` with namespaceSelector `global()` " +
        "(needs host endpoints, e.g. Calico's automatic host endpoints; otherwise replace it by `nets:` of your node CIDR). " +
        "Egress to nodes (API server, node services) uses `nets:` of the node addresses from the inventory; without them, the host endpoint selector, and the namespace's default deny leaves egress out. " +
        "Each policy comes twice: NetworkPolicy (enforced) and StagedNetworkPolicy (stagedAction Set: reported, not enforced) under staged/, to try before enforcing. " +
        "Other namespaces are selected by projectcalico.org/name. Address rules come one per address family (Calico rejects a rule mixing IPv4 and IPv6). " +
        "Protocols without a Calico name (GRE, ESP) are written as their IANA number. " +
        "DNS is allowed on TCP 53 as well as UDP 53. Internet rules open only the address families their clients used.";

    public EmitResult Emit(SuggestionSet set, IReadOnlyList<string> namespaces, EmittedFiles files)
    {
        var notes = new List<string>();
        foreach (var ns in PolicyText.WritableNamespaces(namespaces, notes))
        {
            var workloads = PolicyText.WorkloadsIn(set, ns).ToList();
            var names = new PolicyNames(workloads);
            bool nodeEgressUnknown = PolicyText.NodeEgressUnknown(set, workloads, cluster);
            var denyTypes = YamlNode.Seq().Add(YamlNode.Str("Ingress"));
            if (nodeEgressUnknown)
                notes.Add($"namespace {ns}: no default deny for egress: workloads here reach the nodes (API server, node services) and the inventory gave no node addresses for `nets:`; add `kubectl get nodes -o json` to --inventory.");
            else
                denyTypes.Add(YamlNode.Str("Egress"));
            var denySpec = YamlNode.Map().Add("selector", "all()").Add("types", denyTypes);
            Add(files, ns, PolicyNames.DefaultDeny, set, 0, [("purpose", "default deny: an endpoint selected by a policy drops what no rule allows")], denySpec);
            foreach (var workload in workloads)
            {
                var selector = SelectableLabels.OfPolicyWorkload(workload, notes);
                if (selector is null) continue;
                var ingress = Rules(EmittedRules.Of(PolicyText.IngressOf(set, workload), ingress: true), ns, ingress: true, notes);
                var egress = Rules(EmittedRules.Of(PolicyText.EgressOf(set, workload), ingress: false), ns, ingress: false, notes);
                var ingressParts = EmittedRules.Chunks(ingress, MaxRulesPerDirection, r => r.Size, EmittedRules.MaxObjectBytes / 2).ToList();
                var egressParts = EmittedRules.Chunks(egress, MaxRulesPerDirection, r => r.Size, EmittedRules.MaxObjectBytes / 2).ToList();
                int parts = Math.Max(ingressParts.Count, egressParts.Count);
                string stem = names.Stem(workload);
                for (int p = 0; p < parts; p++)
                {
                    var types = YamlNode.Seq();
                    var spec = YamlNode.Map().Add("selector", Selector(selector)).Add("types", types);
                    int count = 0;
                    if (p < ingressParts.Count) count += AddRules(spec, types, "Ingress", ingressParts[p]);
                    if (p < egressParts.Count) count += AddRules(spec, types, "Egress", egressParts[p]);
                    if (types.ValueCount == 0) continue; // nothing in this part could be written (see the notes)
                    Add(files, ns, PolicyNames.Part(stem, p), set, count, [], spec);
                }
            }
        }
        return new EmitResult(Format, files.Count, notes);
    }

    public IReadOnlyList<string> Notes(SuggestionSet set, IReadOnlyList<string> namespaceNotes) => namespaceNotes.Distinct().ToList();

    private static int AddRules(YamlMap spec, YamlSeq types, string type, List<(YamlNode[] Comments, YamlMap? Rule, long Size)> rules)
    {
        var list = YamlNode.Seq();
        int count = 0;
        foreach (var (comments, rule, _) in rules)
        {
            foreach (var c in comments) list.Add(c);
            if (rule is null) continue;
            list.Add(rule);
            count++;
        }
        if (count > 0)
        {
            types.Add(YamlNode.Str(type));
            spec.Add(type.ToLowerInvariant(), list);
        }
        else
            foreach (var c in list.Items.OfType<YamlComment>()) spec.Add(c);
        return count;
    }

    private static void Add(EmittedFiles files, string ns, string name, SuggestionSet set, int rules, IReadOnlyList<(string, string)> annotations, YamlMap spec)
    {
        var enforced = YamlNode.Map().Add("apiVersion", "projectcalico.org/v3").Add("kind", "NetworkPolicy")
            .Add("metadata", PolicyText.Metadata(name, ns, set, rules, annotations)).Add("spec", spec);
        files.Add(new EmittedFile($"calico/{ns}/{name}.yaml", [enforced]));
        var stagedSpec = YamlNode.Map().Add("stagedAction", "Set");
        foreach (var (key, value) in spec.Entries) stagedSpec.Add(key, value);
        var staged = YamlNode.Map().Add("apiVersion", "projectcalico.org/v3").Add("kind", "StagedNetworkPolicy")
            .Add("metadata", PolicyText.Metadata(name, ns, set, rules, annotations)).Add("spec", stagedSpec);
        files.Add(new EmittedFile($"calico/staged/{ns}/{name}.yaml", [staged]));
    }

    /// <summary>
    /// Calico selector expression: every label as key == 'value', joined by &&. Calico's tokenizer has no escapes
    /// (libcalico-go/lib/selector/tokenizer): a value is quoted with whichever quote it does not contain; a key or value
    /// that could change the expression (quotes of both kinds, characters outside a label key) throws: callers pass
    /// only labels <see cref="SelectableLabels"/> kept, which cannot hold either.
    /// </summary>
    public static string Selector(IEnumerable<KeyValuePair<string, string>> labels)
    {
        var sb = new StringBuilder();
        foreach (var (key, value) in labels)
        {
            if (sb.Length > 0) sb.Append(" && ");
            sb.Append(Key(key)).Append(" == ").Append(Literal(value));
        }
        return sb.Length == 0 ? "all()" : sb.ToString();
    }

    /// <summary>A string literal of Calico's selector grammar.</summary>
    public static string Literal(string value)
    {
        if (!value.Contains('\'')) return "'" + value + "'";
        if (!value.Contains('"')) return "\"" + value + "\"";
        throw new ArgumentException($"'{value}' holds both quote characters: Calico's selector grammar cannot express it");
    }

    private static string Key(string key)
    {
        // Calico's label token: [a-zA-Z0-9_./-]{1,512} (tokenizer.LabelKeyMatcher).
        if (key.Length is 0 or > 512) throw new ArgumentException($"'{key}' is not a Calico label key");
        foreach (char c in key)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '/' or '-')) throw new ArgumentException($"'{key}' is not a Calico label key");
        return key;
    }

    private enum PeerClass { Workloads, HostEndpoints, NetsV4, NetsV6 }

    private List<(YamlNode[] Comments, YamlMap? Rule, long Size)> Rules(List<EmitRule> rules, string policyNamespace, bool ingress, List<string> notes)
    {
        // One entry per rule and address family it opens: Calico rejects a rule whose nets mix families.
        var split = new List<(EmitRule Rule, PeerClass Class, string Scope, IReadOnlyList<string> Nets, IReadOnlyList<string> NotNets)>();
        foreach (var rule in rules)
        {
            var peer = rule.Peer;
            switch (peer.Kind)
            {
                case PeerKind.Workload:
                    split.Add((rule, PeerClass.Workloads, peer.Namespace ?? "", [], []));
                    break;
                case PeerKind.Nodes when ingress || !cluster.NodeAddressesKnown:
                    split.Add((rule, PeerClass.HostEndpoints, "", [], []));
                    break;
                case PeerKind.Nodes:
                    foreach (bool v4 in new[] { true, false })
                    {
                        var nets = cluster.NodeBlocks.Where(b => b.IsV4 == v4).Select(b => b.ToString()).ToList();
                        if (nets.Count > 0) split.Add((rule, v4 ? PeerClass.NetsV4 : PeerClass.NetsV6, "", nets, []));
                    }
                    break;
                default:
                    var families = EmittedRules.Families(rule.Rule, peer);
                    foreach (bool v4 in new[] { true, false })
                    {
                        if ((families & (v4 ? AddressFamilies.V4 : AddressFamilies.V6)) == 0) continue;
                        var blocks = EmittedRules.Blocks(peer, v4 ? AddressFamilies.V4 : AddressFamilies.V6).ToList();
                        if (blocks.Count == 0) continue;
                        var nets = blocks.Select(b => b.Block.ToString()).ToList();
                        var notNets = blocks.SelectMany(b => b.Except).Where(x => x != EmittedRules.V4MappedV6).Distinct().ToList();
                        // Exceptions apply to the whole rule: only peers with the same exceptions share one.
                        split.Add((rule, v4 ? PeerClass.NetsV4 : PeerClass.NetsV6, string.Join(",", notNets), nets, notNets));
                    }
                    break;
            }
        }
        var result = new List<(YamlNode[], YamlMap?, long)>();
        foreach (var (key, group) in EmittedRules.GroupInOrder(split, s => (s.Class, s.Scope, s.Rule.Protocol, Port: s.Rule.HasPort ? s.Rule.Port : (ushort)0)))
        {
            foreach (var chunk in group.Chunk(EmittedRules.MaxPeersPerRule))
            {
                var comments = new List<YamlNode>();
                var selectors = new List<string>();
                var nets = new List<string>();
                var seen = new HashSet<string>(StringComparer.Ordinal);
                long size = 200;
                foreach (var (rule, _, _, ruleNets, _) in chunk)
                {
                    if (key.Class == PeerClass.Workloads)
                    {
                        var labels = SelectableLabels.Of(rule.Peer, notes);
                        if (labels is null || !KubernetesNames.IsDns1123Label(rule.Peer.Namespace))
                        {
                            notes.Add($"{rule.Rule.Id} ({rule.Rule}): {rule.Peer.Key} has no valid label or namespace to select it by; not emitted.");
                            comments.Add(new EvidenceComment(rule.Rule, "not emitted (see report.md): "));
                            continue;
                        }
                        if (seen.Add(rule.Peer.Key)) selectors.Add(Selector(labels));
                    }
                    else
                        foreach (var n in ruleNets)
                            if (seen.Add(n)) nets.Add(n);
                    comments.Add(new EvidenceComment(rule.Rule, rule.AddedForDns ? $"DNS on {rule.ProtocolName} too (resolvers fall back to TCP); added for: " : null));
                    size += EmittedRules.PeerSize(rule.Peer);
                }
                if (key.Class == PeerClass.Workloads && selectors.Count == 0)
                {
                    result.Add((comments.ToArray(), null, 0));
                    continue;
                }
                var first = chunk[0];
                var entity = YamlNode.Map();
                switch (key.Class)
                {
                    case PeerClass.Workloads:
                        entity.Add("selector", selectors.Count == 1 ? selectors[0] : string.Join(" || ", selectors.Select(s => "(" + s + ")")));
                        if (key.Scope != policyNamespace) entity.Add("namespaceSelector", "projectcalico.org/name == " + Literal(key.Scope));
                        break;
                    case PeerClass.HostEndpoints:
                        entity.Add("selector", NodeSelector).Add("namespaceSelector", "global()");
                        if (!ingress)
                            notes.Add($"{first.Rule.Rule.Id} ({first.Rule.Rule}): egress to the nodes selects their host endpoints (the inventory gave no node addresses for `nets:`); without host endpoints, replace it by `nets:` of your node addresses.");
                        break;
                    default:
                        entity.Add("nets", Strings(nets));
                        if (first.NotNets.Count > 0) entity.Add("notNets", Strings(first.NotNets));
                        break;
                }
                var result1 = YamlNode.Map().Add("action", "Allow");
                if (Protocol(first.Rule.Protocol, first.Rule, notes) is { } protocol) result1.Add("protocol", protocol);
                // Calico: ports only with TCP, UDP or SCTP (validator.go: "rules that specify ports must set protocol to TCP or UDP or SCTP").
                YamlSeq? ports = null;
                if (first.Rule.HasPort) ports = YamlNode.Seq().Add(YamlNode.Int(first.Rule.Port));
                else if (IpProtocols.HasPorts(first.Rule.Protocol))
                    notes.Add($"{first.Rule.Rule.Id} ({first.Rule.Rule}): port 0 is not a port; the rule allows every {first.Rule.ProtocolName} port to those peers.");
                if (ingress)
                {
                    result1.Add("source", entity);
                    if (ports is not null) result1.Add("destination", YamlNode.Map().Add("ports", ports));
                }
                else
                {
                    if (ports is not null) entity.Add("ports", ports);
                    result1.Add("destination", entity);
                }
                result.Add((comments.ToArray(), result1, size));
            }
        }
        return result;
    }

    private static YamlSeq Strings(IEnumerable<string> values)
    {
        var seq = YamlNode.Seq();
        foreach (var v in values) seq.Add(YamlNode.Str(v));
        return seq;
    }

    /// <summary>Calico's protocol names (TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite) or the IANA number for the others (GRE is 47).</summary>
    private static YamlNode? Protocol(byte protocol, EmitRule rule, List<string> notes)
    {
        if (protocol is IpProtocols.Tcp or IpProtocols.Udp or IpProtocols.Icmp or IpProtocols.IcmpV6 or IpProtocols.Sctp)
            return YamlNode.Str(IpProtocols.Name(protocol));
        if (protocol == 0)
        {
            // Calico takes numbers 1-255 only.
            notes.Add($"{rule.Rule.Id} ({rule.Rule}): protocol 0 cannot be named in Calico; the rule names no protocol and allows every protocol to those peers.");
            return null;
        }
        return YamlNode.Int(protocol);
    }
}
