using System.Globalization;
using System.Text;
using FlowPolicy.Core.Flows;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Hubble;
using FlowPolicy.Ingest.Formats.Internal;

namespace FlowPolicy.Tests.Formats;

/// <summary>
/// The Hubble decoder's byte scanner must be invisible: every line decodes to the same record, L7 observation, skip or
/// error as through Utf8JsonReader alone (<see cref="HubbleJsonDecoder.UseScanner"/> off), and the lines Cilium writes
/// take the scanner.
/// </summary>
public sealed class HubbleJsonScannerTests
{
    private static readonly HubbleJsonDecoder Scanning = new();
    private static readonly HubbleJsonDecoder ReaderOnly = new() { UseScanner = false };

    private const string Frontend =
        """{"ID":1234,"identity":51234,"namespace":"shop","labels":["k8s:app=frontend","k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=shop","k8s:io.cilium.k8s.policy.cluster=default","k8s:io.cilium.k8s.policy.serviceaccount=frontend","k8s:io.kubernetes.pod.namespace=shop","k8s:tier=web"],"pod_name":"frontend-7d4b9c-x2x9z","workloads":[{"name":"frontend","kind":"Deployment"}]}""";
    private const string Cart =
        """{"ID":2211,"identity":40021,"namespace":"shop","labels":["k8s:app=cart","k8s:io.kubernetes.pod.namespace=shop"],"pod_name":"cart-0","workloads":[{"name":"cart","kind":"StatefulSet"}]}""";
    private const string BarePod = """{"identity":40100,"namespace":"jobs","labels":["k8s:app=report"],"pod_name":"report-28913040-k2x8v"}""";
    private const string World = """{"identity":2,"labels":["reserved:world"]}""";
    private const string Host = """{"identity":1,"labels":["reserved:host"]}""";
    private const string NonAscii = """{"identity":40200,"namespace":"données","labels":["k8s:app=café","k8s:note=a\"b"],"pod_name":"café-0","workloads":[{"name":"café","kind":"StatefulSet"}]}""";

    private const string TcpFlow =
        """{"time":"2026-11-01T10:11:12.123456789Z","uuid":"6d3c1f3e-2b7e-4d8e-9a43-1f0c2b6c1a11","verdict":"FORWARDED","ethernet":{"source":"ae:6b:35:42:1a:0c","destination":"5e:0d:f1:77:aa:01"},"IP":{"source":"10.244.1.15","destination":"10.244.2.20","ipVersion":"IPv4"},"l4":{"TCP":{"source_port":43512,"destination_port":8080,"flags":{"SYN":true}}},"source":""" + Frontend + ""","destination":""" + Cart + ""","Type":"L3_L4","node_name":"kind-worker","event_type":{"type":5},"traffic_direction":"EGRESS","policy_match_type":3,"is_reply":false,"egress_allowed_by":[{"name":"frontend-to-cart","namespace":"shop","labels":["k8s:io.cilium.k8s.policy.derived-from=CiliumNetworkPolicy"],"revision":"17"}],"Summary":"TCP Flags: SYN"}""";

    private static string Wrapped(string flow) => "{\"flow\":" + flow + ",\"node_name\":\"kind-worker\",\"time\":\"2026-11-01T10:11:12.123456789Z\"}";

    private static string With(string text, string replace, string by)
    {
        Assert.Contains(replace, text); // an edit that misses would test nothing
        return text.Replace(replace, by);
    }

    private static string Render(in FlowRecord f) => string.Join(" | ",
        f.Start.Ticks.ToString(CultureInfo.InvariantCulture), f.Start.Kind, f.End.Ticks.ToString(CultureInfo.InvariantCulture),
        f.SrcIp, f.SrcPort, f.DstIp, f.DstPort, f.Protocol, f.Bytes, f.Packets, f.Verdict, f.Direction, f.HasTcpFlags, f.TcpFlags,
        f.Reporter ?? "<null>", f.PolicyName ?? "<null>", RenderIdentity(f.SrcIdentity), RenderIdentity(f.DstIdentity));

