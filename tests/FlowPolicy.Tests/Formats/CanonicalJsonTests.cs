using System.Buffers;
using System.Text;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Canonical;
using FlowPolicy.Ingest.Formats.Internal;

namespace FlowPolicy.Tests.Formats;

public sealed class CanonicalJsonTests
{
    private static readonly CanonicalJsonDecoder Decoder = new();

    // The example line of docs/formats.md, "Canonical flow JSON".
    internal const string DocumentedExample =
        """{"start":"2026-11-01T10:00:00.25Z","end":"2026-11-01T10:00:59Z","src_ip":"10.0.1.15","src_port":43512,"dst_ip":"10.0.2.20","dst_port":8080,"proto":"TCP","bytes":5120,"packets":12,"verdict":"allowed","direction":"request","tcp_flags":27,"reporter":"node-a","policy":"shop/allow-frontend","src":{"kind":"pod","namespace":"shop","workload":"frontend","workload_kind":"Deployment","pod":"frontend-7d4b9c-x2x9z","labels":{"app":"frontend","tier":"web"}},"dst":{"namespace":"shop","workload":"cart","workload_kind":"StatefulSet"}}""";

    private static FlowRecord DecodeOne(string line) => JsonLineSink.Decode(Decoder, line).Single();

    private static FlowDecodeError RejectOf(string line)
    {
        var sink = JsonLineSink.Decode(Decoder, line);
        Assert.Empty(sink.Accepted);
        return Assert.Single(sink.Rejected);
    }

    [Fact]
    public void Documented_example_decodes_every_field()
    {
        var flow = DecodeOne(DocumentedExample);

        Assert.Equal(new DateTime(2026, 11, 1, 10, 0, 0, 250, DateTimeKind.Utc), flow.Start);
        Assert.Equal(DateTimeKind.Utc, flow.Start.Kind);
        Assert.Equal(new DateTime(2026, 11, 1, 10, 0, 59, DateTimeKind.Utc), flow.End);
        Assert.Equal(PackedIp.Parse("10.0.1.15"), flow.SrcIp);
        Assert.Equal(PackedIp.Parse("10.0.2.20"), flow.DstIp);
        Assert.Equal(43512, flow.SrcPort);
        Assert.Equal(8080, flow.DstPort);
        Assert.Equal(IpProtocols.Tcp, flow.Protocol);
        Assert.Equal(5120UL, flow.Bytes);
        Assert.Equal(12UL, flow.Packets);
        Assert.Equal(Verdict.Allowed, flow.Verdict);
        Assert.Equal(DirectionHint.Request, flow.Direction);
        Assert.True(flow.HasTcpFlags);
        Assert.Equal(27, flow.TcpFlags);
        Assert.Equal("node-a", flow.Reporter);
        Assert.Equal("shop/allow-frontend", flow.PolicyName);

        var src = flow.SrcIdentity!;
        Assert.Equal(EndpointKind.Pod, src.Kind);
        Assert.Equal("shop", src.Namespace);
        Assert.Equal("frontend", src.Workload);
        Assert.Equal("Deployment", src.WorkloadKind);
        Assert.Equal("frontend-7d4b9c-x2x9z", src.Name);
        Assert.Equal("frontend", src.Label("app"));
        Assert.Equal("web", src.Label("tier"));

        var dst = flow.DstIdentity!;
        Assert.Equal(EndpointKind.Pod, dst.Kind); // kind defaults to pod
        Assert.Equal("shop/cart", dst.ToString());
        Assert.Null(dst.Name);
        Assert.Empty(dst.Labels);
    }

    [Fact]
    public void Optional_fields_take_their_documented_defaults()
    {
        var flow = DecodeOne("""{"start":"2026-11-01T10:00:00Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","proto":17}""");

        Assert.Equal(flow.Start, flow.End);
        Assert.Equal(0, flow.SrcPort);
        Assert.Equal(0, flow.DstPort);
        Assert.Equal(IpProtocols.Udp, flow.Protocol);
        Assert.Equal(0UL, flow.Bytes);
        Assert.Equal(0UL, flow.Packets);
        Assert.Equal(Verdict.Unknown, flow.Verdict);
        Assert.Equal(DirectionHint.Unknown, flow.Direction);
        Assert.False(flow.HasTcpFlags);
        Assert.Null(flow.Reporter);
        Assert.Null(flow.PolicyName);
        Assert.Null(flow.SrcIdentity);
        Assert.Null(flow.DstIdentity);
    }

