using System.Globalization;
using System.Runtime.CompilerServices;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;

namespace FlowPolicy.Analytics.Baseline;

/// <summary>Which observed edges are noise, and what the rest of the traffic looks like (docs/suggest.md).</summary>
public sealed class BaselineClassification
{
    public required BaselineWindow Window { get; init; }
    /// <summary>One per input edge, in input order: null for traffic a policy must keep, else why it is noise.</summary>
    public required NoiseVerdict?[] Verdicts { get; init; }
    /// <summary>Parallel workload groups the recurring traffic respects.</summary>
    public required IReadOnlyList<WorkloadGroups> Groups { get; init; }
    /// <summary>Clients (by key) with a continuous kept edge: up all window.</summary>
    public required IReadOnlySet<string> LongLivedClients { get; init; }
    /// <summary>Pod endpoints of every edge (client, then server), one per key, in key order.</summary>
    public required IReadOnlyList<Endpoint> Workloads { get; init; }
    public int NoiseEdges { get; init; }

    /// <summary>The edges <paramref name="keep"/> keeps (of those classified, in order) with their verdicts as judged over all of them.</summary>
    public (List<Edge> Edges, BaselineClassification Classification) Restrict(IReadOnlyList<Edge> edges, Func<Edge, bool> keep)
    {
        if (edges.Count != Verdicts.Length) throw new ArgumentException($"{edges.Count} edges, {Verdicts.Length} classified: restrict the edges that were classified", nameof(edges));
        var kept = new List<Edge>();
        var verdicts = new List<NoiseVerdict?>();
        int noise = 0;
        for (int i = 0; i < edges.Count; i++)
        {
            if (!keep(edges[i])) continue;
            kept.Add(edges[i]);
            verdicts.Add(Verdicts[i]);
            if (Verdicts[i] is not null) noise++;
        }
        return (kept, new BaselineClassification
        {
            Window = Window,
            Verdicts = [.. verdicts],
            Groups = Groups,
            LongLivedClients = LongLivedClients,
            Workloads = Workloads,
            NoiseEdges = noise,
        });
    }
}

/// <summary>
/// The one judge of noise for `suggest` (which leaves noise out of the rules) and `check` (which reports blocked noise
/// without failing): reply-only edges, scanners, one-off bare pods, Service addresses, traffic outside the cluster,
/// workloads without labels, and edges seen once across a boundary the rest of the traffic respects.
/// </summary>
public sealed class BaselineClassifier
{
    private readonly BaselineOptions _options;

    public BaselineClassifier(BaselineOptions? options = null)
    {
        _options = options ?? new BaselineOptions();
        _options.Validate();
    }

    public BaselineOptions Options => _options;

    public BaselineClassification Classify(IReadOnlyList<Edge> edges, BaselineWindow window)
    {
        // The pod endpoints need only the input: found on a pool thread meanwhile.
        var workloadsTask = Task.Run(() => WorkloadEndpoints(edges));
        var scan = new ScanDetector(_options);
        var scanners = scan.Scanners(edges);
        var barePods = OneOffBarePods(edges);
        var periodicity = new PeriodicityClassifier(_options, window);
        double continuousDays = _options.ContinuousDayShare * window.FullDays;

        // Each edge on its own first: in parts on every core.
        var verdicts = new NoiseVerdict?[edges.Count];
        int parts = Math.Clamp(edges.Count / 65536, 1, Environment.ProcessorCount);
        var longLivedParts = new HashSet<string>[parts];
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, part =>
        {
            var longLived = new HashSet<string>(StringComparer.Ordinal);
            Endpoint? lastLongLived = null;
            int from = (int)((long)edges.Count * part / parts), to = (int)((long)edges.Count * (part + 1) / parts);
            for (int i = from; i < to; i++)
            {
                var edge = edges[i];
                if (EdgeVerdict(edge, scan, scanners, barePods) is { } verdict)
                {
                    verdicts[i] = verdict;
                    continue;
                }
                if (!ReferenceEquals(edge.Client, lastLongLived) && PeriodicityClassifier.DaysOf(edge).Count >= continuousDays)
                {
                    longLived.Add(edge.Client.Key);
                    lastLongLived = edge.Client;
                }
            }
            longLivedParts[part] = longLived;
        });
        var longLivedClients = longLivedParts[0];
        for (int part = 1; part < parts; part++) longLivedClients.UnionWith(longLivedParts[part]);