    private static string RenderL7(in L7Observation o) => o.Protocol == L7Protocol.None ? "<no l7>" : string.Join(" | ",
        o.Protocol, o.Direction, o.Verdict, o.HasIp, o.CarriesFlow, o.Transport, o.SrcIp, o.SrcPort, o.DstIp, o.DstPort,
        o.Time.Ticks.ToString(CultureInfo.InvariantCulture), o.Operation ?? "<null>", o.Resource ?? "<null>", o.Version ?? "<null>", o.Status,
        string.Join(",", o.Addresses ?? []), o.Ttl, string.Join(",", o.Names ?? []), o.NamedAddress, o.NamedIsSource,
        RenderIdentity(o.SrcIdentity), RenderIdentity(o.DstIdentity));

    private static string RenderIdentity(WorkloadIdentity? id) => id is null
        ? "<none>"
        : $"{id.Kind}/{id.Namespace ?? "<null>"}/{id.Workload ?? "<null>"}/{id.WorkloadKind ?? "<null>"}/{id.Name ?? "<null>"}/" +
          $"{id.WorkloadSource}/{id.ServiceAccount ?? "<null>"}/" + string.Join(",", id.Labels.Select(l => l.Key + "=" + l.Value)) + "/" +
          string.Join(",", id.NamespaceLabels.Select(l => l.Key + "=" + l.Value));

    private static string Outcome(LineOutcome outcome, in FlowRecord flow, in L7Observation l7, string? reason) =>
        outcome + " " + (outcome == LineOutcome.Accepted ? Render(flow) : reason) + " " + RenderL7(l7);

    /// <summary>Decodes <paramref name="line"/> both ways, each with a fresh state; true when the scanner took it.</summary>
    private static bool Both(string line)
    {
        var bytes = Encoding.UTF8.GetBytes(line);
        var expected = HubbleJsonDecoder.Read(bytes, new JsonDecodeState(), scan: false, out var readerFlow, out var readerL7, out var readerReason);
        var actual = HubbleJsonDecoder.Read(bytes, new JsonDecodeState(), scan: true, out var flow, out var l7, out var reason);
        Assert.Equal(Outcome(expected, readerFlow, readerL7, readerReason), Outcome(actual, flow, l7, reason));
        return HubbleJsonDecoder.Scans(bytes, new JsonDecodeState());
    }

