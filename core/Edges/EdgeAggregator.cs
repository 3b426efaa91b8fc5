using System.Runtime.InteropServices;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Core.Edges;

/// <summary>
/// Aggregates oriented flows (client -> server, after enrichment and direction) into edges in memory: the
/// embedded counterpart of the ClickHouse edge rollups. Not thread-safe: one aggregator per reader thread,
/// then <see cref="MergeFrom"/>.
/// </summary>
public sealed class EdgeAggregator
{
    private readonly DateTime _from;
    private readonly DateTime _to;
    // Endpoint ids: identities are interned upstream, so a reference lookup hits almost always; the catalog makes
    // observations of one endpoint (several identities: pods, sources, label sets over the window) share an id and
    // intersects their labels.
    private readonly Dictionary<WorkloadIdentity, int> _idByIdentity = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<PackedIp, int> _idByAddress = new();
    private readonly EndpointCatalog _endpoints = new();
    private readonly Dictionary<EdgeKey, Accumulator> _edges = new();
    // L7 facts by the same keys; apart from _edges so the L3/L4 path carries nothing more (docs/l7.md).
    private readonly Dictionary<EdgeKey, EdgeL7Accumulator> _l7 = new();
    // Identities carrying namespace labels (Hubble), with the earliest start of a record that carried each.
    private readonly Dictionary<WorkloadIdentity, DateTime> _namespaceLabelsSeen = new(ReferenceEqualityComparer.Instance);

    private readonly bool _keepHours;

    /// <param name="keepHours">Also keep each edge's counters hour by hour (<see cref="ToHourlySeries"/>, for anomaly detection).</param>
    public EdgeAggregator(DateTime? from = null, DateTime? to = null, bool keepHours = false)
    {
        _from = from ?? DateTime.MinValue;
        _to = to ?? DateTime.MaxValue;
        _keepHours = keepHours;
    }

    /// <summary>Records counted into edges.</summary>
    public long Records { get; private set; }
    /// <summary>Records whose start lies outside [from, to).</summary>
    public long OutsideWindow { get; private set; }
    /// <summary>Records counted into edges that were replies (bytes and packets, no flow): <see cref="Records"/> − this = flows.</summary>
    public long Replies { get; private set; }
    public int EdgeCount => _edges.Count;
    /// <summary>L7 observations counted into edges' L7 facts.</summary>
    public long L7Records { get; private set; }
    /// <summary>L7 observations without a transport whose two endpoints had no edge, or several, to join (not attributed).</summary>
    public long L7Unattributed { get; private set; }

    /// <summary>
    /// Namespace labels the records carried (Hubble's <c>io.cilium.k8s.namespace.labels.*</c>), by namespace. Where a
    /// namespace was relabelled within the window, the set first seen latest wins (the newer set), each set dated by the
    /// earliest record that carried it; equal dates go to the ordinally greater set. The same in any record order, so
    /// any number of threads gives the same answer.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string>>> NamespaceLabels
    {
        get
        {
            // Per namespace and label set (identities of many pods share one), the earliest record; then the latest set.
            var earliest = new Dictionary<(string Namespace, string Labels), (DateTime Seen, IReadOnlyList<KeyValuePair<string, string>> Labels)>();
            foreach (var (identity, seen) in _namespaceLabelsSeen)
            {
                var key = (identity.Namespace!, LabelsText(identity.NamespaceLabels));
                ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(earliest, key, out bool exists);
                if (!exists || seen < slot.Seen) slot = (seen, identity.NamespaceLabels);
            }
            var chosen = new Dictionary<string, (DateTime Seen, string Text, IReadOnlyList<KeyValuePair<string, string>> Labels)>(StringComparer.Ordinal);
            foreach (var ((ns, text), (seen, labels)) in earliest)
            {
                ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(chosen, ns, out bool exists);
                if (!exists || seen > slot.Seen || (seen == slot.Seen && string.CompareOrdinal(text, slot.Text) > 0)) slot = (seen, text, labels);
            }
            return chosen.ToDictionary(p => p.Key, p => p.Value.Labels, StringComparer.Ordinal);
        }
    }

