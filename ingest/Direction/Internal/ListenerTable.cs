using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Ingest.Direction.Internal;

/// <summary>One side of a flow: address, port, protocol.</summary>
internal readonly struct EndpointKey(PackedIp ip, ushort port, byte protocol) : IEquatable<EndpointKey>
{
    public readonly PackedIp Ip = ip;
    public readonly ushort Port = port;
    public readonly byte Protocol = protocol;

    public bool Equals(EndpointKey other) => Ip == other.Ip && Port == other.Port && Protocol == other.Protocol;
    public override bool Equals(object? obj) => obj is EndpointKey other && Equals(other);
    public override int GetHashCode() => HashCode.Combine(Ip.High, Ip.Low, Port | (Protocol << 16));
}

/// <summary>What was seen of one endpoint. A struct stored inline in the table: no allocation per endpoint.</summary>
internal struct EndpointStats
{
    public const int PeerCapacity = 8;

    /// <summary>Records showing this endpoint accepting a connection (SYN-only towards it, request hints towards it).</summary>
    public ushort ListenerVotes;
    /// <summary>SYN+ACK records sent from it: listener evidence only where the flag dialect is AWS's.</summary>
    public ushort SynAckVotes;
    /// <summary>Records showing this endpoint opening a connection (SYN-only from it, reply hints towards it).</summary>
    public ushort ClientVotes;
    /// <summary>Distinct peer ports seen, saturating at <see cref="PeerCapacity"/>.</summary>
    public byte PeerPortCount;
    private PeerPorts _peers;

    /// <summary>The <paramref name="index"/>th distinct peer port seen (below <see cref="PeerPortCount"/>).</summary>
    public readonly ushort PeerPort(int index) => _peers[index];

    /// <summary>Distinct peer ports seen that are not well-known service ports (<see cref="ServicePorts.Class"/>): a listener's fan-in.</summary>
    public readonly int ClientLikePeerPorts()
    {
        int count = 0;
        for (int i = 0; i < PeerPortCount; i++)
            if (ServicePorts.Class(_peers[i]) != ServicePorts.Service) count++;
        return count;
    }

    public void AddPeerPort(ushort port)
    {
        if (PeerPortCount >= PeerCapacity) return;
        for (int i = 0; i < PeerPortCount; i++)
            if (_peers[i] == port) return;
        _peers[PeerPortCount++] = port;
    }

    [InlineArray(PeerCapacity)]
    private struct PeerPorts
    {
        private ushort _first;
    }
}

/// <summary>
/// Endpoint statistics bounded in memory by two generations: new and touched endpoints live in the current
/// one; when it is full the previous generation is dropped and the current becomes previous. An endpoint seen
/// again while in the previous generation moves back to the current one, so busy listeners stay and
/// one-off client ports age out (an LRU approximation with no per-entry bookkeeping).
/// </summary>
/// <remarks>
/// Per address family a <see cref="SlotTable{TKey}"/> (dense entries with key, generation tag and statistics inline,
/// found through an open-addressing index of hashes) instead of a <see cref="Dictionary{TKey,TValue}"/> per
/// generation: a lookup that misses the current generation no longer searches the previous one too, and moving an
/// endpoint back to the current generation changes its tag instead of removing and re-adding it. IPv4 endpoints
/// (nearly all) take 32-byte entries, IPv6 ones 48 (a dictionary entry was 56 bytes). Dropping a generation
/// compacts the entries and rebuilds the index, once per generation's worth of new endpoints. What is kept, the
/// counts and the evictions are exactly those of the two-dictionary table; <c>ListenerTableTests</c> hold it to
/// that model.
/// </remarks>
internal sealed class ListenerTable
{
    private readonly int _generationCapacity;
    private readonly SlotTable<V4Key> _v4 = new();
    private readonly SlotTable<V6Key> _v6 = new();

    public ListenerTable(int maxEndpoints) => _generationCapacity = Math.Max(1, maxEndpoints / 2);

