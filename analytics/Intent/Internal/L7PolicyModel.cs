using System.Text.RegularExpressions;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Analytics.Intent.Internal;

/// <summary>Three-valued match: a policy can name something the flows do not show (headers, JWT claims), then it is Unknown.</summary>
internal enum Tri : byte { No, Yes, Unknown }

internal static class TriLogic
{
    public static Tri And(Tri a, Tri b) => a == Tri.No || b == Tri.No ? Tri.No : a == Tri.Yes && b == Tri.Yes ? Tri.Yes : Tri.Unknown;
    public static Tri Or(Tri a, Tri b) => a == Tri.Yes || b == Tri.Yes ? Tri.Yes : a == Tri.Unknown || b == Tri.Unknown ? Tri.Unknown : Tri.No;
    public static Tri Of(bool value) => value ? Tri.Yes : Tri.No;
}

/// <summary>
/// What an L7 rule is matched against. A path template (<see cref="PathTemplate"/>) stands for many concrete paths, so
/// each identifier placeholder is tried with two sample values of its class: a rule that matches one and not the other
/// allows only some of the paths the template folded (Unknown).
/// </summary>
internal static class L7Samples
{
    private static readonly (string Placeholder, string First, string Second)[] Placeholders =
    [
        (PathTemplate.Id, "1", "98765"),
        (PathTemplate.Uuid, "123e4567-e89b-12d3-a456-426614174000", "f47ac10b-58cc-4372-a567-0e02b2c3d479"),
        (PathTemplate.Hash, "0123456789abcdef0123", "fedcba9876543210fedc"),
    ];

    public static (string First, string Second) Paths(string resource)
    {
        string first = resource, second = resource;
        foreach (var (placeholder, a, b) in Placeholders)
        {
            first = first.Replace(placeholder, a, StringComparison.Ordinal);
            second = second.Replace(placeholder, b, StringComparison.Ordinal);
        }
        return (first, second);
    }

    /// <summary>Both samples matched: Yes; neither: No; one: Unknown (the rule allows only some values).</summary>
    public static Tri Match(string resource, Func<string, bool> matches)
    {
        var (first, second) = Paths(resource);
        bool a = matches(first);
        if (ReferenceEquals(first, second) || first == second) return TriLogic.Of(a);
        bool b = matches(second);
        return a == b ? TriLogic.Of(a) : Tri.Unknown;
    }
}

// ---------------------------------------------------------------- Cilium

/// <summary>
/// One <c>toPorts[].rules.http</c> entry. Cilium's Envoy matches <c>method</c> and <c>path</c> as RE2 regexes against the
/// whole value (cilium/cilium pkg/policy/api/http.go: "extended POSIX regex matched against the path/method"; Envoy's
/// safe_regex header match requires the entire value to match); empty fields match everything. Host, headers and
/// headerMatches name what Hubble's L7 records do not carry, so a rule with them matches Unknown.
/// </summary>
internal sealed class CiliumHttpRule
{
    public Regex? Method { get; init; }
    public Regex? Path { get; init; }
    public bool NeedsUnobserved { get; init; }
    public required string Text { get; init; }

    public Tri Matches(L7Operation op)
    {
        if (op.Protocol is not (L7Protocol.Http or L7Protocol.Grpc)) return Tri.No;
        if (Method is not null && !Method.IsMatch(op.Operation)) return Tri.No;
        var path = Path is null ? Tri.Yes : L7Samples.Match(op.Resource, Path.IsMatch);
        return NeedsUnobserved ? TriLogic.And(path, Tri.Unknown) : path;
    }
}

/// <summary>
/// One <c>rules.kafka</c> entry (cilium/cilium pkg/policy/api/kafka/kafka.go): apiKey case-insensitive, or a role that
/// expands to api keys (produce: produce, metadata, apiversions; consume: fetch, offsets, metadata, offsetcommit,
/// offsetfetch, findcoordinator, joingroup, heartbeat, leavegroup, syncgroup, apiversions); topic exact, empty = every
/// topic. apiVersion and clientID are not in Hubble's Kafka records we keep: a rule with them matches Unknown.
/// </summary>
internal sealed class CiliumKafkaRule
{
    private static readonly string[] Produce = ["produce", "metadata", "apiversions"];
    private static readonly string[] Consume = ["fetch", "offsets", "metadata", "offsetcommit", "offsetfetch", "findcoordinator", "joingroup", "heartbeat", "leavegroup", "syncgroup", "apiversions"];