    public static TheoryData<string> ScannedLines() =>
    [
        TcpFlow,
        Wrapped(TcpFlow),
        With(TcpFlow, "\"TCP\":{\"source_port\":43512,\"destination_port\":8080,\"flags\":{\"SYN\":true}}", "\"UDP\":{\"source_port\":5353,\"destination_port\":53}"),
        With(TcpFlow, "{\"SYN\":true}", "{\"SYN\":true,\"ACK\":true,\"FIN\":false,\"RST\":null,\"PSH\":true,\"URG\":true,\"ECE\":true,\"CWR\":true,\"NS\":true,\"XYZ\":true}"),
        With(TcpFlow, "\"verdict\":\"FORWARDED\"", "\"verdict\":\"DROPPED\",\"drop_reason\":133,\"drop_reason_desc\":\"POLICY_DENIED\""),
        With(With(TcpFlow, "\"verdict\":\"FORWARDED\"", "\"verdict\":\"AUDIT\""), "\"egress_allowed_by\"", "\"egress_denied_by\""),
        With(TcpFlow, "\"verdict\":\"FORWARDED\"", "\"verdict\":\"SOMETHING_NEW\""),
        With(TcpFlow, "\"egress_allowed_by\"", "\"ingress_allowed_by\""),
        With(TcpFlow, "\"traffic_direction\":\"EGRESS\"", "\"traffic_direction\":\"INGRESS\",\"ingress_denied_by\":[{\"name\":\"ccnp\"}]"),
        With(TcpFlow, "\"is_reply\":false", "\"is_reply\":true"),
        With(TcpFlow, "\"is_reply\":false,", ""),
        With(TcpFlow, "\"destination\":" + Cart, "\"destination\":" + World + ",\"destination_names\":[\"api.stripe.com.\",\"\"]"),
        With(TcpFlow, "\"source\":" + Frontend, "\"source\":" + Host + ",\"source_names\":[]"),
        With(TcpFlow, "\"source\":" + Frontend, "\"source\":{}"),
        With(TcpFlow, "\"source\":" + Frontend, "\"source\":" + BarePod),
        With(TcpFlow, "10.244.1.15", "fd00:10:244:1::15"),
        With(TcpFlow, "2026-11-01T10:11:12.123456789Z", "2026-11-01T12:11:12+02:00"),
        With(TcpFlow, "\"Type\":\"L3_L4\"", "\"Type\":\"SOCK\",\"trace_context\":{\"parent\":{\"trace_id\":\"4bf92f3577b34da6\"}},\"interface\":{\"index\":7,\"name\":\"lxc1\"},\"n\":-1.5e+3,\"z\":[0,[],{}],\"e\":\"\""),
        With(TcpFlow, "\"node_name\":\"kind-worker\"", "\"node_name\":\"\""),
        With(TcpFlow, "\"flags\"", "\"type\":8,\"code\":{},\"flags\""), // ICMP's fields in a TCP layer: skipped
        With(TcpFlow, "\"Type\":\"L3_L4\"", "\"Type\":\"L7\",\"l7\":{\"type\":\"REQUEST\",\"http\":{\"method\":\"GET\",\"url\":\"http://cart/items?id=7\",\"protocol\":\"HTTP/1.1\",\"headers\":[{\"key\":\"X-Request-Id\",\"value\":\"7a0e\"}]}}"),
        With(TcpFlow, "\"Type\":\"L3_L4\"", "\"Type\":\"L7\",\"l7\":{\"type\":\"RESPONSE\",\"latency_ns\":\"1200000\",\"dns\":{\"query\":\"cart.shop.svc.cluster.local.\",\"ips\":[\"10.96.0.12\"],\"ttl\":30,\"cnames\":[],\"rcode\":0,\"qtypes\":[\"A\"],\"rrtypes\":[\"A\"]}}"),
        With(TcpFlow, "\"Type\":\"L3_L4\"", "\"Type\":\"L7\",\"l7\":{\"type\":\"REQUEST\",\"kafka\":{\"api_version\":7,\"api_key\":\"produce\",\"correlation_id\":12,\"topic\":\"orders\"}}"),
        """{"time":"2026-11-01T10:11:12Z","verdict":"FORWARDED","source":""" + Frontend + ""","destination":""" + Cart + ""","Type":"L7","l7":{"type":"REQUEST","http":{"method":"GET","url":"http://cart/health"}}}""", // no IP: an L7 observation only
        " \t{ \"time\" : \"2026-11-01T10:00:00Z\" , \"IP\" : { \"source\" : \"10.0.0.1\" , \"destination\" : \"10.0.0.2\" } , \"l4\" : { \"UDP\" : { } } } \t",
        """{"time":"2026-11-01T10:00:00Z","verdict":"FORWARDED","IP":{"source":"10.0.0.1","destination":"10.0.0.2"}}""", // no l4: skipped
        """{"time":"2026-11-01T10:00:00Z","verdict":"FORWARDED","l4":{"TCP":{}}}""", // no IP: skipped
        """{"flow":{"time":"2026-11-01T10:00:00Z"},"node_name":"n"}""",
        "{}", // not a flow: rejected by both
        """{"uuid":"x","Summary":"y"}""", // unknown fields only: rejected by both
    ];

    [Theory]
    [MemberData(nameof(ScannedLines))]
    public void Cilium_lines_are_scanned_to_the_same_result(string line)
    {
        Assert.True(Both(line), "the scanner declined: " + line);
    }

