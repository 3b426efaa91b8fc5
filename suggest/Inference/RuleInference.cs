using System.Globalization;
using FlowPolicy.Analytics.Edges;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Suggest.Inference;

/// <summary>
/// Observed edges -> least-privilege allow rules at workload-identity level (docs/suggest.md). Keeps every
/// dependency the baseline needs (DNS, start-up-only, weekly), leaves noise out with a reason, and widens an
/// address only where the report says by how much.
/// </summary>
public sealed class RuleInference
{
    private readonly SuggestOptions _options;

    public RuleInference(SuggestOptions? options = null)
    {
        _options = options ?? new SuggestOptions();
        _options.Validate();
    }

    public SuggestMetrics Metrics { get; } = new();

    public SuggestionSet Infer(IReadOnlyList<Edge> edges)
    {
        Metrics.EdgesIn += edges.Count;
        var (start, end) = Window(edges);
        double windowDays = Math.Max((end - start).TotalDays, 1.0 / 24);
        var leftOut = new List<LeftOutEdge>();
        var kept = new List<Edge>();
        var noise = NoiseByClient(edges);
        foreach (var edge in edges)
        {
            var reason = LeaveOutReason(edge, noise);
            if (reason is { } r) leftOut.Add(new LeftOutEdge(edge, r.Reason, r.Detail));
            else kept.Add(edge);
        }
        Metrics.EdgesKept += kept.Count;
        Metrics.EdgesLeftOut += leftOut.Count;

        // Clients that are up the whole window: a rare edge from them is a start-up or periodic dependency, not a one-off.
        var longLived = kept.Where(e => e.DaysSeen >= _options.ContinuousDayShare * Math.Round(windowDays))
            .Select(e => e.Client.Key).ToHashSet(StringComparer.Ordinal);

        var drafts = new List<Draft>();
        // Identity-to-identity rules (workloads and nodes on both sides).
        foreach (var group in kept.Where(e => !e.Client.IsAddress && !e.Server.IsAddress)
                     .GroupBy(e => (PeerKeyOf(e.Client), PeerKeyOf(e.Server), e.Port, e.Protocol)))
        {
            var first = group.First();
            drafts.Add(new Draft(PeerOf(first.Client), PeerOf(first.Server), first.Port, first.Protocol, group.ToList(), null));
        }
        // Address clients of a workload: internet clients, generalised blocks, or exact addresses.
        foreach (var group in kept.Where(e => e.Client.IsAddress).GroupBy(e => (e.Server.Key, e.Port, e.Protocol)))
        {
            var server = PeerOf(group.First().Server);
            var list = group.ToList();
            var publicClients = list.Where(e => e.Client.Kind == EndpointKind.External).Select(e => e.Client.Address).Distinct().Count();
            if (publicClients >= _options.InternetClientThreshold)
            {
                var internet = list.Where(e => Peer.Internet.Matches(e.Client)).ToList();
                drafts.Add(new Draft(Peer.Internet, server, group.Key.Port, group.Key.Protocol, internet,
                    string.Create(CultureInfo.InvariantCulture,
                        $"{publicClients} distinct internet clients on one port: any public address (0.0.0.0/0, ::/0 minus private ranges), about {AddedSpace(Peer.Internet, publicClients)} addresses more than observed")));
                list = list.Where(e => !Peer.Internet.Matches(e.Client)).ToList();
            }
            foreach (var (block, blockEdges, note) in Generalise(list, e => e.Client.Address))
                drafts.Add(new Draft(Peer.ForNetwork([block]), server, group.Key.Port, group.Key.Protocol, blockEdges, note));
        }
        // Address servers: egress to exact addresses or generalised blocks.
        foreach (var group in kept.Where(e => e.Server.IsAddress && !e.Client.IsAddress).GroupBy(e => (PeerKeyOf(e.Client), e.Port, e.Protocol)))
        {
            var client = PeerOf(group.First().Client);
            foreach (var (block, blockEdges, note) in Generalise(group.ToList(), e => e.Server.Address))
                drafts.Add(new Draft(client, Peer.ForNetwork([block]), group.Key.Port, group.Key.Protocol, blockEdges, note));
        }

        var rules = drafts.Select(d => Build(d, start, windowDays, longLived))
            .OrderBy(r => r.Server.Key, StringComparer.Ordinal).ThenBy(r => r.Client.Key, StringComparer.Ordinal)
            .ThenBy(r => r.Protocol).ThenBy(r => r.Port).ToList();
        Metrics.Rules += rules.Count;
        Metrics.GeneralisedRules += rules.Count(r => r.Generalisation is not null);
        Metrics.PeriodicRules += rules.Count(r => r.Flags.Contains("periodic"));

        var workloadEndpoints = edges.SelectMany(e => new[] { e.Client, e.Server }).Where(e => e.Kind == EndpointKind.Pod)
            .DistinctBy(e => e.Key).OrderBy(e => e.Key, StringComparer.Ordinal).ToList();
        var groups = DetectGroups(workloadEndpoints, kept);
        var warnings = Warnings(rules, groups, workloadEndpoints, windowDays);
        var workloads = rules.SelectMany(r => new[] { r.Client, r.Server }).Where(p => p.IsWorkload)
            .DistinctBy(p => p.Key).OrderBy(p => p.Key, StringComparer.Ordinal).ToList();
        var namespaces = workloadEndpoints.Select(e => e.Namespace).Where(n => n is not null).Select(n => n!)
            .Distinct().Order(StringComparer.Ordinal).ToList();
        return new SuggestionSet
        {
            WindowStart = start,
            WindowEnd = end,
            Rules = rules,
            LeftOut = leftOut,
            Groups = groups,
            Warnings = warnings,
            Namespaces = namespaces,
            Workloads = workloads,
            InputEdges = edges.Count,
        };
    }

