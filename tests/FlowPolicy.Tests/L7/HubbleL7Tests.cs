using System.Text;
using FlowPolicy.Ingest.Embedded;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Hubble;

namespace FlowPolicy.Tests.L7;

/// <summary>
/// Hubble L7 records in the shapes Cilium writes them. Derived from cilium/cilium pkg/hubble/parser/seven: parser.go
/// (commit 3ee8bc471ba59354ccf215b0145a47d7668187a9: Type L7, is_reply for responses, IP and l4 from the proxy's
/// access log record, destination_names from the DNS cache), http.go (5898ae21f8d1c96fbbbef25bee8c220c80a2f6a4:
/// requests carry method/url/protocol, responses add code), dns.go (e0cc421a538bca20fe30f4e1fc8f04951a536993: query,
/// qtypes; responses add ips, ttl, rcode, cnames, rrtypes) and kafka.go (25972d8e8c67dd3a4d74c2dbea54461fa7f20707:
/// api_key as a name, topic, error_code), with the proto field names of api/v1/flow/flow.proto.
/// </summary>
public sealed class HubbleL7Tests
{
    private static readonly HubbleJsonDecoder Decoder = new();

    private const string Frontend = """{"ID":1201,"identity":51234,"namespace":"shop","labels":["k8s:app=frontend","k8s:io.kubernetes.pod.namespace=shop"],"pod_name":"frontend-7d4b9c-x2x9z","workloads":[{"name":"frontend","kind":"Deployment"}]}""";
    private const string Catalog = """{"ID":1302,"identity":51301,"namespace":"shop","labels":["k8s:app=catalog","k8s:io.kubernetes.pod.namespace=shop"],"pod_name":"catalog-5c9f8-abcde","workloads":[{"name":"catalog","kind":"Deployment"}]}""";
    private const string KubeDns = """{"ID":88,"identity":102,"namespace":"kube-system","labels":["k8s:k8s-app=kube-dns","k8s:io.kubernetes.pod.namespace=kube-system"],"pod_name":"coredns-5d78c9869d-8vtxk","workloads":[{"name":"coredns","kind":"Deployment"}]}""";
    private const string World = """{"identity":2,"labels":["reserved:world"]}""";

    internal static string HttpRequest(string time, string method, string url, string protocol = "HTTP/1.1", string srcIp = "10.244.1.15", string dstIp = "10.244.2.30", int port = 8080) =>
        $$$"""{"flow":{"time":"{{{time}}}","verdict":"FORWARDED","IP":{"source":"{{{srcIp}}}","destination":"{{{dstIp}}}","ipVersion":"IPv4"},"l4":{"TCP":{"source_port":51000,"destination_port":{{{port}}}}},"source":{{{Frontend}}},"destination":{{{Catalog}}},"Type":"L7","node_name":"kind-worker","l7":{"type":"REQUEST","http":{"method":"{{{method}}}","url":"{{{url}}}","protocol":"{{{protocol}}}","headers":[{"key":"X-Request-Id","value":"7a0e"}]}},"event_type":{"type":129},"traffic_direction":"INGRESS","is_reply":false,"Summary":"{{{protocol}}} {{{method}}} {{{url}}}"}}""";

    internal static string HttpResponse(string time, string method, string url, int code, string protocol = "HTTP/1.1") =>
        $$$"""{"flow":{"time":"{{{time}}}","verdict":"FORWARDED","IP":{"source":"10.244.2.30","destination":"10.244.1.15","ipVersion":"IPv4"},"l4":{"TCP":{"source_port":8080,"destination_port":51000}},"source":{{{Catalog}}},"destination":{{{Frontend}}},"Type":"L7","node_name":"kind-worker","l7":{"type":"RESPONSE","latency_ns":"1200000","http":{"code":{{{code}}},"method":"{{{method}}}","url":"{{{url}}}","protocol":"{{{protocol}}}"}},"event_type":{"type":129},"traffic_direction":"INGRESS","is_reply":true}}""";

    internal static string DnsResponse(string time, string query, string ips, int ttl = 30) =>
        $$$"""{"flow":{"time":"{{{time}}}","verdict":"FORWARDED","IP":{"source":"10.244.0.10","destination":"10.244.1.15","ipVersion":"IPv4"},"l4":{"UDP":{"source_port":53,"destination_port":40001}},"source":{{{KubeDns}}},"destination":{{{Frontend}}},"Type":"L7","node_name":"kind-worker","l7":{"type":"RESPONSE","dns":{"query":"{{{query}}}.","ips":[{{{ips}}}],"ttl":{{{ttl}}},"cnames":[],"observation_source":"proxy","rcode":0,"qtypes":["A"],"rrtypes":["A"]}},"event_type":{"type":129},"traffic_direction":"EGRESS","is_reply":true,"Summary":"DNS Answer TTL: {{{ttl}}} (Proxy {{{query}}}. A)"}}""";

