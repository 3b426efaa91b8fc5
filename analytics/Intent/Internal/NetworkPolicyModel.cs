using System.Globalization;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Analytics.Intent.Internal;

/// <summary>One entry of a rule's `ports`: a protocol and a numeric port, a port range (endPort) or a named port.</summary>
internal sealed record NetworkPolicyPort(byte Protocol, int? Port, int? EndPort, string? Name);

/// <summary>One entry of `from`/`to`: ipBlock, or podSelector and/or namespaceSelector (both set = AND).</summary>
internal sealed record NetworkPolicyPeer(LabelSelector? PodSelector, LabelSelector? NamespaceSelector, IpBlock? IpBlock);

/// <summary>An ingress or egress rule. Null peers or ports mean "all" (Kubernetes: empty or missing).</summary>
internal sealed record NetworkPolicyRule(IntentRule Rule, int Ordinal, NetworkPolicyPeer[]? Peers, NetworkPolicyPort[]? Ports);

/// <summary>A Kubernetes NetworkPolicy (networking.k8s.io/v1), with policyTypes already defaulted.</summary>
internal sealed record NetworkPolicyDefinition(
    string Namespace, string Name, string Source, LabelSelector PodSelector,
    bool IsolatesIngress, bool IsolatesEgress,
    NetworkPolicyRule[] IngressRules, NetworkPolicyRule[] EgressRules)
{
    public string Id => Namespace + "/" + Name;

    public const string Kind = "NetworkPolicy";

    /// <summary>Top-level fields of a Kubernetes object (status: kubectl get -o yaml output carries it).</summary>
    internal static readonly string[] ObjectFields = ["apiVersion", "kind", "metadata", "spec", "status"];

    /// <summary>ObjectMeta's fields (k8s.io/apimachinery meta/v1), so `kubectl get -o yaml` output loads as it is.</summary>
    internal static readonly string[] MetadataFields =
    [
        "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
        "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers", "managedFields",
    ];

    /// <param name="defaultNamespace">Namespace for policies without metadata.namespace (kubectl applies them to "default").</param>
    /// <param name="nextOrdinal">Global rule numbering, so matched rules sort the same in every evaluator.</param>
    public static NetworkPolicyDefinition Parse(PolicyNode document, string defaultNamespace, ref int nextOrdinal)
    {
        // Field names from the networking.k8s.io/v1 OpenAPI schema (kubernetes/kubernetes api/openapi-spec), as the API
        // server's strict field validation rejects others.
        document.RequireKnownFields("a NetworkPolicy", ObjectFields);
        var metadata = document.Map("metadata") ?? throw PolicyNode.Error(document, "a NetworkPolicy needs metadata.name");
        metadata.RequireKnownFields("metadata", MetadataFields);
        string name = metadata.String("name") ?? throw PolicyNode.Error(metadata, "a NetworkPolicy needs metadata.name");
        string ns = metadata.String("namespace") ?? defaultNamespace;
        string id = ns + "/" + name;
        var spec = document.Map("spec") ?? throw PolicyNode.Error(document, $"NetworkPolicy {id} has no spec");
        spec.RequireKnownFields("spec", "podSelector", "policyTypes", "ingress", "egress");
        // podSelector is required by the API; an empty one selects every pod of the namespace.
        var podSelectorNode = spec.Map("podSelector") ?? throw PolicyNode.Error(spec, $"NetworkPolicy {id}: spec.podSelector is required (use {{}} for every pod in the namespace)");
        var podSelector = LabelSelector.Parse(podSelectorNode);

        var ingressNodes = spec.List("ingress");
        var egressNodes = spec.List("egress");
        bool ingress, egress;
        var types = spec.List("policyTypes");
        if (types is null || types.Count == 0)
        {
            // The API server's defaulting (SetDefaults_NetworkPolicy, pkg/apis/networking/v1/defaults.go): a missing or
            // empty policyTypes becomes Ingress, plus Egress when the policy has at least one egress rule: a bare
            // `egress: []` isolates nothing.
            ingress = true;
            egress = egressNodes is { Count: > 0 };
        }
        else
        {
            ingress = egress = false;
            foreach (var type in types)
            {
                switch (type.Value)
                {
                    case "Ingress": ingress = true; break;
                    case "Egress": egress = true; break;
                    default: throw PolicyNode.Error(type, $"unknown policyType '{type.Value}'; use Ingress or Egress");
                }
            }
        }

        var ingressRules = ParseRules(ingressNodes, "ingress", "from", id, ref nextOrdinal);
        var egressRules = ParseRules(egressNodes, "egress", "to", id, ref nextOrdinal);
        return new NetworkPolicyDefinition(ns, name, document.Where, podSelector, ingress, egress,
            ingress ? ingressRules : [], egress ? egressRules : []);
    }

    private static NetworkPolicyRule[] ParseRules(IReadOnlyList<PolicyNode>? nodes, string section, string peersField, string id, ref int nextOrdinal)
    {
        if (nodes is null) return [];
        var rules = new NetworkPolicyRule[nodes.Count];
        for (int i = 0; i < nodes.Count; i++)
        {
            var node = nodes[i];
            if (node.Kind == PolicyNodeKind.Scalar && !node.IsNull) throw PolicyNode.Error(node, $"{section}[{i}] must be a map (use {{}} to allow everything)");
            if (node.Kind == PolicyNodeKind.Map) node.RequireKnownFields($"{section}[{i}]", peersField, "ports");
            var peerNodes = node.Kind == PolicyNodeKind.Map ? node.List(peersField) : null;
            var portNodes = node.Kind == PolicyNodeKind.Map ? node.List("ports") : null;
            NetworkPolicyPeer[]? peers = peerNodes is null || peerNodes.Count == 0 ? null : peerNodes.Select(p => ParsePeer(p, section, peersField)).ToArray();
            NetworkPolicyPort[]? ports = portNodes is null || portNodes.Count == 0 ? null : portNodes.Select(ParsePort).ToArray();
            rules[i] = new NetworkPolicyRule(new IntentRule(id, $"{section}[{i}]", Kind), nextOrdinal++, peers, ports);
        }
        return rules;
    }

    private static NetworkPolicyPeer ParsePeer(PolicyNode node, string section, string field)
    {
        if (node.Kind != PolicyNodeKind.Map) throw PolicyNode.Error(node, $"each {section}.{field} item must be a map with podSelector, namespaceSelector or ipBlock");
        node.RequireKnownFields($"a {section}.{field} item", "podSelector", "namespaceSelector", "ipBlock");
        var pod = node.Map("podSelector");
        var ns = node.Map("namespaceSelector");
        var block = node.Map("ipBlock");
        if (block is not null && (pod is not null || ns is not null))
            throw PolicyNode.Error(node, "ipBlock cannot be combined with podSelector or namespaceSelector in one peer; make them separate list items");
        if (block is null && pod is null && ns is null)
            throw PolicyNode.Error(node, $"a {field} peer needs podSelector, namespaceSelector or ipBlock");
        return new NetworkPolicyPeer(
            pod is null ? null : LabelSelector.Parse(pod),
            ns is null ? null : LabelSelector.Parse(ns),
            block is null ? null : ParseIpBlock(block));
    }

    private static IpBlock ParseIpBlock(PolicyNode node)
    {
        node.RequireKnownFields("ipBlock", "cidr", "except");
        string cidrText = node.String("cidr") ?? throw PolicyNode.Error(node, "ipBlock needs 'cidr'");
        if (!IpPrefix.TryParse(cidrText, out var cidr)) throw PolicyNode.Error(node, $"ipBlock.cidr '{cidrText}' is not a CIDR (e.g. 10.0.0.0/8 or 2001:db8::/32)");
        var except = new List<IpPrefix>();
        foreach (var item in node.List("except") ?? [])
        {
            if (item.Value is not { } text || !IpPrefix.TryParse(text, out var network))
                throw PolicyNode.Error(item, $"ipBlock.except '{item}' is not a CIDR");
            except.Add(network);
        }
        return new IpBlock(cidr, except.ToArray());
    }

    private static NetworkPolicyPort ParsePort(PolicyNode node)
    {
        if (node.Kind != PolicyNodeKind.Map) throw PolicyNode.Error(node, "each ports item must be a map with protocol and port");
        node.RequireKnownFields("a ports item", "protocol", "port", "endPort");
        string protocolText = node.String("protocol") ?? "TCP";
        byte protocol = protocolText switch
        {
            "TCP" => IpProtocols.Tcp,
            "UDP" => IpProtocols.Udp,
            "SCTP" => IpProtocols.Sctp,
            _ => throw PolicyNode.Error(node, $"unknown protocol '{protocolText}'; NetworkPolicy allows TCP, UDP or SCTP"),
        };
        string? portText = node.String("port");
        int? port = null;
        string? name = null;
        if (portText is not null)
        {
            if (int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int number))
            {
                if (number is < 1 or > 65535) throw PolicyNode.Error(node, $"port {number} is outside 1-65535");
                port = number;
            }
            else name = portText;
        }
        int? endPort = null;
        if (node.String("endPort") is { } endText)
        {
            if (!int.TryParse(endText, NumberStyles.None, CultureInfo.InvariantCulture, out int end) || end is < 1 or > 65535)
                throw PolicyNode.Error(node, $"endPort '{endText}' is not a port number");
            if (port is null) throw PolicyNode.Error(node, "endPort needs a numeric 'port' (named ports cannot be ranges)");
            if (end < port) throw PolicyNode.Error(node, $"endPort {end} is below port {port}");
            endPort = end;
        }
        return new NetworkPolicyPort(protocol, port, endPort, name);
    }
}