    public int Count => _v4.CurrentCount + _v4.PreviousCount + _v6.CurrentCount + _v6.PreviousCount;
    public long Evicted { get; private set; }

    /// <summary>Slots allocated (for tests of growth).</summary>
    internal int Capacity => _v4.Capacity + _v6.Capacity;

    /// <summary>The endpoint's statistics in the current generation, added if new. Valid until the next call.</summary>
    public ref EndpointStats GetOrAdd(in EndpointKey key)
    {
        if (key.Ip.IsV4) return ref GetOrAdd(_v4, new V4Key(key));
        return ref GetOrAdd(_v6, new V6Key(key));
    }

    public bool TryGet(in EndpointKey key, out EndpointStats stats) =>
        key.Ip.IsV4 ? TryGet(_v4, new V4Key(key), out stats) : TryGet(_v6, new V6Key(key), out stats);

    // Generic over the key struct, so each address family gets its own specialised code.
    private ref EndpointStats GetOrAdd<TKey>(SlotTable<TKey> table, TKey key) where TKey : struct, ISlotKey<TKey>
    {
        uint hash = table.Hash(key);
        int i = table.Find(key, hash);
        if (i >= 0 && table.TryTake(i, CurrentIsFull)) return ref table.StatsAt(i);
        if (CurrentIsFull) DropPreviousGeneration();
        return ref table.Add(key, hash);
    }

    private static bool TryGet<TKey>(SlotTable<TKey> table, TKey key, out EndpointStats stats) where TKey : struct, ISlotKey<TKey>
    {
        int i = table.Find(key, table.Hash(key));
        stats = i >= 0 ? table.StatsAt(i) : default;
        return i >= 0;
    }

    private bool CurrentIsFull => _v4.CurrentCount + _v6.CurrentCount >= _generationCapacity;

    private void DropPreviousGeneration()
    {
        Evicted += _v4.PreviousCount + _v6.PreviousCount;
        _v4.DropPreviousGeneration();
        _v6.DropPreviousGeneration();
    }
}

internal interface ISlotKey<TKey> where TKey : struct, ISlotKey<TKey>
{
    /// <summary>0 for an empty slot, else <see cref="SlotTable{TKey}.Previous"/> or <see cref="SlotTable{TKey}.Current"/>.</summary>
    byte Generation { get; set; }
    bool SameEndpoint(in TKey other);
    int Hash(int seed);
}

/// <summary>An IPv4 endpoint in 8 bytes: address, port, protocol and, in the low byte, the generation tag.</summary>
internal struct V4Key(in EndpointKey key) : ISlotKey<V4Key>
{
    private ulong _bits = ((ulong)key.Ip.V4 << 32) | ((ulong)key.Port << 16) | ((ulong)key.Protocol << 8);

    public byte Generation { readonly get => (byte)_bits; set => _bits = (_bits & ~0xFFUL) | value; }
    public readonly bool SameEndpoint(in V4Key other) => ((_bits ^ other._bits) & ~0xFFUL) == 0;
    public readonly int Hash(int seed) => HashCode.Combine(_bits >> 8, seed);
}

/// <summary>Any other endpoint: the 16-byte address, port, protocol and the generation tag.</summary>
internal struct V6Key(in EndpointKey key) : ISlotKey<V6Key>
{
    private readonly PackedIp _ip = key.Ip;
    private readonly ushort _port = key.Port;
    private readonly byte _protocol = key.Protocol;
    private byte _generation;

    public byte Generation { readonly get => _generation; set => _generation = value; }
    public readonly bool SameEndpoint(in V6Key other) => _ip == other._ip && _port == other._port && _protocol == other._protocol;
    public readonly int Hash(int seed) => HashCode.Combine(_ip.High, _ip.Low, _port | (_protocol << 16), seed);
}

