using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace FlowPolicy.Tests.PolicyValidation;

/// <summary>One document of an emitted policy file, as an API server receives it: the YAML turned into JSON (comments gone).</summary>
internal sealed record PolicyDocument(string File, int Index, JsonObject Json)
{
    public string Id => $"{File}#{Index}";
    public string ApiVersion => (string?)Json["apiVersion"] ?? "";
    public string Kind => (string?)Json["kind"] ?? "";
    public string Name => (string?)Json["metadata"]?["name"] ?? "";
    public string? Namespace => (string?)Json["metadata"]?["namespace"];
    public JsonObject? Spec => Json["spec"] as JsonObject;
    /// <summary>The object's size as stored (compact JSON, UTF-8).</summary>
    public int StoredBytes => System.Text.Encoding.UTF8.GetByteCount(Json.ToJsonString());
    public override string ToString() => $"{File}[{Index}] {Kind} {Namespace}/{Name}";
}

/// <summary>Reads every document of every *.yaml under a directory with YamlDotNet, typing plain scalars as YAML 1.2's core schema does (what kubectl's parser does).</summary>
internal static class PolicyDocuments
{
    public static List<PolicyDocument> Load(string directory)
    {
        var docs = new List<PolicyDocument>();
        if (!Directory.Exists(directory)) return docs;
        foreach (var file in Directory.EnumerateFiles(directory, "*.yaml", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var stream = new YamlStream();
            using (var reader = new StreamReader(file)) stream.Load(reader);
            for (int i = 0; i < stream.Documents.Count; i++)
                docs.Add(new PolicyDocument(Path.GetRelativePath(directory, file), i, (JsonObject)ToJson(stream.Documents[i].RootNode)!));
        }
        return docs;
    }

    private static JsonNode? ToJson(YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode map:
                var obj = new JsonObject();
                foreach (var (key, value) in map.Children) obj[((YamlScalarNode)key).Value!] = ToJson(value);
                return obj;
            case YamlSequenceNode seq:
                var array = new JsonArray();
                foreach (var item in seq.Children) array.Add(ToJson(item));
                return array;
            case YamlScalarNode scalar:
                string text = scalar.Value ?? "";
                if (scalar.Style != ScalarStyle.Plain) return JsonValue.Create(text);
                if (text is "null" or "~" or "") return null;
                if (text is "true" or "false") return JsonValue.Create(text == "true");
                if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n)) return JsonValue.Create(n);
                return JsonValue.Create(text);
            default:
                throw new InvalidOperationException($"unexpected YAML node {node.NodeType}");
        }
    }
}
