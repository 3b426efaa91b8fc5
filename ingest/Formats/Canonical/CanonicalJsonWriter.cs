using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Ingest.Formats.Canonical;

/// <summary>
/// Writes flow records as canonical flow JSON lines (docs/formats.md, "Canonical flow JSON"), the exact format
/// <see cref="CanonicalJsonDecoder"/> reads back. One instance per output; not thread-safe.
/// </summary>
internal sealed class CanonicalJsonWriter : IDisposable
{
    private static readonly JsonWriterOptions Options = new()
    {
        Indented = false,
        // Lines go to files and Kafka, never into HTML: keep '+', '<', non-ASCII label values readable.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private readonly IBufferWriter<byte> _output;
    private readonly Utf8JsonWriter _json;

    public CanonicalJsonWriter(IBufferWriter<byte> output)
    {
        _output = output;
        _json = new Utf8JsonWriter(output, Options);
    }

    /// <summary>Appends one record as a JSON object followed by '\n'.</summary>
    public void Write(in FlowRecord flow)
    {
        _json.Reset(_output); // one top-level value per line
        WriteObject(_json, flow);
        _json.Flush();
        _output.GetSpan(1)[0] = (byte)'\n';
        _output.Advance(1);
    }

    /// <summary>One record as a line of text, without the trailing newline (tests, samples, error messages).</summary>
    public static string ToLine(in FlowRecord flow)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer, Options))
            WriteObject(json, flow);
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public void Dispose() => _json.Dispose();

    private static void WriteObject(Utf8JsonWriter json, in FlowRecord flow)
    {
        Span<byte> text = stackalloc byte[40];
        json.WriteStartObject();
        json.WriteString("start"u8, FormatTime(flow.Start, text));
        json.WriteString("end"u8, FormatTime(flow.End, text));
        json.WriteString("src_ip"u8, flow.SrcIp.ToString());
        json.WriteNumber("src_port"u8, flow.SrcPort);
        json.WriteString("dst_ip"u8, flow.DstIp.ToString());
        json.WriteNumber("dst_port"u8, flow.DstPort);
        var protocolName = IpProtocols.Name(flow.Protocol);
        if (char.IsAsciiDigit(protocolName[0])) json.WriteNumber("proto"u8, flow.Protocol);
        else json.WriteString("proto"u8, protocolName);
        json.WriteNumber("bytes"u8, flow.Bytes);
        json.WriteNumber("packets"u8, flow.Packets);
        json.WriteString("verdict"u8, flow.Verdict switch
        {
            Verdict.Allowed => "allowed"u8,
            Verdict.Denied => "denied"u8,
            _ => "unknown"u8,
        });
        json.WriteString("direction"u8, flow.Direction switch
        {
            DirectionHint.Request => "request"u8,
            DirectionHint.Reply => "reply"u8,
            _ => "unknown"u8,
        });
        if (flow.HasTcpFlags) json.WriteNumber("tcp_flags"u8, flow.TcpFlags);
        if (!string.IsNullOrEmpty(flow.Reporter)) json.WriteString("reporter"u8, flow.Reporter);
        if (!string.IsNullOrEmpty(flow.PolicyName)) json.WriteString("policy"u8, flow.PolicyName);
        if (flow.SrcIdentity is not null) WriteIdentity(json, "src"u8, flow.SrcIdentity);
        if (flow.DstIdentity is not null) WriteIdentity(json, "dst"u8, flow.DstIdentity);
        json.WriteEndObject();
    }

    private static void WriteIdentity(Utf8JsonWriter json, ReadOnlySpan<byte> name, WorkloadIdentity identity)
    {
        json.WriteStartObject(name);
        json.WriteString("kind"u8, identity.Kind switch
        {
            EndpointKind.Pod => "pod"u8,
            EndpointKind.Node => "node"u8,
            EndpointKind.Service => "service"u8,
            EndpointKind.External => "external"u8,
            _ => "unknown"u8,
        });
        if (identity.Namespace is not null) json.WriteString("namespace"u8, identity.Namespace);
        if (identity.Workload is not null) json.WriteString("workload"u8, identity.Workload);
        if (identity.WorkloadKind is not null) json.WriteString("workload_kind"u8, identity.WorkloadKind);
        if (identity.Name is not null) json.WriteString("pod"u8, identity.Name);
        if (identity.Labels.Count > 0)
        {
            json.WriteStartObject("labels"u8);
            foreach (var label in identity.Labels) json.WriteString(label.Key, label.Value);
            json.WriteEndObject();
        }
        json.WriteEndObject();
    }

    /// <summary>RFC 3339 in UTC with up to 7 fraction digits (100 ns, what DateTime holds), trailing zeros dropped.</summary>
    private static ReadOnlySpan<byte> FormatTime(DateTime time, Span<byte> buffer)
    {
        // Records without a Kind are UTC by contract (FlowRecord.Start); local times are converted.
        var utc = time.Kind == DateTimeKind.Local ? time.ToUniversalTime() : DateTime.SpecifyKind(time, DateTimeKind.Utc);
        utc.TryFormat(buffer, out int written, "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);
        return buffer[..written];
    }
}
