using FlowPolicy.Analytics.Intent.Internal;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;

namespace FlowPolicy.Analytics.Intent;

/// <summary>What the intent's L7 rules say about one observed operation (or name).</summary>
public enum L7Verdict : byte
{
    Allowed,
    /// <summary>The L4 port is allowed by the rule that carries L7 rules, but none of its L7 rules matches.</summary>
    Denied,
    /// <summary>The rules depend on what the flows do not show (headers, principals without a service account, some IDs of a template).</summary>
    Undetermined,
}

/// <summary>How the L7 part of the intent relates to one edge.</summary>
internal enum L7EdgeStatus : byte
{
    /// <summary>No L7 rule of the intent applies to this edge's port and peers.</summary>
    NoL7Rule,
    /// <summary>L7 rules apply but the edge has no L7 history (no Hubble L7 records, or none of the rules' protocol): cannot judge.</summary>
    NotObserved,
    /// <summary>L7 rules apply and the edge's operations were judged.</summary>
    Judged,
}

/// <param name="Operation">The observed operation with its evidence (requests, first/last seen ...).</param>
/// <param name="Reason">Which rules allowed it, or why it is denied or undetermined.</param>
public sealed record L7OperationDecision(L7Operation Operation, L7Verdict Verdict, string Reason);

/// <summary>A DNS name the edge's external server was reached by, judged against toFQDNs.</summary>
public sealed record L7NameDecision(PeerName Name, L7Verdict Verdict, string Reason);

/// <summary>The L7 verdicts of one edge.</summary>
/// <param name="Rules">The policies and rules whose L7 part applies ("CiliumNetworkPolicy shop/catalog ingress[1]").</param>
/// <param name="Reason">For <see cref="L7EdgeStatus.NotObserved"/>: which rules could not be judged.</param>
public sealed record L7EdgeDecision(Edge Edge, IReadOnlyList<L7OperationDecision> Operations, IReadOnlyList<L7NameDecision> Names,
    IReadOnlyList<string> Rules, string Reason)
{
    internal L7EdgeStatus Status { get; init; }

    public bool AnyDenied => Operations.Any(o => o.Verdict == L7Verdict.Denied) || Names.Any(n => n.Verdict == L7Verdict.Denied);
}

public sealed class L7IntentEvaluatorOptions
{
    /// <summary>Istio's root namespace (a policy there applies to every namespace) and trust domain (principals are
    /// <c>TRUST_DOMAIN/ns/NS/sa/SA</c>): <see cref="IstioMesh"/>.</summary>
    public IstioMesh Istio { get; init; } = IstioMesh.Default;
    /// <summary>Namespace labels the data showed, for <c>io.cilium.k8s.namespace.labels.*</c> selectors.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string>>>? NamespaceLabels { get; init; }

    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Istio);
        Istio.Validate();
    }
}

/// <summary>
/// Judges the L7 history of edges (<see cref="Edge.L7"/>) against the L7 part of the intent: Cilium <c>toPorts[].rules</c>
/// (http, kafka, dns) and toFQDNs, Istio AuthorizationPolicy operations (methods, paths). It answers "which observed
/// operations would the intent deny although the port is allowed"; the L4 verdict stays the <see cref="IntentEvaluator"/>'s
/// (Cilium and Istio L3/L4 rules count there). Semantics and what cannot be judged: docs/intent.md, "L7 rules".
/// Thread-safe (no mutable state).
/// </summary>
public sealed class L7IntentEvaluator
{
    private readonly L7IntentEvaluatorOptions _options;
    /// <summary>Cilium policies that can select an endpoint of a namespace: its own namespaced ones, then the clusterwide ones.</summary>
    private readonly Dictionary<string, CiliumPolicyDefinition[]> _ciliumByNamespace;
    private readonly CiliumPolicyDefinition[] _ciliumClusterwide;
    private readonly IstioPolicyDefinition[] _istio;
    private readonly NamespaceLabelBook _namespaceLabels;