    private (DateTime Start, DateTime End) Window(IReadOnlyList<Edge> edges)
    {
        var start = _options.WindowStart ?? (edges.Count == 0 ? DateTime.UnixEpoch : edges.Min(e => e.FirstSeen).Date);
        var end = _options.WindowEnd ?? (edges.Count == 0 ? start.AddDays(1) : edges.Max(e => e.LastSeen).Date.AddDays(1));
        return (DateTime.SpecifyKind(start, DateTimeKind.Utc), DateTime.SpecifyKind(end, DateTimeKind.Utc));
    }

    private static Peer PeerOf(Endpoint endpoint) => endpoint.Kind == EndpointKind.Node ? Peer.Nodes : Peer.ForWorkload(endpoint);

    /// <summary><c>PeerOf(endpoint).Key</c> without making the peer (grouping a million edges).</summary>
    private static string PeerKeyOf(Endpoint endpoint) => endpoint.Kind == EndpointKind.Node ? Peer.Nodes.Key : endpoint.Key;

    private (string Reason, string Detail)? LeaveOutReason(Edge edge, Dictionary<string, string> noise)
    {
        if (edge.Flows == 0) return ("reply-only", "only reply records seen: replies never become rules");
        if (noise.TryGetValue(edge.Client.Key, out var why)) return (why.StartsWith("scanner", StringComparison.Ordinal) ? "scanner" : "bare-pod", why);
        if (edge.Client.Kind == EndpointKind.Service || edge.Server.Kind == EndpointKind.Service)
            return ("service-address", "a Service virtual address: policies see the pods behind it; enrich with the backends");
        if (edge.Client.IsAddress && edge.Server.IsAddress)
            return ("outside-cluster", "neither side is a workload or node: no policy in the cluster applies");
        if ((edge.Client.Kind == EndpointKind.External && edge.Server.Kind == EndpointKind.Node)
            || (edge.Client.Kind == EndpointKind.Node && edge.Server.IsAddress))
            return ("node-traffic", "host traffic of a node with an address outside the cluster: not a pod policy's business");
        foreach (var side in new[] { edge.Client, edge.Server })
            if (side.Kind == EndpointKind.Pod && side.Labels.Count == 0)
                return ("no-selector", $"{side.Key} has no stable labels to select its pods by; label it and run again");
        return null;
    }

