using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Quartz;

namespace FlowPolicy.Cli.Serve;

/// <summary>
/// The Quartz scheduler of serve: one cron trigger per job, each fire running the job's due windows through its
/// <see cref="JobRunner"/>. At start every job catches up at once (windows missed while serve was down), without
/// waiting for its next fire. Quartz's own misfire handling is off (DoNothing): catch-up from job_runs covers it,
/// exactly once. Stop waits for running jobs, so a window is either recorded or runs again after the restart; retry
/// waits end at once on stop (their window runs again after the restart). Quartz runs on the scheduler's clock
/// (<see cref="TimeProvider"/>): tests drive the whole schedule with a fake one.
/// </summary>
internal sealed class JobScheduler : IHostedService
{
    private static readonly ConcurrentDictionary<string, (JobRunner Runner, CancellationToken StopWaiting)> Runners = new(StringComparer.Ordinal);
    private const string RunnerKey = "runner";

    private readonly IReadOnlyList<JobRunner> _runners;
    private readonly ILogger _log;
    private readonly string _id = Guid.NewGuid().ToString("N");
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _stopWaiting = new();
    private readonly List<Task> _catchUps = [];
    private readonly JobMetrics? _metrics;
    private readonly TimeProvider _time;
    private IScheduler? _scheduler;

    /// <param name="metrics">Published while the scheduler runs (the runners record into it too); null publishes nothing.</param>
    /// <param name="time">The clock of the triggers, catch-up and next fire times (tests: a fake one); the system clock by default.</param>
    public JobScheduler(IReadOnlyList<JobRunner> runners, ILogger log, JobMetrics? metrics = null, TimeProvider? time = null)
    {
        _runners = runners;
        _log = log;
        _metrics = metrics;
        _time = time ?? TimeProvider.System;
    }

    public bool Started { get; private set; }
    public IReadOnlyList<JobRunner> Jobs => _runners;

    /// <summary>Next fire time per job, for /jobs.</summary>
    public DateTime? NextFire(JobRunner runner) => runner.Windows.Next(_time.GetUtcNow().UtcDateTime);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _metrics?.Publish(_runners);
        var scheduler = await QuartzSchedulerBuilder.Create(q => q.UseDefaultThreadPool(Math.Max(2, _runners.Count + 1)).UseTimeProvider(_time))
            .UseProperties([new("quartz.scheduler.instanceName", "flowpolicy-" + _id)])
            .BuildScheduler(cancellationToken).ConfigureAwait(false);
        foreach (var runner in _runners)
        {
            var key = _id + "/" + runner.Name;
            Runners[key] = (runner, _stopWaiting.Token);
            var job = JobBuilder.Create<FireJob>().WithIdentity(runner.Name).UsingJobData(RunnerKey, key).DisallowConcurrentExecution(true).Build();
            // The trigger computes its fire times on the scheduler's clock too (TriggerBuilder.Create() would use the system clock).
            var trigger = TriggerBuilder.Create(_time).WithIdentity(runner.Name + "-cron").ForJob(job)
                .WithSchedule(CronScheduleBuilder.Create(CronWindows.Parse(runner.Windows.Schedule)).WithMisfireInstruction(CronTriggerMisfireInstruction.DoNothing))
                .Build();
            await scheduler.ScheduleJob(job, trigger, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        // Catch-up covers the windows that ended before this start; the ones after it are the triggers'. Read the clock
        // here, not in the catch-up task: a fire that came first would otherwise be run (and recorded) as catch-up.
        var startedAt = _time.GetUtcNow().UtcDateTime;
        await scheduler.Start(cancellationToken).ConfigureAwait(false);
        _scheduler = scheduler;
        foreach (var runner in _runners)
            _catchUps.Add(Task.Run(() => CatchUpAsync(runner, startedAt)));
        Started = true;
        _log.LogInformation("Scheduler started: {Jobs}", string.Join("; ", _runners.Select(r => $"{r.Name} '{r.Windows.Schedule}' next {NextFire(r):yyyy-MM-ddTHH:mm:ssZ}")));
    }

    private async Task CatchUpAsync(JobRunner runner, DateTime startedAt)
    {
        try
        {
            await runner.RunDueAsync(startedAt, "catch-up", _stopping.Token, _stopWaiting.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _log.LogError("Job {Job}: catch-up failed: {Error}; tried again at the next fire", runner.Name, e.Message);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Started = false;
        // Retry waits end now (a scheduled fire waiting out a long backoff would hold the stop); attempts in progress finish.
        await _stopWaiting.CancelAsync().ConfigureAwait(false);
        if (_scheduler is not null)
            await _scheduler.Shutdown(true, cancellationToken).ConfigureAwait(false);
        // Catch-up runs are waited for too (a window in progress finishes and is recorded).
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_catchUps).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        foreach (var runner in _runners) Runners.TryRemove(_id + "/" + runner.Name, out _);
        _metrics?.Dispose();
        _log.LogInformation("Scheduler stopped");
    }

    /// <summary>What Quartz fires: looks up the job's runner and runs its due windows.</summary>
    internal sealed class FireJob : IJob
    {
        public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
        {
            var key = context.MergedJobDataMap.GetString(RunnerKey);
            if (key is null || !Runners.TryGetValue(key, out var entry)) return;
            try
            {
                // "now" is the scheduled fire time, so a late fire still runs exactly the windows up to it (both on the
                // scheduler's clock).
                var now = (context.ScheduledFireTimeUtc ?? context.FireTimeUtc).UtcDateTime;
                await entry.Runner.RunDueAsync(now, "schedule", cancellationToken, entry.StopWaiting).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }
}