    [Fact]
    public void Null_optional_fields_and_unknown_keys_are_ignored_in_any_order()
    {
        var flow = DecodeOne(
            """{"extra":{"nested":[1,2,{"x":null}]},"proto":"udp","dst_ip":"10.0.0.2","src":null,"policy":null,"src_ip":"10.0.0.1","start":1700000000,"future_field":"x"}""");

        Assert.Equal(DateTime.UnixEpoch.AddSeconds(1_700_000_000), flow.Start);
        Assert.Equal(IpProtocols.Udp, flow.Protocol);
        Assert.Null(flow.SrcIdentity);
        Assert.Null(flow.PolicyName);
    }

    [Theory]
    [InlineData("1700000000", 1_700_000_000L, 0L)]
    [InlineData("1700000000.5", 1_700_000_000L, 5_000_000L)]
    [InlineData("1700000000.1234567", 1_700_000_000L, 1_234_567L)]
    [InlineData("0", 0L, 0L)]
    public void Start_accepts_unix_seconds_with_fractions(string number, long seconds, long extraTicks)
    {
        var flow = DecodeOne($$"""{"start":{{number}},"src_ip":"10.0.0.1","dst_ip":"10.0.0.2","proto":6}""");
        Assert.Equal(DateTime.UnixEpoch.AddSeconds(seconds).AddTicks(extraTicks), flow.Start);
        Assert.Equal(DateTimeKind.Utc, flow.Start.Kind);
    }

    [Fact]
    public void Rfc3339_offsets_are_converted_to_utc()
    {
        var flow = DecodeOne("""{"start":"2026-11-01T12:00:00+02:00","end":"2026-11-01T10:00:01.123456789Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","proto":6}""");
        Assert.Equal(new DateTime(2026, 11, 1, 10, 0, 0, DateTimeKind.Utc), flow.Start);
        Assert.Equal(new DateTime(2026, 11, 1, 10, 0, 1, DateTimeKind.Utc).AddTicks(1_234_567), flow.End);
    }

    [Fact]
    public void Ipv6_addresses_decode()
    {
        var flow = DecodeOne("""{"start":"2026-11-01T10:00:00Z","src_ip":"fd00:10:244::15","dst_ip":"2001:db8::1","proto":"ICMPv6"}""");
        Assert.Equal(PackedIp.Parse("fd00:10:244::15"), flow.SrcIp);
        Assert.Equal(PackedIp.Parse("2001:db8::1"), flow.DstIp);
        Assert.False(flow.SrcIp.IsV4);
        Assert.Equal(IpProtocols.IcmpV6, flow.Protocol);
    }

    [Theory]
    [InlineData("\"TCP\"", 6)]
    [InlineData("\"tcp\"", 6)]
    [InlineData("\"Udp\"", 17)]
    [InlineData("\"ICMP\"", 1)]
    [InlineData("\"icmpv6\"", 58)]
    [InlineData("\"SCTP\"", 132)]
    [InlineData("\"GRE\"", 47)]
    [InlineData("\"50\"", 50)]
    [InlineData("0", 0)]
    [InlineData("255", 255)]
    public void Proto_accepts_numbers_and_names(string value, int expected)
    {
        var flow = DecodeOne($$"""{"start":"2026-11-01T10:00:00Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","proto":{{value}}}""");
        Assert.Equal(expected, flow.Protocol);
    }

    [Fact]
    public void Escaped_strings_are_unescaped()
    {
        var flow = DecodeOne("""{"start":"2026-11-01T10:00:00Z","src_ip":"10.0.0.\u0031","dst_ip":"10.0.0.2","proto":"T\u0043P","reporter":"node\/a","\u0070olicy":"p\u00e9"}""");
        Assert.Equal(PackedIp.Parse("10.0.0.1"), flow.SrcIp);
        Assert.Equal(IpProtocols.Tcp, flow.Protocol);
        Assert.Equal("node/a", flow.Reporter);
        Assert.Equal("pé", flow.PolicyName);
    }

    private const string Base = "\"start\":\"2026-11-01T10:00:00Z\",\"src_ip\":\"10.0.0.1\",\"dst_ip\":\"10.0.0.2\",\"proto\":6";

