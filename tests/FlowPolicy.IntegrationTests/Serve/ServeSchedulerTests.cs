using System.Globalization;
using System.Net;
using FlowPolicy.Cli.Commands;
using FlowPolicy.Cli.Serve;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Ingest.Kafka;
using FlowPolicy.IntegrationTests.Infrastructure;
using FlowPolicy.IntegrationTests.Ingest;
using FlowPolicy.LocalServers.Kafka;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace FlowPolicy.IntegrationTests.Serve;

/// <summary>
/// `serve` end to end on second-level schedules against a real ClickHouse and the mock broker: every window of every
/// job runs exactly once across a restart (missed ones caught up), a failing job is retried with backoff and blocks
/// no other job, ingest stores the produced flows, and the HTTP endpoint answers. The schedule runs on an injected
/// clock (<see cref="FakeTimeProvider"/>, Quartz included) moved a second at a time: the test waits for work (ClickHouse,
/// Kafka), never for the schedule, and the downtime between the two runs costs no time.
/// </summary>
[Collection(ClickHouseAloneCollection.Name)] // its /metrics scrape must see only this host's ingest worker
public sealed class ServeSchedulerTests(ClickHouseServerFixture server, ITestOutputHelper output) : ClickHouseTest<ClickHouseServerFixture>(server), IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "flowpolicy-serve-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Every_window_runs_once_across_a_restart_and_a_failing_job_blocks_no_other()
    {
        using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Partitions = 4, Topics = ["flows"] });
        var files = SampleCommand.Write(Path.Combine(_dir, "sample"), SampleCommand.DefaultStart, days: 1, seed: 3, rate: 1);
        var produced = await new FlowFileProducer(new KafkaOptions { Brokers = cluster.BootstrapServers, Topic = "flows" }, _ => true).ProduceAsync(files.FlowFiles);
        Assert.Equal(0, produced.Failed);
        // An intended policy, so an analyze job runs too (its duration is one of the metrics scraped below).
        Directory.CreateDirectory(Path.Combine(_dir, "intent"));
        await File.WriteAllTextAsync(Path.Combine(_dir, "intent", "default-deny.yaml"), """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: { name: default-deny, namespace: shop }
            spec: { podSelector: {}, policyTypes: [Ingress] }
            """);

        var yaml = string.Create(CultureInfo.InvariantCulture, $$"""
            kafka: { brokers: "{{cluster.BootstrapServers}}", topic: flows, group: serve-test, properties: { session.timeout.ms: "6000" } }
            clickhouse: { url: "{{Server.Url}}", database: "{{Db.Database}}" }
            ingest: { workers: 1, batch_interval: 500ms }
            inventory: [ "{{string.Join("\", \"", files.InventoryFiles)}}" ]
            output: "{{_dir}}/reports"
            intent: "{{_dir}}/intent"
            http: { port: 0 }
            retry: { attempts: 2, backoff: 300ms, max_backoff: 1s }
            jobs:
              rollup: { schedule: "* * * * * ?" }
              suggest: { schedule: "*/2 * * * * ?", window: 1h, emit: [k8s, json], allow_empty: true }   # the sample is weeks old: empty windows
              analyze: { schedule: "0 0 0 1 1 ? 2099", window: 1h }   # run by hand below, while the clock stands still
              flaky: { kind: retention, schedule: "*/2 * * * * ?" }
            """);
        var configPath = Path.Combine(_dir, "flowpolicy.yaml");
        await File.WriteAllTextAsync(configPath, yaml);
        var config = ServeConfig.Load(configPath);
        config.Validate();
        int flakyCalls = 0;
        IScheduledJob? Override(JobConfig job) => job.Name == "flaky" ? new FailingJob(job, () => Interlocked.Increment(ref flakyCalls)) : null;
        using var logs = IngestWorkerTests.TestLogs(output);
        var store = new JobRunStore(Db);
        // Whole seconds + 0.5: every cron fire and window end is a whole second, never the clock's reading itself.
        var wall = DateTimeOffset.UtcNow;
        var time = new FakeTimeProvider(new DateTimeOffset(wall.Ticks - wall.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero).AddMilliseconds(500));
        DateTime Now() => time.GetUtcNow().UtcDateTime;
        DateTime LastWholeSecond() => new(Now().Ticks - Now().Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);

        // One second on the clock: the rollup job (every second) records its window, which is how the test knows the
        // scheduler acted on the tick; suggest and the failing job fire on the same ticks.
        async Task TickAsync()
        {
            time.Advance(TimeSpan.FromSeconds(1));
            var end = LastWholeSecond();
            await WaitAsync(async () => await LastSucceededEndAsync("rollup") >= end, TimeSpan.FromSeconds(30));
        }

        // First run: a few rollup windows, and until ingest has taken in every flow.
        await using (var host = new ServeHost(config, logs, Override, time))
        {
            await host.StartAsync(default);
            using var http = new HttpClient { BaseAddress = new Uri(host.HttpAddress!) };
            Assert.Equal("ok\n", await http.GetStringAsync("/healthz"));
            for (int i = 0; i < 4; i++) await TickAsync();
            var rollups = await SucceededAsync("rollup");
            Assert.True(rollups >= 3, $"{rollups} rollup windows after 4 ticks");
            await WaitAsync(async () => await SucceededAsync("suggest") >= 1 && host.Ingest!.Metrics.Messages >= produced.Delivered, TimeSpan.FromSeconds(40));
            // One analyze window through serve's own runner. Not on the schedule: on ClickHouse 18.16 its SLI tables'
            // create/drop makes a concurrent rollup's system.tables read fail now and then (retried, but then a rollup
            // attempt is recorded failed, and this test asserts none is).
            var window = new JobWindow(LastWholeSecond().AddHours(-1), LastWholeSecond());
            Assert.Equal(JobOutcome.Succeeded, await host.Scheduler.Jobs.Single(r => r.Name == "analyze").RunWindowAsync(window, "manual", default));
            await WaitAsync(async () => (await http.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(20));
            Assert.Contains("\"rollup\"", await http.GetStringAsync("/jobs"));
            // /metrics: the scheduler's and ingest's instruments, in the names the alert rules (deploy/prometheus) use.
            var metrics = PrometheusText.Parse(await http.GetStringAsync("/metrics"));
            AtLeast(1, metrics, "flowpolicy_job_runs_total", ("job", "rollup"), ("outcome", "succeeded"));
            Assert.Contains(metrics, m => m.Name == "flowpolicy_job_last_success_seconds" && m.Labels["job"] == "rollup");
            AtLeast(1, metrics, "flowpolicy_job_duration_seconds_count", ("job", "rollup"), ("outcome", "succeeded"));
            AtLeast(produced.Delivered, metrics, "flowpolicy_ingest_messages_total");
            Assert.Equal(1, metrics.Value("flowpolicy_inventory_reloads_total"));
            // Issue 20's list: job runs by outcome (the failing job's too) and retries, suggest and analyze durations, and
            // the edge source's queries the two jobs made.
            AtLeast(1, metrics, "flowpolicy_job_runs_total", ("job", "flaky"), ("outcome", "failed"));
            AtLeast(1, metrics, "flowpolicy_job_retries_total", ("job", "flaky"));
            AtLeast(1, metrics, "flowpolicy_suggest_duration_seconds_count");
            AtLeast(1, metrics, "flowpolicy_analyze_duration_seconds_count");
            Assert.Equal(1, metrics.Value("flowpolicy_job_duration_seconds_count", ("job", "analyze"), ("outcome", "succeeded")));
            AtLeast(2, metrics, "flowpolicy_edges_query_duration_seconds_count", ("query", "edges"));
            await WaitAsync(async () => (await http.GetAsync("/reports/latest")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(20));
            await host.StopAsync();
        }
        var stopped = Now();
        time.Advance(TimeSpan.FromSeconds(4)); // downtime: windows are missed

        // Second run: catches up, then keeps going.
        await using (var host = new ServeHost(config, logs, Override, time))
        {
            await host.StartAsync(default);
            var restarted = Now();
            for (int i = 0; i < 4; i++) await TickAsync();
            await WaitAsync(async () => (await LastSucceededEndAsync("rollup")) >= restarted.AddSeconds(3) && (await LastSucceededEndAsync("suggest")) >= restarted.AddSeconds(2), TimeSpan.FromSeconds(30));
            // Whatever the first run had not stored when it stopped, this run stores (once: asserted below). It may get its
            // partitions only after the broker's session timeout (static membership on the mock), so wait for the rows.
            var records = files.Records.ToString(CultureInfo.InvariantCulture);
            await WaitAsync(async () => await Db.QueryScalarAsync($"SELECT count() FROM {FlowTables.Flows}") == records, TimeSpan.FromSeconds(45));
            await host.StopAsync();
        }

        foreach (var job in new[] { "rollup", "suggest" })
        {
            var runs = (await store.RecentAsync(job, 10_000, default)).Where(r => r.Status == JobRunStore.Succeeded).OrderBy(r => r.Window.End).ToList();
            output.WriteLine($"{job}: {runs.Count} windows {runs[0].Window} .. {runs[^1].Window}; triggers {string.Join(",", runs.GroupBy(r => r.Trigger).Select(g => $"{g.Key}={g.Count()}"))}");
            Assert.Equal(runs.Count, runs.Select(r => r.Window.End).Distinct().Count()); // no window twice
            for (int i = 1; i < runs.Count; i++)
                Assert.True(runs[i].Window.Start == runs[i - 1].Window.End, $"{job}: gap or overlap between {runs[i - 1].Window} and {runs[i].Window}");
            Assert.Contains(runs, r => r.Window.End > stopped.AddSeconds(1) && r.Window.End < stopped.AddSeconds(4) && r.Trigger == "catch-up");
            // On the injected clock the catch-up is exact: every window that ended while serve was down, no other.
            var downtime = Enumerable.Range(1, 4).Select(s => new DateTime(stopped.Ticks - stopped.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc).AddSeconds(s));
            Assert.Equal(job == "rollup" ? downtime : downtime.Where(end => end.Second % 2 == 0), runs.Where(r => r.Trigger == "catch-up").Select(r => r.Window.End));
            Assert.Equal(runs.Count, (await store.RecentAsync(job, 10_000, default)).Count); // nothing failed
        }

        // The failing job: every attempt recorded, retried once per window, never a success; the others went on (above).
        var flaky = await store.RecentAsync("flaky", 10_000, default);
        Assert.NotEmpty(flaky);
        Assert.All(flaky, r => Assert.Equal(JobRunStore.Failed, r.Status));
        Assert.Contains(flaky, r => r.Attempt == 2);
        Assert.Contains("disk on fire", flaky[0].Error);
        Assert.Equal(flakyCalls, flaky.Count);

        // Ingest ran in the same host: the produced flows are stored once.
        Assert.Equal(files.Records.ToString(CultureInfo.InvariantCulture), await Db.QueryScalarAsync($"SELECT count() FROM {FlowTables.Flows}"));
        Assert.True(Directory.GetDirectories(Path.Combine(_dir, "reports", "suggest")).All(d => File.Exists(Path.Combine(d, "report.html"))));
    }

    /// <summary>The scraped value is at least <paramref name="min"/>; a failure names the metric, its labels and the value.</summary>
    private static void AtLeast(double min, IReadOnlyList<PrometheusSample> metrics, string name, params (string Key, string Value)[] labels)
    {
        double value = metrics.Value(name, labels);
        Assert.True(value >= min, $"{name}{{{string.Join(",", labels.Select(l => $"{l.Key}={l.Value}"))}}} = {value}, expected at least {min}");
    }

    private async Task<int> SucceededAsync(string job) =>
        int.Parse(await Db.QueryScalarAsync($"SELECT count() FROM {FlowTables.JobRuns} WHERE job = '{job}' AND status = 'succeeded'") ?? "0", CultureInfo.InvariantCulture);

    private async Task<DateTime> LastSucceededEndAsync(string job) =>
        DateTime.UnixEpoch.AddSeconds(long.Parse(await Db.QueryScalarAsync($"SELECT toUnixTimestamp(max(window_end)) FROM {FlowTables.JobRuns} WHERE job = '{job}' AND status = 'succeeded'") ?? "0", CultureInfo.InvariantCulture));

    private static async Task WaitAsync(Func<Task<bool>> condition, TimeSpan limit)
    {
        var until = DateTime.UtcNow + limit;
        while (!await condition())
        {
            if (DateTime.UtcNow > until) throw new TimeoutException($"condition not met within {limit.TotalSeconds} s");
            await Task.Delay(250);
        }
    }

    private sealed class FailingJob(JobConfig config, Action called) : IScheduledJob
    {
        public JobConfig Config => config;

        public Task<string> RunAsync(JobWindow window, CancellationToken cancellationToken)
        {
            called();
            throw new IOException("disk on fire");
        }
    }
}
