using System.Diagnostics;
using FlowPolicy.ClickHouse;
using Microsoft.Extensions.Logging;

namespace FlowPolicy.Cli.Serve;

public sealed class JobRunnerMetrics
{
    public long Succeeded;
    public long Failed;
    public long Retries;
    /// <summary>Windows a job declined to write (an empty window: the latest report keeps its policies).</summary>
    public long Skipped;
    public long SkippedTooOld;
    public DateTime? LastSuccess;
}

/// <summary>How a window's run ended.</summary>
internal enum JobOutcome
{
    Succeeded,
    /// <summary>The job declined the window with a reason (<see cref="JobSkippedException"/>): recorded, done, not retried.</summary>
    Skipped,
    /// <summary>Failed after every attempt; tried again at the next fire.</summary>
    Failed,
}

/// <summary>
/// Thrown by a job that looked at its window and decided to write nothing (a suggest window without flows must not
/// become the latest report with no policies). The run is recorded as skipped with the reason, and not retried.
/// </summary>
internal sealed class JobSkippedException(string reason) : Exception(reason);

/// <summary>Retry policy for one window: attempts with doubling backoff, capped.</summary>
internal sealed record RetryPolicy(int Attempts, TimeSpan Backoff, TimeSpan MaxBackoff)
{
    public TimeSpan Delay(int failedAttempt) =>
        TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, Backoff.Ticks * (1L << Math.Min(30, failedAttempt - 1))));
}

/// <summary>
/// Runs one job's due windows: asks job_runs what succeeded, plans the windows (<see cref="CronWindows.Plan"/>),
/// runs each oldest first with retries and backoff, and records every attempt. Windows of one job run one at a time
/// (serialised here, not only by Quartz), and a job's failure never stops another job: each job has its own runner.
/// A window that still fails after its attempts is recorded as failed and tried again at the next fire.
/// </summary>
internal sealed class JobRunner
{
    private readonly IScheduledJob _job;
    private readonly JobRunStore _store;
    private readonly CronWindows _windows;
    private readonly RetryPolicy _retry;
    private readonly int _maxWindows;
    private readonly ILogger _log;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly DateTime _firstSeen;

    public JobRunner(IScheduledJob job, ClickHouseHttpClient client, RetryPolicy retry, int maxWindows, ILogger log, DateTime? now = null)
    {
        _job = job;
        _store = new JobRunStore(client);
        _windows = new CronWindows(job.Config.Schedule);
        _retry = retry;
        _maxWindows = maxWindows;
        _log = log;
        _firstSeen = now ?? DateTime.UtcNow;
    }

    public string Name => _job.Config.Name;
    public JobRunnerMetrics Metrics { get; } = new();
    public CronWindows Windows => _windows;
    public static string Host { get; } = $"{Environment.MachineName}/{Environment.ProcessId}";

    /// <summary>Runs every due window up to <paramref name="now"/>; returns how many succeeded.</summary>
    public async Task<int> RunDueAsync(DateTime now, string trigger, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Horizon: the first window ever recorded, else when this process first saw the job: a new job does not
            // backfill history, an existing one catches up on everything since it last ran.
            var first = await _store.FirstWindowEndAsync(Name, cancellationToken).ConfigureAwait(false);
            var horizon = first is { } f ? f.AddTicks(-1) : _firstSeen;
            var done = await _store.SucceededEndsAsync(Name, horizon, cancellationToken).ConfigureAwait(false);
            var plan = _windows.Plan(horizon, now, done, _maxWindows);
            if (plan.SkippedTooOld > 0)
            {
                Metrics.SkippedTooOld += plan.SkippedTooOld;
                _log.LogWarning("Job {Job}: {Count} missed windows are older than catch_up.max_windows ({Max}) and are not run", Name, plan.SkippedTooOld, _maxWindows);
            }
            if (plan.Due.Count > 1) _log.LogInformation("Job {Job}: catching up {Count} windows", Name, plan.Due.Count);
            int succeeded = 0;
            foreach (var window in plan.Due)
                if (await RunWindowAsync(window, plan.Due.Count > 1 && window != plan.Due[^1] ? "catch-up" : trigger, cancellationToken).ConfigureAwait(false) == JobOutcome.Succeeded)
                    succeeded++;
            return succeeded;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Runs one window now (operators: `jobs run`), with the same retries and records.</summary>
    public async Task<JobOutcome> RunWindowAsync(JobWindow window, string trigger, CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            var started = DateTime.UtcNow;
            var clock = Stopwatch.StartNew();
            string? error = null, summary = "";
            bool skipped = false;
            try
            {
                summary = await _job.RunAsync(window, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw; // stopping: nothing recorded, so the window runs again after the restart
            }
            catch (JobSkippedException e)
            {
                skipped = true;
                summary = e.Message;
            }
            catch (Exception e)
            {
                error = e.GetType().Name + ": " + e.Message;
            }
            var status = skipped ? JobRunStore.Skipped : error is null ? JobRunStore.Succeeded : JobRunStore.Failed;
            await RecordAsync(new JobRun(Name, window, status, attempt, started, DateTime.UtcNow, trigger, Host, error ?? "", summary), cancellationToken).ConfigureAwait(false);
            if (skipped)
            {
                // Not a failure to retry: the same window gives the same answer. Logged as a warning, since an operator
                // should look at why a window had nothing (ingest stopped? a source gone?).
                Metrics.Skipped++;
                _log.LogWarning("Job {Job} window {Window} ({Trigger}) skipped: {Reason}", Name, window.ToString(), trigger, summary);
                return JobOutcome.Skipped;
            }
            if (error is null)
            {
                Metrics.Succeeded++;
                Metrics.LastSuccess = DateTime.UtcNow;
                _log.LogInformation("Job {Job} window {Window} ({Trigger}) succeeded in {Millis} ms: {Summary}", Name, window.ToString(), trigger, clock.ElapsedMilliseconds, summary);
                return JobOutcome.Succeeded;
            }
            Metrics.Failed++;
            if (attempt >= _retry.Attempts)
            {
                _log.LogError("Job {Job} window {Window} failed {Attempts} times, last: {Error}; tried again at the next fire", Name, window.ToString(), attempt, error);
                return JobOutcome.Failed;
            }
            Metrics.Retries++;
            var delay = _retry.Delay(attempt);
            _log.LogWarning("Job {Job} window {Window} attempt {Attempt} failed: {Error}; retrying in {Delay}", Name, window.ToString(), attempt, error, delay);
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task RecordAsync(JobRun run, CancellationToken cancellationToken)
    {
        // The record is what makes a window done; if ClickHouse refuses it, retry briefly, then let the fire fail
        // (the window runs again next time: jobs are idempotent, a rerun replaces its output).
        for (int i = 0; ; i++)
        {
            try
            {
                await _store.RecordAsync(run, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (i < 4 && e is HttpRequestException or ClickHouseServerException or TimeoutException)
            {
                await Task.Delay(TimeSpan.FromSeconds(1 << i), cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
