using System.Net;
using FlowPolicy.Tests.Evaluation.Scenarios;
using YamlDotNet.RepresentationModel;

namespace FlowPolicy.Tests.Evaluation.Judge;

/// <summary>A pod as the judge sees it: namespace, labels, address, node and the named container ports.</summary>
internal sealed record JudgePod(string Namespace, IReadOnlyDictionary<string, string> Labels, IPAddress Ip, string Node,
    IReadOnlyDictionary<string, (ushort Port, Protocol Protocol)> NamedPorts)
{
    public string Name { get; init; } = "";
    public override string ToString() => $"{Namespace}/{Name}";
}

/// <summary>One side of a connection: a pod, or an address outside the pod network (a node, the internet).</summary>
internal abstract record JudgeEndpoint;

internal sealed record PodEndpoint(JudgePod Pod) : JudgeEndpoint
{
    public override string ToString() => Pod.ToString();
}

/// <summary>An address that is not a pod's; <see cref="Node"/> names the node when the address is a node's.</summary>
internal sealed record AddressEndpoint(IPAddress Ip, string? Node = null) : JudgeEndpoint
{
    public override string ToString() => Node is null ? Ip.ToString() : $"node:{Node}({Ip})";
}

/// <summary>
/// How `ipBlock` treats pod addresses. The spec leaves it to the implementation ("ipBlock ... should be cluster-external
/// IPs, since Pod IPs are ephemeral"): Cilium matches pods by identity only, Calico matches pod addresses too. A portable
/// policy must give the same answer both ways, so the evaluation asks both.
/// </summary>
internal enum IpBlockPodMatching
{
    /// <summary>ipBlock never matches a pod (Cilium).</summary>
    NeverPods,
    /// <summary>ipBlock matches a pod's address like any other (Calico).</summary>
    PodAddresses,
}

/// <summary>
/// Kubernetes NetworkPolicy (networking.k8s.io/v1) semantics, written from the API reference and the concepts page
/// (kubernetes.io/docs/concepts/services-networking/network-policies), independently of FlowPolicy's IntentEvaluator:
/// <list type="bullet">
/// <item>A pod is isolated for ingress (egress) when a policy in its namespace selects it by <c>podSelector</c> and has
/// Ingress (Egress) in <c>policyTypes</c>. Without <c>policyTypes</c> (or with an empty list): Ingress always, Egress
/// when the policy has at least one egress rule (the API server's defaulting).</item>
/// <item>A connection is allowed when the client's egress side allows it AND the server's ingress side does. A side that
/// is not a pod, or a pod not isolated in that direction, allows everything; an isolated one allows what the union of
/// the rules of the policies isolating it allows.</item>
/// <item>A rule matches when its peers match (<c>from</c>/<c>to</c> missing or empty = every peer) and its ports match
/// (<c>ports</c> missing or empty = every port). A peer is an <c>ipBlock</c> (cidr minus <c>except</c>), or a
/// <c>podSelector</c> (pods of the policy's namespace), a <c>namespaceSelector</c> (every pod of the selected namespaces),
/// or both (those pods in those namespaces). Label selectors AND <c>matchLabels</c> and <c>matchExpressions</c>
/// (In, NotIn, Exists, DoesNotExist); an empty selector selects everything.</item>
/// <item>A port entry matches the protocol (default TCP) and the port: a number, a number range up to <c>endPort</c>, a
/// named container port of the destination pod, or any port when absent.</item>
/// <item>Traffic from the node a pod runs on to that pod is always allowed (kubelet probes; "What you can't do").</item>
/// </list>
/// </summary>
internal sealed class NetworkPolicyJudge
{
    private readonly IReadOnlyList<NetworkPolicyDocument> _policies;
    private readonly IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> _namespaceLabels;
    private readonly IpBlockPodMatching _ipBlockPods;

    public NetworkPolicyJudge(IReadOnlyList<NetworkPolicyDocument> policies, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> namespaceLabels,
        IpBlockPodMatching ipBlockPods = IpBlockPodMatching.NeverPods)
    {
        _policies = policies;
        _namespaceLabels = namespaceLabels;
        _ipBlockPods = ipBlockPods;
    }

    public int PolicyCount => _policies.Count;

    public bool Allows(JudgeEndpoint client, JudgeEndpoint server, ushort port, Protocol protocol) =>
        EgressAllows(client, server, port, protocol) && IngressAllows(client, server, port, protocol);

