using Quartz;

namespace FlowPolicy.Cli.Serve;

/// <summary>One run of a scheduled job: the schedule period [Start, End), End being the fire time it belongs to.</summary>
internal readonly record struct JobWindow(DateTime Start, DateTime End)
{
    public override string ToString() => $"{Start:yyyy-MM-ddTHH:mm:ssZ}..{End:yyyy-MM-ddTHH:mm:ssZ}";
}

/// <summary>What catch-up decided: the windows to run now, oldest first, and how many were too old to run.</summary>
internal sealed record CatchUpPlan(IReadOnlyList<JobWindow> Due, int SkippedTooOld);

/// <summary>
/// The windows of a cron schedule (UTC) and the catch-up rule. Window i ends at fire time i and starts at fire time
/// i-1, so windows tile time without gaps or overlaps and each is named by its end. A window is due when its end is
/// in the past, after the job's horizon (its first recorded run, or when serve first saw the job), and no successful
/// run of it is recorded: after downtime every missed window runs once, and a window already done never again.
/// </summary>
internal sealed class CronWindows
{
    private readonly CronExpression _cron;

    public CronWindows(string schedule)
    {
        _cron = Parse(schedule);
        Schedule = schedule;
    }

    public string Schedule { get; }

    public static CronExpression Parse(string schedule)
    {
        if (!CronExpression.TryParse(schedule, out var cron) || cron is null)
            throw new FormatException("not a Quartz cron expression; use six or seven fields \"sec min hour day-of-month month day-of-week [year]\", e.g. \"0 5 * * * ?\"");
        return cron.WithTimeZone(TimeZoneInfo.Utc);
    }

    /// <summary>The first fire time strictly after <paramref name="time"/>, or null if the schedule never fires again.</summary>
    public DateTime? Next(DateTime time) => _cron.GetNextValidTimeAfter(new DateTimeOffset(DateTime.SpecifyKind(time, DateTimeKind.Utc)))?.UtcDateTime;

    /// <summary>The last fire time strictly before <paramref name="time"/>, or null if none within a year and a day.</summary>
    public DateTime? Previous(DateTime time)
    {
        // Quartz has no backward search: step back in doubling spans until a fire time falls in the span, then walk forward.
        for (var span = TimeSpan.FromSeconds(1); span <= TimeSpan.FromDays(800); span *= 2)
        {
            var probe = time - span;
            var next = Next(probe.AddTicks(-1));
            if (next is null || next >= time) continue;
            DateTime last = next.Value;
            while (Next(last) is { } later && later < time) last = later;
            return last;
        }
        return null;
    }

    /// <summary>The window whose end is the fire time <paramref name="end"/>.</summary>
    public JobWindow WindowEndingAt(DateTime end) => new(Previous(end) ?? end, end);

    /// <summary>Windows ending in (<paramref name="after"/>, <paramref name="upTo"/>], oldest first.</summary>
    public IEnumerable<JobWindow> Between(DateTime after, DateTime upTo)
    {
        var previous = Previous(after.AddTicks(1)) ?? after;
        for (var fire = Next(after); fire is { } end && end <= upTo; fire = Next(end))
        {
            yield return new JobWindow(previous, end);
            previous = end;
        }
    }

    /// <summary>
    /// The windows to run at <paramref name="now"/>: those ending after <paramref name="horizon"/> and at or before now
    /// that are not in <paramref name="done"/>, keeping only the newest <paramref name="maxWindows"/>.
    /// </summary>
    public CatchUpPlan Plan(DateTime horizon, DateTime now, IReadOnlySet<DateTime> done, int maxWindows)
    {
        var due = Between(horizon, now).Where(w => !done.Contains(w.End)).ToList();
        int skipped = Math.Max(0, due.Count - maxWindows);
        return new CatchUpPlan(skipped == 0 ? due : due.Skip(skipped).ToList(), skipped);
    }
}
