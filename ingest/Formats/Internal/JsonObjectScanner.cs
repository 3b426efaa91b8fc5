using System.Text.Json;

namespace FlowPolicy.Ingest.Formats.Internal;

/// <summary>Decodes one top-level JSON object found by <see cref="JsonObjectScanner"/>.</summary>
internal interface IJsonObjectDecoder
{
    /// <summary>
    /// Called with <paramref name="reader"/> on the object's StartObject; must leave it on the matching EndObject
    /// (or throw, for broken JSON). Returns false when the object is not something this format knows, so the
    /// scanner can report it (or ignore it while resynchronising after broken JSON).
    /// </summary>
    bool DecodeObject(ref Utf8JsonReader reader, ref JsonScanContext context);
}

/// <summary>Maps byte offsets of one payload to 1-based line numbers; cheap when offsets mostly move forward.</summary>
internal ref struct LineMap
{
    private readonly ReadOnlySpan<byte> _payload;
    private int _offset;
    private long _line;

    public LineMap(ReadOnlySpan<byte> payload, long firstLine)
    {
        _payload = payload;
        _offset = 0;
        _line = firstLine;
    }

    public long LineAt(int offset)
    {
        offset = Math.Clamp(offset, 0, _payload.Length);
        if (offset >= _offset) _line += _payload[_offset..offset].Count((byte)'\n');
        else _line -= _payload[offset.._offset].Count((byte)'\n');
        _offset = offset;
        return _line;
    }
}

/// <summary>What a JSON object decoder needs to place its records and errors in the source.</summary>
internal ref struct JsonScanContext
{
    public JsonScanContext(ReadOnlySpan<byte> payload, string source, long firstLine, IFlowSink sink, string formatName)
    {
        Payload = payload;
        Source = source;
        Lines = new LineMap(payload, firstLine);
        Sink = sink;
        FormatName = formatName;
        BaseOffset = 0;
    }

    /// <summary>The whole payload being decoded.</summary>
    public readonly ReadOnlySpan<byte> Payload;
    /// <summary>Offset in <see cref="Payload"/> of the first byte the current reader sees.</summary>
    public int BaseOffset;
    public LineMap Lines;
    public readonly IFlowSink Sink;
    public readonly string Source;
    public readonly string FormatName;

    /// <summary>The bytes the current reader reads (its TokenStartIndex/BytesConsumed are relative to them).</summary>
    public readonly ReadOnlySpan<byte> ReaderBytes => Payload[BaseOffset..];

    public readonly int Absolute(long readerOffset) => BaseOffset + (int)readerOffset;

    public SourcePosition PositionAt(int absoluteOffset) => new(Source, Lines.LineAt(absoluteOffset));

    public void Reject(int absoluteOffset, string reason, scoped ReadOnlySpan<byte> excerpt) =>
        Sink.Reject(new FlowDecodeError(PositionAt(absoluteOffset), FormatName + ": " + reason, Excerpts.Of(excerpt)));

    public void Skip(int absoluteOffset, string reason) => Sink.Skip(FormatName + ": " + reason, PositionAt(absoluteOffset));
}

/// <summary>
/// Walks a payload that holds JSON objects one after another: JSON lines, a JSON array of objects, or one
/// document. Each object is handed to an <see cref="IJsonObjectDecoder"/>. Broken JSON becomes one rejected
/// record at the line where the reader failed. In JSON lines mode every value must end on its own line, so a
/// truncated line never swallows the next one. Otherwise (documents, arrays) the scanner resynchronises on the
/// next line that starts with '{' (the next element of a pretty-printed array) so the rest still decodes.
/// Records a decoder emitted before a break (a truncated document) are kept.
/// </summary>
internal static class JsonObjectScanner
{
    private static readonly JsonReaderOptions Options = new() { MaxDepth = 64 };

