using System.Globalization;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Net;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Emitters;

/// <summary>
/// CiliumNetworkPolicy (cilium.io/v2): a default deny per namespace and one policy per workload with its ingress
/// and egress rules; nodes are entities (<c>host</c>, <c>remote-node</c>, and <c>kube-apiserver</c> for egress).
/// Rules on the same protocol and port toward the same kind of peer are one rule listing every peer.
/// </summary>
internal sealed class CiliumEmitter(bool l7 = false) : IPolicyEmitter
{
    private const string NamespaceLabel = "k8s:io.kubernetes.pod.namespace";
    private readonly bool _l7 = l7;

    public string Format => "cilium";

    public string Assumptions =>
        "Cilium: node traffic (kubelet probes) is allowed with fromEntities [host, remote-node] on the probed ports; egress to nodes with toEntities [host, remote-node, kube-apiserver] " +
        "(the API server's identity, wherever it runs). " +
        "The per-namespace default deny is a policy selecting every endpoint with one empty ingress and one empty egress rule (enables default deny, allows nothing). " +
        "Peers are selected by their stable labels plus k8s:io.kubernetes.pod.namespace; addresses with fromCIDRSet/toCIDRSet (Cilium never matches cluster endpoints by CIDR). " +
        "Rules with the same protocol and port toward the same kind of peer are merged into one rule. " +
        "ICMP is allowed as echo request only (type 8 for IPv4, 128 for ICMPv6); protocols Cilium cannot name in toPorts (GRE, ESP) get a rule without ports, which allows every protocol to that peer. " +
        "DNS is allowed on TCP 53 as well as UDP 53. Internet rules open only the address families their clients used." +
        (_l7
            ? " L7 (--l7): a port with HTTP rules (or Kafka rules) is sent through Cilium's Envoy proxy, which costs latency and CPU per request and makes requests outside the observed methods and path templates fail with 403; " +
              "egress to external addresses reached by DNS name is toFQDNs (matchName, or matchPattern *.parent for 3+ sibling names), which needs the DNS proxy: the workload's DNS egress to kube-dns carries rules dns matchPattern '*' (every query allowed and seen; narrowing queries is not attempted because search-path expansion makes the query list brittle)."
            : "");

    public EmitResult Emit(SuggestionSet set, IReadOnlyList<string> namespaces, EmittedFiles files)
    {
        var notes = new List<string>();
        foreach (var ns in PolicyText.WritableNamespaces(namespaces, notes))
        {
            var workloads = PolicyText.WorkloadsIn(set, ns).ToList();
            var names = new PolicyNames(workloads);
            var deny = Policy(PolicyNames.DefaultDeny, ns, set, 0, [("purpose", "default deny for every endpoint of the namespace")]);
            deny.Add("spec", YamlNode.Map()
                .Add("endpointSelector", YamlNode.Map())
                .Add("ingress", YamlNode.Seq().Add(YamlNode.Map()))
                .Add("egress", YamlNode.Seq().Add(YamlNode.Map())));
            files.Add(new EmittedFile($"cilium/{ns}/{PolicyNames.DefaultDeny}.yaml", [deny]));
            foreach (var workload in workloads)
            {
                var selector = SelectableLabels.OfPolicyWorkload(workload, notes);
                if (selector is null) continue;
                var ingress = Rules(EmittedRules.Of(PolicyText.IngressOf(set, workload), ingress: true), "from", notes, dnsVisibility: false);
                var egressRules = EmittedRules.Of(PolicyText.EgressOf(set, workload), ingress: false);
                bool dnsVisibility = egressRules.Any(r => ClassOf(r, "to") == PeerClass.Fqdn);
                var egress = Rules(egressRules, "to", notes, dnsVisibility);
                // Both directions share one object: each gets half of the size budget.
                var ingressParts = EmittedRules.Chunks(ingress, int.MaxValue, r => r.Size, EmittedRules.MaxObjectBytes / 2).ToList();
                var egressParts = EmittedRules.Chunks(egress, int.MaxValue, r => r.Size, EmittedRules.MaxObjectBytes / 2).ToList();
                int parts = Math.Max(ingressParts.Count, egressParts.Count);
                string stem = names.Stem(workload);
                for (int p = 0; p < parts; p++)
                {
                    var spec = YamlNode.Map().Add("endpointSelector", YamlNode.Map().Add("matchLabels", PolicyText.MatchLabels(selector)));
                    int count = 0;
                    if (p < ingressParts.Count) count += AddRules(spec, "ingress", ingressParts[p]);
                    if (p < egressParts.Count) count += AddRules(spec, "egress", egressParts[p]);
                    string name = PolicyNames.Part(stem, p);
                    var doc = Policy(name, ns, set, count, []);
                    doc.Add("spec", spec);
                    files.Add(new EmittedFile($"cilium/{ns}/{name}.yaml", [doc]));
                }
            }
        }
        return new EmitResult(Format, files.Count, notes);
    }

