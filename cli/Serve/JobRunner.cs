using FlowPolicy.ClickHouse;
using Microsoft.Extensions.Logging;

namespace FlowPolicy.Cli.Serve;

/// <summary>
/// Counters of one job's runner (thread-safe): /jobs reads them, and <see cref="JobMetrics"/> publishes them tagged with
/// the job's name.
/// </summary>
internal sealed class JobRunnerMetrics
{
    internal long SucceededField, FailedField, RetriesField, SkippedField, SkippedTooOldField, RecordFailuresField;
    private long _lastSuccessTicks;

    /// <summary>Attempts that succeeded.</summary>
    public long Succeeded => Interlocked.Read(ref SucceededField);
    /// <summary>Attempts that failed (each is retried until the window's attempts are used up).</summary>
    public long Failed => Interlocked.Read(ref FailedField);
    public long Retries => Interlocked.Read(ref RetriesField);
    /// <summary>Windows a job declined to write (an empty window: the latest report keeps its policies).</summary>
    public long Skipped => Interlocked.Read(ref SkippedField);
    /// <summary>Missed windows older than catch_up.max_windows, never run.</summary>
    public long SkippedTooOld => Interlocked.Read(ref SkippedTooOldField);
    /// <summary>Writes to job_runs that failed and were retried.</summary>
    public long RecordFailures => Interlocked.Read(ref RecordFailuresField);
    public DateTime? LastSuccess => Interlocked.Read(ref _lastSuccessTicks) is var t and > 0 ? new DateTime(t, DateTimeKind.Utc) : null;

    internal void Succeed(DateTime at)
    {
        Interlocked.Increment(ref SucceededField);
        Interlocked.Exchange(ref _lastSuccessTicks, at.Ticks);
    }
}

/// <summary>
/// The scheduler's Meter (<see cref="MeterName"/>, docs/metrics.md): job runs by outcome, their duration, retries,
/// windows missed beyond catch-up, failed job_runs writes and the time of each job's last success, tagged with the job.
/// Created by the host, published while the scheduler runs.
/// </summary>
internal sealed class JobMetrics : IDisposable
{
    public const string MeterName = "FlowPolicy.Jobs";

    private System.Diagnostics.Metrics.Meter? _meter;
    private System.Diagnostics.Metrics.Histogram<double>? _duration;

    /// <summary>Publishes the instruments over <paramref name="runners"/> (a second call does nothing).</summary>
    internal void Publish(IReadOnlyList<JobRunner> runners)
    {
        if (_meter is not null) return;
        var meter = new System.Diagnostics.Metrics.Meter(MeterName);
        static KeyValuePair<string, object?> Job(JobRunner r) => new("job", r.Name);
        meter.CreateObservableCounter("flowpolicy.job.runs", () => runners.SelectMany(r => new System.Diagnostics.Metrics.Measurement<long>[]
        {
            new(r.Metrics.Succeeded, Job(r), new("outcome", "succeeded")),
            new(r.Metrics.Failed, Job(r), new("outcome", "failed")),
            new(r.Metrics.Skipped, Job(r), new("outcome", "skipped")),
        }), "{run}", "Job attempts by outcome (a failed attempt is retried until the window's attempts are used up)");
        meter.CreateObservableCounter("flowpolicy.job.retries", () => runners.Select(r => new System.Diagnostics.Metrics.Measurement<long>(r.Metrics.Retries, Job(r))),
            "{retry}", "Job attempts retried after a failure");
        meter.CreateObservableCounter("flowpolicy.job.windows.missed", () => runners.Select(r => new System.Diagnostics.Metrics.Measurement<long>(r.Metrics.SkippedTooOld, Job(r))),
            "{window}", "Missed windows older than catch_up.max_windows, never run");
        meter.CreateObservableCounter("flowpolicy.job.record.failures", () => runners.Select(r => new System.Diagnostics.Metrics.Measurement<long>(r.Metrics.RecordFailures, Job(r))),
            "{error}", "Writes to job_runs that failed (retried; the window runs again when they all fail)");
        meter.CreateObservableGauge("flowpolicy.job.last_success", () => runners.Where(r => r.Metrics.LastSuccess is not null)
            .Select(r => new System.Diagnostics.Metrics.Measurement<double>((r.Metrics.LastSuccess!.Value - DateTime.UnixEpoch).TotalSeconds, Job(r))),
            "s", "Unix time of each job's last successful attempt");
        _duration = meter.CreateHistogram<double>("flowpolicy.job.duration", "s", "Duration of job attempts, by job and outcome",
            advice: Core.Metrics.DurationBuckets.Runs);
        _meter = meter;
    }

