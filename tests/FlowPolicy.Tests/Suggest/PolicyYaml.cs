using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Suggest.Inference;
using YamlDotNet.RepresentationModel;

namespace FlowPolicy.Tests.Suggest;

/// <summary>Reads emitted policy files back with YamlDotNet (an independent parser) into plain node trees.</summary>
internal static class PolicyYaml
{
    public static List<YamlMappingNode> Load(string directory, string? kind = null)
    {
        var docs = new List<YamlMappingNode>();
        if (!Directory.Exists(directory)) return docs;
        foreach (var file in Directory.EnumerateFiles(directory, "*.yaml", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var stream = new YamlStream();
            using (var reader = new StreamReader(file)) stream.Load(reader);
            foreach (var doc in stream.Documents)
            {
                var root = (YamlMappingNode)doc.RootNode;
                if (kind is null || Str(root, "kind") == kind) docs.Add(root);
            }
        }
        return docs;
    }

    public static YamlNode? Get(YamlNode? node, string key) =>
        node is YamlMappingNode map && map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    public static string? Str(YamlNode? node, string key) => (Get(node, key) as YamlScalarNode)?.Value;

    public static IEnumerable<YamlNode> Seq(YamlNode? node, string key) => Get(node, key) is YamlSequenceNode seq ? seq.Children : [];

    public static IEnumerable<string> Strings(YamlNode? node, string key) => Seq(node, key).Select(n => ((YamlScalarNode)n).Value!);

    public static IEnumerable<(string Key, string Value)> Pairs(YamlNode? node) =>
        node is YamlMappingNode map ? map.Children.Select(p => (((YamlScalarNode)p.Key).Value!, ((YamlScalarNode)p.Value).Value!)) : [];

    /// <summary>
    /// Whether the address is in a block and in none of the exceptions. An exception our prefix type cannot hold
    /// (::ffff:0:0/96: it keeps IPv4 as IPv4-mapped, so that block is "IPv4" to it) cannot hold any endpoint of an
    /// IPv6 block either: skipped.
    /// </summary>
    public static bool InBlocks(Endpoint endpoint, IEnumerable<string> cidrs, IEnumerable<string> except) =>
        endpoint.IsAddress && cidrs.Any(c => Cidr.Parse(c).Contains(endpoint.Address))
        && !except.Any(c => Cidr.TryParse(c, out var x) && x.Contains(endpoint.Address));

    public static bool IsPod(Endpoint e) => e.Kind == EndpointKind.Pod;

    public static string Proto(byte protocol) => IpProtocols.Name(protocol);
}

/// <summary>Kubernetes NetworkPolicy semantics, minimal: pod/namespace selectors by matchLabels, ipBlock, ports.</summary>
internal sealed class K8sPolicies(List<YamlMappingNode> policies)
{
    public static K8sPolicies Load(string dir) => new(PolicyYaml.Load(dir, "NetworkPolicy"));

    public bool Allows(Endpoint client, Endpoint server, ushort port, byte protocol) =>
        Side(client, server, port, protocol, egress: true) && Side(client, server, port, protocol, egress: false);

    private bool Side(Endpoint client, Endpoint server, ushort port, byte protocol, bool egress)
    {
        var subject = egress ? client : server;
        var peer = egress ? server : client;
        if (!PolicyYaml.IsPod(subject)) return true;
        // The spec: traffic from the node a pod runs on is always allowed.
        if (!egress && client.Kind == EndpointKind.Node) return true;
        string type = egress ? "Egress" : "Ingress";
        var applying = policies.Where(p => PolicyYaml.Str(PolicyYaml.Get(p, "metadata"), "namespace") == subject.Namespace
            && Selects(PolicyYaml.Get(PolicyYaml.Get(p, "spec"), "podSelector"), subject)
            && PolicyYaml.Strings(PolicyYaml.Get(p, "spec"), "policyTypes").Contains(type)).ToList();
        if (applying.Count == 0) return true;
        foreach (var policy in applying)
        {
            string ns = PolicyYaml.Str(PolicyYaml.Get(policy, "metadata"), "namespace")!;
            foreach (var rule in PolicyYaml.Seq(PolicyYaml.Get(policy, "spec"), egress ? "egress" : "ingress"))
            {
                var peers = PolicyYaml.Get(rule, egress ? "to" : "from") as YamlSequenceNode;
                bool peerOk = peers is null || peers.Children.Count == 0 || peers.Children.Any(x => PeerMatches(x, peer, ns));
                var ports = PolicyYaml.Get(rule, "ports") as YamlSequenceNode;
                bool portOk = ports is null || ports.Children.Any(x =>
                    (PolicyYaml.Str(x, "protocol") ?? "TCP") == PolicyYaml.Proto(protocol) && (PolicyYaml.Str(x, "port") is not { } p || p == port.ToString()));
                if (peerOk && portOk) return true;
            }
        }
        return false;
    }

    private static bool Selects(YamlNode? selector, Endpoint pod) =>
        PolicyYaml.Pairs(PolicyYaml.Get(selector, "matchLabels")).All(l => pod.Label(l.Key) == l.Value);

