using System.Text;
using FlowPolicy.Ingest.Formats.Internal;

namespace FlowPolicy.Ingest.Formats.Vpc;

/// <summary>
/// One source's VPC decoding state, in <see cref="DecodeCursor.State"/> so the decoder holds none: the layout its
/// records follow (the file's header line, or the configured format with the file's record time) and the reporter
/// names seen (an interface id repeats in every record of its file, so a million records share one string).
/// </summary>
internal sealed class VpcSourceState : IReusableDecodeState
{
    /// <summary>Null until the source's header or first record; then what its records follow.</summary>
    public VpcFlowLogLayout? Layout;

    /// <summary>Bounded, so hostile input cannot grow it without limit (past the bound, names are still returned).</summary>
    private readonly Utf8KeyedCache<string> _reporters = new(maxSlots: 1 << 17, maxKeyLength: 128);

    public string Reporter(ReadOnlySpan<byte> utf8)
    {
        if (_reporters.TryGet(utf8, out int slot, out var known)) return known!;
        var text = Encoding.UTF8.GetString(utf8);
        _reporters.Set(slot, utf8, text);
        return text;
    }

    /// <summary>The header and record time belong to one file or message; the reporter names carry over.</summary>
    public void PrepareForNextSource() => Layout = null;
}