    [Theory]
    [InlineData("{\"start\":\"2026-11-01T10:00:00Z\",\"src_ip\":", "invalid JSON")]
    [InlineData("""{"start":"2026-11-01T10:00:00Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","proto":6} trailing""", "invalid JSON")]
    [InlineData("""{"start":"2026-11-01T10:00:00Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","proto":6}{}""", "invalid JSON")]
    [InlineData("""{"start":"2026-11-01T10:00:00Z",}""", "invalid JSON")]
    [InlineData("""[1,2,3]""", "expected a JSON object")]
    [InlineData("""42""", "expected a JSON object")]
    [InlineData("""not json at all""", "invalid JSON")]
    [InlineData("""{"src_ip":"10.0.0.1","dst_ip":"10.0.0.2","proto":6}""", "'start'")]
    [InlineData("""{"start":"2026-11-01T10:00:00Z","dst_ip":"10.0.0.2","proto":6}""", "'src_ip'")]
    [InlineData("""{"start":"2026-11-01T10:00:00Z","src_ip":"10.0.0.1","proto":6}""", "'dst_ip'")]
    [InlineData("""{"start":"2026-11-01T10:00:00Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2"}""", "'proto'")]
    [InlineData("""{"start":null,"src_ip":"10.0.0.1","dst_ip":"10.0.0.2","proto":6}""", "'start'")]
    [InlineData("""{"start":"yesterday","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","proto":6}""", "'start'")]
    [InlineData("""{"start":true,"src_ip":"10.0.0.1","dst_ip":"10.0.0.2","proto":6}""", "'start'")]
    [InlineData("""{"start":-1,"src_ip":"10.0.0.1","dst_ip":"10.0.0.2","proto":6}""", "'start'")]
    [InlineData("""{"start":1700000000000,"src_ip":"10.0.0.1","dst_ip":"10.0.0.2","proto":6}""", "'start'")]
    [InlineData("""{"start":"2026-11-01T10:00:00Z","end":"2026-11-01T09:59:59Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","proto":6}""", "'end'")]
    [InlineData("""{"start":"2026-11-01T10:00:00Z","end":[],"src_ip":"10.0.0.1","dst_ip":"10.0.0.2","proto":6}""", "'end'")]
    [InlineData("""{"start":"2026-11-01T10:00:00Z","src_ip":"300.0.0.1","dst_ip":"10.0.0.2","proto":6}""", "'src_ip'")]
    [InlineData("""{"start":"2026-11-01T10:00:00Z","src_ip":167772161,"dst_ip":"10.0.0.2","proto":6}""", "'src_ip'")]
    [InlineData("""{"start":"2026-11-01T10:00:00Z","src_ip":"10.0.0.1","dst_ip":"fe80::zz","proto":6}""", "'dst_ip'")]
    [InlineData("""{"start":"2026-11-01T10:00:00Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","proto":256}""", "'proto'")]
    [InlineData("""{"start":"2026-11-01T10:00:00Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","proto":-1}""", "'proto'")]
    [InlineData("""{"start":"2026-11-01T10:00:00Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","proto":"XTP2"}""", "'proto'")]
    [InlineData("""{"start":"2026-11-01T10:00:00Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","proto":{}}""", "'proto'")]
    public void Malformed_lines_are_rejected_naming_the_problem(string line, string expected)
    {
        var error = RejectOf(line);
        Assert.Contains(expected, error.Reason);
        Assert.StartsWith("canonical: ", error.Reason);
        Assert.Equal(new SourcePosition("test.jsonl", 1), error.Position);
        Assert.NotNull(error.Excerpt);
    }

    [Theory]
    [InlineData("\"src_port\":70000", "'src_port'")]
    [InlineData("\"src_port\":-1", "'src_port'")]
    [InlineData("\"src_port\":\"80\"", "'src_port'")]
    [InlineData("\"dst_port\":80.5", "'dst_port'")]
    [InlineData("\"dst_port\":1e3", "'dst_port'")]
    [InlineData("\"bytes\":-5", "'bytes'")]
    [InlineData("\"bytes\":\"5\"", "'bytes'")]
    [InlineData("\"packets\":1.5", "'packets'")]
    [InlineData("\"packets\":18446744073709551616", "'packets'")]
    [InlineData("\"verdict\":\"ALLOWED\"", "'verdict'")]
    [InlineData("\"verdict\":\"forwarded\"", "'verdict'")]
    [InlineData("\"verdict\":\"accept\"", "'verdict'")]
    [InlineData("\"verdict\":1", "'verdict'")]
    [InlineData("\"direction\":\"ingress\"", "'direction'")]
    [InlineData("\"tcp_flags\":512", "'tcp_flags'")]
    [InlineData("\"tcp_flags\":-1", "'tcp_flags'")]
    [InlineData("\"tcp_flags\":\"SYN\"", "'tcp_flags'")]
    [InlineData("\"reporter\":5", "'reporter'")]
    [InlineData("\"policy\":[\"a\"]", "'policy'")]
    [InlineData("\"src\":\"frontend\"", "'src'")]
    [InlineData("\"src\":{\"kind\":\"vm\"}", "'src.kind'")]
    [InlineData("\"dst\":{\"kind\":\"Pod\"}", "'dst.kind'")]
    [InlineData("\"dst\":{\"namespace\":7}", "'dst.namespace'")]
    [InlineData("\"dst\":{\"labels\":[\"app=x\"]}", "'dst.labels'")]
    [InlineData("\"dst\":{\"labels\":{\"app\":1}}", "'dst.labels.app'")]
    public void Wrong_types_and_out_of_range_values_are_rejected_naming_the_field(string field, string expected)
    {
        var error = RejectOf("{" + Base + "," + field + "}");
        Assert.Contains(expected, error.Reason);
    }