    private bool EgressAllows(JudgeEndpoint client, JudgeEndpoint server, ushort port, Protocol protocol)
    {
        if (client is not PodEndpoint { Pod: var pod }) return true;
        bool isolated = false;
        foreach (var policy in _policies)
        {
            if (!policy.AffectsEgress || policy.Namespace != pod.Namespace || !policy.PodSelector.Matches(pod.Labels)) continue;
            isolated = true;
            foreach (var rule in policy.Egress)
                if (PortsMatch(rule.Ports, server, port, protocol) && PeersMatch(rule.Peers, policy.Namespace, server)) return true;
        }
        return !isolated;
    }

    private bool IngressAllows(JudgeEndpoint client, JudgeEndpoint server, ushort port, Protocol protocol)
    {
        if (server is not PodEndpoint { Pod: var pod }) return true;
        if (client is AddressEndpoint { Node: { } node } && node == pod.Node) return true;
        bool isolated = false;
        foreach (var policy in _policies)
        {
            if (!policy.AffectsIngress || policy.Namespace != pod.Namespace || !policy.PodSelector.Matches(pod.Labels)) continue;
            isolated = true;
            foreach (var rule in policy.Ingress)
                if (PortsMatch(rule.Ports, server, port, protocol) && PeersMatch(rule.Peers, policy.Namespace, client)) return true;
        }
        return !isolated;
    }

    private static bool PortsMatch(IReadOnlyList<PolicyPort>? ports, JudgeEndpoint destination, ushort port, Protocol protocol)
    {
        if (ports is null || ports.Count == 0) return true;
        foreach (var p in ports)
        {
            if (p.Protocol != protocol) continue;
            if (p.Name is { } name)
            {
                if (destination is PodEndpoint { Pod: var pod } && pod.NamedPorts.TryGetValue(name, out var named) && named.Port == port && named.Protocol == protocol)
                    return true;
                continue;
            }
            if (p.Port is not { } first) return true;
            int last = p.EndPort ?? first;
            if (port >= first && port <= last) return true;
        }
        return false;
    }

    private bool PeersMatch(IReadOnlyList<PolicyPeer>? peers, string policyNamespace, JudgeEndpoint endpoint)
    {
        if (peers is null || peers.Count == 0) return true;
        foreach (var peer in peers)
        {
            if (peer.IpBlock is { } block)
            {
                IPAddress? ip = endpoint switch
                {
                    AddressEndpoint a => a.Ip,
                    PodEndpoint p when _ipBlockPods == IpBlockPodMatching.PodAddresses => p.Pod.Ip,
                    _ => null,
                };
                if (ip is not null && block.Contains(ip)) return true;
                continue;
            }
            if (endpoint is not PodEndpoint { Pod: var pod }) continue;
            if (peer.NamespaceSelector is { } namespaces)
            {
                var labels = _namespaceLabels.TryGetValue(pod.Namespace, out var known) ? known
                    : new Dictionary<string, string> { ["kubernetes.io/metadata.name"] = pod.Namespace };
                if (!namespaces.Matches(labels)) continue;
            }
            else if (pod.Namespace != policyNamespace) continue;
            if (peer.PodSelector is { } pods && !pods.Matches(pod.Labels)) continue;
            return true;
        }
        return false;
    }
}

/// <summary>A label selector (matchLabels AND matchExpressions).</summary>
internal sealed record LabelSelectorSpec(IReadOnlyDictionary<string, string> MatchLabels, IReadOnlyList<(string Key, string Operator, IReadOnlyList<string> Values)> Expressions)
{
    public bool Matches(IReadOnlyDictionary<string, string> labels)
    {
        foreach (var (key, value) in MatchLabels)
            if (!labels.TryGetValue(key, out var actual) || actual != value) return false;
        foreach (var (key, op, values) in Expressions)
        {
            bool has = labels.TryGetValue(key, out var actual);
            bool ok = op switch
            {
                "In" => has && values.Contains(actual!),
                "NotIn" => !has || !values.Contains(actual!),
                "Exists" => has,
                "DoesNotExist" => !has,
                _ => throw new InvalidDataException($"unknown label selector operator '{op}'"),
            };
            if (!ok) return false;
        }
        return true;
    }
}

