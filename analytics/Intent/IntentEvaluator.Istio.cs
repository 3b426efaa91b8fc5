using FlowPolicy.Analytics.Intent.Internal;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Analytics.Intent;

/// <summary>
/// The L3/L4 part of Istio AuthorizationPolicies (docs/intent.md, "Istio policies"): a separate enforcement layer at the
/// server's sidecar, ANDed with the network layer (NetworkPolicies and Cilium policies) and the FlowPolicies. The order
/// is istio/api security/v1beta1/authorization_policy.proto @ d0fee3f0501c2cc42c4693a93d95417d0944a0dd ("Authorization
/// Policy"): CUSTOM (not evaluated: an external authoriser), then a matching DENY policy denies, then, if any ALLOW
/// policy applies to the workload, one of them must match; with none, the request is allowed. AUDIT decides nothing.
/// Sidecars see TCP only, and kubelet probes are rewritten to the pilot-agent port, which no policy applies to.
/// </summary>
public sealed partial class IntentEvaluator
{
    /// <summary>Indexes into <see cref="_istio"/> (ascending) of the ALLOW and DENY policies applying to <paramref name="server"/>'s sidecar.</summary>
    private int[] IstioSelecting(Endpoint server)
    {
        if (_istio.Length == 0) return [];
        List<int>? selecting = null;
        for (int i = 0; i < _istio.Length; i++)
            if (_istio[i].Selects(server, _options.Istio.RootNamespace)) (selecting ??= []).Add(i);
        return selecting is null ? [] : selecting.ToArray();
    }

    /// <summary>Whether the server's sidecar judges the connection at all: TCP, and not a node's probe of a pod.</summary>
    private static bool IstioJudges(Endpoint client, byte protocol) => protocol == IpProtocols.Tcp && client.Kind != EndpointKind.Node;

    /// <summary>
    /// The Istio verdict for one connection over the policies in <paramref name="selecting"/>: null when allowed;
    /// otherwise the reason (<see cref="DeniedUnexplained"/> when <paramref name="matched"/> is null). Matched ALLOW
    /// rules are added to <paramref name="matched"/>.
    /// </summary>
    private string? IstioDenial(int[] selecting, Endpoint client, Endpoint server, ushort port, byte protocol, List<(int, IntentRule)>? matched)
    {
        string trustDomain = _options.Istio.TrustDomain;
        foreach (int index in selecting)
        {
            var policy = _istio[index];
            if (policy.Action != IstioAction.Deny || policy.Rules is null) continue; // a DENY policy without rules denies nothing
            foreach (var rule in policy.Rules)
            {
                var match = rule.MatchesConnection(client, port, trustDomain, deny: true);
                if (match == Tri.No) continue;
                if (matched is null) return DeniedUnexplained;
                return match == Tri.Yes
                    ? $"denied by {rule.Name} (DENY) for {Connection(client, server, port, protocol)}"
                    : $"{rule.Name} (DENY) may deny {Connection(client, server, port, protocol)} (it names what the flows do not show, such as the client's service account; a deny rule is taken to match)";
            }
        }
        bool anyAllow = false, allowed = false;
        string? maybe = null;
        foreach (int index in selecting)
        {
            var policy = _istio[index];
            if (policy.Action != IstioAction.Allow) continue;
            anyAllow = true;
            // An ALLOW policy without rules matches nothing: the workload then allows only what another ALLOW policy matches.
            foreach (var rule in policy.Rules ?? [])
            {
                var match = rule.MatchesConnection(client, port, trustDomain, deny: false);
                if (match == Tri.Yes)
                {
                    if (matched is null) return null;
                    matched.Add((rule.Ordinal, rule.Rule));
                    allowed = true;
                }
                else if (match == Tri.Unknown) maybe ??= rule.Name;
            }
        }
        if (!anyAllow || allowed) return null;
        if (matched is null) return DeniedUnexplained;
        var policies = selecting.Where(i => _istio[i].Action == IstioAction.Allow).Select(i => _istio[i].Id).ToArray();
        string by = string.Join(", ", policies.Take(3)) + (policies.Length > 3 ? $" and {policies.Length - 3} more" : "");
        string reason = $"Istio: {by} (ALLOW) appl{(policies.Length == 1 ? "ies" : "y")} to {server} and no rule allows {Connection(client, server, port, protocol)}";
        if (maybe is not null) reason += $" ({maybe} may: it names what the flows do not show, such as the client's service account; taken as not allowing)";
        return reason;
    }

    /// <summary>The Istio verdict with the index (or without, for the reference evaluator); null when allowed.</summary>
    private string? IstioVerdict(Endpoint client, Endpoint server, ushort port, byte protocol, List<(int, IntentRule)>? matched)
    {
        if (_istio.Length == 0 || !IstioJudges(client, protocol)) return null;
        var selecting = _options.UseIndex ? Facts(server).IstioSelecting : IstioSelecting(server);
        return selecting.Length == 0 ? null : IstioDenial(selecting, client, server, port, protocol, matched);
    }

    /// <summary>
    /// Every source of every Istio rule, numbered, for endpoint classes: what a rule's sources say about a client (the
    /// ports and the selected server are the same for every client).
    /// </summary>
    private IstioSource[] IstioSources() =>
        _istio.SelectMany(p => p.Rules ?? []).SelectMany(r => r.From ?? []).ToArray();

    /// <summary>Appends, for each source of <paramref name="sources"/>, its number and how it matches <paramref name="client"/>.</summary>
    private void AddIstioSourceMatches(IstioSource[] sources, Endpoint client, List<int> signature)
    {
        for (int i = 0; i < sources.Length; i++)
            signature.Add(i * 3 + (int)sources[i].MatchesPeer(client, _options.Istio.TrustDomain));
    }
}
