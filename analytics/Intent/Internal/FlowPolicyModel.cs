using System.Globalization;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Analytics.Intent.Internal;

/// <summary>
/// Which endpoints a FlowPolicy `from`/`to`/`appliesTo` item names. Every field given must match (AND); a list of
/// patterns matches when any item does (OR). See docs/intent.md, "FlowPolicy".
/// </summary>
internal sealed class EndpointPattern
{
    public static readonly EndpointPattern Any = new() { Text = "any" };

    public required string Text { get; init; }
    public EndpointKind[]? Kinds { get; init; }
    public Glob? Namespace { get; init; }
    public Glob? Workload { get; init; }
    public Glob? Name { get; init; }
    public (string Key, Glob Value)[] Labels { get; init; } = [];
    public IpNetwork[] Cidrs { get; init; } = [];

    /// <summary>True when the pattern can match an address endpoint (only those carry an IP).</summary>
    /// <remarks>Conservative: address endpoints have no namespace, workload or labels, and their name is the address text.</remarks>
    public bool CanMatchAddresses => Namespace is null && Workload is null && Labels.Length == 0
        && (Kinds is null || Array.IndexOf(Kinds, EndpointKind.External) >= 0 || Array.IndexOf(Kinds, EndpointKind.Unknown) >= 0);

    public bool Matches(Endpoint endpoint)
    {
        if (Cidrs.Length > 0)
        {
            if (!endpoint.IsAddress) return false;
            bool inside = false;
            foreach (var cidr in Cidrs)
                if (cidr.Contains(endpoint.Address)) { inside = true; break; }
            if (!inside) return false;
        }
        if (Kinds is not null && Array.IndexOf(Kinds, endpoint.Kind) < 0) return false;
        if (Namespace is not null && !Namespace.Matches(endpoint.Namespace)) return false;
        if (Workload is not null && (endpoint.Kind is not (EndpointKind.Pod or EndpointKind.Service) || !Workload.Matches(endpoint.Name))) return false;
        if (Name is not null && !Name.Matches(endpoint.Name)) return false;
        foreach (var (key, value) in Labels)
            if (!value.Matches(endpoint.Label(key))) return false;
        return true;
    }

    public static EndpointPattern[] ParseList(PolicyNode? node, string field)
    {
        if (node is null) return [];
        if (node.Kind == PolicyNodeKind.List)
        {
            if (node.Items.Count == 0) throw PolicyNode.Error(node, $"'{field}' is an empty list, which would match nothing; leave it out to mean any endpoint");
            return node.Items.Select(item => Parse(item, field)).ToArray();
        }
        return [Parse(node, field)];
    }

    private static readonly EndpointKind[] WorkloadKinds = [EndpointKind.Pod, EndpointKind.Service];

    public static EndpointPattern Parse(PolicyNode node, string field)
    {
        if (node.Kind == PolicyNodeKind.Scalar)
        {
            string text = node.Value ?? throw PolicyNode.Error(node, $"'{field}' is empty");
            switch (text)
            {
                case "any" or "*": return Any;
                case "node": return new EndpointPattern { Text = text, Kinds = [EndpointKind.Node] };
                case "world": return new EndpointPattern { Text = text, Kinds = [EndpointKind.External] };
                case "unknown": return new EndpointPattern { Text = text, Kinds = [EndpointKind.Unknown] };
                case "cluster": return new EndpointPattern { Text = text, Kinds = WorkloadKinds };
            }
            if (IpNetwork.TryParse(text, out var network)) return new EndpointPattern { Text = text, Cidrs = [network] };
            int slash = text.IndexOf('/');
            if (slash > 0 && slash < text.Length - 1 && text.IndexOf('/', slash + 1) < 0)
                return new EndpointPattern { Text = text, Kinds = WorkloadKinds, Namespace = new Glob(text[..slash]), Workload = new Glob(text[(slash + 1)..]) };
            throw PolicyNode.Error(node, $"'{field}: {text}' is not an endpoint; use any, node, world, unknown, cluster, a CIDR, namespace/workload, or a map");
        }
        if (node.Kind != PolicyNodeKind.Map) throw PolicyNode.Error(node, $"'{field}' must be a map, a string or a list of them");

        EndpointKind[]? kinds = null;
        Glob? name = null;
        foreach (var key in node.Fields.Keys)
            if (key is not ("namespace" or "workload" or "labels" or "node" or "service" or "external" or "cidr" or "kind"))
                throw PolicyNode.Error(node.Fields[key], $"unknown field '{key}' in '{field}'; use namespace, workload, labels, node, service, external, cidr or kind");
        void Only(EndpointKind kind, string key)
        {
            if (kinds is not null && !(kinds.Length == 1 && kinds[0] == kind)) throw PolicyNode.Error(node, $"'{field}' names two kinds of endpoint; split it into two list items");
            kinds = [kind];
            if (node.String(key) is { } text) name = new Glob(text);
        }
        if (node.String("kind") is { } kindText)
            kinds = kindText switch
            {
                "workload" => WorkloadKinds,
                "pod" => [EndpointKind.Pod],
                "node" => [EndpointKind.Node],
                "service" => [EndpointKind.Service],
                "external" or "world" => [EndpointKind.External],
                "unknown" => [EndpointKind.Unknown],
                _ => throw PolicyNode.Error(node, $"unknown kind '{kindText}'; use workload, pod, node, service, external or unknown"),
            };
        if (node.Field("node") is not null) Only(EndpointKind.Node, "node");
        if (node.Field("service") is not null) Only(EndpointKind.Service, "service");
        if (node.Field("external") is not null) Only(EndpointKind.External, "external");

        var cidrs = new List<IpNetwork>();
        if (node.Field("cidr") is { } cidrNode)
        {
            foreach (var item in cidrNode.Kind == PolicyNodeKind.List ? cidrNode.Items : [cidrNode])
            {
                if (item.Value is not { } text || !IpNetwork.TryParse(text, out var network))
                    throw PolicyNode.Error(item, $"'{field}.cidr' value '{item}' is not a CIDR (e.g. 10.0.0.0/8 or 2001:db8::/32)");
                cidrs.Add(network);
            }
        }
        var labels = node.StringMap("labels").Select(p => (p.Key, new Glob(p.Value))).ToArray();
        string? ns = node.String("namespace");
        string? workload = node.String("workload");
        if (cidrs.Count > 0 && (ns is not null || workload is not null || labels.Length > 0 || name is not null))
            throw PolicyNode.Error(node, $"'{field}': cidr matches addresses only and cannot be combined with namespace, workload, labels or names");
        return new EndpointPattern
        {
            Text = node.ToString(),
            Kinds = kinds,
            Namespace = ns is null ? null : new Glob(ns),
            Workload = workload is null ? null : new Glob(workload),
            Name = name,
            Labels = labels,
            Cidrs = cidrs.ToArray(),
        };
    }
}

