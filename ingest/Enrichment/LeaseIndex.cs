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
    private readonly Dictionary<PackedIp, LeaseSegment[]> _hosts;
    private readonly PrefixTable[] _v4Networks;
    private readonly PrefixTable[] _v6Networks;

    private LeaseIndex(Dictionary<PackedIp, LeaseSegment[]> hosts, PrefixTable[] v4, PrefixTable[] v6, int leaseCount, int identityCount)
    {
        _hosts = hosts;
        _v4Networks = v4;
        _v6Networks = v6;
        LeaseCount = leaseCount;
        IdentityCount = identityCount;
    }

    public static LeaseIndex Empty { get; } = new(new(), [], [], 0, 0);

    public int LeaseCount { get; }
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
        if (_hosts.TryGetValue(ip, out var timeline) && FindIn(timeline, ticks) is { } host) return host;
        var networks = ip.IsV4 ? _v4Networks : _v6Networks;
        foreach (var table in networks) // longest prefix first
        {
            if (table.Networks.TryGetValue(ip.Mask(table.PrefixLength), out timeline)
                && FindIn(timeline, ticks) is { } network)
                return network;
        }
        return null;
    }

    private static Lease? FindIn(LeaseSegment[] timeline, long ticks)
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
        var networkLeases = new Dictionary<(PackedIp, int), List<Lease>>();
        foreach (var lease in leases)
        {
            if (lease.IsHost)
            {
                if (!hostLeases.TryGetValue(lease.Network, out var list)) hostLeases[lease.Network] = list = new List<Lease>(1);
                list.Add(lease);
            }
            else
            {
                var key = (lease.Network, lease.PrefixLength);
                if (!networkLeases.TryGetValue(key, out var list)) networkLeases[key] = list = new List<Lease>(1);
                list.Add(lease);
            }
        }

        var hosts = new Dictionary<PackedIp, LeaseSegment[]>(hostLeases.Count);
        foreach (var (ip, list) in hostLeases) hosts[ip] = Timeline(list);

        var byLength = new SortedDictionary<int, Dictionary<PackedIp, LeaseSegment[]>>(Comparer<int>.Create((a, b) => b.CompareTo(a)));
        foreach (var ((network, length), list) in networkLeases)
        {
            if (!byLength.TryGetValue(length, out var table)) byLength[length] = table = new();
            table[network] = Timeline(list);
        }
        // An IPv4 address is only matched by IPv4 networks, an IPv6 one only by IPv6 networks (a "::/0" catch-all
        // must not swallow IPv4-mapped addresses).
        var v4 = new List<PrefixTable>();
        var v6 = new List<PrefixTable>();
        foreach (var (length, table) in byLength)
        {
            var v4Part = new Dictionary<PackedIp, LeaseSegment[]>();
            var v6Part = new Dictionary<PackedIp, LeaseSegment[]>();
            foreach (var (network, timeline) in table)
                (network.IsV4 && length >= 96 ? v4Part : v6Part)[network] = timeline;
            if (v4Part.Count > 0) v4.Add(new PrefixTable(length, v4Part));
            if (v6Part.Count > 0) v6.Add(new PrefixTable(length, v6Part));
        }
        return new LeaseIndex(hosts, v4.ToArray(), v6.ToArray(), leases.Count, identityCount);
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

    private sealed record PrefixTable(int PrefixLength, Dictionary<PackedIp, LeaseSegment[]> Networks);
}