    public string? Role { get; init; }
    public string? ApiKey { get; init; }
    public string? Topic { get; init; }
    public bool NeedsUnobserved { get; init; }
    public required string Text { get; init; }

    public Tri Matches(L7Operation op)
    {
        if (op.Protocol != L7Protocol.Kafka) return Tri.No;
        string key = op.Operation.ToLowerInvariant();
        if (ApiKey is not null && !string.Equals(ApiKey, key, StringComparison.OrdinalIgnoreCase)) return Tri.No;
        if (Role is not null && Array.IndexOf(Role.Equals("produce", StringComparison.OrdinalIgnoreCase) ? Produce : Consume, key) < 0) return Tri.No;
        // Cilium ignores the topic for api keys whose requests carry none (heartbeat ...): the record's resource is then empty.
        if (Topic is not null && op.Resource.Length > 0 && op.Resource != Topic) return Tri.No;
        return NeedsUnobserved ? Tri.Unknown : Tri.Yes;
    }
}

/// <summary>
/// A DNS name matcher as Cilium defines matchName and matchPattern (cilium/cilium pkg/fqdn/matchpattern/matchpattern.go):
/// case-insensitive, the root dot optional; a pattern of <c>*</c> alone matches every name, otherwise <c>*</c> matches
/// zero or more DNS characters within one label (<c>[-a-zA-Z0-9_]*</c>), the whole name anchored. Used by rules.dns and toFQDNs.
/// </summary>
internal sealed class CiliumNameMatcher
{
    private readonly string? _name;
    private readonly Regex? _pattern;
    private readonly bool _everything;

    public CiliumNameMatcher(string? matchName, string? matchPattern)
    {
        Text = matchName is not null ? "matchName: " + matchName : "matchPattern: " + matchPattern;
        if (matchName is not null) _name = Normalise(matchName);
        else
        {
            string pattern = Normalise(matchPattern!);
            if (pattern == "*") _everything = true;
            else
            {
                var regex = "^" + Regex.Escape(pattern).Replace("\\*", "[-a-z0-9_]*", StringComparison.Ordinal) + "$";
                _pattern = new Regex(regex, RegexOptions.CultureInvariant | RegexOptions.IgnoreCase);
            }
        }
    }

    public string Text { get; }

    private static string Normalise(string name) => name.Trim().TrimEnd('.').ToLowerInvariant();

    public bool Matches(string name)
    {
        name = Normalise(name);
        if (_everything) return name.Length > 0;
        return _name is not null ? _name == name : _pattern!.IsMatch(name);
    }
}

internal enum CiliumL7Kind : byte { None, Http, Kafka, Dns }

/// <summary>One <c>toPorts</c> entry: its ports and its L7 rules (one kind per entry, as Cilium requires).</summary>
internal sealed class CiliumPortRule
{
    /// <summary>(port, endPort, protocol byte or 0 for ANY); port 0: every port. Named ports: <see cref="NamedPorts"/>.</summary>
    public required (ushort Port, ushort EndPort, byte Protocol)[] Ports { get; init; }
    /// <summary>Named ports (resolved against containers FlowPolicy does not see): they match Unknown.</summary>
    public bool NamedPorts { get; init; }
    public CiliumL7Kind Kind { get; init; }
    public CiliumHttpRule[] Http { get; init; } = [];
    public CiliumKafkaRule[] Kafka { get; init; } = [];
    public CiliumNameMatcher[] Dns { get; init; } = [];

    public Tri MatchesPort(ushort port, byte protocol)
    {
        if (Ports.Length == 0 && !NamedPorts) return Tri.Yes;
        foreach (var (first, last, proto) in Ports)
            if ((proto == 0 || proto == protocol) && (first == 0 || (port >= first && port <= last))) return Tri.Yes;
        return NamedPorts ? Tri.Unknown : Tri.No;
    }

    public Tri Allows(L7Operation op)
    {
        var result = Tri.No;
        switch (Kind)
        {
            case CiliumL7Kind.Http:
                foreach (var rule in Http) result = TriLogic.Or(result, rule.Matches(op));
                break;
            case CiliumL7Kind.Kafka:
                foreach (var rule in Kafka) result = TriLogic.Or(result, rule.Matches(op));
                break;
            case CiliumL7Kind.Dns:
                if (op.Protocol == L7Protocol.Dns)
                    foreach (var matcher in Dns) result = TriLogic.Or(result, TriLogic.Of(matcher.Matches(op.Resource)));
                break;
        }
        return result;
    }

