using System.Globalization;
using System.Text;

namespace FlowPolicy.Suggest.Emitters;

/// <summary>
/// A minimal YAML document model and block-style writer for policy files. Hand-written rather than a serializer so
/// the output is byte-stable and every string that a YAML 1.1 reader could take for a number, bool or null is
/// quoted (a label value "true" or a Cilium port "53" must stay a string).
/// </summary>
internal abstract class YamlNode
{
    public static YamlMap Map() => new();
    public static YamlSeq Seq() => new();
    public static YamlScalar Str(string value) => new(value, quoted: NeedsQuotes(value));
    public static YamlScalar Int(long value) => new(value.ToString(CultureInfo.InvariantCulture), quoted: false);
    public static YamlComment Comment(string text) => new TextComment(text);
    /// <summary><paramref name="node"/>, whose text as a map value is rendered once per indentation and then copied.</summary>
    public static YamlRendered Rendered(YamlNode node) => new(node);

    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
        { "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~" };

    internal static bool NeedsQuotes(string value)
    {
        // Every reserved word is at most 5 characters: skip the case-insensitive lookup for the rest.
        if (value.Length == 0 || (value.Length <= 5 && Reserved.Contains(value))) return true;
        if (!(char.IsAsciiLetter(value[0]) || value[0] == '_')) return true;
        foreach (char c in value)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/')) return true;
        return false;
    }
}

internal sealed class YamlScalar(string value, bool quoted) : YamlNode
{
    public string Value { get; } = value;
    public bool Quoted { get; } = quoted;

    public void WriteText(TextWriter w) => WriteText(w, Value, Quoted);

    /// <summary>Writes the scalar's text straight to <paramref name="w"/>.</summary>
    public static void WriteText(TextWriter w, string value, bool quoted)
    {
        if (!quoted)
        {
            w.Write(value);
            return;
        }
        w.Write('"');
        int plain = 0;
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (c is not ('"' or '\\') && c >= 0x20 && c != 0x7f) continue;
            w.Write(value.AsSpan(plain, i - plain));
            plain = i + 1;
            switch (c)
            {
                case '"': w.Write("\\\""); break;
                case '\\': w.Write("\\\\"); break;
                case '\n': w.Write("\\n"); break;
                case '\t': w.Write("\\t"); break;
                default: w.Write("\\u"); w.Write(((int)c).ToString("x4", CultureInfo.InvariantCulture)); break;
            }
        }
        w.Write(value.AsSpan(plain));
        w.Write('"');
    }

    public string Text()
    {
        if (!Quoted) return Value;
        var sb = new StringBuilder(Value.Length + 2).Append('"');
        foreach (char c in Value)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c < 0x20 || c == 0x7f) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }
}

/// <summary>
/// A "# ..." line before the next entry of a map or item of a sequence: the reviewer's evidence next to the rule it
/// is about. Comments never reach the cluster, so they are not bound by the 256 KiB limit on annotations.
/// </summary>
internal abstract class YamlComment : YamlNode
{
    /// <summary>Writes the comment's text, without "# " and the line end; line breaks are replaced by the writer's caller.</summary>
    public abstract void WriteText(TextWriter w);

    /// <summary>Writes <paramref name="text"/> on one line: a line break or control character would end the comment.</summary>
    public static void WriteOneLine(TextWriter w, ReadOnlySpan<char> text)
    {
        int plain = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] >= 0x20 && text[i] != 0x7f) continue;
            w.Write(text[plain..i]);
            w.Write(' ');
            plain = i + 1;
        }
        w.Write(text[plain..]);
    }
}

internal sealed class TextComment(string text) : YamlComment
{
    public override void WriteText(TextWriter w) => WriteOneLine(w, text);
}

/// <summary>
/// A node written many times, always as the value of a map entry (a peer's selector in every rule that names it):
/// its text is rendered at the first indentation it is written at and copied after that. Not thread-safe: one is
/// used by one writer thread at a time (an emitter part's node cache).
/// </summary>
internal sealed class YamlRendered(YamlNode node) : YamlNode
{
    public YamlNode Node { get; } = node;
    internal int Level = -1;
    internal string? Text;
}

internal sealed class YamlMap : YamlNode
{
    public List<KeyValuePair<string, YamlNode>> Entries { get; } = new();

    /// <summary>Entries that are not comments: a map of comments only is written as "{}" (after its comments).</summary>
    public int ValueCount { get; private set; }

    public YamlMap Add(string key, YamlNode value)
    {
        Entries.Add(new(key, value));
        if (value is not YamlComment) ValueCount++;
        return this;
    }

    public YamlMap Add(string key, string value) => Add(key, Str(value));

    /// <summary>A comment line before the next entry (never the first entry of a map that is a sequence item).</summary>
    public YamlMap Add(YamlComment comment) => Add("#", comment);
}

