using System.Globalization;
using System.Text.RegularExpressions;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Analytics.Intent.Internal;

/// <summary>
/// Reads CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy (cilium.io/v2) and Istio AuthorizationPolicy
/// (security.istio.io/v1, v1beta1) for L7 judging (docs/intent.md, "L7 rules"). The maps FlowPolicy evaluates (L7 rules,
/// toFQDNs entries, Istio sources and operations) are read strictly: a misspelt <c>pathh:</c> read as "every path"
/// would judge a policy nobody wrote. The rest of the object is not evaluated and not checked.
/// </summary>
internal static class L7PolicyParser
{
    private const RegexOptions RegexFlags = RegexOptions.CultureInvariant;

    /// <summary>
    /// One definition per spec (<c>spec</c>, then each of <c>specs</c>), as Cilium makes one rule of each
    /// (cilium/cilium pkg/k8s/apis/cilium.io/v2/cnp_types.go Parse @ ddfb86f857f05b0ab0aacd298e896dd748feee55). Specs
    /// with a nodeSelector are host policies: they govern nodes, which FlowPolicy does not judge as subjects, and are
    /// left out (<paramref name="hostPolicies"/> counts them so the loader can say so).
    /// </summary>
    /// <param name="nextOrdinal">Global rule numbering, shared with NetworkPolicy and FlowPolicy rules.</param>
    public static CiliumPolicyDefinition[] ParseCilium(PolicyNode document, string defaultNamespace, bool clusterwide, ref int nextOrdinal, out string id, out int hostPolicies)
    {
        var metadata = document.Map("metadata") ?? throw PolicyNode.Error(document, "a Cilium policy needs metadata.name");
        string name = metadata.String("name") ?? throw PolicyNode.Error(metadata, "a Cilium policy needs metadata.name");
        string? ns = clusterwide ? null : metadata.String("namespace") ?? defaultNamespace;
        string kind = clusterwide ? CiliumPolicyDefinition.ClusterwideKind : CiliumPolicyDefinition.NamespacedKind;
        string policy = ns is null ? name : $"{ns}/{name}";
        string policyId = kind + " " + policy;
        id = policyId;
        // A policy has spec, specs (a list), or both; their rules add up.
        var specs = new List<(PolicyNode Spec, string Prefix)>();
        if (document.Map("spec") is { } spec) specs.Add((spec, ""));
        int n = 0;
        foreach (var s in document.List("specs") ?? []) specs.Add((s, $"specs[{n++}]."));
        if (specs.Count == 0) throw PolicyNode.Error(document, $"{policyId} has neither spec nor specs");
        var definitions = new List<CiliumPolicyDefinition>();
        hostPolicies = 0;
        foreach (var (s, prefix) in specs)
        {
            CiliumSelector selector;
            if (s.Map("endpointSelector") is { } endpointSelector) selector = new CiliumSelector(LabelSelector.Parse(endpointSelector));
            else if (s.Map("nodeSelector") is not null) { hostPolicies++; continue; }
            else throw PolicyNode.Error(s, $"{policyId}: a spec needs endpointSelector or nodeSelector");
            int ordinal = nextOrdinal;
            CiliumRule[] Rules(string section, bool egress)
            {
                var list = s.List(section) ?? [];
                var rules = new CiliumRule[list.Count];
                for (int i = 0; i < list.Count; i++)
                    rules[i] = ParseCiliumRule(list[i], $"{policyId} {prefix}{section}[{i}]", new IntentRule(policy, $"{prefix}{section}[{i}]", kind), ordinal++, egress);
                return rules;
            }
            var ingress = Rules("ingress", egress: false);
            var egress = Rules("egress", egress: true);
            var ingressDeny = Rules("ingressDeny", egress: false);
            var egressDeny = Rules("egressDeny", egress: true);
            nextOrdinal = ordinal;
            var defaultDeny = s.Map("enableDefaultDeny");
            definitions.Add(new CiliumPolicyDefinition
            {
                Id = policyId,
                Namespace = ns,
                Selector = selector,
                Ingress = ingress,
                Egress = egress,
                IngressDeny = ingressDeny,
                EgressDeny = egressDeny,
                DefaultDenyIngress = Flag(defaultDeny, "ingress"),
                DefaultDenyEgress = Flag(defaultDeny, "egress"),
            });
        }
        return definitions.ToArray();
    }