    public string RulesText => Kind switch
    {
        CiliumL7Kind.Http => "http [" + string.Join("; ", Http.Select(r => r.Text)) + "]",
        CiliumL7Kind.Kafka => "kafka [" + string.Join("; ", Kafka.Select(r => r.Text)) + "]",
        CiliumL7Kind.Dns => "dns [" + string.Join("; ", Dns.Select(r => r.Text)) + "]",
        _ => "none",
    };
}

/// <summary>
/// A Cilium endpoint selector (fromEndpoints, toEndpoints, endpointSelector). Keys carry a source prefix (<c>k8s:</c>,
/// <c>any:</c>) that is dropped; <c>io.kubernetes.pod.namespace</c> is the endpoint's namespace,
/// <c>io.cilium.k8s.namespace.labels.KEY</c> a label of its namespace, <c>io.cilium.k8s.policy.serviceaccount</c> its
/// service account (Unknown when the data did not name it); other <c>io.cilium.*</c> and <c>reserved:</c> keys are Unknown.
/// </summary>
internal sealed class CiliumSelector
{
    private const string NamespaceKey = "io.kubernetes.pod.namespace";
    private const string NamespaceLabelPrefix = "io.cilium.k8s.namespace.labels.";
    private const string ServiceAccountKey = "io.cilium.k8s.policy.serviceaccount";

    private readonly (string Key, SelectorOperator Operator, string[] Values)[] _requirements;

    public CiliumSelector(LabelSelector selector) =>
        _requirements = selector.Requirements.Select(r => (Strip(r.Key), r.Operator, r.Values)).ToArray();

    public bool NamesNamespace => _requirements.Any(r => r.Key == NamespaceKey);

    private static string Strip(string key)
    {
        foreach (var prefix in (string[])["k8s:", "any:"])
            if (key.StartsWith(prefix, StringComparison.Ordinal)) return key[prefix.Length..];
        return key;
    }

    /// <param name="namespaceLabels">The labels of a namespace (kubernetes.io/metadata.name always among them).</param>
    public Tri Matches(Endpoint endpoint, Func<string, IReadOnlyList<KeyValuePair<string, string>>> namespaceLabels)
    {
        if (endpoint.Kind is not (EndpointKind.Pod or EndpointKind.Service) || endpoint.Namespace is null || endpoint.IsAddress) return Tri.No;
        var result = Tri.Yes;
        foreach (var (key, op, values) in _requirements)
        {
            string? value;
            if (key == NamespaceKey) value = endpoint.Namespace;
            else if (key.StartsWith(NamespaceLabelPrefix, StringComparison.Ordinal))
                value = Lookup(namespaceLabels(endpoint.Namespace), key[NamespaceLabelPrefix.Length..]);
            else if (key == ServiceAccountKey)
            {
                if (endpoint.ServiceAccount is null) { result = TriLogic.And(result, Tri.Unknown); continue; }
                value = endpoint.ServiceAccount;
            }
            else if (key.StartsWith("io.cilium.", StringComparison.Ordinal) || key.StartsWith("reserved:", StringComparison.Ordinal))
            {
                result = TriLogic.And(result, Tri.Unknown);
                continue;
            }
            else value = Lookup(endpoint.Labels, key);
            bool ok = op switch
            {
                SelectorOperator.In => value is not null && Array.IndexOf(values, value) >= 0,
                SelectorOperator.NotIn => value is null || Array.IndexOf(values, value) < 0,
                SelectorOperator.Exists => value is not null,
                _ => value is null,
            };
            if (!ok) return Tri.No;
        }
        return result;
    }

    private static string? Lookup(IReadOnlyList<KeyValuePair<string, string>> labels, string key)
    {
        foreach (var pair in labels)
            if (pair.Key == key) return pair.Value;
        return null;
    }
}