    public static TheoryData<string> ReaderLines()
    {
        var data = new TheoryData<string>();
        // Every name the reader knows in its other spelling, with a value that changes the result if it were skipped.
        foreach (var (snake, camel) in new[]
                 {
                     ("\"node_name\":\"kind-worker\"", "\"nodeName\":\"kind-worker\""),
                     ("\"is_reply\":false", "\"isReply\":true"),
                     ("\"is_reply\":false", "\"reply\":true"),
                     ("\"traffic_direction\":\"EGRESS\"", "\"trafficDirection\":\"INGRESS\""),
                     ("\"egress_allowed_by\"", "\"egressAllowedBy\""),
                     ("\"egress_allowed_by\"", "\"ingressAllowedBy\""),
                     ("\"egress_allowed_by\"", "\"egressDeniedBy\""),
                     ("\"egress_allowed_by\"", "\"ingressDeniedBy\""),
                     ("\"policy_match_type\":3", "\"dropReasonDesc\":{}"),
                     ("\"policy_match_type\":3", "\"destinationNames\":[\"a.example.\"]"),
                     ("\"policy_match_type\":3", "\"sourceNames\":[\"a.example.\"]"),
                     ("\"source_port\":43512", "\"sourcePort\":43512"),
                     ("\"destination_port\":8080", "\"destinationPort\":8080"),
                 })
        {
            data.Add(With(TcpFlow, snake, camel));
        }
        foreach (var other in new[] { "node_status", "nodeStatus", "lost_events", "lostEvents", "agent_event", "agentEvent", "debug_event", "debugEvent" })
            data.Add("{\"" + other + "\":{\"x\":1},\"node_name\":\"n\",\"time\":\"2026-11-01T10:00:00Z\"}");
        // The l7 object, enums and integers the protobuf JSON mapping allows in other forms, null, repeats.
        data.Add(With(TcpFlow, "\"Type\":\"L3_L4\"", "\"Type\":\"L7\",\"l7\":{\"type\":\"REQUEST\",\"http\":{\"method\":\"GET\",\"url\":\"http://cart/caf\u00e9\"}}"));
        data.Add(With(TcpFlow, "\"Type\":\"L3_L4\"", "\"Type\":\"L7\",\"l7\":{\"http\":{\"code\":\"abc\"}}"));
        data.Add(With(TcpFlow, "\"Type\":\"L3_L4\"", "\"Type\":\"L7\",\"l7\":{\"dns\":{\"ips\":[\"not-an-ip\"]}}"));
        data.Add(With(TcpFlow, "\"Type\":\"L3_L4\"", "\"l7\":{},\"l7\":{\"type\":\"REQUEST\"}"));
        data.Add(With(TcpFlow, "\"verdict\":\"FORWARDED\"", "\"verdict\":2"));
        data.Add(With(TcpFlow, "\"Type\":\"L3_L4\"", "\"Type\":1"));
        data.Add(With(TcpFlow, "\"traffic_direction\":\"EGRESS\"", "\"traffic_direction\":1"));
        data.Add(With(TcpFlow, "\"destination_port\":8080", "\"destination_port\":\"8080\""));
        data.Add(With(TcpFlow, "\"policy_match_type\":3", "\"drop_reason_desc\":133"));
        data.Add(With(TcpFlow, "\"node_name\":\"kind-worker\"", "\"node_name\":null"));
        data.Add(With(TcpFlow, "\"is_reply\":false", "\"is_reply\":false,\"is_reply\":true"));
        data.Add(With(TcpFlow, "\"verdict\":\"FORWARDED\"", "\"verdict\":\"DROPPED\",\"verdict\":\"FORWARDED\""));
        data.Add(With(TcpFlow, "\"destination_port\":8080", "\"destination_port\":null"));
        data.Add(With(TcpFlow, "{\"SYN\":true}", "null"));
        data.Add(With(TcpFlow, "{\"SYN\":true}", "{\"SYN\":1}"));
        data.Add("{\"flow\":null,\"time\":\"2026-11-01T10:00:00Z\",\"IP\":{\"source\":\"10.0.0.1\",\"destination\":\"10.0.0.2\"},\"l4\":{\"UDP\":{}}}");
        // Layers the scanner leaves alone, two layers in the oneof, addresses missing or repeated.
        data.Add(With(TcpFlow, "\"TCP\":{\"source_port\":43512,\"destination_port\":8080,\"flags\":{\"SYN\":true}}", "\"ICMPv4\":{\"type\":8,\"code\":0}"));
        data.Add(With(TcpFlow, "\"TCP\":{\"source_port\":43512,\"destination_port\":8080,\"flags\":{\"SYN\":true}}", "\"ICMPv6\":{\"type\":128}"));
        data.Add(With(TcpFlow, "\"TCP\":{\"source_port\":43512,\"destination_port\":8080,\"flags\":{\"SYN\":true}}", "\"SCTP\":{\"source_port\":1,\"destination_port\":2}"));
        data.Add(With(TcpFlow, "\"flags\":{\"SYN\":true}}", "\"flags\":{\"SYN\":true}},\"UDP\":{\"source_port\":1}"));
        data.Add(With(TcpFlow, "\"ipVersion\":\"IPv4\"", "\"source\":\"10.9.9.9\""));
        data.Add(With(TcpFlow, ",\"destination\":\"10.244.2.20\"", ""));
        // Escapes, non-ASCII, invalid JSON, trailing bytes, too deep.
        data.Add(With(TcpFlow, "\"node_name\":\"kind-worker\"", "\"node_name\":\"kind\\u002dworker\""));
        data.Add(With(TcpFlow, "\"Summary\":\"TCP Flags: SYN\"", "\"Summary\":\"TCP Flags: SYN \\\"quoted\\\"\""));
        data.Add(With(TcpFlow, "\"Summary\":\"TCP Flags: SYN\"", "\"Summary\":\"Drapeaux TCP : SYN é\""));
        data.Add(With(TcpFlow, "\"policy_match_type\":3", "\"policy_match_type\":03"));
        data.Add(With(TcpFlow, "\"policy_match_type\":3", "\"policy_match_type\":3.,"));
        data.Add(With(TcpFlow, "\"event_type\":{\"type\":5}", "\"event_type\":{\"type\" 5}"));
        data.Add(With(TcpFlow, "\"source\":" + Frontend, "\"source\":{\"labels\":[\"a\" \"b\"]}"));
        data.Add(With(TcpFlow, "\"egress_allowed_by\":[", "\"egress_allowed_by\":[1,"));
        data.Add(TcpFlow + " x");
        data.Add(TcpFlow + "}");
        data.Add(With(TcpFlow, "\"policy_match_type\":3", "\"deep\":" + new string('[', 40) + new string(']', 40)));
        data.Add(With(TcpFlow, "\"policy_match_type\":3", "\"deep\":" + new string('[', 20) + new string(']', 20)));
        data.Add(With(TcpFlow, "2026-11-01T10:11:12.123456789Z", "2026-13-01T10:11:12Z"));
        data.Add(With(TcpFlow, "10.244.1.15", "10.244.1.256"));
        return data;
    }

