using FlowPolicy.Cli.Serve;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.IntegrationTests.Infrastructure;
using FlowPolicy.IntegrationTests.Ingest;
using Xunit.Abstractions;

namespace FlowPolicy.IntegrationTests.Serve;

/// <summary>
/// A scheduled suggest window with no flows (ingest stopped, a source gone) against a real ClickHouse: no report
/// folder, a `skipped` row in job_runs with the reason, and the window counts as done (not retried every fire).
/// </summary>
public sealed class SkippedWindowTests(ClickHouseServerFixture server, ITestOutputHelper output) : ClickHouseTest(server), IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "flowpolicy-skip-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task An_empty_suggest_window_is_recorded_as_skipped_with_its_reason_and_writes_no_report()
    {
        await SchemaMigrator.MigrateAsync(Db);
        var config = ServeConfig.Parse("jobs:\n  suggest: {schedule: \"0 0 0 * * ?\", window: 24h}\n");
        config.Output = _dir;
        using var logs = IngestWorkerTests.TestLogs(output);
        var job = new ScheduledJobFactory(config, Db, logs).Create(config.Job("suggest"));
        var runner = new JobRunner(job, Db, new RetryPolicy(3, TimeSpan.Zero, TimeSpan.Zero), 10, logs.CreateLogger("test"));
        var window = new JobWindow(new DateTime(2026, 11, 2, 0, 0, 0, DateTimeKind.Utc), new DateTime(2026, 11, 3, 0, 0, 0, DateTimeKind.Utc));

        Assert.Equal(JobOutcome.Skipped, await runner.RunWindowAsync(window, "manual", default));

        var run = Assert.Single(await new JobRunStore(Db).RecentAsync("suggest", 10, default)); // one attempt: not retried
        Assert.Equal(JobRunStore.Skipped, run.Status);
        Assert.Equal("", run.Error);
        Assert.Contains("the suggestion has no rules (0 edges in", run.Summary);
        Assert.Contains("allow_empty: true", run.Summary);
        Assert.Equal(1, runner.Metrics.Skipped);
        Assert.Equal(0, runner.Metrics.Failed);
        Assert.False(Directory.Exists(Path.Combine(_dir, "suggest")) && Directory.EnumerateFileSystemEntries(Path.Combine(_dir, "suggest")).Any());
        // Done for the scheduler: catch-up does not run it again at every fire.
        Assert.Contains(window.End, await new JobRunStore(Db).SucceededEndsAsync("suggest", window.Start, default));
    }
}