/// <summary>
/// Cilium's entities (cilium/cilium pkg/policy/api/entity.go @ ddfb86f857f05b0ab0aacd298e896dd748feee55) as the endpoint
/// kinds FlowPolicy sees: <c>all</c> every peer; <c>world</c> (<c>world-ipv4</c>, <c>world-ipv6</c>) addresses outside the
/// cluster; <c>cluster</c> pods, services and nodes; <c>host</c> (the endpoint's own node) and <c>remote-node</c> (every
/// other node) are Unknown for a node alone (which node a pod runs on is not in the flows) and Yes together;
/// <c>kube-apiserver</c>, <c>init</c>, <c>health</c>, <c>unmanaged</c>, <c>ingress</c> name what the flows do not show: Unknown.
/// A private address the inventory did not name is Unknown for world and cluster.
/// </summary>
internal static class CiliumEntities
{
    public static Tri Match(string[] entities, Endpoint peer)
    {
        var result = Tri.No;
        foreach (var entity in entities)
        {
            var match = entity switch
            {
                "all" => Tri.Yes,
                "world" or "world-ipv4" or "world-ipv6" => peer.Kind == EndpointKind.External ? Tri.Yes : peer.Kind == EndpointKind.Unknown ? Tri.Unknown : Tri.No,
                "cluster" => peer.Kind is EndpointKind.Pod or EndpointKind.Service or EndpointKind.Node ? Tri.Yes : peer.Kind == EndpointKind.Unknown ? Tri.Unknown : Tri.No,
                "host" or "remote-node" => peer.Kind == EndpointKind.Node ? Tri.Unknown : Tri.No,
                _ => Tri.Unknown,
            };
            result = TriLogic.Or(result, match);
        }
        if (peer.Kind == EndpointKind.Node && Array.IndexOf(entities, "host") >= 0 && Array.IndexOf(entities, "remote-node") >= 0) result = Tri.Yes;
        return result;
    }
}

/// <summary>
/// One ingress, egress, ingressDeny or egressDeny rule of a Cilium policy (cilium/cilium pkg/policy/api/ingress.go,
/// egress.go @ ddfb86f857f05b0ab0aacd298e896dd748feee55): its peers (fields ORed) ANDed with its toPorts.
/// </summary>
internal sealed class CiliumRule
{
    /// <summary>"CiliumNetworkPolicy ns/name ingress[0]": how L7 reasons name the rule.</summary>
    public required string Name { get; init; }
    /// <summary>The rule as <see cref="IntentEvaluator"/> reports it (stale rules, drift, check's reasons).</summary>
    public required IntentRule Rule { get; init; }
    /// <summary>Global rule numbering (shared with NetworkPolicy and FlowPolicy rules), so matched rules sort the same everywhere.</summary>
    public int Ordinal { get; init; }
    /// <summary>No peer field but toPorts: every peer (Cilium's L3 wildcard). An empty rule has no peer.</summary>
    public bool AnyPeer { get; init; }
    public CiliumSelector[] Endpoints { get; init; } = [];
    public string[] Entities { get; init; } = [];
    /// <summary>fromCIDR/toCIDR (no except) and fromCIDRSet/toCIDRSet entries with their except.</summary>
    public IpBlock[] Cidrs { get; init; } = [];
    public CiliumNameMatcher[] Fqdns { get; init; } = [];
    /// <summary>Peer fields FlowPolicy cannot resolve (toServices, toGroups, fromRequires, fromNodes ...): the peer matches Unknown.</summary>
    public bool UnresolvedPeers { get; init; }
    /// <summary>Null: no toPorts (every port, no L7 rules).</summary>
    public CiliumPortRule[]? ToPorts { get; init; }

    /// <summary>
    /// An empty rule (<c>ingress: [{}]</c>, what a default-deny policy holds): it selects no peer, so it only isolates. It
    /// is no allow rule anyone could find unused.
    /// </summary>
    public bool MatchesNothing => !AnyPeer && !UnresolvedPeers && Endpoints.Length == 0 && Entities.Length == 0 && Cidrs.Length == 0 && Fqdns.Length == 0;

