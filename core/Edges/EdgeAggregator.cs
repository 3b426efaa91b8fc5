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
    private readonly Dictionary<string, (DateTime Seen, IReadOnlyList<KeyValuePair<string, string>> Labels)> _namespaceLabels = new(StringComparer.Ordinal);

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
    /// <summary>L7 observations counted into edges' L7 facts.</summary>
    public long L7Records { get; private set; }
    /// <summary>L7 observations without a transport whose two endpoints had no edge, or several, to join (not attributed).</summary>
    public long L7Unattributed { get; private set; }

    /// <summary>
    /// Namespace labels the records carried (Hubble's <c>io.cilium.k8s.namespace.labels.*</c>), by namespace. Noted once
    /// per identity (not per record, to keep the per-flow path a lookup): where a namespace was relabelled within the
    /// window, the set of the identity first seen latest wins, which is the newer set in practice.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string>>> NamespaceLabels =>
        _namespaceLabels.ToDictionary(p => p.Key, p => p.Value.Labels, StringComparer.Ordinal);

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
        int client = EndpointId(flow.SrcIdentity, flow.SrcIp, flow.Start);
        int server = EndpointId(flow.DstIdentity, flow.DstIp, flow.Start);
        ushort port = IpProtocols.HasPorts(flow.Protocol) ? flow.DstPort : (ushort)0;
        ref var acc = ref CollectionsMarshal.GetValueRefOrAddDefault(_edges, new EdgeKey(client, server, port, flow.Protocol), out bool exists);
        if (!exists) acc = new Accumulator(Accumulator.WholeSeconds(flow.Start));
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
        int client = EndpointId(flow.SrcIdentity, flow.SrcIp, flow.Start);
        int server = EndpointId(flow.DstIdentity, flow.DstIp, flow.Start);
        ushort port = IpProtocols.HasPorts(flow.Protocol) ? flow.DstPort : (ushort)0;
        ref var acc = ref CollectionsMarshal.GetValueRefOrAddDefault(_l7, new EdgeKey(client, server, port, flow.Protocol), out _);
        return acc ??= new EdgeL7Accumulator();
    }

    /// <summary>Folds another aggregator's edges into this one (parallel readers).</summary>
    public void MergeFrom(EdgeAggregator other)
    {
        Records += other.Records;
        OutsideWindow += other.OutsideWindow;
        foreach (var (ns, theirs) in other._namespaceLabels) NoteNamespace(ns, theirs.Labels, theirs.Seen);
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
        L7Records += other.L7Records;
        foreach (var (key, theirs) in other._l7)
        {
            ref var acc = ref CollectionsMarshal.GetValueRefOrAddDefault(_l7, new EdgeKey(ids[key.Client], ids[key.Server], key.Port, key.Protocol), out _);
            (acc ??= new EdgeL7Accumulator()).Merge(theirs);
        }
    }

    /// <summary>The edges, in a stable order (client, server, protocol, port) so output is deterministic.</summary>
    public List<Edge> ToEdges()
    {
        var endpoints = _endpoints.Resolve();
        // Observations that resolve to one endpoint (a workload seen with and without its kind) make one edge: ids of
        // the resolved endpoints (one object per endpoint) instead of hashing keys per edge.
        var resolvedIds = new Dictionary<Endpoint, int>(ReferenceEqualityComparer.Instance);
        var resolvedId = new int[endpoints.Length];
        bool merged = false;
        for (int i = 0; i < endpoints.Length; i++)
        {
            ref int slot = ref CollectionsMarshal.GetValueRefOrAddDefault(resolvedIds, endpoints[i], out bool known);
            if (!known) slot = i;
            resolvedId[i] = slot;
            merged |= slot != i;
        }
        var result = new List<Edge>(_edges.Count);
        var l7 = L7ByEdge(resolvedId);
        if (!merged)
        {
            // The common case: every observation is its own endpoint, so every edge stays as aggregated.
            foreach (var (key, acc) in _edges)
                result.Add(WithL7(acc.ToEdge(endpoints[key.Client], endpoints[key.Server], key.Port, key.Protocol), l7, key));
            result.Sort(EdgeOrder.Compare);
            return result;
        }
        var byEdge = new Dictionary<EdgeKey, Accumulator>(_edges.Count);
        foreach (var (key, acc) in _edges)
        {
            var edgeKey = new EdgeKey(resolvedId[key.Client], resolvedId[key.Server], key.Port, key.Protocol);
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
        foreach (var (key, acc) in byEdge)
            result.Add(WithL7(acc.ToEdge(endpoints[key.Client], endpoints[key.Server], key.Port, key.Protocol), l7, key));
        result.Sort(EdgeOrder.Compare);
        return result;
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
    private Dictionary<EdgeKey, EdgeL7Accumulator> L7ByEdge(int[] resolvedId)
    {
        var result = new Dictionary<EdgeKey, EdgeL7Accumulator>();
        if (_l7.Count == 0) return result;
        Dictionary<(int, int), List<EdgeKey>>? byPair = null;
        L7Unattributed = 0;
        foreach (var (raw, acc) in _l7)
        {
            var key = new EdgeKey(resolvedId[raw.Client], resolvedId[raw.Server], raw.Port, raw.Protocol);
            if (key.Protocol == 0)
            {
                if (byPair is null)
                {
                    byPair = new();
                    foreach (var edge in _edges.Keys)
                    {
                        var pair = (resolvedId[edge.Client], resolvedId[edge.Server]);
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

    private void NoteNamespace(string ns, IReadOnlyList<KeyValuePair<string, string>> labels, DateTime seen)
    {
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_namespaceLabels, ns, out bool exists);
        if (!exists || seen > slot.Seen) slot = (seen, labels);
    }

    private int EndpointId(WorkloadIdentity? identity, PackedIp address, DateTime seen)
    {
        // An identity without a name (Hubble's reserved:world, say) says less than the address does.
        if (identity is not null && (identity.Workload is not null || identity.Name is not null))
        {
            if (_idByIdentity.TryGetValue(identity, out int id)) return id;
            if (identity is { Namespace: { } ns, NamespaceLabels.Count: > 0 }) NoteNamespace(ns, identity.NamespaceLabels, seen);
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

    private sealed class Accumulator
    {
        private readonly HashSet<int> _days = new();
        private readonly HashSet<string> _replicaNames = new(StringComparer.Ordinal);
        private readonly HashSet<PackedIp> _replicaAddresses = new();
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
            _days.UnionWith(other._days);
            _replicaNames.UnionWith(other._replicaNames);
            _replicaAddresses.UnionWith(other._replicaAddresses);
            _hourOfWeek.Add(other._hourOfWeek);
        }

        public Edge ToEdge(Endpoint client, Endpoint server, ushort port, byte protocol)
        {
            var days = _days.Select(d => DateOnly.FromDayNumber(d)).ToList();
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