    /// <typeparam name="TDecoder">Generic so a struct decoder carrying a source's state is called without boxing.</typeparam>
    public static void Scan<TDecoder>(ReadOnlySpan<byte> payload, ref DecodeCursor cursor, IFlowSink sink, string formatName,
        TDecoder decoder, bool jsonLines) where TDecoder : IJsonObjectDecoder
    {
        var context = new JsonScanContext(payload, cursor.Source, cursor.Line, sink, formatName);
        int pos = payload.StartsWith("\uFEFF"u8) ? 3 : 0;
        bool resyncing = false; // after a break, until the next recognised object: unknown objects are its pieces
        bool broken = false; // after a break in a document: its leftover closing brackets are not worth a reject
        long lastErrorLine = -1;
        while (true)
        {
            pos = SkipSeparators(payload, pos);
            if (pos >= payload.Length) break;
            if ((resyncing || broken) && payload[pos] != (byte)'{')
            {
                // Leftovers of a broken object (its tail, closing brackets, keys): not worth a reject each.
                pos = NextObjectLine(payload, pos);
                continue;
            }
            context.BaseOffset = pos;
            var bytes = jsonLines ? payload[pos..LineEnd(payload, pos)] : payload[pos..];
            var reader = new Utf8JsonReader(bytes, Options);
            try
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    bool recognized = decoder.DecodeObject(ref reader, ref context);
                    int end = pos + (int)reader.BytesConsumed;
                    if (recognized) resyncing = false;
                    else if (!resyncing)
                        context.Reject(pos, "object is not a flow log record", payload[pos..end]);
                    pos = end;
                }
                else
                {
                    var token = reader.TokenType;
                    reader.Skip();
                    int end = pos + (int)reader.BytesConsumed;
                    context.Reject(pos, $"expected a JSON object, found {Describe(token)}", payload[pos..end]);
                    pos = end;
                }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                long relativeLine = ex is JsonException { LineNumber: long n } ? n : 0;
                int errorLineStart = AdvanceLines(payload, pos, relativeLine);
                long line = context.Lines.LineAt(errorLineStart);
                if (line != lastErrorLine)
                {
                    lastErrorLine = line;
                    string reason = ex is JsonException ? "invalid JSON: " + FirstSentence(ex.Message) : "undecodable record: " + ex.Message;
                    sink.Reject(new FlowDecodeError(new SourcePosition(cursor.Source, line), formatName + ": " + reason,
                        Excerpts.Of(LineAt(payload, errorLineStart))));
                }
                if (jsonLines)
                {
                    pos = LineEnd(payload, errorLineStart);
                }
                else
                {
                    pos = NextObjectLine(payload, errorLineStart);
                    resyncing = true;
                    broken = true;
                }
            }
        }
        cursor.Line += LineCount(payload);
    }

    /// <summary>Lines in a payload, counted the way <see cref="LineFlowDecoder"/> does: a last line without '\n' counts.</summary>
    public static long LineCount(ReadOnlySpan<byte> payload)
    {
        if (payload.IsEmpty) return 0;
        long lines = payload.Count((byte)'\n');
        return payload[^1] == (byte)'\n' ? lines : lines + 1;
    }

    /// <summary>
    /// True when the payload is JSON lines: one of its first non-blank lines starts at column 0 with '{' and holds
    /// exactly one complete JSON value. A pretty-printed document's lines never do (its first line is a lone '{',
    /// its inner objects are indented), and neither do records of a document written one per line ("{..},").
    /// </summary>
    public static bool LooksLikeJsonLines(ReadOnlySpan<byte> payload)
    {
        int pos = payload.StartsWith("\uFEFF"u8) ? 3 : 0;
        for (int seen = 0; seen < 5 && pos < payload.Length;)
        {
            int end = LineEnd(payload, pos);
            var line = payload[pos..end];
            pos = end + 1;
            if (line.Trim(" \t\r"u8).IsEmpty) continue;
            seen++;
            if (line[0] == (byte)'{' && IsOneCompleteValue(line)) return true;
        }
        return false;
    }

    private static bool IsOneCompleteValue(ReadOnlySpan<byte> line)
    {
        try
        {
            var reader = new Utf8JsonReader(line, Options);
            if (!reader.Read()) return false;
            reader.Skip();
            return line[(int)reader.BytesConsumed..].Trim(" \t\r"u8).IsEmpty;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static int LineEnd(ReadOnlySpan<byte> payload, int pos)
    {
        int newline = payload[pos..].IndexOf((byte)'\n');
        return newline < 0 ? payload.Length : pos + newline;
    }

    /// <summary>Skips whitespace and the punctuation between array elements (`[`, `,`, `]`) at the top level.</summary>
    private static int SkipSeparators(ReadOnlySpan<byte> payload, int pos)
    {
        while (pos < payload.Length && payload[pos] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or (byte)',' or (byte)'[' or (byte)']')
            pos++;
        return pos;
    }

    private static int AdvanceLines(ReadOnlySpan<byte> payload, int pos, long lines)
    {
        for (long i = 0; i < lines && pos < payload.Length; i++)
        {
            int newline = payload[pos..].IndexOf((byte)'\n');
            if (newline < 0) return payload.Length;
            pos += newline + 1;
        }
        return pos;
    }

    /// <summary>Offset of the first line after the one holding <paramref name="pos"/> whose first non-blank byte is '{'.</summary>
    private static int NextObjectLine(ReadOnlySpan<byte> payload, int pos)
    {
        while (true)
        {
            int newline = payload[pos..].IndexOf((byte)'\n');
            if (newline < 0) return payload.Length;
            pos += newline + 1;
            int i = pos;
            while (i < payload.Length && payload[i] is (byte)' ' or (byte)'\t' or (byte)'\r') i++;
            if (i < payload.Length && payload[i] == (byte)'{') return i;
        }
    }

    private static ReadOnlySpan<byte> LineAt(ReadOnlySpan<byte> payload, int pos)
    {
        var rest = payload[Math.Min(pos, payload.Length)..];
        int newline = rest.IndexOf((byte)'\n');
        return newline < 0 ? rest : rest[..newline];
    }

    private static string FirstSentence(string message)
    {
        // System.Text.Json appends "LineNumber: .. | BytePositionInLine: .." relative to the object; our position replaces it.
        int cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut].TrimEnd() : message;
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString(),
    };
}
