using System.Text;
using FlowPolicy.Core.Flows;

namespace FlowPolicy.Ingest.Formats.Internal;

/// <summary>
/// Per-source memory of the JSON line decoders, kept in <see cref="DecodeCursor.State"/>: one string per distinct
/// name and one identity per distinct endpoint object, so a million flows of one pod share instances and the
/// steady state allocates nothing per record.
/// </summary>
internal sealed class JsonDecodeState : IReusableDecodeState
{
    public readonly Utf8KeyedCache<string> Strings = new(maxSlots: 4096, maxKeyLength: 256);
    /// <summary>Keyed by the raw bytes of an endpoint object; a cached null means "carries no identity".</summary>
    public readonly Utf8KeyedCache<WorkloadIdentity> Identities = new(maxSlots: 8192, maxKeyLength: 4096);
    /// <summary>Keyed by the raw bytes of a policy array.</summary>
    public readonly Utf8KeyedCache<string> Policies = new(maxSlots: 256, maxKeyLength: 4096);
    /// <summary>Keyed by the raw bytes of a name list (Hubble's destination_names); a cached null means "no names".</summary>
    public readonly Utf8KeyedCache<string[]> Names = new(maxSlots: 256, maxKeyLength: 4096);

    // Unescaping buffers for strings with escapes. On the heap rather than stackalloc'd because the compiler cannot
    // prove a stack span handed next to a `ref Utf8JsonReader` never ends up inside the reader.
    public readonly byte[] NameScratch = new byte[64];
    public readonly byte[] ValueScratch = new byte[256];

    /// <summary>
    /// The canonical scanner's memory of the last "YYYY-MM-DDTHH" it parsed (bytes 0-7 and 5-12 as words) and that
    /// hour in ticks: records of one file are minutes apart, so most timestamps only need their minutes and seconds.
    /// </summary>
    public ulong HourPrefixHead, HourPrefixTail;
    public long HourTicks = -1;

    /// <summary>The cursor's state, created on first use (a state of another type is replaced).</summary>
    public static JsonDecodeState Of(ref DecodeCursor cursor) => DecodeStates.Of<JsonDecodeState>(ref cursor);

    public string String(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty) return "";
        if (Strings.TryGet(utf8, out int slot, out var cached)) return cached!;
        // Invalid UTF-8 becomes U+FFFD rather than an exception: a bad name is not worth losing the flow.
        var text = Encoding.UTF8.GetString(utf8);
        Strings.Set(slot, utf8, text);
        return text;
    }

    /// <summary>Only caches, keyed by raw bytes (the hour memory is checked against the bytes too): all of it carries over.</summary>
    public void PrepareForNextSource()
    {
    }
}