    /// <summary>
    /// Whether the rule's L3 peers (fromEndpoints/toEndpoints, entities, CIDRs; not toFQDNs, which are judged by name)
    /// name <paramref name="peer"/>. In a CiliumNetworkPolicy an endpoint selector without a namespace key means the
    /// policy's namespace; in a clusterwide policy, pods of every namespace (cilium/cilium
    /// pkg/k8s/apis/cilium.io/utils/utils.go getEndpointSelector @ ddfb86f857f05b0ab0aacd298e896dd748feee55). CIDRs match
    /// addresses only: Cilium matches pods and nodes by identity, never by CIDR (policy-cidr-match-mode default).
    /// </summary>
    public Tri PeerMatches(string? policyNamespace, Endpoint peer, Func<string, IReadOnlyList<KeyValuePair<string, string>>> namespaceLabels)
    {
        if (AnyPeer) return Tri.Yes;
        var result = UnresolvedPeers ? Tri.Unknown : Tri.No;
        foreach (var selector in Endpoints)
        {
            if (policyNamespace is not null && !selector.NamesNamespace && peer.Namespace != policyNamespace) continue;
            result = TriLogic.Or(result, selector.Matches(peer, namespaceLabels));
        }
        if (Entities.Length > 0) result = TriLogic.Or(result, CiliumEntities.Match(Entities, peer));
        if (peer.IsAddress)
            foreach (var block in Cidrs)
                if (block.Contains(peer.Address)) return Tri.Yes;
        return result;
    }

    /// <summary>Whether the rule's toPorts let <paramref name="port"/>/<paramref name="protocol"/> through (no toPorts: every port).</summary>
    public Tri PortMatches(ushort port, byte protocol)
    {
        if (ToPorts is null) return Tri.Yes;
        var result = Tri.No;
        foreach (var entry in ToPorts) result = TriLogic.Or(result, entry.MatchesPort(port, protocol));
        return result;
    }
}

/// <summary>
/// One spec of a CiliumNetworkPolicy (namespaced) or CiliumClusterwideNetworkPolicy (<see cref="Namespace"/> null): a
/// policy with <c>specs</c> is one definition per spec, each with its own endpointSelector, as Cilium makes one rule of each.
/// </summary>
internal sealed class CiliumPolicyDefinition
{
    public const string NamespacedKind = "CiliumNetworkPolicy";
    public const string ClusterwideKind = "CiliumClusterwideNetworkPolicy";

    public required string Id { get; init; }
    public string? Namespace { get; init; }
    public required CiliumSelector Selector { get; init; }
    public CiliumRule[] Ingress { get; init; } = [];
    public CiliumRule[] Egress { get; init; } = [];
    public CiliumRule[] IngressDeny { get; init; } = [];
    public CiliumRule[] EgressDeny { get; init; } = [];
    /// <summary>spec.enableDefaultDeny.ingress / .egress (default true).</summary>
    public bool DefaultDenyIngress { get; init; } = true;
    public bool DefaultDenyEgress { get; init; } = true;

    /// <summary>
    /// Policy enforcement mode "default" (cilium/cilium pkg/policy/repository.go computePolicyEnforcementAndRules @
    /// ddfb86f857f05b0ab0aacd298e896dd748feee55): a rule selecting an endpoint puts it into default deny for ingress when
    /// it has an ingress or ingressDeny section (len > 0) and enableDefaultDeny.ingress is not false; likewise egress.
    /// </summary>
    public bool IsolatesIngress => DefaultDenyIngress && (Ingress.Length > 0 || IngressDeny.Length > 0);
    public bool IsolatesEgress => DefaultDenyEgress && (Egress.Length > 0 || EgressDeny.Length > 0);
    public bool HasL7 => Ingress.Concat(Egress).Any(r => r.Fqdns.Length > 0 || (r.ToPorts?.Any(p => p.Kind != CiliumL7Kind.None) ?? false));
}

// ---------------------------------------------------------------- Istio

/// <summary>
/// An Istio string match as istio/api security/v1beta1/authorization_policy.proto defines it for every string field:
/// exact, prefix (<c>abc*</c>), suffix (<c>*abc</c>), presence (<c>*</c>: any non-empty value). Paths also take the
/// Istio 1.22+ templates: <c>{*}</c> one path segment, <c>{**}</c> the rest of the path (the last operator).
/// </summary>
internal sealed class IstioStringMatch
{
    private readonly string _text;
    private readonly Regex? _template;

    public IstioStringMatch(string text, bool path)
    {
        _text = text;
        if (path && text.Contains("{*", StringComparison.Ordinal))
        {
            var regex = "^" + Regex.Escape(text).Replace("\\{\\*\\*}", ".*", StringComparison.Ordinal).Replace("\\{\\*}", "[^/]+", StringComparison.Ordinal) + "$";
            _template = new Regex(regex, RegexOptions.CultureInvariant);
        }
    }

