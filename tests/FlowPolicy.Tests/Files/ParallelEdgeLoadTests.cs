using System.IO.Compression;
using System.Text;
using FlowPolicy.Core.Edges;
using FlowPolicy.Ingest.Embedded;
using FlowPolicy.Cli.Commands;
using FlowPolicy.Core.Flows;
using FlowPolicy.Ingest.Direction;
using FlowPolicy.Ingest.Enrichment;
using FlowPolicy.Ingest.Files;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Vpc;

namespace FlowPolicy.Tests.Files;

/// <summary>
/// The embedded mode on several threads, files split into chunks, gives what one thread reading the files in order
/// gives: the same `edges --json` bytes, counts, errors and notes, for every format, with and without gzip, also when
/// the listener table evicts (its order is the file order on any number of threads).
/// </summary>
public sealed class ParallelEdgeLoadTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("flowpolicy-parallel-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    public static TheoryData<string> Formats() => ["canonical", "vpc", "vpc.gz", "vpc.parquet", "hubble", "goflow2", "gcp", "azure", "sample"];

    [Theory]
    [MemberData(nameof(Formats))]
    public void Every_thread_count_and_chunk_size_gives_the_single_threaded_edges_byte_for_byte(string format)
    {
        var (files, inventory) = Files(format);
        var reference = ReferenceLoad(files, inventory, maxTrackedEndpoints: null);
        foreach (var (threads, chunk) in new[] { (1, 1 << 20), (1, 3000), (2, 3000), (4, 1500), (3, 700) })
        foreach (var memory in RecordMemories(files, inventory, threads, chunk))
        {
            var load = new FileEdgeSource(new FileEdgeSourceOptions
            {
                FlowFiles = files, InventoryFiles = inventory, Threads = threads, ChunkBytes = chunk, RecordMemoryBytes = memory,
            }).Load();
            string context = $"{format}, {threads} threads, {chunk}-byte chunks, {memory?.ToString() ?? "default"} bytes for records ({load.ChunksKept} of {load.Chunks} chunks kept)";
            Assert.True(reference.Json == Json(load), context + ": edges differ");
            Assert.True(reference.Records == load.Records, context);
            Assert.Equal(reference.Rejected, load.Rejected);
            Assert.Equal(reference.Replies, load.RepliesFolded);
            Assert.Equal(reference.Errors, load.Errors.Select(e => e.ToString()));
            Assert.Equal(reference.Skipped, load.Skipped.Select(p => $"{p.Key}={p.Value}"));
            Assert.Equal(reference.Notes, load.Files.Select(f => $"{f.Path} {f.Format} {f.Gzip} {f.Parquet} {f.Bytes} {f.Note}"));
        }
        Assert.True(reference.Records > 500, $"{format}: {reference.Records} records is too few to split");
    }

    /// <summary>
    /// The record memory budgets a load is checked with: every chunk kept for the second pass (the default here), none
    /// (every file read twice), 90% and half of what they took (the first chunks kept, the rest read again).
    /// </summary>
    private static IEnumerable<long?> RecordMemories(IReadOnlyList<string> files, IReadOnlyList<string> inventory, int threads, int chunk)
    {
        FileEdgeLoad Load(long? memory) => new FileEdgeSource(new FileEdgeSourceOptions
        {
            FlowFiles = files, InventoryFiles = inventory, Threads = threads, ChunkBytes = chunk, RecordMemoryBytes = memory,
        }).Load();
        var all = Load(null);
        Assert.Equal(all.Chunks, all.ChunksKept);
        yield return null;
        yield return 0;
        if (all.Chunks < 2) yield break;
        // Bytes kept can differ by a few from run to run (a thread's decoder cache may hand out two copies of one
        // identity, which the chunk's table then holds twice), so the budgets are fractions, not "all but one byte".
        Assert.InRange(Load(all.RecordBytesKept * 9 / 10).ChunksKept, 1, all.Chunks - 1);
        yield return all.RecordBytesKept * 9 / 10;
        if (all.Chunks < 4) yield break;
        Assert.InRange(Load(all.RecordBytesKept / 2).ChunksKept, 1, all.Chunks - 2);
        yield return all.RecordBytesKept / 2;
    }

    [Fact]
    public void A_record_memory_of_zero_keeps_nothing_and_the_default_keeps_what_fits()
    {
        var (files, _) = Files("vpc");
        var none = new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = files, Threads = 2, ChunkBytes = 3000, RecordMemoryBytes = 0 }).Load();
        Assert.Equal(0, none.ChunksKept);
        Assert.Equal(0, none.RecordBytesKept);
        Assert.True(none.Chunks > 10, $"{none.Chunks} chunks");
        var all = new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = files, Threads = 2, ChunkBytes = 3000 }).Load();
        Assert.Equal(all.Chunks, all.ChunksKept);
        // ~1,400 records per file (~100 bytes packed each), two files: the records, and not twice them.
        Assert.InRange(all.RecordBytesKept, 2 * 1400 * 64, 2 * 1500 * 2 * 112 + 256 * all.Chunks);
        Assert.Throws<ArgumentException>(() => new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = files, RecordMemoryBytes = -1 }));
    }

    [Fact]
    public void Listener_learning_in_file_order_keeps_the_single_threaded_answer_when_the_table_evicts()
    {
        var (files, _) = Files("vpc-high");
        // Servers on high ports, clients on registered ones: only the learned listeners orient these. 40 endpoints: the table drops a generation every 20 new endpoints, so what it knows depends on the order seen.
        var reference = ReferenceLoad(files, [], maxTrackedEndpoints: 40);
        var unbounded = ReferenceLoad(files, [], maxTrackedEndpoints: null);
        Assert.NotEqual(unbounded.Json, reference.Json); // eviction changes the answer, so order matters here
        foreach (int threads in new[] { 2, 4 })
        {
            var load = new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = files, Threads = threads, ChunkBytes = 900, MaxTrackedEndpoints = 40 }).Load();
            Assert.Equal(reference.Json, Json(load));
        }
    }

    [Fact]
    public void Listeners_learned_from_hinted_records_orient_a_later_unhinted_one_however_observing_waits()
    {
        // Pass 1 learns nothing while every chunk so far is kept and fully hinted (request/reply), and catches up, in
        // order, at the first chunk that needs learning. Here 3,000 hinted requests from 40000+ to 10.0.0.2:61000 are
        // all that makes the one unhinted, flagless reply at the end a reply: by its ports alone (two ephemeral ones,
        // the lower wins) it would be a call to 10.0.1.9:40001.
        var text = new StringBuilder();
        // (Past the format detector's head, which the first chunk always holds whole: so the file splits into chunks.)
        for (int i = 0; i < 3000; i++)
            text.Append("{\"start\":\"2026-11-01T10:").Append((i / 60 % 60).ToString("D2")).Append(':').Append((i % 60).ToString("D2"))
                .Append("Z\",\"src_ip\":\"10.0.1.").Append(10 + i % 40).Append("\",\"src_port\":").Append(40000 + i)
                .Append(",\"dst_ip\":\"10.0.0.2\",\"dst_port\":61000,\"proto\":6,\"direction\":\"request\"}\n");
        // Then other hinted traffic, so the chunk of the unhinted record holds nothing of 10.0.0.2:61000 to learn from.
        for (int i = 0; i < 60; i++)
            text.Append("{\"start\":\"2026-11-01T10:59:").Append((i % 60).ToString("D2")).Append("Z\",\"src_ip\":\"10.0.2.").Append(10 + i % 5)
                .Append("\",\"src_port\":").Append(50000 + i).Append(",\"dst_ip\":\"10.0.0.3\",\"dst_port\":80,\"proto\":6,\"direction\":\"request\"}\n");
        string hintedOnly = Path.Combine(_directory, "hinted.jsonl");
        File.WriteAllText(hintedOnly, text.ToString());
        text.Append("{\"start\":\"2026-11-01T11:00:00Z\",\"src_ip\":\"10.0.0.2\",\"src_port\":61000,\"dst_ip\":\"10.0.1.9\",\"dst_port\":40001,\"proto\":6}\n");
        string mixed = Path.Combine(_directory, "mixed.jsonl");
        File.WriteAllText(mixed, text.ToString());

        foreach (var file in new[] { mixed, hintedOnly })
        {
            var reference = ReferenceLoad([file], [], maxTrackedEndpoints: null);
            Assert.DoesNotContain("\"dst\":\"10.0.1.9\"", reference.Json);
            foreach (var (threads, chunk) in new[] { (1, 1 << 20), (2, 4000), (3, 700) })
            foreach (var memory in RecordMemories([file], [], threads, chunk))
            {
                var load = new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = [file], Threads = threads, ChunkBytes = chunk, RecordMemoryBytes = memory }).Load();
                Assert.True(reference.Json == Json(load), $"{Path.GetFileName(file)}, {threads} threads, {chunk}-byte chunks, {memory?.ToString() ?? "default"} bytes: edges differ");
                Assert.Equal(reference.Replies, load.RepliesFolded);
                if (chunk == 700) Assert.True(load.Chunks > 20, $"{load.Chunks} chunks");
            }
        }
    }

    [Fact]
    public void Hubble_L7_facts_and_DNS_names_are_the_same_on_every_thread_count()
    {
        // HTTP requests and responses (paths that fold into templates, every status class), DNS answers repeated for a
        // few names (the index merges overlapping answers, so the order they enter it matters) and connections to the
        // answered addresses later in the file: answers and the connections they name fall in different chunks.
        var random = new Random(19);
        var lines = new List<string>();
        var start = new DateTime(2026, 11, 2, 8, 0, 0, DateTimeKind.Utc);
        for (int i = 0; i < 1500; i++)
        {
            string time = start.AddSeconds(i * 7).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);
            string path = $"/products/{random.Next(1, 60)}" + (random.Next(3) == 0 ? "/reviews" : "");
            string method = random.Next(4) == 0 ? "POST" : "GET";
            lines.Add((i % 5) switch
            {
                0 => L7.HubbleL7Tests.HttpRequest(time, method, "http://catalog.shop:8080" + path),
                1 => L7.HubbleL7Tests.HttpResponse(time, method, "http://catalog.shop:8080" + path, new[] { 200, 201, 302, 404, 503 }[random.Next(5)]),
                2 => L7.HubbleL7Tests.DnsResponse(time, $"api{random.Next(4)}.payments.example", $"\"203.0.113.{random.Next(1, 9)}\"", ttl: random.Next(2) == 0 ? 30 : 7200),
                _ => L7.HubbleL7Tests.Tcp(time, $"203.0.113.{random.Next(1, 9)}", 443),
            });
        }
        var file = Path.Combine(_directory, "hubble-l7.jsonl");
        File.WriteAllText(file, string.Join('\n', lines) + "\n");

        var reference = new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = [file], Threads = 1 }).Load();
        Assert.True(reference.L7Records > 500, $"{reference.L7Records} L7 records");
        Assert.True(reference.DnsAnswers > 8, $"{reference.DnsAnswers} DNS answers");
        Assert.Contains(reference.Edges, e => e.L7 is { Names.Count: > 0 });
        Assert.Contains(reference.Edges, e => e.L7 is { Operations.Count: > 1 });
        string expected = L7Json(reference);
        foreach (var (threads, chunk) in new[] { (1, 3000), (2, 3000), (4, 1500), (3, 700) })
        foreach (var memory in RecordMemories([file], [], threads, chunk))
        {
            var load = new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = [file], Threads = threads, ChunkBytes = chunk, RecordMemoryBytes = memory }).Load();
            string context = $"{threads} threads, {chunk}-byte chunks, {memory?.ToString() ?? "default"} bytes for records";
            Assert.True(expected == L7Json(load), context + ": L7 facts differ");
            Assert.True(Json(reference) == Json(load), context + ": edges differ");
            Assert.Equal(reference.L7Records, load.L7Records);
            Assert.Equal(reference.L7Unattributed, load.L7Unattributed);
            Assert.Equal(reference.DnsAnswers, load.DnsAnswers);
            Assert.Equal(reference.Skipped, load.Skipped);
        }
    }

    private static string L7Json(FileEdgeLoad load) =>
        System.Text.Json.JsonSerializer.Serialize(load.Edges.Select(e => new { Client = e.Client.Key, Server = e.Server.Key, e.Port, e.Protocol, e.L7 }));

    [Fact]
    public void Progress_moves_with_every_chunk_of_one_large_file_over_both_passes()
    {
        var files = Files("canonical").Files.Take(1).ToList();
        long size = new FileInfo(files[0]).Length;
        // Chunks kept from the first pass (all, none, the first half) count in the second as they are replayed.
        foreach (var memory in RecordMemories(files, [], 2, 4096))
            CheckProgress(files, size, memory);
    }

    private static void CheckProgress(List<string> files, long size, long? memory)
    {
        var calls = new List<(long Done, long Total)>();
        new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = files, Threads = 2, ChunkBytes = 4096, RecordMemoryBytes = memory })
            .Load((done, total) => { lock (calls) calls.Add((done, total)); });
        Assert.All(calls, c => Assert.Equal(2 * size, c.Total));
        Assert.Equal((0L, 2 * size), calls[0]);
        Assert.Equal(2 * size, calls[^1].Done);
        Assert.True(calls.Zip(calls.Skip(1)).All(p => p.Second.Done >= p.First.Done), "progress went back");
        // One file, yet a step per chunk in each pass: the first pass alone reports many times before reaching half (the
        // first chunk also holds the 64 KiB read to detect the format).
        long chunks = (size - FlowFormatDetector.HeadBytes) / 4096;
        Assert.True(calls.Count(c => c.Done > 0 && c.Done < size) >= chunks - 1, $"{calls.Count} calls for {chunks} chunks");
        Assert.True(calls.Count(c => c.Done > size && c.Done < 2 * size) >= chunks - 1);
        Assert.Contains(calls, c => c.Done == size);
    }

    [Fact]
    public void A_truncated_gzip_file_fails_the_same_on_every_thread_count()
    {
        var (files, _) = Files("vpc.gz");
        var bytes = File.ReadAllBytes(files[0]);
        var cut = Path.Combine(_directory, "cut.log.gz");
        File.WriteAllBytes(cut, bytes[..(bytes.Length * 2 / 3)]);
        var messages = new[] { (1, 1 << 20), (2, 1000), (4, 700) }.Select(t =>
            Assert.Throws<FlowFileException>(() => new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = [files[0], cut, files[0]], Threads = t.Item1, ChunkBytes = t.Item2 }).Load()).Message).ToList();
        Assert.Contains("is truncated", messages[0]);
        Assert.All(messages, m => Assert.Equal(messages[0], m));
        var sequential = Assert.Throws<FlowFileException>(() => new FlowFileReader().Read(cut, new NullSink())).Message;
        Assert.Equal(sequential, messages[0]);
    }

    private sealed record Reference(string Json, long Records, long Rejected, long Replies, List<string> Errors, List<string> Skipped, List<string> Notes);

    /// <summary>The embedded mode as one thread does it, from the public parts: read every file in order and observe
    /// every record, then read them again, enrich, resolve, aggregate.</summary>
    private static Reference ReferenceLoad(IReadOnlyList<string> files, IReadOnlyList<string> inventoryFiles, int? maxTrackedEndpoints)
    {
        var index = inventoryFiles.Count == 0 ? LeaseIndex.Empty : InventoryLoader.Load(inventoryFiles).Index;
        var resolver = new DirectionResolver(maxTrackedEndpoints is { } max ? new DirectionResolverOptions { MaxTrackedEndpoints = max } : null, index);
        var reader = new FlowFileReader();
        var observing = new ObservingSink(resolver);
        foreach (var file in files) reader.Read(file, observing);
        var aggregator = new EdgeAggregator();
        var sink = new AggregatingSink(new FlowEnricher(index), resolver, aggregator);
        var notes = new List<string>();
        foreach (var file in files)
        {
            var summary = reader.Read(file, sink);
            notes.Add($"{summary.Path} {summary.Format} {summary.Gzip} {summary.Parquet} {summary.Bytes} {summary.Note}");
        }
        var edges = aggregator.ToEdges();
        var json = new MemoryStream();
        EdgesCommand.WriteJsonLines(json, edges);
        return new Reference(Encoding.UTF8.GetString(json.ToArray()), sink.Records, sink.Errors.Count, sink.Replies,
            sink.Errors.Select(e => e.ToString()).ToList(), sink.Skipped.Select(p => $"{p.Key}={p.Value}").ToList(), notes);
    }

    private static string Json(FileEdgeLoad load)
    {
        var json = new MemoryStream();
        EdgesCommand.WriteJsonLines(json, load.Edges);
        return Encoding.UTF8.GetString(json.ToArray());
    }

    private (IReadOnlyList<string> Files, IReadOnlyList<string> Inventory) Files(string format)
    {
        if (format == "sample")
        {
            var sample = SampleCommand.Write(Path.Combine(_directory, "sample"), SampleCommand.DefaultStart, days: 1, seed: 3, rate: 2);
            return (sample.FlowFiles, sample.InventoryFiles);
        }
        var random = new Random(format.Length);
        var text = new StringBuilder();
        FlowFormat flowFormat = format switch
        {
            "canonical" => FlowFormat.Canonical,
            "vpc" or "vpc.gz" or "vpc.parquet" or "vpc-high" => FlowFormat.AwsVpc,
            "hubble" => FlowFormat.Hubble,
            "goflow2" => FlowFormat.GoFlow2,
            "gcp" => FlowFormat.GcpVpc,
            _ => FlowFormat.Azure,
        };
        string one = FlowFileReaderTests.OneRecordPerFormat[flowFormat];
        const string vpcHeader = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";
        if (flowFormat == FlowFormat.AwsVpc) text.Append(vpcHeader).Append('\n');
        var records = new List<string>();
        for (int i = 0; i < 1500; i++)
        {
            // Clients on a few addresses with random ephemeral ports, servers on a few ports, both directions, some broken
            // and some NODATA lines: listeners must be learned, replies folded, errors kept in order.
            string client = $"10.0.{random.Next(3)}.{random.Next(1, 30)}", server = $"10.1.0.{random.Next(1, 6)}";
            bool high = format == "vpc-high";
            string clientPort = (high ? random.Next(1024, 30000) : random.Next(32768, 61000)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            string serverPort = high ? (50000 + random.Next(3)).ToString(System.Globalization.CultureInfo.InvariantCulture) : new[] { "80", "5432", "8080" }[random.Next(3)];
            bool reply = random.Next(4) == 0;
            string record = flowFormat == FlowFormat.AwsVpc
                ? one.Replace("172.31.16.139", reply ? server : client).Replace("172.31.16.21", reply ? client : server)
                    .Replace("20641", reply ? serverPort : clientPort).Replace(" 22 6 ", $" {(reply ? clientPort : serverPort)} 6 ")
                    .Replace("1418530010 1418530070", $"{1418530010 + i} {1418530070 + i}")
                : one.Replace("10.0.0.1", reply ? server : client).Replace("10.0.0.2", reply ? client : server)
                    .Replace("40000", reply ? serverPort : clientPort).Replace(":80", ":" + (reply ? clientPort : serverPort)).Replace(",80,", "," + (reply ? clientPort : serverPort) + ",");
            // Parquet columns hold whole rows of their types: its broken rows have an address that is none.
            if (i % 97 == 0) record = format == "vpc.parquet" ? record.Replace(reply ? server : client, "10.0.999.1") : record[..(record.Length / 2)];
            if (i % 131 == 0 && flowFormat == FlowFormat.AwsVpc) record = "2 123456789010 eni-1 - - - - - - - 1418530010 1418530070 - NODATA";
            records.Add(record);
        }
        if (flowFormat == FlowFormat.Azure)
        {
            // One document: its tuples vary instead of its lines.
            var tuples = records.Select((_, i) => $"\"1762077600,10.0.{i % 3}.{i % 29 + 1},10.1.0.{i % 5 + 1},{32768 + i * 7},{(i % 2 == 0 ? 80 : 5432)},T,I,A,B,,,,\"");
            text.Append(one.Replace("\"1762077600,10.0.0.1,10.0.0.2,40000,80,T,I,A,B,,,,\"", string.Join(',', tuples)));
        }
        else foreach (var record in records) text.Append(record).Append('\n');
        var bytes = Encoding.UTF8.GetBytes(text.ToString());
        // Two files, so files follow one another as well as split.
        var paths = new List<string>();
        for (int f = 0; f < 2; f++)
        {
            var path = Path.Combine(_directory, $"{format}-{f}" + (format == "vpc.gz" ? ".log.gz" : format == "vpc.parquet" ? ".parquet" : ".txt"));
            if (format == "vpc.parquet")
            {
                // Row groups of 200 rows, so that chunks and row groups cut the file in different places.
                using var file = File.Create(path);
                VpcParquetWriter.WriteAsync(vpcHeader, records, file, rowGroupRows: 200).GetAwaiter().GetResult();
            }
            else if (format == "vpc.gz")
            {
                using var file = File.Create(path);
                // Several gzip members, as S3 delivers them concatenated.
                for (int m = 0; m < 3; m++)
                {
                    using var gzip = new GZipStream(file, CompressionLevel.Fastest, leaveOpen: true);
                    int from = bytes.Length * m / 3, to = bytes.Length * (m + 1) / 3;
                    gzip.Write(bytes, from, to - from);
                }
            }
            else File.WriteAllBytes(path, bytes);
            paths.Add(path);
        }
        return (paths, []);
    }

    private sealed class ObservingSink(DirectionResolver resolver) : IFlowSink
    {
        public void Accept(in FlowRecord flow) => resolver.Observe(flow);
        public void Reject(FlowDecodeError error) { }
        public void Skip(string reason, SourcePosition position) { }
    }

    private sealed class AggregatingSink(FlowEnricher enricher, DirectionResolver resolver, EdgeAggregator aggregator) : IFlowSink
    {
        public long Records, Replies;
        public readonly List<FlowDecodeError> Errors = [];
        public readonly Dictionary<string, long> Skipped = new(StringComparer.Ordinal);

        public void Accept(in FlowRecord flow)
        {
            Records++;
            var copy = flow;
            enricher.Enrich(ref copy);
            var direction = resolver.Resolve(ref copy);
            if (direction.IsReply) Replies++;
            aggregator.Add(copy, direction.IsReply);
        }

        public void Reject(FlowDecodeError error) => Errors.Add(error);
        public void Skip(string reason, SourcePosition position) => Skipped[reason] = Skipped.GetValueOrDefault(reason) + 1;
    }

    private sealed class NullSink : IFlowSink
    {
        public void Accept(in FlowRecord flow) { }
        public void Reject(FlowDecodeError error) { }
        public void Skip(string reason, SourcePosition position) { }
    }
}