    internal void RecordDuration(string job, JobOutcome outcome, TimeSpan duration) =>
        _duration?.Record(duration.TotalSeconds, new("job", job), new("outcome", outcome switch
        {
            JobOutcome.Succeeded => "succeeded",
            JobOutcome.Skipped => "skipped",
            _ => "failed",
        }));

    public void Dispose()
    {
        _meter?.Dispose();
        _meter = null;
        _duration = null;
    }
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

/// <summary>
/// Retry policy for one window: attempts with the shared <see cref="Core.Retry.Backoff"/> between them (doubling, capped,
/// jittered). A zero backoff retries at once.
/// </summary>
internal sealed record RetryPolicy(int Attempts, TimeSpan Backoff, TimeSpan MaxBackoff, double Jitter = Core.Retry.Backoff.DefaultJitter)
{
    /// <summary>The backoff of one window's attempts; null when the policy retries at once.</summary>
    public Core.Retry.Backoff? Start(Random? random = null) => Backoff <= TimeSpan.Zero ? null : new Core.Retry.Backoff(Backoff, MaxBackoff, Jitter, random);

    /// <summary>The longest delay after failed attempt <paramref name="failedAttempt"/> (jitter only shortens it).</summary>
    public TimeSpan Delay(int failedAttempt) => Backoff <= TimeSpan.Zero ? TimeSpan.Zero : Core.Retry.Backoff.Ceiling(Backoff, MaxBackoff, failedAttempt);
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
    private readonly TimeProvider _time;
    private readonly JobMetrics? _meter;

    /// <param name="time">The clock of attempts, records and retry waits (tests: a fake one); the system clock by default.</param>
    /// <param name="meter">Where attempt durations are recorded; null records none (one-off runs: `jobs run`, demo).</param>
    public JobRunner(IScheduledJob job, ClickHouseHttpClient client, RetryPolicy retry, int maxWindows, ILogger log, DateTime? now = null,
        TimeProvider? time = null, JobMetrics? meter = null)
    {
        _job = job;
        _store = new JobRunStore(client);
        _windows = new CronWindows(job.Config.Schedule);
        _retry = retry;
        _maxWindows = maxWindows;
        _log = log;
        _time = time ?? TimeProvider.System;
        _meter = meter;
        _firstSeen = now ?? _time.GetUtcNow().UtcDateTime;
    }

    public string Name => _job.Config.Name;
    public JobRunnerMetrics Metrics { get; } = new();
    public CronWindows Windows => _windows;
    public static string Host { get; } = $"{Environment.MachineName}/{Environment.ProcessId}";

