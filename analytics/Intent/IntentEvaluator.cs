using System.Collections.Concurrent;
using FlowPolicy.Analytics.Intent.Internal;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Analytics.Intent;

/// <summary>Resolves a named port ("http") of a server endpoint to its number, or null when it does not declare it.</summary>
internal delegate ushort? NamedPortResolver(Endpoint server, string name, byte protocol);

public sealed class IntentEvaluatorOptions
{
    /// <summary>
    /// Named ports in NetworkPolicies are resolved against the server's declared container ports, which an
    /// <see cref="Endpoint"/> does not carry. Without a resolver (or when it returns null) a named port matches nothing.
    /// </summary>
    internal NamedPortResolver? NamedPorts { get; init; }
    /// <summary>
    /// Namespace labels the data showed (namespace -> labels: Hubble records, Namespace objects in the inventory), for
    /// namespaces the policy set does not declare; a namespace the policy set declares keeps the policy set's labels.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string>>>? NamespaceLabels { get; init; }
    /// <summary>
    /// The addresses of each node (node name -> addresses: kubectl nodes JSON, node leases). An ipBlock matches a
    /// <c>node:NAME</c> endpoint when it holds one of that node's addresses, as it does on a cluster (node addresses
    /// are not pod addresses); without them a node matches no ipBlock.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<PackedIp>>? NodeAddresses { get; init; }
    /// <summary>False evaluates every policy and rule for every connection: the reference the indexes are tested against.</summary>
    public bool UseIndex { get; init; } = true;
    /// <summary>
    /// Address endpoints (every internet client is one) memoised at most; past it they are computed per connection
    /// from the few rules that can name an address, so memory stays bounded on a scan of the whole internet.
    /// </summary>
    public int MaxMemoisedAddresses { get; init; } = 200_000;
    /// <summary>Istio's root namespace (a policy there applies to every namespace) and trust domain (principals are
    /// <c>TRUST_DOMAIN/ns/NS/sa/SA</c>): <see cref="IstioMesh"/>.</summary>
    public IstioMesh Istio { get; init; } = IstioMesh.Default;

    public void Validate()
    {
        if (MaxMemoisedAddresses < 0) throw new ArgumentException("MaxMemoisedAddresses cannot be negative");
        ArgumentNullException.ThrowIfNull(Istio);
        Istio.Validate();
    }
}

/// <summary>
/// Counters of one evaluator, read any time from any thread, and the same counts on the static Meter
/// <see cref="MeterName"/> (docs/metrics.md; static as a library's meters are: evaluators are created per run).
/// </summary>
internal sealed class IntentEvaluatorMetrics
{
    public const string MeterName = "FlowPolicy.Intent";
    private static readonly System.Diagnostics.Metrics.Meter Meter = new(MeterName);
    private static readonly System.Diagnostics.Metrics.Counter<long> EvaluationsCounter =
        Meter.CreateCounter<long>("flowpolicy.intent.evaluations", "{decision}", "Connections judged against the intended policy");
    private static readonly System.Diagnostics.Metrics.Counter<long> DeniedCounter =
        Meter.CreateCounter<long>("flowpolicy.intent.denied", "{decision}", "Connections the intended policy denies");
    private static readonly System.Diagnostics.Metrics.Counter<long> IndexedCounter =
        Meter.CreateCounter<long>("flowpolicy.intent.endpoints.indexed", "{endpoint}", "Endpoints whose selecting policies and matching rules were computed");

    private readonly Core.Metrics.InstanceCounter _evaluations = new(EvaluationsCounter);
    private readonly Core.Metrics.InstanceCounter _denied = new(DeniedCounter);
    private readonly Core.Metrics.InstanceCounter _endpointsIndexed = new(IndexedCounter);

    public long Evaluations => _evaluations.Value;
    public long Denied => _denied.Value;
    /// <summary>Distinct endpoints whose selecting policies and matching rules were computed (once each).</summary>
    public long EndpointsIndexed => _endpointsIndexed.Value;

    internal void Evaluated() => _evaluations.Add(1);
    internal void Deny() => _denied.Add(1);
    internal void Indexed() => _endpointsIndexed.Add(1);
}

