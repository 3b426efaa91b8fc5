using System.Globalization;
using System.Text;
using System.Text.Json;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace FlowPolicy.Analytics.Intent.Internal;

internal enum PolicyNodeKind : byte { Scalar, Map, List }

/// <summary>
/// One node of a policy document, the same for YAML and JSON, carrying the file and line it came from so every
/// error can say where to look. Scalars keep their text; a null scalar (YAML `~`, empty, JSON null) has Value null.
/// </summary>
internal sealed class PolicyNode
{
    private static readonly Dictionary<string, PolicyNode> NoFields = new(StringComparer.Ordinal);
    private static readonly List<PolicyNode> NoItems = [];

    private readonly Dictionary<string, int>? _keyLines;

    private PolicyNode(PolicyNodeKind kind, string file, int line, string? value, Dictionary<string, PolicyNode>? fields, List<PolicyNode>? items,
        Dictionary<string, int>? keyLines = null)
    {
        _keyLines = keyLines;
        Kind = kind;
        File = file;
        Line = line;
        Value = value;
        Fields = fields ?? NoFields;
        Items = items ?? NoItems;
    }

    public PolicyNodeKind Kind { get; }
    public string File { get; }
    /// <summary>1-based line; 0 when unknown.</summary>
    public int Line { get; }
    public string? Value { get; }
    public IReadOnlyDictionary<string, PolicyNode> Fields { get; }
    public IReadOnlyList<PolicyNode> Items { get; }

    public bool IsNull => Kind == PolicyNodeKind.Scalar && Value is null;
    public string Where => Line > 0 ? $"{File}:{Line}" : File;

    public PolicyNode? Field(string name) => Fields.TryGetValue(name, out var node) && !node.IsNull ? node : null;

    public string? String(string name)
    {
        var node = Field(name);
        if (node is null) return null;
        if (node.Kind != PolicyNodeKind.Scalar) throw Error(node, $"'{name}' must be a single value");
        return node.Value;
    }

    /// <summary>A map field; null when absent or null. An empty map `{}` is returned as an empty map.</summary>
    public PolicyNode? Map(string name)
    {
        var node = Field(name);
        if (node is not null && node.Kind != PolicyNodeKind.Map) throw Error(node, $"'{name}' must be a map (key: value)");
        return node;
    }

    /// <summary>A list field; null when absent or null (callers decide what absent means).</summary>
    public IReadOnlyList<PolicyNode>? List(string name)
    {
        var node = Field(name);
        if (node is null) return null;
        if (node.Kind != PolicyNodeKind.List) throw Error(node, $"'{name}' must be a list");
        return node.Items;
    }

    /// <summary>A map of strings (labels, matchLabels).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> StringMap(string name)
    {
        var node = Map(name);
        if (node is null) return [];
        var pairs = new List<KeyValuePair<string, string>>(node.Fields.Count);
        foreach (var (key, value) in node.Fields)
        {
            if (value.Kind != PolicyNodeKind.Scalar) throw Error(value, $"'{name}.{key}' must be a single value");
            pairs.Add(new(key, value.Value ?? ""));
        }
        return pairs;
    }

    public static PolicyLoadException Error(PolicyNode node, string message) => new(node.File, node.Line, message);

    /// <summary>
    /// Rejects a field this map does not define, naming it and its line: a misspelt `ingres:` silently read as "no
    /// ingress rules" would make a CI gate judge a policy nobody wrote. <paramref name="what"/> names the map in the message.
    /// </summary>
    public void RequireKnownFields(string what, params string[] known)
    {
        foreach (var key in Fields.Keys)
            if (Array.IndexOf(known, key) < 0)
                throw new PolicyLoadException(File, _keyLines is not null && _keyLines.TryGetValue(key, out int line) ? line : Fields[key].Line,
                    $"unknown field '{key}' in {what}; it has {string.Join(", ", known)}");
    }

    public static PolicyNode Scalar(string file, int line, string? value) => new(PolicyNodeKind.Scalar, file, line, value, null, null);

    /// <summary>Every document of a YAML stream (`---` separated); null documents are left out.</summary>
    public static List<PolicyNode> ReadYaml(string file, TextReader reader)
    {
        var stream = new YamlStream();
        var parser = new TrackingParser(new Parser(reader));
        try
        {
            stream.Load(parser);
        }
        catch (YamlException ex)
        {
            throw new PolicyLoadException(file, (int)ex.Start.Line, "not valid YAML: " + InnerMost(ex).Message);
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet reports some structural errors (an unclosed flow collection at the end) without a position.
            throw new PolicyLoadException(file, parser.LastLine, "not valid YAML: the document ends inside an unclosed [ ] or { } or block started here");
        }
        var documents = new List<PolicyNode>(stream.Documents.Count);
        foreach (var document in stream.Documents)
        {
            var node = FromYaml(file, document.RootNode);
            if (!node.IsNull) documents.Add(node);
        }
        return documents;
    }

    /// <summary>Remembers where the last parsed event started, for errors that come without a position.</summary>
    private sealed class TrackingParser(IParser inner) : IParser
    {
        public int LastLine { get; private set; }
        public YamlDotNet.Core.Events.ParsingEvent? Current => inner.Current;

