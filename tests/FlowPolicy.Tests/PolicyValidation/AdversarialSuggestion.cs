using FlowPolicy.Analytics.Baseline;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Tests.PolicyValidation;

/// <summary>
/// Builds suggestion sets by hand, the way inference would hand them to the emitters, with what real clusters and
/// careless inventories contain: names that collide once made DNS-safe, reserved names, invalid labels, every protocol,
/// IPv6 and mixed families, thousands of clients of one server, node traffic.
/// </summary>
internal sealed class AdversarialSuggestion
{
    private static readonly DateTime Start = new(2026, 11, 2, 0, 0, 0, DateTimeKind.Utc);
    private readonly List<SuggestedRule> _rules = [];
    private readonly Dictionary<string, Peer> _workloads = new(StringComparer.Ordinal);
    private int _id;

    /// <summary>Helm-installed labels as a chart sets them (the per-release ones are what selectors must survive).</summary>
    public static (string, string)[] HelmLabels(string name) =>
    [
        ("app.kubernetes.io/name", name), ("app.kubernetes.io/instance", "prod-" + name), ("app.kubernetes.io/managed-by", "Helm"),
        ("app.kubernetes.io/part-of", "shop"), ("helm.sh/chart", name + "-1.4.2"), ("app.kubernetes.io/version", "1.4.2"),
    ];

    public Peer Workload(string ns, string name, string kind = "Deployment", params (string Key, string Value)[] labels)
    {
        var identity = new WorkloadIdentity(EndpointKind.Pod, ns, name, kind, name + "-7d4b9c-abcde",
            (labels.Length == 0 ? [("app", name)] : labels).Select(l => new KeyValuePair<string, string>(l.Key, l.Value)));
        var endpoint = Endpoint.FromIdentity(identity);
        var peer = Peer.ForWorkload(endpoint);
        _workloads.TryAdd(peer.Key, peer);
        return _workloads[peer.Key];
    }

    public static Endpoint EndpointOf(Peer workload) =>
        Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, workload.Namespace, workload.Workload, workload.WorkloadKind, null, workload.Selector));

    public SuggestedRule Allow(Peer client, Peer server, ushort port, byte protocol, params Endpoint[] observedClients)
    {
        var clientEndpoint = client.IsWorkload ? EndpointOf(client) : null;
        var serverEndpoint = server.IsWorkload ? EndpointOf(server)
            : server.Kind == PeerKind.Nodes ? Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Node, null, "node-a", "Node", "node-a"))
            : Endpoint.FromAddress(server.Cidrs[0].Network);
        var clients = observedClients.Length > 0 ? observedClients
            : [clientEndpoint ?? (client.Kind == PeerKind.Nodes
                ? Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Node, null, "node-a", "Node", "node-a"))
                : Endpoint.FromAddress(client.Cidrs[0].Network))];
        var edges = clients.Select(c => new Edge(c, serverEndpoint, port, protocol)
        {
            Flows = 100, Bytes = 10_000, Packets = 200, FirstSeen = Start, LastSeen = Start.AddDays(6), AllowedFlows = 100, ClientReplicas = 1,
        }).ToList();
        var rule = new SuggestedRule
        {
            Id = "r-" + (++_id).ToString("x8", System.Globalization.CultureInfo.InvariantCulture),
            Client = client,
            Server = server,
            Port = port,
            Protocol = protocol,
            Evidence = new RuleEvidence { Flows = 100 * edges.Count, Bytes = 10_000, FirstSeen = Start, LastSeen = Start.AddDays(6), DaysSeen = 7, ClientReplicas = 1, Edges = edges.Count },
            Periodicity = new Periodicity(PeriodicityPattern.Continuous, null, 7, "seen every day"),
            Confidence = RuleConfidence.High,
            ConfidenceReason = "continuous",
            FlagSet = RuleFlags.None,
            Flags = [],
            Edges = edges,
        };
        _rules.Add(rule);
        return rule;
    }

    public SuggestionSet Build() => new()
    {
        WindowStart = Start,
        WindowEnd = Start.AddDays(7),
        Rules = _rules,
        LeftOut = [],
        Groups = [],
        Warnings = [],
        Namespaces = _workloads.Values.Select(w => w.Namespace!).Distinct().Order(StringComparer.Ordinal).ToList(),
        Workloads = _workloads.Values.OrderBy(w => w.Key, StringComparer.Ordinal).ToList(),
    };

    public static Endpoint Address(string ip) => Endpoint.FromAddress(PackedIp.Parse(ip));
}