    /// <summary>Scanners and one-off bare pods, by client key, with the numbers that convicted them.</summary>
    private Dictionary<string, string> NoiseByClient(IReadOnlyList<Edge> edges)
    {
        var noise = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var client in edges.GroupBy(e => e.Client.Key))
        {
            var list = client.ToList();
            var endpoint = list[0].Client;
            if (endpoint.Kind == EndpointKind.Node) continue;
            int ports = list.Select(e => (e.Port, e.Protocol)).Distinct().Count();
            int servers = list.Select(e => e.Server.Key).Distinct().Count();
            long flows = list.Sum(e => e.Flows);
            double bytesPerFlow = flows == 0 ? 0 : list.Sum(e => (double)e.Bytes) / flows;
            // Unanswered: one packet per flow means no reply came back.
            double failed = list.Count(e => e.DeniedFlows * 2 >= e.Flows || e.Packets <= (ulong)e.Flows) / (double)list.Count;
            if ((ports >= _options.ScannerMinPorts || servers >= _options.ScannerMinServers)
                && bytesPerFlow <= _options.ScannerMaxBytesPerFlow && failed >= _options.ScannerMinFailedShare)
            {
                noise[client.Key] = string.Create(CultureInfo.InvariantCulture,
                    $"scanner: {ports} ports on {servers} servers, {bytesPerFlow:0} bytes per flow, {failed:P0} of its edges denied or unanswered");
                continue;
            }
            if (endpoint.WorkloadKind == "Pod")
            {
                var lifetime = list.Max(e => e.LastSeen) - list.Min(e => e.FirstSeen);
                if (lifetime < _options.BarePodMaxLifetime)
                    noise[client.Key] = string.Create(CultureInfo.InvariantCulture,
                        $"bare pod (no controller) active for {Minutes(lifetime)}: a one-off (debug shell, kubectl run)");
            }
        }
        return noise;
    }

    private static string Minutes(TimeSpan span) => span.TotalHours >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{span.TotalHours:0.#} h")
        : string.Create(CultureInfo.InvariantCulture, $"{Math.Max(1, Math.Round(span.TotalMinutes))} min");

    /// <summary>
    /// Exact /32 (/128) blocks, except where at least <see cref="SuggestOptions.CidrMinAddresses"/> addresses share a
    /// /24 (/64): those become their smallest covering block, with the added address space in the note.
    /// </summary>
    private List<(Cidr Block, List<Edge> Edges, string? Note)> Generalise(List<Edge> edges, Func<Edge, PackedIp> address)
    {
        var result = new List<(Cidr, List<Edge>, string?)>();
        foreach (var network in edges.GroupBy(e => { var ip = address(e); return Cidr.Of(ip, ip.IsV4 ? 96 + 24 : 64); }).OrderBy(g => g.Key))
        {
            var addresses = network.Select(address).Distinct().Order().ToList();
            if (addresses.Count >= _options.CidrMinAddresses)
            {
                int prefix = network.Key.PrefixLength;
                while (prefix < 128 && Cidr.Of(addresses[0], prefix + 1).Contains(addresses[^1])) prefix++;
                var block = Cidr.Of(addresses[0], prefix);
                double added = block.Size - addresses.Count;
                result.Add((block, network.ToList(), string.Create(CultureInfo.InvariantCulture,
                    $"{addresses.Count} addresses of {network.Key} on one port generalised to {block}: {added:0} addresses more than observed")));
                continue;
            }
            foreach (var one in network.GroupBy(address).OrderBy(g => g.Key))
                result.Add((Cidr.Host(one.Key), one.ToList(), null));
        }
        return result;
    }

    private static string AddedSpace(Peer peer, int observed) => peer.Kind == PeerKind.Internet ? "3.7e9 IPv4 and all public IPv6" : observed.ToString(CultureInfo.InvariantCulture);

    private sealed record Draft(Peer Client, Peer Server, ushort Port, byte Protocol, List<Edge> Edges, string? Generalisation);

    private SuggestedRule Build(Draft draft, DateTime windowStart, double windowDays, HashSet<string> longLived)
    {
        var edges = draft.Edges;
        edges.Sort(EdgeOrder.Compare);
        var days = edges.SelectMany(e => e.Days).Distinct().Order().ToList();
        var hours = new long[Edge.HoursPerWeek];
        foreach (var edge in edges) edge.HourOfWeek.AddTo(hours);
        var evidence = new RuleEvidence
        {
            Flows = edges.Sum(e => e.Flows),
            Bytes = (ulong)edges.Sum(e => (decimal)e.Bytes),
            FirstSeen = edges.Min(e => e.FirstSeen),
            LastSeen = edges.Max(e => e.LastSeen),
            DaysSeen = days.Count,
            ClientReplicas = edges.Sum(e => e.ClientReplicas),
            Edges = edges.Count,
            Addresses = draft.Client.IsWorkload || draft.Client.Kind == PeerKind.Nodes
                ? edges.Select(e => e.Server.Key).Distinct().Count()
                : edges.Select(e => e.Client.Key).Distinct().Count(),
            DeniedFlows = edges.Sum(e => e.DeniedFlows),
        };
        bool clientAlwaysUp = edges.Any(e => longLived.Contains(e.Client.Key));
        var periodicity = Classify(evidence, days, hours, windowDays, clientAlwaysUp);
        var flags = new List<string>();
        if (periodicity.PeriodDays is not null) flags.Add("periodic");
        if (periodicity.Pattern is "startup-only" or "rare") flags.Add(periodicity.Pattern);
        if (draft.Generalisation is not null) flags.Add("generalised");
        if (draft.Client.Kind == PeerKind.Nodes) flags.Add("node-probe");
        var (confidence, why) = Confidence(periodicity, evidence);
        string text = $"{draft.Client.Key} -> {draft.Server.Key}:{draft.Port}/{IpProtocols.Name(draft.Protocol)}";
        return new SuggestedRule
        {
            Id = RuleId(text),
            Client = draft.Client,
            Server = draft.Server,
            Port = draft.Port,
            Protocol = draft.Protocol,
            Evidence = evidence,
            Periodicity = periodicity,
            Confidence = confidence,
            ConfidenceReason = why,
            Flags = flags,
            Generalisation = draft.Generalisation,
            Edges = edges,
        };
    }

    private Periodicity Classify(RuleEvidence evidence, List<DateOnly> days, long[] hours, double windowDays, bool clientAlwaysUp)
    {
        double fullDays = Math.Max(1, Math.Round(windowDays));
        bool continuous = days.Count >= _options.ContinuousDayShare * fullDays;
        if (!continuous && clientAlwaysUp && evidence.Flows <= _options.StartupMaxFlowsPerReplica * Math.Max(1, evidence.ClientReplicas))
            return new Periodicity("startup-only", null, string.Create(CultureInfo.InvariantCulture,
                $"{evidence.Flows} flows from {evidence.ClientReplicas} replicas of a client that is up all window: made when a pod starts; it recurs at every rollout and restart"));
        var hoursOfDay = Enumerable.Range(0, 24).Count(h => Enumerable.Range(0, 7).Any(d => hours[d * 24 + h] > 0));
        if (continuous)
            return fullDays >= 3 && hoursOfDay <= 2
                ? new Periodicity("daily", 1, $"every day, only in {hoursOfDay} hour(s) of the day: a daily job")
                : new Periodicity("continuous", null, string.Create(CultureInfo.InvariantCulture, $"seen on {days.Count} of {fullDays} days"));
        var weekdays = Enumerable.Range(0, 7).Where(d => Enumerable.Range(0, 24).Any(h => hours[d * 24 + h] > 0)).ToList();
        if (weekdays.Count == 1 && hoursOfDay <= 3)
        {
            string day = ((DayOfWeek)((weekdays[0] + 1) % 7)).ToString();
            string guess = fullDays < 14 ? "; the window holds fewer than two periods, so the schedule is a guess" : "";
            return new Periodicity("weekly", 7, string.Create(CultureInfo.InvariantCulture,
                $"only on {day}s, {hoursOfDay} hour(s) of the day, {days.Count} run(s) in {fullDays} days: a weekly job{guess}"));
        }
        return days.Count <= 2
            ? new Periodicity("rare", null, string.Create(CultureInfo.InvariantCulture, $"seen on only {days.Count} of {fullDays} days without a pattern"))
            : new Periodicity("intermittent", null, string.Create(CultureInfo.InvariantCulture, $"seen on {days.Count} of {fullDays} days"));
    }

    private static (string, string) Confidence(Periodicity periodicity, RuleEvidence evidence) => periodicity.Pattern switch
    {
        "continuous" or "daily" when evidence.Flows >= 10 => ("high", "steady traffic over the window"),
        "continuous" or "daily" => ("medium", "seen throughout, but few flows"),
        "weekly" => ("medium", "a periodic dependency: keep it even though it is rarely seen"),
        "startup-only" => ("medium", "a start-up dependency: rarely seen, needed at every pod start"),
        "intermittent" => ("medium", "seen on several days"),
        _ => ("low", "seen rarely and without a pattern: confirm with the owner before relying on it"),
    };

    /// <summary>Stable across runs: a hash of the rule text, so ids survive other rules appearing or going.</summary>
    private static string RuleId(string text)
    {
        uint h = 2166136261;
        foreach (char c in text) h = (h ^ c) * 16777619;
        return "r-" + h.ToString("x8", CultureInfo.InvariantCulture);
    }

    private static List<WorkloadGroups> DetectGroups(List<Endpoint> workloads, List<Edge> kept)
    {
        var groups = new List<WorkloadGroups>();
        // Pod -> pod edges inside one namespace, by namespace, in the order of kept: one pass instead of one per label key.
        var insideByNamespace = kept.Where(e => e.Client.Kind == EndpointKind.Pod && e.Server.Kind == EndpointKind.Pod
                && e.Client.Namespace is not null && e.Client.Namespace == e.Server.Namespace)
            .GroupBy(e => e.Client.Namespace!, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        foreach (var ns in workloads.GroupBy(w => w.Namespace ?? ""))
        {
            var members = ns.ToList();
            var edgesInNamespace = insideByNamespace.TryGetValue(ns.Key, out var list) ? list : [];
            foreach (var key in members.SelectMany(m => m.Labels.Select(l => l.Key)).Distinct().Order(StringComparer.Ordinal))
            {
                var byValue = members.Where(m => m.Label(key) is not null).GroupBy(m => m.Label(key)!).ToList();
                if (byValue.Count < 2 || byValue.Any(g => g.Count() < 2)) continue;
                var inside = edgesInNamespace.Where(e => e.Client.Label(key) is not null && e.Server.Label(key) is not null).ToList();
                if (inside.Count == 0 || inside.Any(e => e.Client.Label(key) != e.Server.Label(key))) continue;
                groups.Add(new WorkloadGroups(ns.Key, key,
                    byValue.OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key,
                        g => (IReadOnlyList<string>)g.Select(m => m.Name).Order(StringComparer.Ordinal).ToList(), StringComparer.Ordinal),
                    inside.Count));
            }
        }
        return groups;
    }

    private List<string> Warnings(List<SuggestedRule> rules, List<WorkloadGroups> groups, List<Endpoint> workloads, double windowDays)
    {
        var warnings = new List<string>();
        if (windowDays < _options.MinTrustedWindowDays)
            warnings.Add(string.Create(CultureInfo.InvariantCulture,
                $"The window is {windowDays:0.#} days, shorter than {_options.MinTrustedWindowDays:0} days: weekly jobs and other rare dependencies may be missing, and enforcing these rules may block them. Use a window of at least two weeks before enforcing."));
        foreach (var rule in rules.Where(r => r.Periodicity.PeriodDays is { } p && windowDays < 2 * p))
            warnings.Add(string.Create(CultureInfo.InvariantCulture,
                $"{rule.Id} ({rule}): {rule.Periodicity.Pattern} dependency, but the window ({windowDays:0.#} days) is shorter than two periods ({2 * rule.Periodicity.PeriodDays} days): the period is not confirmed."));
        // A workload peer only matches pods of its own namespace: look there, not at every workload.
        var workloadsByNamespace = workloads.ToLookup(w => w.Namespace);
        foreach (var peer in rules.SelectMany(r => new[] { r.Client, r.Server }).Where(p => p.IsWorkload).DistinctBy(p => p.Key).OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var others = workloadsByNamespace[peer.Namespace].Where(w => w.Key != peer.Key && peer.Matches(w)).Select(w => w.Key).ToList();
            if (others.Count > 0)
                warnings.Add($"The selector of {peer.Key} also selects {string.Join(", ", others)}: they share every label; give each workload a distinguishing label, or the rules reach both.");
        }
        var rulesInsideNamespace = groups.Count == 0 ? null
            : rules.Where(r => r.Client.IsWorkload && r.Server.IsWorkload && r.Client.Namespace == r.Server.Namespace).ToLookup(r => r.Client.Namespace);
        foreach (var group in groups)
            foreach (var rule in rulesInsideNamespace![group.Namespace])
                if (!rule.Client.Selector.Any(l => l.Key == group.LabelKey) || !rule.Server.Selector.Any(l => l.Key == group.LabelKey))
                    warnings.Add($"{rule.Id} ({rule}) crosses the '{group.LabelKey}' groups of {group.Namespace}: one side lacks the label.");
        return warnings;
    }
}
