using System.Buffers;
using System.Text.Json;

namespace FlowPolicy.Core.Edges;

/// <summary>
/// Writes the items of a large array compactly, each on a line of its own, so an indented document (graph.json,
/// slis.json) keeps its summary readable while each of its million edges takes one line instead of twenty:
/// <see cref="Start"/> gives a compact writer for the item, <see cref="WriteTo"/> hands the finished item to the
/// document's writer as a raw value, after a line break and the indentation the document's writer would have used.
/// At a million edges that is about a third fewer bytes, and indenting was a good part of the writing time. In a compact
/// document (suggestions.json) each item just starts a new line.
/// </summary>
public sealed class JsonItemLine
{
    private readonly ArrayBufferWriter<byte> _buffer = new(1024);
    private readonly Utf8JsonWriter _writer;

    public JsonItemLine() => _writer = new Utf8JsonWriter(_buffer, new JsonWriterOptions { SkipValidation = true });

    /// <summary>A compact writer for the next item of <paramref name="document"/>'s current array.</summary>
    public Utf8JsonWriter Start(Utf8JsonWriter document)
    {
        _buffer.ResetWrittenCount();
        // The indented writer puts raw values straight after the comma: the line break and indentation are ours.
        int indent = document.Options.Indented ? document.CurrentDepth * document.Options.IndentSize : 0;
        var prefix = _buffer.GetSpan(1 + indent);
        prefix[0] = (byte)'\n';
        prefix.Slice(1, indent).Fill((byte)document.Options.IndentCharacter);
        _buffer.Advance(1 + indent);
        _writer.Reset(_buffer);
        return _writer;
    }

    /// <summary>Writes the item started by <see cref="Start"/> as the next value of <paramref name="document"/>'s array.</summary>
    public void WriteTo(Utf8JsonWriter document)
    {
        _writer.Flush();
        // Validation skipped: the item was written by Utf8JsonWriter itself, one complete value (whitespace before it is valid JSON).
        document.WriteRawValue(_buffer.WrittenSpan, skipInputValidation: true);
    }
}
