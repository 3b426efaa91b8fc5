using System.Globalization;
using System.Text;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Canonical;
using FlowPolicy.Ingest.Formats.Internal;

namespace FlowPolicy.Tests.Formats;

/// <summary>
/// The canonical decoder's byte scanner must be invisible: every line decodes to the same record, or the same
/// error at the same line, as through Utf8JsonReader alone (<see cref="CanonicalJsonDecoder.UseScanner"/> off).
/// </summary>
public sealed class CanonicalJsonScannerTests
{
    private static readonly CanonicalJsonDecoder Scanning = new();
    private static readonly CanonicalJsonDecoder ReaderOnly = new() { UseScanner = false };

    private const string Base = "\"start\":\"2026-11-01T10:00:00Z\",\"src_ip\":\"10.0.0.1\",\"dst_ip\":\"10.0.0.2\",\"proto\":6";
    private const string Identity = "{\"kind\":\"pod\",\"namespace\":\"shop\",\"workload\":\"web\",\"labels\":{\"app\":\"web\"}}";

    /// <summary>Everything a record carries, identities by value, so two decodings compare as text with a readable diff.</summary>
    private static string Render(in FlowRecord f) => string.Join(" | ",
        f.Start.Ticks.ToString(CultureInfo.InvariantCulture), f.Start.Kind, f.End.Ticks.ToString(CultureInfo.InvariantCulture), f.End.Kind,
        f.SrcIp, f.SrcPort, f.DstIp, f.DstPort, f.Protocol, f.Bytes, f.Packets, f.Verdict, f.Direction, f.HasTcpFlags, f.TcpFlags,
        f.Reporter ?? "<null>", f.PolicyName ?? "<null>", RenderIdentity(f.SrcIdentity), RenderIdentity(f.DstIdentity));

    private static string RenderIdentity(WorkloadIdentity? id) => id is null
        ? "<none>"
        : $"{id.Kind}/{id.Namespace ?? "<null>"}/{id.Workload ?? "<null>"}/{id.WorkloadKind ?? "<null>"}/{id.Name ?? "<null>"}/" +
          string.Join(",", id.Labels.Select(l => l.Key + "=" + l.Value));

    private static List<string> Outcomes(FlowDecoder decoder, byte[] payload)
    {
        var sink = new JsonLineSink();
        var cursor = new DecodeCursor("flows.jsonl");
        decoder.Decode(payload, ref cursor, sink);
        // One list in input order would need the sink to interleave; accepted and rejected are each in order.
        return [.. sink.Accepted.Select(f => "ok " + Render(f)), .. sink.Rejected.Select(r => $"error {r.Position} {r.Reason} [{r.Excerpt}]"),
            .. sink.Skipped.Select(s => $"skip {s.Position} {s.Reason}")];
    }

    /// <summary>Decodes <paramref name="line"/> both ways; true when the scanner took it.</summary>
    private static (bool Scanned, string Result) Both(string line)
    {
        var bytes = Encoding.UTF8.GetBytes(line);
        var state = new JsonDecodeState();

        var readerOutcome = CanonicalJsonDecoder.Read(bytes, new JsonDecodeState(), out var readerFlow, out var readerReason, useScanner: false);
        string expected = readerOutcome == LineOutcome.Accepted ? "ok " + Render(readerFlow) : "error " + readerReason;

        var scanned = default(FlowRecord);
        bool took = CanonicalJsonDecoder.TryScan(bytes, state, ref scanned);
        var outcome = CanonicalJsonDecoder.Read(bytes, state, out var flow, out var reason);
        string actual = outcome == LineOutcome.Accepted ? "ok " + Render(flow) : "error " + reason;

        Assert.Equal(expected, actual);
        if (took) Assert.Equal(expected, "ok " + Render(scanned));
        return (took, actual);
    }