        public bool MoveNext()
        {
            bool moved = inner.MoveNext();
            if (inner.Current is { } current) LastLine = (int)current.Start.Line;
            return moved;
        }
    }

    private static Exception InnerMost(Exception ex)
    {
        while (ex.InnerException is not null) ex = ex.InnerException;
        return ex;
    }

    private static PolicyNode FromYaml(string file, YamlNode node)
    {
        int line = (int)node.Start.Line;
        switch (node)
        {
            case YamlScalarNode scalar:
                bool plain = scalar.Style is ScalarStyle.Plain or ScalarStyle.Any;
                bool isNull = plain && (scalar.Value is null or "" or "~" or "null" or "Null" or "NULL");
                return Scalar(file, line, isNull ? null : scalar.Value);
            case YamlSequenceNode sequence:
                var items = new List<PolicyNode>(sequence.Children.Count);
                foreach (var child in sequence.Children) items.Add(FromYaml(file, child));
                return new PolicyNode(PolicyNodeKind.List, file, line, null, null, items);
            case YamlMappingNode mapping:
                var fields = new Dictionary<string, PolicyNode>(mapping.Children.Count, StringComparer.Ordinal);
                var keyLines = new Dictionary<string, int>(mapping.Children.Count, StringComparer.Ordinal);
                foreach (var (key, value) in mapping.Children)
                {
                    if (key is not YamlScalarNode { Value: { } name })
                        throw new PolicyLoadException(file, (int)key.Start.Line, "map keys must be plain names");
                    if (!fields.TryAdd(name, FromYaml(file, value)))
                        throw new PolicyLoadException(file, (int)key.Start.Line, $"'{name}' appears twice in the same map");
                    keyLines[name] = (int)key.Start.Line;
                }
                return new PolicyNode(PolicyNodeKind.Map, file, line, null, fields, null, keyLines);
            default:
                throw new PolicyLoadException(file, line, "unsupported YAML node (aliases are resolved; tags are not)");
        }
    }

    /// <summary>A JSON document (kubectl -o json output), with line numbers for errors.</summary>
    public static PolicyNode ReadJson(string file, byte[] utf8)
    {
        var lines = new LineMap(utf8);
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        try
        {
            if (!reader.Read()) throw new PolicyLoadException(file, 1, "the file is empty");
            var root = FromJson(file, ref reader, lines);
            if (reader.Read()) throw new PolicyLoadException(file, lines.LineOf(reader.TokenStartIndex), "unexpected content after the JSON document");
            return root;
        }
        catch (JsonException ex)
        {
            throw new PolicyLoadException(file, (int)(ex.LineNumber ?? -1) + 1, "not valid JSON: " + ex.Message.Split(" LineNumber")[0]);
        }
    }

    private static PolicyNode FromJson(string file, ref Utf8JsonReader reader, LineMap lines)
    {
        int line = lines.LineOf(reader.TokenStartIndex);
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                var fields = new Dictionary<string, PolicyNode>(StringComparer.Ordinal);
                var keyLines = new Dictionary<string, int>(StringComparer.Ordinal);
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    string name = reader.GetString()!;
                    int keyLine = lines.LineOf(reader.TokenStartIndex);
                    reader.Read();
                    if (!fields.TryAdd(name, FromJson(file, ref reader, lines)))
                        throw new PolicyLoadException(file, keyLine, $"'{name}' appears twice in the same object");
                    keyLines[name] = keyLine;
                }
                return new PolicyNode(PolicyNodeKind.Map, file, line, null, fields, null, keyLines);
            case JsonTokenType.StartArray:
                var items = new List<PolicyNode>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    items.Add(FromJson(file, ref reader, lines));
                return new PolicyNode(PolicyNodeKind.List, file, line, null, null, items);
            case JsonTokenType.String:
                return Scalar(file, line, reader.GetString());
            case JsonTokenType.Number:
                return Scalar(file, line, Encoding.UTF8.GetString(reader.ValueSpan));
            case JsonTokenType.True:
                return Scalar(file, line, "true");
            case JsonTokenType.False:
                return Scalar(file, line, "false");
            default:
                return Scalar(file, line, null);
        }
    }

    /// <summary>Byte offset -> 1-based line.</summary>
    private sealed class LineMap
    {
        private readonly List<long> _starts = [0];

        public LineMap(byte[] bytes)
        {
            for (int i = 0; i < bytes.Length; i++)
                if (bytes[i] == (byte)'\n') _starts.Add(i + 1);
        }

        public int LineOf(long offset)
        {
            int index = _starts.BinarySearch(offset);
            return (index >= 0 ? index : ~index - 1) + 1;
        }
    }

    public override string ToString() => Kind switch
    {
        PolicyNodeKind.Scalar => Value ?? "null",
        PolicyNodeKind.Map => "{" + string.Join(", ", Fields.Keys) + "}",
        _ => string.Create(CultureInfo.InvariantCulture, $"[{Items.Count} items]"),
    };
}
