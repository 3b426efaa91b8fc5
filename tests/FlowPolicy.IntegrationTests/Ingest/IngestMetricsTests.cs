using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Ingest.Kafka;
using FlowPolicy.IntegrationTests.Infrastructure;
using FlowPolicy.LocalServers.Kafka;
using Xunit.Abstractions;

namespace FlowPolicy.IntegrationTests.Ingest;

/// <summary>
/// `flowpolicy ingest --metrics-listen` as Prometheus sees it: a running ingest process is scraped, the text parsed by
/// a strict exposition-format parser, and its counters agree with what was produced and what ClickHouse stored.
/// </summary>
public sealed class IngestMetricsTests(ClickHouseServerFixture server, ITestOutputHelper output) : ClickHouseTest(server), IDisposable
{
    private const string Topic = "flows";
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "flowpolicy-metrics-" + Guid.NewGuid().ToString("N")[..10]);

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task A_scrape_of_a_running_ingest_counts_the_stored_flows_and_the_dead_letters_by_reason()
    {
        // 3000 canonical flows, 30 malformed lines (decode) and 8 flows of 1969 that ClickHouse DateTime cannot hold.
        Directory.CreateDirectory(_dir);
        var file = Path.Combine(_dir, "canonical.jsonl");
        var text = new StringBuilder();
        var start = new DateTime(2026, 11, 3, 10, 0, 0, DateTimeKind.Utc);
        for (int i = 0; i < 3000; i++)
        {
            if (i % 100 == 50) text.Append("not a flow ").Append(i).Append('\n');
            if (i % 400 == 10) text.Append("{\"start\":\"1969-06-01T00:00:00Z\",\"src_ip\":\"10.0.0.1\",\"dst_ip\":\"10.0.0.2\",\"src_port\":40000,\"dst_port\":80,\"proto\":\"TCP\",\"bytes\":1,\"packets\":1}\n");
            text.Append(CultureInfo.InvariantCulture,
                $"{{\"start\":\"{start.AddSeconds(i):yyyy-MM-ddTHH:mm:ssZ}\",\"src_ip\":\"10.244.0.{15 + i % 3}\",\"dst_ip\":\"10.244.0.20\",\"src_port\":{40000 + i},\"dst_port\":3550,\"proto\":\"TCP\",\"bytes\":{100 + i},\"packets\":1}}\n");
        }
        await File.WriteAllTextAsync(file, text.ToString());
        using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Partitions = 4, Topics = [Topic] });
        IngestTestData.Produce(cluster.BootstrapServers, Topic, [file]);

        int port = FreePort();
        using var ingest = Start(
            "ingest", "--brokers", cluster.BootstrapServers, "--topic", Topic, "--clickhouse", Server.Url.ToString(), "--database", Db.Database,
            "--group", "g-metrics", "--workers", "2", "--batch-interval", "0.3", "--rollup-interval", "0",
            "--metrics-listen", $"127.0.0.1:{port}");
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(5) };
            var samples = await IngestTestData.EventuallyAsync(() => ScrapeAsync(http),
                // The lag gauge is a sample the consumer takes about once a second, so a fast run can store every flow
                // before the first sample of an assigned partition: wait for it too instead of racing it.
                s => s.Value("flowpolicy_ingest_flows_stored_total") >= 3000 && s.Value("flowpolicy_ingest_dead_letters_total", ("reason", "decode")) >= 30 &&
                     s.Any(x => x.Name == "flowpolicy_ingest_partition_lag" && x.Labels.ContainsKey("partition")),
                TimeSpan.FromSeconds(90));
            foreach (var family in samples.GroupBy(s => s.Name)) output.WriteLine($"{family.Key}: {string.Join(", ", family.Select(s => s.Value))}");

            Assert.Equal(3000, samples.Value("flowpolicy_ingest_flows_stored_total"));
            Assert.Equal(30, samples.Value("flowpolicy_ingest_dead_letters_total", ("reason", "decode")));
            Assert.Equal(8, samples.Value("flowpolicy_ingest_dead_letters_total", ("reason", "time_out_of_range")));
            Assert.Equal(0, samples.Value("flowpolicy_ingest_dead_letters_total", ("reason", "internal")));
            // The scrape agrees with the tables it counts.
            Assert.Equal(3000, await IngestTestData.CountAsync(Db, FlowTables.Flows));
            Assert.Equal(38, await IngestTestData.CountAsync(Db, FlowTables.DeadLetters));
            Assert.Equal(0, samples.Value("flowpolicy_ingest_insert_failures_total", ("table", "flows")));
            // One message per line (the producer sends line-oriented JSON line by line, without the newline).
            Assert.Equal(3038, samples.Value("flowpolicy_ingest_messages_total"));
            Assert.Equal(new FileInfo(file).Length - 3038, samples.Value("flowpolicy_ingest_received_bytes_total"));
            Assert.Equal(4, samples.Value("flowpolicy_ingest_partitions_assigned"));
            Assert.True(samples.Value("flowpolicy_ingest_insert_duration_seconds_count", ("table", "flows")) >= 1);
            Assert.True(samples.Value("flowpolicy_ingest_rebalances_total", ("kind", "assigned")) >= 1);
            Assert.Contains(samples, s => s.Name == "flowpolicy_ingest_partition_lag" && s.Labels.ContainsKey("partition"));
            output.WriteLine($"{samples.Count} samples; batches {samples.Value("flowpolicy_ingest_batches_total")}");
        }
        finally
        {
            ingest.Kill(entireProcessTree: true);
            await ingest.WaitForExitAsync();
        }
    }

    [Fact]
    public void The_parser_rejects_what_Prometheus_would()
    {
        var good = PrometheusText.Parse("# HELP a_total A thing\n# TYPE a_total counter\na_total{x=\"q\\\"\\\\\\n\",y=\"2\"} 3 1700000000000\n" +
                                        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 0.5\nh_count 1\n");
        Assert.Equal("q\"\\\n", good[0].Labels["x"]);
        Assert.Equal(1, good.Value("h_count"));
        Assert.Throws<FormatException>(() => PrometheusText.Parse("a 1\n")); // no TYPE
        Assert.Throws<FormatException>(() => PrometheusText.Parse("# TYPE a gauge\na{x=\"1\"} one\n"));
        Assert.Throws<FormatException>(() => PrometheusText.Parse("# TYPE a gauge\na{x=1} 1\n"));
        Assert.Throws<FormatException>(() => PrometheusText.Parse("# TYPE a gauge\na{x=\"1\"} 1\na{x=\"1\"} 2\n"));
        Assert.Throws<FormatException>(() => PrometheusText.Parse("# TYPE h histogram\nh_bucket 1\n"));
        Assert.Throws<FormatException>(() => PrometheusText.Parse("# TYPE a gauge\n# TYPE a counter\n"));
        Assert.Throws<FormatException>(() => PrometheusText.Parse("# TYPE 1a gauge\n"));
    }

    private static async Task<IReadOnlyList<PrometheusSample>> ScrapeAsync(HttpClient http)
    {
        try
        {
            using var response = await http.GetAsync("metrics");
            if (response.StatusCode != HttpStatusCode.OK) return [];
            Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType);
            return PrometheusText.Parse(await response.Content.ReadAsStringAsync());
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return []; // not listening yet
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private Process Start(params string[] args)
    {
        var process = Process.Start(IngestTestData.CliStart(args))!;
        process.OutputDataReceived += (_, e) => Log(e.Data);
        process.ErrorDataReceived += (_, e) => Log(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private void Log(string? line)
    {
        if (line is null) return;
        try { output.WriteLine(line); }
        catch (InvalidOperationException) { }
    }
}