    private static (List<FlowRecord> Flows, List<L7Observation> L7, List<string> Skipped, List<FlowDecodeError> Rejected) Decode(params string[] lines)
    {
        var sink = new L7Sink();
        var cursor = new DecodeCursor("l7.jsonl");
        Decoder.Decode(Encoding.UTF8.GetBytes(string.Join("\n", lines)), ref cursor, sink);
        return (sink.Flows, sink.L7, sink.Skipped, sink.Rejected);
    }

    [Fact]
    public void Http_request_and_response_are_flows_and_L7_observations()
    {
        var (flows, l7, skipped, rejected) = Decode(
            HttpRequest("2026-11-01T10:00:00Z", "GET", "http://catalog.shop:8080/products/8812?ref=home"),
            HttpResponse("2026-11-01T10:00:00.002Z", "GET", "http://catalog.shop:8080/products/8812?ref=home", 200));

        Assert.Empty(rejected);
        Assert.Empty(skipped);
        Assert.Equal(2, flows.Count); // the proxy's records still count as flow events, as before
        Assert.Equal(2, l7.Count);
        var request = l7[0];
        Assert.Equal(L7Protocol.Http, request.Protocol);
        Assert.Equal(L7Direction.Request, request.Direction);
        Assert.True(request.CarriesFlow);
        Assert.Equal("GET", request.Operation);
        Assert.Equal("/products/8812", request.Resource); // scheme, authority and query removed
        Assert.Equal("HTTP/1.1", request.Version);
        Assert.Equal(-1, request.Status);
        Assert.Equal(8080, request.DstPort);
        Assert.Equal("catalog", request.DstIdentity!.Workload);
        var response = l7[1];
        Assert.Equal(L7Direction.Response, response.Direction);
        Assert.Equal(200, response.Status);
        Assert.Equal("catalog", response.SrcIdentity!.Workload); // a response goes server -> client
    }

    [Fact]
    public void Grpc_is_http2_post_to_a_service_method_path()
    {
        var (_, l7, _, _) = Decode(
            HttpRequest("2026-11-01T10:00:00Z", "POST", "http://catalog:3550/hipstershop.ProductCatalogService/GetProduct", "HTTP/2"),
            HttpRequest("2026-11-01T10:00:01Z", "POST", "http://catalog:3550/api/products", "HTTP/2"),
            HttpRequest("2026-11-01T10:00:02Z", "GET", "http://catalog:3550/hipstershop.ProductCatalogService/GetProduct", "HTTP/2"));
        Assert.Equal([L7Protocol.Grpc, L7Protocol.Http, L7Protocol.Http], l7.Select(o => o.Protocol));
        Assert.Equal("/hipstershop.ProductCatalogService/GetProduct", l7[0].Resource);
    }

    [Fact]
    public void Dns_response_carries_query_addresses_ttl_and_rcode()
    {
        var (flows, l7, _, _) = Decode(DnsResponse("2026-11-01T10:00:00Z", "api.stripe.com", "\"54.187.174.169\",\"54.187.205.235\"", ttl: 60));
        Assert.Single(flows);
        var dns = Assert.Single(l7);
        Assert.Equal(L7Protocol.Dns, dns.Protocol);
        Assert.Equal(L7Direction.Response, dns.Direction);
        Assert.Equal("api.stripe.com", dns.Resource); // without the root dot
        Assert.Equal("A", dns.Operation);
        Assert.Equal(0, dns.Status);
        Assert.Equal(60u, dns.Ttl);
        Assert.Equal([PackedIp.Parse("54.187.174.169"), PackedIp.Parse("54.187.205.235")], dns.Addresses!);
    }

    [Fact]
    public void Kafka_request_carries_api_key_and_topic()
    {
        string kafka = """{"time":"2026-11-01T10:00:00Z","verdict":"FORWARDED","IP":{"source":"10.244.1.15","destination":"10.244.3.9"},"l4":{"TCP":{"source_port":40000,"destination_port":9092}},"source":""" + Frontend + ""","destination":{"identity":51400,"namespace":"data","pod_name":"kafka-0","labels":["k8s:app=kafka"]},"Type":"L7","l7":{"type":"REQUEST","kafka":{"api_version":7,"api_key":"produce","correlation_id":12,"topic":"orders"}},"is_reply":false}""";
        var (_, l7, _, _) = Decode(kafka);
        var o = Assert.Single(l7);
        Assert.Equal(L7Protocol.Kafka, o.Protocol);
        Assert.Equal("produce", o.Operation);
        Assert.Equal("orders", o.Resource);
    }

