using FlowPolicy.Cli.Serve;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.IntegrationTests.Infrastructure;
using FlowPolicy.IntegrationTests.Ingest;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace FlowPolicy.IntegrationTests.Serve;

/// <summary>
/// A job's retries on an injected clock (<see cref="FakeTimeProvider"/>): a failing window is retried after exactly its
/// backoff and no sooner, every attempt is recorded with the clock's times, and no test time passes waiting.
/// </summary>
public sealed class JobRetryClockTests(ClickHouseServerFixture server, ITestOutputHelper output) : ClickHouseTest(server)
{
    [Fact]
    public async Task A_failing_window_is_retried_after_exactly_its_backoff_on_the_injected_clock()
    {
        await SchemaMigrator.MigrateAsync(Db);
        var config = ServeConfig.Parse("jobs:\n  flaky: {kind: retention, schedule: \"0 0 * * * ?\"}\n");
        var time = new TimerCountingClock(new DateTimeOffset(2026, 11, 3, 12, 0, 0, TimeSpan.Zero));
        int calls = 0;
        var job = new FailingOnceJob(config.Job("flaky"), () => Interlocked.Increment(ref calls));
        using var logs = IngestWorkerTests.TestLogs(output);
        // Ten minutes, then twenty: no jitter, so the waits are exact.
        var retry = new RetryPolicy(3, TimeSpan.FromMinutes(10), TimeSpan.FromHours(1), Jitter: 0);
        var runner = new JobRunner(job, Db, retry, 10, logs.CreateLogger("test"), time: time);
        var window = new JobWindow(new DateTime(2026, 11, 3, 11, 0, 0, DateTimeKind.Utc), new DateTime(2026, 11, 3, 12, 0, 0, DateTimeKind.Utc));

        var run = runner.RunWindowAsync(window, "manual", default);
        // The runner waits on the fake clock once it has armed a timer there.
        await WaitUntilAsync(() => calls == 1 && runner.Metrics.Retries == 1 && time.Timers == 1);
        time.Advance(TimeSpan.FromMinutes(10) - TimeSpan.FromSeconds(1));
        await Task.Delay(50); // a grace for a wrong early retry to show, not a wait on the job's clock
        Assert.Equal(1, calls); // not a second early
        time.Advance(TimeSpan.FromSeconds(1));
        await WaitUntilAsync(() => calls == 2);
        Assert.Equal(JobOutcome.Succeeded, await run);

        var runs = (await new JobRunStore(Db).RecentAsync("flaky", 10, default)).OrderBy(r => r.Attempt).ToList();
        Assert.Equal([JobRunStore.Failed, JobRunStore.Succeeded], runs.Select(r => r.Status));
        Assert.Equal(new DateTime(2026, 11, 3, 12, 0, 0, DateTimeKind.Utc), runs[0].Started);
        Assert.Equal(new DateTime(2026, 11, 3, 12, 10, 0, DateTimeKind.Utc), runs[1].Started);
        Assert.Equal(new DateTime(2026, 11, 3, 12, 10, 0, DateTimeKind.Utc), runner.Metrics.LastSuccess);
        Assert.Equal((1, 1, 1), (runner.Metrics.Succeeded, runner.Metrics.Failed, runner.Metrics.Retries));
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        // Waits for the runner's own work (ClickHouse round trips), never for the job's clock.
        for (int i = 0; i < 400 && !condition(); i++) await Task.Delay(25);
        Assert.True(condition());
    }

    /// <summary>A fake clock that counts the timers armed on it (Task.Delay on a TimeProvider arms one).</summary>
    private sealed class TimerCountingClock(DateTimeOffset start) : FakeTimeProvider(start)
    {
        private int _timers;
        public int Timers => Volatile.Read(ref _timers);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            // Counted once armed: counted before, a test that saw the count and advanced the clock could do so before the
            // timer existed, which then came due ten minutes after the advanced time and never fired (seen once in CI).
            var timer = base.CreateTimer(callback, state, dueTime, period);
            Interlocked.Increment(ref _timers);
            return timer;
        }
    }

    private sealed class FailingOnceJob(JobConfig config, Func<int> called) : IScheduledJob
    {
        public JobConfig Config => config;

        public Task<string> RunAsync(JobWindow window, CancellationToken cancellationToken) =>
            called() == 1 ? throw new IOException("disk on fire") : Task.FromResult("ok");
    }
}