/// <summary>
/// The intended policy: a connection is allowed when the network layer (Kubernetes NetworkPolicies and Cilium policies)
/// allows it AND the FlowPolicies allow it AND Istio's AuthorizationPolicies at the server's sidecar allow it (docs/intent.md). Thread-safe. Per distinct endpoint it computes once which NetworkPolicies
/// select it, which FlowPolicies govern it and which FlowPolicy rules can match it on each side, so evaluating an edge
/// costs the rules of the policies that concern its two endpoints, not every rule there is.
/// </summary>
public sealed partial class IntentEvaluator : IIntentEvaluator
{
    private readonly IntentEvaluatorOptions _options;
    private readonly NetworkPolicyDefinition[] _networkPolicies;
    private readonly Dictionary<string, NetworkPolicyDefinition[]> _networkPoliciesByNamespace;
    private readonly FlowPolicyDefinition[] _flowPolicies;
    private readonly FlowPolicyRule[] _flowRules;
    private readonly int[] _flowRuleOwner;
    private readonly int[] _addressFromCandidates;
    private readonly int[] _addressToCandidates;
    private readonly NamespaceLabelBook _namespaceLabels;
    private readonly CiliumPolicyDefinition[] _cilium;
    /// <summary>Cilium specs that can select an endpoint of a namespace (indexes into <see cref="_cilium"/>): its own, then the clusterwide ones.</summary>
    private readonly Dictionary<string, int[]> _ciliumByNamespace;
    private readonly int[] _ciliumClusterwide;
    /// <summary>Istio ALLOW and DENY policies that apply (targetRefs are not resolved; AUDIT and CUSTOM decide nothing here).</summary>
    private readonly IstioPolicyDefinition[] _istio;
    private readonly ConcurrentDictionary<string, EndpointFacts[]> _facts = new(StringComparer.Ordinal);
    private long _memoisedAddresses;

