using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Ingest.Enrichment;
using FlowPolicy.Ingest.Kafka;
using FlowPolicy.Ingest.Workers;
using FlowPolicy.IntegrationTests.Infrastructure;
using FlowPolicy.LocalServers.Kafka;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace FlowPolicy.IntegrationTests.Ingest;

/// <summary>In-process ingest workers against the shared ClickHouse and a mock Kafka cluster per test.</summary>
public sealed class IngestWorkerTests(ClickHouseServerFixture server, ITestOutputHelper output) : ClickHouseTest(server)
{
    private const string Topic = "flows";

    [Fact]
    public async Task A_mixed_topic_lands_exactly_once_with_identities_dead_letters_and_rollups_equal_to_raw()
    {
        using var data = IngestTestData.Create(sampleRate: 70, canonicalLines: 20_000);
        Assert.True(data.ExpectedFlows >= 100_000, $"only {data.ExpectedFlows} flows generated");
        Assert.True(data.ExpectedRejects >= 300, $"only {data.ExpectedRejects} malformed records generated");
        await SchemaMigrator.MigrateAsync(Db);
        using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Partitions = 16, Topics = [Topic] });
        await using var inventory = new InventoryWatcher(new InventoryWatcherOptions { Paths = data.InventoryFiles });
        await inventory.StartAsync();
        using var logs = TestLogs(output);
        var worker = new IngestWorker(KafkaOptions(cluster, "g-mixed"), Db,
            new IngestWorkerOptions { Lanes = 2, BatchRows = 20_000, BatchInterval = TimeSpan.FromMilliseconds(500), RollupInterval = TimeSpan.FromSeconds(3), MetricsInterval = TimeSpan.FromSeconds(5) },
            inventory, logs);
        using var stop = new CancellationTokenSource();
        var running = worker.RunAsync(stop.Token);

        // Produced while the worker consumes, so the mock's ~5 MB per partition never drops anything unread.
        await Task.Run(() => IngestTestData.Produce(cluster.BootstrapServers, Topic, data.FlowFiles));
        var stored = await IngestTestData.EventuallyAsync(
            async () => (await IngestTestData.CountAsync(Db, FlowTables.Flows), await IngestTestData.CountAsync(Db, FlowTables.DeadLetters)),
            c => c.Item1 >= data.ExpectedFlows && c.Item2 >= data.ExpectedRejects, TimeSpan.FromSeconds(150));
        await stop.CancelAsync();
        await running;

        Assert.Equal((data.ExpectedFlows, data.ExpectedRejects),
            (await IngestTestData.CountAsync(Db, FlowTables.Flows), await IngestTestData.CountAsync(Db, FlowTables.DeadLetters)));
        Assert.Equal(0, await IngestTestData.DuplicatesAsync(Db, FlowTables.Flows));
        Assert.Equal(0, await IngestTestData.DuplicatesAsync(Db, FlowTables.DeadLetters));
        Assert.Equal(data.ExpectedL7Rows, await IngestTestData.CountAsync(Db, FlowTables.L7));
        Assert.Equal(data.ExpectedL7Rows, worker.Metrics.L7Rows);
        Assert.Equal(0, await IngestTestData.DuplicatesAsync(Db, FlowTables.L7));
        Assert.Equal(data.ExpectedPairs.OrderBy(p => p.Key), (await IngestTestData.StoredPairsAsync(Db)).OrderBy(p => p.Key));
        // The VPC batch that crosses midnight was split into two inserts and both halves are there.
        Assert.Equal(3000, await IngestTestData.CountAsync(Db, FlowTables.Flows, "reporter = 'eni-0abc'"));
        Assert.True(await IngestTestData.CountAsync(Db, FlowTables.Flows, "reporter = 'eni-0abc' AND toDate(start) = '2026-11-04'") > 0);
        Assert.True(await IngestTestData.CountAsync(Db, FlowTables.Flows, "reporter = 'eni-0abc' AND toDate(start) = '2026-11-03'") > 0);
        Assert.True(await IngestTestData.CountAsync(Db, FlowTables.DeadLetters, "line > 1 AND format = 'vpc'") > 0, "dead letters inside VPC batches carry their line");
        Assert.True(await IngestTestData.CountAsync(Db, FlowTables.Flows, "is_reply = 1") > 0, "the sample's reply records are stored as replies");
        var (raw, hourly, daily) = await IngestTestData.RollupTotalsAsync(Db);
        Assert.Equal(raw, hourly);
        Assert.Equal(raw, daily);
        Assert.True(await IngestTestData.CountAsync(Db, FlowTables.IngestProgress) > 0, "batch statistics are written for dashboards");
        output.WriteLine($"stored {stored}; {worker.Metrics.Batches} batches, max {worker.Metrics.BatchRowsMax} rows, insert max {worker.Metrics.InsertMaxMillis} ms");
    }

    [Fact]
    public async Task Two_workers_in_one_group_split_the_partitions_and_store_every_flow_once()
    {
        using var data = IngestTestData.Create(sampleRate: 15, canonicalLines: 5_000);
        await SchemaMigrator.MigrateAsync(Db);
        using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Partitions = 12, Topics = [Topic] });
        using var logs = TestLogs(output);
        var options = new IngestWorkerOptions { Lanes = 2, BatchRows = 2_000, BatchInterval = TimeSpan.FromMilliseconds(300), RollupInterval = null };
        var first = new IngestWorker(KafkaOptions(cluster, "g-two"), Db, options, null, logs);
        var second = new IngestWorker(KafkaOptions(cluster, "g-two"), Db, options, null, logs);
        using var stop = new CancellationTokenSource();
        var runs = new[] { first.RunAsync(stop.Token), second.RunAsync(stop.Token) };

        var settled = await IngestTestData.EventuallyAsync(() => Task.FromResult((first.AssignedPartitions, second.AssignedPartitions)),
            a => a.Item1.Count > 0 && a.Item2.Count > 0 && a.Item1.Count + a.Item2.Count == 12, TimeSpan.FromSeconds(60));
        Assert.NotEmpty(settled.Item1);
        Assert.NotEmpty(settled.Item2);
        Assert.Empty(settled.Item1.Intersect(settled.Item2));

        await Task.Run(() => IngestTestData.Produce(cluster.BootstrapServers, Topic, data.FlowFiles));
        await IngestTestData.EventuallyAsync(
            async () => (await IngestTestData.CountAsync(Db, FlowTables.Flows), await IngestTestData.CountAsync(Db, FlowTables.DeadLetters)),
            c => c.Item1 >= data.ExpectedFlows && c.Item2 >= data.ExpectedRejects, TimeSpan.FromSeconds(90));
        await stop.CancelAsync();
        await Task.WhenAll(runs);

        Assert.Equal((data.ExpectedFlows, data.ExpectedRejects),
            (await IngestTestData.CountAsync(Db, FlowTables.Flows), await IngestTestData.CountAsync(Db, FlowTables.DeadLetters)));
        Assert.Equal(0, await IngestTestData.DuplicatesAsync(Db, FlowTables.Flows));
        Assert.True(first.Metrics.FlowRows > 0 && second.Metrics.FlowRows > 0, $"both workers stored rows ({first.Metrics.FlowRows}, {second.Metrics.FlowRows})");
        Assert.Equal(data.ExpectedFlows, first.Metrics.FlowRows + second.Metrics.FlowRows);
    }

    internal static KafkaOptions KafkaOptions(MockKafkaCluster cluster, string group)
    {
        var options = new KafkaOptions { Brokers = cluster.BootstrapServers, Topic = Topic, Group = group };
        // The mock keeps a departed member until its session times out; 6 s keeps hand-overs short.
        options.AddProperty("session.timeout.ms=6000");
        return options;
    }

    internal static ILoggerFactory TestLogs(ITestOutputHelper output) =>
        LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Information).AddProvider(new TestOutputLoggerProvider(output)));

    private sealed class TestOutputLoggerProvider(ITestOutputHelper output) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(output);
        public void Dispose() { }

        private sealed class Logger(ITestOutputHelper output) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                try { output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel}: {formatter(state, exception)}"); }
                catch (InvalidOperationException) { } // after the test ended
            }
        }
    }
}