    [Theory]
    // The writer's layout, optional keys absent or null, any order, any whitespace: the scanner takes these.
    [InlineData("{" + Base + "}")]
    [InlineData("""{"start":"2026-11-01T10:00:00.25Z","end":"2026-11-01T10:00:59Z","src_ip":"10.0.1.15","src_port":43512,"dst_ip":"10.0.2.20","dst_port":8080,"proto":"TCP","bytes":5120,"packets":12,"verdict":"allowed","direction":"request","tcp_flags":27,"reporter":"node-a","policy":"shop/allow-frontend"}""")]
    [InlineData("""{"proto":"udp","dst_ip":"10.0.0.2","src_ip":"10.0.0.1","start":1700000000,"end":1700000001,"src_port":0,"tcp_flags":0}""")]
    [InlineData(" \t{ \"start\" : \"2026-11-01T10:00:00Z\" ,\t\"src_ip\":\"10.0.0.1\" , \"dst_ip\" :\"10.0.0.2\",\"proto\": 6 }\t \r")]
    [InlineData("{" + Base + ",\"end\":null,\"src\":null,\"reporter\":null,\"tcp_flags\":null,\"verdict\":\"unknown\",\"direction\":\"reply\"}")]
    [InlineData("{" + Base + ",\"future\":\"x\",\"n\":-1.5e+3,\"m\":0,\"b\":true,\"c\":false,\"d\":null,\"e\":\"\"}")]
    [InlineData("{" + Base + ",\"bytes\":18446744073709551615,\"packets\":0,\"src_port\":65535,\"dst_port\":0}")]
    [InlineData("{" + Base + ",\"tcp_flags\":511,\"reporter\":\"\",\"policy\":\"\"}")]
    [InlineData("{\"start\":0,\"src_ip\":\"::1\",\"dst_ip\":\"fd00:10:244::15\",\"proto\":\"ICMPv6\"}")]
    [InlineData("{\"start\":7258118400,\"src_ip\":\"10.0.0.1\",\"dst_ip\":\"10.0.0.2\",\"proto\":\"gre\"}")]
    [InlineData("{\"start\":\"2026-11-01T12:00:00+02:00\",\"end\":\"2026-11-01T10:00:01.123456789Z\",\"src_ip\":\"10.0.0.1\",\"dst_ip\":\"10.0.0.2\",\"proto\":255}")]
    [InlineData("{" + Base + ",\"src\":" + Identity + ",\"dst\":{\"kind\":\"external\"}}")]
    [InlineData("{" + Base + ",\"src\": {\"labels\" : {\"a}\":\"{b\"} } }")] // braces inside identity strings
    public void Simple_lines_are_scanned_to_the_same_record(string line)
    {
        var (scanned, result) = Both(line);
        Assert.StartsWith("ok ", result);
        Assert.True(scanned, "the scanner should take this line");
    }