    private static string LabelsText(IReadOnlyList<KeyValuePair<string, string>> labels) =>
        string.Join("\n", labels.Select(p => p.Key + "=" + p.Value));

    /// <summary>
    /// Adds one flow whose source is the client. <paramref name="isReply"/>: the record was the server's half of
    /// the connection (already flipped): it adds bytes and packets but is not a new flow.
    /// </summary>
    public void Add(in FlowRecord flow, bool isReply)
    {
        if (flow.Start < _from || flow.Start >= _to)
        {
            OutsideWindow++;
            return;
        }
        Records++;
        if (isReply) Replies++;
        int client = EndpointId(flow.SrcIdentity, flow.SrcIp);
        int server = EndpointId(flow.DstIdentity, flow.DstIp);
        if (flow.SrcIdentity is { NamespaceLabels.Count: > 0 } srcLabelled) NoteNamespaceLabels(srcLabelled, flow.Start);
        if (flow.DstIdentity is { NamespaceLabels.Count: > 0 } dstLabelled) NoteNamespaceLabels(dstLabelled, flow.Start);
        ushort port = IpProtocols.HasPorts(flow.Protocol) ? flow.DstPort : (ushort)0;
        ref var acc = ref CollectionsMarshal.GetValueRefOrAddDefault(_edges, new EdgeKey(client, server, port, flow.Protocol), out bool exists);
        if (!exists) acc = new Accumulator(Accumulator.WholeSeconds(flow.Start), _keepHours);
        acc!.Add(flow, isReply);
    }

    /// <summary>
    /// Adds an L7 observation, already oriented: <paramref name="oriented"/> has the client as its source (a response
    /// flipped). It joins the edge of the same endpoints, port and transport; a record without l4 (no transport) joins
    /// the one edge between its two endpoints when <see cref="ToEdges"/> runs.
    /// </summary>
    public void AddL7(in FlowRecord oriented, in L7Observation observation)
    {
        if (oriented.Start < _from || oriented.Start >= _to) return;
        L7Records++;
        L7Of(oriented).Add(observation, Accumulator.WholeSeconds(oriented.Start));
    }

    /// <summary>Names the client reached the server's address by (Hubble's destination_names, or a DNS answer before the connection).</summary>
    public void AddNames(in FlowRecord oriented, IReadOnlyList<string> names)
    {
        if (oriented.Start < _from || oriented.Start >= _to || names.Count == 0) return;
        L7Of(oriented).AddNames(names, Accumulator.WholeSeconds(oriented.Start));
    }

    private EdgeL7Accumulator L7Of(in FlowRecord flow)
    {
        int client = EndpointId(flow.SrcIdentity, flow.SrcIp);
        int server = EndpointId(flow.DstIdentity, flow.DstIp);
        if (flow.SrcIdentity is { NamespaceLabels.Count: > 0 } srcLabelled) NoteNamespaceLabels(srcLabelled, flow.Start);
        if (flow.DstIdentity is { NamespaceLabels.Count: > 0 } dstLabelled) NoteNamespaceLabels(dstLabelled, flow.Start);
        ushort port = IpProtocols.HasPorts(flow.Protocol) ? flow.DstPort : (ushort)0;
        ref var acc = ref CollectionsMarshal.GetValueRefOrAddDefault(_l7, new EdgeKey(client, server, port, flow.Protocol), out _);
        return acc ??= new EdgeL7Accumulator();
    }

