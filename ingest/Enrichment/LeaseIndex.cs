using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Direction;

namespace FlowPolicy.Ingest.Enrichment;

/// <summary>
/// Address -> identity as of a time. Pod and ENI addresses are reused, so every address maps to a timeline:
/// a sorted array of non-overlapping segments searched by binary search. Networks (CIDR leases) are looked up
/// by longest prefix, one dictionary per prefix length in use. Immutable once built: readers on many threads
/// share one instance, and a reload builds a new one and swaps the reference.
/// </summary>
/// <remarks>
/// Overlapping leases for one address: at any instant the lease with the latest <c>from</c> wins (a completed
/// Job pod keeps its old IP in the API while a newer pod already uses it; the newer one is right). Equal
/// <c>from</c>: the one loaded last wins.
/// </remarks>
public sealed class LeaseIndex : IServedPorts
{
    private readonly HostTable _hosts;
    private readonly PrefixTable[] _v4Networks;
    private readonly PrefixTable[] _v6Networks;

    private LeaseIndex(HostTable hosts, PrefixTable[] v4, PrefixTable[] v6, int leaseCount, int identityCount, IReadOnlyList<PackedIp>? nodeAddresses = null,
        IReadOnlyDictionary<string, IReadOnlyList<PackedIp>>? nodeAddressesByName = null)
    {
        NodeAddresses = nodeAddresses ?? [];
        NodeAddressesByName = nodeAddressesByName ?? new Dictionary<string, IReadOnlyList<PackedIp>>(StringComparer.Ordinal);
        _hosts = hosts;
        _v4Networks = v4;
        _v6Networks = v6;
        LeaseCount = leaseCount;
        IdentityCount = identityCount;
    }

    public static LeaseIndex Empty { get; } = new(new HostTable([]), [], [], 0, 0);

    public int LeaseCount { get; }
    /// <summary>Every single address some lease gives to a node, sorted (policies allowing egress to the nodes need them).</summary>
    public IReadOnlyList<PackedIp> NodeAddresses { get; }
    /// <summary>The same addresses per node name (the <c>node:NAME</c> endpoint's name): what an ipBlock of a node's address matches.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<PackedIp>> NodeAddressesByName { get; }
    public int IdentityCount { get; }
    /// <summary>Distinct single addresses with at least one lease.</summary>
    public int AddressCount => _hosts.Count;
    public int NetworkCount
    {
        get
        {
            int n = 0;
            foreach (var table in _v4Networks) n += table.Networks.Count;
            foreach (var table in _v6Networks) n += table.Networks.Count;
            return n;
        }
    }

    /// <summary>The identity owning <paramref name="ip"/> at <paramref name="at"/> (from &lt;= at &lt; to), or null.</summary>
    public WorkloadIdentity? Lookup(PackedIp ip, DateTime at) => Find(ip, at)?.Identity;

    /// <summary>True when the lease owning <paramref name="ip"/> at <paramref name="at"/> declares the port.</summary>
    public bool Serves(PackedIp ip, ushort port, byte protocol, DateTime at) =>
        Find(ip, at) is { } lease && lease.Serves(port, protocol);

    internal Lease? Find(PackedIp ip, DateTime at)
    {
        long ticks = at.Ticks;
        if (_hosts.Find(ip, ticks) is { } host) return host;
        var networks = ip.IsV4 ? _v4Networks : _v6Networks;
        foreach (var table in networks) // longest prefix first
        {
            if (table.Networks.TryGetValue(ip.Mask(table.PrefixLength), out var timeline)
                && FindIn(timeline, ticks) is { } network)
                return network;
        }
        return null;
    }