    public L7IntentEvaluator(IntentPolicySet policies, L7IntentEvaluatorOptions? options = null)
    {
        _options = options ?? new L7IntentEvaluatorOptions();
        _options.Validate();
        var cilium = policies.CiliumPolicies;
        _ciliumClusterwide = cilium.Where(p => p.Namespace is null).ToArray();
        _ciliumByNamespace = cilium.Where(p => p.Namespace is not null).GroupBy(p => p.Namespace!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Concat(_ciliumClusterwide).ToArray(), StringComparer.Ordinal);
        _istio = policies.IstioPolicies.ToArray();
        _namespaceLabels = new NamespaceLabelBook(_options.NamespaceLabels, policies.NamespaceLabels);
        HasRules = policies.HasL7Rules;
    }

    /// <summary>Whether the intent has any L7 rule (Cilium rules/toFQDNs, Istio ALLOW/DENY policies) to judge with.</summary>
    public bool HasRules { get; }

    private IReadOnlyList<KeyValuePair<string, string>> NamespaceLabels(string ns) => _namespaceLabels.Of(ns);

    /// <summary>One enforcement point on the path of the edge's requests (Cilium ingress, Cilium egress, Istio at the server).</summary>
    private interface IConstraint
    {
        /// <summary>Null: this point does not judge this protocol.</summary>
        (Tri Allowed, string Reason)? Judge(L7Operation op);
        string Rules { get; }
        bool Judges(L7Protocol protocol);
    }

    public L7EdgeDecision Evaluate(Edge edge)
    {
        var constraints = new List<IConstraint>(3);
        var names = new List<L7NameDecision>();
        var fqdnRules = new List<string>();
        if (CiliumSide(edge, egress: false, names, fqdnRules) is { } ingress) constraints.Add(ingress);
        if (CiliumSide(edge, egress: true, names, fqdnRules) is { } egress) constraints.Add(egress);
        if (IstioSide(edge) is { } istio) constraints.Add(istio);
        var rules = constraints.Select(c => c.Rules).Concat(fqdnRules).Distinct(StringComparer.Ordinal).ToArray();
        if (constraints.Count == 0 && names.Count == 0 && fqdnRules.Count == 0)
            return new L7EdgeDecision(edge, [], [], [], "") { Status = L7EdgeStatus.NoL7Rule };

        var ops = edge.L7?.Operations ?? [];
        var decisions = new List<L7OperationDecision>();
        foreach (var op in ops)
        {
            var judging = constraints.Where(c => c.Judges(op.Protocol)).ToList();
            if (judging.Count == 0) continue;
            var verdict = Tri.Yes;
            var reasons = new List<string>();
            foreach (var constraint in judging)
            {
                if (constraint.Judge(op) is not { } judged) continue;
                if (judged.Allowed != Tri.Yes) reasons.Add(judged.Reason);
                else if (verdict == Tri.Yes) reasons.Add(judged.Reason);
                verdict = TriLogic.And(verdict, judged.Allowed);
            }
            // Reasons: on a denial only what denies (and what is unknown); on an allowance what allows.
            var shown = verdict == Tri.Yes ? reasons : reasons.Where(r => !r.StartsWith("allowed", StringComparison.Ordinal)).ToList();
            decisions.Add(new L7OperationDecision(op, verdict switch { Tri.Yes => L7Verdict.Allowed, Tri.No => L7Verdict.Denied, _ => L7Verdict.Undetermined },
                string.Join("; ", shown)));
        }
        if (decisions.Count == 0 && names.Count == 0)
        {
            string reason = fqdnRules.Count > 0 && constraints.Count == 0
                ? $"L7 not observed, cannot judge: {string.Join(", ", fqdnRules)} allow{(fqdnRules.Count == 1 ? "s" : "")} by DNS name and the edge was reached by no name Cilium's DNS proxy could have seen"
                : $"L7 not observed, cannot judge: {string.Join(", ", rules)} {(rules.Length == 1 ? "has" : "have")} L7 rules for this port and the edge has no L7 records of their protocol";
            return new L7EdgeDecision(edge, [], [], rules, reason) { Status = L7EdgeStatus.NotObserved };
        }
        return new L7EdgeDecision(edge, decisions, names, rules, "") { Status = L7EdgeStatus.Judged };
    }

    // ---------------------------------------------------------------- Cilium

    private sealed class CiliumConstraint(string direction, List<(CiliumRule Rule, CiliumPortRule Port, Tri Applies)> l7, List<(CiliumRule Rule, Tri Applies)> l4Only) : IConstraint
    {
        public string Rules => string.Join(", ", l7.Select(r => r.Rule.Name).Distinct());

