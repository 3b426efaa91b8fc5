using FlowPolicy.Ingest.Formats.Internal;

namespace FlowPolicy.Ingest.Formats;

/// <summary>
/// Base for formats with one record per line. Splits the payload, keeps line numbers, skips blank lines, and
/// turns any exception a line's decoding throws into a rejected record so one bad line never stops the rest.
/// </summary>
internal abstract class LineFlowDecoder : FlowDecoder
{
    public override bool IsLineOriented(ReadOnlySpan<byte> head) => true;

    internal sealed override void Decode(ReadOnlySpan<byte> payload, ref DecodeCursor cursor, IFlowSink sink)
    {
        while (!payload.IsEmpty)
        {
            int newline = payload.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = newline < 0 ? payload : payload[..newline];
            payload = newline < 0 ? default : payload[(newline + 1)..];
            long lineNumber = cursor.Line++;
            if (!line.IsEmpty && line[^1] == '\r') line = line[..^1];
            if (IsBlank(line)) continue;
            try
            {
                DecodeLine(line, lineNumber, ref cursor, sink);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // Decoders validate what they read; reaching here is a bug or truly odd input, never a reason to stop.
                sink.Reject(new FlowDecodeError(cursor.At(lineNumber), $"{Name}: {ex.Message}", Excerpts.Of(line)));
            }
        }
    }

    /// <summary>Decodes one non-blank line (no trailing newline). Report problems through <paramref name="sink"/>.</summary>
    protected abstract void DecodeLine(ReadOnlySpan<byte> line, long lineNumber, ref DecodeCursor cursor, IFlowSink sink);

    protected string Name => FlowFormats.Name(Format);

    protected void Reject(IFlowSink sink, in DecodeCursor cursor, long lineNumber, string reason, ReadOnlySpan<byte> line) =>
        sink.Reject(new FlowDecodeError(cursor.At(lineNumber), $"{Name}: {reason}", Excerpts.Of(line)));

    private static bool IsBlank(ReadOnlySpan<byte> line)
    {
        foreach (byte b in line)
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r')) return false;
        return true;
    }
}