    /// <summary>
    /// Folds another aggregator's edges into this one (parallel readers). <paramref name="other"/> is consumed: its
    /// accumulators move over where this one has no such edge yet (a copy per edge was a tenth of a million-edge load),
    /// and it is left without edges.
    /// </summary>
    public void MergeFrom(EdgeAggregator other)
    {
        Records += other.Records;
        OutsideWindow += other.OutsideWindow;
        Replies += other.Replies;
        foreach (var (identity, seen) in other._namespaceLabelsSeen) NoteNamespaceLabels(identity, seen);
        var ids = new int[other._endpoints.Count];
        for (int id = 0; id < ids.Length; id++) ids[id] = _endpoints.Add(other._endpoints.Observed(id));
        _edges.EnsureCapacity(_edges.Count + other._edges.Count);
        foreach (var (key, theirs) in other._edges)
        {
            int client = ids[key.Client];
            int server = ids[key.Server];
            ref var acc = ref CollectionsMarshal.GetValueRefOrAddDefault(_edges, new EdgeKey(client, server, key.Port, key.Protocol), out bool exists);
            if (!exists) acc = theirs;
            else acc!.Merge(theirs);
        }
        other._edges.Clear();
        L7Records += other.L7Records;
        foreach (var (key, theirs) in other._l7)
        {
            ref var acc = ref CollectionsMarshal.GetValueRefOrAddDefault(_l7, new EdgeKey(ids[key.Client], ids[key.Server], key.Port, key.Protocol), out _);
            (acc ??= new EdgeL7Accumulator()).Merge(theirs);
        }
    }

    /// <summary>The edges, in a stable order (client, server, protocol, port) so output is deterministic.</summary>
    /// <param name="threads">Threads that build the edge objects (a million edges are ~8 objects each); any number gives the same list.</param>
    public List<Edge> ToEdges(int threads = 1)
    {
        var (byRank, rankOf, edges) = RankedEdges();
        var l7 = L7ByEdge(rankOf);
        var result = new List<Edge>(edges.Length);
        CollectionsMarshal.SetCount(result, edges.Length);
        var into = CollectionsMarshal.AsSpan(result);
        const int Block = 16_384;
        if (threads <= 1 || edges.Length <= Block) Build(0, edges.Length, into);
        else
            Parallel.For(0, (edges.Length + Block - 1) / Block, new ParallelOptions { MaxDegreeOfParallelism = threads },
                b => Build(b * Block, Math.Min(edges.Length, (b + 1) * Block), CollectionsMarshal.AsSpan(result)));
        return result;

        void Build(int start, int end, Span<Edge> into)
        {
            for (int i = start; i < end; i++)
            {
                var (key, acc) = edges[i];
                into[i] = WithL7(acc.ToEdge(byRank[key.Client], byRank[key.Server], key.Port, key.Protocol), l7, key);
            }
        }
    }

    private static Edge WithL7(Edge edge, Dictionary<EdgeKey, EdgeL7Accumulator> l7, EdgeKey key)
    {
        if (l7.TryGetValue(key, out var facts)) edge.L7 = facts.ToFacts();
        return edge;
    }

    /// <summary>
    /// L7 facts by resolved edge key. Facts of a record without transport (port and protocol 0) join the one edge
    /// between their endpoints; with none or several to choose from they are counted in <see cref="L7Unattributed"/>.
    /// </summary>
    private Dictionary<EdgeKey, EdgeL7Accumulator> L7ByEdge(int[] rankOf)
    {
        var result = new Dictionary<EdgeKey, EdgeL7Accumulator>();
        if (_l7.Count == 0) return result;
        Dictionary<(int, int), List<EdgeKey>>? byPair = null;
        L7Unattributed = 0;
        foreach (var (raw, acc) in _l7)
        {
            var key = new EdgeKey(rankOf[raw.Client], rankOf[raw.Server], raw.Port, raw.Protocol);
            if (key.Protocol == 0)
            {
                if (byPair is null)
                {
                    byPair = new();
                    foreach (var edge in _edges.Keys)
                    {
                        var pair = (rankOf[edge.Client], rankOf[edge.Server]);
                        if (!byPair.TryGetValue(pair, out var keys)) byPair[pair] = keys = [];
                        var resolved = new EdgeKey(pair.Item1, pair.Item2, edge.Port, edge.Protocol);
                        if (!keys.Contains(resolved)) keys.Add(resolved);
                    }
                }
                if (!byPair.TryGetValue((key.Client, key.Server), out var candidates) || candidates.Count != 1)
                {
                    L7Unattributed++;
                    continue;
                }
                key = candidates[0];
            }
            ref var into = ref CollectionsMarshal.GetValueRefOrAddDefault(result, key, out _);
            (into ??= new EdgeL7Accumulator()).Merge(acc);
        }
        return result;
    }

