namespace FlowPolicy.Ingest.Formats.Internal;

/// <summary>
/// A bounded cache from raw UTF-8 bytes (a JSON sub-object as written) to what was decoded from them, so a reader
/// that sees the same pod or VM metadata a million times decodes and allocates it once. Not thread-safe: readers
/// keep one per thread. When full it starts over, which bounds memory under high-cardinality input.
/// </summary>
internal sealed class Utf8KeyedCache<T> where T : class
{
    private readonly Dictionary<int, Entry> _entries = new();
    private readonly int _capacity;

    public Utf8KeyedCache(int capacity) => _capacity = capacity;

    public int Count => _entries.Count;

    public static int Hash(ReadOnlySpan<byte> key)
    {
        var hash = new HashCode();
        hash.AddBytes(key);
        return hash.ToHashCode();
    }

    public bool TryGet(ReadOnlySpan<byte> key, int hash, out T value)
    {
        if (_entries.TryGetValue(hash, out var entry) && key.SequenceEqual(entry.Key))
        {
            value = entry.Value;
            return true;
        }
        value = null!;
        return false;
    }

    public void Add(ReadOnlySpan<byte> key, int hash, T value)
    {
        if (key.Length > 4096) return; // not worth keeping; such metadata is not repetitive
        if (_entries.Count >= _capacity) _entries.Clear();
        _entries[hash] = new Entry(key.ToArray(), value);
    }

    private readonly record struct Entry(byte[] Key, T Value);
}