    private static Lease? FindIn(ReadOnlySpan<LeaseSegment> timeline, long ticks)
    {
        // Last segment starting at or before ticks.
        int lo = 0, hi = timeline.Length - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (timeline[mid].From <= ticks)
            {
                found = mid;
                lo = mid + 1;
            }
            else hi = mid - 1;
        }
        return found >= 0 && ticks < timeline[found].To ? timeline[found].Lease : null;
    }

    internal static LeaseIndex Build(IReadOnlyList<Lease> leases, int identityCount)
    {
        var hostLeases = new Dictionary<PackedIp, List<Lease>>();
        var networkLeases = new Dictionary<IpPrefix, List<Lease>>();
        foreach (var lease in leases)
        {
            if (lease.IsHost)
            {
                if (!hostLeases.TryGetValue(lease.Network, out var list)) hostLeases[lease.Network] = list = new List<Lease>(1);
                list.Add(lease);
            }
            else
            {
                if (!networkLeases.TryGetValue(lease.Prefix, out var list)) networkLeases[lease.Prefix] = list = new List<Lease>(1);
                list.Add(lease);
            }
        }

        var hostTimelines = new List<(PackedIp, LeaseSegment[])>(hostLeases.Count);
        foreach (var (ip, list) in hostLeases) hostTimelines.Add((ip, Timeline(list)));
        var hosts = new HostTable(hostTimelines);

        // One table per family and prefix length, longest first. An IPv4 address is only matched by IPv4 networks, an
        // IPv6 one only by IPv6 networks (IpPrefix's rule: a "::/0" catch-all must not swallow IPv4 addresses), so a
        // lookup searches its own family's tables and a masked key there equals IpPrefix.Contains.
        var byFamilyAndLength = new SortedDictionary<(bool V4, int Length), Dictionary<PackedIp, LeaseSegment[]>>(
            Comparer<(bool V4, int Length)>.Create((a, b) => a.V4 != b.V4 ? a.V4.CompareTo(b.V4) : b.Length.CompareTo(a.Length)));
        foreach (var (prefix, list) in networkLeases)
        {
            var key = (prefix.IsV4, prefix.PrefixLength);
            if (!byFamilyAndLength.TryGetValue(key, out var table)) byFamilyAndLength[key] = table = new();
            table[prefix.Network] = Timeline(list);
        }
        var v4 = new List<PrefixTable>();
        var v6 = new List<PrefixTable>();
        foreach (var ((isV4, length), table) in byFamilyAndLength)
            (isV4 ? v4 : v6).Add(new PrefixTable(length, table));
        var nodeLeases = leases.Where(l => l.IsHost && l.Identity.Kind == EndpointKind.Node).ToList();
        var nodes = nodeLeases.Select(l => l.Network).Distinct().Order().ToList();
        var byName = nodeLeases.Where(l => (l.Identity.Workload ?? l.Identity.Name) is not null)
            .GroupBy(l => (l.Identity.Workload ?? l.Identity.Name)!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<PackedIp>)g.Select(l => l.Network).Distinct().Order().ToList(), StringComparer.Ordinal);
        return new LeaseIndex(hosts, v4.ToArray(), v6.ToArray(), leases.Count, identityCount, nodes, byName);
    }

    /// <summary>
    /// Flattens one address's leases into non-overlapping segments; in each, the covering lease with the
    /// latest From wins. Adjacent segments of one lease are merged.
    /// </summary>
    private static LeaseSegment[] Timeline(List<Lease> leases)
    {
        if (leases.Count == 1) return [new LeaseSegment(leases[0].From.Ticks, leases[0].To.Ticks, leases[0])];

        // Stable sort by From: on equal From, the one loaded last sorts last and wins.
        var sorted = leases.Select((lease, order) => (lease, order))
            .OrderBy(p => p.lease.From.Ticks).ThenBy(p => p.order).Select(p => p.lease).ToArray();
        var boundaries = new SortedSet<long>();
        foreach (var lease in sorted)
        {
            boundaries.Add(lease.From.Ticks);
            if (lease.To != DateTime.MaxValue) boundaries.Add(lease.To.Ticks);
        }
        var points = boundaries.ToArray();
        var segments = new List<LeaseSegment>(sorted.Length);
        int started = 0; // leases [0, started) have From <= current point
        for (int i = 0; i < points.Length; i++)
        {
            long point = points[i];
            long end = i + 1 < points.Length ? points[i + 1] : DateTime.MaxValue.Ticks;
            while (started < sorted.Length && sorted[started].From.Ticks <= point) started++;
            Lease? winner = null;
            for (int j = started - 1; j >= 0; j--)
            {
                if (sorted[j].To.Ticks > point)
                {
                    winner = sorted[j];
                    break;
                }
            }
            if (winner is null) continue;
            if (segments.Count > 0 && ReferenceEquals(segments[^1].Lease, winner) && segments[^1].To == point)
                segments[^1] = segments[^1] with { To = end };
            else
                segments.Add(new LeaseSegment(point, end, winner));
        }
        return segments.ToArray();
    }

    private readonly record struct LeaseSegment(long From, long To, Lease Lease);

    /// <summary>
    /// Single addresses -> timelines, looked up on every flow side: open addressing (linear probing, at most half
    /// full) over slots holding the address and its range in one flat segment array. A lookup reads a slot and a
    /// segment, where a dictionary of arrays read a bucket, an entry, the array and the segment.
    /// </summary>
    private sealed class HostTable
    {
        private readonly Slot[] _slots;
        private readonly LeaseSegment[] _segments;
        private readonly int _mask;

        public HostTable(List<(PackedIp Ip, LeaseSegment[] Timeline)> timelines)
        {
            int size = 2;
            while (size < timelines.Count * 2) size *= 2;
            _slots = new Slot[size];
            _mask = size - 1;
            int total = 0;
            foreach (var (_, timeline) in timelines) total += timeline.Length;
            _segments = new LeaseSegment[total];
            int start = 0;
            foreach (var (ip, timeline) in timelines)
            {
                if (timeline.Length == 0) continue; // leases that never cover an instant find nothing either way
                int i = Home(ip);
                while (_slots[i].Length != 0) i = (i + 1) & _mask;
                _slots[i] = new Slot(ip, start, timeline.Length);
                timeline.CopyTo(_segments, start);
                start += timeline.Length;
            }
            Count = timelines.Count;
        }

        public int Count { get; }

        public Lease? Find(PackedIp ip, long ticks)
        {
            var slots = _slots;
            int i = Home(ip);
            while (true)
            {
                ref readonly var slot = ref slots[i];
                if (slot.Length == 0) return null;
                if (slot.Ip == ip) return FindIn(_segments.AsSpan(slot.Start, slot.Length), ticks);
                i = (i + 1) & _mask;
            }
        }

        private int Home(PackedIp ip) => ip.GetHashCode() & _mask;

        /// <summary>Empty timelines are not stored, so length 0 marks an empty slot.</summary>
        private readonly record struct Slot(PackedIp Ip, int Start, int Length);
    }

    private sealed record PrefixTable(int PrefixLength, Dictionary<PackedIp, LeaseSegment[]> Networks);
}
