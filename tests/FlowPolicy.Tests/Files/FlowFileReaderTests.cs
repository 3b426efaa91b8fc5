using System.IO.Compression;
using System.Text;
using FlowPolicy.Core.Flows;
using FlowPolicy.Ingest.Files;
using FlowPolicy.Ingest.Formats;

namespace FlowPolicy.Tests.Files;

public sealed class FlowFileReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("flowpolicy-reader-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static readonly Dictionary<FlowFormat, string> OneRecordPerFormat = new()
    {
        [FlowFormat.Canonical] = """{"start":"2026-11-02T10:00:00Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","src_port":40000,"dst_port":80,"proto":"TCP"}""",
        [FlowFormat.AwsVpc] = "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
        [FlowFormat.Hubble] = """{"flow":{"time":"2026-11-02T10:00:00.123456789Z","verdict":"FORWARDED","IP":{"source":"10.0.0.1","destination":"10.0.0.2","ipVersion":"IPv4"},"l4":{"TCP":{"source_port":40000,"destination_port":80}},"is_reply":false},"node_name":"n1","time":"2026-11-02T10:00:00.123456789Z"}""",
        [FlowFormat.GoFlow2] = """{"type":"IPFIX","time_received_ns":1762077600000000000,"time_flow_start_ns":1762077600000000000,"time_flow_end_ns":1762077601000000000,"bytes":100,"packets":1,"src_addr":"10.0.0.1","dst_addr":"10.0.0.2","etype":"IPv4","proto":"TCP","src_port":40000,"dst_port":80,"sampler_address":"192.0.2.1"}""",
        [FlowFormat.GcpVpc] = """{"insertId":"1","jsonPayload":{"connection":{"src_ip":"10.0.0.1","dest_ip":"10.0.0.2","src_port":40000,"dest_port":80,"protocol":6},"start_time":"2026-11-02T10:00:00Z","end_time":"2026-11-02T10:00:05Z","bytes_sent":"100","packets_sent":"1","reporter":"SRC"},"logName":"projects/p/logs/compute.googleapis.com%2Fvpc_flows","timestamp":"2026-11-02T10:00:06Z"}""",
        [FlowFormat.Azure] = """{"records":[{"time":"2026-11-02T10:00:00Z","category":"NetworkSecurityGroupFlowEvent","operationName":"NetworkSecurityGroupFlowEvents","properties":{"Version":2,"flows":[{"rule":"DefaultRule_AllowVnetInBound","flows":[{"mac":"000D3AF87856","flowTuples":["1762077600,10.0.0.1,10.0.0.2,40000,80,T,I,A,B,,,,"]}]}]}}]}""",
    };

    [Theory]
    [InlineData(FlowFormat.Canonical)]
    [InlineData(FlowFormat.AwsVpc)]
    [InlineData(FlowFormat.Hubble)]
    [InlineData(FlowFormat.GoFlow2)]
    [InlineData(FlowFormat.GcpVpc)]
    [InlineData(FlowFormat.Azure)]
    public void Every_format_is_detected_and_decoded_plain_and_gzipped(FlowFormat format)
    {
        var text = OneRecordPerFormat[format] + "\n";
        var plain = Write("plain", Encoding.UTF8.GetBytes(text));
        var gzipped = Write("gz", Gzip(Encoding.UTF8.GetBytes(text)));
        foreach (var (path, isGzip) in new[] { (plain, false), (gzipped, true) })
        {
            var sink = new CollectingSink();
            var summary = new FlowFileReader().Read(path, sink);
            Assert.Equal(format, summary.Format);
            Assert.Equal(isGzip, summary.Gzip);
            Assert.Empty(sink.Errors);
            var flow = Assert.Single(sink.Flows);
            Assert.Equal(format == FlowFormat.AwsVpc ? 22 : 80, flow.DstPort);
            Assert.Equal(format == FlowFormat.AwsVpc ? "172.31.16.139" : "10.0.0.1", flow.SrcIp.ToString());
        }
    }

    [Fact]
    public void Lines_spanning_chunk_boundaries_keep_their_numbers()
    {
        // Enough records to cross the reader's 1 MiB chunk several times; every 1000th line is broken.
        var builder = new StringBuilder();
        const int lines = 30_000;
        for (int i = 1; i <= lines; i++)
        {
            if (i % 1000 == 0) builder.Append("{\"start\":\"broken\n");
            else builder.Append($"{{\"start\":\"2026-11-02T10:00:00Z\",\"src_ip\":\"10.0.{i / 250 % 250}.{i % 250}\",\"dst_ip\":\"10.1.0.1\",\"dst_port\":{i % 60000 + 1},\"proto\":6,\"bytes\":{i}}}\n");
        }
        var path = Write("big.jsonl", Encoding.UTF8.GetBytes(builder.ToString()));
        Assert.True(new FileInfo(path).Length > 2 * (1 << 20));
        var sink = new CollectingSink();
        new FlowFileReader().Read(path, sink);
        Assert.Equal(lines - lines / 1000, sink.Flows.Count);
        Assert.Equal(Enumerable.Range(1, lines / 1000).Select(k => (long)k * 1000), sink.Errors.Select(e => e.Position.Line));
        Assert.All(sink.Errors, e => Assert.Equal(path, e.Position.Source));
        // Bytes are the line number for good lines: nothing was lost or decoded twice at a boundary.
        Assert.Equal(Enumerable.Range(1, lines).Where(i => i % 1000 != 0).Select(i => (ulong)i), sink.Flows.Select(f => f.Bytes));
    }

    [Fact]
    public void A_file_without_a_trailing_newline_keeps_its_last_record()
    {
        var path = Write("last.jsonl", Encoding.UTF8.GetBytes(OneRecordPerFormat[FlowFormat.Canonical] + "\n" + OneRecordPerFormat[FlowFormat.Canonical]));
        var sink = new CollectingSink();
        new FlowFileReader().Read(path, sink);
        Assert.Equal(2, sink.Flows.Count);
    }

    [Fact]
    public void Unknown_content_is_a_clear_file_error()
    {
        var path = Write("odd.txt", Encoding.UTF8.GetBytes("hello world\nthis is not a flow log\n"));
        var ex = Assert.Throws<FlowFileException>(() => new FlowFileReader().Read(path, new CollectingSink()));
        Assert.Contains("--format", ex.Message);
        Assert.Contains("odd.txt", ex.Message);
    }

    [Fact]
    public void A_forced_format_reports_every_line_it_cannot_decode()
    {
        var path = Write("odd.txt", Encoding.UTF8.GetBytes("hello world\nthis is not a flow log\n"));
        var sink = new CollectingSink();
        new FlowFileReader(FlowFormat.AwsVpc).Read(path, sink);
        Assert.Equal([1L, 2L], sink.Errors.Select(e => e.Position.Line));
    }

    [Fact]
    public void A_missing_file_is_a_file_error_naming_it()
    {
        var ex = Assert.Throws<FlowFileException>(() => new FlowFileReader().Read(Path.Combine(_dir, "nope.log"), new CollectingSink()));
        Assert.Contains("nope.log", ex.Message);
    }

    [Theory]
    [InlineData(40)]      // in the compressed data
    [InlineData(20_000)]  // far into it
    [InlineData(4)]       // in the 8-byte trailer: every record is there, the file is still incomplete
    public void Truncated_gzip_is_an_error_naming_the_file_and_keeps_the_records_before_the_cut(int bytesCut)
    {
        const int lines = 5000;
        var text = string.Concat(Enumerable.Range(1, lines).Select(i => Canonical(i) + "\n"));
        var gz = Gzip(Encoding.UTF8.GetBytes(text));
        Assert.True(gz.Length > bytesCut + 100);
        var path = Write("cut.gz", gz.AsSpan(0, gz.Length - bytesCut).ToArray());
        var sink = new CollectingSink();

        var ex = Assert.Throws<FlowFileException>(() => new FlowFileReader().Read(path, sink));

        Assert.Contains($"'{path}' is truncated", ex.Message);
        Assert.Contains("gzip stream ended before its trailer", ex.Message);
        Assert.Contains($"after {gz.Length - bytesCut:N0} bytes of the file", ex.Message);
        Assert.Contains("wait for its upload to finish", ex.Message);
        // Every whole line before the cut was decoded, in order; the cut line is part of the error, not a malformed record.
        Assert.Empty(sink.Errors);
        Assert.Equal(Enumerable.Range(1, sink.Flows.Count).Select(i => (ulong)i), sink.Flows.Select(f => f.Bytes));
        Assert.Contains($"it breaks off after line {sink.Flows.Count:N0}, and whatever followed is missing", ex.Message);
        if (bytesCut <= 8) Assert.Equal(lines, sink.Flows.Count);
        else Assert.InRange(sink.Flows.Count, 1, lines - 1);
    }

    [Fact]
    public void Truncated_gzip_in_its_header_says_nothing_was_read()
    {
        var gz = Gzip(Encoding.UTF8.GetBytes(Canonical(1) + "\n"));
        var path = Write("header.gz", gz.AsSpan(0, 6).ToArray());
        var ex = Assert.Throws<FlowFileException>(() => new FlowFileReader().Read(path, new CollectingSink()));
        Assert.Contains("is truncated", ex.Message);
        Assert.Contains("cut off in its header", ex.Message);
        Assert.Contains("no whole line came before the break", ex.Message);
    }

    [Fact]
    public void Concatenated_gzip_members_are_read_as_one_file()
    {
        // `cat a.gz b.gz`, and what log shippers that append one member per batch write.
        var members = Enumerable.Range(0, 3).Select(m =>
            Gzip(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(1 + m * 1000, 1000).Select(i => Canonical(i) + "\n"))))).ToArray();
        var path = Write("cat.gz", [.. members[0], .. members[1], .. members[2]]);
        var sink = new CollectingSink();
        var summary = new FlowFileReader().Read(path, sink);
        Assert.True(summary.Gzip);
        Assert.Empty(sink.Errors);
        Assert.Equal(Enumerable.Range(1, 3000).Select(i => (ulong)i), sink.Flows.Select(f => f.Bytes));

        // A cut in the last member loses only what is past the cut, and says so.
        var cut = Write("cat-cut.gz", [.. members[0], .. members[1], .. members[2].AsSpan(0, members[2].Length / 2)]);
        sink = new CollectingSink();
        var ex = Assert.Throws<FlowFileException>(() => new FlowFileReader().Read(cut, sink));
        Assert.Contains("member 3 is cut off in its compressed data", ex.Message);
        Assert.InRange(sink.Flows.Count, 2001, 2999);
        Assert.Equal(Enumerable.Range(1, sink.Flows.Count).Select(i => (ulong)i), sink.Flows.Select(f => f.Bytes));
    }

    [Fact]
    public void Corrupt_gzip_is_an_error_that_keeps_the_records_before_it()
    {
        var text = string.Concat(Enumerable.Range(1, 3000).Select(i => Canonical(i) + "\n"));
        var good = Gzip(Encoding.UTF8.GetBytes(text));
        var path = Write("corrupt.gz", [.. good, .. good.AsSpan(0, 10), .. new byte[] { 0xff, 0xff, 0xff, 0xff }, .. good.AsSpan(10)]);
        var sink = new CollectingSink();
        var ex = Assert.Throws<FlowFileException>(() => new FlowFileReader().Read(path, sink));
        Assert.Contains("is not valid gzip", ex.Message);
        Assert.Equal(3000, sink.Flows.Count);
    }

    private static string Canonical(int i) =>
        $"{{\"start\":\"2026-11-02T10:00:00Z\",\"src_ip\":\"10.0.{i / 250 % 250}.{i % 250}\",\"dst_ip\":\"10.1.0.1\",\"dst_port\":{i % 60000 + 1},\"proto\":6,\"bytes\":{i}}}";

    [Fact]
    public void Random_bytes_never_escape_as_exceptions_other_than_file_errors()
    {
        var random = new Random(7);
        for (int i = 0; i < 300; i++)
        {
            var bytes = new byte[random.Next(1, 4000)];
            random.NextBytes(bytes);
            if (i % 3 == 0) bytes[0] = (byte)'{';
            if (i % 5 == 0) { bytes[0] = 0x1f; if (bytes.Length > 1) bytes[1] = 0x8b; }
            var path = Write($"r{i}", bytes);
            foreach (FlowFormat? format in new FlowFormat?[] { null, FlowFormat.Canonical, FlowFormat.AwsVpc, FlowFormat.Hubble, FlowFormat.GoFlow2, FlowFormat.GcpVpc, FlowFormat.Azure })
            {
                try
                {
                    new FlowFileReader(format).Read(path, new CollectingSink());
                }
                catch (FlowFileException)
                {
                }
            }
        }
    }

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    internal static byte[] Gzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest)) gzip.Write(bytes);
        return output.ToArray();
    }

    internal sealed class CollectingSink : IFlowSink
    {
        public List<FlowRecord> Flows { get; } = new();
        public List<FlowDecodeError> Errors { get; } = new();
        public List<string> Skips { get; } = new();
        public void Accept(in FlowRecord flow) => Flows.Add(flow);
        public void Reject(FlowDecodeError error) => Errors.Add(error);
        public void Skip(string reason, SourcePosition position) => Skips.Add(reason);
    }
}
