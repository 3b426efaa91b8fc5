using FlowPolicy.Core.Net;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Emitters;

/// <summary>
/// Istio AuthorizationPolicy (security.istio.io/v1): an allow-nothing policy per namespace and one ALLOW policy per
/// server workload. Istio authorises at the server's sidecar, for TCP only; it does not enforce egress.
/// </summary>
internal sealed class IstioEmitter : IPolicyEmitter
{
    public string Format => "istio";

    public string Assumptions =>
        "Istio: AuthorizationPolicy is enforced by the server's sidecar, so only ingress rules are emitted (egress to external addresses needs an egress gateway; it stays in suggestions.json). " +
        "Sidecars do not intercept UDP, so UDP rules (DNS, media) are not emitted and UDP is not restricted by these files. " +
        "Kubelet probes are rewritten by the sidecar injector to the pilot-agent port (15020), which AuthorizationPolicy does not apply to, so no node rule is emitted. " +
        "Workload clients are named by principal cluster.local/ns/NAMESPACE/sa/SERVICEACCOUNT with the service account the flows or the inventory named (Hubble's io.cilium.k8s.policy.serviceaccount, a pod's spec.serviceAccountName, a lease's service_account); " +
        "where none named it, the principal guesses a service account named after the workload (sa/WORKLOAD): check those. Principals need mTLS on. " +
        "Address clients use ipBlocks (the direct peer); behind an ingress gateway use remoteIpBlocks.";

    public static string Principal(Peer workload) => $"cluster.local/ns/{workload.Namespace}/sa/{workload.ServiceAccount ?? workload.Workload}";

    public EmitResult Emit(SuggestionSet set, IReadOnlyList<string> namespaces, EmittedFiles files)
    {
        foreach (var ns in namespaces)
        {
            var deny = Policy("allow-nothing", ns, set, 0, [("purpose", "an ALLOW-less policy: every workload of the namespace denies what no ALLOW policy permits")]);
            deny.Add("spec", YamlNode.Map());
            files.Add(new EmittedFile($"istio/{PolicyText.Name(ns)}/00-allow-nothing.yaml", [deny]));
            foreach (var workload in PolicyText.WorkloadsIn(set, ns))
            {
                var ingress = PolicyText.IngressOf(set, workload).Where(r => r.Protocol == IpProtocols.Tcp && r.Client.Kind != PeerKind.Nodes).ToList();
                if (ingress.Count == 0) continue;
                string name = PolicyText.Name(workload.Workload!);
                var doc = Policy(name, ns, set, ingress.Count, []);
                var rules = YamlNode.Seq();
                foreach (var rule in ingress) rules.Add(new EvidenceComment(rule)).Add(Rule(rule));
                doc.Add("spec", YamlNode.Map()
                    .Add("selector", YamlNode.Map().Add("matchLabels", PolicyText.MatchLabels(workload.Selector)))
                    .Add("action", "ALLOW")
                    .Add("rules", rules));
                files.Add(new EmittedFile($"istio/{PolicyText.Name(ns)}/{name}.yaml", [doc]));
            }
        }
        return new EmitResult(Format, files.Count, []);
    }

    /// <summary>Notes about the whole set (not per namespace): made once, after every part.</summary>
    public IReadOnlyList<string> Notes(SuggestionSet set, IReadOnlyList<string> namespaceNotes)
    {
        var notes = new List<string>(namespaceNotes);
        foreach (var rule in set.Rules.Where(r => r.Protocol != IpProtocols.Tcp))
            notes.Add($"{rule.Id} ({rule}): {rule.ProtocolName} is not intercepted by the sidecar; not restricted by Istio.");
        foreach (var rule in set.Rules.Where(r => !r.Server.IsWorkload && r.Protocol == IpProtocols.Tcp))
            notes.Add($"{rule.Id} ({rule}): egress to a non-workload; AuthorizationPolicy does not enforce it (use an egress gateway).");
        return notes;
    }

    private static YamlMap Policy(string name, string ns, SuggestionSet set, int rules, IEnumerable<(string, string)> annotations) =>
        YamlNode.Map()
            .Add("apiVersion", "security.istio.io/v1")
            .Add("kind", "AuthorizationPolicy")
            .Add("metadata", PolicyText.Metadata(name, ns, set, rules, annotations));

    private static YamlMap Rule(SuggestedRule rule)
    {
        var source = YamlNode.Map();
        if (rule.Client.IsWorkload)
            source.Add("principals", YamlNode.Seq().Add(YamlNode.Str(Principal(rule.Client))));
        else
        {
            var blocks = YamlNode.Seq();
            foreach (var block in rule.Client.Cidrs) blocks.Add(YamlNode.Str(block.ToString()));
            source.Add("ipBlocks", blocks);
            if (rule.Client.Except.Count > 0)
            {
                var not = YamlNode.Seq();
                foreach (var block in rule.Client.Except) not.Add(YamlNode.Str(block.ToString()));
                source.Add("notIpBlocks", not);
            }
        }
        return YamlNode.Map()
            .Add("from", YamlNode.Seq().Add(YamlNode.Map().Add("source", source)))
            .Add("to", YamlNode.Seq().Add(YamlNode.Map().Add("operation", YamlNode.Map()
                .Add("ports", YamlNode.Seq().Add(YamlNode.Str(rule.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)))))));
    }
}
