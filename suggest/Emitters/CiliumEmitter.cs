using System.Globalization;
using FlowPolicy.Core.Net;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Emitters;

/// <summary>
/// CiliumNetworkPolicy (cilium.io/v2): a default deny per namespace and one policy per workload with its ingress
/// and egress rules; nodes are entities (<c>host</c>, <c>remote-node</c>, and <c>kube-apiserver</c> for egress).
/// Rules on the same protocol and port toward the same kind of peer are one rule listing every peer.
/// </summary>
internal sealed class CiliumEmitter : IPolicyEmitter
{
    private const string NamespaceLabel = "k8s:io.kubernetes.pod.namespace";

    public string Format => "cilium";

    public string Assumptions =>
        "Cilium: node traffic (kubelet probes) is allowed with fromEntities [host, remote-node] on the probed ports; egress to nodes with toEntities [host, remote-node, kube-apiserver] " +
        "(the API server's identity, wherever it runs). " +
        "The per-namespace default deny is a policy selecting every endpoint with one empty ingress and one empty egress rule (enables default deny, allows nothing). " +
        "Peers are selected by their stable labels plus k8s:io.kubernetes.pod.namespace; addresses with fromCIDRSet/toCIDRSet (Cilium never matches cluster endpoints by CIDR). " +
        "Rules with the same protocol and port toward the same kind of peer are merged into one rule. " +
        "ICMP is allowed as echo request only (type 8 for IPv4, 128 for ICMPv6); protocols Cilium cannot name in toPorts (GRE, ESP) get a rule without ports, which allows every protocol to that peer. " +
        "DNS is allowed on TCP 53 as well as UDP 53. Internet rules open only the address families their clients used.";

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
                var selector = SelectableLabels.Of(workload, notes);
                if (selector is null)
                {
                    notes.Add($"{workload.Key}: no valid label to select it by; no policy is written for it (the namespace default deny applies to it).");
                    continue;
                }
                var ingress = Rules(EmittedRules.Of(PolicyText.IngressOf(set, workload), ingress: true), "from", notes);
                var egress = Rules(EmittedRules.Of(PolicyText.EgressOf(set, workload), ingress: false), "to", notes);
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

    private enum PeerClass { Endpoints, Entities, CidrSet }

    private static PeerClass ClassOf(Peer peer) => peer.Kind switch
    {
        PeerKind.Workload => PeerClass.Endpoints,
        PeerKind.Nodes => PeerClass.Entities,
        _ => PeerClass.CidrSet,
    };

    private static List<(YamlNode[] Comments, YamlMap? Rule, long Size)> Rules(List<EmitRule> rules, string direction, List<string> notes)
    {
        var result = new List<(YamlNode[], YamlMap?, long)>();
        foreach (var (key, group) in EmittedRules.GroupInOrder(rules, r => (Class: ClassOf(r.Peer), r.Protocol, Port: r.HasPort ? r.Port : (ushort)0)))
        {
            foreach (var chunk in group.Chunk(EmittedRules.MaxPeersPerRule))
            {
                var comments = new List<YamlNode>();
                var peers = YamlNode.Seq();
                var seen = new HashSet<string>(StringComparer.Ordinal);
                long size = 200;
                foreach (var rule in chunk)
                {
                    var entries = Peers(rule, direction, notes);
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
                string suffix = key.Class switch
                {
                    PeerClass.Endpoints => "Endpoints",
                    PeerClass.Entities => "Entities",
                    _ => "CIDRSet",
                };
                var item = YamlNode.Map().Add(direction + suffix, peers);
                AddPorts(item, chunk[0], notes);
                result.Add((comments.ToArray(), item, size));
            }
        }
        return result;
    }

    /// <summary>toPorts for TCP/UDP/SCTP (without a port for port 0: every port), icmps for ICMP echo, nothing for the rest.</summary>
    private static void AddPorts(YamlMap item, EmitRule rule, List<string> notes)
    {
        if (IpProtocols.HasPorts(rule.Protocol))
        {
            var port = YamlNode.Map();
            if (rule.HasPort) port.Add("port", YamlNode.Str(rule.Port.ToString(CultureInfo.InvariantCulture)));
            else notes.Add($"{rule.Rule.Id} ({rule.Rule}): port 0 is not a port; the rule allows every {rule.ProtocolName} port to those peers.");
            port.Add("protocol", rule.ProtocolName);
            item.Add("toPorts", YamlNode.Seq().Add(YamlNode.Map().Add("ports", YamlNode.Seq().Add(port))));
            return;
        }
        if (rule.Protocol is IpProtocols.Icmp or IpProtocols.IcmpV6)
        {
            // Echo request: type 8 in ICMP (IPv4), 128 in ICMPv6 (RFC 4443).
            bool v6 = rule.Protocol == IpProtocols.IcmpV6;
            item.Add("icmps", YamlNode.Seq().Add(YamlNode.Map().Add("fields", YamlNode.Seq().Add(YamlNode.Map()
                .Add("family", v6 ? "IPv6" : "IPv4").Add("type", YamlNode.Int(v6 ? 128 : 8))))));
            return;
        }
        notes.Add($"{rule.Rule.Id} ({rule.Rule}): Cilium cannot name {rule.ProtocolName} in toPorts; the rule has no ports and allows every protocol to those peers.");
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
