using System.Diagnostics;
using System.Text;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.IntegrationTests.Infrastructure;
using FlowPolicy.LocalServers.ClickHouse;
using FlowPolicy.LocalServers.Kafka;
using Xunit.Abstractions;

namespace FlowPolicy.IntegrationTests.Ingest;

/// <summary>
/// `flowpolicy ingest` as a child process, killed with SIGKILL in the middle of batches and restarted, with its
/// ClickHouse stopped and restarted on the same data and port while it runs. Its own ClickHouse server (this test
/// stops it); in the ClickHouse collection so it does not compete with the other server tests for the two cores.
/// </summary>
[Collection(ClickHouseCollection.Name)]
public sealed class IngestCrashTests(ITestOutputHelper output)
{
    private const string Topic = "flows";

    [Fact]
    public async Task Killed_workers_and_a_clickhouse_outage_neither_lose_nor_duplicate_a_flow()
    {
        using var data = IngestTestData.Create(sampleRate: 20, canonicalLines: 8_000);
        await using var clickhouse = await LocalClickHouseServer.StartAsync();
        using var db = new ClickHouseHttpClient(clickhouse.ClientOptions("crash_test"));
        var migrate = IngestTestData.RunCli("migrate", "--clickhouse", clickhouse.Url.ToString(), "--database", "crash_test");
        Assert.True(migrate.ExitCode == 0, migrate.Stderr);
        Assert.Contains("applied: create table flows", migrate.Stdout);
        using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Partitions = 12, Topics = [Topic] });
        IngestTestData.Produce(cluster.BootstrapServers, Topic, data.FlowFiles);

        string[] args =
        [
            "ingest", "--brokers", cluster.BootstrapServers, "--topic", Topic, "--clickhouse", clickhouse.Url.ToString(), "--database", "crash_test",
            "--group", "g-crash", "--workers", "2", "--batch-rows", "700", "--batch-interval", "0.3", "--rollup-interval", "2", "--metrics-interval", "2",
            "--inventory", data.InventoryFiles[0], data.InventoryFiles[1], "--kafka-property", "session.timeout.ms=6000",
        ];
        long total = data.ExpectedFlows + data.ExpectedRejects;
        Task<long> Stored() => SafeCountAsync(db);

        // Three SIGKILLs, each after the worker has stored more rows (so mid-stream, with batches in flight).
        foreach (var fraction in new[] { 0.15, 0.35, 0.55 })
        {
            using var worker = Start(args);
            var before = await Stored();
            await IngestTestData.EventuallyAsync(Stored, n => n >= total * fraction && n > before, TimeSpan.FromSeconds(90));
            worker.Kill(entireProcessTree: true);
            await worker.WaitForExitAsync();
            output.WriteLine($"killed at {await Stored()} of {total}");
        }

        // ClickHouse goes away for a while in the middle of ingest, then comes back on the same data and port.
        using (var worker = Start(args))
        {
            // This worker must have stored rows itself (so it is past its schema check and mid-stream) before the
            // outage: a fast earlier worker may already have passed 70% before it was killed.
            var before = await Stored();
            await IngestTestData.EventuallyAsync(Stored, n => n >= total * 0.7 && n > before, TimeSpan.FromSeconds(90));
            await clickhouse.StopAsync();
            output.WriteLine("ClickHouse stopped");
            await Task.Delay(TimeSpan.FromSeconds(4));
            Assert.False(worker.HasExited, "the worker survives a ClickHouse outage");
            await clickhouse.RestartAsync();
            output.WriteLine("ClickHouse restarted");
            var stored = await IngestTestData.EventuallyAsync(Stored, n => n >= total, TimeSpan.FromSeconds(90));
            Assert.Equal(total, stored);
            await IngestTestData.EventuallyAsync(() => IngestTestData.CountAsync(db, FlowTables.L7), n => n >= data.ExpectedL7Rows, TimeSpan.FromSeconds(30));
            // Graceful stop: SIGTERM flushes, rebuilds rollups (this worker holds partition 0), leaves the group, exits 0.
            Assert.Equal(0, kill(worker.Id, 15));
            Assert.True(worker.WaitForExit(TimeSpan.FromSeconds(60)), "the worker exits after SIGTERM");
            Assert.Equal(0, worker.ExitCode);
        }

        Assert.Equal((data.ExpectedFlows, data.ExpectedRejects),
            (await IngestTestData.CountAsync(db, FlowTables.Flows), await IngestTestData.CountAsync(db, FlowTables.DeadLetters)));
        Assert.Equal(0, await IngestTestData.DuplicatesAsync(db, FlowTables.Flows));
        Assert.Equal(0, await IngestTestData.DuplicatesAsync(db, FlowTables.DeadLetters));
        // The Hubble file's L7 records (gRPC calls, DNS answers) ride the same batches, stored before their flows.
        Assert.True(data.ExpectedL7Rows > 100, $"only {data.ExpectedL7Rows} L7 rows in the sample");
        Assert.Equal(data.ExpectedL7Rows, await IngestTestData.CountAsync(db, FlowTables.L7));
        Assert.Equal(0, await IngestTestData.DuplicatesAsync(db, FlowTables.L7));
        output.WriteLine($"{data.ExpectedFlows} flows, {data.ExpectedRejects} dead letters, {data.ExpectedL7Rows} L7 rows stored exactly once");
        Assert.Equal(data.ExpectedPairs.OrderBy(p => p.Key), (await IngestTestData.StoredPairsAsync(db)).OrderBy(p => p.Key));
        var (raw, hourly, daily) = await IngestTestData.RollupTotalsAsync(db);
        Assert.Equal(raw, hourly);
        Assert.Equal(raw, daily);
    }

    private Process Start(string[] args)
    {
        var process = Process.Start(IngestTestData.CliStart(args))!;
        var log = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) Log(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Log(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private void Log(string line)
    {
        try { output.WriteLine(line); }
        catch (InvalidOperationException) { }
    }

    private static async Task<long> SafeCountAsync(ClickHouseHttpClient db)
    {
        try
        {
            return await IngestTestData.CountAsync(db, FlowTables.Flows) + await IngestTestData.CountAsync(db, FlowTables.DeadLetters);
        }
        catch (Exception e) when (e is HttpRequestException or ClickHouseServerException or TimeoutException)
        {
            return -1;
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}