    [Fact]
    public void Destination_names_on_an_L3_L4_flow_become_a_names_observation()
    {
        string flow = """{"time":"2026-11-01T10:00:05Z","verdict":"FORWARDED","IP":{"source":"10.244.1.15","destination":"54.187.174.169"},"l4":{"TCP":{"source_port":41000,"destination_port":443,"flags":{"SYN":true}}},"source":""" + Frontend + ""","destination":""" + World + ""","Type":"L3_L4","destination_names":["api.stripe.com"],"is_reply":false}""";
        var (flows, l7, _, _) = Decode(flow);
        Assert.Single(flows);
        var o = Assert.Single(l7);
        Assert.Equal(L7Protocol.Names, o.Protocol);
        Assert.True(o.CarriesFlow);
        Assert.Equal(["api.stripe.com"], o.Names!);
        Assert.Equal(PackedIp.Parse("54.187.174.169"), o.NamedAddress);
    }

    [Fact]
    public void Records_without_L7_or_names_produce_no_observation()
    {
        string flow = """{"time":"2026-11-01T10:00:05Z","verdict":"FORWARDED","IP":{"source":"10.244.1.15","destination":"10.244.2.30"},"l4":{"TCP":{"source_port":41000,"destination_port":8080}},"Type":"L3_L4"}""";
        var (flows, l7, _, _) = Decode(flow);
        Assert.Single(flows);
        Assert.Empty(l7);
    }

    [Fact]
    public void L7_record_without_ip_is_an_observation_only_and_a_skip_for_sinks_that_keep_no_L7()
    {
        string noIp = """{"time":"2026-11-01T10:11:12Z","verdict":"FORWARDED","source":""" + Frontend + ""","destination":""" + Catalog + ""","Type":"L7","l7":{"type":"REQUEST","http":{"method":"GET","url":"http://catalog/health"}}}""";
        var (flows, l7, skipped, _) = Decode(noIp);
        Assert.Empty(flows);
        Assert.Empty(skipped);
        var o = Assert.Single(l7);
        Assert.False(o.HasIp);
        Assert.False(o.CarriesFlow);
        Assert.Equal("frontend", o.SrcIdentity!.Workload);

        var plain = Formats.JsonLineSink.Decode(Decoder, noIp); // implements no AcceptL7: counted as skipped
        Assert.Equal([L7Observations.NotKeptReason], plain.Skipped.Select(s => s.Reason));
    }

    [Theory]
    [InlineData("""{"time":"2026-11-01T10:00:00Z","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{}},"l7":"x"}""", "'l7'")]
    [InlineData("""{"time":"2026-11-01T10:00:00Z","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{}},"l7":{"http":{"code":"abc"}}}""", "'l7.http.code'")]
    [InlineData("""{"time":"2026-11-01T10:00:00Z","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"UDP":{}},"l7":{"dns":{"ips":["not-an-ip"]}}}""", "'l7.dns.ips[]'")]
    [InlineData("""{"time":"2026-11-01T10:00:00Z","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{}},"destination_names":[1]}""", "'destination_names[]'")]
    public void Malformed_L7_fields_are_rejected_with_the_field_named(string line, string field)
    {
        var (_, _, _, rejected) = Decode(line);
        Assert.Contains(field, Assert.Single(rejected).Reason);
    }