/// <summary>
/// One table of a <see cref="ListenerTable"/> (the generation rules are the owner's): entries in a dense array in
/// the order they were added, found through an open-addressing index (linear probing, at most half full) of
/// 8-byte slots holding the key's 32-bit hash and the entry's position. Endpoints seen close together in time sit
/// close together in memory, as in a <see cref="Dictionary{TKey,TValue}"/>, and the hash in the slot means a probe
/// only reads an entry that very likely matches.
/// </summary>
internal sealed class SlotTable<TKey> where TKey : struct, ISlotKey<TKey>
{
    public const byte Empty = 0, Previous = 1, Current = 2;
    private const int InitialEntries = 128;

    private Entry[] _entries = new Entry[InitialEntries];
    private int _count;
    /// <summary>0 for an empty slot, else (hash &lt;&lt; 32) | (entry position + 1).</summary>
    private ulong[] _index = new ulong[InitialEntries * 2];
    private int _mask = InitialEntries * 2 - 1;
    // Seeded like HashCode, so crafted addresses and ports cannot build long probe runs.
    private readonly int _seed = Random.Shared.Next();

    public int CurrentCount { get; private set; }
    public int PreviousCount => _count - CurrentCount;
    public int Capacity => _index.Length;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Hash(in TKey key) => (uint)key.Hash(_seed);

    /// <summary>The position of the key's entry in either generation, or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Find(in TKey key, uint hash)
    {
        var index = _index;
        int mask = _mask;
        int i = (int)hash & mask;
        while (true)
        {
            ulong slot = index[i];
            if (slot == 0) return -1;
            if ((uint)(slot >> 32) == hash)
            {
                int position = (int)(uint)slot - 1;
                if (_entries[position].Key.SameEndpoint(key)) return position;
            }
            i = (i + 1) & mask;
        }
    }

    /// <summary>
    /// True when the found entry is (now) in the current generation: it was, or it was previous and moved back.
    /// False when it is in the previous generation and the current one is full: the caller drops the previous.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryTake(int position, bool currentIsFull)
    {
        ref var key = ref _entries[position].Key;
        if (key.Generation == Current) return true;
        if (currentIsFull) return false;
        key.Generation = Current;
        CurrentCount++;
        return true;
    }

    public ref EndpointStats StatsAt(int position) => ref _entries[position].Stats;

    /// <summary>Adds a key that is in neither generation, with empty statistics, to the current generation.</summary>
    public ref EndpointStats Add(TKey key, uint hash)
    {
        if (_count == _entries.Length) Array.Resize(ref _entries, _entries.Length * 2);
        if (_count >= _index.Length / 2) Reindex(_index.Length * 2);
        int position = _count++;
        Seat(hash, position);
        ref var entry = ref _entries[position];
        key.Generation = Current;
        entry.Key = key;
        entry.Stats = default;
        CurrentCount++;
        return ref entry.Stats;
    }

    /// <summary>The previous generation's entries are dropped (the rest keep their order) and the current ones become previous.</summary>
    public void DropPreviousGeneration()
    {
        var entries = _entries;
        int kept = 0;
        for (int i = 0; i < _count; i++)
        {
            if (entries[i].Key.Generation != Current) continue;
            entries[kept] = entries[i];
            entries[kept].Key.Generation = Previous;
            kept++;
        }
        _count = kept;
        CurrentCount = 0;
        Reindex(_index.Length);
    }

    private void Reindex(int slots)
    {
        if (slots == _index.Length) Array.Clear(_index);
        else _index = new ulong[slots];
        _mask = slots - 1;
        for (int i = 0; i < _count; i++) Seat(Hash(_entries[i].Key), i);
    }

    private void Seat(uint hash, int position)
    {
        var index = _index;
        int mask = _mask;
        int i = (int)hash & mask;
        while (index[i] != 0) i = (i + 1) & mask;
        index[i] = ((ulong)hash << 32) | (uint)(position + 1);
    }

    private struct Entry
    {
        public TKey Key;
        public EndpointStats Stats;
    }
}