        public bool Judges(L7Protocol protocol) => l7.Any(r => r.Port.Kind switch
        {
            CiliumL7Kind.Http => protocol is L7Protocol.Http or L7Protocol.Grpc,
            CiliumL7Kind.Kafka => protocol == L7Protocol.Kafka,
            CiliumL7Kind.Dns => protocol == L7Protocol.Dns,
            _ => false,
        });

        public (Tri, string)? Judge(L7Operation op)
        {
            // Documentation/security/policy/layer7.rst (cilium/cilium): "A layer 7 request is permitted if at least one of
            // the rules matches"; rules of several toPorts entries for the same port and peers are combined.
            string? unknown = null;
            foreach (var (rule, port, applies) in l7)
            {
                var allows = TriLogic.And(applies, port.Allows(op));
                if (allows == Tri.Yes) return (Tri.Yes, $"allowed by {rule.Name} rules.{port.RulesText}");
                if (allows == Tri.Unknown) unknown ??= $"{rule.Name} rules.{port.RulesText} may allow it (it names what the flows do not show, or only some values of the path template)";
            }
            foreach (var (rule, applies) in l4Only)
                if (applies == Tri.Unknown) unknown ??= $"{rule.Name} may allow the port without L7 rules (its peers or ports name what the flows do not show)";
            if (unknown is not null) return (Tri.Unknown, unknown);
            return (Tri.No, $"Cilium {direction}: the port is allowed by {Rules}, but no rule of theirs allows {op.Protocol} {op} (rules: {string.Join("; ", l7.Select(r => r.Port.RulesText).Distinct())})");
        }
    }

    /// <summary>
    /// The Cilium L7 rules on one side of the edge. Null when no Cilium policy selects that side or no rule with L7 rules
    /// covers the port and peer, or when a rule without L7 rules allows the port for this peer: "If a layer 4 rule is
    /// specified in the policy, and a similar layer 4 rule with layer 7 rules is also specified, then the layer 7 portions
    /// of the latter rule will have no effect" (cilium/cilium Documentation/security/policy/layer7.rst).
    /// </summary>
    private CiliumConstraint? CiliumSide(Edge edge, bool egress, List<L7NameDecision> names, List<string> fqdnRules)
    {
        var subject = egress ? edge.Client : edge.Server;
        var peer = egress ? edge.Server : edge.Client;
        var l7 = new List<(CiliumRule, CiliumPortRule, Tri)>();
        var l4Only = new List<(CiliumRule, Tri)>();
        var fqdn = new List<(CiliumRule Rule, Tri Applies)>();
        bool addressAllowed = false;
        var candidates = subject.Namespace is { } ns && _ciliumByNamespace.TryGetValue(ns, out var inNamespace) ? inNamespace : _ciliumClusterwide;
        foreach (var policy in candidates)
        {
            var rules = egress ? policy.Egress : policy.Ingress;
            if (rules.Length == 0) continue;
            if (policy.Namespace is not null && subject.Namespace != policy.Namespace) continue;
            var selected = policy.Selector.Matches(subject, NamespaceLabels);
            if (selected == Tri.No) continue;
            foreach (var rule in rules)
            {
                var peerMatch = TriLogic.And(selected, rule.PeerMatches(policy.Namespace, peer, NamespaceLabels));
                var fqdnMatch = rule.Fqdns.Length > 0 && peer.IsAddress ? TriLogic.And(selected, Tri.Yes) : Tri.No;
                if (peerMatch == Tri.No && fqdnMatch == Tri.No) continue;
                if (rule.ToPorts is null)
                {
                    l4Only.Add((rule, peerMatch));
                    if (fqdnMatch != Tri.No) fqdn.Add((rule, fqdnMatch));
                    if (peerMatch == Tri.Yes && peer.IsAddress) addressAllowed = true;
                    continue;
                }
                foreach (var port in rule.ToPorts)
                {
                    var portMatch = port.MatchesPort(edge.Port, edge.Protocol);
                    if (portMatch == Tri.No) continue;
                    if (fqdnMatch != Tri.No) fqdn.Add((rule, TriLogic.And(fqdnMatch, portMatch)));
                    var applies = TriLogic.And(peerMatch, portMatch);
                    if (applies == Tri.No) continue;
                    if (applies == Tri.Yes && peer.IsAddress) addressAllowed = true;
                    if (port.Kind == CiliumL7Kind.None) l4Only.Add((rule, applies));
                    else l7.Add((rule, port, applies));
                }
            }
        }
        if (egress && fqdn.Count > 0 && !addressAllowed) JudgeNames(edge, fqdn, names, fqdnRules);
        if (l4Only.Any(r => r.Item2 == Tri.Yes) || l7.Count == 0) return null;
        return new CiliumConstraint(egress ? "egress" : "ingress", l7, l4Only);
    }

