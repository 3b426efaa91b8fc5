using System.Globalization;
using FlowPolicy.Core.Net;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Emitters;

/// <summary>
/// Istio AuthorizationPolicy (security.istio.io/v1): an allow-nothing policy per namespace and ALLOW policies per
/// server workload, one rule per port listing every client (principals, address blocks). Istio authorises at the
/// server's sidecar, for TCP only; it does not enforce egress.
/// </summary>
internal sealed class IstioEmitter(bool l7 = false, string trustDomain = "cluster.local") : IPolicyEmitter
{
    private readonly bool _l7 = l7;
    private readonly string _trustDomain = trustDomain;

    /// <summary>The CRD's maxItems on spec.rules (istio 1.29.2 crd-all.gen.yaml, as @kubernetes-models/istio 3.0.1 carries it).</summary>
    public const int MaxRules = 512;

    public string Format => "istio";

    public string Assumptions =>
        "Istio: AuthorizationPolicy is enforced by the server's sidecar, so only ingress rules are emitted (egress to external addresses needs an egress gateway; it stays in suggestions.json). " +
        "Sidecars do not intercept UDP, so UDP rules (DNS, media) are not emitted and UDP is not restricted by these files. " +
        "Kubelet probes are rewritten by the sidecar injector to the pilot-agent port (15020), which AuthorizationPolicy does not apply to, so no node rule is emitted. " +
        $"Workload clients are named by principal {_trustDomain}/ns/NAMESPACE/sa/SERVICEACCOUNT (the trust domain: --istio-trust-domain, default cluster.local; it must be the mesh's, else no principal matches and the ALLOW policies deny every workload client) with the service account the flows or the inventory named (Hubble's io.cilium.k8s.policy.serviceaccount, a pod's spec.serviceAccountName, a lease's service_account); " +
        "where none named it, the principal guesses a service account named after the workload (sa/WORKLOAD): check those. Principals need mTLS on. " +
        "Address clients use ipBlocks (the direct peer); behind an ingress gateway use remoteIpBlocks. " +
        "Clients on the same port are one rule (at most 512 rules per policy, the CRD's limit; more are split over several ALLOW policies, which add up)." +
        (_l7
            ? " L7 (--l7): where every edge of a rule showed HTTP or gRPC operations, the rule allows only those: one to.operation per method with the observed paths (gRPC: POST /package.Service/Method); " +
              "identifier segments are the path template {*} (Istio 1.22+ path templates; an older Istio rejects the policy: replace them by a prefix such as /users/*). Other requests get 403 from the sidecar. " +
              "External hosts a namespace reached by DNS name are one ServiceEntry per namespace (exportTo '.', MESH_EXTERNAL; resolution NONE, since wildcard hosts cannot use DNS resolution): it matters when the mesh's outboundTrafficPolicy is REGISTRY_ONLY (then only registered hosts are reachable); under the default ALLOW_ANY it changes nothing, and enforcing egress per workload needs an egress gateway."
            : "");

    public static string Principal(Peer workload, string trustDomain) => $"{trustDomain}/ns/{workload.Namespace}/sa/{workload.ServiceAccount ?? workload.Workload}";

    public EmitResult Emit(SuggestionSet set, IReadOnlyList<string> namespaces, EmittedFiles files)
    {
        var notes = new List<string>();
        foreach (var ns in PolicyText.WritableNamespaces(namespaces, notes))
        {
            var workloads = PolicyText.WorkloadsIn(set, ns).ToList();
            var names = new PolicyNames(workloads);
            var deny = Policy(PolicyNames.AllowNothing, ns, set, 0, [("purpose", "an ALLOW-less policy: every workload of the namespace denies what no ALLOW policy permits")]);
            deny.Add("spec", YamlNode.Map());
            files.Add(new EmittedFile($"istio/{ns}/{PolicyNames.AllowNothing}.yaml", [deny]));
            foreach (var workload in workloads)
            {
                var ingress = EmittedRules.Of(PolicyText.IngressOf(set, workload), ingress: true)
                    .Where(r => r.Protocol == IpProtocols.Tcp && r.Peer.Kind != PeerKind.Nodes).ToList();
                if (ingress.Count == 0) continue;
                var selector = SelectableLabels.OfPolicyWorkload(workload, notes, "allow-nothing");
                if (selector is null) continue;
                var rules = Rules(ingress, notes);
                var parts = EmittedRules.Chunks(rules, MaxRules, r => r.Size, EmittedRules.MaxObjectBytes).ToList();
                string stem = names.Stem(workload);
                for (int p = 0; p < parts.Count; p++)
                {
                    var list = YamlNode.Seq();
                    int count = 0;
                    foreach (var (comments, rule, _) in parts[p])
                    {
                        foreach (var c in comments) list.Add(c);
                        if (rule is null) continue;
                        list.Add(rule);
                        count++;
                    }
                    // An ALLOW policy without rules allows nothing; it would only repeat allow-nothing.
                    if (count == 0) continue;
                    string name = PolicyNames.Part(stem, p);
                    var doc = Policy(name, ns, set, count, []);
                    doc.Add("spec", YamlNode.Map()
                        .Add("selector", YamlNode.Map().Add("matchLabels", PolicyText.MatchLabels(selector)))
                        .Add("action", "ALLOW")
                        .Add("rules", list));
                    files.Add(new EmittedFile($"istio/{ns}/{name}.yaml", [doc]));
                }
            }
            if (_l7 && ExternalHosts(set, ns, workloads) is { } entry) files.Add(new EmittedFile($"istio/{ns}/{PolicyNames.ExternalHosts}.yaml", [entry]));
        }
        return new EmitResult(Format, files.Count, notes);
    }