    [Theory]
    // Everything here goes to the reader: the outcome (record or error) must be the reader's.
    [InlineData("{" + Base + ",\"src_port\":-1}")] // negative
    [InlineData("{" + Base + ",\"bytes\":-0}")]
    [InlineData("{" + Base + ",\"dst_port\":1e3}")] // exponent
    [InlineData("{" + Base + ",\"dst_port\":80.0}")] // fraction
    [InlineData("{" + Base + ",\"bytes\":18446744073709551616}")] // one past ulong
    [InlineData("{" + Base + ",\"packets\":99999999999999999999999}")]
    [InlineData("{" + Base + ",\"src_port\":65536}")]
    [InlineData("{" + Base + ",\"src_port\":080}")] // leading zero: invalid JSON
    [InlineData("{" + Base + ",\"tcp_flags\":512}")]
    [InlineData("{\"start\":7258118401,\"src_ip\":\"10.0.0.1\",\"dst_ip\":\"10.0.0.2\",\"proto\":6}")]
    [InlineData("{\"start\":1700000000.5,\"src_ip\":\"10.0.0.1\",\"dst_ip\":\"10.0.0.2\",\"proto\":6}")]
    [InlineData("{" + Base + ",\"src_port\":1,\"src_port\":2}")] // duplicates: last wins, in the reader
    [InlineData("{" + Base + ",\"start\":\"2026-11-01T11:00:00Z\"}")]
    [InlineData("{" + Base + ",\"start\":null}")] // duplicate with null: the first stays
    [InlineData("{\"start\":null," + Base + "}")]
    [InlineData("{" + Base + ",\"reporter\":\"a\",\"reporter\":null}")]
    [InlineData("{\"src_ip\":\"10.0.0.1\",\"dst_ip\":\"10.0.0.2\",\"proto\":6}")] // missing required keys
    [InlineData("{\"start\":\"2026-11-01T10:00:00Z\",\"dst_ip\":\"10.0.0.2\",\"proto\":6}")]
    [InlineData("{\"start\":\"2026-11-01T10:00:00Z\",\"src_ip\":\"10.0.0.1\",\"proto\":6}")]
    [InlineData("{\"start\":\"2026-11-01T10:00:00Z\",\"src_ip\":\"10.0.0.1\",\"dst_ip\":\"10.0.0.2\"}")]
    [InlineData("{\"start\":\"2026-11-01T10:00:00Z\",\"src_ip\":\"10.0.0.1\",\"dst_ip\":\"10.0.0.2\",\"proto\":null}")]
    [InlineData("{" + Base + ",\"end\":\"2026-11-01T09:00:00Z\"}")] // end before start
    [InlineData("{\"start\":\"2026-11-01T10:00:00Z\",\"src_ip\":\"10.0.0.\\u0031\",\"dst_ip\":\"10.0.0.2\",\"proto\":\"T\\u0043P\"}")] // escapes
    [InlineData("{" + Base + ",\"reporter\":\"node\\/a\"}")]
    [InlineData("{" + Base + ",\"\\u0070olicy\":\"p\"}")] // escaped key
    [InlineData("{" + Base + ",\"reporter\":\"nöde\"}")] // non-ASCII
    [InlineData("{" + Base + ",\"policy\":\"日本\"}")]
    [InlineData("{" + Base + ",\"nöte\":1}")]
    [InlineData("{" + Base + ",\"reporter\":\"a\tb\"}")] // control character in a string: invalid JSON
    [InlineData("{" + Base)] // truncated
    [InlineData("{" + Base + ",")]
    [InlineData("{" + Base + ",\"src\":{\"kind\":\"pod\"")]
    [InlineData("{\"start\":\"2026-11-01T10:00:00Z\",\"src_ip\":\"10.0.0")]
    [InlineData("{" + Base + "} x")] // trailing bytes
    [InlineData("{" + Base + "}{}")]
    [InlineData("{" + Base + ",}")] // trailing comma
    [InlineData("{" + Base + ",\"x\":nul}")]
    [InlineData("{" + Base + ",\"x\":nullx}")]
    [InlineData("{" + Base + ",\"x\":tru}")]
    [InlineData("{" + Base + ",\"x\":[1,2]}")] // unknown keys with nested values
    [InlineData("{" + Base + ",\"x\":{\"y\":1}}")]
    [InlineData("{" + Base + ",\"x\":01}")]
    [InlineData("{" + Base + ",\"x\":1.}")]
    [InlineData("{" + Base + ",\"x\":-}")]
    [InlineData("{" + Base + ",\"x\":1e}")]
    [InlineData("{" + Base + ",\"verdict\":\"ALLOWED\"}")] // values the reader rejects
    [InlineData("{" + Base + ",\"direction\":\"ingress\"}")]
    [InlineData("{" + Base + ",\"verdict\":1}")]
    [InlineData("{" + Base + ",\"src\":\"web\"}")]
    [InlineData("{" + Base + ",\"src\":[]}")]
    [InlineData("{" + Base + ",\"src\":{\"kind\":\"vm\"}}")]
    [InlineData("{\"start\":\"2026-11-01T10:00:00Z\",\"src_ip\":\"300.0.0.1\",\"dst_ip\":\"10.0.0.2\",\"proto\":6}")]
    [InlineData("{\"start\":\"yesterday\",\"src_ip\":\"10.0.0.1\",\"dst_ip\":\"10.0.0.2\",\"proto\":6}")]
    [InlineData("{\"start\":\"2026-11-01T10:00:00Z\",\"src_ip\":\"10.0.0.1\",\"dst_ip\":\"10.0.0.2\",\"proto\":\"XTP2\"}")]
    [InlineData("{\"start\":\"2026-11-01T10:00:00Z\",\"src_ip\":\"10.0.0.1\",\"dst_ip\":\"10.0.0.2\",\"proto\":256}")]
    [InlineData("{\"start\":\"2026-11-01T10:00:00Z\",\"src_ip\":\"10.0.0.1\",\"dst_ip\":\"10.0.0.2\",\"proto\":\"\"}")]
    [InlineData("{}")]
    [InlineData("[]")]
    [InlineData("42")]
    [InlineData("\"{\"")]
    [InlineData("{\"start\"}")]
    [InlineData("\uFEFF{" + Base + "}")] // byte order mark
    [InlineData("{" + Base + ",\"x\":\"//\"} // comment")]
    public void Anything_else_goes_to_the_reader_with_the_same_outcome(string line)
    {
        var (scanned, _) = Both(line);
        Assert.False(scanned, "the scanner should leave this line to the reader");
    }