internal sealed record IpBlockSpec(IPNetwork Cidr, IReadOnlyList<IPNetwork> Except)
{
    public bool Contains(IPAddress ip) =>
        ip.AddressFamily == Cidr.BaseAddress.AddressFamily && Cidr.Contains(ip) && !Except.Any(e => e.BaseAddress.AddressFamily == ip.AddressFamily && e.Contains(ip));
}

internal sealed record PolicyPeer(LabelSelectorSpec? PodSelector, LabelSelectorSpec? NamespaceSelector, IpBlockSpec? IpBlock);

internal sealed record PolicyPort(Protocol Protocol, int? Port, string? Name, int? EndPort);

/// <summary>One ingress or egress rule: null lists mean "missing" (every peer / every port).</summary>
internal sealed record PolicyRule(IReadOnlyList<PolicyPeer>? Peers, IReadOnlyList<PolicyPort>? Ports);

/// <summary>How policyTypes are read when a policy leaves them empty or out.</summary>
internal enum PolicyTypesReading
{
    /// <summary>As the API server defaults them: [Ingress], plus Egress when there is at least one egress rule.</summary>
    ApiServerDefaulting,
    /// <summary>
    /// As IntentEvaluator reads them today: an empty list isolates nothing, a present (even empty) egress section isolates
    /// egress. Only used to tell which disagreements of the cross-check come from this difference.
    /// </summary>
    LiteralSections,
}

