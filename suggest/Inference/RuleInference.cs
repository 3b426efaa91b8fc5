using System.Globalization;
using System.Runtime.CompilerServices;
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

        // The pod endpoints need only the input: found on a pool thread while the noise and the window are worked out.
        var endpointsTask = Task.Run(() => WorkloadEndpoints(edges));
        var (start, end) = Window(edges);
        double windowDays = Math.Max((end - start).TotalDays, 1.0 / 24);
        var noise = NoiseByClient(edges);
        // Clients that are up the whole window: a rare edge from them is a start-up or periodic dependency, not a one-off.
        double longLivedDays = _options.ContinuousDayShare * Math.Round(windowDays);
        // Each edge is judged on its own: in parts on every core, the parts joined in input order.
        int filterParts = Math.Clamp(edges.Count / 65536, 1, Environment.ProcessorCount);
        var keptParts = new List<Edge>[filterParts];
        var leftOutParts = new List<LeftOutEdge>[filterParts];
        var longLivedParts = new HashSet<string>[filterParts];
        Parallel.For(0, filterParts, new ParallelOptions { MaxDegreeOfParallelism = filterParts }, part =>
        {
            int from = (int)((long)edges.Count * part / filterParts), to = (int)((long)edges.Count * (part + 1) / filterParts);
            var keptPart = new List<Edge>(to - from);
            var leftOutPart = new List<LeftOutEdge>();
            var longLivedPart = new HashSet<string>(StringComparer.Ordinal);
            Endpoint? lastLongLived = null;
            for (int i = from; i < to; i++)
            {
                var edge = edges[i];
                var reason = LeaveOutReason(edge, noise);
                if (reason is { } r)
                {
                    leftOutPart.Add(new LeftOutEdge(edge, r.Reason, r.Detail));
                    continue;
                }
                keptPart.Add(edge);
                if (edge.DaysSeen >= longLivedDays && !ReferenceEquals(edge.Client, lastLongLived))
                {
                    longLivedPart.Add(edge.Client.Key);
                    lastLongLived = edge.Client;
                }
            }
            keptParts[part] = keptPart;
            leftOutParts[part] = leftOutPart;
            longLivedParts[part] = longLivedPart;
        });
        var kept = new List<Edge>(edges.Count);
        var leftOut = new List<LeftOutEdge>();
        var longLived = longLivedParts[0];
        for (int part = 0; part < filterParts; part++)
        {
            kept.AddRange(keptParts[part]);
            leftOut.AddRange(leftOutParts[part]);
            if (part > 0) longLived.UnionWith(longLivedParts[part]);
        }
        keptParts = null;
        Metrics.EdgesKept += kept.Count;
        Metrics.EdgesLeftOut += leftOut.Count;

        // Three passes that need only the kept edges run side by side: identity drafts here, address drafts and the
        // workload groups on pool threads. Address drafts group by their own ids and blocks; their workload side gets
        // its peer from the one table below, so every endpoint still has exactly one peer object.
        var workloadTask = Task.Run(() =>
        {
            var endpoints = endpointsTask.GetAwaiter().GetResult();
            return (Endpoints: endpoints, Groups: DetectGroups(endpoints, kept));
        });
        var addressTask = Task.Run(() => AddressDrafts(kept));

        // A dense graph makes about one rule per edge: drafts are structs, peers are made once per endpoint or block,
        // and the edges of each rule go into an array of exactly their number (no LINQ groupings of a million keys).
        var peers = new PeerTable();
        var drafts = new List<Draft>(kept.Count);
        IdentityDrafts(kept, peers, drafts);
        foreach (var (draft, workload, workloadIsServer) in addressTask.GetAwaiter().GetResult())
            drafts.Add(workloadIsServer ? draft with { Server = peers.Of(workload) } : draft with { Client = peers.Of(workload) });

        var order = RuleOrder(drafts);
        // Rules are independent of each other: built on every core, each part with its own scratch space. Two steps:
        // the edges are read in draft order (the order they sit in memory; rule order jumps across the whole heap at
        // every rule), then the rule objects are made in rule order (so the writers read them in memory order too).
        var summaries = new RuleSummary[drafts.Count];
        var rules = new SuggestedRule[drafts.Count];
        int parts = Math.Clamp(drafts.Count / 4096, 1, Environment.ProcessorCount);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = parts };
        Parallel.For(0, parts, parallel, part =>
        {
            var builder = new RuleBuilder(this, windowDays, longLived);
            int from = (int)((long)rules.Length * part / parts), to = (int)((long)rules.Length * (part + 1) / parts);
            for (int k = from; k < to; k++) builder.Summarise(drafts[k], ref summaries[k]);
        });
        Parallel.For(0, parts, parallel, part =>
        {
            int from = (int)((long)rules.Length * part / parts), to = (int)((long)rules.Length * (part + 1) / parts);
            for (int k = from; k < to; k++) rules[k] = RuleBuilder.Build(drafts[order[k]], in summaries[order[k]]);
        });
        summaries = null;
        drafts = null;
        long generalisedRules = 0, periodicRules = 0;
        foreach (var rule in rules)
        {
            if (rule.Generalisation is not null) generalisedRules++;
            if (rule.Periodicity.PeriodDays is not null) periodicRules++; // the "periodic" flag
        }
        Metrics.Rules += rules.Length;
        Metrics.GeneralisedRules += generalisedRules;
        Metrics.PeriodicRules += periodicRules;

        var (workloadEndpoints, groups) = workloadTask.GetAwaiter().GetResult();
        var workloads = WorkloadPeers(rules);
        var warnings = Warnings(rules, groups, workloadEndpoints, workloads, windowDays);
        var namespaceSet = new HashSet<string>(StringComparer.Ordinal);
        var namespaces = new List<string>();
        foreach (var endpoint in workloadEndpoints)
            if (endpoint.Namespace is { } ns && namespaceSet.Add(ns)) namespaces.Add(ns);
        namespaces.Sort(StringComparer.Ordinal);
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

    /// <summary>
    /// Drafts with an address on one side, in the order of the old two passes: address clients of a workload (internet
    /// clients, generalised blocks, or exact addresses), then address servers (egress to exact addresses or generalised
    /// blocks). The workload side's peer is left null, with its endpoint, for the caller's peer table.
    /// </summary>
    private List<(Draft Draft, Endpoint Workload, bool WorkloadIsServer)> AddressDrafts(List<Edge> kept)
    {
        var peers = new PeerTable();
        var result = new List<(Draft, Endpoint, bool)>();
        // Both groupings in one pass over the edges (each has its own ids; neither depends on the other's order).
        var byServer = new Grouping();
        var byClient = new Grouping();
        foreach (var e in kept)
        {
            if (e.Client.IsAddress) byServer.Add(new GroupKey(-1, peers.RawKeyId(e.Server), e.Port, e.Protocol), e);
            else if (e.Server.IsAddress) byClient.Add(new GroupKey(peers.KeyId(e.Client), -1, e.Port, e.Protocol), e);
        }
        foreach (var group in byServer.Groups)
        {
            var list = group;
            var first = list[0];
            var publicClients = list.Where(e => e.Client.Kind == EndpointKind.External).Select(e => e.Client.Address).Distinct().Count();
            if (publicClients >= _options.InternetClientThreshold)
            {
                var internet = list.Where(e => Peer.Internet.Matches(e.Client)).ToArray();
                result.Add((new Draft(Peer.Internet, null!, first.Port, first.Protocol, internet,
                    string.Create(CultureInfo.InvariantCulture,
                        $"{publicClients} distinct internet clients on one port: any public address (0.0.0.0/0, ::/0 minus private ranges), about {AddedSpace(Peer.Internet, publicClients)} addresses more than observed")),
                    first.Server, true));
                list = list.Where(e => !Peer.Internet.Matches(e.Client)).ToList();
            }
            foreach (var (block, blockEdges, note) in Generalise(list, clients: true))
                result.Add((new Draft(peers.Of(block), null!, first.Port, first.Protocol, blockEdges, note), first.Server, true));
        }
        foreach (var list in byClient.Groups)
        {
            var first = list[0];
            foreach (var (block, blockEdges, note) in Generalise(list, clients: false))
                result.Add((new Draft(null!, peers.Of(block), first.Port, first.Protocol, blockEdges, note), first.Client, false));
        }
        return result;
    }

    /// <summary>
    /// Identity-to-identity drafts (workloads and nodes on both sides), one per (client peer, server peer, port,
    /// protocol), in the order each key first appears in <paramref name="kept"/>, edges in kept order.
    /// </summary>
    private static void IdentityDrafts(List<Edge> kept, PeerTable peers, List<Draft> drafts)
    {
        var groupOf = new int[kept.Count];
        var index = new Dictionary<GroupKey, int>(kept.Count);
        var firsts = new List<int>();
        var counts = new int[Math.Max(1, kept.Count / 4)];
        Endpoint? lastClient = null;
        int lastClientId = 0;
        for (int i = 0; i < kept.Count; i++)
        {
            var e = kept[i];
            var client = e.Client;
            var server = e.Server;
            if (client.IsAddress || server.IsAddress)
            {
                groupOf[i] = -1;
                continue;
            }
            // Edges usually come sorted by client: look its id up once per run.
            if (!ReferenceEquals(client, lastClient))
            {
                lastClient = client;
                lastClientId = peers.KeyId(client);
            }
            var key = new GroupKey(lastClientId, peers.KeyId(server), e.Port, e.Protocol);
            ref int slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(index, key, out bool exists);
            if (!exists)
            {
                slot = firsts.Count;
                firsts.Add(i);
                if (slot == counts.Length) Array.Resize(ref counts, counts.Length * 2);
            }
            groupOf[i] = slot;
            counts[slot]++;
        }
        index = null;
        var members = new Edge[firsts.Count][];
        for (int g = 0; g < members.Length; g++) members[g] = new Edge[counts[g]];
        var filled = new int[members.Length];
        for (int i = 0; i < kept.Count; i++)
            if (groupOf[i] is >= 0 and var g) members[g][filled[g]++] = kept[i];
        for (int g = 0; g < members.Length; g++)
        {
            var first = kept[firsts[g]];
            drafts.Add(new Draft(peers.Of(first.Client), peers.Of(first.Server), first.Port, first.Protocol, members[g], null));
        }
    }

    /// <summary>
    /// Draft indexes in rule order: server key, client key (ordinal), protocol, port; drafts with equal keys keep
    /// their creation order (a stable sort). Keys are ranked once per distinct peer, then one sort of 128-bit keys.
    /// </summary>
    private static int[] RuleOrder(List<Draft> drafts)
    {
        // An id per peer object (one lookup per draft side; consecutive drafts often share the client), then a rank
        // per id from the sorted distinct keys.
        var idOf = new Dictionary<Peer, int>(ReferenceEqualityComparer.Instance);
        var peersById = new List<Peer>();
        var clientIds = new int[drafts.Count];
        var serverIds = new int[drafts.Count];
        Peer? lastClient = null;
        int lastClientId = 0;
        for (int i = 0; i < drafts.Count; i++)
        {
            var d = drafts[i];
            if (!ReferenceEquals(d.Client, lastClient))
            {
                lastClient = d.Client;
                lastClientId = PeerId(idOf, peersById, d.Client);
            }
            clientIds[i] = lastClientId;
            serverIds[i] = PeerId(idOf, peersById, d.Server);
        }
        var keys = new List<string>(peersById.Count);
        foreach (var peer in peersById) keys.Add(peer.Key);
        keys.Sort(StringComparer.Ordinal);
        var keyRank = new Dictionary<string, int>(keys.Count, StringComparer.Ordinal);
        foreach (var key in keys) keyRank.TryAdd(key, keyRank.Count);
        var rank = new int[peersById.Count];
        for (int id = 0; id < rank.Length; id++) rank[id] = keyRank[peersById[id].Key];
        // Both ranks under 2^20 (the usual case): server, client, protocol and port fit one ulong, and a sort of
        // primitive keys (with the draft index alongside) is several times faster than one of 128-bit structs.
        var order = new int[drafts.Count];
        if (keys.Count <= 1 << 20)
        {
            var packed = new ulong[drafts.Count];
            for (int i = 0; i < drafts.Count; i++)
            {
                var d = drafts[i];
                packed[i] = ((ulong)(uint)rank[serverIds[i]] << 44) | ((ulong)(uint)rank[clientIds[i]] << 24) | ((ulong)d.Protocol << 16) | d.Port;
                order[i] = i;
            }
            Array.Sort(packed, order);
            // Equal keys back in creation order (the sort is not stable).
            for (int from = 0; from < packed.Length;)
            {
                int to = from + 1;
                while (to < packed.Length && packed[to] == packed[from]) to++;
                if (to - from > 1) Array.Sort(order, from, to - from);
                from = to;
            }
            return order;
        }
        var sortKeys = new UInt128[drafts.Count];
        for (int i = 0; i < drafts.Count; i++)
        {
            var d = drafts[i];
            ulong high = ((ulong)(uint)rank[serverIds[i]] << 32) | (uint)rank[clientIds[i]];
            ulong low = ((ulong)d.Protocol << 48) | ((ulong)d.Port << 32) | (uint)i;
            sortKeys[i] = new UInt128(high, low);
        }
        Array.Sort(sortKeys);
        for (int i = 0; i < order.Length; i++) order[i] = (int)(uint)sortKeys[i];
        return order;
    }

    private static int PeerId(Dictionary<Peer, int> idOf, List<Peer> peersById, Peer peer)
    {
        ref int id = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(idOf, peer, out bool known);
        if (!known)
        {
            id = peersById.Count;
            peersById.Add(peer);
        }
        return id;
    }

    /// <summary>Pod endpoints of every edge (client, then server), one per key, in key order.</summary>
    private static List<Endpoint> WorkloadEndpoints(IReadOnlyList<Edge> edges)
    {
        var byKey = new Dictionary<string, Endpoint>(StringComparer.Ordinal);
        var seen = new HashSet<Endpoint>(ReferenceEqualityComparer.Instance);
        Endpoint? lastClient = null;
        foreach (var e in edges)
        {
            // The same endpoint object recurs on many edges: look its key up once (the first object per key wins, as before).
            if (!ReferenceEquals(e.Client, lastClient) && e.Client.Kind == EndpointKind.Pod && seen.Add(e.Client)) byKey.TryAdd(e.Client.Key, e.Client);
            lastClient = e.Client;
            if (e.Server.Kind == EndpointKind.Pod && seen.Add(e.Server)) byKey.TryAdd(e.Server.Key, e.Server);
        }
        var result = byKey.Values.ToList();
        result.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        return result;
    }

    /// <summary>Workload peers of the rules (client, then server, in rule order), one per key, in key order.</summary>
    private static List<Peer> WorkloadPeers(SuggestedRule[] rules)
    {
        var byKey = new Dictionary<string, Peer>(StringComparer.Ordinal);
        foreach (var r in rules)
        {
            if (r.Client.IsWorkload) byKey.TryAdd(r.Client.Key, r.Client);
            if (r.Server.IsWorkload) byKey.TryAdd(r.Server.Key, r.Server);
        }
        var result = byKey.Values.ToList();
        result.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        return result;
    }

    /// <summary>Edges grouped by key, groups in order of first appearance (like GroupBy).</summary>
    private sealed class Grouping
    {
        private readonly Dictionary<GroupKey, int> _index = new();

        public List<List<Edge>> Groups { get; } = [];

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Add(GroupKey key, Edge edge)
        {
            ref int slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_index, key, out bool exists);
            if (!exists)
            {
                slot = Groups.Count;
                Groups.Add([]);
            }
            Groups[slot].Add(edge);
        }
    }

    // Hot per-edge and per-rule methods carry [MethodImpl(AggressiveOptimization)]: inference runs once, its passes
    // start new code every few hundred milliseconds, and tiered compilation left them running unoptimised for most of
    // a pass (a tenth of the samples at 1M edges were in tier-0 code).
    private readonly record struct GroupKey(int Client, int Server, ushort Port, byte Protocol);

    /// <summary>
    /// Peers made once per endpoint object (so a peer is exactly what <c>PeerOf(endpoint)</c> would make) and once per
    /// address block, and small ids for peer keys (grouping by id instead of hashing strings a million times).
    /// </summary>
    private sealed class PeerTable
    {
        private readonly Dictionary<Endpoint, Peer> _byEndpoint = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<Cidr, Peer> _byBlock = new();
        private readonly Dictionary<Endpoint, int> _idByEndpoint = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<string, int> _idByKey = new(StringComparer.Ordinal);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public Peer Of(Endpoint endpoint)
        {
            if (endpoint.Kind == EndpointKind.Node) return Peer.Nodes;
            ref var peer = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_byEndpoint, endpoint, out _);
            return peer ??= Peer.ForWorkload(endpoint);
        }

        public Peer Of(Cidr block)
        {
            ref var peer = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_byBlock, block, out _);
            return peer ??= Peer.ForNetwork([block]);
        }

        private readonly Dictionary<Endpoint, int> _rawIdByEndpoint = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<string, int> _rawIdByKey = new(StringComparer.Ordinal);

        /// <summary>An id per <c>endpoint.Key</c> (nodes apart).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public int RawKeyId(Endpoint endpoint)
        {
            ref int id = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_rawIdByEndpoint, endpoint, out bool known);
            if (!known)
            {
                ref int byKey = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_rawIdByKey, endpoint.Key, out bool keyKnown);
                if (!keyKnown) byKey = _rawIdByKey.Count - 1;
                id = byKey;
            }
            return id;
        }

        /// <summary>An id per <c>PeerKeyOf(endpoint)</c>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public int KeyId(Endpoint endpoint)
        {
            ref int id = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_idByEndpoint, endpoint, out bool known);
            if (!known)
            {
                ref int byKey = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_idByKey, PeerKeyOf(endpoint), out bool keyKnown);
                if (!keyKnown) byKey = _idByKey.Count - 1;
                id = byKey;
            }
            return id;
        }
    }

    private (DateTime Start, DateTime End) Window(IReadOnlyList<Edge> edges)
    {
        DateTime first = DateTime.MaxValue, last = DateTime.MinValue;
        if (edges.Count > 0 && (_options.WindowStart is null || _options.WindowEnd is null))
            for (int i = 0; i < edges.Count; i++)
            {
                var e = edges[i];
                if (e.FirstSeen < first) first = e.FirstSeen;
                if (e.LastSeen > last) last = e.LastSeen;
            }
        var start = _options.WindowStart ?? (edges.Count == 0 ? DateTime.UnixEpoch : first.Date);
        var end = _options.WindowEnd ?? (edges.Count == 0 ? start.AddDays(1) : last.Date.AddDays(1));
        return (DateTime.SpecifyKind(start, DateTimeKind.Utc), DateTime.SpecifyKind(end, DateTimeKind.Utc));
    }

    /// <summary><c>PeerOf(endpoint).Key</c> without making the peer (grouping a million edges).</summary>
    private static string PeerKeyOf(Endpoint endpoint) => endpoint.Kind == EndpointKind.Node ? Peer.Nodes.Key : endpoint.Key;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (string Reason, string Detail)? LeaveOutReason(Edge edge, Dictionary<string, string> noise)
    {
        if (edge.Flows == 0) return ("reply-only", "only reply records seen: replies never become rules");
        if (noise.Count > 0 && noise.TryGetValue(edge.Client.Key, out var why)) return (why.StartsWith("scanner", StringComparison.Ordinal) ? "scanner" : "bare-pod", why);
        if (edge.Client.Kind == EndpointKind.Service || edge.Server.Kind == EndpointKind.Service)
            return ("service-address", "a Service virtual address: policies see the pods behind it; enrich with the backends");
        if (edge.Client.IsAddress && edge.Server.IsAddress)
            return ("outside-cluster", "neither side is a workload or node: no policy in the cluster applies");
        if ((edge.Client.Kind == EndpointKind.External && edge.Server.Kind == EndpointKind.Node)
            || (edge.Client.Kind == EndpointKind.Node && edge.Server.IsAddress))
            return ("node-traffic", "host traffic of a node with an address outside the cluster: not a pod policy's business");
        if (edge.Client.Kind == EndpointKind.Pod && edge.Client.Labels.Count == 0)
            return ("no-selector", $"{edge.Client.Key} has no stable labels to select its pods by; label it and run again");
        if (edge.Server.Kind == EndpointKind.Pod && edge.Server.Labels.Count == 0)
            return ("no-selector", $"{edge.Server.Key} has no stable labels to select its pods by; label it and run again");
        return null;
    }

    /// <summary>One client's edges, summed in input order (the scanner test's sums must not depend on grouping).</summary>
    private sealed class ClientTotals(Endpoint first)
    {
        public readonly Endpoint First = first;
        public int Edges;
        public long Flows;
        public double Bytes;
        public int Failed;
        public DateTime FirstSeen = DateTime.MaxValue;
        public DateTime LastSeen = DateTime.MinValue;
        public HashSet<(ushort, byte)>? Ports;
        public HashSet<string>? Servers;
    }

    /// <summary>Scanners and one-off bare pods, by client key, with the numbers that convicted them.</summary>
    private Dictionary<string, string> NoiseByClient(IReadOnlyList<Edge> edges)
    {
        var noise = new Dictionary<string, string>(StringComparer.Ordinal);
        var totals = new Dictionary<string, ClientTotals>(StringComparer.Ordinal);
        ClientTotals? last = null;
        foreach (var e in edges)
        {
            // Edges usually come sorted by client: skip the lookup while the client stays the same.
            var t = last is not null && ReferenceEquals(last.First.Key, e.Client.Key) ? last : null;
            if (t is null)
            {
                ref var slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(totals, e.Client.Key, out _);
                t = slot ??= new ClientTotals(e.Client);
                last = t;
            }
            t.Edges++;
            t.Flows = checked(t.Flows + e.Flows);
            t.Bytes += e.Bytes;
            // Unanswered: one packet per flow means no reply came back.
            if (e.DeniedFlows * 2 >= e.Flows || e.Packets <= (ulong)e.Flows) t.Failed++;
            if (e.FirstSeen < t.FirstSeen) t.FirstSeen = e.FirstSeen;
            if (e.LastSeen > t.LastSeen) t.LastSeen = e.LastSeen;
        }
        // Distinct ports and servers only for clients the cheap tests have not cleared already.
        bool Suspect(ClientTotals t) => t.First.Kind != EndpointKind.Node && BytesPerFlow(t) <= _options.ScannerMaxBytesPerFlow
            && t.Failed / (double)t.Edges >= _options.ScannerMinFailedShare;
        bool anySuspect = false;
        foreach (var t in totals.Values)
            if (Suspect(t))
            {
                t.Ports = [];
                t.Servers = new HashSet<string>(StringComparer.Ordinal);
                anySuspect = true;
            }
        foreach (var e in anySuspect ? edges : [])
        {
            var t = totals[e.Client.Key];
            if (t.Ports is null) continue;
            t.Ports.Add((e.Port, e.Protocol));
            t.Servers!.Add(e.Server.Key);
        }
        foreach (var (key, t) in totals)
        {
            var endpoint = t.First;
            if (endpoint.Kind == EndpointKind.Node) continue;
            if (t.Ports is not null && (t.Ports.Count >= _options.ScannerMinPorts || t.Servers!.Count >= _options.ScannerMinServers))
            {
                double failed = t.Failed / (double)t.Edges;
                noise[key] = string.Create(CultureInfo.InvariantCulture,
                    $"scanner: {t.Ports.Count} ports on {t.Servers!.Count} servers, {BytesPerFlow(t):0} bytes per flow, {failed:P0} of its edges denied or unanswered");
                continue;
            }
            if (endpoint.WorkloadKind == "Pod")
            {
                var lifetime = t.LastSeen - t.FirstSeen;
                if (lifetime < _options.BarePodMaxLifetime)
                    noise[key] = string.Create(CultureInfo.InvariantCulture,
                        $"bare pod (no controller) active for {Minutes(lifetime)}: a one-off (debug shell, kubectl run)");
            }
        }
        return noise;
    }

    private static double BytesPerFlow(ClientTotals t) => t.Flows == 0 ? 0 : t.Bytes / t.Flows;

    private static string Minutes(TimeSpan span) => span.TotalHours >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{span.TotalHours:0.#} h")
        : string.Create(CultureInfo.InvariantCulture, $"{Math.Max(1, Math.Round(span.TotalMinutes))} min");

    /// <summary>
    /// Exact /32 (/128) blocks, except where at least <see cref="SuggestOptions.CidrMinAddresses"/> addresses share a
    /// /24 (/64): those become their smallest covering block, with the added address space in the note. Networks in
    /// order, then addresses in order; each block's edges in input order.
    /// </summary>
    private List<(Cidr Block, Edge[] Edges, string? Note)> Generalise(List<Edge> edges, bool clients)
    {
        var result = new List<(Cidr, Edge[], string?)>();
        var sorted = new (Cidr Network, PackedIp Address, int Index)[edges.Count];
        for (int i = 0; i < edges.Count; i++)
        {
            var ip = clients ? edges[i].Client.Address : edges[i].Server.Address;
            sorted[i] = (Cidr.Of(ip, ip.IsV4 ? 96 + 24 : 64), ip, i);
        }
        Array.Sort(sorted, static (a, b) =>
        {
            int c = a.Network.CompareTo(b.Network);
            if (c == 0) c = a.Address.CompareTo(b.Address);
            return c != 0 ? c : a.Index.CompareTo(b.Index);
        });
        for (int from = 0; from < sorted.Length;)
        {
            var network = sorted[from].Network;
            int to = from, distinct = 0;
            for (; to < sorted.Length && sorted[to].Network == network; to++)
                if (to == from || sorted[to].Address != sorted[to - 1].Address) distinct++;
            if (distinct >= _options.CidrMinAddresses)
            {
                var lowest = sorted[from].Address;
                var highest = sorted[to - 1].Address;
                int prefix = network.PrefixLength;
                while (prefix < 128 && Cidr.Of(lowest, prefix + 1).Contains(highest)) prefix++;
                var block = Cidr.Of(lowest, prefix);
                double added = block.Size - distinct;
                var indexes = new int[to - from];
                for (int i = from; i < to; i++) indexes[i - from] = sorted[i].Index;
                Array.Sort(indexes);
                var members = new Edge[indexes.Length];
                for (int i = 0; i < indexes.Length; i++) members[i] = edges[indexes[i]];
                result.Add((block, members, string.Create(CultureInfo.InvariantCulture,
                    $"{distinct} addresses of {network} on one port generalised to {block}: {added:0} addresses more than observed")));
            }
            else
            {
                for (int a = from; a < to;)
                {
                    int b = a;
                    while (b < to && sorted[b].Address == sorted[a].Address) b++;
                    var members = new Edge[b - a];
                    for (int i = a; i < b; i++) members[i - a] = edges[sorted[i].Index];
                    result.Add((Cidr.Host(sorted[a].Address), members, null));
                    a = b;
                }
            }
            from = to;
        }
        return result;
    }

    private static string AddedSpace(Peer peer, int observed) => peer.Kind == PeerKind.Internet ? "3.7e9 IPv4 and all public IPv6" : observed.ToString(CultureInfo.InvariantCulture);

    /// <summary>A rule's evidence and classification before its objects are made.</summary>
    private struct RuleSummary
    {
        public long Flows;
        public ulong Bytes;
        public DateTime FirstSeen;
        public DateTime LastSeen;
        public int DaysSeen;
        public int ClientReplicas;
        public int Addresses;
        public long DeniedFlows;
        public Periodicity Periodicity;
        public string Confidence;
        public string ConfidenceReason;
        public string[] Flags;
    }

    private readonly record struct Draft(Peer Client, Peer Server, ushort Port, byte Protocol, Edge[] Edges, string? Generalisation);

    /// <summary>
    /// Drafts -> rules. Holds the scratch space one rule needs (hour histogram, distinct sets) and makes the texts
    /// that repeat across rules (periodicity notes, flag lists) once per distinct value.
    /// </summary>
    private sealed class RuleBuilder(RuleInference owner, double windowDays, HashSet<string> longLived)
    {
        private static readonly IComparer<Edge> EdgeComparer = Comparer<Edge>.Create(EdgeOrder.Compare);
        private readonly long[] _hours = new long[Edge.HoursPerWeek];
        private readonly HashSet<DateOnly> _days = [];
        private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
        private readonly Dictionary<(string Pattern, int A, int B, int C), Periodicity> _periodicities = new();
        private readonly string[]?[] _flags = new string[]?[32];

        /// <summary>Everything a rule needs from its edges (which it sorts into <c>EdgeOrder</c>), without making objects.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Summarise(Draft draft, ref RuleSummary summary)
        {
            var edges = draft.Edges;
            if (edges.Length > 1) Array.Sort(edges, EdgeComparer);
            Array.Clear(_hours);
            long flows = 0, denied = 0;
            ulong bytes = 0;
            int replicas = 0;
            var firstSeen = edges[0].FirstSeen;
            var lastSeen = edges[0].LastSeen;
            bool clientAlwaysUp = false;
            foreach (var e in edges)
            {
                e.HourOfWeek.AddTo(_hours);
                flows = checked(flows + e.Flows);
                bytes = checked(bytes + e.Bytes);
                replicas = checked(replicas + e.ClientReplicas);
                denied = checked(denied + e.DeniedFlows);
                if (e.FirstSeen < firstSeen) firstSeen = e.FirstSeen;
                if (e.LastSeen > lastSeen) lastSeen = e.LastSeen;
                clientAlwaysUp = clientAlwaysUp || longLived.Contains(e.Client.Key);
            }
            bool byServer = draft.Client.IsWorkload || draft.Client.Kind == PeerKind.Nodes;
            summary.Flows = flows;
            summary.Bytes = bytes;
            summary.FirstSeen = firstSeen;
            summary.LastSeen = lastSeen;
            summary.DaysSeen = DistinctDays(edges);
            summary.ClientReplicas = replicas;
            summary.Addresses = edges.Length == 1 ? 1 : DistinctKeys(edges, byServer);
            summary.DeniedFlows = denied;
            var periodicity = owner.Classify(summary.DaysSeen, flows, replicas, _hours, windowDays, clientAlwaysUp, _periodicities);
            int mask = (periodicity.PeriodDays is not null ? 1 : 0) | (periodicity.Pattern == "startup-only" ? 2 : 0)
                | (periodicity.Pattern == "rare" ? 4 : 0) | (draft.Generalisation is not null ? 8 : 0) | (draft.Client.Kind == PeerKind.Nodes ? 16 : 0);
            (summary.Confidence, summary.ConfidenceReason) = Confidence(periodicity, flows);
            summary.Periodicity = periodicity;
            summary.Flags = _flags[mask] ??= Flags(mask);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static SuggestedRule Build(Draft draft, in RuleSummary summary) => new()
        {
            Id = RuleId(draft),
            Client = draft.Client,
            Server = draft.Server,
            Port = draft.Port,
            Protocol = draft.Protocol,
            Evidence = new RuleEvidence
            {
                Flows = summary.Flows,
                Bytes = summary.Bytes,
                FirstSeen = summary.FirstSeen,
                LastSeen = summary.LastSeen,
                DaysSeen = summary.DaysSeen,
                ClientReplicas = summary.ClientReplicas,
                Edges = draft.Edges.Length,
                Addresses = summary.Addresses,
                DeniedFlows = summary.DeniedFlows,
            },
            Periodicity = summary.Periodicity,
            Confidence = summary.Confidence,
            ConfidenceReason = summary.ConfidenceReason,
            Flags = summary.Flags,
            Generalisation = draft.Generalisation,
            Edges = draft.Edges,
        };

        private static string[] Flags(int mask)
        {
            var flags = new List<string>(4);
            if ((mask & 1) != 0) flags.Add("periodic");
            if ((mask & 2) != 0) flags.Add("startup-only");
            if ((mask & 4) != 0) flags.Add("rare");
            if ((mask & 8) != 0) flags.Add("generalised");
            if ((mask & 16) != 0) flags.Add("node-probe");
            return [.. flags];
        }

        /// <summary>Distinct days over the edges (each edge's days are usually ascending and distinct already).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private int DistinctDays(Edge[] edges)
        {
            if (edges.Length == 1)
            {
                var days = edges[0].Days;
                bool ascending = true;
                for (int i = 1; i < days.Count && ascending; i++) ascending = days[i - 1] < days[i];
                if (ascending) return days.Count;
            }
            _days.Clear();
            foreach (var e in edges)
                foreach (var day in e.Days) _days.Add(day);
            return _days.Count;
        }

        private int DistinctKeys(Edge[] edges, bool servers)
        {
            _keys.Clear();
            foreach (var e in edges) _keys.Add(servers ? e.Server.Key : e.Client.Key);
            return _keys.Count;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private Periodicity Classify(int daysCount, long flows, int clientReplicas, long[] hours, double windowDays, bool clientAlwaysUp,
        Dictionary<(string, int, int, int), Periodicity> made)
    {
        double fullDays = Math.Max(1, Math.Round(windowDays));
        bool continuous = daysCount >= _options.ContinuousDayShare * fullDays;
        if (!continuous && clientAlwaysUp && flows <= _options.StartupMaxFlowsPerReplica * Math.Max(1, clientReplicas))
            return new Periodicity("startup-only", null, string.Create(CultureInfo.InvariantCulture,
                $"{flows} flows from {clientReplicas} replicas of a client that is up all window: made when a pod starts; it recurs at every rollout and restart"));
        // One pass over the histogram: the hours of the day ever seen (hoursOfDay) and the days of the week seen.
        uint hoursSeen = 0;
        int weekdays = 0, weekday = -1;
        for (int d = 0; d < 7; d++)
        {
            uint day = 0;
            for (int h = 0; h < 24; h++)
                if (hours[d * 24 + h] > 0) day |= 1u << h;
            if (day == 0) continue;
            hoursSeen |= day;
            weekdays++;
            if (weekday < 0) weekday = d;
        }
        int hoursOfDay = System.Numerics.BitOperations.PopCount(hoursSeen);
        // The notes depend on a few small numbers only: one Periodicity per distinct value, not per rule (looked up
        // without lambdas: a closure over these locals was allocated on every call).
        if (continuous)
        {
            if (fullDays >= 3 && hoursOfDay <= 2)
            {
                ref var daily = ref Slot(made, ("daily", hoursOfDay, 0, 0));
                return daily ??= new Periodicity("daily", 1, $"every day, only in {hoursOfDay} hour(s) of the day: a daily job");
            }
            ref var steady = ref Slot(made, ("continuous", daysCount, 0, 0));
            return steady ??= new Periodicity("continuous", null, string.Create(CultureInfo.InvariantCulture, $"seen on {daysCount} of {fullDays} days"));
        }
        if (weekdays == 1 && hoursOfDay <= 3)
        {
            ref var weekly = ref Slot(made, ("weekly", weekday, hoursOfDay, daysCount));
            return weekly ??= Weekly(weekday, hoursOfDay, daysCount, fullDays);
        }
        if (daysCount <= 2)
        {
            ref var rare = ref Slot(made, ("rare", daysCount, 0, 0));
            return rare ??= new Periodicity("rare", null, string.Create(CultureInfo.InvariantCulture, $"seen on only {daysCount} of {fullDays} days without a pattern"));
        }
        ref var intermittent = ref Slot(made, ("intermittent", daysCount, 0, 0));
        return intermittent ??= new Periodicity("intermittent", null, string.Create(CultureInfo.InvariantCulture, $"seen on {daysCount} of {fullDays} days"));
    }

    private static Periodicity Weekly(int weekday, int hoursOfDay, int daysCount, double fullDays)
    {
        string day = ((DayOfWeek)((weekday + 1) % 7)).ToString();
        string guess = fullDays < 14 ? "; the window holds fewer than two periods, so the schedule is a guess" : "";
        return new Periodicity("weekly", 7, string.Create(CultureInfo.InvariantCulture,
            $"only on {day}s, {hoursOfDay} hour(s) of the day, {daysCount} run(s) in {fullDays} days: a weekly job{guess}"));
    }

    private static ref Periodicity? Slot(Dictionary<(string, int, int, int), Periodicity> made, (string, int, int, int) key) =>
        ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(made, key, out _)!;


    private static (string, string) Confidence(Periodicity periodicity, long flows) => periodicity.Pattern switch
    {
        "continuous" or "daily" when flows >= 10 => ("high", "steady traffic over the window"),
        "continuous" or "daily" => ("medium", "seen throughout, but few flows"),
        "weekly" => ("medium", "a periodic dependency: keep it even though it is rarely seen"),
        "startup-only" => ("medium", "a start-up dependency: rarely seen, needed at every pod start"),
        "intermittent" => ("medium", "seen on several days"),
        _ => ("low", "seen rarely and without a pattern: confirm with the owner before relying on it"),
    };

    /// <summary>
    /// Stable across runs: a hash of the rule text ("client -> server:port/proto"), so ids survive other rules
    /// appearing or going. Hashed piece by piece: the text itself is never made.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static string RuleId(Draft draft)
    {
        uint h = 2166136261;
        h = Fnv(h, draft.Client.Key);
        h = Fnv(h, " -> ");
        h = Fnv(h, draft.Server.Key);
        h = Fnv(h, ":");
        Span<char> port = stackalloc char[8];
        draft.Port.TryFormat(port, out int written, default, CultureInfo.InvariantCulture);
        h = Fnv(h, port[..written]);
        h = Fnv(h, "/");
        h = Fnv(h, IpProtocols.Name(draft.Protocol));
        return string.Create(10, h, static (chars, value) =>
        {
            chars[0] = 'r';
            chars[1] = '-';
            value.TryFormat(chars[2..], out _, "x8", CultureInfo.InvariantCulture);
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static uint Fnv(uint h, ReadOnlySpan<char> text)
    {
        foreach (char c in text) h = (h ^ c) * 16777619;
        return h;
    }

    private static List<WorkloadGroups> DetectGroups(List<Endpoint> workloads, List<Edge> kept)
    {
        var groups = new List<WorkloadGroups>();
        // Pod -> pod edges inside one namespace, by namespace, in the order of kept: one pass instead of one per label key.
        var insideByNamespace = new Dictionary<string, List<Edge>>(StringComparer.Ordinal);
        List<Edge>? current = null;
        string? currentNamespace = null;
        foreach (var e in kept)
        {
            if (e.Client.Kind != EndpointKind.Pod || e.Server.Kind != EndpointKind.Pod || e.Client.Namespace is not { } ns || ns != e.Server.Namespace) continue;
            // Edges usually come sorted by client: skip the lookup while the namespace stays the same.
            if (!ReferenceEquals(ns, currentNamespace))
            {
                ref var slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(insideByNamespace, ns, out _);
                current = slot ??= [];
                currentNamespace = ns;
            }
            current!.Add(e);
        }
        foreach (var ns in workloads.GroupBy(w => w.Namespace ?? ""))
        {
            var members = ns.ToList();
            var edgesInNamespace = insideByNamespace.TryGetValue(ns.Key, out var list) ? list : [];
            foreach (var key in members.SelectMany(m => m.Labels.Select(l => l.Key)).Distinct().Order(StringComparer.Ordinal))
            {
                var byValue = members.Where(m => m.Label(key) is not null).GroupBy(m => m.Label(key)!).ToList();
                if (byValue.Count < 2 || byValue.Any(g => g.Count() < 2)) continue;
                // Edges with the label on both sides: none, or one whose sides differ, and the key splits nothing.
                int inside = 0;
                bool crossed = false;
                foreach (var e in edgesInNamespace)
                {
                    if (e.Client.Label(key) is not { } clientValue || e.Server.Label(key) is not { } serverValue) continue;
                    if (clientValue != serverValue)
                    {
                        crossed = true;
                        break;
                    }
                    inside++;
                }
                if (inside == 0 || crossed) continue;
                groups.Add(new WorkloadGroups(ns.Key, key,
                    byValue.OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key,
                        g => (IReadOnlyList<string>)g.Select(m => m.Name).Order(StringComparer.Ordinal).ToList(), StringComparer.Ordinal),
                    inside));
            }
        }
        return groups;
    }

    private WarningList Warnings(SuggestedRule[] rules, List<WorkloadGroups> groups, List<Endpoint> workloads, List<Peer> workloadPeers, double windowDays)
    {
        var warnings = new WarningList(windowDays);
        if (windowDays < _options.MinTrustedWindowDays)
            warnings.Add(string.Create(CultureInfo.InvariantCulture,
                $"The window is {windowDays:0.#} days, shorter than {_options.MinTrustedWindowDays:0} days: weekly jobs and other rare dependencies may be missing, and enforcing these rules may block them. Use a window of at least two weeks before enforcing."));
        foreach (var rule in rules)
            if (rule.Periodicity.PeriodDays is { } p && windowDays < 2 * p) warnings.AddUnconfirmedPeriod(rule);
        // A workload peer only matches pods of its own namespace: look there, not at every workload.
        var workloadsByNamespace = workloads.ToLookup(w => w.Namespace);
        foreach (var peer in workloadPeers)
        {
            var others = workloadsByNamespace[peer.Namespace].Where(w => w.Key != peer.Key && peer.Matches(w)).Select(w => w.Key).ToList();
            if (others.Count > 0)
                warnings.Add($"The selector of {peer.Key} also selects {string.Join(", ", others)}: they share every label; give each workload a distinguishing label, or the rules reach both.");
        }
        if (groups.Count == 0) return warnings;
        // Workload -> workload rules inside one namespace, by namespace (only the namespaces with groups), in rule order.
        var rulesInsideNamespace = new Dictionary<string, List<SuggestedRule>>(StringComparer.Ordinal);
        foreach (var group in groups) rulesInsideNamespace.TryAdd(group.Namespace, []);
        foreach (var r in rules)
            if (r.Client.IsWorkload && r.Server.IsWorkload && r.Client.Namespace is { } ns && ns == r.Server.Namespace
                && rulesInsideNamespace.TryGetValue(ns, out var inside))
                inside.Add(r);
        foreach (var group in groups)
            foreach (var rule in rulesInsideNamespace[group.Namespace])
                if (!HasLabel(rule.Client.Selector, group.LabelKey) || !HasLabel(rule.Server.Selector, group.LabelKey))
                    warnings.AddCrossing(rule, group);
        return warnings;
    }

    private static bool HasLabel(IReadOnlyList<KeyValuePair<string, string>> selector, string key)
    {
        for (int i = 0; i < selector.Count; i++)
            if (selector[i].Key == key) return true;
        return false;
    }
}

/// <summary>
/// The warnings of a suggestion, each made when read: a dense graph over a short window has a warning for most of
/// its hundreds of thousands of periodic rules, and holding their texts took hundreds of megabytes.
/// </summary>
internal sealed class WarningList(double windowDays) : IReadOnlyList<string>
{
    private readonly List<(string? Text, SuggestedRule? Rule, WorkloadGroups? Group)> _items = [];

    public int Count => _items.Count;

    public string this[int index]
    {
        get
        {
            var (text, rule, group) = _items[index];
            if (text is not null) return text;
            if (group is null)
                return string.Create(CultureInfo.InvariantCulture,
                    $"{rule!.Id} ({rule}): {rule.Periodicity.Pattern} dependency, but the window ({windowDays:0.#} days) is shorter than two periods ({2 * rule.Periodicity.PeriodDays} days): the period is not confirmed.");
            return $"{rule!.Id} ({rule}) crosses the '{group.LabelKey}' groups of {group.Namespace}: one side lacks the label.";
        }
    }

    public void Add(string text) => _items.Add((text, null, null));

    public void AddUnconfirmedPeriod(SuggestedRule rule) => _items.Add((null, rule, null));

    public void AddCrossing(SuggestedRule rule, WorkloadGroups group) => _items.Add((null, rule, group));

    public IEnumerator<string> GetEnumerator()
    {
        for (int i = 0; i < _items.Count; i++) yield return this[i];
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