    private static bool PeerMatches(YamlNode peer, Endpoint endpoint, string policyNamespace)
    {
        if (PolicyYaml.Get(peer, "ipBlock") is { } block)
            return PolicyYaml.InBlocks(endpoint, [PolicyYaml.Str(block, "cidr")!], PolicyYaml.Strings(block, "except"));
        if (!PolicyYaml.IsPod(endpoint)) return false;
        var nsSelector = PolicyYaml.Get(peer, "namespaceSelector");
        bool nsOk = nsSelector is null
            ? endpoint.Namespace == policyNamespace
            : PolicyYaml.Pairs(PolicyYaml.Get(nsSelector, "matchLabels")).All(l => l.Key == "kubernetes.io/metadata.name" && l.Value == endpoint.Namespace);
        var podSelector = PolicyYaml.Get(peer, "podSelector");
        return nsOk && (podSelector is null || Selects(podSelector, endpoint));
    }
}

/// <summary>CiliumNetworkPolicy semantics, minimal: endpoint selectors, entities host/remote-node, CIDR sets, toPorts.</summary>
internal sealed class CiliumPolicies(List<YamlMappingNode> policies)
{
    private const string NamespaceLabel = "k8s:io.kubernetes.pod.namespace";

    public static CiliumPolicies Load(string dir) => new(PolicyYaml.Load(dir, "CiliumNetworkPolicy"));

    public bool Allows(Endpoint client, Endpoint server, ushort port, byte protocol) =>
        Side(client, server, port, protocol, egress: true) && Side(client, server, port, protocol, egress: false);

    private bool Side(Endpoint client, Endpoint server, ushort port, byte protocol, bool egress)
    {
        var subject = egress ? client : server;
        var peer = egress ? server : client;
        if (!PolicyYaml.IsPod(subject)) return true;
        string section = egress ? "egress" : "ingress";
        var applying = policies.Where(p => PolicyYaml.Str(PolicyYaml.Get(p, "metadata"), "namespace") == subject.Namespace
            && Selects(PolicyYaml.Get(PolicyYaml.Get(p, "spec"), "endpointSelector"), subject, subject.Namespace!)
            && PolicyYaml.Get(PolicyYaml.Get(p, "spec"), section) is not null).ToList();
        if (applying.Count == 0) return true;
        string dir = egress ? "to" : "from";
        foreach (var policy in applying)
        {
            string ns = PolicyYaml.Str(PolicyYaml.Get(policy, "metadata"), "namespace")!;
            foreach (var rule in PolicyYaml.Seq(PolicyYaml.Get(policy, "spec"), section))
            {
                bool peerOk =
                    PolicyYaml.Seq(rule, dir + "Endpoints").Any(s => PolicyYaml.IsPod(peer) && Selects(s, peer, ns))
                    || PolicyYaml.Strings(rule, dir + "Entities").Any(e => e is "host" or "remote-node" or "kube-apiserver" && peer.Kind == EndpointKind.Node)
                    || PolicyYaml.Seq(rule, dir + "CIDRSet").Any(s => PolicyYaml.InBlocks(peer, [PolicyYaml.Str(s, "cidr")!], PolicyYaml.Strings(s, "except")));
                if (!peerOk) continue;
                var toPorts = PolicyYaml.Get(rule, "toPorts") as YamlSequenceNode;
                if (toPorts is null || toPorts.Children.SelectMany(t => PolicyYaml.Seq(t, "ports")).Any(p =>
                        (PolicyYaml.Str(p, "port") is not { } q || q == port.ToString()) && (PolicyYaml.Str(p, "protocol") ?? "ANY") is var proto && (proto == "ANY" || proto == PolicyYaml.Proto(protocol))))
                    return true;
            }
        }
        return false;
    }

    private static bool Selects(YamlNode? selector, Endpoint pod, string policyNamespace)
    {
        var labels = PolicyYaml.Pairs(PolicyYaml.Get(selector, "matchLabels")).ToList();
        string ns = labels.FirstOrDefault(l => l.Key == NamespaceLabel).Value ?? policyNamespace;
        if (pod.Namespace != ns) return false;
        return labels.Where(l => l.Key != NamespaceLabel).All(l => pod.Label(l.Key.StartsWith("k8s:") ? l.Key[4..] : l.Key) == l.Value);
    }
}

/// <summary>Calico (projectcalico.org/v3) NetworkPolicy semantics, minimal: selector expressions with ==, has(), all(), global().</summary>
internal sealed class CalicoPolicies(List<YamlMappingNode> policies)
{
    public static CalicoPolicies Load(string dir, string kind = "NetworkPolicy") => new(PolicyYaml.Load(dir, kind));

    public bool Allows(Endpoint client, Endpoint server, ushort port, byte protocol) =>
        Side(client, server, port, protocol, egress: true) && Side(client, server, port, protocol, egress: false);

