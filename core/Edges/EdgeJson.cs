using System.Text.Json;

namespace FlowPolicy.Core.Edges;

/// <summary>
/// The JSON shape of an edge, shared by `edges --json`, graph.json and suggestion evidence, so every output
/// spells an edge the same way: {"src","dst","port","proto", counters...}.
/// </summary>
public static class EdgeJson
{
    // Pre-encoded names and endpoint keys: a million edges write the same few hundred thousand strings over and over,
    // and an encoded one is copied, not scanned for escapes and transcoded, each time. The bytes are the same.
    private static readonly JsonEncodedText Src = JsonEncodedText.Encode("src");
    private static readonly JsonEncodedText Dst = JsonEncodedText.Encode("dst");
    private static readonly JsonEncodedText Port = JsonEncodedText.Encode("port");
    private static readonly JsonEncodedText Proto = JsonEncodedText.Encode("proto");
    private static readonly JsonEncodedText SrcKind = JsonEncodedText.Encode("src_kind");
    private static readonly JsonEncodedText DstKind = JsonEncodedText.Encode("dst_kind");
    private static readonly JsonEncodedText FlowsName = JsonEncodedText.Encode("flows");
    private static readonly JsonEncodedText BytesName = JsonEncodedText.Encode("bytes");
    private static readonly JsonEncodedText PacketsName = JsonEncodedText.Encode("packets");
    private static readonly JsonEncodedText FirstSeenName = JsonEncodedText.Encode("first_seen");
    private static readonly JsonEncodedText LastSeenName = JsonEncodedText.Encode("last_seen");
    private static readonly JsonEncodedText DaysSeenName = JsonEncodedText.Encode("days_seen");
    private static readonly JsonEncodedText ClientReplicasName = JsonEncodedText.Encode("client_replicas");
    private static readonly JsonEncodedText AllowedName = JsonEncodedText.Encode("allowed");
    private static readonly JsonEncodedText DeniedName = JsonEncodedText.Encode("denied");
    private static readonly JsonEncodedText UnknownVerdictName = JsonEncodedText.Encode("unknown_verdict");

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
        writer.WriteString(Src, edge.Client.EncodedKey);
        writer.WriteString(Dst, edge.Server.EncodedKey);
        writer.WriteNumber(Port, edge.Port);
        writer.WriteString(Proto, edge.ProtocolName);
    }

    /// <summary>The evidence counters behind an edge.</summary>
    public static void WriteEvidence(Utf8JsonWriter writer, Edge edge)
    {
        writer.WriteString(SrcKind, KindName(edge.Client));
        writer.WriteString(DstKind, KindName(edge.Server));
        writer.WriteNumber(FlowsName, edge.Flows);
        writer.WriteNumber(BytesName, edge.Bytes);
        writer.WriteNumber(PacketsName, edge.Packets);
        WriteTime(writer, FirstSeenName, edge.FirstSeen);
        WriteTime(writer, LastSeenName, edge.LastSeen);
        writer.WriteNumber(DaysSeenName, edge.DaysSeen);
        writer.WriteNumber(ClientReplicasName, edge.ClientReplicas);
        writer.WriteNumber(AllowedName, edge.AllowedFlows);
        writer.WriteNumber(DeniedName, edge.DeniedFlows);
        writer.WriteNumber(UnknownVerdictName, edge.UnknownVerdictFlows);
    }

    private static void WriteTime(Utf8JsonWriter writer, JsonEncodedText name, DateTime time)
    {
        Span<char> text = stackalloc char[20];
        new TimeText(time, Seconds: true).TryFormat(text, out int length, default, null); // 20 chars always fit
        writer.WriteString(name, text[..length]);
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
