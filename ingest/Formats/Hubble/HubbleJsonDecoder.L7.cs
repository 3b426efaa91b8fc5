using System.Text.Json;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats.Internal;

namespace FlowPolicy.Ingest.Formats.Hubble;

/// <summary>
/// Hubble's L7 part: the <c>l7</c> object (Layer7 of cilium/cilium api/v1/flow/flow.proto: <c>type</c>, one of
/// <c>dns</c>/<c>http</c>/<c>kafka</c>) and the <c>destination_names</c>/<c>source_names</c> a flow carries. Field
/// names and which fields requests and responses fill follow cilium/cilium pkg/hubble/parser/seven (parser.go,
/// http.go, dns.go, kafka.go at 3ee8bc47/5898ae21/e0cc421a/25972d8e): a request has method, url and protocol (HTTP),
/// query and qtypes (DNS), api_key and topic (Kafka); a response adds code, ips/ttl/rcode, error_code; a response's
/// source is the server (<c>is_reply</c> true).
/// </summary>
internal sealed partial class HubbleJsonDecoder
{
    // L7FlowType enum (flow.proto).
    private const int L7Request = 1, L7Response = 2, L7Sample = 3;

    /// <summary>What the l7 object and the name lists say; zero or null means absent.</summary>
    private struct L7Fields
    {
        public L7Protocol Protocol;
        public int Type;
        public string? Operation;
        public string? Resource;
        public string? Version;
        public bool HasStatus;
        public int Status;
        public PackedIp[]? Addresses;
        public uint Ttl;
        public string[]? DestinationNames;
        public string[]? SourceNames;
    }

