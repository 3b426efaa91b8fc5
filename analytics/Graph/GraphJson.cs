using System.Text.Json;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Core.Edges;

namespace FlowPolicy.Analytics.Graph;

/// <summary>
/// graph.json: {"window":{..},"nodes":[{"id","kind","namespace","name","workload_kind","labels"}..],
/// "edges":[{edge as in `edges --json`, "intent":"allowed"|"denied","intent_rules":["policy rule"..]}..]}.
/// Every address stays exact here; only the SVG collapses them. Indented, with each node and edge compact on a line
/// of its own (<see cref="JsonItemLine"/>).
/// </summary>
internal static class GraphJson
{
    public static void Write(Stream output, DependencyGraph graph)
    {
        using var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteStartObject("window");
        w.WriteString("from", SliJson.Time(graph.Window.From));
        w.WriteString("to", SliJson.Time(graph.Window.To));
        w.WriteEndObject();
        var line = new JsonItemLine();
        w.WriteStartArray("nodes");
        foreach (var node in graph.Nodes)
        {
            var n = line.Start(w);
            n.WriteStartObject();
            n.WriteString("id", node.Key);
            n.WriteString("kind", EdgeJson.KindName(node));
            if (node.Namespace is not null) n.WriteString("namespace", node.Namespace);
            n.WriteString("name", node.Name);
            if (node.WorkloadKind is not null) n.WriteString("workload_kind", node.WorkloadKind);
            if (node.Labels.Count > 0)
            {
                n.WriteStartObject("labels");
                foreach (var (key, value) in node.Labels) n.WriteString(key, value);
                n.WriteEndObject();
            }
            n.WriteEndObject();
            line.WriteTo(w);
            if (w.BytesPending > SliJson.FlushBytes) w.Flush();
        }
        w.WriteEndArray();
        w.WriteStartArray("edges");
        foreach (var item in graph.Edges)
        {
            var e = line.Start(w);
            e.WriteStartObject();
            EdgeJson.WriteKey(e, item.Edge);
            EdgeJson.WriteEvidence(e, item.Edge);
            e.WriteString("intent", item.Intent.Allowed ? "allowed" : "denied");
            e.WriteStartArray("intent_rules");
            foreach (var rule in item.Intent.MatchedRules) e.WriteStringValue(rule.ToString());
            e.WriteEndArray();
            e.WriteEndObject();
            line.WriteTo(w);
            // The writer buffers until flushed: a million edges would be hundreds of megabytes held twice.
            if (w.BytesPending > SliJson.FlushBytes) w.Flush();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