    public IReadOnlyList<string> Notes(SuggestionSet set, IReadOnlyList<string> namespaceNotes) => namespaceNotes.Distinct().ToList();

    private static int AddRules(YamlMap spec, string key, List<(YamlNode[] Comments, YamlMap? Rule, long Size)> rules)
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
        // A direction whose rules all could not be written keeps its comments but no rule list (whether an empty list
        // enables default deny differs between Cilium versions; the namespace policy does that anyway).
        if (count > 0) spec.Add(key, list);
        else
            foreach (var c in list.Items.OfType<YamlComment>()) spec.Add(c);
        return count;
    }

    private enum PeerClass { Endpoints, Entities, CidrSet, Fqdn }

    private PeerClass ClassOf(EmitRule rule, string direction) => rule.Peer.Kind switch
    {
        PeerKind.Workload => PeerClass.Endpoints,
        PeerKind.Nodes => PeerClass.Entities,
        _ => _l7 && direction == "to" && RuleL7.ServerNames(rule.Rule) is not null ? PeerClass.Fqdn : PeerClass.CidrSet,
    };

    /// <summary>
    /// The L7 rules of a rule's port (--l7), as a key that keeps peers with different operations in different rules:
    /// HTTP/gRPC operations where the server is selected (ingress: one proxy hop), Kafka likewise, DNS visibility on
    /// port 53 toward endpoints for a workload with toFQDNs rules. "" for none.
    /// </summary>
    private string L7Key(EmitRule rule, string direction, bool dnsVisibility)
    {
        if (!_l7) return "";
        if (direction == "to")
            return dnsVisibility && rule.Port == EmittedRules.DnsPort && rule.Peer.Kind == PeerKind.Workload ? "dns" : "";
        if (rule.Protocol != IpProtocols.Tcp || !rule.HasPort) return "";
        if (RuleL7.HttpOperations(rule.Rule) is { } http) return "http:" + string.Join("|", http.Select(o => o.Operation + " " + o.Resource));
        if (RuleL7.KafkaOperations(rule.Rule) is { } kafka) return "kafka:" + string.Join("|", kafka.Select(o => o.Operation + " " + o.Resource));
        return "";
    }

    private List<(YamlNode[] Comments, YamlMap? Rule, long Size)> Rules(List<EmitRule> rules, string direction, List<string> notes, bool dnsVisibility)
    {
        var result = new List<(YamlNode[], YamlMap?, long)>();
        bool dnsRuleWritten = false;
        foreach (var (key, group) in EmittedRules.GroupInOrder(rules, r => (Class: ClassOf(r, direction), r.Protocol, Port: r.HasPort ? r.Port : (ushort)0, L7: L7Key(r, direction, dnsVisibility))))
        {
            foreach (var chunk in group.Chunk(EmittedRules.MaxPeersPerRule))
            {
                var comments = new List<YamlNode>();
                var peers = YamlNode.Seq();
                var seen = new HashSet<string>(StringComparer.Ordinal);
                long size = 200;
                foreach (var rule in chunk)
                {
                    var entries = key.Class == PeerClass.Fqdn ? FqdnEntries(rule, seen) : Peers(rule, direction, notes);
                    if (entries is null)
                    {
                        comments.Add(new EvidenceComment(rule.Rule, "not emitted (see report.md): "));
                        continue;
                    }
                    comments.Add(new EvidenceComment(rule.Rule, rule.AddedForDns ? $"DNS on {rule.ProtocolName} too (resolvers fall back to TCP); added for: " : null));
                    if (!seen.Add(rule.Peer.Key)) continue;
                    foreach (var entry in entries)
                        if (key.Class != PeerClass.Entities || !peers.Items.OfType<YamlScalar>().Any(s => s.Value == ((YamlScalar)entry).Value))
                            peers.Add(entry);
                    size += EmittedRules.PeerSize(rule.Peer);
                }
                if (peers.ValueCount == 0)
                {
                    result.Add((comments.ToArray(), null, 0));
                    continue;
                }
                string field = key.Class switch
                {
                    PeerClass.Endpoints => direction + "Endpoints",
                    PeerClass.Entities => direction + "Entities",
                    PeerClass.Fqdn => "toFQDNs",
                    _ => direction + "CIDRSet",
                };
                var item = YamlNode.Map().Add(field, peers);
                var portRule = AddPorts(item, chunk[0], notes);
                if (key.L7.Length > 0 && portRule is not null)
                {
                    AddL7Rules(portRule, chunk[0], key.L7, comments);
                    dnsRuleWritten |= key.L7 == "dns";
                }
                result.Add((comments.ToArray(), item, size));
            }
        }
        if (dnsVisibility && !dnsRuleWritten) result.Add(KubeDnsVisibility());
        return result;
    }

    /// <summary>A peer's names as toFQDNs entries (names already written by another peer of the rule are left out).</summary>
    private static List<YamlNode> FqdnEntries(EmitRule rule, HashSet<string> seen)
    {
        var entries = new List<YamlNode>();
        foreach (var match in RuleL7.Matches(RuleL7.ServerNames(rule.Rule)!))
            if (seen.Add("fqdn:" + match.Text))
                entries.Add(YamlNode.Map().Add(match.IsPattern ? "matchPattern" : "matchName", match.Text));
        return entries;
    }

    /// <summary>rules: http (method and anchored path regex per operation), kafka (apiKey and topic) or dns (visibility).</summary>
    private static void AddL7Rules(YamlMap portRule, EmitRule rule, string key, List<YamlNode> comments)
    {
        var list = YamlNode.Seq();
        if (key == "dns")
        {
            list.Add(YamlNode.Map().Add("matchPattern", "*"));
            portRule.Add("rules", YamlNode.Map().Add("dns", list));
            return;
        }
        bool http = key.StartsWith("http:", StringComparison.Ordinal);
        var ops = http ? RuleL7.HttpOperations(rule.Rule)! : RuleL7.KafkaOperations(rule.Rule)!;
        foreach (var op in ops)
        {
            comments.Add(new TextComment("L7 " + RuleL7.Evidence(op)));
            var entry = YamlNode.Map();
            if (http)
            {
                if (op.Operation.Length > 0) entry.Add("method", YamlNode.Str(op.Operation));
                entry.Add("path", YamlNode.Str(PathTemplate.ToRegex(op.Resource)));
            }
            else
            {
                if (op.Operation.Length > 0) entry.Add("apiKey", YamlNode.Str(op.Operation));
                if (op.Resource.Length > 0) entry.Add("topic", YamlNode.Str(op.Resource));
            }
            list.Add(entry);
        }
        portRule.Add("rules", YamlNode.Map().Add(http ? "http" : "kafka", list));
    }

    /// <summary>
    /// Egress to kube-dns on 53/UDP and TCP with the DNS proxy on: toFQDNs only learns addresses from DNS answers the
    /// proxy saw. Written when the workload's observed DNS egress is not to a cluster workload (it resolved elsewhere).
    /// </summary>
    private static (YamlNode[], YamlMap?, long) KubeDnsVisibility()
    {
        var ports = YamlNode.Seq()
            .Add(YamlNode.Map().Add("port", YamlNode.Str("53")).Add("protocol", "UDP"))
            .Add(YamlNode.Map().Add("port", YamlNode.Str("53")).Add("protocol", "TCP"));
        var item = YamlNode.Map()
            .Add("toEndpoints", YamlNode.Seq().Add(YamlNode.Map().Add("matchLabels", YamlNode.Map().Add(NamespaceLabel, "kube-system").Add("k8s:k8s-app", "kube-dns"))))
            .Add("toPorts", YamlNode.Seq().Add(YamlNode.Map().Add("ports", ports)
                .Add("rules", YamlNode.Map().Add("dns", YamlNode.Seq().Add(YamlNode.Map().Add("matchPattern", "*"))))));
        return ([new TextComment("DNS to kube-dns through Cilium's DNS proxy, which toFQDNs needs (--l7)")], item, 300);
    }

    /// <summary>toPorts for TCP/UDP/SCTP (without a port for port 0: every port), icmps for ICMP echo, nothing for the rest; the toPorts entry, if any.</summary>
    private static YamlMap? AddPorts(YamlMap item, EmitRule rule, List<string> notes)
    {
        if (IpProtocols.HasPorts(rule.Protocol))
        {
            var port = YamlNode.Map();
            if (rule.HasPort) port.Add("port", YamlNode.Str(rule.Port.ToString(CultureInfo.InvariantCulture)));
            else notes.Add($"{rule.Rule.Id} ({rule.Rule}): port 0 is not a port; the rule allows every {rule.ProtocolName} port to those peers.");
            port.Add("protocol", rule.ProtocolName);
            var portRule = YamlNode.Map().Add("ports", YamlNode.Seq().Add(port));
            item.Add("toPorts", YamlNode.Seq().Add(portRule));
            return rule.HasPort ? portRule : null;
        }
        if (rule.Protocol is IpProtocols.Icmp or IpProtocols.IcmpV6)
        {
            // Echo request: type 8 in ICMP (IPv4), 128 in ICMPv6 (RFC 4443).
            bool v6 = rule.Protocol == IpProtocols.IcmpV6;
            item.Add("icmps", YamlNode.Seq().Add(YamlNode.Map().Add("fields", YamlNode.Seq().Add(YamlNode.Map()
                .Add("family", v6 ? "IPv6" : "IPv4").Add("type", YamlNode.Int(v6 ? 128 : 8))))));
            return null;
        }
        notes.Add($"{rule.Rule.Id} ({rule.Rule}): Cilium cannot name {rule.ProtocolName} in toPorts; the rule has no ports and allows every protocol to those peers.");
        return null;
    }

    private static YamlMap Policy(string name, string ns, SuggestionSet set, int rules, IEnumerable<(string, string)> annotations) =>
        YamlNode.Map()
            .Add("apiVersion", "cilium.io/v2")
            .Add("kind", "CiliumNetworkPolicy")
            .Add("metadata", PolicyText.Metadata(name, ns, set, rules, annotations));

    /// <summary>The peer's entries: endpoint labels with its namespace, the node entities, or CIDRs with their exceptions; null when it cannot be selected.</summary>
    private static List<YamlNode>? Peers(EmitRule rule, string direction, List<string> notes)
    {
        var peer = rule.Peer;
        switch (peer.Kind)
        {
            case PeerKind.Workload:
                var selector = SelectableLabels.Of(peer, notes);
                if (selector is null || !KubernetesNames.IsDns1123Label(peer.Namespace))
                {
                    notes.Add($"{rule.Rule.Id} ({rule.Rule}): {peer.Key} has no valid label or namespace to select it by; not emitted.");
                    return null;
                }
                var labels = YamlNode.Map().Add(NamespaceLabel, peer.Namespace!);
                foreach (var (key, value) in selector) labels.Add(key, value);
                return [YamlNode.Map().Add("matchLabels", labels)];
            case PeerKind.Nodes:
                // Probes come from the local host or another node; the API server has its own identity.
                return direction == "from"
                    ? [YamlNode.Str("host"), YamlNode.Str("remote-node")]
                    : [YamlNode.Str("host"), YamlNode.Str("remote-node"), YamlNode.Str("kube-apiserver")];
            default:
                var sets = new List<YamlNode>();
                foreach (var (block, except) in EmittedRules.Blocks(peer, EmittedRules.Families(rule.Rule, peer)))
                    sets.Add(PolicyText.CidrBlock(block, except));
                return sets;
        }
    }
}