    [Fact]
    public void A_new_identity_is_parsed_once_and_then_found_by_its_exact_bytes()
    {
        string line = "{" + Base + ",\"src\":" + Identity + "}";
        string spaced = "{" + Base + ",\"src\":" + Identity.Replace(",", ", ") + "}";
        var state = new JsonDecodeState();
        var first = default(FlowRecord);
        var again = default(FlowRecord);
        var other = default(FlowRecord);

        Assert.True(CanonicalJsonDecoder.TryScan(Encoding.UTF8.GetBytes(line), state, ref first));
        Assert.True(CanonicalJsonDecoder.TryScan(Encoding.UTF8.GetBytes(line), state, ref again));
        Assert.True(CanonicalJsonDecoder.TryScan(Encoding.UTF8.GetBytes(spaced), state, ref other));

        Assert.Equal("Pod/shop/web/<null>/<null>/app=web", RenderIdentity(first.SrcIdentity));
        Assert.Same(first.SrcIdentity, again.SrcIdentity);
        Assert.NotSame(first.SrcIdentity, other.SrcIdentity); // other bytes, same meaning: its own cache entry
        Assert.Equal(first.SrcIdentity, other.SrcIdentity);
    }

    [Theory]
    [InlineData("{\"kind\":\"pod\"} \"x\"}")] // bytes after the object's end: the reader's "invalid JSON"
    [InlineData("{\"kind\":\"pod\",}")]
    [InlineData("{\"kind\":\"pod\" \"x\":1}")]
    [InlineData("{\"kind\":\"vm\"}")]
    [InlineData("{\"labels\":{\"a\":1}}")]
    [InlineData("{\"labels\":{\"a\":\"\\ud800\"}}")] // a lone surrogate escape
    [InlineData("{\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}")] // one level too deep inside a line
    [InlineData("{\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}")] // just deep enough
    public void A_new_identity_the_reader_would_reject_or_read_differently_gets_the_readers_outcome(string identity)
    {
        Both("{" + Base + ",\"src\":" + identity + "}");
        Both("{" + Base + ",\"dst\":" + identity + "}");
        Both("{" + Base + ",\"src\":" + identity + ",\"dst\":" + identity + "}");
    }

    [Fact]
    public void Writer_times_parse_as_the_reader_parses_them_also_when_the_hour_is_remembered()
    {
        var random = new Random(5);
        var state = new JsonDecodeState();
        var time = new DateTime(2024, 2, 28, 22, 0, 0, DateTimeKind.Utc);
        int compared = 0;
        for (int n = 0; n < 20_000; n++)
        {
            time = time.AddTicks(random.NextInt64(0, TimeSpan.TicksPerMinute * 7));
            string text = time.ToString(random.Next(3) switch
            {
                0 => "yyyy-MM-dd'T'HH:mm:ss'Z'",
                1 => "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'",
                _ => "yyyy-MM-dd'T'HH:mm:ss.fffffff'00Z'",
            }, CultureInfo.InvariantCulture);
            var bytes = Encoding.ASCII.GetBytes(text);
            if (n % 4 == 0)
            {
                // Broken digits, separators, lengths: the same answer as the reader's parser, accepted or not.
                int at = random.Next(bytes.Length);
                bytes[at] = "0123456789:-.TZz+ x"u8[random.Next(19)];
                if (random.Next(5) == 0) bytes = bytes[..random.Next(bytes.Length)];
            }
            bool expected = FlowTimestamps.TryParseRfc3339(bytes, out var reference);
            bool actual = JsonLineScan.TryParseUtcTime(bytes, state, out var parsed);
            Assert.True(expected == actual, Encoding.ASCII.GetString(bytes));
            if (expected)
            {
                Assert.Equal(reference, parsed);
                Assert.Equal(DateTimeKind.Utc, parsed.Kind);
                compared++;
            }
        }
        Assert.True(compared > 15_000, $"only {compared} valid times compared");
    }

