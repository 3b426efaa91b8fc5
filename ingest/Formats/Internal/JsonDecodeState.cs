using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;
using FlowPolicy.Core.Flows;

namespace FlowPolicy.Ingest.Formats.Internal;

/// <summary>
/// Per-source memory of the JSON line decoders, kept in <see cref="DecodeCursor.State"/>: one string per distinct
/// name and one identity per distinct endpoint object, so a million flows of one pod share instances and the
/// steady state allocates nothing per record.
/// </summary>
internal sealed class JsonDecodeState
{
    public readonly RawJsonCache<string> Strings = new(slots: 4096, maxKeyLength: 256);
    /// <summary>Keyed by the raw bytes of an endpoint object; a cached null means "carries no identity".</summary>
    public readonly RawJsonCache<WorkloadIdentity> Identities = new(slots: 8192, maxKeyLength: 4096);
    /// <summary>Keyed by the raw bytes of a policy array.</summary>
    public readonly RawJsonCache<string> Policies = new(slots: 256, maxKeyLength: 4096);

    // Unescaping buffers for strings with escapes. On the heap rather than stackalloc'd because the compiler cannot
    // prove a stack span handed next to a `ref Utf8JsonReader` never ends up inside the reader.
    public readonly byte[] NameScratch = new byte[64];
    public readonly byte[] ValueScratch = new byte[256];

    /// <summary>The cursor's state, created on first use (a state of another type is replaced).</summary>
    public static JsonDecodeState Of(ref DecodeCursor cursor)
    {
        if (cursor.State is JsonDecodeState state) return state;
        state = new JsonDecodeState();
        cursor.State = state;
        return state;
    }

    public string String(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty) return "";
        if (Strings.TryGet(utf8, out int slot, out var cached)) return cached!;
        // Invalid UTF-8 becomes U+FFFD rather than an exception: a bad name is not worth losing the flow.
        var text = Encoding.UTF8.GetString(utf8);
        Strings.Set(slot, utf8, text);
        return text;
    }
}

/// <summary>
/// A small fixed-size cache keyed by raw UTF-8 bytes. Each key may live in one of two slots (two hashes), so a
/// few thousand hot keys rarely evict each other the way they do in a direct-mapped table; when both slots are
/// taken, the one written longer ago is replaced. It never grows and needs no eviction policy; a miss only costs
/// the work the cache would have saved.
/// </summary>
internal sealed class RawJsonCache<T> where T : class
{
    private readonly byte[]?[] _keys;
    private readonly T?[] _values;
    private readonly long[] _written;
    private readonly int _mask;
    private readonly int _maxKeyLength;
    private long _clock;

    public RawJsonCache(int slots, int maxKeyLength)
    {
        if (slots <= 1 || (slots & (slots - 1)) != 0) throw new ArgumentOutOfRangeException(nameof(slots), "A power of two, at least 2.");
        _keys = new byte[]?[slots];
        _values = new T?[slots];
        _written = new long[slots];
        _mask = slots - 1;
        _maxKeyLength = maxKeyLength;
    }

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
        int first = (int)(h & (uint)_mask);
        int second = (int)((h >> 16 | h << 16) * 0x9E3779B1u & (uint)_mask);
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
        slot = _keys[first] is null ? first : _keys[second] is null ? second : _written[first] <= _written[second] ? first : second;
        return false;
    }

    /// <summary>
    /// Eight bytes per step (HashCode.AddBytes takes four and mixes more): this runs over every identity object of
    /// every record. Keys are compared in full on a hit, so a weak hash only costs misses, never wrong values.
    /// </summary>
    internal static uint Hash(ReadOnlySpan<byte> raw)
    {
        const ulong Multiplier = 0x9E3779B97F4A7C15UL;
        ulong h = (ulong)raw.Length * Multiplier;
        var words = MemoryMarshal.Cast<byte, ulong>(raw);
        foreach (ulong word in words) h = (BitOperations.RotateLeft(h, 23) ^ word) * Multiplier;
        ulong tail = 0;
        for (int i = words.Length * 8; i < raw.Length; i++) tail = tail << 8 | raw[i];
        h = (BitOperations.RotateLeft(h, 23) ^ tail) * Multiplier;
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
