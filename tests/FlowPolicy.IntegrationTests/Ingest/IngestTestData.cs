using System.Diagnostics;
using System.Globalization;
using System.Text;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Core.Flows;
using FlowPolicy.Ingest.Enrichment;
using FlowPolicy.Ingest.Files;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Kafka;

namespace FlowPolicy.IntegrationTests.Ingest;

/// <summary>
/// Flow files of every kind the ingest tests send: the sample app's Hubble JSON and gzip VPC (with a header, so
/// multi-record messages), canonical JSON with malformed lines between good ones, and a VPC file whose batches cross
/// midnight and hold bad lines. The expectation is computed by reading the same files with the file reader.
/// </summary>
internal sealed class IngestTestData : IDisposable
{
    private IngestTestData(string directory) => Directory = directory;

    public string Directory { get; }
    public List<string> FlowFiles { get; } = [];
    public List<string> InventoryFiles { get; } = [];
    public long ExpectedFlows { get; private set; }
    public long ExpectedRejects { get; private set; }
    /// <summary>flows_l7 rows the Hubble file's L7 records make: one per HTTP/gRPC/DNS/Kafka record, one more per record with names.</summary>
    public long ExpectedL7Rows { get; private set; }
    /// <summary>Unordered (side, side) identity pairs, "ns/workload" or "-", with their record counts.</summary>
    public Dictionary<(string, string), long> ExpectedPairs { get; } = [];

    public static IngestTestData Create(int sampleRate, int canonicalLines)
    {
        var data = new IngestTestData(Path.Combine(Path.GetTempPath(), "flowpolicy-ingest-" + Guid.NewGuid().ToString("N")[..10]));
        System.IO.Directory.CreateDirectory(data.Directory);
        var sample = Path.Combine(data.Directory, "sample");
        var run = RunCli("sample", "--out", sample, "--days", "2", "--rate", sampleRate.ToString(CultureInfo.InvariantCulture));
        Assert.True(run.ExitCode == 0, run.Stderr);
        data.FlowFiles.Add(Path.Combine(sample, "hubble-flows.json"));
        data.FlowFiles.Add(Path.Combine(sample, "vpc-flowlogs.log.gz"));
        data.InventoryFiles.Add(Path.Combine(sample, "inventory", "leases.jsonl"));
        data.InventoryFiles.Add(Path.Combine(sample, "inventory", "nodes.json"));
        data.FlowFiles.Add(data.WriteCanonical(canonicalLines));
        data.FlowFiles.Add(data.WriteVpcAcrossMidnight());
        data.ComputeExpectation();
        return data;
    }

    private string WriteCanonical(int lines)
    {
        var path = Path.Combine(Directory, "canonical.jsonl");
        var text = new StringBuilder();
        var start = new DateTime(2026, 11, 2, 23, 0, 0, DateTimeKind.Utc);
        for (int i = 0; i < lines; i++)
        {
            if (i % 97 == 13) text.Append("this is not a flow record ").Append(i).Append('\n');
            else if (i % 89 == 7) text.Append("{\"start\":\"2026-11-02T10:00:00Z\",\"src_ip\":\"10.244.0.15\",\"dst_ip\":").Append('\n');
            var time = start.AddSeconds(i % 7200); // two hours across midnight
            text.Append(CultureInfo.InvariantCulture,
                $"{{\"start\":\"{time:yyyy-MM-ddTHH:mm:ssZ}\",\"src_ip\":\"10.244.0.{15 + i % 3}\",\"dst_ip\":\"10.244.0.{17 + i % 2}\",\"src_port\":{40000 + i % 20000},\"dst_port\":3550,\"proto\":\"TCP\",\"bytes\":{100 + i},\"packets\":{1 + i % 9}}}\n");
        }
        File.WriteAllText(path, text.ToString());
        return path;
    }

    private string WriteVpcAcrossMidnight()
    {
        var path = Path.Combine(Directory, "vpc-midnight.log");
        var text = new StringBuilder("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status tcp-flags\n");
        var start = new DateTimeOffset(2026, 11, 3, 23, 50, 0, TimeSpan.Zero).ToUnixTimeSeconds();
        for (int i = 0; i < 3000; i++)
        {
            if (i % 211 == 5) text.Append("3 123456789012 eni-0abc not-an-address 10.244.0.12 1 2 6 1 1 x y ACCEPT OK 2\n");
            long t = start + i / 2; // 25 minutes: crosses 2026-11-04 00:00 inside one 500-line message
            text.Append(CultureInfo.InvariantCulture,
                $"3 123456789012 eni-0abc 10.244.0.{15 + i % 3} 10.244.0.12 {33000 + i} 8080 6 {1 + i % 5} {200 + i} {t} {t + 30} ACCEPT OK 2\n");
        }
        File.WriteAllText(path, text.ToString());
        return path;
    }

    private void ComputeExpectation()
    {
        (ExpectedFlows, ExpectedRejects, ExpectedL7Rows) = Expect(FlowFiles, InventoryFiles, ExpectedPairs);
    }

    /// <summary>What ingest stores of <paramref name="flowFiles"/>: flows, dead letters, flows_l7 rows (read with the file reader).</summary>
    public static (long Flows, long Rejects, long L7Rows) Expect(IEnumerable<string> flowFiles, IReadOnlyList<string> inventoryFiles,
        Dictionary<(string, string), long>? pairs = null)
    {
        var inventory = InventoryLoader.Load(inventoryFiles);
        var enricher = new FlowEnricher(inventory.Index);
        var sink = new CountingSink(enricher, pairs ?? []);
        var reader = new FlowFileReader();
        foreach (var file in flowFiles) reader.Read(file, sink);
        return (sink.Accepted, sink.Rejected, sink.L7Rows);
    }

