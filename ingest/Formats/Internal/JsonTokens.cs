using System.Buffers.Text;
using System.Text.Json;

namespace FlowPolicy.Ingest.Formats.Internal;

/// <summary>What a JSON line decoder did with one line.</summary>
internal enum LineOutcome : byte
{
    Accepted,
    Rejected,
    Skipped,
}

/// <summary>Small pieces shared by the Utf8JsonReader-based line decoders.</summary>
internal static class JsonTokens
{
    /// <summary>Readers see one line at a time; real flow records nest a few levels, so a deep line is garbage.</summary>
    public static readonly JsonReaderOptions LineOptions = new()
    {
        CommentHandling = JsonCommentHandling.Disallow,
        AllowTrailingCommas = false,
        MaxDepth = 32,
    };

    /// <summary>
    /// The UTF-8 text of the current string or property name token, unescaped into <paramref name="scratch"/> when it
    /// has escapes (a heap buffer if it does not fit; escapes are rare in flow logs).
    /// </summary>
    public static ReadOnlySpan<byte> Utf8(ref Utf8JsonReader reader, Span<byte> scratch)
    {
        if (!reader.ValueIsEscaped) return reader.ValueSpan;
        Span<byte> buffer = reader.ValueSpan.Length <= scratch.Length ? scratch : new byte[reader.ValueSpan.Length];
        int written = reader.CopyString(buffer);
        return buffer[..written];
    }

    /// <summary>An unsigned integer given as a JSON number or, as protobuf's JSON mapping allows, a decimal string.</summary>
    public static bool TryGetUInt32(ref Utf8JsonReader reader, Span<byte> scratch, out uint value)
    {
        value = 0;
        if (reader.TokenType == JsonTokenType.Number) return reader.TryGetUInt32(out value);
        if (reader.TokenType != JsonTokenType.String) return false;
        var text = Utf8(ref reader, scratch);
        return Utf8Parser.TryParse(text, out value, out int consumed) && consumed == text.Length && text.Length > 0;
    }

    /// <summary>A signed integer (protobuf enums given by number) as a JSON number or a decimal string.</summary>
    public static bool TryGetInt32(ref Utf8JsonReader reader, Span<byte> scratch, out int value)
    {
        value = 0;
        if (reader.TokenType == JsonTokenType.Number) return reader.TryGetInt32(out value);
        if (reader.TokenType != JsonTokenType.String) return false;
        var text = Utf8(ref reader, scratch);
        return Utf8Parser.TryParse(text, out value, out int consumed) && consumed == text.Length && text.Length > 0;
    }

    /// <summary>Raw bytes of the object or array starting at the current token; leaves the reader on its end token.</summary>
    public static ReadOnlySpan<byte> RawValue(ref Utf8JsonReader reader, ReadOnlySpan<byte> line)
    {
        int start = (int)reader.TokenStartIndex;
        reader.Skip();
        return line[start..(int)reader.BytesConsumed];
    }

    public static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        _ => token.ToString(),
    };
}
