using FlowPolicy.Analytics.Intent.Internal;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;

namespace FlowPolicy.Analytics.Intent;

/// <summary>
/// The L3/L4 part of CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy, judged as Cilium enforces it (docs/intent.md,
/// "Cilium policies"). Cilium keeps Kubernetes NetworkPolicies and its own policies in one repository (cilium/cilium
/// pkg/policy/repository.go @ ddfb86f857f05b0ab0aacd298e896dd748feee55): per direction an endpoint is isolated when any
/// NetworkPolicy or any Cilium rule with a section in that direction (and enableDefaultDeny not false) selects it; the
/// allow rules of all of them add up; a matching ingressDeny/egressDeny rule wins over every allow.
/// </summary>
public sealed partial class IntentEvaluator
{
    /// <summary>Returned instead of a sentence when nobody reads it (<see cref="Allows"/>): no string is built.</summary>
    private const string DeniedUnexplained = "denied";

    /// <summary>Indexes into <see cref="_cilium"/> of the specs that select <paramref name="endpoint"/> and have rules in the direction.</summary>
    private int[] CiliumSelecting(Endpoint endpoint, bool egress)
    {
        if (_cilium.Length == 0 || !IsWorkload(endpoint)) return [];
        var candidates = _ciliumByNamespace.TryGetValue(endpoint.Namespace!, out var inNamespace) ? inNamespace : _ciliumClusterwide;
        List<int>? selecting = null;
        foreach (int index in candidates)
        {
            var policy = _cilium[index];
            bool hasRules = egress ? policy.Egress.Length + policy.EgressDeny.Length > 0 : policy.Ingress.Length + policy.IngressDeny.Length > 0;
            if (!hasRules) continue;
            // A selector naming what the flows do not show (a service account not recorded) is taken as selecting: the
            // endpoint is isolated and its rules apply, so a check does not pass on an isolation it cannot rule out.
            if (policy.Selector.Matches(endpoint, LabelsOfNamespace) == Tri.No) continue;
            (selecting ??= []).Add(index);
        }
        return selecting is null ? [] : selecting.ToArray();
    }

    /// <summary>
    /// The verdict of one side (egress of the client, ingress of the server) over the NetworkPolicies and Cilium specs
    /// selecting it: null when allowed; otherwise the reason (<see cref="DeniedUnexplained"/> when
    /// <paramref name="matched"/> is null). Matched allow rules are added to <paramref name="matched"/>.
    /// </summary>
    private string? SideDenial(bool egress, NetworkPolicyDefinition[] networkPolicies, int[] cilium, Endpoint client, Endpoint server,
        ushort port, byte protocol, IReadOnlyList<PeerName>? names, List<(int, IntentRule)>? matched)
    {
        var subject = egress ? client : server;
        var peer = egress ? server : client;
        string direction = egress ? "egress" : "ingress";
        // Deny rules first: a matching one wins over every allow, whichever policy holds it (Documentation/security/policy/language.rst, "Deny Policies").
        foreach (int index in cilium)
        {
            var policy = _cilium[index];
            foreach (var rule in egress ? policy.EgressDeny : policy.IngressDeny)
            {
                var match = CiliumRuleMatches(rule, policy, peer, port, protocol, names, egress);
                if (match == Tri.No) continue;
                if (matched is null) return DeniedUnexplained;
                return match == Tri.Yes
                    ? $"denied by {rule.Name} for {Connection(client, server, port, protocol)}"
                    : $"{rule.Name} may deny {Connection(client, server, port, protocol)} (it names what the flows do not show; a deny rule is taken to match)";
            }
        }
        bool isolated = networkPolicies.Length > 0;
        foreach (int index in cilium)
            isolated |= egress ? _cilium[index].IsolatesEgress : _cilium[index].IsolatesIngress;
        // Only rules with enableDefaultDeny false select it: Cilium adds an allow-all for that direction.
        if (!isolated) return null;

        bool allowed = networkPolicies.Length > 0 && AnyRuleAllows(networkPolicies, egress, client, server, port, protocol, matched);
        if (allowed && matched is null) return null;
        string? maybe = null;
        bool fqdnWithoutNames = false;
        foreach (int index in cilium)
        {
            var policy = _cilium[index];
            foreach (var rule in egress ? policy.Egress : policy.Ingress)
            {
                var match = CiliumRuleMatches(rule, policy, peer, port, protocol, names, egress);
                if (match == Tri.Yes)
                {
                    if (matched is null) return null;
                    matched.Add((rule.Ordinal, rule.Rule));
                    allowed = true;
                }
                else if (match == Tri.Unknown) maybe ??= rule.Name;
                else if (egress && rule.Fqdns.Length > 0 && peer.IsAddress && (names is null || names.Count == 0)) fqdnWithoutNames = true;
            }
        }
        if (allowed) return null;
        if (matched is null) return DeniedUnexplained;
        var isolating = networkPolicies.Select(p => p.Id)
            .Concat(cilium.Where(i => egress ? _cilium[i].IsolatesEgress : _cilium[i].IsolatesIngress).Select(i => _cilium[i].Id))
            .Distinct(StringComparer.Ordinal).ToArray();
        string by = string.Join(", ", isolating.Take(3)) + (isolating.Length > 3 ? $" and {isolating.Length - 3} more" : "");
        string reason = $"{subject} is isolated for {direction} by {by} and no {direction} rule allows {Connection(client, server, port, protocol)}";
        if (maybe is not null) reason += $" ({maybe} may: it names what the flows do not show, taken as not allowing)";
        if (fqdnWithoutNames) reason += " (a toFQDNs rule could not be matched: the edge carries no DNS names)";
        return reason;
    }