    [Theory]
    [MemberData(nameof(ReaderLines))]
    public void Lines_the_scanner_leaves_to_the_reader_decode_as_before(string line)
    {
        Assert.False(Both(line), "the scanner took a line it should leave to the reader: " + line);
    }

    [Fact]
    public void Endpoints_with_escapes_or_non_ascii_take_the_scanner_once_the_reader_has_parsed_them()
    {
        var line = Encoding.UTF8.GetBytes(With(TcpFlow, "\"destination\":" + Cart, "\"destination\":" + NonAscii));
        var state = new JsonDecodeState();
        Assert.False(HubbleJsonDecoder.Scans(line, state));
        var outcome = HubbleJsonDecoder.Read(line, state, out var flow, out _);
        Assert.Equal(LineOutcome.Accepted, outcome);
        Assert.Equal("données/café", flow.DstIdentity!.ToString());
        Assert.Contains(flow.DstIdentity.Labels, l => l.Key == "note" && l.Value == "a\"b");
        Assert.True(HubbleJsonDecoder.Scans(line, state));
        Both(Encoding.UTF8.GetString(line)); // and the same result either way
    }

    [Fact]
    public void Mutated_lines_decode_the_same_with_and_without_the_scanner()
    {
        var random = new Random(17);
        var seeds = GeneratedLines(random, 80).Select(Encoding.UTF8.GetBytes).ToList();
        seeds.Add(Encoding.UTF8.GetBytes(TcpFlow));
        seeds.Add(Encoding.UTF8.GetBytes(Wrapped(TcpFlow)));
        var scanState = new JsonDecodeState();
        var readerState = new JsonDecodeState();
        int scanned = 0, rejected = 0, accepted = 0;

        for (int i = 0; i < 20_000; i++)
        {
            // Unchanged seeds too, so the scanner's accepting path is compared as often as its declining one.
            byte[] input = i % 7 == 6 ? seeds[random.Next(seeds.Count)] : JsonFuzz.Mutate(random, seeds[random.Next(seeds.Count)], i);
            var expected = HubbleJsonDecoder.Read(input, readerState, scan: false, out var readerFlow, out var readerL7, out var readerReason);
            if (HubbleJsonDecoder.Scans(input, scanState)) scanned++;
            var actual = HubbleJsonDecoder.Read(input, scanState, scan: true, out var flow, out var l7, out var reason);

            Assert.Equal(Outcome(expected, readerFlow, readerL7, readerReason), Outcome(actual, flow, l7, reason));
            if (expected == LineOutcome.Rejected) rejected++;
            else if (expected == LineOutcome.Accepted) accepted++;
        }
        Assert.True(scanned > 4000, $"only {scanned} lines took the scanner path");
        Assert.True(rejected > 5000, $"only {rejected} rejects: the mutations are too gentle");
        Assert.True(accepted > 4000, $"only {accepted} accepted lines: the mutations are too rough");
    }