    /// <summary>
    /// toFQDNs: Cilium allows an address the client resolved through its DNS proxy from a matching name. The edge's
    /// names (DNS answers joined to its connections, docs/l7.md) are judged; with none, the edge cannot be judged.
    /// </summary>
    private static void JudgeNames(Edge edge, List<(CiliumRule Rule, Tri Applies)> fqdn, List<L7NameDecision> names, List<string> fqdnRules)
    {
        fqdnRules.AddRange(fqdn.Select(f => f.Rule.Name).Distinct());
        foreach (var name in edge.L7?.Names ?? [])
        {
            var verdict = Tri.No;
            string reason = $"no toFQDNs of {string.Join(", ", fqdn.Select(f => f.Rule.Name).Distinct())} matches {name.Name} ({string.Join(", ", fqdn.SelectMany(f => f.Rule.Fqdns).Select(m => m.Text).Distinct())})";
            foreach (var (rule, applies) in fqdn)
            {
                var matcher = rule.Fqdns.FirstOrDefault(m => m.Matches(name.Name));
                if (matcher is null) continue;
                var match = applies;
                if (match == Tri.Yes) { verdict = Tri.Yes; reason = $"allowed by {rule.Name} toFQDNs {matcher.Text}"; break; }
                if (match == Tri.Unknown && verdict == Tri.No) { verdict = Tri.Unknown; reason = $"{rule.Name} toFQDNs {matcher.Text} may allow it (its ports name what the flows do not show)"; }
            }
            names.Add(new L7NameDecision(name, verdict switch { Tri.Yes => L7Verdict.Allowed, Tri.No => L7Verdict.Denied, _ => L7Verdict.Undetermined }, reason));
        }
    }

    // ---------------------------------------------------------------- Istio

    private sealed class IstioConstraint(L7IntentEvaluator owner, Edge edge, List<IstioPolicyDefinition> allow, List<IstioPolicyDefinition> deny, Tri applies) : IConstraint
    {
        public string Rules => string.Join(", ", allow.Concat(deny).Select(p => p.Id));

        // Istio authorises HTTP requests (gRPC included) with methods and paths; other protocols are TCP to it.
        public bool Judges(L7Protocol protocol) => protocol is L7Protocol.Http or L7Protocol.Grpc;

        /// <summary>
        /// istio/api security/v1beta1/authorization_policy.proto: CUSTOM, then DENY policies (any match denies), then "if
        /// there are no ALLOW policies for the workload, allow the request. If any of the ALLOW policies match the
        /// request, allow the request. Deny the request."
        /// </summary>
        public (Tri, string)? Judge(L7Operation op)
        {
            string? unknown = null;
            foreach (var policy in deny)
            {
                var match = TriLogic.And(applies, owner.PolicyMatches(policy, edge, op, out var rule));
                if (match == Tri.Yes) return (Tri.No, $"Istio: denied by {rule}");
                if (match == Tri.Unknown) unknown ??= $"Istio: {rule ?? policy.Id} (DENY) may match it (it names what the flows do not show)";
            }
            if (allow.Count == 0) return unknown is null ? (Tri.Yes, "allowed: no Istio ALLOW policy selects the server") : (Tri.Unknown, unknown);
            string? allowedBy = null;
            foreach (var policy in allow)
            {
                var match = owner.PolicyMatches(policy, edge, op, out var rule);
                if (match == Tri.Yes) { allowedBy = rule; break; }
                if (match == Tri.Unknown) unknown ??= $"Istio: {rule ?? policy.Id} may allow it (it names what the flows do not show)";
            }
            if (allowedBy is not null && unknown is null) return (applies == Tri.Yes ? Tri.Yes : Tri.Unknown, $"allowed by {allowedBy}");
            if (allowedBy is not null) return (Tri.Unknown, unknown!);
            if (unknown is not null || applies == Tri.Unknown) return (Tri.Unknown, unknown ?? "Istio: a policy with targetRefs may apply");
            return (Tri.No, $"Istio: {string.Join(", ", allow.Select(p => p.Id))} (ALLOW) select{(allow.Count == 1 ? "s" : "")} the server and no rule allows {op} from {edge.Client.Key}");
        }
    }