/// <summary>A FlowPolicy port item: a protocol (0 = any) and a port range (0-65535 = any port).</summary>
internal readonly record struct FlowPolicyPort(byte Protocol, bool AnyProtocol, int From, int To)
{
    public bool Matches(ushort port, byte protocol) =>
        (AnyProtocol || protocol == Protocol) && port >= From && port <= To;

    public static FlowPolicyPort Parse(PolicyNode node)
    {
        if (node.Kind == PolicyNodeKind.Scalar)
        {
            // Shorthand: 443, "443/TCP", "53/UDP", "8000-8100/TCP", "ICMP".
            string text = node.Value ?? throw PolicyNode.Error(node, "a ports item is empty");
            int slash = text.IndexOf('/');
            string portPart = slash < 0 ? text : text[..slash];
            string? protocolPart = slash < 0 ? null : text[(slash + 1)..];
            if (slash < 0 && !char.IsAsciiDigit(text[0])) { protocolPart = text; portPart = ""; }
            return Build(node, portPart.Length == 0 ? null : portPart, null, protocolPart);
        }
        if (node.Kind != PolicyNodeKind.Map) throw PolicyNode.Error(node, "a ports item must be a number, \"PORT/PROTO\" or a map with port and protocol");
        node.RequireKnownFields("a ports item", "port", "endPort", "protocol");
        return Build(node, node.String("port"), node.String("endPort"), node.String("protocol"));
    }

    private static FlowPolicyPort Build(PolicyNode node, string? portText, string? endText, string? protocolText)
    {
        byte protocol = IpProtocols.Tcp;
        bool any = false;
        if (protocolText is not null)
        {
            if (protocolText.Equals("any", StringComparison.OrdinalIgnoreCase)) any = true;
            else if (!IpProtocols.TryParse(protocolText, out protocol))
                throw PolicyNode.Error(node, $"unknown protocol '{protocolText}'; use TCP, UDP, SCTP, ICMP, ICMPv6, a number or any");
        }
        int from = 0, to = 65535;
        if (portText is not null)
        {
            int dash = portText.IndexOf('-');
            if (dash > 0)
            {
                if (endText is not null) throw PolicyNode.Error(node, "give a range as \"FROM-TO\" or as port + endPort, not both");
                endText = portText[(dash + 1)..];
                portText = portText[..dash];
            }
            from = to = ParsePort(node, portText);
        }
        if (endText is not null)
        {
            if (portText is null) throw PolicyNode.Error(node, "endPort needs port");
            to = ParsePort(node, endText);
            if (to < from) throw PolicyNode.Error(node, $"port range {from}-{to} ends before it starts");
        }
        return new FlowPolicyPort(protocol, any, from, to);
    }

    private static int ParsePort(PolicyNode node, string text)
    {
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > 65535)
            throw PolicyNode.Error(node, $"'{text}' is not a port number (0-65535; FlowPolicy has no named ports)");
        return port;
    }
}