    private static string? ReadLayer7(ref Utf8JsonReader reader, JsonDecodeState state, ref L7Fields l7)
    {
        if (reader.TokenType != JsonTokenType.StartObject) return Expected("l7", "an object", ref reader);
        Span<byte> scratch = state.ValueScratch;
        string? error;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool isType = reader.ValueTextEquals("type"u8);
            bool isHttp = !isType && reader.ValueTextEquals("http"u8);
            bool isDns = !isType && !isHttp && reader.ValueTextEquals("dns"u8);
            bool isKafka = !isType && !isHttp && !isDns && reader.ValueTextEquals("kafka"u8);
            reader.Read();
            if (reader.TokenType == JsonTokenType.Null) continue;
            if (isType)
            {
                if (reader.TokenType == JsonTokenType.String)
                {
                    var text = JsonTokens.Utf8(ref reader, scratch);
                    l7.Type = text.SequenceEqual("REQUEST"u8) ? L7Request : text.SequenceEqual("RESPONSE"u8) ? L7Response
                        : text.SequenceEqual("SAMPLE"u8) ? L7Sample : 0;
                }
                else if (!JsonTokens.TryGetInt32(ref reader, scratch, out l7.Type)) return Expected("l7.type", "an L7 flow type name or number", ref reader);
            }
            else if (isHttp) { if ((error = ReadHttp(ref reader, state, ref l7)) is not null) return error; }
            else if (isDns) { if ((error = ReadDns(ref reader, state, ref l7)) is not null) return error; }
            else if (isKafka) { if ((error = ReadKafka(ref reader, state, ref l7)) is not null) return error; }
            else reader.Skip(); // latency_ns
        }
        return null;
    }

    private static string? ReadHttp(ref Utf8JsonReader reader, JsonDecodeState state, ref L7Fields l7)
    {
        if (reader.TokenType != JsonTokenType.StartObject) return Expected("l7.http", "an object", ref reader);
        Span<byte> scratch = state.ValueScratch;
        l7.Protocol = L7Protocol.Http;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            int field = reader.ValueTextEquals("code"u8) ? 1 : reader.ValueTextEquals("method"u8) ? 2
                : reader.ValueTextEquals("url"u8) ? 3 : reader.ValueTextEquals("protocol"u8) ? 4 : 0;
            reader.Read();
            if (field == 0 || reader.TokenType == JsonTokenType.Null)
            {
                reader.Skip(); // headers
                continue;
            }
            if (field == 1)
            {
                if (!JsonTokens.TryGetUInt32(ref reader, scratch, out uint code) || code > 999) return Expected("l7.http.code", "an HTTP status code", ref reader);
                l7.Status = (int)code;
                l7.HasStatus = code != 0; // proto3 default: a request's code is 0
                continue;
            }
            if (reader.TokenType != JsonTokenType.String)
                return Expected(field == 2 ? "l7.http.method" : field == 3 ? "l7.http.url" : "l7.http.protocol", "a string", ref reader);
            var text = JsonTokens.Utf8(ref reader, scratch);
            if (text.IsEmpty) continue;
            if (field == 2) l7.Operation = state.String(text);
            else if (field == 3) l7.Resource = state.String(UrlPath(text));
            else l7.Version = state.String(text);
        }
        if (IsGrpc(l7)) l7.Protocol = L7Protocol.Grpc;
        return null;
    }

    /// <summary>
    /// The path of what Cilium writes as the URL (<c>http://host/path?query</c>, or only a path): scheme and authority,
    /// query and fragment removed. Policies match paths; the query carries values, never the operation.
    /// </summary>
    internal static ReadOnlySpan<byte> UrlPath(ReadOnlySpan<byte> url)
    {
        int scheme = url.IndexOf("://"u8);
        if (scheme >= 0)
        {
            var rest = url[(scheme + 3)..];
            int slash = rest.IndexOf((byte)'/');
            url = slash < 0 ? "/"u8 : rest[slash..];
        }
        int end = url.IndexOfAny((byte)'?', (byte)'#');
        if (end >= 0) url = url[..end];
        return url.IsEmpty ? "/"u8 : url;
    }

    /// <summary>
    /// gRPC is HTTP/2 POST to <c>/package.Service/Method</c> (the gRPC over HTTP/2 spec: ":path" is
    /// "/" Service-Name "/" method-name): exactly two segments of name characters, the method UpperCamelCase and the
    /// service qualified by its package or UpperCamelCase too.
    /// </summary>
    private static bool IsGrpc(in L7Fields l7)
    {
        if (l7.Version is not ("HTTP/2" or "HTTP/2.0") || l7.Operation is not "POST" || l7.Resource is not { Length: > 3 } path || path[0] != '/') return false;
        int slash = path.IndexOf('/', 1);
        if (slash <= 1 || slash == path.Length - 1 || path.IndexOf('/', slash + 1) >= 0) return false;
        foreach (char c in path.AsSpan(1))
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '/')) return false;
        // Protobuf style names the method UpperCamelCase; "/api/products" is a REST path, not a method.
        return char.IsAsciiLetterUpper(path[slash + 1]) && (path.AsSpan(1, slash - 1).Contains('.') || char.IsAsciiLetterUpper(path[1]));
    }

    private static string? ReadDns(ref Utf8JsonReader reader, JsonDecodeState state, ref L7Fields l7)
    {
        if (reader.TokenType != JsonTokenType.StartObject) return Expected("l7.dns", "an object", ref reader);
        Span<byte> scratch = state.ValueScratch;
        l7.Protocol = L7Protocol.Dns;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            int field = reader.ValueTextEquals("query"u8) ? 1 : reader.ValueTextEquals("ips"u8) ? 2
                : reader.ValueTextEquals("ttl"u8) ? 3 : reader.ValueTextEquals("rcode"u8) ? 4 : reader.ValueTextEquals("qtypes"u8) ? 5 : 0;
            reader.Read();
            if (field == 0 || reader.TokenType == JsonTokenType.Null)
            {
                reader.Skip(); // cnames, observation_source, rrtypes
                continue;
            }
            switch (field)
            {
                case 1:
                    if (reader.TokenType != JsonTokenType.String) return Expected("l7.dns.query", "a string", ref reader);
                    var query = JsonTokens.Utf8(ref reader, scratch);
                    if (!query.IsEmpty && query[^1] == '.') query = query[..^1]; // the answer's FQDN form
                    if (!query.IsEmpty) l7.Resource = state.String(query);
                    break;
                case 2:
                    if (reader.TokenType != JsonTokenType.StartArray) return Expected("l7.dns.ips", "an array of addresses", ref reader);
                    List<PackedIp>? ips = null;
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        if (reader.TokenType != JsonTokenType.String || !PackedIp.TryParse(JsonTokens.Utf8(ref reader, scratch), out var ip))
                            return "field 'l7.dns.ips[]': not an IPv4 or IPv6 address";
                        (ips ??= []).Add(ip);
                    }
                    l7.Addresses = ips?.ToArray();
                    break;
                case 3:
                    if (!JsonTokens.TryGetUInt32(ref reader, scratch, out l7.Ttl)) return Expected("l7.dns.ttl", "an unsigned integer", ref reader);
                    break;
                case 4:
                    if (!JsonTokens.TryGetUInt32(ref reader, scratch, out uint rcode) || rcode > 65535) return Expected("l7.dns.rcode", "a DNS response code", ref reader);
                    l7.Status = (int)rcode;
                    l7.HasStatus = true;
                    break;
                default:
                    if (reader.TokenType != JsonTokenType.StartArray) return Expected("l7.dns.qtypes", "an array of strings", ref reader);
                    l7.Operation = ReadJoinedStrings(ref reader, state, "l7.dns.qtypes[]", out var error);
                    if (error is not null) return error;
                    break;
            }
        }
        return null;
    }

    private static string? ReadKafka(ref Utf8JsonReader reader, JsonDecodeState state, ref L7Fields l7)
    {
        if (reader.TokenType != JsonTokenType.StartObject) return Expected("l7.kafka", "an object", ref reader);
        Span<byte> scratch = state.ValueScratch;
        l7.Protocol = L7Protocol.Kafka;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            int field = reader.ValueTextEquals("api_key"u8) || reader.ValueTextEquals("apiKey"u8) ? 1
                : reader.ValueTextEquals("topic"u8) ? 2
                : reader.ValueTextEquals("error_code"u8) || reader.ValueTextEquals("errorCode"u8) ? 3 : 0;
            reader.Read();
            if (field == 0 || reader.TokenType == JsonTokenType.Null)
            {
                reader.Skip(); // api_version, correlation_id
                continue;
            }
            if (field == 3)
            {
                if (!JsonTokens.TryGetInt32(ref reader, scratch, out l7.Status)) return Expected("l7.kafka.error_code", "an integer", ref reader);
                l7.HasStatus = true;
                continue;
            }
            if (reader.TokenType != JsonTokenType.String) return Expected(field == 1 ? "l7.kafka.api_key" : "l7.kafka.topic", "a string", ref reader);
            var text = JsonTokens.Utf8(ref reader, scratch);
            if (text.IsEmpty) continue;
            if (field == 1) l7.Operation = state.String(text);
            else l7.Resource = state.String(text);
        }
        return null;
    }

    /// <summary><c>destination_names</c> / <c>source_names</c>: one array per distinct list (cached by its raw bytes).</summary>
    private static string? ReadNames(ref Utf8JsonReader reader, ReadOnlySpan<byte> line, JsonDecodeState state, string field, out string[]? names)
    {
        names = null;
        if (reader.TokenType != JsonTokenType.StartArray) return Expected(field, "an array of names", ref reader);
        var raw = JsonTokens.RawValue(ref reader, line);
        if (state.Names.TryGet(raw, out int slot, out names)) return null;
        var error = ParseNames(raw, state, field, out names);
        if (error is null) state.Names.Set(slot, raw, names);
        return error;
    }

    /// <summary>A name list (an array of strings) to its names, without a trailing dot; null when it names nothing.</summary>
    private static string? ParseNames(ReadOnlySpan<byte> raw, JsonDecodeState state, string field, out string[]? names)
    {
        names = null;
        var inner = new Utf8JsonReader(raw, JsonTokens.LineOptions);
        inner.Read();
        List<string>? list = null;
        while (inner.Read() && inner.TokenType != JsonTokenType.EndArray)
        {
            if (inner.TokenType != JsonTokenType.String) return Expected(field + "[]", "a string", ref inner);
            var text = JsonTokens.Utf8(ref inner, state.ValueScratch);
            if (!text.IsEmpty && text[^1] == '.') text = text[..^1];
            if (!text.IsEmpty) (list ??= []).Add(state.String(text));
        }
        names = list?.ToArray();
        return null;
    }

    private static string? ReadJoinedStrings(ref Utf8JsonReader reader, JsonDecodeState state, string field, out string? error)
    {
        error = null;
        string? joined = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.String)
            {
                error = Expected(field, "a string", ref reader);
                return null;
            }
            var text = state.String(JsonTokens.Utf8(ref reader, state.ValueScratch));
            joined = joined is null ? text : joined + "," + text;
        }
        return joined;
    }

    /// <summary>
    /// The L7 observation of a line, if it has an L7 part or names. <paramref name="carriesFlow"/>: the line also became
    /// a flow record. A response's source is the server, as Hubble writes it; the aggregate orients it.
    /// </summary>
    private static void BuildL7(in FlowFields f, bool carriesFlow, ref L7Observation o)
    {
        ref readonly var l7 = ref f.L7;
        bool names = l7.DestinationNames is not null || l7.SourceNames is not null;
        if (l7.Protocol == L7Protocol.None && !names) return;
        // Names without an address to name say nothing we can join.
        if (l7.Protocol == L7Protocol.None && !f.HasIp) return;
        o.Protocol = l7.Protocol == L7Protocol.None ? L7Protocol.Names : l7.Protocol;
        o.Time = f.Time;
        o.CarriesFlow = carriesFlow;
        o.HasIp = f.HasIp;
        o.SrcIp = f.Source;
        o.DstIp = f.Destination;
        o.Transport = f.Protocol;
        o.SrcPort = f.SourcePort;
        o.DstPort = f.DestinationPort;
        o.SrcIdentity = f.SourceIdentity;
        o.DstIdentity = f.DestinationIdentity;
        o.Verdict = f.Verdict switch
        {
            VerdictForwarded or VerdictRedirected or VerdictTranslated or VerdictAudit => Verdict.Allowed,
            VerdictDropped => Verdict.Denied,
            _ => Verdict.Unknown,
        };
        o.Direction = l7.Type switch
        {
            L7Request => L7Direction.Request,
            L7Response => L7Direction.Response,
            _ => f.IsReply == 2 ? L7Direction.Response : f.IsReply == 1 ? L7Direction.Request : L7Direction.Unknown,
        };
        o.Operation = l7.Operation;
        o.Resource = l7.Resource;
        o.Version = l7.Version;
        o.Status = l7.HasStatus ? l7.Status : -1;
        o.Addresses = l7.Addresses;
        o.Ttl = l7.Ttl;
        if (f.HasIp && l7.DestinationNames is { } destinationNames)
        {
            o.Names = destinationNames;
            o.NamedAddress = f.Destination;
        }
        else if (f.HasIp && l7.SourceNames is { } sourceNames)
        {
            o.Names = sourceNames;
            o.NamedAddress = f.Source;
            o.NamedIsSource = true;
        }
        else if (o.Protocol == L7Protocol.Names) o.Protocol = L7Protocol.None;
    }
}