    public bool Matches(string value)
    {
        if (_template is not null) return _template.IsMatch(value);
        if (_text == "*") return value.Length > 0;
        if (_text.Length > 1 && _text.EndsWith('*')) return value.StartsWith(_text[..^1], StringComparison.Ordinal);
        if (_text.Length > 1 && _text.StartsWith('*')) return value.EndsWith(_text[1..], StringComparison.Ordinal);
        return value == _text;
    }

    public override string ToString() => _text;
}

/// <summary>One <c>rules[]</c> entry: a request matches when one source, one operation and every condition match.</summary>
internal sealed class IstioRule
{
    public required string Name { get; init; }
    /// <summary>The rule as <see cref="IntentEvaluator"/> reports it (stale rules, check's reasons): "ns/name", "rules[0]", "AuthorizationPolicy".</summary>
    public required IntentRule Rule { get; init; }
    /// <summary>Global rule numbering, shared with NetworkPolicy, FlowPolicy and Cilium rules.</summary>
    public int Ordinal { get; init; }
    /// <summary>Null: no <c>from</c> (any source).</summary>
    public IstioSource[]? From { get; init; }
    /// <summary>Null: no <c>to</c> (any operation).</summary>
    public IstioOperation[]? To { get; init; }
    /// <summary><c>when</c> conditions read request attributes the flows do not carry: Unknown.</summary>
    public bool HasConditions { get; init; }

    /// <summary>
    /// The rule against one TCP connection, its L3/L4 fields only (istio/api security/v1beta1/authorization_policy.proto
    /// @ d0fee3f0501c2cc42c4693a93d95417d0944a0dd: fields of one source/operation ANDed, sources and operations ORed,
    /// from, to and when ANDed). Fields that need the request (methods, paths, hosts, requestPrincipals, remoteIpBlocks,
    /// when) are <see cref="L7IntentEvaluator"/>'s: here they let the port through in an ALLOW rule (the requests are
    /// judged there) and keep a DENY rule from matching the whole connection (it denies some requests, judged there).
    /// </summary>
    public Tri MatchesConnection(Endpoint client, ushort port, string trustDomain, bool deny)
    {
        var requestLevel = deny ? Tri.No : Tri.Yes;
        var from = Tri.Yes;
        if (From is not null)
        {
            from = Tri.No;
            foreach (var source in From)
                from = TriLogic.Or(from, TriLogic.And(source.MatchesPeer(client, trustDomain), source.NeedsUnobserved ? requestLevel : Tri.Yes));
        }
        if (from == Tri.No) return Tri.No;
        var to = Tri.Yes;
        if (To is not null)
        {
            to = Tri.No;
            foreach (var operation in To)
                if (operation.MatchesPort(port)) to = TriLogic.Or(to, operation.NeedsRequest ? requestLevel : Tri.Yes);
        }
        var result = TriLogic.And(from, to);
        return HasConditions ? TriLogic.And(result, requestLevel) : result;
    }
}

internal sealed class IstioSource
{
    public IstioStringMatch[]? Principals { get; init; }
    public IstioStringMatch[]? NotPrincipals { get; init; }
    public IstioStringMatch[]? Namespaces { get; init; }
    public IstioStringMatch[]? NotNamespaces { get; init; }
    public IpPrefix[]? IpBlocks { get; init; }
    public IpPrefix[]? NotIpBlocks { get; init; }
    /// <summary>requestPrincipals, remoteIpBlocks and their negations: not in the flows.</summary>
    public bool NeedsUnobserved { get; init; }

    /// <summary>
    /// Istio's name for a workload client: <c>TRUST_DOMAIN/ns/NS/sa/SA</c> from its service account (Hubble's
    /// io.cilium.k8s.policy.serviceaccount, a pod's spec.serviceAccountName, a lease's service_account: what suggest's
    /// Istio emitter writes principals from), or null when the data did not name it.
    /// </summary>
    public static string? PrincipalOf(Endpoint client, string trustDomain) =>
        client.ServiceAccount is { } sa && client.Namespace is { } ns ? $"{trustDomain}/ns/{ns}/sa/{sa}" : null;