    [Fact]
    public void Good_lines_survive_bad_neighbours_and_rejects_carry_line_numbers()
    {
        string good = "{" + Base + "}";
        var text = string.Join("\n",
            good,                                         // 1
            "{\"start\":",                                // 2 truncated
            "",                                           // 3 blank: skipped silently
            good,                                         // 4
            "{" + Base + ",\"src_port\":\"x\"}",          // 5 bad port type
            "   ",                                        // 6 blank
            "{\"src_ip\":\"10.0.0.1\"}",                  // 7 missing fields
            good + "\r",                                  // 8 CRLF line
            "\u0001\u0002garbage");                       // 9

        var sink = JsonLineSink.Decode(Decoder, text, "flows.jsonl");

        Assert.Equal(3, sink.Accepted.Count);
        Assert.Equal(new long[] { 2, 5, 7, 9 }, sink.Rejected.Select(r => r.Position.Line));
        Assert.All(sink.Rejected, r => Assert.Equal("flows.jsonl", r.Position.Source));
        Assert.Empty(sink.Skipped);
    }

    [Fact]
    public void Line_numbers_continue_across_payloads_of_one_source()
    {
        var sink = new JsonLineSink();
        var cursor = new DecodeCursor("topic/0@42");
        Decoder.Decode(Encoding.UTF8.GetBytes("{" + Base + "}\n{" + Base + "}\n"), ref cursor, sink);
        Decoder.Decode(Encoding.UTF8.GetBytes("{" + Base + "}\nbad\n"), ref cursor, sink);

        Assert.Equal(3, sink.Accepted.Count);
        Assert.Equal(4, Assert.Single(sink.Rejected).Position.Line);
        Assert.Equal(5, cursor.Line);
    }

    [Fact]
    public void Identical_identities_within_a_source_share_one_instance()
    {
        string line = "{" + Base + ",\"src\":{\"namespace\":\"shop\",\"workload\":\"web\",\"labels\":{\"app\":\"web\"}},\"dst\":{\"namespace\":\"shop\",\"workload\":\"db\"}}";
        var sink = JsonLineSink.Decode(Decoder, line + "\n" + line + "\n" + line);

        Assert.Equal(3, sink.Accepted.Count);
        Assert.Same(sink.Accepted[0].SrcIdentity, sink.Accepted[1].SrcIdentity);
        Assert.Same(sink.Accepted[0].SrcIdentity, sink.Accepted[2].SrcIdentity);
        Assert.Same(sink.Accepted[0].DstIdentity, sink.Accepted[2].DstIdentity);
        Assert.NotSame(sink.Accepted[0].SrcIdentity, sink.Accepted[0].DstIdentity);
        Assert.Same(sink.Accepted[0].SrcIdentity!.Namespace, sink.Accepted[0].DstIdentity!.Namespace);
    }

    public static TheoryData<string> RoundTripCases() => new(RoundTripRecords().Select((_, i) => i.ToString()));