    public static string Side(string? ns, string? workload) => string.IsNullOrEmpty(workload) ? "-" : ns + "/" + workload;

    public static (string, string) Pair(string a, string b) => string.CompareOrdinal(a, b) <= 0 ? (a, b) : (b, a);

    /// <summary>Stored identity pairs, unordered, as the expectation counts them.</summary>
    public static async Task<Dictionary<(string, string), long>> StoredPairsAsync(ClickHouseHttpClient db)
    {
        var result = new Dictionary<(string, string), long>();
        foreach (var row in await db.QueryTsvAsync(
                     "SELECT src_namespace, src_workload, dst_namespace, dst_workload, count() FROM " + ClickHouseSql.QuoteIdentifier(db.Database, FlowTables.Flows) +
                     " GROUP BY src_namespace, src_workload, dst_namespace, dst_workload"))
        {
            var key = Pair(Side(row[0], row[1]), Side(row[2], row[3]));
            result[key] = result.GetValueOrDefault(key) + long.Parse(row[4], CultureInfo.InvariantCulture);
        }
        return result;
    }

    public static async Task<long> CountAsync(ClickHouseHttpClient db, string table, string? where = null)
    {
        var text = await db.QueryScalarAsync($"SELECT count() FROM {ClickHouseSql.QuoteIdentifier(db.Database, table)}{(where is null ? "" : " WHERE " + where)}");
        return long.Parse(text ?? "0", CultureInfo.InvariantCulture);
    }

    /// <summary>Rows stored more than once (same topic, partition, offset, index).</summary>
    public static async Task<long> DuplicatesAsync(ClickHouseHttpClient db, string table)
    {
        var text = await db.QueryScalarAsync(
            $"SELECT count() - uniqExact(kafka_topic, kafka_partition, kafka_offset, kafka_index) FROM {ClickHouseSql.QuoteIdentifier(db.Database, table)}");
        return long.Parse(text ?? "0", CultureInfo.InvariantCulture);
    }

    /// <summary>(raw flows that are not replies, raw bytes) against (hourly rollup flows, bytes) and (daily rollup flows, bytes).</summary>
    public static async Task<(string Raw, string Hourly, string Daily)> RollupTotalsAsync(ClickHouseHttpClient db)
    {
        var flows = ClickHouseSql.QuoteIdentifier(db.Database, FlowTables.Flows);
        var raw = await db.QueryScalarAsync($"SELECT concat(toString(countIf(is_reply = 0 AND direction != 'reply')), '/', toString(sumIf(bytes, direction != 'reply'))) FROM {flows}");
        var hourly = await db.QueryScalarAsync($"SELECT concat(toString(sum(flows)), '/', toString(sum(bytes))) FROM {ClickHouseSql.QuoteIdentifier(db.Database, FlowTables.EdgesHourly)}");
        var daily = await db.QueryScalarAsync($"SELECT concat(toString(sum(flows)), '/', toString(sum(bytes))) FROM {ClickHouseSql.QuoteIdentifier(db.Database, FlowTables.EdgesDaily)}");
        return (raw!, hourly!, daily!);
    }

    public static async Task<T> EventuallyAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var value = await read();
            if (done(value) || clock.Elapsed > timeout) return value;
            await Task.Delay(250);
        }
    }

    public static ProduceCounts Produce(string brokers, string topic, IEnumerable<string> files)
    {
        var kafka = new KafkaOptions { Brokers = brokers, Topic = topic };
        var producer = new FlowFileProducer(kafka,
            head => FlowFormatDetector.Detect(head) is not { } f || FlowDecoders.For(f).IsLineOriented(head));
        var counts = producer.ProduceAsync(files).GetAwaiter().GetResult();
        Assert.Equal(0, counts.Failed);
        return counts;
    }

    public sealed record CliResult(int ExitCode, string Stdout, string Stderr);

    public static string CliDll => Path.Combine(AppContext.BaseDirectory, "flowpolicy.dll");

    public static ProcessStartInfo CliStart(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(CliDll);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["CI"] = "true";
        return start;
    }

    public static CliResult RunCli(params string[] args)
    {
        using var process = Process.Start(CliStart(args))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(6)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"flowpolicy {string.Join(' ', args)} did not finish in 6 minutes");
        }
        return new CliResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); }
        catch (IOException) { }
    }

    private sealed class CountingSink(FlowEnricher enricher, Dictionary<(string, string), long> pairs) : IFlowSink
    {
        public long Accepted { get; private set; }
        public long Rejected { get; private set; }
        public long L7Rows { get; private set; }

        public void AcceptL7(in L7Observation observation, SourcePosition position)
        {
            if (!observation.HasIp && (observation.SrcIdentity is null || observation.DstIdentity is null)) return;
            if (observation.Protocol is not (L7Protocol.Names or L7Protocol.None)) L7Rows++;
            if (observation.Names is { Length: > 0 }) L7Rows++;
        }

        public void Accept(in FlowRecord flow)
        {
            Accepted++;
            var copy = flow;
            enricher.Enrich(ref copy);
            var key = Pair(Side(copy.SrcIdentity?.Namespace, copy.SrcIdentity?.Workload), Side(copy.DstIdentity?.Namespace, copy.DstIdentity?.Workload));
            pairs[key] = pairs.GetValueOrDefault(key) + 1;
        }

        public void Reject(FlowDecodeError error) => Rejected++;

        public void Skip(string reason, SourcePosition position) { }
    }
}
