using System.Buffers.Text;
using System.Text;
using System.Text.Json;

namespace FlowPolicy.Ingest.Formats.Internal;

/// <summary>Outcome of reading one JSON value as a typed field.</summary>
internal enum FieldRead : byte
{
    Missing = 0,
    Ok = 1,
    Invalid = 2,
}

/// <summary>Small, allocation-free readers for JSON values on a <see cref="Utf8JsonReader"/>.</summary>
internal static class JsonValues
{
    /// <summary>Longest string value the readers look at without allocating (IPs, numbers, tuples).</summary>
    public const int MaxInlineString = 512;

    /// <summary>Case-insensitive (ASCII) property-name match, for formats whose producers disagree on case (Azure).</summary>
    public static bool NameIs(ref Utf8JsonReader reader, ReadOnlySpan<byte> name)
    {
        if (!reader.ValueIsEscaped) return Ascii.EqualsIgnoreCase(reader.ValueSpan, name);
        Span<byte> buffer = stackalloc byte[64];
        return reader.ValueSpan.Length <= buffer.Length
            && Ascii.EqualsIgnoreCase(buffer[..reader.CopyString(buffer)], name);
    }

    /// <summary>
    /// The UTF-8 text of the current string token without escapes, copied into <paramref name="scratch"/> only when
    /// the JSON escaped it. False when the unescaped text does not fit. (The reader is `in` so a stack buffer may be passed.)
    /// </summary>
    public static bool TryGetUtf8(in Utf8JsonReader reader, Span<byte> scratch, out ReadOnlySpan<byte> text)
    {
        if (!reader.ValueIsEscaped)
        {
            text = reader.ValueSpan;
            return true;
        }
        if (reader.ValueSpan.Length > scratch.Length)
        {
            text = default;
            return false;
        }
        text = scratch[..reader.CopyString(scratch)];
        return true;
    }

    /// <summary>
    /// Reads a non-negative integer given as a JSON number or as a decimal string (proto3 JSON writes int64 as
    /// strings; Struct-encoded payloads write all numbers as doubles, so "3389.0" style integers are accepted).
    /// The reader must be on the value token.
    /// </summary>
    public static FieldRead ReadUInt64(ref Utf8JsonReader reader, out ulong value)
    {
        value = 0;
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return FieldRead.Missing;
            case JsonTokenType.Number:
                if (reader.TryGetUInt64(out value)) return FieldRead.Ok;
                if (reader.TryGetDouble(out double d) && d >= 0 && d < 18446744073709549568d && d == Math.Floor(d))
                {
                    value = (ulong)d;
                    return FieldRead.Ok;
                }
                return FieldRead.Invalid;
            case JsonTokenType.String:
                Span<byte> scratch = stackalloc byte[32];
                if (!TryGetUtf8(in reader, scratch, out var text)) return FieldRead.Invalid;
                if (text.IsEmpty) return FieldRead.Missing;
                if (Utf8Parser.TryParse(text, out value, out int consumed) && consumed == text.Length && text[0] != (byte)'+')
                    return FieldRead.Ok;
                if (Utf8Parser.TryParse(text, out double fromText, out consumed) && consumed == text.Length
                    && fromText >= 0 && fromText < 18446744073709549568d && fromText == Math.Floor(fromText))
                {
                    value = (ulong)fromText;
                    return FieldRead.Ok;
                }
                value = 0;
                return FieldRead.Invalid;
            default:
                return FieldRead.Invalid;
        }
    }

    /// <summary>The current value as a string (or null for JSON null / non-strings); allocates.</summary>
    public static string? GetStringOrNull(ref Utf8JsonReader reader) =>
        reader.TokenType == JsonTokenType.String ? reader.GetString() : null;

    /// <summary>A short printable rendering of the current token for error messages.</summary>
    public static string Describe(ref Utf8JsonReader reader)
    {
        return reader.TokenType switch
        {
            JsonTokenType.String or JsonTokenType.Number =>
                "'" + Excerpts.Of(reader.HasValueSequence ? default : reader.ValueSpan) + "'",
            JsonTokenType.StartObject => "an object",
            JsonTokenType.StartArray => "an array",
            JsonTokenType.True => "true",
            JsonTokenType.False => "false",
            JsonTokenType.Null => "null",
            _ => reader.TokenType.ToString(),
        };
    }

    /// <summary>
    /// Looks ahead (on a copy of the reader, which must be on a StartObject) for a string property and returns it.
    /// Tolerates broken JSON after the property: returns what was found before the break.
    /// </summary>
    public static string? FindString(Utf8JsonReader reader, ReadOnlySpan<byte> name)
    {
        try
        {
            int depth = reader.CurrentDepth;
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth) return null;
                if (reader.TokenType != JsonTokenType.PropertyName) continue;
                bool match = NameIs(ref reader, name);
                reader.Read();
                if (match && reader.TokenType == JsonTokenType.String) return reader.GetString();
                reader.Skip();
            }
        }
        catch (JsonException)
        {
            // Broken after the part we could read: the caller decodes what it can and the scanner reports the break.
        }
        return null;
    }
}