        // Which kept workload -> workload edges were seen once (start-up dependencies recur, so they are not).
        var seenOnce = new bool[edges.Count];
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, part =>
        {
            int from = (int)((long)edges.Count * part / parts), to = (int)((long)edges.Count * (part + 1) / parts);
            for (int i = from; i < to; i++)
            {
                var e = edges[i];
                if (verdicts[i] is not null || e.Client.Kind != EndpointKind.Pod || e.Server.Kind != EndpointKind.Pod) continue;
                seenOnce[i] = periodicity.RecurrenceOf(PeriodicityClassifier.DaysOf(e), e.Flows, e.ClientReplicas,
                    longLivedClients.Contains(e.Client.Key), out _) == Recurrence.SeenOnce;
            }
        });

        // The boundaries the recurring traffic respects: namespace pairs that talk, and workload groups.
        var talkingPairs = new HashSet<(string, string)>();
        int candidates = 0;
        for (int i = 0; i < edges.Count; i++)
        {
            var e = edges[i];
            if (verdicts[i] is not null || e.Client.Kind != EndpointKind.Pod || e.Server.Kind != EndpointKind.Pod) continue;
            if (seenOnce[i])
            {
                candidates++;
                continue;
            }
            if (e.Client.Namespace is { } a && e.Server.Namespace is { } b && a != b) talkingPairs.Add(Pair(a, b));
        }
        var workloads = workloadsTask.GetAwaiter().GetResult();
        var groups = WorkloadGroupDetector.Detect(workloads, Recurring(edges, verdicts, seenOnce));
        if (candidates > 0)
        {
            var groupsByNamespace = groups.ToLookup(g => g.Namespace, StringComparer.Ordinal);
            // One sentence per boundary crossed, not per edge: the edge's own numbers are in its evidence.
            var details = new Dictionary<(string, string, string?), NoiseVerdict>();
            for (int i = 0; i < edges.Count; i++)
                if (seenOnce[i] && Crossing(edges[i], talkingPairs, groupsByNamespace, details) is { } crossing) verdicts[i] = crossing;
        }
        int noise = 0;
        foreach (var v in verdicts)
            if (v is not null) noise++;
        return new BaselineClassification
        {
            Window = window,
            Verdicts = verdicts,
            Groups = groups,
            LongLivedClients = longLivedClients,
            Workloads = workloads,
            NoiseEdges = noise,
        };
    }

    private static IEnumerable<Edge> Recurring(IReadOnlyList<Edge> edges, NoiseVerdict?[] verdicts, bool[] seenOnce)
    {
        for (int i = 0; i < edges.Count; i++)
            if (verdicts[i] is null && !seenOnce[i]) yield return edges[i];
    }

    private static (string, string) Pair(string a, string b) => string.CompareOrdinal(a, b) <= 0 ? (a, b) : (b, a);

    /// <summary>
    /// A one-off workload -> workload edge across a boundary: a namespace pair with no recurring traffic, or two groups
    /// of a detected group key. Clients a CronJob or Job owns are exempt: a run a window shows once is still their schedule.
    /// </summary>
    private static NoiseVerdict? Crossing(Edge e, HashSet<(string, string)> talkingPairs, ILookup<string, WorkloadGroups> groupsByNamespace,
        Dictionary<(string, string, string?), NoiseVerdict> details)
    {
        if (ControllerKinds.IsScheduledJob(e.Client) || e.Client.Namespace is not { } clientNs || e.Server.Namespace is not { } serverNs) return null;
        if (clientNs != serverNs)
        {
            if (talkingPairs.Contains(Pair(clientNs, serverNs))) return null;
            ref var verdict = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(details, (clientNs, serverNs, null), out bool made);
            if (!made)
                verdict = new NoiseVerdict(LeaveOutReason.OneOffCrossing,
                    $"seen once, between namespaces {clientNs} and {serverNs}, which otherwise never talk: review it before allowing it");
            return verdict;
        }
        foreach (var group in groupsByNamespace[clientNs])
            if (e.Client.Label(group.LabelKey) is { } clientValue && e.Server.Label(group.LabelKey) is { } serverValue && clientValue != serverValue)
            {
                ref var verdict = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(details,
                    (clientNs, group.LabelKey + "=" + clientValue, serverValue), out bool made);
                if (!made)
                    verdict = new NoiseVerdict(LeaveOutReason.OneOffCrossing,
                        $"seen once, across the '{group.LabelKey}' groups of {clientNs} ({clientValue} -> {serverValue}), which the rest of the traffic keeps apart: review it before allowing it");
                return verdict;
            }
        return null;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static NoiseVerdict? EdgeVerdict(Edge edge, ScanDetector scan, Dictionary<string, string> scanners, Dictionary<string, string> barePods)
    {
        if (edge.Flows == 0) return new NoiseVerdict(LeaveOutReason.ReplyOnly, "only reply records seen: replies never become rules");
        if (scanners.Count > 0 && scanners.TryGetValue(edge.Client.Key, out var scanner) && scan.IsScanTraffic(edge))
            return new NoiseVerdict(LeaveOutReason.Scanner, scanner);
        if (barePods.Count > 0 && barePods.TryGetValue(edge.Client.Key, out var barePod)) return new NoiseVerdict(LeaveOutReason.BarePod, barePod);
        if (edge.Client.Kind == EndpointKind.Service || edge.Server.Kind == EndpointKind.Service)
            return new NoiseVerdict(LeaveOutReason.ServiceAddress, "a Service virtual address: policies see the pods behind it; enrich with the backends");
        if (edge.Client.IsAddress && edge.Server.IsAddress)
            return new NoiseVerdict(LeaveOutReason.OutsideCluster, "neither side is a workload or node: no policy in the cluster applies");
        if ((edge.Client.Kind == EndpointKind.External && edge.Server.Kind == EndpointKind.Node)
            || (edge.Client.Kind == EndpointKind.Node && edge.Server.IsAddress))
            return new NoiseVerdict(LeaveOutReason.NodeTraffic, "host traffic of a node with an address outside the cluster: not a pod policy's business");
        if (edge.Client.Kind == EndpointKind.Pod && edge.Client.Labels.Count == 0)
            return new NoiseVerdict(LeaveOutReason.NoSelector, $"{edge.Client.Key} has no stable labels to select its pods by; label it and run again");
        if (edge.Server.Kind == EndpointKind.Pod && edge.Server.Labels.Count == 0)
            return new NoiseVerdict(LeaveOutReason.NoSelector, $"{edge.Server.Key} has no stable labels to select its pods by; label it and run again");
        return null;
    }

    /// <summary>Bare pods (no controller) active as clients for less than <see cref="BaselineOptions.BarePodMaxLifetime"/>, by key.</summary>
    private Dictionary<string, string> OneOffBarePods(IReadOnlyList<Edge> edges)
    {
        var lifetimes = new Dictionary<string, (DateTime First, DateTime Last)>(StringComparer.Ordinal);
        foreach (var e in edges)
        {
            if (!ControllerKinds.IsBarePod(e.Client)) continue;
            ref var span = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(lifetimes, e.Client.Key, out bool known);
            span = known ? (e.FirstSeen < span.First ? e.FirstSeen : span.First, e.LastSeen > span.Last ? e.LastSeen : span.Last) : (e.FirstSeen, e.LastSeen);
        }
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, (first, last)) in lifetimes)
        {
            var lifetime = last - first;
            if (lifetime < _options.BarePodMaxLifetime)
                result[key] = string.Create(CultureInfo.InvariantCulture, $"bare pod (no controller) active for {Duration(lifetime)}: a one-off (debug shell, kubectl run)");
        }
        return result;
    }

    private static string Duration(TimeSpan span) => span.TotalHours >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{span.TotalHours:0.#} h")
        : string.Create(CultureInfo.InvariantCulture, $"{Math.Max(1, Math.Round(span.TotalMinutes))} min");

    /// <summary>Pod endpoints of every edge (client, then server), one per key, in key order.</summary>
    private static List<Endpoint> WorkloadEndpoints(IReadOnlyList<Edge> edges)
    {
        var byKey = new Dictionary<string, Endpoint>(StringComparer.Ordinal);
        var seen = new HashSet<Endpoint>(ReferenceEqualityComparer.Instance);
        Endpoint? lastClient = null;
        foreach (var e in edges)
        {
            // The same endpoint object recurs on many edges: look its key up once (the first object per key wins).
            if (!ReferenceEquals(e.Client, lastClient) && e.Client.Kind == EndpointKind.Pod && seen.Add(e.Client)) byKey.TryAdd(e.Client.Key, e.Client);
            lastClient = e.Client;
            if (e.Server.Kind == EndpointKind.Pod && seen.Add(e.Server)) byKey.TryAdd(e.Server.Key, e.Server);
        }
        var result = byKey.Values.ToList();
        result.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        return result;
    }
}