    [Fact]
    public void Generated_lines_decode_the_same_with_and_without_the_scanner_and_mostly_take_it()
    {
        var lines = GeneratedLines(new Random(5), 5000);
        var payload = Encoding.UTF8.GetBytes(string.Join("\n", lines) + "\n");

        var expected = RecordingSink.Decode(ReaderOnly, payload);
        var actual = RecordingSink.Decode(Scanning, payload);

        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++) Assert.Equal(expected[i], actual[i]);
        Assert.True(actual.Count(o => o.StartsWith("ok ", StringComparison.Ordinal)) > lines.Count / 2);
        Assert.Contains(actual, o => o.StartsWith("l7 ", StringComparison.Ordinal));
        Assert.Contains(actual, o => o.StartsWith("skip ", StringComparison.Ordinal));

        var state = new JsonDecodeState();
        int scanned = 0;
        foreach (var line in lines)
        {
            var bytes = Encoding.UTF8.GetBytes(line);
            if (HubbleJsonDecoder.Scans(bytes, state)) scanned++;
            HubbleJsonDecoder.Read(bytes, state, out _, out _);
        }
        Assert.True(scanned > lines.Count * 7 / 10, $"only {scanned} of {lines.Count} lines took the scanner path");
    }

    /// <summary>
    /// Lines like `hubble observe -o jsonpb` and the exporter write: pods, bare pods, the world and the host, TCP with
    /// flags, UDP, some ICMP, every verdict, policy lists, DNS names, L7 records, optional fields, wrapped or bare.
    /// </summary>
    private static List<string> GeneratedLines(Random random, int count)
    {
        string[] endpoints = [Frontend, Cart, BarePod, World, Host, NonAscii, "{}"];
        string[] verdicts = ["FORWARDED", "FORWARDED", "FORWARDED", "DROPPED", "AUDIT", "TRACED", "REDIRECTED", "ERROR"];
        string[] flags = ["SYN", "ACK", "FIN", "RST", "PSH"];
        var lines = new List<string>(count);
        for (int n = 0; n < count; n++)
        {
            var text = new StringBuilder("{");
            var time = new DateTime(2026, 11, 1, 10, 0, 0, DateTimeKind.Utc).AddTicks(random.NextInt64(TimeSpan.TicksPerDay * 3));
            text.Append("\"time\":\"").Append(time.ToString(random.Next(4) == 0 ? "yyyy-MM-ddTHH:mm:ssZ" : "yyyy-MM-ddTHH:mm:ss.fffffff00Z", CultureInfo.InvariantCulture)).Append('"');
            if (random.Next(3) > 0) text.Append(",\"uuid\":\"").Append(Guid.NewGuid()).Append('"');
            text.Append(",\"verdict\":\"").Append(verdicts[random.Next(verdicts.Length)]).Append('"');
            if (random.Next(2) == 0) text.Append(",\"ethernet\":{\"source\":\"ae:6b:35:42:1a:0c\",\"destination\":\"5e:0d:f1:77:aa:01\"}");
            if (random.Next(20) > 0)
            {
                bool v6 = random.Next(8) == 0;
                string src = v6 ? $"fd00::{random.Next(1, 500):x}" : $"10.244.{random.Next(4)}.{random.Next(1, 255)}";
                string dst = v6 ? $"fd00::{random.Next(1, 500):x}" : $"10.{random.Next(2) * 200 + 44}.{random.Next(4)}.{random.Next(1, 255)}";
                text.Append(",\"IP\":{\"source\":\"").Append(src).Append("\",\"destination\":\"").Append(dst).Append("\",\"ipVersion\":\"").Append(v6 ? "IPv6" : "IPv4").Append("\"}");
            }
            int layer = random.Next(10);
            if (layer < 6)
            {
                text.Append(",\"l4\":{\"TCP\":{\"source_port\":").Append(random.Next(1024, 65536)).Append(",\"destination_port\":").Append(random.Next(1, 9000));
                if (random.Next(4) > 0)
                {
                    text.Append(",\"flags\":{");
                    int k = random.Next(1, 3);
                    for (int f = 0; f < k; f++) text.Append(f > 0 ? "," : "").Append('"').Append(flags[random.Next(flags.Length)]).Append("\":true");
                    text.Append('}');
                }
                text.Append("}}");
            }
            else if (layer < 9) text.Append(",\"l4\":{\"UDP\":{\"source_port\":").Append(random.Next(1024, 65536)).Append(",\"destination_port\":53}}");
            else if (random.Next(2) == 0) text.Append(",\"l4\":{\"ICMPv4\":{\"type\":8}}");
            text.Append(",\"source\":").Append(endpoints[random.Next(endpoints.Length)]);
            text.Append(",\"destination\":").Append(endpoints[random.Next(endpoints.Length)]);
            bool l7 = random.Next(10) == 0;
            text.Append(",\"Type\":\"").Append(l7 ? "L7" : "L3_L4").Append('"');
            if (random.Next(2) == 0) text.Append(",\"node_name\":\"node-").Append(random.Next(5)).Append('"');
            text.Append(",\"event_type\":{\"type\":").Append(l7 ? 129 : 4).Append('}');
            text.Append(",\"traffic_direction\":\"").Append(random.Next(2) == 0 ? "INGRESS" : "EGRESS").Append('"');
            if (random.Next(4) > 0) text.Append(",\"is_reply\":").Append(random.Next(3) == 0 ? "true" : "false");
            if (random.Next(3) == 0)
                text.Append(",\"").Append(random.Next(2) == 0 ? "egress" : "ingress").Append(random.Next(3) == 0 ? "_denied_by" : "_allowed_by")
                    .Append("\":[{\"name\":\"p").Append(random.Next(3)).Append("\",\"namespace\":\"shop\",\"revision\":\"4\"}]");
            if (random.Next(6) == 0) text.Append(",\"destination_names\":[\"api.example.com.\"]");
            if (l7) text.Append(",\"l7\":{\"type\":\"REQUEST\",\"dns\":{\"query\":\"cart.shop.svc.cluster.local.\",\"qtypes\":[\"A\"]}}");
            text.Append(",\"Summary\":\"TCP Flags: ACK\"}");
            lines.Add(random.Next(2) == 0 ? Wrapped(text.ToString()) : text.ToString());
        }
        return lines;
    }

    /// <summary>Everything a decoder reports, in input order, as text.</summary>
    private sealed class RecordingSink : IFlowSink
    {
        public readonly List<string> Outcomes = [];

        public void Accept(in FlowRecord flow) => Outcomes.Add("ok " + Render(flow));
        public void Reject(FlowDecodeError error) => Outcomes.Add($"error {error.Position} {error.Reason} [{error.Excerpt}]");
        public void Skip(string reason, SourcePosition position) => Outcomes.Add($"skip {position} {reason}");
        public void AcceptL7(in L7Observation observation, SourcePosition position) => Outcomes.Add($"l7 {position} {RenderL7(observation)}");

        public static List<string> Decode(FlowDecoder decoder, byte[] payload)
        {
            var sink = new RecordingSink();
            var cursor = new DecodeCursor("flows.json");
            decoder.Decode(payload, ref cursor, sink);
            return sink.Outcomes;
        }
    }
}
