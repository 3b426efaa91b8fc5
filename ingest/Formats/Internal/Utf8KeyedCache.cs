using System.Numerics;
using System.Runtime.InteropServices;

namespace FlowPolicy.Ingest.Formats.Internal;

/// <summary>
/// A small fixed-size cache keyed by raw UTF-8 bytes. Each key may live in one of two slots (two hashes), so a
/// few thousand hot keys rarely evict each other the way they do in a direct-mapped table; when both slots are
/// taken, the one written longer ago is replaced. It grows to a fixed bound and needs no eviction policy; a miss only costs
/// the work the cache would have saved.
/// </summary>
internal sealed class Utf8KeyedCache<T> where T : class
{
    /// <summary>Where a cache starts: a cursor may decode a single Kafka message, so a big table up front is waste.</summary>
    private const int InitialSlots = 256;
    private byte[]?[] _keys;
    private T?[] _values;
    private long[] _written;
    private int _mask;
    private readonly int _maxSlots;
    private readonly int _maxKeyLength;
    private long _clock;
    private int _misses;

    public Utf8KeyedCache(int maxSlots, int maxKeyLength)
    {
        if (maxSlots <= 1 || (maxSlots & (maxSlots - 1)) != 0) throw new ArgumentOutOfRangeException(nameof(maxSlots), "A power of two, at least 2.");
        _maxSlots = maxSlots;
        _maxKeyLength = maxKeyLength;
        int slots = Math.Min(InitialSlots, maxSlots);
        _keys = new byte[]?[slots];
        _values = new T?[slots];
        _written = new long[slots];
        _mask = slots - 1;
    }

    /// <summary>
    /// Grows the table fourfold, keeping its entries, once it has missed as often as it has slots since the last
    /// growth: a source with more distinct keys than slots keeps missing, one whose keys fit stops growing it early.
    /// </summary>
    private void GrowIfThrashing()
    {
        if (++_misses <= _keys.Length || _keys.Length >= _maxSlots) return;
        var (keys, values, written) = (_keys, _values, _written);
        int slots = Math.Min(keys.Length * 4, _maxSlots);
        _keys = new byte[]?[slots];
        _values = new T?[slots];
        _written = new long[slots];
        _mask = slots - 1;
        _misses = 0;
        for (int i = 0; i < keys.Length; i++)
        {
            if (keys[i] is not { } key) continue;
            var (first, second) = Slots(Hash(key));
            int slot = _keys[first] is null ? first : _keys[second] is null ? second : _written[first] <= _written[second] ? first : second;
            _keys[slot] = key;
            _values[slot] = values[i];
            _written[slot] = written[i];
        }
    }

    private (int First, int Second) Slots(uint h) => ((int)(h & (uint)_mask), (int)((h >> 16 | h << 16) * 0x9E3779B1u & (uint)_mask));

    /// <summary>Looks <paramref name="raw"/> up; <paramref name="slot"/> is where <see cref="Set"/> stores it on a miss (-1: too long to cache).</summary>
    public bool TryGet(ReadOnlySpan<byte> raw, out int slot, out T? value)
    {
        value = null;
        if (raw.Length > _maxKeyLength)
        {
            slot = -1;
            return false;
        }
        uint h = Hash(raw);
        var (first, second) = Slots(h);
        if (Holds(first, raw))
        {
            slot = first;
            value = _values[first];
            return true;
        }
        if (Holds(second, raw))
        {
            slot = second;
            value = _values[second];
            return true;
        }
        GrowIfThrashing();
        (first, second) = Slots(h);
        slot = _keys[first] is null ? first : _keys[second] is null ? second : _written[first] <= _written[second] ? first : second;
        return false;
    }

    /// <summary>A lookup that leaves the table as it is on a miss (no growth): for a caller that will not <see cref="Set"/>.</summary>
    public bool TryPeek(ReadOnlySpan<byte> raw, out T? value)
    {
        value = null;
        if (raw.Length > _maxKeyLength) return false;
        var (first, second) = Slots(Hash(raw));
        if (Holds(first, raw)) value = _values[first];
        else if (Holds(second, raw)) value = _values[second];
        else return false;
        return true;
    }

    /// <summary>
    /// Eight bytes per step, four independent lanes (one multiply chain was the cost: identity objects are ~200
    /// bytes and every record of the canonical and Hubble readers hashes two), the last 0-7 bytes read as one
    /// overlapping word. Keys are compared in full on a hit, so a weak hash only costs misses, never wrong values.
    /// </summary>
    internal static uint Hash(ReadOnlySpan<byte> raw)
    {
        const ulong Multiplier = 0x9E3779B97F4A7C15UL;
        ulong h0 = (ulong)raw.Length * Multiplier, h1 = h0 ^ 0x243F6A8885A308D3UL, h2 = h0 ^ 0x13198A2E03707344UL, h3 = h0 ^ 0xA4093822299F31D0UL;
        var words = MemoryMarshal.Cast<byte, ulong>(raw);
        int k = 0;
        for (; k + 4 <= words.Length; k += 4)
        {
            h0 = (BitOperations.RotateLeft(h0, 23) ^ words[k]) * Multiplier;
            h1 = (BitOperations.RotateLeft(h1, 23) ^ words[k + 1]) * Multiplier;
            h2 = (BitOperations.RotateLeft(h2, 23) ^ words[k + 2]) * Multiplier;
            h3 = (BitOperations.RotateLeft(h3, 23) ^ words[k + 3]) * Multiplier;
        }
        for (; k < words.Length; k++) h0 = (BitOperations.RotateLeft(h0, 23) ^ words[k]) * Multiplier;
        ulong h = h0 ^ BitOperations.RotateLeft(h1, 16) ^ BitOperations.RotateLeft(h2, 32) ^ BitOperations.RotateLeft(h3, 48);
        int rest = raw.Length - words.Length * 8;
        if (rest > 0)
        {
            ulong tail = 0;
            // Overlapping reads rather than a byte loop (names like "node-12" are all tail): fine for a hash.
            if (raw.Length >= 8) tail = MemoryMarshal.Read<ulong>(raw[^8..]);
            else if (raw.Length >= 4) tail = (ulong)MemoryMarshal.Read<uint>(raw) << 32 | MemoryMarshal.Read<uint>(raw[^4..]);
            else for (int i = 0; i < raw.Length; i++) tail = tail << 8 | raw[i];
            h = (BitOperations.RotateLeft(h, 23) ^ tail) * Multiplier;
        }
        h = (h ^ (h >> 29)) * Multiplier;
        return (uint)(h >> 32) ^ (uint)h;
    }

    private bool Holds(int slot, ReadOnlySpan<byte> raw) => _keys[slot] is { } key && raw.SequenceEqual(key);

    public void Set(int slot, ReadOnlySpan<byte> raw, T? value)
    {
        if (slot < 0) return;
        _keys[slot] = raw.ToArray();
        _values[slot] = value;
        _written[slot] = ++_clock;
    }
}
