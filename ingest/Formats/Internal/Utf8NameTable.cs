using System.Text;

namespace FlowPolicy.Ingest.Formats.Internal;

/// <summary>
/// Immutable lookup from a JSON property name, as raw UTF-8, to what the decoder does with it. Readers classify
/// every key of every record (a GoFlow2 line has ~50), and widening each name to UTF-16 for a string-keyed
/// dictionary was a third of GoFlow2 decoding. Open addressing at a load factor of at most 1/4 keeps probes short,
/// also for the many unknown keys. Thread-safe once built.
/// </summary>
internal sealed class Utf8NameTable<T> where T : struct
{
    private readonly byte[]?[] _names;
    private readonly T[] _values;
    private readonly int _mask;

    public Utf8NameTable(IEnumerable<KeyValuePair<string, T>> entries)
    {
        var list = entries.ToList();
        int size = 8;
        while (size < list.Count * 4) size <<= 1;
        _names = new byte[]?[size];
        _values = new T[size];
        _mask = size - 1;
        foreach (var (name, value) in list)
        {
            var utf8 = Encoding.UTF8.GetBytes(name);
            int slot = (int)(Hash(utf8) & (uint)_mask);
            while (_names[slot] is { } taken)
            {
                if (taken.AsSpan().SequenceEqual(utf8)) throw new ArgumentException($"duplicate name '{name}'", nameof(entries));
                slot = (slot + 1) & _mask;
            }
            _names[slot] = utf8;
            _values[slot] = value;
        }
    }

    public bool TryGetValue(ReadOnlySpan<byte> name, out T value)
    {
        int slot = (int)(Hash(name) & (uint)_mask);
        while (_names[slot] is { } candidate)
        {
            if (name.SequenceEqual(candidate))
            {
                value = _values[slot];
                return true;
            }
            slot = (slot + 1) & _mask;
        }
        value = default;
        return false;
    }

    /// <summary>FNV-1a: names are short, so a byte loop is cheaper than setting up anything wider.</summary>
    private static uint Hash(ReadOnlySpan<byte> name)
    {
        uint h = 2166136261;
        foreach (byte b in name) h = (h ^ b) * 16777619;
        return h ^ (h >> 15);
    }
}
