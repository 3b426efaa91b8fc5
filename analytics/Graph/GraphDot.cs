using System.Globalization;
using System.Text;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Analytics.Graph;

/// <summary>
/// The Graphviz (DOT) picture of a dependency graph: one cluster per namespace, edge width by flows (log scale),
/// observed denials in red (dashed when every flow was denied), edges the intent does not allow in orange.
/// External addresses are collapsed so thousands of internet clients stay one node: one "internet" node per
/// server port they connect to (and one per port for external servers), labelled with how many addresses it stands for.
/// </summary>
public static class GraphDot
{
    public static string Render(DependencyGraph graph)
    {
        var nodes = new Dictionary<string, DrawnNode>(StringComparer.Ordinal);
        var edges = new SortedDictionary<(string From, string To, byte Protocol, ushort Port), DrawnEdge>();
        foreach (var item in graph.Edges)
        {
            var edge = item.Edge;
            var from = NodeFor(nodes, edge.Client, edge, clientSide: true);
            var to = NodeFor(nodes, edge.Server, edge, clientSide: false);
            var key = (from.Id, to.Id, edge.Protocol, edge.Port);
            if (!edges.TryGetValue(key, out var drawn)) edges[key] = drawn = new DrawnEdge(from.Id, to.Id, edge.Protocol, edge.Port);
            drawn.Flows += edge.Flows;
            drawn.Allowed += edge.AllowedFlows;
            drawn.Denied += edge.DeniedFlows;
            drawn.IntentDenies |= !item.Intent.Allowed;
        }

        var text = new StringBuilder();
        text.Append("digraph flowpolicy {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=8];\n");
        int cluster = 0;
        foreach (var group in nodes.Values.GroupBy(n => n.Namespace).OrderBy(g => g.Key ?? "", StringComparer.Ordinal))
        {
            string indent = "  ";
            if (group.Key is not null)
            {
                text.Append(CultureInfo.InvariantCulture, $"  subgraph cluster_{cluster++} {{\n    label={Quote(group.Key)};\n    style=dashed;\n");
                indent = "    ";
            }
            foreach (var node in group.OrderBy(n => n.Id, StringComparer.Ordinal))
            {
                string label = node.Addresses.Count > 0
                    ? $"{node.Label}\n{node.Addresses.Count} address{(node.Addresses.Count == 1 ? "" : "es")}"
                    : node.Label;
                text.Append(indent).Append(Quote(node.Id)).Append(" [label=").Append(Quote(label)).Append(node.Shape).Append("];\n");
            }
            if (group.Key is not null) text.Append("  }\n");
        }

        long maxFlows = edges.Values.Select(e => e.Flows).DefaultIfEmpty(1).Max();
        foreach (var edge in edges.Values)
        {
            double width = 1 + 5 * Math.Log(1 + edge.Flows) / Math.Log(2 + maxFlows);
            string color = edge.Denied > 0 ? "red" : edge.IntentDenies ? "darkorange" : "gray30";
            string style = edge.Denied > 0 && edge.Allowed == 0 ? "dashed" : "solid";
            string label = $":{edge.Port}/{IpProtocols.Name(edge.Protocol)}\n{edge.Flows} flows";
            if (edge.Denied > 0) label += $"\n{edge.Denied} denied";
            if (edge.IntentDenies) label += "\nnot in intent";
            text.Append(CultureInfo.InvariantCulture,
                $"  {Quote(edge.From)} -> {Quote(edge.To)} [label={Quote(label)}, penwidth={width:0.##}, color={color}, fontcolor={color}, style={style}];\n");
        }
        text.Append("}\n");
        return text.ToString();
    }

    private static DrawnNode NodeFor(Dictionary<string, DrawnNode> nodes, Endpoint endpoint, Edge edge, bool clientSide)
    {
        if (endpoint.IsAddress && endpoint.Kind == EndpointKind.External)
        {
            string port = $":{edge.Port}/{IpProtocols.Name(edge.Protocol)}";
            string id = clientSide ? "internet clients of " + port + " on " + edge.Server.Key : "internet " + port;
            if (!nodes.TryGetValue(id, out var collapsed))
                nodes[id] = collapsed = new DrawnNode(id, clientSide ? "internet" : "internet " + port, null, ", shape=ellipse");
            collapsed.Addresses.Add(endpoint.Address);
            return collapsed;
        }
        if (!nodes.TryGetValue(endpoint.Key, out var node))
        {
            string shape = endpoint.Kind switch
            {
                EndpointKind.Node => ", shape=box3d",
                EndpointKind.External => ", shape=ellipse",
                EndpointKind.Unknown => ", shape=note",
                EndpointKind.Service => ", shape=component",
                _ => "",
            };
            string label = endpoint.Kind == EndpointKind.Pod ? endpoint.Name : endpoint.Key;
            nodes[endpoint.Key] = node = new DrawnNode(endpoint.Key, label, DependencyGraph.NamespaceOf(endpoint), shape);
        }
        return node;
    }

    /// <summary>A DOT double-quoted string: backslash and quote escaped, newlines as \n (centred lines).</summary>
    internal static string Quote(string value)
    {
        var text = new StringBuilder(value.Length + 2).Append('"');
        foreach (char c in value)
        {
            switch (c)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': break;
                default: text.Append(char.IsControl(c) ? ' ' : c); break;
            }
        }
        return text.Append('"').ToString();
    }

    private sealed class DrawnNode(string id, string label, string? @namespace, string shape)
    {
        public string Id { get; } = id;
        public string Label { get; } = label;
        public string? Namespace { get; } = @namespace;
        public string Shape { get; } = shape;
        /// <summary>The external addresses a collapsed node stands for.</summary>
        public HashSet<PackedIp> Addresses { get; } = new();
    }

    private sealed class DrawnEdge(string from, string to, byte protocol, ushort port)
    {
        public string From { get; } = from;
        public string To { get; } = to;
        public byte Protocol { get; } = protocol;
        public ushort Port { get; } = port;
        public long Flows;
        public long Allowed;
        public long Denied;
        public bool IntentDenies;
    }
}