    /// <summary>
    /// A Cilium rule against one connection: its peers (ORed; toFQDNs by the edge's DNS names, as Cilium's DNS proxy
    /// learns the addresses of matching names) ANDed with its toPorts (cilium/cilium pkg/policy/api/rule.go, ingress.go,
    /// egress.go @ ddfb86f857f05b0ab0aacd298e896dd748feee55).
    /// </summary>
    private Tri CiliumRuleMatches(CiliumRule rule, CiliumPolicyDefinition policy, Endpoint peer, ushort port, byte protocol,
        IReadOnlyList<PeerName>? names, bool egress)
    {
        var peerMatch = rule.PeerMatches(policy.Namespace, peer, LabelsOfNamespace);
        if (peerMatch != Tri.Yes && egress && rule.Fqdns.Length > 0 && peer.IsAddress && names is not null)
            foreach (var name in names)
                foreach (var matcher in rule.Fqdns)
                    if (matcher.Matches(name.Name)) peerMatch = Tri.Yes;
        return peerMatch == Tri.No ? Tri.No : TriLogic.And(peerMatch, rule.PortMatches(port, protocol));
    }

    /// <summary>
    /// Every Cilium rule (allow and deny) of one direction with the policy holding it, numbered for endpoint classes:
    /// ingress rules' peers decide about the client, egress rules' about the server.
    /// </summary>
    private (CiliumPolicyDefinition Policy, CiliumRule Rule)[] CiliumRulesOf(bool egress) =>
        _cilium.SelectMany(p => (egress ? p.Egress.Concat(p.EgressDeny) : p.Ingress.Concat(p.IngressDeny)).Select(r => (p, r))).ToArray();

    /// <summary>Appends, for each rule of <paramref name="rules"/> whose peers match <paramref name="endpoint"/>, its number and whether Unknown.</summary>
    private void AddCiliumPeerMatches((CiliumPolicyDefinition Policy, CiliumRule Rule)[] rules, Endpoint endpoint, List<int> signature)
    {
        for (int i = 0; i < rules.Length; i++)
        {
            var match = rules[i].Rule.PeerMatches(rules[i].Policy.Namespace, endpoint, LabelsOfNamespace);
            if (match != Tri.No) signature.Add(i * 2 + (match == Tri.Unknown ? 1 : 0));
        }
    }
}