    internal static List<FlowRecord> RoundTripRecords()
    {
        var labels = new[] { new KeyValuePair<string, string>("app", "web"), new("team", "pay+ments <core> é") };
        var start = new DateTime(2026, 11, 1, 10, 0, 0, DateTimeKind.Utc);
        var records = new List<FlowRecord>
        {
            new()
            {
                Start = start.AddTicks(1_234_567), End = start.AddSeconds(59).AddTicks(1), SrcIp = PackedIp.Parse("10.0.1.15"),
                DstIp = PackedIp.Parse("10.0.2.20"), SrcPort = 43512, DstPort = 8080, Protocol = IpProtocols.Tcp,
                Verdict = Verdict.Allowed, Direction = DirectionHint.Request, HasTcpFlags = true, TcpFlags = 0x1FF,
                Bytes = ulong.MaxValue, Packets = 12, Reporter = "node-a", PolicyName = "shop/allow \"quoted\"",
                SrcIdentity = new WorkloadIdentity(EndpointKind.Pod, "shop", "web", "Deployment", "web-5f9c-abcde", labels),
                DstIdentity = new WorkloadIdentity(EndpointKind.Service, "shop", "cart"),
            },
            new()
            {
                Start = start, End = start, SrcIp = PackedIp.Parse("2001:db8::1"), DstIp = PackedIp.Parse("fd00::2"),
                Protocol = IpProtocols.IcmpV6, Verdict = Verdict.Denied, Direction = DirectionHint.Reply,
                HasTcpFlags = true, TcpFlags = 0,
                SrcIdentity = new WorkloadIdentity(EndpointKind.External, null, null),
                DstIdentity = new WorkloadIdentity(EndpointKind.Node, null, "node-a", "Node"),
            },
            new()
            {
                Start = DateTime.UnixEpoch, End = DateTime.UnixEpoch, SrcIp = PackedIp.Parse("0.0.0.0"), DstIp = PackedIp.Parse("255.255.255.255"),
                Protocol = 200, SrcPort = 65535, Verdict = Verdict.Unknown, Direction = DirectionHint.Unknown,
                SrcIdentity = new WorkloadIdentity(EndpointKind.Unknown, "ns", null, null, "bare-pod"),
            },
            new()
            {
                Start = start, End = start.AddMilliseconds(1), SrcIp = PackedIp.Parse("192.168.0.1"), DstIp = PackedIp.Parse("::1"),
                Protocol = 47, Bytes = 1, Packets = 1,
            },
        };
        foreach (var protocol in new byte[] { 0, 1, 2, 17, 50, 51, 132, 255 })
            records.Add(new FlowRecord { Start = start, End = start, SrcIp = PackedIp.Parse("10.0.0.1"), DstIp = PackedIp.Parse("10.0.0.2"), Protocol = protocol });
        return records;
    }

    [Theory]
    [MemberData(nameof(RoundTripCases))]
    public void Writer_output_decodes_to_the_same_record(string index)
    {
        var original = RoundTripRecords()[int.Parse(index)];
        string line = CanonicalJsonWriter.ToLine(original);
        Assert.DoesNotContain('\n', line);

        var decoded = DecodeOne(line);

        Assert.Equal(original.Start, decoded.Start);
        Assert.Equal(original.End, decoded.End);
        Assert.Equal(original.SrcIp, decoded.SrcIp);
        Assert.Equal(original.DstIp, decoded.DstIp);
        Assert.Equal(original.SrcPort, decoded.SrcPort);
        Assert.Equal(original.DstPort, decoded.DstPort);
        Assert.Equal(original.Protocol, decoded.Protocol);
        Assert.Equal(original.Verdict, decoded.Verdict);
        Assert.Equal(original.Direction, decoded.Direction);
        Assert.Equal(original.HasTcpFlags, decoded.HasTcpFlags);
        Assert.Equal(original.TcpFlags, decoded.TcpFlags);
        Assert.Equal(original.Bytes, decoded.Bytes);
        Assert.Equal(original.Packets, decoded.Packets);
        Assert.Equal(original.Reporter, decoded.Reporter);
        Assert.Equal(original.PolicyName, decoded.PolicyName);
        Assert.Equal(original.SrcIdentity, decoded.SrcIdentity);
        Assert.Equal(original.DstIdentity, decoded.DstIdentity);
    }

    [Fact]
    public void Writer_appends_one_newline_terminated_line_per_record()
    {
        var records = RoundTripRecords();
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new CanonicalJsonWriter(buffer))
            foreach (var record in records) writer.Write(record);