    [Theory]
    [InlineData("{}", 2)]
    [InlineData("{\"a\":{\"b\":\"}\"}} tail", 15)]
    [InlineData("{\"a\":\"\\\"}\"}", 11)]
    [InlineData("{\"a\":\"\\\\\"}", 10)]
    [InlineData("{\"a\":1", -1)]
    [InlineData("{\"a\":\"}", -1)]
    public void Object_end_counts_braces_outside_strings_only(string text, int expected)
    {
        Assert.Equal(expected, JsonLineScan.ContainerEnd(Encoding.UTF8.GetBytes(text), 0));
        // The same object after a long prefix and inside long strings (the 32-byte blocks, with and without escapes).
        string prefix = new(' ', 45);
        int shifted = expected < 0 ? -1 : expected + prefix.Length;
        Assert.Equal(shifted, JsonLineScan.ContainerEnd(Encoding.UTF8.GetBytes(prefix + text), prefix.Length));
        string padded = text.Replace("\"a\"", "\"" + new string('a', 70) + "\"");
        int grown = expected < 0 ? -1 : expected + padded.Length - text.Length;
        Assert.Equal(grown, JsonLineScan.ContainerEnd(Encoding.UTF8.GetBytes(padded), 0));
    }

    [Fact]
    public void Mutated_lines_decode_the_same_with_and_without_the_scanner()
    {
        var random = new Random(7);
        var seeds = GeneratedLines(random, 60).Select(Encoding.UTF8.GetBytes).ToList();
        seeds.Add(Encoding.UTF8.GetBytes("{" + Base + ",\"src\":" + Identity + ",\"future\":[1,{\"x\":null}],\"n\":-1.5e3}"));
        var scanState = new JsonDecodeState();
        var readerState = new JsonDecodeState();
        foreach (var seed in seeds) CanonicalJsonDecoder.Read(seed, scanState, out _, out _, useScanner: false); // identities cached
        int scanned = 0, rejected = 0;

        for (int i = 0; i < 20_000; i++)
        {
            // Unchanged seeds too, so the scanner's accepting path is compared as often as its declining one.
            byte[] input = i % 7 == 6 ? seeds[random.Next(seeds.Count)] : JsonFuzz.Mutate(random, seeds[random.Next(seeds.Count)], i);
            var expected = CanonicalJsonDecoder.Read(input, readerState, out var readerFlow, out var readerReason, useScanner: false);
            var probe = default(FlowRecord);
            if (CanonicalJsonDecoder.TryScan(input, scanState, ref probe)) scanned++;
            var actual = CanonicalJsonDecoder.Read(input, scanState, out var flow, out var reason);

            Assert.Equal(expected, actual);
            Assert.Equal(readerReason, reason);
            if (expected == LineOutcome.Accepted) Assert.Equal(Render(readerFlow), Render(flow));
            else rejected++;
        }
        Assert.True(scanned > 3000, $"only {scanned} lines took the scanner path");
        Assert.True(rejected > 5000, $"only {rejected} rejects: the mutations are too gentle");
    }

