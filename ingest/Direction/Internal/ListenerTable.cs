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

/// <summary>What was seen of one endpoint. A struct stored in the dictionary: no allocation per endpoint.</summary>
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
internal sealed class ListenerTable
{
    private readonly int _generationCapacity;
    private Dictionary<EndpointKey, EndpointStats> _current = new();
    private Dictionary<EndpointKey, EndpointStats> _previous = new();

    public ListenerTable(int maxEndpoints) => _generationCapacity = Math.Max(1, maxEndpoints / 2);

    public int Count => _current.Count + _previous.Count;
    public long Evicted { get; private set; }

    public ref EndpointStats GetOrAdd(in EndpointKey key)
    {
        if (_current.Count >= _generationCapacity && !_current.ContainsKey(key))
        {
            Evicted += _previous.Count;
            (_previous, _current) = (_current, _previous);
            _current.Clear();
        }
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_current, key, out bool exists);
        if (!exists && _previous.Remove(key, out var older)) slot = older;
        return ref slot;
    }

    public bool TryGet(in EndpointKey key, out EndpointStats stats) =>
        _current.TryGetValue(key, out stats) || _previous.TryGetValue(key, out stats);
}