    /// <summary>
    /// Each edge's counters hour by hour, hour indexes counted from <paramref name="from"/> (the first hour of the
    /// window; flows before it are left out). Needs <c>keepHours</c>; same endpoints, edges and order as <see cref="ToEdges"/>.
    /// </summary>
    public List<EdgeHourlySeries> ToHourlySeries(DateTime from)
    {
        if (!_keepHours) throw new InvalidOperationException("this aggregator was not asked to keep hours (keepHours: true)");
        long first = from.Ticks / TimeSpan.TicksPerHour;
        var (byRank, _, edges) = RankedEdges();
        var result = new List<EdgeHourlySeries>(edges.Length);
        foreach (var (key, acc) in edges) result.Add(acc.ToHourlySeries(byRank[key.Client], byRank[key.Server], key.Port, key.Protocol, first));
        return result;
    }

    /// <summary>
    /// The resolved endpoints in key order, each observed endpoint id's rank, and one accumulator per edge between
    /// them (keyed by those ranks), sorted as <see cref="EdgeOrder"/> sorts edges.
    /// </summary>
    private (Endpoint[] ByRank, int[] RankOf, (EdgeKey Key, Accumulator Acc)[] Edges) RankedEdges()
    {
        var endpoints = _endpoints.Resolve();
        // Observations that resolve to one endpoint (a workload seen with and without its kind) make one edge: ids of
        // the resolved endpoints (one object per endpoint) instead of hashing keys per edge. The ids are the endpoints'
        // ranks in key order, so edges sort by four integers instead of comparing key strings (EdgeOrder).
        var distinct = new Dictionary<Endpoint, int>(ReferenceEqualityComparer.Instance);
        foreach (var endpoint in endpoints) distinct.TryAdd(endpoint, 0);
        var byKey = distinct.Keys.ToArray();
        Array.Sort(byKey, (a, b) => string.CompareOrdinal(a.Key, b.Key));
        for (int rank = 0; rank < byKey.Length; rank++) distinct[byKey[rank]] = rank;
        var rankOf = new int[endpoints.Length];
        bool merged = byKey.Length < endpoints.Length;
        for (int i = 0; i < endpoints.Length; i++) rankOf[i] = distinct[endpoints[i]];

        if (!merged && byKey.Length <= PackedRanks.MaxRank + 1)
        {
            // The common case: every observation is its own endpoint, so every edge stays as aggregated, and the ranks fit
            // one 64-bit sort key: a sort of primitive keys, without a comparison delegate over 32-byte tuples.
            var packed = new ulong[_edges.Count];
            var accumulators = new Accumulator[_edges.Count];
            int i = 0;
            foreach (var (key, acc) in _edges)
            {
                packed[i] = PackedRanks.Pack(rankOf[key.Client], rankOf[key.Server], key.Protocol, key.Port);
                accumulators[i++] = acc;
            }
            Array.Sort(packed, accumulators);
            var sorted = new (EdgeKey, Accumulator)[packed.Length];
            for (i = 0; i < packed.Length; i++) sorted[i] = (PackedRanks.Unpack(packed[i]), accumulators[i]);
            return (byKey, rankOf, sorted);
        }
        (ulong Order, EdgeKey Key, Accumulator Acc)[] keys;
        int n = 0;
        if (!merged)
        {
            keys = new (ulong, EdgeKey, Accumulator)[_edges.Count];
            foreach (var (key, acc) in _edges)
            {
                var ranked = new EdgeKey(rankOf[key.Client], rankOf[key.Server], key.Port, key.Protocol);
                keys[n++] = (Order(ranked), ranked, acc);
            }
        }
        else
        {
            var byEdge = new Dictionary<EdgeKey, Accumulator>(_edges.Count);
            foreach (var (key, acc) in _edges)
            {
                var edgeKey = new EdgeKey(rankOf[key.Client], rankOf[key.Server], key.Port, key.Protocol);
                if (!byEdge.TryGetValue(edgeKey, out var into)) byEdge[edgeKey] = acc;
                else
                {
                    // A fresh accumulator: the aggregator's own stay as they are (ToEdges can be called again).
                    var copy = new Accumulator(into.FirstSeen, _keepHours);
                    copy.Merge(into);
                    copy.Merge(acc);
                    byEdge[edgeKey] = copy;
                }
            }
            keys = new (ulong, EdgeKey, Accumulator)[byEdge.Count];
            foreach (var (key, acc) in byEdge) keys[n++] = (Order(key), key, acc);
        }
        // (client rank, server rank) then (protocol, port): unique per edge, so the order is total.
        Array.Sort(keys, (a, b) =>
        {
            int c = a.Order.CompareTo(b.Order);
            return c != 0 ? c : ((a.Key.Protocol << 16) | a.Key.Port).CompareTo((b.Key.Protocol << 16) | b.Key.Port);
        });
        var edges = new (EdgeKey, Accumulator)[keys.Length];
        for (int i = 0; i < keys.Length; i++) edges[i] = (keys[i].Key, keys[i].Acc);
        return (byKey, rankOf, edges);

        static ulong Order(EdgeKey key) => ((ulong)(uint)key.Client << 32) | (uint)key.Server;
    }