    [Fact]
    public void Existing_fuzz_input_decodes_the_same_with_and_without_the_scanner()
    {
        // The seeds and mutations of CanonicalJsonTests.Random_and_mutated_input_never_throws, through Decode, so
        // line numbers, excerpts and blank-line handling are compared too.
        var random = new Random(20261101);
        var seeds = CanonicalJsonTests.RoundTripRecords().Select(r => Encoding.UTF8.GetBytes(CanonicalJsonWriter.ToLine(r))).ToList();
        seeds.Add(Encoding.UTF8.GetBytes(CanonicalJsonTests.DocumentedExample));
        seeds.AddRange(GeneratedLines(new Random(3), 20).Select(Encoding.UTF8.GetBytes));
        var text = new StringBuilder();
        foreach (var seed in seeds) text.Append(Encoding.UTF8.GetString(seed)).Append('\n');
        for (int i = 0; i < 3000; i++)
        {
            var line = Encoding.UTF8.GetString(JsonFuzz.Mutate(random, seeds[random.Next(seeds.Count)], i));
            text.Append(i % 5 == 0 ? line.Replace('\n', ' ') : line).Append(i % 3 == 0 ? "\r\n" : "\n");
        }
        var payload = Encoding.UTF8.GetBytes(text.ToString());

        var expected = Outcomes(ReaderOnly, payload);
        var actual = Outcomes(Scanning, payload);

        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++) Assert.Equal(expected[i], actual[i]);
        Assert.Contains(actual, o => o.StartsWith("error ", StringComparison.Ordinal));
    }

    [Fact]
    public void Generated_records_decode_the_same_with_and_without_the_scanner_and_mostly_take_the_scanner()
    {
        var lines = GeneratedLines(new Random(11), 5000);
        var payload = Encoding.UTF8.GetBytes(string.Join("\n", lines) + "\n");

        var expected = Outcomes(ReaderOnly, payload);
        var actual = Outcomes(Scanning, payload);

        Assert.Equal(lines.Count, actual.Count(o => o.StartsWith("ok ", StringComparison.Ordinal)));
        Assert.Equal(expected, actual);

        // The benchmark's shape: once an identity has been seen, its lines skip the reader.
        var state = new JsonDecodeState();
        int scanned = 0;
        foreach (var line in lines)
        {
            var bytes = Encoding.UTF8.GetBytes(line);
            var flow = default(FlowRecord);
            if (CanonicalJsonDecoder.TryScan(bytes, state, ref flow)) scanned++;
            else CanonicalJsonDecoder.Read(bytes, state, out _, out _);
        }
        Assert.True(scanned > lines.Count * 8 / 10, $"only {scanned} of {lines.Count} lines took the scanner path");
    }

    /// <summary>
    /// Writer output like the benchmark data: pods with labels, external peers, IPv4 and IPv6, every protocol
    /// spelling, optional keys present or absent, non-ASCII and escaped label values, some records repeated.
    /// </summary>
    private static List<string> GeneratedLines(Random random, int count)
    {
        string[] namespaces = ["shop", "payments", "kube-system", "données"];
        string[] workloads = ["frontend", "cart", "redis", "coredns", "quote\"d"];
        var pods = new List<WorkloadIdentity>();
        for (int i = 0; i < 40; i++)
        {
            string ns = namespaces[i % namespaces.Length], name = workloads[i % workloads.Length];
            var labels = new List<KeyValuePair<string, string>> { new("app", name) };
            if (i % 3 == 0) labels.Add(new("tier", i % 2 == 0 ? "web" : "b\\ack/end"));
            pods.Add(new WorkloadIdentity((EndpointKind)(i % 5), ns, name, i % 4 == 0 ? null : "Deployment", $"{name}-{random.Next(10000, 99999)}", labels));
        }
        byte[] protocols = [6, 17, 1, 58, 132, 47, 0, 255];
        var start = new DateTime(2026, 11, 1, 10, 0, 0, DateTimeKind.Utc);
        var lines = new List<string>(count);
        for (int i = 0; i < count; i++)
        {
            var time = start.AddTicks(random.NextInt64(0, TimeSpan.TicksPerDay));
            bool v6 = random.Next(10) == 0;
            var flow = new FlowRecord
            {
                Start = time,
                End = time.AddTicks(random.Next(0, 4) == 0 ? 0 : random.NextInt64(1, TimeSpan.TicksPerMinute)),
                SrcIp = v6 ? PackedIp.Parse($"fd00::{random.Next(1, 0xffff):x}") : PackedIp.FromV4(10, 244, (byte)random.Next(256), (byte)random.Next(256)),
                DstIp = v6 ? PackedIp.Parse("2001:db8::1") : PackedIp.FromV4(10, 0, (byte)random.Next(256), (byte)random.Next(256)),
                SrcPort = (ushort)random.Next(0, 65536),
                DstPort = (ushort)random.Next(0, 65536),
                Protocol = protocols[random.Next(protocols.Length)],
                Bytes = random.Next(20) == 0 ? ulong.MaxValue - (ulong)random.Next(1000) : (ulong)random.NextInt64(0, 1L << 40),
                Packets = (ulong)random.Next(0, 100000),
                Verdict = (Verdict)random.Next(3),
                Direction = (DirectionHint)random.Next(3),
                HasTcpFlags = random.Next(2) == 0,
                TcpFlags = (ushort)random.Next(0, 512),
                Reporter = random.Next(4) == 0 ? null : random.Next(20) == 0 ? "nœud-1" : $"node-{random.Next(40)}",
                PolicyName = random.Next(3) == 0 ? "shop/allow-" + workloads[random.Next(workloads.Length)] : null,
                SrcIdentity = random.Next(5) == 0 ? null : pods[random.Next(pods.Count)],
                DstIdentity = random.Next(4) == 0 ? null : pods[random.Next(pods.Count)],
            };
            if (!flow.HasTcpFlags) flow.TcpFlags = 0;
            lines.Add(CanonicalJsonWriter.ToLine(flow));
        }
        return lines;
    }
}