internal sealed class YamlSeq : YamlNode
{
    public List<YamlNode> Items { get; } = new();

    /// <summary>Items that are not comments: a sequence of comments only is written as "[]" (after its comments).</summary>
    public int ValueCount { get; private set; }

    public YamlSeq Add(YamlNode item)
    {
        Items.Add(item);
        if (item is not YamlComment) ValueCount++;
        return this;
    }
}

internal static class YamlWriter
{
    private static readonly string Spaces = new(' ', 256);

    /// <summary>Documents separated by "---", each ending in a newline.</summary>
    public static string Write(IEnumerable<YamlMap> documents)
    {
        var text = new StringWriter(CultureInfo.InvariantCulture);
        Write(text, documents);
        return text.ToString();
    }

    /// <summary>Streams the documents to <paramref name="w"/> (a file): no text of the whole file is made.</summary>
    public static void Write(TextWriter w, IEnumerable<YamlMap> documents)
    {
        bool first = true;
        foreach (var doc in documents)
        {
            if (!first) w.Write("---\n");
            first = false;
            WriteMapBody(w, doc, 0);
        }
    }

    private static void Indent(TextWriter w, int count)
    {
        while (count > Spaces.Length)
        {
            w.Write(Spaces);
            count -= Spaces.Length;
        }
        if (count > 0) w.Write(Spaces.AsSpan(0, count));
    }

    private static void WriteMapBody(TextWriter w, YamlMap map, int indent)
    {
        bool firstLine = true;
        foreach (var (key, value) in map.Entries)
        {
            // The first key of a map inside a sequence item shares the "- " line.
            if (!(firstLine && indent < 0)) Indent(w, Math.Max(indent, 0));
            firstLine = false;
            int level = Math.Abs(indent);
            if (value is YamlComment comment)
                WriteComment(w, comment);
            else
            {
                YamlScalar.WriteText(w, key, YamlNode.NeedsQuotes(key));
                w.Write(':');
                WriteValue(w, value, level);
            }
            if (indent < 0) indent = level;
        }
    }

    private static void WriteComment(TextWriter w, YamlComment comment)
    {
        w.Write("# ");
        comment.WriteText(w);
        w.Write('\n');
    }

    /// <summary>The comments of a map or sequence without values, after its "{}" or "[]".</summary>
    private static void WriteComments(TextWriter w, IEnumerable<YamlNode> nodes, int indent)
    {
        foreach (var node in nodes)
        {
            if (node is not YamlComment comment) continue;
            Indent(w, indent);
            WriteComment(w, comment);
        }
    }

    private static void WriteValue(TextWriter w, YamlNode value, int level)
    {
        switch (value)
        {
            case YamlRendered rendered:
                if (rendered.Level != level)
                {
                    var text = new StringWriter(CultureInfo.InvariantCulture);
                    WriteValue(text, rendered.Node, level);
                    (rendered.Level, rendered.Text) = (level, text.ToString());
                }
                w.Write(rendered.Text);
                break;
            case YamlScalar scalar:
                w.Write(' ');
                scalar.WriteText(w);
                w.Write('\n');
                break;
            case YamlMap map when map.ValueCount == 0:
                w.Write(" {}\n");
                WriteComments(w, map.Entries.Select(e => e.Value), level + 2);
                break;
            case YamlSeq seq when seq.ValueCount == 0:
                w.Write(" []\n");
                WriteComments(w, seq.Items, level + 2);
                break;
            case YamlMap map:
                w.Write('\n');
                WriteMapBody(w, map, level + 2);
                break;
            case YamlSeq seq:
                w.Write('\n');
                WriteSeq(w, seq, level + 2);
                break;
        }
    }

    private static void WriteSeq(TextWriter w, YamlSeq seq, int indent)
    {
        foreach (var item in seq.Items)
        {
            Indent(w, indent);
            if (item is YamlComment comment)
            {
                WriteComment(w, comment);
                continue;
            }
            w.Write("- ");
            switch (item is YamlRendered rendered ? rendered.Node : item)
            {
                case YamlScalar scalar: scalar.WriteText(w); w.Write('\n'); break;
                case YamlMap map when map.ValueCount == 0: w.Write("{}\n"); WriteComments(w, map.Entries.Select(e => e.Value), indent + 2); break;
                case YamlSeq inner when inner.ValueCount == 0: w.Write("[]\n"); WriteComments(w, inner.Items, indent + 2); break;
                // Map entries of an item line up two columns right of the dash; -indent marks "first key on the dash line".
                case YamlMap map: WriteMapBody(w, map, -(indent + 2)); break;
                case YamlSeq inner: w.Write('\n'); WriteSeq(w, inner, indent + 2); break;
            }
        }
    }
}
