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

    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
        { "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~" };

    private static bool NeedsQuotes(string value)
    {
        if (value.Length == 0 || Reserved.Contains(value)) return true;
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

internal sealed class YamlMap : YamlNode
{
    public List<KeyValuePair<string, YamlNode>> Entries { get; } = new();

    public YamlMap Add(string key, YamlNode value)
    {
        Entries.Add(new(key, value));
        return this;
    }

    public YamlMap Add(string key, string value) => Add(key, Str(value));
}

internal sealed class YamlSeq : YamlNode
{
    public List<YamlNode> Items { get; } = new();

    public YamlSeq Add(YamlNode item)
    {
        Items.Add(item);
        return this;
    }
}

internal static class YamlWriter
{
    /// <summary>Documents separated by "---", each ending in a newline.</summary>
    public static string Write(IEnumerable<YamlMap> documents)
    {
        var sb = new StringBuilder();
        bool first = true;
        foreach (var doc in documents)
        {
            if (!first) sb.Append("---\n");
            first = false;
            WriteMapBody(sb, doc, 0);
        }
        return sb.ToString();
    }

    private static void WriteMapBody(StringBuilder sb, YamlMap map, int indent)
    {
        bool firstLine = true;
        foreach (var (key, value) in map.Entries)
        {
            // The first key of a map inside a sequence item shares the "- " line.
            if (!(firstLine && indent < 0)) sb.Append(' ', Math.Max(indent, 0));
            firstLine = false;
            int level = Math.Abs(indent);
            sb.Append(YamlNode.Str(key).Text()).Append(':');
            WriteValue(sb, value, level);
            if (indent < 0) indent = level;
        }
    }

    private static void WriteValue(StringBuilder sb, YamlNode value, int level)
    {
        switch (value)
        {
            case YamlScalar scalar:
                sb.Append(' ').Append(scalar.Text()).Append('\n');
                break;
            case YamlMap map when map.Entries.Count == 0:
                sb.Append(" {}\n");
                break;
            case YamlSeq seq when seq.Items.Count == 0:
                sb.Append(" []\n");
                break;
            case YamlMap map:
                sb.Append('\n');
                WriteMapBody(sb, map, level + 2);
                break;
            case YamlSeq seq:
                sb.Append('\n');
                WriteSeq(sb, seq, level + 2);
                break;
        }
    }

    private static void WriteSeq(StringBuilder sb, YamlSeq seq, int indent)
    {
        foreach (var item in seq.Items)
        {
            sb.Append(' ', indent).Append("- ");
            switch (item)
            {
                case YamlScalar scalar: sb.Append(scalar.Text()).Append('\n'); break;
                case YamlMap map when map.Entries.Count == 0: sb.Append("{}\n"); break;
                case YamlSeq inner when inner.Items.Count == 0: sb.Append("[]\n"); break;
                // Map entries of an item line up two columns right of the dash; -indent marks "first key on the dash line".
                case YamlMap map: WriteMapBody(sb, map, -(indent + 2)); break;
                case YamlSeq inner: sb.Append('\n'); WriteSeq(sb, inner, indent + 2); break;
            }
        }
    }
}