    [Fact]
    public void Embedded_mode_puts_operations_and_names_on_edges()
    {
        var lines = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            var t = $"2026-11-0{1 + i}T10:00:00Z";
            lines.Add(HttpRequest(t, "GET", $"http://catalog:8080/products/{8812 + i}"));
            lines.Add(HttpResponse(t, "GET", $"http://catalog:8080/products/{8812 + i}", i == 2 ? 503 : 200));
        }
        lines.Add(HttpRequest("2026-11-01T11:00:00Z", "POST", "http://catalog:8080/cart"));
        // frontend resolves api.stripe.com, then connects within the answer's validity; a later connection is unnamed.
        lines.Add(DnsResponse("2026-11-01T12:00:00Z", "api.stripe.com", "\"54.187.174.169\""));
        lines.Add(Tcp("2026-11-01T12:00:01Z", "54.187.174.169", 443));
        lines.Add(Tcp("2026-11-03T12:00:01Z", "54.187.174.170", 443));
        var file = Path.Combine(Path.GetTempPath(), $"l7-{Guid.NewGuid():N}.jsonl");
        File.WriteAllLines(file, lines);
        try
        {
            var load = new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = [file] }).Load();
            Assert.Equal(0, load.L7Unattributed);
            var catalog = load.Edges.Single(e => e.Server.Key == "shop/catalog");
            var ops = catalog.L7!.Operations;
            Assert.Equal(["POST /cart", "GET /products/{id}"], ops.Select(o => o.ToString()));
            var get = ops[1];
            Assert.Equal(3, get.Requests);
            Assert.Equal(3, get.DistinctPaths);
            Assert.Equal(3, get.Days.Count);
            Assert.Equal(2, get.StatusClasses[(int)StatusClass.Success]);
            Assert.Equal(1, get.StatusClasses[(int)StatusClass.ServerError]);
            Assert.Equal(1, get.Errors);

            var stripe = load.Edges.Single(e => e.Server.Key == "54.187.174.169");
            Assert.Equal(["api.stripe.com"], stripe.L7!.Names.Select(n => n.Name));
            Assert.Null(load.Edges.Single(e => e.Server.Key == "54.187.174.170").L7);

            var dns = load.Edges.Single(e => e.Server.Key == "kube-system/coredns" && e.Port == 53);
            Assert.Equal("A api.stripe.com", Assert.Single(dns.L7!.Operations).ToString());
        }
        finally
        {
            File.Delete(file);
        }
    }

    internal static string Tcp(string time, string dst, int port) =>
        "{\"flow\":{\"time\":\"" + time + "\",\"verdict\":\"FORWARDED\",\"IP\":{\"source\":\"10.244.1.15\",\"destination\":\"" + dst +
        "\"},\"l4\":{\"TCP\":{\"source_port\":41000,\"destination_port\":" + port + ",\"flags\":{\"SYN\":true}}},\"source\":" + Frontend +
        ",\"destination\":" + World + ",\"Type\":\"L3_L4\",\"is_reply\":false}}";

    private sealed class L7Sink : IFlowSink
    {
        public List<FlowRecord> Flows { get; } = [];
        public List<L7Observation> L7 { get; } = [];
        public List<string> Skipped { get; } = [];
        public List<FlowDecodeError> Rejected { get; } = [];
        public void Accept(in FlowRecord flow) => Flows.Add(flow);
        public void Reject(FlowDecodeError error) => Rejected.Add(error);
        public void Skip(string reason, SourcePosition position) => Skipped.Add(reason);
        public void AcceptL7(in L7Observation observation, SourcePosition position) => L7.Add(observation);
    }
}

public sealed class PathTemplateTests
{
    [Theory]
    [InlineData("/users/8812/orders", "/users/{id}/orders")]
    [InlineData("/orders/3f2504e0-4f89-11d3-9a0c-0305e82c3301", "/orders/{uuid}")]
    [InlineData("/blobs/9e107d9d372bb6826bd81d3542a419d6/meta", "/blobs/{hash}/meta")]
    [InlineData("/api/v2/products", "/api/v2/products")]             // versions stay
    [InlineData("/2026-11-01/report", "/2026-11-01/report")]         // dates stay (not an id segment)
    [InlineData("/deadbeefcafebabe", "/deadbeefcafebabe")]           // hex letters without a digit: a word, stays
    [InlineData("/items/abc123", "/items/abc123")]                   // short mixed slugs stay
    [InlineData("/", "/")]
    [InlineData("/hipstershop.CartService/AddItem", "/hipstershop.CartService/AddItem")]
    public void Only_whole_identifier_segments_become_placeholders(string path, string template) =>
        Assert.Equal(template, PathTemplate.Of(path));

    [Fact]
    public void Regex_is_anchored_escaped_and_allows_a_query()
    {
        var regex = PathTemplate.ToRegex("/v1.2/users/{id}/orders");
        Assert.Equal(@"^/v1\.2/users/[0-9]+/orders(\?.*)?$", regex);
        var re = new System.Text.RegularExpressions.Regex(regex);
        Assert.Matches(re, "/v1.2/users/12/orders");
        Assert.Matches(re, "/v1.2/users/12/orders?page=2");
        Assert.DoesNotMatch(re, "/v1x2/users/12/orders");
        Assert.DoesNotMatch(re, "/v1.2/users/12/orders/9");
        Assert.DoesNotMatch(re, "/v1.2/users/abc/orders");
    }
}
