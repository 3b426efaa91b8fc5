using FlowPolicy.Cli.Serve;

namespace FlowPolicy.Tests.Serve;

public sealed class CronWindowsTests
{
    private static DateTime T(string s) => DateTime.Parse(s, null, System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal);

    [Fact]
    public void Windows_tile_time_from_one_fire_to_the_next()
    {
        var hourly = new CronWindows("0 5 * * * ?");
        var windows = hourly.Between(T("2026-11-02T10:00:00Z"), T("2026-11-02T13:05:00Z")).ToList();
        Assert.Equal([T("2026-11-02T10:05:00Z"), T("2026-11-02T11:05:00Z"), T("2026-11-02T12:05:00Z"), T("2026-11-02T13:05:00Z")], windows.Select(w => w.End));
        Assert.Equal(T("2026-11-02T09:05:00Z"), windows[0].Start);
        for (int i = 1; i < windows.Count; i++) Assert.Equal(windows[i - 1].End, windows[i].Start);
    }

    [Theory]
    [InlineData("0 5 * * * ?", "2026-11-02T10:05:00Z", "2026-11-02T09:05:00Z")]
    [InlineData("0 30 2 * * ?", "2026-11-02T02:30:00Z", "2026-11-01T02:30:00Z")]
    [InlineData("0 0 0 ? * MON", "2026-11-09T00:00:00Z", "2026-11-02T00:00:00Z")]
    [InlineData("*/2 * * * * ?", "2026-11-02T10:00:00Z", "2026-11-02T09:59:58Z")]
    [InlineData("0 0 0 1 * ?", "2026-03-01T00:00:00Z", "2026-02-01T00:00:00Z")]
    public void Previous_finds_the_fire_before(string cron, string time, string previous) =>
        Assert.Equal(T(previous), new CronWindows(cron).Previous(T(time)));

    [Fact]
    public void After_downtime_every_missed_window_is_due_once_and_done_ones_never()
    {
        var hourly = new CronWindows("0 0 * * * ?");
        var horizon = T("2026-11-02T00:00:00Z");
        // Ran 01:00 and 02:00, then down until 06:30; 03:00 had failed.
        var done = new HashSet<DateTime> { T("2026-11-02T01:00:00Z"), T("2026-11-02T02:00:00Z") };
        var plan = hourly.Plan(horizon, T("2026-11-02T06:30:00Z"), done, maxWindows: 48);
        Assert.Equal([T("2026-11-02T03:00:00Z"), T("2026-11-02T04:00:00Z"), T("2026-11-02T05:00:00Z"), T("2026-11-02T06:00:00Z")], plan.Due.Select(w => w.End));
        Assert.Equal(0, plan.SkippedTooOld);

        foreach (var w in plan.Due) done.Add(w.End);
        Assert.Empty(hourly.Plan(horizon, T("2026-11-02T06:59:59Z"), done, 48).Due);
        Assert.Equal([T("2026-11-02T07:00:00Z")], hourly.Plan(horizon, T("2026-11-02T07:00:00Z"), done, 48).Due.Select(w => w.End));
    }

    [Fact]
    public void Catch_up_keeps_the_newest_windows_and_counts_the_rest()
    {
        var plan = new CronWindows("0 0 * * * ?").Plan(T("2026-11-02T00:00:00Z"), T("2026-11-03T00:00:00Z"), new HashSet<DateTime>(), maxWindows: 3);
        Assert.Equal([T("2026-11-02T22:00:00Z"), T("2026-11-02T23:00:00Z"), T("2026-11-03T00:00:00Z")], plan.Due.Select(w => w.End));
        Assert.Equal(21, plan.SkippedTooOld);
    }

    [Fact]
    public void Nothing_before_the_horizon_is_due()
    {
        var plan = new CronWindows("0 0 * * * ?").Plan(T("2026-11-02T05:00:00Z"), T("2026-11-02T05:59:00Z"), new HashSet<DateTime>(), 48);
        Assert.Empty(plan.Due);
    }

    [Fact]
    public void Retry_backoff_doubles_up_to_its_cap()
    {
        var retry = new RetryPolicy(5, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(35));
        Assert.Equal([10.0, 20, 35, 35], Enumerable.Range(1, 4).Select(a => retry.Delay(a).TotalSeconds));
    }

    [Fact]
    public void A_window_ending_on_the_half_hour_reads_the_whole_hours_before_it()
    {
        var job = new JobConfig { Name = "a", Kind = JobKinds.Analyze, Schedule = "0 5 * * * ?" };
        var data = ScheduledJobFactory.DataWindow(job, new JobWindow(T("2026-11-02T09:05:00Z"), T("2026-11-02T10:05:00Z")));
        Assert.Equal((T("2026-11-02T09:00:00Z"), T("2026-11-02T10:00:00Z")), (data.From, data.To));
        var weekly = new JobConfig { Name = "s", Kind = JobKinds.Suggest, Schedule = "0 30 2 * * ?", Window = TimeSpan.FromDays(7) };
        var week = ScheduledJobFactory.DataWindow(weekly, new JobWindow(T("2026-11-08T02:30:00Z"), T("2026-11-09T02:30:00Z")));
        Assert.Equal((T("2026-11-02T02:00:00Z"), T("2026-11-09T02:00:00Z")), (week.From, week.To));
    }
}
