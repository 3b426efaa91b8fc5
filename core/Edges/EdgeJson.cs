using System.Text.Json;

namespace FlowPolicy.Core.Edges;

/// <summary>
/// The JSON shape of an edge, shared by `edges --json`, graph.json and suggestion evidence, so every output
/// spells an edge the same way: {"src","dst","port","proto", counters...}.
/// </summary>
public static class EdgeJson
{
    public static void Write(Utf8JsonWriter writer, Edge edge)
    {
        writer.WriteStartObject();
        WriteKey(writer, edge);
        WriteEvidence(writer, edge);
        writer.WriteEndObject();
    }

    /// <summary>The identifying fields: src, dst, port, proto.</summary>
    public static void WriteKey(Utf8JsonWriter writer, Edge edge)
    {
        writer.WriteString("src", edge.Client.Key);
        writer.WriteString("dst", edge.Server.Key);
        writer.WriteNumber("port", edge.Port);
        writer.WriteString("proto", edge.ProtocolName);
    }

    /// <summary>The evidence counters behind an edge.</summary>
    public static void WriteEvidence(Utf8JsonWriter writer, Edge edge)
    {
        writer.WriteString("src_kind", KindName(edge.Client));
        writer.WriteString("dst_kind", KindName(edge.Server));
        writer.WriteNumber("flows", edge.Flows);
        writer.WriteNumber("bytes", edge.Bytes);
        writer.WriteNumber("packets", edge.Packets);
        writer.WriteString("first_seen", edge.FirstSeen.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture));
        writer.WriteString("last_seen", edge.LastSeen.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture));
        writer.WriteNumber("days_seen", edge.DaysSeen);
        writer.WriteNumber("client_replicas", edge.ClientReplicas);
        writer.WriteNumber("allowed", edge.AllowedFlows);
        writer.WriteNumber("denied", edge.DeniedFlows);
        writer.WriteNumber("unknown_verdict", edge.UnknownVerdictFlows);
    }

    public static string KindName(Endpoint endpoint) => endpoint.Kind switch
    {
        Flows.EndpointKind.Pod => "workload",
        Flows.EndpointKind.Node => "node",
        Flows.EndpointKind.Service => "service",
        Flows.EndpointKind.External => "external",
        _ => "unknown",
    };
}