/// <summary>A NetworkPolicy object as the judge reads it.</summary>
internal sealed record NetworkPolicyDocument(string Name, string Namespace, LabelSelectorSpec PodSelector, bool AffectsIngress, bool AffectsEgress,
    IReadOnlyList<PolicyRule> Ingress, IReadOnlyList<PolicyRule> Egress, string Source)
{
    /// <summary>Every NetworkPolicy in the .yaml/.yml files under <paramref name="directory"/>; other kinds are ignored.</summary>
    public static List<NetworkPolicyDocument> LoadDirectory(string directory)
    {
        var documents = new List<NetworkPolicyDocument>();
        if (!Directory.Exists(directory)) return documents;
        foreach (var file in Directory.EnumerateFiles(directory, "*.*", SearchOption.AllDirectories)
                     .Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var stream = new YamlStream();
            using (var reader = new StreamReader(file)) stream.Load(reader);
            foreach (var doc in stream.Documents)
                if (doc.RootNode is YamlMappingNode root && Scalar(root, "kind") == "NetworkPolicy")
                    documents.Add(Parse(root, file));
        }
        return documents;
    }

    public static List<NetworkPolicyDocument> LoadText(string yaml, PolicyTypesReading reading = PolicyTypesReading.ApiServerDefaulting)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents.Where(d => d.RootNode is YamlMappingNode m && Scalar(m, "kind") == "NetworkPolicy")
            .Select(d => Parse((YamlMappingNode)d.RootNode, "(text)", reading)).ToList();
    }

    private static NetworkPolicyDocument Parse(YamlMappingNode root, string source, PolicyTypesReading reading = PolicyTypesReading.ApiServerDefaulting)
    {
        var metadata = Get(root, "metadata") as YamlMappingNode ?? throw new InvalidDataException($"{source}: NetworkPolicy without metadata");
        string name = Scalar(metadata, "name") ?? throw new InvalidDataException($"{source}: NetworkPolicy without a name");
        string ns = Scalar(metadata, "namespace") ?? "default";
        var spec = Get(root, "spec") as YamlMappingNode ?? throw new InvalidDataException($"{source}: {ns}/{name} has no spec");
        var podSelector = Selector(Get(spec, "podSelector")) ?? throw new InvalidDataException($"{source}: {ns}/{name} has no podSelector (required)");
        var ingress = Rules(Get(spec, "ingress"), "from", source);
        var egressNode = Get(spec, "egress");
        var egress = Rules(egressNode, "to", source);
        bool affectsIngress, affectsEgress;
        // kubernetes/kubernetes pkg/apis/networking/v1/defaults.go @ 030880a5 (SetDefaults_NetworkPolicy): an empty or
        // missing policyTypes becomes [Ingress], plus Egress when len(egress) != 0 (so `egress: []` does not count).
        if (reading == PolicyTypesReading.LiteralSections && Get(spec, "policyTypes") is YamlSequenceNode literal)
        {
            affectsIngress = literal.Children.Any(t => ((YamlScalarNode)t).Value == "Ingress");
            affectsEgress = literal.Children.Any(t => ((YamlScalarNode)t).Value == "Egress");
        }
        else if (reading == PolicyTypesReading.LiteralSections)
        {
            affectsIngress = true;
            affectsEgress = egressNode is YamlSequenceNode;
        }
        else if (Get(spec, "policyTypes") is YamlSequenceNode { Children.Count: > 0 } types)
        {
            var values = types.Children.Select(t => ((YamlScalarNode)t).Value).ToList();
            affectsIngress = values.Contains("Ingress");
            affectsEgress = values.Contains("Egress");
        }
        else
        {
            affectsIngress = true;
            affectsEgress = egressNode is YamlSequenceNode { Children.Count: > 0 };
        }
        return new NetworkPolicyDocument(name, ns, podSelector, affectsIngress, affectsEgress, ingress, egress, source);
    }

    private static List<PolicyRule> Rules(YamlNode? node, string peersKey, string source)
    {
        var rules = new List<PolicyRule>();
        if (node is not YamlSequenceNode seq) return rules;
        foreach (var item in seq.Children)
        {
            var rule = item as YamlMappingNode ?? new YamlMappingNode();
            List<PolicyPeer>? peers = null;
            if (Get(rule, peersKey) is YamlSequenceNode peerSeq)
                peers = peerSeq.Children.Select(p => Peer((YamlMappingNode)p, source)).ToList();
            List<PolicyPort>? ports = null;
            if (Get(rule, "ports") is YamlSequenceNode portSeq)
                ports = portSeq.Children.Select(p => Port((YamlMappingNode)p, source)).ToList();
            rules.Add(new PolicyRule(peers, ports));
        }
        return rules;
    }

    private static PolicyPeer Peer(YamlMappingNode node, string source)
    {
        IpBlockSpec? block = null;
        if (Get(node, "ipBlock") is YamlMappingNode ipBlock)
        {
            string cidr = Scalar(ipBlock, "cidr") ?? throw new InvalidDataException($"{source}: ipBlock without cidr");
            var except = Get(ipBlock, "except") is YamlSequenceNode ex ? ex.Children.Select(e => IPNetwork.Parse(((YamlScalarNode)e).Value!)).ToList() : [];
            block = new IpBlockSpec(IPNetwork.Parse(cidr), except);
        }
        return new PolicyPeer(Selector(Get(node, "podSelector")), Selector(Get(node, "namespaceSelector")), block);
    }

    private static PolicyPort Port(YamlMappingNode node, string source)
    {
        var protocol = (Scalar(node, "protocol") ?? "TCP") switch
        {
            "TCP" => Protocol.Tcp,
            "UDP" => Protocol.Udp,
            "SCTP" => (Protocol)132,
            var other => throw new InvalidDataException($"{source}: protocol '{other}' is not TCP, UDP or SCTP"),
        };
        string? portText = Scalar(node, "port");
        int? port = null;
        string? name = null;
        if (portText is not null)
        {
            if (int.TryParse(portText, out var number)) port = number;
            else name = portText;
        }
        int? endPort = Scalar(node, "endPort") is { } end ? int.Parse(end, System.Globalization.CultureInfo.InvariantCulture) : null;
        return new PolicyPort(protocol, port, name, endPort);
    }

    private static LabelSelectorSpec? Selector(YamlNode? node)
    {
        if (node is null) return null;
        if (node is YamlScalarNode { Value: null or "" or "~" or "null" }) return null;
        var map = node as YamlMappingNode ?? new YamlMappingNode();
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (Get(map, "matchLabels") is YamlMappingNode matchLabels)
            foreach (var (k, v) in matchLabels.Children) labels[((YamlScalarNode)k).Value!] = ((YamlScalarNode)v).Value ?? "";
        var expressions = new List<(string, string, IReadOnlyList<string>)>();
        if (Get(map, "matchExpressions") is YamlSequenceNode exprs)
            foreach (var e in exprs.Children.Cast<YamlMappingNode>())
                expressions.Add((Scalar(e, "key")!, Scalar(e, "operator")!,
                    Get(e, "values") is YamlSequenceNode vs ? vs.Children.Select(v => ((YamlScalarNode)v).Value ?? "").ToList() : []));
        return new LabelSelectorSpec(labels, expressions);
    }

    private static YamlNode? Get(YamlMappingNode node, string key) => node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    private static string? Scalar(YamlMappingNode node, string key) => Get(node, key) is YamlScalarNode s ? s.Value : null;
}
