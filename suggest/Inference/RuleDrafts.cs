using System.Globalization;
using System.Runtime.CompilerServices;
using FlowPolicy.Analytics.Baseline;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Suggest.Inference;

/// <summary>A rule before its evidence is summed: its two peers, port, protocol, the edges it covers, and any widening.</summary>
internal readonly record struct Draft(Peer Client, Peer Server, ushort Port, byte Protocol, Edge[] Edges, string? Generalisation);

// Hot per-edge and per-rule methods carry [MethodImpl(AggressiveOptimization)]: inference runs once, its passes
// start new code every few hundred milliseconds, and tiered compilation left them running unoptimised for most of
// a pass (a tenth of the samples at 1M edges were in tier-0 code).
internal readonly record struct GroupKey(int Client, int Server, ushort Port, byte Protocol);

/// <summary>
/// Kept edges -> rule drafts, one per (client peer, server peer, port, protocol), and the order rules are listed in.
/// A dense graph makes about one rule per edge: drafts are structs, peers are made once per endpoint or block, and
/// the edges of each rule go into an array of exactly their number (no LINQ groupings of a million keys).
/// </summary>
internal static class RuleDrafts
{
    /// <summary>
    /// Identity-to-identity drafts (workloads and nodes on both sides), one per (client peer, server peer, port,
    /// protocol), in the order each key first appears in <paramref name="kept"/>, edges in kept order.
    /// </summary>
    public static void IdentityDrafts(List<Edge> kept, PeerTable peers, List<Draft> drafts)
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
    public static int[] RuleOrder(List<Draft> drafts)
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

    /// <summary><c>PeerOf(endpoint).Key</c> without making the peer (grouping a million edges).</summary>
    public static string PeerKeyOf(Endpoint endpoint) => endpoint.Kind == EndpointKind.Node ? Peer.Nodes.Key : endpoint.Key;
}

/// <summary>Edges grouped by key, groups in order of first appearance (like GroupBy).</summary>
internal sealed class Grouping
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

/// <summary>
/// Peers made once per endpoint object (so a peer is exactly what <c>PeerOf(endpoint)</c> would make) and once per
/// address block, and small ids for peer keys (grouping by id instead of hashing strings a million times).
/// </summary>
internal sealed class PeerTable
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

    /// <summary>An id per <c>RuleDrafts.PeerKeyOf(endpoint)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int KeyId(Endpoint endpoint)
    {
        ref int id = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_idByEndpoint, endpoint, out bool known);
        if (!known)
        {
            ref int byKey = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_idByKey, RuleDrafts.PeerKeyOf(endpoint), out bool keyKnown);
            if (!keyKnown) byKey = _idByKey.Count - 1;
            id = byKey;
        }
        return id;
    }
}
