using System.Collections.Concurrent;
using System.Text;

namespace FlowPolicy.Ingest.Formats.Internal;

/// <summary>
/// Turns short UTF-8 values that repeat across records (ENI ids, exporter names) into shared strings, so a
/// million records of one interface hold one string. Thread-safe; bounded so hostile input cannot grow it
/// without limit (past the bound, values are still returned, just not remembered).
/// </summary>
internal sealed class Utf8Interner
{
    private const int MaxChars = 128;
    private readonly ConcurrentDictionary<string, string> _strings = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _bySpan;
    private readonly int _capacity;
    private int _count;

    public Utf8Interner(int capacity)
    {
        _capacity = capacity;
        _bySpan = _strings.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public string Intern(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > MaxChars) return Encoding.UTF8.GetString(utf8);
        Span<char> chars = stackalloc char[MaxChars];
        if (System.Text.Ascii.ToUtf16(utf8, chars, out int written) != System.Buffers.OperationStatus.Done)
            return Encoding.UTF8.GetString(utf8); // not ASCII: rare enough not to cache
        var text = chars[..written];
        if (_bySpan.TryGetValue(text, out var existing)) return existing;
        var created = new string(text);
        if (Volatile.Read(ref _count) < _capacity && _strings.TryAdd(created, created))
            Interlocked.Increment(ref _count);
        return created;
    }
}