        string text = Encoding.UTF8.GetString(buffer.WrittenSpan);
        Assert.EndsWith("\n", text);
        Assert.Equal(records.Count, text.Count(c => c == '\n'));
        var sink = JsonLineSink.Decode(Decoder, text);
        Assert.Empty(sink.Rejected);
        Assert.Equal(records.Select(r => r.DstIp), sink.Accepted.Select(r => r.DstIp));
    }

    [Fact]
    public void Writer_uses_readable_rfc3339_times_and_protocol_names()
    {
        var start = new DateTime(2026, 11, 1, 10, 0, 0, DateTimeKind.Utc);
        string line = CanonicalJsonWriter.ToLine(new FlowRecord
        {
            Start = start, End = start.AddTicks(2_500_000), SrcIp = PackedIp.Parse("10.0.0.1"), DstIp = PackedIp.Parse("10.0.0.2"),
            Protocol = IpProtocols.Udp, Verdict = Verdict.Denied,
        });
        Assert.Contains("\"start\":\"2026-11-01T10:00:00Z\"", line);
        Assert.Contains("\"end\":\"2026-11-01T10:00:00.25Z\"", line);
        Assert.Contains("\"proto\":\"UDP\"", line);
        Assert.Contains("\"verdict\":\"denied\"", line);
        Assert.DoesNotContain("tcp_flags", line);
        Assert.DoesNotContain("\"src\"", line);
    }

    [Fact]
    public void Random_and_mutated_input_never_throws()
    {
        var random = new Random(20261101);
        var seeds = RoundTripRecords().Select(r => Encoding.UTF8.GetBytes(CanonicalJsonWriter.ToLine(r))).ToList();
        seeds.Add(Encoding.UTF8.GetBytes(DocumentedExample));
        var state = new JsonDecodeState();
        int accepted = 0, rejected = 0;

        for (int i = 0; i < 4000; i++)
        {
            byte[] input = JsonFuzz.Mutate(random, seeds[random.Next(seeds.Count)], i);
            var outcome = CanonicalJsonDecoder.Read(input, state, out _, out var reason);
            if (outcome == LineOutcome.Accepted) accepted++;
            else
            {
                rejected++;
                Assert.False(string.IsNullOrWhiteSpace(reason));
            }
        }
        Assert.True(rejected > 1000, $"only {rejected} rejects: the fuzzer is not producing bad input");
        Assert.True(accepted > 50, $"only {accepted} accepts: the fuzzer destroys every input");

        // And through the public entry point, every non-blank line gets exactly one outcome.
        var text = new StringBuilder();
        int lines = 0;
        for (int i = 0; i < 500; i++)
        {
            var line = Encoding.UTF8.GetString(JsonFuzz.Mutate(random, seeds[random.Next(seeds.Count)], i)).Replace('\n', ' ').Replace('\r', ' ');
            if (string.IsNullOrWhiteSpace(line.Replace('\t', ' '))) continue;
            text.Append(line).Append('\n');
            lines++;
        }
        var sink = JsonLineSink.Decode(Decoder, text.ToString());
        Assert.Equal(lines, sink.Outcomes);
        Assert.DoesNotContain(sink.Rejected, r => r.Reason.Contains("Exception", StringComparison.Ordinal));
    }
}

/// <summary>Random and mutated inputs for the decoder robustness tests.</summary>
internal static class JsonFuzz
{
    private static readonly byte[] Tokens = "{}[]\":,\\ 0-1.eE+nulltruefalse\u00ff\t\r"u8.ToArray();

    public static byte[] Mutate(Random random, byte[] seed, int round)
    {
        switch (round % 6)
        {
            case 0: // pure random bytes
            {
                var bytes = new byte[random.Next(0, 200)];
                random.NextBytes(bytes);
                return bytes;
            }
            case 1: // truncated
                return seed[..random.Next(0, seed.Length)];
            case 2: // a few bytes flipped to random values
            {
                var bytes = (byte[])seed.Clone();
                for (int n = random.Next(1, 4); n > 0; n--) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                return bytes;
            }
            case 3: // JSON-ish tokens spliced in
            {
                var bytes = new List<byte>(seed);
                for (int n = random.Next(1, 4); n > 0; n--) bytes.Insert(random.Next(bytes.Count + 1), Tokens[random.Next(Tokens.Length)]);
                return bytes.ToArray();
            }
            case 4: // a slice removed
            {
                int from = random.Next(seed.Length), length = random.Next(1, Math.Min(20, seed.Length - from) + 1);
                return [.. seed[..from], .. seed[(from + length)..]];
            }
            default: // digits changed: out-of-range numbers, addresses, dates
            {
                var bytes = (byte[])seed.Clone();
                for (int n = random.Next(1, 6); n > 0; n--)
                {
                    int at = random.Next(bytes.Length);
                    if (bytes[at] is >= (byte)'0' and <= (byte)'9') bytes[at] = (byte)('0' + random.Next(10));
                    else if (random.Next(4) == 0) bytes[at] = (byte)'9';
                }
                return bytes;
            }
        }
    }
}