    /// <summary>enableDefaultDeny.ingress / .egress: absent means true (cilium/cilium pkg/policy/api/rule.go DefaultDenyConfig).</summary>
    private static bool Flag(PolicyNode? map, string field)
    {
        if (map?.String(field) is not { } text) return true;
        return text switch
        {
            "true" or "True" => true,
            "false" or "False" => false,
            _ => throw PolicyNode.Error(map, $"enableDefaultDeny.{field} must be true or false, not '{text}'"),
        };
    }

    private static readonly string[] IngressPeerFields = ["fromEndpoints", "fromEntities", "fromCIDR", "fromCIDRSet"];
    private static readonly string[] EgressPeerFields = ["toEndpoints", "toEntities", "toCIDR", "toCIDRSet", "toFQDNs"];
    private static readonly string[] UnresolvedPeerFields = ["fromRequires", "toRequires", "fromNodes", "toNodes", "toServices", "toGroups", "fromGroups"];

    private static CiliumRule ParseCiliumRule(PolicyNode rule, string name, IntentRule intentRule, int ordinal, bool egress)
    {
        if (rule.Kind != PolicyNodeKind.Map) throw PolicyNode.Error(rule, "a Cilium rule must be a map");
        var peerFields = egress ? EgressPeerFields : IngressPeerFields;
        // A rule of only toPorts allows its ports from every peer (Cilium's layer 4 example, language.rst); an empty rule
        // `{}` selects no peer: it only puts the endpoint into default deny (what suggest's default-deny policy writes).
        bool anyPeer = !peerFields.Any(f => rule.Field(f) is not null) && !UnresolvedPeerFields.Any(f => rule.Field(f) is not null)
            && rule.Field("toPorts") is not null;
        var endpoints = (rule.List(egress ? "toEndpoints" : "fromEndpoints") ?? [])
            .Select(n => new CiliumSelector(LabelSelector.Parse(n))).ToArray();
        var entities = (rule.List(egress ? "toEntities" : "fromEntities") ?? []).Select(n => n.Value ?? "").ToArray();
        var cidrs = new List<IpBlock>();
        foreach (var c in rule.List(egress ? "toCIDR" : "fromCIDR") ?? []) cidrs.Add(new IpBlock(Prefix(c, c.Value), []));
        bool groups = false;
        foreach (var c in rule.List(egress ? "toCIDRSet" : "fromCIDRSet") ?? [])
        {
            // cidr with its except (pkg/policy/api/cidr.go CIDRRule); cidrGroupRef/cidrGroupSelector name CiliumCIDRGroups
            // FlowPolicy does not read: Unknown.
            if (c.String("cidr") is { } cidr)
                cidrs.Add(new IpBlock(Prefix(c, cidr), (c.List("except") ?? []).Select(e => Prefix(e, e.Value)).ToArray()));
            else groups = true;
        }
        var fqdns = new List<CiliumNameMatcher>();
        foreach (var f in egress ? rule.List("toFQDNs") ?? [] : [])
        {
            f.RequireKnownFields("a toFQDNs entry", "matchName", "matchPattern");
            string? matchName = f.String("matchName"), matchPattern = f.String("matchPattern");
            if ((matchName is null) == (matchPattern is null)) throw PolicyNode.Error(f, "a toFQDNs entry needs exactly one of matchName or matchPattern");
            fqdns.Add(new CiliumNameMatcher(matchName, matchPattern));
        }
        CiliumPortRule[]? toPorts = rule.List("toPorts") is { } ports ? ports.Select(ParsePortRule).ToArray() : null;
        return new CiliumRule
        {
            Name = name,
            Rule = intentRule,
            Ordinal = ordinal,
            AnyPeer = anyPeer,
            Endpoints = endpoints,
            Entities = entities,
            Cidrs = cidrs.ToArray(),
            Fqdns = fqdns.ToArray(),
            UnresolvedPeers = groups || UnresolvedPeerFields.Any(f => rule.Field(f) is not null),
            ToPorts = toPorts,
        };
    }