internal sealed record FlowPolicyRule(IntentRule Rule, int Ordinal, bool Deny, EndpointPattern[] From, EndpointPattern[] To, FlowPolicyPort[] Ports)
{
    public bool MatchesPort(ushort port, byte protocol)
    {
        if (Ports.Length == 0) return true;
        foreach (var item in Ports)
            if (item.Matches(port, protocol)) return true;
        return false;
    }

    public static bool MatchesAny(EndpointPattern[] patterns, Endpoint endpoint)
    {
        if (patterns.Length == 0) return true;
        foreach (var pattern in patterns)
            if (pattern.Matches(endpoint)) return true;
        return false;
    }
}

internal enum FlowPolicyDirection : byte { Both, Ingress, Egress }

/// <summary>Our policy-as-code (flowpolicy.dev/v1 FlowPolicy); semantics in docs/intent.md.</summary>
internal sealed record FlowPolicyDefinition(string Id, string Source, bool DefaultDeny, EndpointPattern[] AppliesTo,
    FlowPolicyDirection Direction, FlowPolicyRule[] Rules)
{
    public const string ApiVersion = "flowpolicy.dev/v1";
    public const string Kind = "FlowPolicy";

    public bool GovernsServer(Endpoint server) => Direction != FlowPolicyDirection.Egress && FlowPolicyRule.MatchesAny(AppliesTo, server);
    public bool GovernsClient(Endpoint client) => Direction != FlowPolicyDirection.Ingress && FlowPolicyRule.MatchesAny(AppliesTo, client);
    public bool Governs(Endpoint client, Endpoint server) => GovernsServer(server) || GovernsClient(client);

    /// <param name="relativeFile">The file's path under the policy directory: the policy is called "relativeFile#name".</param>
    public static FlowPolicyDefinition Parse(PolicyNode document, string relativeFile, ref int nextOrdinal)
    {
        document.RequireKnownFields("a FlowPolicy", NetworkPolicyDefinition.ObjectFields);
        var metadata = document.Map("metadata") ?? throw PolicyNode.Error(document, "a FlowPolicy needs metadata.name");
        metadata.RequireKnownFields("metadata", NetworkPolicyDefinition.MetadataFields);
        string name = metadata.String("name") ?? throw PolicyNode.Error(metadata, "a FlowPolicy needs metadata.name");
        string id = relativeFile + "#" + name;
        var spec = document.Map("spec") ?? throw PolicyNode.Error(document, $"FlowPolicy {name} has no spec");
        foreach (var key in spec.Fields.Keys)
            if (key is not ("defaultAction" or "appliesTo" or "direction" or "rules"))
                throw PolicyNode.Error(spec.Fields[key], $"unknown field 'spec.{key}'; use defaultAction, appliesTo, direction, rules");
        bool defaultDeny = (spec.String("defaultAction") ?? "deny") switch
        {
            "deny" => true,
            "allow" => false,
            var other => throw PolicyNode.Error(spec, $"defaultAction '{other}' must be deny or allow"),
        };
        var direction = (spec.String("direction") ?? "both") switch
        {
            "both" => FlowPolicyDirection.Both,
            "ingress" => FlowPolicyDirection.Ingress,
            "egress" => FlowPolicyDirection.Egress,
            var other => throw PolicyNode.Error(spec, $"direction '{other}' must be ingress, egress or both"),
        };
        var appliesTo = EndpointPattern.ParseList(spec.Field("appliesTo"), "appliesTo");
        var ruleNodes = spec.List("rules") ?? [];
        var rules = new FlowPolicyRule[ruleNodes.Count];
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < ruleNodes.Count; i++)
        {
            var node = ruleNodes[i];
            if (node.Kind != PolicyNodeKind.Map) throw PolicyNode.Error(node, $"rules[{i}] must be a map with name, from, to, ports");
            foreach (var key in node.Fields.Keys)
                if (key is not ("name" or "action" or "from" or "to" or "ports"))
                    throw PolicyNode.Error(node.Fields[key], $"unknown field '{key}' in rules[{i}]; use name, action, from, to, ports");
            string ruleName = node.String("name") ?? $"rules[{i}]";
            if (!names.Add(ruleName)) throw PolicyNode.Error(node, $"rule name '{ruleName}' is used twice in FlowPolicy {name}");
            bool deny = (node.String("action") ?? "allow") switch
            {
                "allow" => false,
                "deny" => true,
                var other => throw PolicyNode.Error(node, $"action '{other}' must be allow or deny"),
            };
            var portsNode = node.Field("ports");
            var ports = portsNode is null ? [] : (portsNode.Kind == PolicyNodeKind.List ? portsNode.Items : [portsNode]).Select(FlowPolicyPort.Parse).ToArray();
            rules[i] = new FlowPolicyRule(new IntentRule(id, ruleName, Kind), nextOrdinal++, deny,
                EndpointPattern.ParseList(node.Field("from"), "from"), EndpointPattern.ParseList(node.Field("to"), "to"), ports);
        }
        return new FlowPolicyDefinition(id, document.Where, defaultDeny, appliesTo, direction, rules);
    }
}
