using System.Text.Json;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Core.Edges;

namespace FlowPolicy.Analytics.Graph;

/// <summary>
/// graph.json: {"window":{..},"nodes":[{"id","kind","namespace","name","workload_kind","labels"}..],
/// "edges":[{edge as in `edges --json`, "intent":"allowed"|"denied","intent_rules":["policy rule"..]}..]}.
/// Every address stays exact here; only the SVG collapses them.
/// </summary>
public static class GraphJson
{
    public static void Write(Stream output, DependencyGraph graph)
    {
        using var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteStartObject("window");
        w.WriteString("from", SliJson.Time(graph.Window.From));
        w.WriteString("to", SliJson.Time(graph.Window.To));
        w.WriteEndObject();
        w.WriteStartArray("nodes");
        foreach (var node in graph.Nodes)
        {
            w.WriteStartObject();
            w.WriteString("id", node.Key);
            w.WriteString("kind", EdgeJson.KindName(node));
            if (node.Namespace is not null) w.WriteString("namespace", node.Namespace);
            w.WriteString("name", node.Name);
            if (node.WorkloadKind is not null) w.WriteString("workload_kind", node.WorkloadKind);
            if (node.Labels.Count > 0)
            {
                w.WriteStartObject("labels");
                foreach (var (key, value) in node.Labels) w.WriteString(key, value);
                w.WriteEndObject();
            }
            w.WriteEndObject();
            if (w.BytesPending > SliJson.FlushBytes) w.Flush();
        }
        w.WriteEndArray();
        w.WriteStartArray("edges");
        foreach (var item in graph.Edges)
        {
            w.WriteStartObject();
            EdgeJson.WriteKey(w, item.Edge);
            EdgeJson.WriteEvidence(w, item.Edge);
            w.WriteString("intent", item.Intent.Allowed ? "allowed" : "denied");
            w.WriteStartArray("intent_rules");
            foreach (var rule in item.Intent.MatchedRules) w.WriteStringValue(rule.ToString());
            w.WriteEndArray();
            w.WriteEndObject();
            // The writer buffers until flushed: a million edges would be hundreds of megabytes held twice.
            if (w.BytesPending > SliJson.FlushBytes) w.Flush();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