    private IstioConstraint? IstioSide(Edge edge)
    {
        var server = edge.Server;
        var allow = new List<IstioPolicyDefinition>();
        var deny = new List<IstioPolicyDefinition>();
        var applies = Tri.Yes;
        foreach (var policy in _istio)
        {
            if (policy.Action is not (IstioAction.Allow or IstioAction.Deny)) continue;
            if (!policy.Selects(server, _options.Istio.RootNamespace)) continue;
            if (policy.HasTargetRefs) applies = Tri.Unknown;
            (policy.Action == IstioAction.Allow ? allow : deny).Add(policy);
        }
        // Istio judges at L7 only where a rule with methods or paths covers this client and port; rules of sources and
        // ports alone (and no rule at all for this port) are the L4 verdict, not ours.
        bool anyL7 = allow.Concat(deny).Any(p => p.Rules?.Any(r => L7RuleCovers(r, edge)) ?? false);
        return anyL7 ? new IstioConstraint(this, edge, allow, deny, applies) : null;
    }

    private bool L7RuleCovers(IstioRule rule, Edge edge)
    {
        if (rule.To is null) return false;
        if (rule.From is not null && rule.From.All(s => SourceMatches(s, edge.Client) == Tri.No)) return false;
        return rule.To.Any(o => (o.Methods is not null || o.NotMethods is not null || o.Paths is not null || o.NotPaths is not null) && o.MatchesPort(edge.Port));
    }

    private Tri PolicyMatches(IstioPolicyDefinition policy, Edge edge, L7Operation op, out string? rule)
    {
        rule = null;
        if (policy.Rules is null) return Tri.No; // ALLOW without rules allows nothing; DENY without rules denies nothing
        var best = Tri.No;
        foreach (var r in policy.Rules)
        {
            var match = RuleMatches(r, edge, op);
            if (match == Tri.Yes) { rule = r.Name; return Tri.Yes; }
            if (match == Tri.Unknown && best == Tri.No) { best = Tri.Unknown; rule = r.Name; }
        }
        return best;
    }

    private Tri RuleMatches(IstioRule rule, Edge edge, L7Operation op)
    {
        var from = rule.From is null ? Tri.Yes : rule.From.Aggregate(Tri.No, (acc, s) => TriLogic.Or(acc, SourceMatches(s, edge.Client)));
        if (from == Tri.No) return Tri.No;
        var to = rule.To is null ? Tri.Yes : rule.To.Aggregate(Tri.No, (acc, o) => TriLogic.Or(acc, OperationMatches(o, edge.Port, op)));
        var result = TriLogic.And(from, to);
        return rule.HasConditions ? TriLogic.And(result, Tri.Unknown) : result;
    }

    private Tri SourceMatches(IstioSource source, Endpoint client)
    {
        var peer = source.MatchesPeer(client, _options.Istio.TrustDomain);
        return source.NeedsUnobserved ? TriLogic.And(peer, Tri.Unknown) : peer;
    }

    private static Tri OperationMatches(IstioOperation o, ushort port, L7Operation op)
    {
        if (!o.MatchesPort(port)) return Tri.No;
        if (o.Methods is not null && !o.Methods.Any(m => m.Matches(op.Operation))) return Tri.No;
        if (o.NotMethods is not null && o.NotMethods.Any(m => m.Matches(op.Operation))) return Tri.No;
        var result = Tri.Yes;
        if (o.Paths is not null) result = TriLogic.And(result, L7Samples.Match(op.Resource, p => o.Paths.Any(m => m.Matches(p))));
        if (o.NotPaths is not null) result = TriLogic.And(result, L7Samples.Match(op.Resource, p => !o.NotPaths.Any(m => m.Matches(p))));
        // The Host header is not in the records we keep.
        if (o.Hosts is not null || o.NotHosts is not null) result = TriLogic.And(result, Tri.Unknown);
        return result;
    }
}
