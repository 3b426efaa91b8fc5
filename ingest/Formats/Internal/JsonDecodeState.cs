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
    public readonly RawJsonCache<string> Strings = new(slots: 1024, maxKeyLength: 256);
    /// <summary>Keyed by the raw bytes of an endpoint object; a cached null means "carries no identity".</summary>
    public readonly RawJsonCache<WorkloadIdentity> Identities = new(slots: 512, maxKeyLength: 4096);
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
/// A small direct-mapped cache keyed by raw UTF-8 bytes. A colliding entry replaces the older one, so it never
/// grows and needs no eviction policy; a miss only costs the work the cache would have saved.
/// </summary>
internal sealed class RawJsonCache<T> where T : class
{
    private readonly byte[]?[] _keys;
    private readonly T?[] _values;
    private readonly int _mask;
    private readonly int _maxKeyLength;

    public RawJsonCache(int slots, int maxKeyLength)
    {
        if (slots <= 0 || (slots & (slots - 1)) != 0) throw new ArgumentOutOfRangeException(nameof(slots), "A power of two.");
        _keys = new byte[]?[slots];
        _values = new T?[slots];
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
        var hash = new HashCode();
        hash.AddBytes(raw);
        slot = hash.ToHashCode() & _mask;
        var key = _keys[slot];
        if (key is null || !raw.SequenceEqual(key)) return false;
        value = _values[slot];
        return true;
    }

    public void Set(int slot, ReadOnlySpan<byte> raw, T? value)
    {
        if (slot < 0) return;
        _keys[slot] = raw.ToArray();
        _values[slot] = value;
    }
}