    private void NoteNamespaceLabels(WorkloadIdentity identity, DateTime seen)
    {
        if (identity.Namespace is null) return;
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_namespaceLabelsSeen, identity, out bool exists);
        if (!exists || seen < slot) slot = seen;
    }

    private int EndpointId(WorkloadIdentity? identity, PackedIp address)
    {
        // An identity without a name (Hubble's reserved:world, say) says less than the address does.
        if (identity is not null && (identity.Workload is not null || identity.Name is not null))
        {
            if (_idByIdentity.TryGetValue(identity, out int id)) return id;
            id = _endpoints.Add(Endpoint.FromIdentity(identity));
            _idByIdentity[identity] = id;
            return id;
        }
        if (_idByAddress.TryGetValue(address, out int byAddress)) return byAddress;
        byAddress = _endpoints.Add(Endpoint.FromAddress(address));
        _idByAddress[address] = byAddress;
        return byAddress;
    }

    private readonly record struct EdgeKey(int Client, int Server, ushort Port, byte Protocol);

    /// <summary>(client rank, server rank, protocol, port) in one 64-bit key whose order is <see cref="EdgeOrder"/>'s: 20 + 20 + 8 + 16 bits.</summary>
    private static class PackedRanks
    {
        public const int MaxRank = (1 << 20) - 1;

        public static ulong Pack(int client, int server, byte protocol, ushort port) =>
            ((ulong)(uint)client << 44) | ((ulong)(uint)server << 24) | ((ulong)protocol << 16) | port;

        public static EdgeKey Unpack(ulong key) =>
            new((int)(key >> 44), (int)((key >> 24) & MaxRank), (ushort)key, (byte)(key >> 16));
    }

    /// <summary>A set that holds its first value inline and allocates a <see cref="HashSet{T}"/> only for a second.</summary>
    private struct SmallSet<T> where T : IEquatable<T>
    {
        private bool _hasFirst;
        private T _first;
        private HashSet<T>? _more;

        public readonly int Count => _more?.Count ?? (_hasFirst ? 1 : 0);

        public void Add(T value)
        {
            if (_more is not null)
            {
                _more.Add(value);
                return;
            }
            if (!_hasFirst)
            {
                _first = value;
                _hasFirst = true;
                return;
            }
            if (_first.Equals(value)) return;
            _more = [_first, value];
        }

        public void UnionWith(in SmallSet<T> other)
        {
            if (other._more is not null)
                foreach (var value in other._more) Add(value);
            else if (other._hasFirst) Add(other._first);
        }

        public readonly TOut[] ToArray<TOut>(Func<T, TOut> map)
        {
            if (_more is null) return _hasFirst ? [map(_first)] : [];
            var result = new TOut[_more.Count];
            int i = 0;
            foreach (var value in _more) result[i++] = map(value);
            return result;
        }
    }

    private sealed class Accumulator
    {
        // Most edges see one day and one replica: the first value inline, a set only from the second on (a million
        // edges with three sets each were most of the embedded mode's memory and garbage collection).
        private SmallSet<int> _days;
        private SmallSet<string> _replicaNames;
        private SmallSet<PackedIp> _replicaAddresses;
        // Likewise the hour of the week: the first hour inline, counts for every hour only from a second hour on.
        private int _onlyHour = -1;
        private long _onlyHourFlows;
        private HourOfWeekCounts? _hourOfWeek;
        // Only when the aggregator keeps hours: counters per absolute hour number (ticks / ticks per hour).
        private readonly Dictionary<int, HourCounters>? _hours;

        public Accumulator(DateTime firstSeen, bool keepHours)
        {
            FirstSeen = firstSeen;
            LastSeen = firstSeen;
            if (keepHours) _hours = new Dictionary<int, HourCounters>();
        }

        private struct HourCounters
        {
            public long Flows;
            public ulong Bytes;
            public long Denied;
        }

        public long Flows;
        public ulong Bytes;
        public ulong Packets;
        public DateTime FirstSeen;
        public DateTime LastSeen;
        public long Allowed;
        public long Denied;
        public long UnknownVerdict;

        public void Add(in FlowRecord flow, bool isReply)
        {
            Bytes += flow.Bytes;
            Packets += flow.Packets;
            var start = WholeSeconds(flow.Start);
            if (start < FirstSeen) FirstSeen = start;
            var end = WholeSeconds(flow.End > flow.Start ? flow.End : flow.Start);
            if (end > LastSeen) LastSeen = end;
            if (_hours is not null)
            {
                ref var hour = ref CollectionsMarshal.GetValueRefOrAddDefault(_hours, (int)(flow.Start.Ticks / TimeSpan.TicksPerHour), out _);
                hour.Bytes += flow.Bytes;
                if (!isReply)
                {
                    hour.Flows++;
                    if (flow.Verdict == Verdict.Denied) hour.Denied++;
                }
            }
            if (isReply) return;
            Flows++;
            switch (flow.Verdict)
            {
                case Verdict.Allowed: Allowed++; break;
                case Verdict.Denied: Denied++; break;
                default: UnknownVerdict++; break;
            }
            _days.Add(DayNumber(flow.Start));
            AddHourOfWeek(Edge.HourOfWeekOf(flow.Start), 1);
            if (flow.SrcIdentity?.Name is { } pod) _replicaNames.Add(pod);
            else _replicaAddresses.Add(flow.SrcIp);
        }

        public void Merge(Accumulator other)
        {
            Flows += other.Flows;
            Bytes += other.Bytes;
            Packets += other.Packets;
            if (other.FirstSeen < FirstSeen) FirstSeen = other.FirstSeen;
            if (other.LastSeen > LastSeen) LastSeen = other.LastSeen;
            Allowed += other.Allowed;
            Denied += other.Denied;
            UnknownVerdict += other.UnknownVerdict;
            _days.UnionWith(in other._days);
            _replicaNames.UnionWith(in other._replicaNames);
            _replicaAddresses.UnionWith(in other._replicaAddresses);
            if (other._hourOfWeek is not null) (_hourOfWeek ??= HoursFromOnly()).Add(other._hourOfWeek);
            else if (other._onlyHour >= 0) AddHourOfWeek(other._onlyHour, other._onlyHourFlows);
            if (_hours is not null && other._hours is not null)
                foreach (var (number, theirs) in other._hours)
                {
                    ref var mine = ref CollectionsMarshal.GetValueRefOrAddDefault(_hours, number, out _);
                    mine.Flows += theirs.Flows;
                    mine.Bytes += theirs.Bytes;
                    mine.Denied += theirs.Denied;
                }
        }

        public EdgeHourlySeries ToHourlySeries(Endpoint client, Endpoint server, ushort port, byte protocol, long firstHour)
        {
            // An hour of zero-byte replies only holds nothing (ClickHouse's sumMap leaves such hours out too).
            var numbers = _hours!.Where(p => p.Key >= firstHour && (p.Value.Flows != 0 || p.Value.Bytes != 0 || p.Value.Denied != 0)).Select(p => p.Key).Order().ToArray();
            var hours = new int[numbers.Length];
            var flows = new long[numbers.Length];
            var bytes = new ulong[numbers.Length];
            var denied = new long[numbers.Length];
            for (int i = 0; i < numbers.Length; i++)
            {
                var counters = _hours![numbers[i]];
                hours[i] = (int)(numbers[i] - firstHour);
                flows[i] = counters.Flows;
                bytes[i] = counters.Bytes;
                denied[i] = counters.Denied;
            }
            return new EdgeHourlySeries(client, server, port, protocol, hours, flows, bytes, denied);
        }

        public Edge ToEdge(Endpoint client, Endpoint server, ushort port, byte protocol)
        {
            var days = _days.ToArray(DateOnly.FromDayNumber);
            Array.Sort(days);
            var edge = new Edge(client, server, port, protocol)
            {
                Flows = Flows,
                Bytes = Bytes,
                Packets = Packets,
                FirstSeen = FirstSeen,
                LastSeen = LastSeen,
                AllowedFlows = Allowed,
                DeniedFlows = Denied,
                UnknownVerdictFlows = UnknownVerdict,
                ClientReplicas = _replicaNames.Count + _replicaAddresses.Count,
                Days = days,
            };
            if (_hourOfWeek is not null) edge.HourOfWeek.Add(_hourOfWeek);
            else if (_onlyHour >= 0) edge.HourOfWeek.Add(_onlyHour, _onlyHourFlows);
            return edge;
        }

        private void AddHourOfWeek(int hour, long flows)
        {
            if (_hourOfWeek is not null) _hourOfWeek.Add(hour, flows);
            else if (_onlyHour < 0 || _onlyHour == hour)
            {
                _onlyHour = hour;
                _onlyHourFlows += flows;
            }
            else (_hourOfWeek = HoursFromOnly()).Add(hour, flows);
        }

        private HourOfWeekCounts HoursFromOnly()
        {
            var counts = new HourOfWeekCounts();
            if (_onlyHour >= 0) counts.Add(_onlyHour, _onlyHourFlows);
            return counts;
        }

        /// <summary>Seen times keep whole seconds, the precision ClickHouse DateTime (and every output) has, so both edge sources agree.</summary>
        public static DateTime WholeSeconds(DateTime time) => new(time.Ticks - time.Ticks % TimeSpan.TicksPerSecond, time.Kind);

        private static int DayNumber(DateTime utc) => DateOnly.FromDateTime(utc).DayNumber;
    }
}

/// <summary>The one ordering of edges every output uses.</summary>
public static class EdgeOrder
{
    public static int Compare(Edge a, Edge b) => Compare(a.Client, a.Server, a.Protocol, a.Port, b.Client, b.Server, b.Protocol, b.Port);

    /// <summary>The same order for hourly series (<see cref="EdgeHourlySeries"/>).</summary>
    public static int Compare(EdgeHourlySeries a, EdgeHourlySeries b) => Compare(a.Client, a.Server, a.Protocol, a.Port, b.Client, b.Server, b.Protocol, b.Port);

    private static int Compare(Endpoint aClient, Endpoint aServer, byte aProtocol, ushort aPort, Endpoint bClient, Endpoint bServer, byte bProtocol, ushort bPort)
    {
        int c = string.CompareOrdinal(aClient.Key, bClient.Key);
        if (c != 0) return c;
        c = string.CompareOrdinal(aServer.Key, bServer.Key);
        if (c != 0) return c;
        c = aProtocol.CompareTo(bProtocol);
        return c != 0 ? c : aPort.CompareTo(bPort);
    }
}