    private static IpPrefix Prefix(PolicyNode node, string? text) =>
        IpPrefix.TryParse(text, out var prefix) ? prefix : throw PolicyNode.Error(node, $"'{text}' is not a CIDR");

    private static CiliumPortRule ParsePortRule(PolicyNode node)
    {
        if (node.Kind != PolicyNodeKind.Map) throw PolicyNode.Error(node, "a toPorts entry must be a map");
        var ports = new List<(ushort, ushort, byte)>();
        bool named = false;
        foreach (var p in node.List("ports") ?? [])
        {
            string? port = p.String("port");
            string protocol = (p.String("protocol") ?? "ANY").ToUpperInvariant();
            byte proto = protocol switch
            {
                "ANY" => 0,
                "TCP" => IpProtocols.Tcp,
                "UDP" => IpProtocols.Udp,
                "SCTP" => IpProtocols.Sctp,
                _ => throw PolicyNode.Error(p, $"unknown protocol '{protocol}'; use TCP, UDP, SCTP or ANY"),
            };
            if (port is null || port == "0") { ports.Add((0, 0, proto)); continue; }
            if (!ushort.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number)) { named = true; continue; }
            ushort end = number;
            if (p.String("endPort") is { } endText && (!ushort.TryParse(endText, NumberStyles.None, CultureInfo.InvariantCulture, out end) || end < number))
                throw PolicyNode.Error(p, $"endPort '{endText}' must be a port number not below {number}");
            ports.Add((number, end, proto));
        }
        var rules = node.Map("rules");
        if (rules is null) return new CiliumPortRule { Ports = ports.ToArray(), NamedPorts = named };
        var http = (rules.List("http") ?? []).Select(ParseHttp).ToArray();
        var kafka = (rules.List("kafka") ?? []).Select(ParseKafka).ToArray();
        var dns = new List<CiliumNameMatcher>();
        foreach (var d in rules.List("dns") ?? [])
        {
            d.RequireKnownFields("a rules.dns entry", "matchName", "matchPattern");
            string? matchName = d.String("matchName"), matchPattern = d.String("matchPattern");
            if ((matchName is null) == (matchPattern is null)) throw PolicyNode.Error(d, "a rules.dns entry needs exactly one of matchName or matchPattern");
            dns.Add(new CiliumNameMatcher(matchName, matchPattern));
        }
        int kinds = (http.Length > 0 ? 1 : 0) + (kafka.Length > 0 ? 1 : 0) + (dns.Count > 0 ? 1 : 0);
        if (kinds > 1) throw PolicyNode.Error(rules, "a toPorts entry's rules hold one kind (http, kafka or dns), as Cilium requires");
        if (kinds == 0 && rules.Fields.Count > 0)
            throw PolicyNode.Error(rules, $"rules has {string.Join(", ", rules.Fields.Keys)}; FlowPolicy judges http, kafka and dns (l7proto rules cannot be judged from flows)");
        return new CiliumPortRule
        {
            Ports = ports.ToArray(),
            NamedPorts = named,
            Kind = http.Length > 0 ? CiliumL7Kind.Http : kafka.Length > 0 ? CiliumL7Kind.Kafka : dns.Count > 0 ? CiliumL7Kind.Dns : CiliumL7Kind.None,
            Http = http,
            Kafka = kafka,
            Dns = dns.ToArray(),
        };
    }

    private static CiliumHttpRule ParseHttp(PolicyNode node)
    {
        node.RequireKnownFields("a rules.http entry", "method", "path", "host", "headers", "headerMatches");
        string? method = node.String("method"), path = node.String("path");
        bool unobserved = node.String("host") is { Length: > 0 } || node.List("headers") is { Count: > 0 } || node.List("headerMatches") is { Count: > 0 };
        return new CiliumHttpRule
        {
            Method = string.IsNullOrEmpty(method) ? null : Anchored(node, method, "method"),
            Path = string.IsNullOrEmpty(path) ? null : Anchored(node, path, "path"),
            NeedsUnobserved = unobserved,
            Text = $"{(string.IsNullOrEmpty(method) ? "any method" : method)} {(string.IsNullOrEmpty(path) ? "any path" : path)}{(unobserved ? " (+host/headers)" : "")}",
        };
    }

    /// <summary>Envoy matches the whole value (safe_regex), so the regex is anchored at both ends.</summary>
    private static Regex Anchored(PolicyNode node, string pattern, string field)
    {
        try
        {
            return new Regex("^(?:" + pattern + ")$", RegexFlags, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException e)
        {
            throw PolicyNode.Error(node, $"rules.http {field} '{pattern}' is not a valid regex: {e.Message}");
        }
    }

    private static CiliumKafkaRule ParseKafka(PolicyNode node)
    {
        node.RequireKnownFields("a rules.kafka entry", "role", "apiKey", "apiVersion", "clientID", "topic");
        string? role = node.String("role"), apiKey = node.String("apiKey");
        if (role is not null && apiKey is not null) throw PolicyNode.Error(node, "role and apiKey cannot both be set (Cilium rejects it)");
        if (role is not null && !role.Equals("produce", StringComparison.OrdinalIgnoreCase) && !role.Equals("consume", StringComparison.OrdinalIgnoreCase))
            throw PolicyNode.Error(node, $"unknown Kafka role '{role}'; use produce or consume");
        string? topic = node.String("topic");
        bool unobserved = node.String("apiVersion") is { Length: > 0 } || node.String("clientID") is { Length: > 0 };
        return new CiliumKafkaRule
        {
            Role = string.IsNullOrEmpty(role) ? null : role,
            ApiKey = string.IsNullOrEmpty(apiKey) ? null : apiKey,
            Topic = string.IsNullOrEmpty(topic) ? null : topic,
            NeedsUnobserved = unobserved,
            Text = $"{(role is not null ? "role " + role : apiKey ?? "any api key")} {(string.IsNullOrEmpty(topic) ? "any topic" : "topic " + topic)}",
        };
    }

    // ---------------------------------------------------------------- Istio

    /// <param name="nextOrdinal">Global rule numbering, shared with NetworkPolicy, FlowPolicy and Cilium rules.</param>
    public static IstioPolicyDefinition ParseIstio(PolicyNode document, string defaultNamespace, ref int nextOrdinal)
    {
        var metadata = document.Map("metadata") ?? throw PolicyNode.Error(document, "an AuthorizationPolicy needs metadata.name");
        string name = metadata.String("name") ?? throw PolicyNode.Error(metadata, "an AuthorizationPolicy needs metadata.name");
        string ns = metadata.String("namespace") ?? defaultNamespace;
        var spec = document.Map("spec");
        string action = spec?.String("action") ?? "ALLOW";
        var parsed = action switch
        {
            "ALLOW" => IstioAction.Allow,
            "DENY" => IstioAction.Deny,
            "AUDIT" => IstioAction.Audit,
            "CUSTOM" => IstioAction.Custom,
            _ => throw PolicyNode.Error(spec!, $"unknown action '{action}'; use ALLOW, DENY, AUDIT or CUSTOM"),
        };
        IstioRule[]? rules = null;
        if (spec?.List("rules") is { } list)
        {
            rules = new IstioRule[list.Count];
            for (int i = 0; i < list.Count; i++) rules[i] = ParseIstioRule(list[i], $"AuthorizationPolicy {ns}/{name} rules[{i}]",
                    new IntentRule($"{ns}/{name}", $"rules[{i}]", "AuthorizationPolicy"), nextOrdinal++);
        }
        var selector = spec?.Map("selector");
        return new IstioPolicyDefinition
        {
            Id = $"AuthorizationPolicy {ns}/{name}",
            Namespace = ns,
            Selector = selector?.StringMap("matchLabels"),
            HasTargetRefs = spec?.Field("targetRef") is not null || spec?.Field("targetRefs") is not null,
            Action = parsed,
            Rules = rules,
        };
    }

    private static IstioRule ParseIstioRule(PolicyNode node, string name, IntentRule rule, int ordinal)
    {
        if (node.Kind != PolicyNodeKind.Map) throw PolicyNode.Error(node, "an AuthorizationPolicy rule must be a map");
        node.RequireKnownFields("an AuthorizationPolicy rule", "from", "to", "when");
        return new IstioRule
        {
            Name = name,
            Rule = rule,
            Ordinal = ordinal,
            From = node.List("from")?.Select(ParseSource).ToArray(),
            To = node.List("to")?.Select(ParseOperation).ToArray(),
            HasConditions = node.List("when") is { Count: > 0 },
        };
    }

    private static IstioSource ParseSource(PolicyNode node)
    {
        node.RequireKnownFields("a from entry", "source");
        var s = node.Map("source") ?? throw PolicyNode.Error(node, "a from entry needs 'source'");
        s.RequireKnownFields("a source", "principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals", "namespaces", "notNamespaces",
            "ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks");
        return new IstioSource
        {
            Principals = Strings(s, "principals", path: false),
            NotPrincipals = Strings(s, "notPrincipals", path: false),
            Namespaces = Strings(s, "namespaces", path: false),
            NotNamespaces = Strings(s, "notNamespaces", path: false),
            IpBlocks = s.List("ipBlocks")?.Select(n => BlockOrAddress(n)).ToArray(),
            NotIpBlocks = s.List("notIpBlocks")?.Select(n => BlockOrAddress(n)).ToArray(),
            NeedsUnobserved = new[] { "requestPrincipals", "notRequestPrincipals", "remoteIpBlocks", "notRemoteIpBlocks" }.Any(f => s.List(f) is { Count: > 0 }),
        };
    }

    private static IpPrefix BlockOrAddress(PolicyNode node)
    {
        string text = node.Value ?? "";
        if (IpPrefix.TryParse(text, out var prefix)) return prefix;
        if (PackedIp.TryParse(text, out var ip)) return IpPrefix.Parse(text + (ip.IsV4 ? "/32" : "/128"));
        throw PolicyNode.Error(node, $"'{text}' is not an address or CIDR");
    }

    private static IstioOperation ParseOperation(PolicyNode node)
    {
        node.RequireKnownFields("a to entry", "operation");
        var o = node.Map("operation") ?? throw PolicyNode.Error(node, "a to entry needs 'operation'");
        o.RequireKnownFields("an operation", "hosts", "notHosts", "ports", "notPorts", "methods", "notMethods", "paths", "notPaths");
        return new IstioOperation
        {
            Hosts = Strings(o, "hosts", path: false),
            NotHosts = Strings(o, "notHosts", path: false),
            Ports = o.List("ports")?.Select(n => n.Value ?? "").ToArray(),
            NotPorts = o.List("notPorts")?.Select(n => n.Value ?? "").ToArray(),
            Methods = Strings(o, "methods", path: false),
            NotMethods = Strings(o, "notMethods", path: false),
            Paths = Strings(o, "paths", path: true),
            NotPaths = Strings(o, "notPaths", path: true),
        };
    }

    private static IstioStringMatch[]? Strings(PolicyNode node, string field, bool path) =>
        node.List(field)?.Select(n => new IstioStringMatch(n.Value ?? "", path)).ToArray();
}