    public IntentEvaluator(IntentPolicySet policies, IntentEvaluatorOptions? options = null)
    {
        _options = options ?? new IntentEvaluatorOptions();
        _options.Validate();
        _networkPolicies = policies.NetworkPolicies.ToArray();
        _networkPoliciesByNamespace = _networkPolicies.GroupBy(p => p.Namespace, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
        _flowPolicies = policies.FlowPolicies.ToArray();
        var rules = new List<FlowPolicyRule>();
        var owners = new List<int>();
        for (int p = 0; p < _flowPolicies.Length; p++)
            foreach (var rule in _flowPolicies[p].Rules)
            {
                rules.Add(rule);
                owners.Add(p);
            }
        _flowRules = rules.ToArray();
        _flowRuleOwner = owners.ToArray();
        // Address endpoints are numerous (every internet client); only rules that can name an address are tried for them.
        _addressFromCandidates = Enumerable.Range(0, _flowRules.Length).Where(i => CanMatchAddress(_flowRules[i].From)).ToArray();
        _addressToCandidates = Enumerable.Range(0, _flowRules.Length).Where(i => CanMatchAddress(_flowRules[i].To)).ToArray();
        // What the data showed first, then what the user declared (Namespace objects among the policies, --namespaces):
        // a namespace declared there keeps exactly the declared labels.
        _namespaceLabels = new NamespaceLabelBook(_options.NamespaceLabels, policies.NamespaceLabels);

        _cilium = policies.CiliumPolicies.ToArray();
        _ciliumClusterwide = Enumerable.Range(0, _cilium.Length).Where(i => _cilium[i].Namespace is null).ToArray();
        _ciliumByNamespace = Enumerable.Range(0, _cilium.Length).Where(i => _cilium[i].Namespace is not null)
            .GroupBy(i => _cilium[i].Namespace!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Concat(_ciliumClusterwide).Order().ToArray(), StringComparer.Ordinal);

        _istio = policies.IstioPolicies.Where(p => p.Action is IstioAction.Allow or IstioAction.Deny && !p.HasTargetRefs).ToArray();

        Rules = _networkPolicies.SelectMany(p => p.IngressRules.Concat(p.EgressRules)).Select(r => (r.Ordinal, r.Rule))
            .Concat(_flowRules.Where(r => !r.Deny).Select(r => (r.Ordinal, r.Rule)))
            .Concat(_cilium.SelectMany(p => p.Ingress.Concat(p.Egress)).Where(r => !r.MatchesNothing).Select(r => (r.Ordinal, r.Rule)))
            .Concat(_istio.Where(p => p.Action == IstioAction.Allow).SelectMany(p => p.Rules ?? []).Select(r => (r.Ordinal, r.Rule)))
            .OrderBy(r => r.Ordinal).Select(r => r.Rule).ToArray();
    }

    public IReadOnlyList<IntentRule> Rules { get; }
    internal IntentEvaluatorMetrics Metrics { get; } = new();
    /// <summary>The evaluators' Meter (<see cref="IntentEvaluatorMetrics"/>), for the /metrics exporters.</summary>
    public const string MeterName = IntentEvaluatorMetrics.MeterName;

    private static bool CanMatchAddress(EndpointPattern[] patterns) => patterns.Length == 0 || patterns.Any(p => p.CanMatchAddresses);

    public IntentDecision Evaluate(Endpoint client, Endpoint server, ushort port, byte protocol) => Evaluate(client, server, port, protocol, names: null);

    /// <summary>With the edge's DNS names, so Cilium toFQDNs rules can match its external server by name.</summary>
    public IntentDecision Evaluate(Edge edge) => Evaluate(edge.Client, edge.Server, edge.Port, edge.Protocol, edge.L7?.Names);

    private IntentDecision Evaluate(Endpoint client, Endpoint server, ushort port, byte protocol, IReadOnlyList<PeerName>? names)
    {
        Metrics.Evaluated();
        var matched = new List<(int Ordinal, IntentRule Rule)>();
        List<string>? denials = null;
        string? exemption = null;

        // --- NetworkPolicy and Cilium policies (one repository, as in Cilium): egress side of the client, ingress side of the server.
        var egressPolicies = _options.UseIndex ? Facts(client).EgressSelecting : Selecting(client, egress: true);
        var egressCilium = _options.UseIndex ? Facts(client).CiliumEgressSelecting : CiliumSelecting(client, egress: true);
        if ((egressPolicies.Length > 0 || egressCilium.Length > 0)
            && SideDenial(egress: true, egressPolicies, egressCilium, client, server, port, protocol, names, matched) is { } egressDenial)
            (denials ??= []).Add(egressDenial);

        var ingressCilium = _options.UseIndex ? Facts(server).CiliumIngressSelecting : CiliumSelecting(server, egress: false);
        if (client.Kind == EndpointKind.Node && IsWorkload(server))
        {
            exemption = "traffic from a node to pods is always allowed (kubelet probes)";
            // Policies that spell the nodes out (Cilium's fromEntities host, remote-node; a NetworkPolicy ipBlock per node
            // address: suggest writes both) are used, not stale, though the exemption lets the traffic through anyway.
            var ingressPolicies = _options.UseIndex ? Facts(server).IngressSelecting : Selecting(server, egress: false);
            if (ingressPolicies.Length > 0 || ingressCilium.Length > 0)
                SideDenial(egress: false, ingressPolicies, ingressCilium, client, server, port, protocol, names, matched);
        }
        else
        {
            var ingressPolicies = _options.UseIndex ? Facts(server).IngressSelecting : Selecting(server, egress: false);
            if ((ingressPolicies.Length > 0 || ingressCilium.Length > 0)
                && SideDenial(egress: false, ingressPolicies, ingressCilium, client, server, port, protocol, names, matched) is { } ingressDenial)
                (denials ??= []).Add(ingressDenial);
        }

        // --- FlowPolicy: deny rules, then allow rules, then the defaultAction of the policies that govern the connection.
        if (_flowPolicies.Length > 0)
        {
            var flow = _options.UseIndex ? EvaluateFlowIndexed(client, server, port, protocol, matched) : EvaluateFlowBruteForce(client, server, port, protocol, matched);
            if (flow is not null) (denials ??= []).Add(flow);
        }

        // --- Istio at the server's sidecar: its own layer, ANDed with the others.
        if (IstioVerdict(client, server, port, protocol, matched) is { } istio) (denials ??= []).Add(istio);

        matched.Sort(static (a, b) => a.Ordinal.CompareTo(b.Ordinal));
        var rules = matched.Count == 0 ? Array.Empty<IntentRule>() : matched.Select(m => m.Rule).ToArray();
        if (denials is not null)
        {
            Metrics.Deny();
            return new IntentDecision(false, rules, string.Join("; ", denials));
        }
        string reason = rules.Length > 0 ? "allowed by " + string.Join(", ", rules.Take(4).Select(r => r.ToString())) + (rules.Length > 4 ? $" and {rules.Length - 4} more" : "")
            : exemption ?? "no policy isolates either side";
        return new IntentDecision(true, rules, reason);
    }

    // ---------------- NetworkPolicy

    private static bool IsWorkload(Endpoint endpoint) =>
        endpoint.Kind is EndpointKind.Pod or EndpointKind.Service && endpoint.Namespace is not null && !endpoint.IsAddress;

    private static bool Selects(NetworkPolicyDefinition policy, Endpoint endpoint) =>
        IsWorkload(endpoint) && endpoint.Namespace == policy.Namespace && policy.PodSelector.Matches(endpoint.Labels);

    private NetworkPolicyDefinition[] Selecting(Endpoint endpoint, bool egress) =>
        _networkPolicies.Where(p => (egress ? p.IsolatesEgress : p.IsolatesIngress) && Selects(p, endpoint)).ToArray();

    /// <summary>
    /// Checks every rule (not just the first that allows) so every matching rule is reported; without
    /// <paramref name="matched"/> it stops at the first.
    /// </summary>
    private bool AnyRuleAllows(NetworkPolicyDefinition[] policies, bool egress, Endpoint client, Endpoint server, ushort port, byte protocol,
        List<(int, IntentRule)>? matched)
    {
        var peer = egress ? server : client;
        bool any = false;
        foreach (var policy in policies)
            foreach (var rule in egress ? policy.EgressRules : policy.IngressRules)
                if (PortsMatch(rule.Ports, server, port, protocol) && PeersMatch(rule.Peers, policy.Namespace, peer))
                {
                    if (matched is null) return true;
                    matched.Add((rule.Ordinal, rule.Rule));
                    any = true;
                }
        return any;
    }

    private bool PortsMatch(NetworkPolicyPort[]? ports, Endpoint server, ushort port, byte protocol)
    {
        if (ports is null) return true;
        foreach (var item in ports)
        {
            if (item.Protocol != protocol) continue;
            if (item.Name is { } name)
            {
                if (_options.NamedPorts?.Invoke(server, name, protocol) is { } resolved && resolved == port) return true;
            }
            else if (item.Port is not { } first || (port >= first && port <= (item.EndPort ?? first))) return true;
        }
        return false;
    }

    private bool PeersMatch(NetworkPolicyPeer[]? peers, string policyNamespace, Endpoint endpoint)
    {
        if (peers is null) return true;
        foreach (var peer in peers)
        {
            if (peer.IpBlock is { } block)
            {
                // ipBlock names addresses; workloads are matched by selectors only (as Cilium does).
                if (endpoint.IsAddress && block.Contains(endpoint.Address)) return true;
                foreach (var address in NodeAddressesOf(endpoint))
                    if (block.Contains(address)) return true;
                continue;
            }
            if (!IsWorkload(endpoint)) continue;
            if (peer.NamespaceSelector is { } namespaces)
            {
                if (!namespaces.Matches(LabelsOfNamespace(endpoint.Namespace!))) continue;
            }
            else if (endpoint.Namespace != policyNamespace) continue; // a bare podSelector means the policy's namespace
            if (peer.PodSelector is { } pods && !pods.Matches(endpoint.Labels)) continue;
            return true;
        }
        return false;
    }

    private IReadOnlyList<PackedIp> NodeAddressesOf(Endpoint endpoint) =>
        endpoint.Kind == EndpointKind.Node && _options.NodeAddresses is { } nodes && nodes.TryGetValue(endpoint.Name, out var addresses)
            ? addresses : [];

    private IReadOnlyList<KeyValuePair<string, string>> LabelsOfNamespace(string ns) => _namespaceLabels.Of(ns);

    private static string Names(NetworkPolicyDefinition[] policies) =>
        string.Join(", ", policies.Take(3).Select(p => p.Id)) + (policies.Length > 3 ? $" and {policies.Length - 3} more" : "");

    private static string Connection(Endpoint client, Endpoint server, ushort port, byte protocol) =>
        $"{client} -> {server}:{port}/{IpProtocols.Name(protocol)}";

    // ---------------- FlowPolicy

    private string? EvaluateFlowIndexed(Endpoint client, Endpoint server, ushort port, byte protocol, List<(int, IntentRule)> matched)
    {
        var governing = FlowIndexed(client, server, port, protocol, matched, out var deny, out bool allowed);
        return governing.Length == 0 ? null : FlowVerdict(governing, deny, allowed, client, server, port, protocol);
    }

    /// <summary>The governing FlowPolicies (ascending), the first deny rule and whether an allow rule matched.</summary>
    private int[] FlowIndexed(Endpoint client, Endpoint server, ushort port, byte protocol, List<(int, IntentRule)>? matched,
        out FlowPolicyRule? deny, out bool allowed)
    {
        var clientFacts = Facts(client);
        var serverFacts = Facts(server);
        var governing = Union(clientFacts.FlowGovernsAsClient, serverFacts.FlowGovernsAsServer);
        deny = null;
        allowed = false;
        if (governing.Length == 0) return governing;
        // Rules whose `from` matches the client and whose `to` matches the server: a merge of two sorted lists.
        int[] from = clientFacts.FlowFromRules, to = serverFacts.FlowToRules;
        for (int i = 0, j = 0; i < from.Length && j < to.Length;)
        {
            if (from[i] < to[j]) { i++; continue; }
            if (from[i] > to[j]) { j++; continue; }
            int index = from[i];
            i++; j++;
            var rule = _flowRules[index];
            if (Array.BinarySearch(governing, _flowRuleOwner[index]) < 0 || !rule.MatchesPort(port, protocol)) continue;
            if (rule.Deny) deny ??= rule;
            else
            {
                matched?.Add((rule.Ordinal, rule.Rule));
                allowed = true;
            }
        }
        return governing;
    }

    private string? EvaluateFlowBruteForce(Endpoint client, Endpoint server, ushort port, byte protocol, List<(int, IntentRule)> matched)
    {
        var governing = new List<int>();
        FlowPolicyRule? deny = null;
        bool allowed = false;
        for (int p = 0; p < _flowPolicies.Length; p++)
        {
            var policy = _flowPolicies[p];
            if (!policy.Governs(client, server)) continue;
            governing.Add(p);
            foreach (var rule in policy.Rules)
            {
                if (!FlowPolicyRule.MatchesAny(rule.From, client) || !FlowPolicyRule.MatchesAny(rule.To, server) || !rule.MatchesPort(port, protocol)) continue;
                if (rule.Deny) deny ??= rule;
                else
                {
                    matched.Add((rule.Ordinal, rule.Rule));
                    allowed = true;
                }
            }
        }
        return governing.Count == 0 ? null : FlowVerdict(governing.ToArray(), deny, allowed, client, server, port, protocol);
    }

    /// <summary>Precedence: a deny rule wins, then an allow rule, then any governing defaultAction: deny.</summary>
    private string? FlowVerdict(int[] governing, FlowPolicyRule? deny, bool allowed, Endpoint client, Endpoint server, ushort port, byte protocol)
    {
        if (deny is not null) return $"denied by FlowPolicy rule {deny.Rule} for {Connection(client, server, port, protocol)}";
        if (allowed) return null;
        var denying = governing.Where(p => _flowPolicies[p].DefaultDeny).ToArray();
        if (denying.Length == 0) return null;
        return $"{string.Join(", ", denying.Take(3).Select(p => _flowPolicies[p].Id))}{(denying.Length > 3 ? $" and {denying.Length - 3} more" : "")} " +
            $"(defaultAction deny) govern{(denying.Length == 1 ? "s" : "")} {Connection(client, server, port, protocol)} and no FlowPolicy rule allows it";
    }

    private static int[] Union(int[] a, int[] b)
    {
        if (a.Length == 0) return b;
        if (b.Length == 0) return a;
        var union = new int[a.Length + b.Length];
        a.CopyTo(union, 0);
        b.CopyTo(union, a.Length);
        Array.Sort(union);
        int n = 1;
        for (int i = 1; i < union.Length; i++)
            if (union[i] != union[n - 1]) union[n++] = union[i];
        return n == union.Length ? union : union[..n];
    }

    // ---------------- Per-endpoint index

    /// <summary>What the policies say about one endpoint, computed once per endpoint key.</summary>
    private sealed class EndpointFacts
    {
        public required IReadOnlyList<KeyValuePair<string, string>> Labels { get; init; }
        public required NetworkPolicyDefinition[] IngressSelecting { get; init; }
        public required NetworkPolicyDefinition[] EgressSelecting { get; init; }
        /// <summary>Cilium specs (indexes, ascending) that select the endpoint and have ingress / egress rules.</summary>
        public required int[] CiliumIngressSelecting { get; init; }
        public required int[] CiliumEgressSelecting { get; init; }
        /// <summary>Istio ALLOW/DENY policies (indexes, ascending) applying to the endpoint's sidecar as a server.</summary>
        public required int[] IstioSelecting { get; init; }
        /// <summary>FlowPolicy indexes (ascending) that govern the endpoint as a server / as a client.</summary>
        public required int[] FlowGovernsAsServer { get; init; }
        public required int[] FlowGovernsAsClient { get; init; }
        /// <summary>FlowPolicy rule indexes (ascending) whose `from` / `to` match the endpoint.</summary>
        public required int[] FlowFromRules { get; init; }
        public required int[] FlowToRules { get; init; }
    }

    /// <summary>
    /// Memoised per endpoint key. Selectors read labels, so facts are kept per label set under a key: two endpoints
    /// with one key and different labels (two inventories, a relabelled workload) each get their own, computed once.
    /// </summary>
    private EndpointFacts Facts(Endpoint endpoint)
    {
        if (_facts.TryGetValue(endpoint.Key, out var known))
            foreach (var facts in known)
                if (SameLabels(facts.Labels, endpoint.Labels)) return facts;
        var computed = Compute(endpoint);
        if (endpoint.IsAddress && Interlocked.Increment(ref _memoisedAddresses) > _options.MaxMemoisedAddresses) return computed;
        _facts.AddOrUpdate(endpoint.Key, static (_, added) => [added], static (_, existing, added) => [.. existing, added], computed);
        return computed;
    }

    private static bool SameLabels(IReadOnlyList<KeyValuePair<string, string>> a, IReadOnlyList<KeyValuePair<string, string>> b)
    {
        if (ReferenceEquals(a, b)) return true;
        if (a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++)
            if (a[i].Key != b[i].Key || a[i].Value != b[i].Value) return false;
        return true;
    }

    private EndpointFacts Compute(Endpoint endpoint)
    {
        Metrics.Indexed();
        NetworkPolicyDefinition[] ingress = [], egress = [];
        if (IsWorkload(endpoint) && _networkPoliciesByNamespace.TryGetValue(endpoint.Namespace!, out var inNamespace))
        {
            var selecting = inNamespace.Where(p => p.PodSelector.Matches(endpoint.Labels)).ToArray();
            ingress = selecting.Where(p => p.IsolatesIngress).ToArray();
            egress = selecting.Where(p => p.IsolatesEgress).ToArray();
        }
        var asServer = new List<int>();
        var asClient = new List<int>();
        for (int p = 0; p < _flowPolicies.Length; p++)
        {
            if (_flowPolicies[p].GovernsServer(endpoint)) asServer.Add(p);
            if (_flowPolicies[p].GovernsClient(endpoint)) asClient.Add(p);
        }
        IEnumerable<int> fromCandidates = endpoint.IsAddress ? _addressFromCandidates : Enumerable.Range(0, _flowRules.Length);
        IEnumerable<int> toCandidates = endpoint.IsAddress ? _addressToCandidates : Enumerable.Range(0, _flowRules.Length);
        return new EndpointFacts
        {
            Labels = endpoint.Labels,
            IngressSelecting = ingress,
            EgressSelecting = egress,
            CiliumIngressSelecting = CiliumSelecting(endpoint, egress: false),
            CiliumEgressSelecting = CiliumSelecting(endpoint, egress: true),
            IstioSelecting = IstioSelecting(endpoint),
            FlowGovernsAsServer = asServer.ToArray(),
            FlowGovernsAsClient = asClient.ToArray(),
            FlowFromRules = fromCandidates.Where(i => FlowPolicyRule.MatchesAny(_flowRules[i].From, endpoint)).ToArray(),
            FlowToRules = toCandidates.Where(i => FlowPolicyRule.MatchesAny(_flowRules[i].To, endpoint)).ToArray(),
        };
    }
}