    private bool Side(Endpoint client, Endpoint server, ushort port, byte protocol, bool egress)
    {
        var subject = egress ? client : server;
        var peer = egress ? server : client;
        if (!PolicyYaml.IsPod(subject)) return true;
        string type = egress ? "Egress" : "Ingress";
        var applying = policies.Where(p => PolicyYaml.Str(PolicyYaml.Get(p, "metadata"), "namespace") == subject.Namespace
            && Expression(PolicyYaml.Str(PolicyYaml.Get(p, "spec"), "selector") ?? "all()", subject)
            && PolicyYaml.Strings(PolicyYaml.Get(p, "spec"), "types").Contains(type)).ToList();
        if (applying.Count == 0) return true;
        foreach (var policy in applying)
        {
            string ns = PolicyYaml.Str(PolicyYaml.Get(policy, "metadata"), "namespace")!;
            foreach (var rule in PolicyYaml.Seq(PolicyYaml.Get(policy, "spec"), egress ? "egress" : "ingress"))
            {
                if (PolicyYaml.Str(rule, "action") != "Allow") continue;
                if (PolicyYaml.Str(rule, "protocol") is { } proto && proto != PolicyYaml.Proto(protocol) && proto != protocol.ToString()) continue;
                var entity = PolicyYaml.Get(rule, egress ? "destination" : "source");
                var dst = PolicyYaml.Get(rule, "destination");
                var ports = PolicyYaml.Strings(dst, "ports").ToList();
                if (ports.Count > 0 && !ports.Contains(port.ToString())) continue;
                if (EntityMatches(entity, peer, ns)) return true;
            }
        }
        return false;
    }

    private static bool EntityMatches(YamlNode? entity, Endpoint peer, string policyNamespace)
    {
        var nets = PolicyYaml.Strings(entity, "nets").ToList();
        if (nets.Count > 0) return PolicyYaml.InBlocks(peer, nets, PolicyYaml.Strings(entity, "notNets"));
        var selector = PolicyYaml.Str(entity, "selector");
        if (selector is null) return entity is null || PolicyYaml.Get(entity, "namespaceSelector") is null;
        var nsSelector = PolicyYaml.Str(entity, "namespaceSelector");
        if (nsSelector == "global()")
            return peer.Kind == EndpointKind.Node && Expression(selector, peer);
        if (!PolicyYaml.IsPod(peer)) return false;
        string ns = nsSelector is null ? policyNamespace : nsSelector.Split("'")[1];
        return peer.Namespace == ns && Expression(selector, peer);
    }

    /// <summary>Calico's selector grammar (PolicyValidation.CalicoSelector); nodes' host endpoints carry kubernetes.io/hostname.</summary>
    private static bool Expression(string expression, Endpoint endpoint)
    {
        var (node, error) = PolicyValidation.CalicoSelector.Parse(expression);
        if (error is not null) throw new InvalidOperationException($"selector \"{expression}\": {error}");
        var labels = endpoint.Kind == EndpointKind.Node
            ? new Dictionary<string, string> { ["kubernetes.io/hostname"] = endpoint.Name }
            : endpoint.Labels.ToDictionary(l => l.Key, l => l.Value);
        return node!.Eval(labels);
    }
}

/// <summary>Istio AuthorizationPolicy semantics, minimal: ALLOW policies at the server, principals, ipBlocks, ports.</summary>
internal sealed class IstioPolicies(List<YamlMappingNode> policies)
{
    public static IstioPolicies Load(string dir) => new(PolicyYaml.Load(dir, "AuthorizationPolicy"));

    /// <summary>Decision at the server's sidecar for a TCP connection (the caller keeps to Istio's scope).</summary>
    public bool Allows(Endpoint client, Endpoint server, ushort port)
    {
        if (!PolicyYaml.IsPod(server)) return true;
        var applying = policies.Where(p => PolicyYaml.Str(PolicyYaml.Get(p, "metadata"), "namespace") == server.Namespace
            && (PolicyYaml.Str(PolicyYaml.Get(p, "spec"), "action") ?? "ALLOW") == "ALLOW"
            && PolicyYaml.Pairs(PolicyYaml.Get(PolicyYaml.Get(PolicyYaml.Get(p, "spec"), "selector"), "matchLabels")).All(l => server.Label(l.Key) == l.Value)).ToList();
        if (applying.Count == 0) return true;
        foreach (var rule in applying.SelectMany(p => PolicyYaml.Seq(PolicyYaml.Get(p, "spec"), "rules")))
        {
            bool fromOk = PolicyYaml.Seq(rule, "from").Select(f => PolicyYaml.Get(f, "source")).Any(source =>
                (PolicyYaml.IsPod(client) && PolicyYaml.Strings(source, "principals").Contains($"cluster.local/ns/{client.Namespace}/sa/{client.Name}"))
                || (PolicyYaml.Get(source, "ipBlocks") is not null && PolicyYaml.InBlocks(client, PolicyYaml.Strings(source, "ipBlocks"), PolicyYaml.Strings(source, "notIpBlocks"))));
            bool toOk = PolicyYaml.Get(rule, "to") is null // no operation: every port
                || PolicyYaml.Seq(rule, "to").Any(t => PolicyYaml.Strings(PolicyYaml.Get(t, "operation"), "ports").Contains(port.ToString()));
            if (fromOk && toOk) return true;
        }
        return false;
    }
}