    /// <summary>Runs every due window up to <paramref name="now"/>; returns how many succeeded.</summary>
    /// <param name="stopWaiting">Cancelled when the host stops: a retry wait ends at once (the window stays failed and runs
    /// again after the restart) and no further window starts, while an attempt in progress still finishes and is recorded.</param>
    public async Task<int> RunDueAsync(DateTime now, string trigger, CancellationToken cancellationToken, CancellationToken stopWaiting = default)
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
                Interlocked.Add(ref Metrics.SkippedTooOldField, plan.SkippedTooOld);
                _log.LogWarning("Job {Job}: {Count} missed windows are older than catch_up.max_windows ({Max}) and are not run", Name, plan.SkippedTooOld, _maxWindows);
            }
            if (plan.Due.Count > 1) _log.LogInformation("Job {Job}: catching up {Count} windows", Name, plan.Due.Count);
            int succeeded = 0;
            foreach (var window in plan.Due)
            {
                if (stopWaiting.IsCancellationRequested) break;
                if (await RunWindowAsync(window, plan.Due.Count > 1 && window != plan.Due[^1] ? "catch-up" : trigger, cancellationToken, stopWaiting).ConfigureAwait(false) == JobOutcome.Succeeded)
                    succeeded++;
            }
            return succeeded;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Runs one window now (operators: `jobs run`), with the same retries and records.</summary>
    /// <param name="stopWaiting">Ends a retry wait (see <see cref="RunDueAsync"/>): the window is then left failed.</param>
    public async Task<JobOutcome> RunWindowAsync(JobWindow window, string trigger, CancellationToken cancellationToken, CancellationToken stopWaiting = default)
    {
        var backoff = _retry.Start();
        for (int attempt = 1; ; attempt++)
        {
            var started = _time.GetUtcNow().UtcDateTime;
            long clock = _time.GetTimestamp();
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
            var finished = _time.GetUtcNow().UtcDateTime;
            var outcome = skipped ? JobOutcome.Skipped : error is null ? JobOutcome.Succeeded : JobOutcome.Failed;
            _meter?.RecordDuration(Name, outcome, _time.GetElapsedTime(clock));
            await RecordAsync(new JobRun(Name, window, status, attempt, started, finished, trigger, Host, error ?? "", summary), cancellationToken).ConfigureAwait(false);
            if (skipped)
            {
                // Not a failure to retry: the same window gives the same answer. Logged as a warning, since an operator
                // should look at why a window had nothing (ingest stopped? a source gone?).
                Interlocked.Increment(ref Metrics.SkippedField);
                _log.LogWarning("Job {Job} window {Window} ({Trigger}) skipped: {Reason}", Name, window.ToString(), trigger, summary);
                return JobOutcome.Skipped;
            }
            if (error is null)
            {
                Metrics.Succeed(finished);
                _log.LogInformation("Job {Job} window {Window} ({Trigger}) succeeded in {Millis} ms: {Summary}", Name, window.ToString(), trigger,
                    (long)(finished - started).TotalMilliseconds, summary);
                return JobOutcome.Succeeded;
            }
            Interlocked.Increment(ref Metrics.FailedField);
            if (attempt >= _retry.Attempts)
            {
                _log.LogError("Job {Job} window {Window} failed {Attempts} times, last: {Error}; tried again at the next fire", Name, window.ToString(), attempt, error);
                return JobOutcome.Failed;
            }
            Interlocked.Increment(ref Metrics.RetriesField);
            var delay = backoff?.Next() ?? TimeSpan.Zero;
            _log.LogWarning("Job {Job} window {Window} attempt {Attempt} failed: {Error}; retrying in {Delay}", Name, window.ToString(), attempt, error, delay);
            if (delay > TimeSpan.Zero && !await WaitAsync(delay, cancellationToken, stopWaiting).ConfigureAwait(false))
            {
                _log.LogWarning("Job {Job} window {Window}: stopping during the retry wait; it runs again after the restart", Name, window.ToString());
                return JobOutcome.Failed;
            }
        }
    }

    /// <summary>Waits <paramref name="delay"/> on the runner's clock; false when <paramref name="stopWaiting"/> ended it.</summary>
    private async Task<bool> WaitAsync(TimeSpan delay, CancellationToken cancellationToken, CancellationToken stopWaiting)
    {
        using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopWaiting);
        try
        {
            await Task.Delay(delay, _time, either.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && stopWaiting.IsCancellationRequested)
        {
            return false;
        }
    }

    private async Task RecordAsync(JobRun run, CancellationToken cancellationToken)
    {
        // The record is what makes a window done; if ClickHouse refuses it, retry briefly, then let the fire fail
        // (the window runs again next time: jobs are idempotent, a rerun replaces its output).
        var backoff = new Core.Retry.Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(8));
        while (true)
        {
            try
            {
                await _store.RecordAsync(run, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (backoff.Failures < 4 && e is HttpRequestException or ClickHouseServerException or TimeoutException)
            {
                Interlocked.Increment(ref Metrics.RecordFailuresField);
                await backoff.WaitAsync(cancellationToken, _time).ConfigureAwait(false);
            }
        }
    }
}
