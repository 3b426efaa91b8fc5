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
    // Identities carrying namespace labels (Hubble), with the earliest start of a record that carried each.
    private readonly Dictionary<WorkloadIdentity, DateTime> _namespaceLabelsSeen = new(ReferenceEqualityComparer.Instance);

    public EdgeAggregator(DateTime? from = null, DateTime? to = null)
    {
        _from = from ?? DateTime.MinValue;
        _to = to ?? DateTime.MaxValue;
    }

    /// <summary>Records counted into edges.</summary>
    public long Records { get; private set; }
    /// <summary>Records whose start lies outside [from, to).</summary>
    public long OutsideWindow { get; private set; }
    public int EdgeCount => _edges.Count;

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
        int client = EndpointId(flow.SrcIdentity, flow.SrcIp);
        int server = EndpointId(flow.DstIdentity, flow.DstIp);
        if (flow.SrcIdentity is { NamespaceLabels.Count: > 0 } srcLabelled) NoteNamespaceLabels(srcLabelled, flow.Start);
        if (flow.DstIdentity is { NamespaceLabels.Count: > 0 } dstLabelled) NoteNamespaceLabels(dstLabelled, flow.Start);
        ushort port = IpProtocols.HasPorts(flow.Protocol) ? flow.DstPort : (ushort)0;
        ref var acc = ref CollectionsMarshal.GetValueRefOrAddDefault(_edges, new EdgeKey(client, server, port, flow.Protocol), out bool exists);
        if (!exists) acc = new Accumulator(Accumulator.WholeSeconds(flow.Start));
        acc!.Add(flow, isReply);
    }

    /// <summary>Folds another aggregator's edges into this one (parallel readers).</summary>
    public void MergeFrom(EdgeAggregator other)
    {
        Records += other.Records;
        OutsideWindow += other.OutsideWindow;
        foreach (var (identity, seen) in other._namespaceLabelsSeen) NoteNamespaceLabels(identity, seen);
        var ids = new int[other._endpoints.Count];
        for (int id = 0; id < ids.Length; id++) ids[id] = _endpoints.Add(other._endpoints.Observed(id));
        foreach (var (key, theirs) in other._edges)
        {
            int client = ids[key.Client];
            int server = ids[key.Server];
            ref var acc = ref CollectionsMarshal.GetValueRefOrAddDefault(_edges, new EdgeKey(client, server, key.Port, key.Protocol), out bool exists);
            if (!exists) acc = new Accumulator(theirs.FirstSeen);
            acc!.Merge(theirs);
        }
    }

    /// <summary>The edges, in a stable order (client, server, protocol, port) so output is deterministic.</summary>
    public List<Edge> ToEdges()
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

        var keys = new (ulong Order, EdgeKey Key, Accumulator Acc)[_edges.Count];
        int n = 0;
        if (!merged)
        {
            // The common case: every observation is its own endpoint, so every edge stays as aggregated.
            foreach (var (key, acc) in _edges) keys[n++] = (Order(rankOf[key.Client], rankOf[key.Server], key), key, acc);
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
                    var copy = new Accumulator(into.FirstSeen);
                    copy.Merge(into);
                    copy.Merge(acc);
                    byEdge[edgeKey] = copy;
                }
            }
            keys = new (ulong, EdgeKey, Accumulator)[byEdge.Count];
            foreach (var (key, acc) in byEdge) keys[n++] = (Order(key.Client, key.Server, key), key, acc);
        }
        // (client rank, server rank) then (protocol, port): unique per edge, so the order is total.
        Array.Sort(keys, (a, b) =>
        {
            int c = a.Order.CompareTo(b.Order);
            return c != 0 ? c : ((a.Key.Protocol << 16) | a.Key.Port).CompareTo((b.Key.Protocol << 16) | b.Key.Port);
        });
        var result = new List<Edge>(keys.Length);
        foreach (var (_, key, acc) in keys)
            result.Add(merged
                ? acc.ToEdge(byKey[key.Client], byKey[key.Server], key.Port, key.Protocol)
                : acc.ToEdge(endpoints[key.Client], endpoints[key.Server], key.Port, key.Protocol));
        return result;

        static ulong Order(int clientRank, int serverRank, EdgeKey key) => ((ulong)(uint)clientRank << 32) | (uint)serverRank;
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

        public readonly void AddTo<TOut>(List<TOut> list, Func<T, TOut> map)
        {
            if (_more is not null)
                foreach (var value in _more) list.Add(map(value));
            else if (_hasFirst) list.Add(map(_first));
        }
    }

    private sealed class Accumulator
    {
        // Most edges see one day and one replica: the first value inline, a set only from the second on (a million
        // edges with three sets each were most of the embedded mode's memory and garbage collection).
        private SmallSet<int> _days;
        private SmallSet<string> _replicaNames;
        private SmallSet<PackedIp> _replicaAddresses;
        private readonly HourOfWeekCounts _hourOfWeek = new();

        public Accumulator(DateTime firstSeen)
        {
            FirstSeen = firstSeen;
            LastSeen = firstSeen;
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
            if (isReply) return;
            Flows++;
            switch (flow.Verdict)
            {
                case Verdict.Allowed: Allowed++; break;
                case Verdict.Denied: Denied++; break;
                default: UnknownVerdict++; break;
            }
            _days.Add(DayNumber(flow.Start));
            _hourOfWeek.Add(Edge.HourOfWeekOf(flow.Start), 1);
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
            _hourOfWeek.Add(other._hourOfWeek);
        }

        public Edge ToEdge(Endpoint client, Endpoint server, ushort port, byte protocol)
        {
            var days = new List<DateOnly>(_days.Count);
            _days.AddTo(days, DateOnly.FromDayNumber);
            days.Sort();
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
            edge.HourOfWeek.Add(_hourOfWeek);
            return edge;
        }

        /// <summary>Seen times keep whole seconds, the precision ClickHouse DateTime (and every output) has, so both edge sources agree.</summary>
        public static DateTime WholeSeconds(DateTime time) => new(time.Ticks - time.Ticks % TimeSpan.TicksPerSecond, time.Kind);

        private static int DayNumber(DateTime utc) => DateOnly.FromDateTime(utc).DayNumber;
    }
}

/// <summary>The one ordering of edges every output uses.</summary>
public static class EdgeOrder
{
    public static int Compare(Edge a, Edge b)
    {
        int c = string.CompareOrdinal(a.Client.Key, b.Client.Key);
        if (c != 0) return c;
        c = string.CompareOrdinal(a.Server.Key, b.Server.Key);
        if (c != 0) return c;
        c = a.Protocol.CompareTo(b.Protocol);
        return c != 0 ? c : a.Port.CompareTo(b.Port);
    }
}