    /// <summary>Notes about the whole set (not per namespace): made once, after every part.</summary>
    public IReadOnlyList<string> Notes(SuggestionSet set, IReadOnlyList<string> namespaceNotes)
    {
        var notes = new List<string>(namespaceNotes.Distinct());
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

    /// <summary>One rule per port (and at most <see cref="EmittedRules.MaxPeersPerRule"/> clients): principals in one source, address blocks by their exceptions.</summary>
    private List<(YamlNode[] Comments, YamlMap? Rule, long Size)> Rules(List<EmitRule> rules, List<string> notes)
    {
        var result = new List<(YamlNode[], YamlMap?, long)>();
        foreach (var ((port, l7Key), group) in EmittedRules.GroupInOrder(rules, r => (r.HasPort ? r.Port : (ushort)0, L7Key(r))))
        {
            foreach (var chunk in group.Chunk(EmittedRules.MaxPeersPerRule))
            {
                var comments = new List<YamlNode>();
                var principals = new List<string>();
                var blocks = new List<(string Except, List<string> Blocks, List<string> NotBlocks)>();
                long size = 200;
                foreach (var rule in chunk)
                {
                    if (rule.Peer.IsWorkload)
                    {
                        if (!KubernetesNames.IsDns1123Label(rule.Peer.Namespace) || !KubernetesNames.IsDns1123Subdomain(rule.Peer.Workload))
                        {
                            notes.Add($"{rule.Rule.Id} ({rule.Rule}): {rule.Peer.Key} cannot be a service account name, so its principal is unknown; not emitted (name the client's service account by hand).");
                            comments.Add(new EvidenceComment(rule.Rule, "not emitted (see report.md): "));
                            continue;
                        }
                        string principal = Principal(rule.Peer, _trustDomain);
                        if (!principals.Contains(principal)) principals.Add(principal);
                    }
                    else
                    {
                        var families = EmittedRules.Families(rule.Rule, rule.Peer);
                        var mine = EmittedRules.Blocks(rule.Peer, families).ToList();
                        var except = mine.SelectMany(b => b.Except).Distinct().ToList();
                        string exceptKey = string.Join(",", except);
                        int at = blocks.FindIndex(b => b.Except == exceptKey);
                        if (at < 0)
                        {
                            blocks.Add((exceptKey, [], except));
                            at = blocks.Count - 1;
                        }
                        foreach (var (block, _) in mine)
                            if (!blocks[at].Blocks.Contains(block.ToString())) blocks[at].Blocks.Add(block.ToString());
                    }
                    comments.Add(new EvidenceComment(rule.Rule, rule.AddedForDns ? "DNS on TCP too (resolvers fall back to TCP); added for: " : null));
                    size += EmittedRules.PeerSize(rule.Peer);
                }
                var from = YamlNode.Seq();
                if (principals.Count > 0)
                    from.Add(YamlNode.Map().Add("source", YamlNode.Map().Add("principals", Strings(principals))));
                foreach (var (_, list, not) in blocks)
                {
                    if (list.Count == 0) continue;
                    var source = YamlNode.Map().Add("ipBlocks", Strings(list));
                    if (not.Count > 0) source.Add("notIpBlocks", Strings(not));
                    from.Add(YamlNode.Map().Add("source", source));
                }
                if (from.ValueCount == 0)
                {
                    result.Add((comments.ToArray(), null, 0));
                    continue;
                }
                var item = YamlNode.Map().Add("from", from);
                if (port != 0 && l7Key.Length > 0)
                    item.Add("to", Operations(port, RuleL7.HttpOperations(chunk[0].Rule)!, comments));
                else if (port != 0)
                    item.Add("to", YamlNode.Seq().Add(YamlNode.Map().Add("operation", YamlNode.Map()
                        .Add("ports", YamlNode.Seq().Add(YamlNode.Str(port.ToString(CultureInfo.InvariantCulture)))))));
                else
                    notes.Add($"{chunk[0].Rule.Id} ({chunk[0].Rule}): port 0 is not a port; the rule allows those clients on every port.");
                result.Add((comments.ToArray(), item, size));
            }
        }
        return result;
    }

    /// <summary>The observed HTTP/gRPC operations of a rule (--l7), as a key that keeps clients with different operations apart; "" for none.</summary>
    private string L7Key(EmitRule rule) =>
        _l7 && rule.HasPort && rule.Protocol == IpProtocols.Tcp && RuleL7.HttpOperations(rule.Rule) is { } ops
            ? string.Join("|", ops.Select(o => o.Operation + " " + o.Resource))
            : "";

    /// <summary>One to.operation per method (methods and paths of one operation are ANDed, so one per method keeps GET /a from allowing GET /b's POST).</summary>
    private static YamlSeq Operations(ushort port, IReadOnlyList<Core.Edges.L7Operation> ops, List<YamlNode> comments)
    {
        var to = YamlNode.Seq();
        foreach (var byMethod in ops.GroupBy(o => o.Operation).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var operation = YamlNode.Map().Add("ports", YamlNode.Seq().Add(YamlNode.Str(port.ToString(CultureInfo.InvariantCulture))));
            if (byMethod.Key.Length > 0) operation.Add("methods", Strings([byMethod.Key]));
            operation.Add("paths", Strings(byMethod.Select(o => IstioPath(o.Resource)).Distinct()));
            foreach (var op in byMethod) comments.Add(new TextComment("L7 " + RuleL7.Evidence(op)));
            to.Add(YamlNode.Map().Add("operation", operation));
        }
        return to;
    }

    /// <summary>A path template in Istio's syntax: identifier placeholders become {*} (one segment).</summary>
    internal static string IstioPath(string template) =>
        template.Replace(Core.Edges.PathTemplate.Id, "{*}", StringComparison.Ordinal)
            .Replace(Core.Edges.PathTemplate.Uuid, "{*}", StringComparison.Ordinal)
            .Replace(Core.Edges.PathTemplate.Hash, "{*}", StringComparison.Ordinal);

    /// <summary>
    /// A ServiceEntry of the hosts the namespace's workloads reached by DNS name, with their TCP ports; null when none.
    /// Ports named by protocol as Istio requires (443: TLS, 80: HTTP, else TCP).
    /// </summary>
    private static YamlMap? ExternalHosts(SuggestionSet set, string ns, List<Peer> workloads)
    {
        var names = new List<string>();
        var ports = new SortedSet<ushort>();
        var comments = new List<YamlNode>();
        foreach (var workload in workloads)
            foreach (var rule in PolicyText.EgressOf(set, workload))
            {
                if (rule.Protocol != IpProtocols.Tcp || rule.Port == 0 || RuleL7.ServerNames(rule) is not { } ruleNames) continue;
                names.AddRange(ruleNames);
                ports.Add(rule.Port);
                comments.Add(new EvidenceComment(rule));
            }
        if (names.Count == 0) return null;
        var hosts = YamlNode.Seq();
        foreach (var c in comments) hosts.Add(c);
        foreach (var match in RuleL7.Matches(names)) hosts.Add(YamlNode.Str(match.Text));
        var portList = YamlNode.Seq();
        foreach (var port in ports)
        {
            string protocol = port == 443 ? "TLS" : port == 80 ? "HTTP" : "TCP";
            portList.Add(YamlNode.Map().Add("number", YamlNode.Int(port)).Add("name", $"{protocol.ToLowerInvariant()}-{port}").Add("protocol", protocol));
        }
        return YamlNode.Map()
            .Add("apiVersion", "networking.istio.io/v1")
            .Add("kind", "ServiceEntry")
            .Add("metadata", PolicyText.Metadata(PolicyNames.ExternalHosts, ns, set, 0, [("purpose", "external hosts this namespace reached by DNS name; needed under outboundTrafficPolicy REGISTRY_ONLY")]))
            .Add("spec", YamlNode.Map()
                .Add("hosts", hosts)
                .Add("exportTo", Strings(["."]))
                .Add("location", "MESH_EXTERNAL")
                .Add("ports", portList)
                .Add("resolution", "NONE"));
    }

    private static YamlSeq Strings(IEnumerable<string> values)
    {
        var seq = YamlNode.Seq();
        foreach (var v in values) seq.Add(YamlNode.Str(v));
        return seq;
    }
}