    /// <summary>
    /// The source's peer fields (principals, namespaces, ipBlocks and negations) against the connection's client; the
    /// request-level fields (<see cref="NeedsUnobserved"/>) are left to the caller. Principals and namespaces come from
    /// the peer's mTLS identity: only workloads have one; a workload whose service account the data did not name is Unknown.
    /// ipBlocks name the direct peer's address: Unknown for a workload (its pod address is not in the edge).
    /// </summary>
    public Tri MatchesPeer(Endpoint client, string trustDomain)
    {
        var result = Tri.Yes;
        bool isWorkload = client.Kind is EndpointKind.Pod && !client.IsAddress;
        if (Principals is not null || NotPrincipals is not null)
        {
            string? principal = PrincipalOf(client, trustDomain);
            Tri Check(IstioStringMatch[]? list, bool negate)
            {
                if (list is null) return Tri.Yes;
                if (!isWorkload) return negate ? Tri.Yes : Tri.No;
                if (principal is null) return Tri.Unknown;
                bool any = list.Any(m => m.Matches(principal));
                return TriLogic.Of(negate ? !any : any);
            }
            result = TriLogic.And(result, TriLogic.And(Check(Principals, false), Check(NotPrincipals, true)));
        }
        if (Namespaces is not null || NotNamespaces is not null)
        {
            string? ns = isWorkload ? client.Namespace : null;
            if (Namespaces is not null) result = TriLogic.And(result, TriLogic.Of(ns is not null && Namespaces.Any(m => m.Matches(ns))));
            if (NotNamespaces is not null) result = TriLogic.And(result, TriLogic.Of(ns is null || !NotNamespaces.Any(m => m.Matches(ns))));
        }
        if (IpBlocks is not null)
            result = TriLogic.And(result, client.IsAddress ? TriLogic.Of(IpBlocks.Any(b => b.Contains(client.Address))) : Tri.Unknown);
        if (NotIpBlocks is not null)
            result = TriLogic.And(result, client.IsAddress ? TriLogic.Of(!NotIpBlocks.Any(b => b.Contains(client.Address))) : Tri.Unknown);
        return result;
    }
}

internal sealed class IstioOperation
{
    public IstioStringMatch[]? Hosts { get; init; }
    public IstioStringMatch[]? NotHosts { get; init; }
    public string[]? Ports { get; init; }
    public string[]? NotPorts { get; init; }
    public IstioStringMatch[]? Methods { get; init; }
    public IstioStringMatch[]? NotMethods { get; init; }
    public IstioStringMatch[]? Paths { get; init; }
    public IstioStringMatch[]? NotPaths { get; init; }

    /// <summary>Whether the operation names what only an HTTP request has (methods, paths, hosts and negations).</summary>
    public bool NeedsRequest => Methods is not null || NotMethods is not null || Paths is not null || NotPaths is not null || Hosts is not null || NotHosts is not null;

    /// <summary>ports / notPorts (strings in the proto) against the connection's destination port.</summary>
    public bool MatchesPort(ushort port)
    {
        string text = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return (Ports is null || Array.IndexOf(Ports, text) >= 0) && (NotPorts is null || Array.IndexOf(NotPorts, text) < 0);
    }
}

internal enum IstioAction : byte { Allow, Deny, Audit, Custom }

/// <summary>An Istio AuthorizationPolicy. <see cref="Selector"/> null: every workload of its namespace (or the mesh, in the root namespace).</summary>
internal sealed class IstioPolicyDefinition
{
    public required string Id { get; init; }
    public required string Namespace { get; init; }
    public IReadOnlyList<KeyValuePair<string, string>>? Selector { get; init; }
    /// <summary>targetRef(s) (gateways, services): FlowPolicy does not resolve them, so the policy applies Unknown.</summary>
    public bool HasTargetRefs { get; init; }
    public IstioAction Action { get; init; }
    /// <summary>Null: no rules field (ALLOW matches nothing, DENY never matches); an empty rule matches everything.</summary>
    public IstioRule[]? Rules { get; init; }

    /// <summary>
    /// Whether the policy applies to <paramref name="server"/>'s sidecar: a workload of the policy's namespace, or of
    /// any namespace when the policy is in the root namespace; matchLabels all on the workload; no selector: every
    /// workload there. targetRef(s) are not resolved: such a policy is not applied here (the caller says so).
    /// </summary>
    public bool Selects(Endpoint server, string rootNamespace)
    {
        if (server.Kind is not (EndpointKind.Pod or EndpointKind.Service) || server.Namespace is null || server.IsAddress) return false;
        if (Namespace != server.Namespace && Namespace != rootNamespace) return false;
        return Selector is null || Selector.All(l => server.Labels.Any(s => s.Key == l.Key && s.Value == l.Value));
    }
}
