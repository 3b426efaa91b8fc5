using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FlowPolicy.Core.Edges;

namespace FlowPolicy.Analytics.Baseline;

/// <summary>How a dependency recurs over the window.</summary>
public enum PeriodicityPattern : byte
{
    /// <summary>Seen on most days of the window.</summary>
    Continuous,
    /// <summary>Seen on most days, always in the same hour or two: a daily job.</summary>
    Daily,
    /// <summary>At least two occurrences about 7 days apart, none missing in the window.</summary>
    Weekly,
    /// <summary>At least two occurrences 28-31 days apart, none missing in the window.</summary>
    Monthly,
    /// <summary>At least two occurrences a steady number of days apart, none missing in the window.</summary>
    EveryNDays,
    /// <summary>A call or two per client replica, from at least two replicas of a client that is up all window: made at pod start.</summary>
    StartupOnly,
    /// <summary>Several occurrences on several days without a steady spacing.</summary>
    Intermittent,
    /// <summary>Two or more occurrences on at most two days without a steady spacing.</summary>
    Rare,
    /// <summary>One occurrence (one day, or one run of consecutive days): no period can be known.</summary>
    SeenOnce,
}

/// <summary>How often an edge or rule recurs, in the few classes the classifiers act on.</summary>
internal enum Recurrence : byte
{
    /// <summary>Most days of the window.</summary>
    Continuous,
    /// <summary>Two or more separate occurrences.</summary>
    Recurring,
    /// <summary>Made when client pods start (recurs at every rollout).</summary>
    StartupOnly,
    /// <summary>A single occurrence.</summary>
    SeenOnce,
}

internal static class PeriodicityPatterns
{
    private static readonly string[] Names =
        ["continuous", "daily", "weekly", "monthly", "every-n-days", "startup-only", "intermittent", "rare", "seen-once"];

    /// <summary>The documented text (suggestions.json <c>periodicity.pattern</c>).</summary>
    public static string Name(this PeriodicityPattern pattern) => Names[(int)pattern];
}

/// <summary>How often a dependency shows up, and what that means for trusting the window.</summary>
/// <param name="Pattern">The class of recurrence.</param>
/// <param name="PeriodDays">Detected period in days (1 daily, 7 weekly, 30 monthly, N); null when there is none.</param>
/// <param name="Occurrences">Separate occurrences (runs of consecutive days) in the window.</param>
/// <param name="Note">A sentence for the report.</param>
public sealed record Periodicity(PeriodicityPattern Pattern, int? PeriodDays, int Occurrences, string Note)
{
    public string PatternName => Pattern.Name();
}

/// <summary>
/// Occurrences of a dependency: maximal runs of consecutive days it was seen on, and the period they keep if they keep
/// one. A period needs evidence: at least two occurrences whose starts are evenly spaced (within a day a week) and
/// no occurrence missing where the period says one was due inside the window.
/// </summary>
internal readonly record struct DayOccurrences(int Count, int? PeriodDays)
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static DayOccurrences Of(IReadOnlyList<DateOnly> days, DateOnly windowFirst, DateOnly windowLast)
    {
        if (days.Count == 0) return new DayOccurrences(1, null);
        int count = 1;
        int firstStart = days[0].DayNumber, lastStart = firstStart;
        for (int i = 1; i < days.Count; i++)
            if (days[i].DayNumber > days[i - 1].DayNumber + 1)
            {
                count++;
                lastStart = days[i].DayNumber;
            }
        if (count < 2) return new DayOccurrences(count, null);
        double mean = (lastStart - firstStart) / (double)(count - 1);
        double tolerance = Math.Max(1, Math.Round(mean / 7));
        // Every spacing close to the mean ...
        int previous = firstStart;
        for (int i = 1; i < days.Count; i++)
        {
            if (days[i].DayNumber <= days[i - 1].DayNumber + 1) continue;
            int start = days[i].DayNumber;
            if (Math.Abs(start - previous - mean) > tolerance) return new DayOccurrences(count, null);
            previous = start;
        }
        // ... and no occurrence due but missing before the first or after the last one.
        if (firstStart - windowFirst.DayNumber >= mean + tolerance || windowLast.DayNumber - lastStart >= mean + tolerance)
            return new DayOccurrences(count, null);
        return new DayOccurrences(count, (int)Math.Round(mean));
    }
}

/// <summary>
/// Periodicity of edges and rules over one window. Holds the notes it has made (one per distinct set of numbers, not
/// per rule), so use one instance per thread.
/// </summary>
public sealed class PeriodicityClassifier(BaselineOptions options, BaselineWindow window)
{
    private readonly Dictionary<(PeriodicityPattern, int, int, int, int), Periodicity> _made = new();

    /// <summary>The days an edge was seen on; an edge that does not say (hand-made ones) counts its first to last day.</summary>
    public static IReadOnlyList<DateOnly> DaysOf(Edge edge)
    {
        if (edge.Days.Count > 0 || edge.Flows == 0) return edge.Days;
        var days = new List<DateOnly>();
        for (var d = DateOnly.FromDateTime(edge.FirstSeen); d <= DateOnly.FromDateTime(edge.LastSeen); d = d.AddDays(1)) days.Add(d);
        return days;
    }

    /// <summary>The recurrence class from the days alone (sorted, distinct) and the start-up evidence.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal Recurrence RecurrenceOf(IReadOnlyList<DateOnly> days, long flows, int clientReplicas, bool clientAlwaysUp, out DayOccurrences occurrences)
    {
        occurrences = default;
        if (days.Count >= options.ContinuousDayShare * window.FullDays) return Recurrence.Continuous;
        if (IsStartupOnly(flows, clientReplicas, clientAlwaysUp)) return Recurrence.StartupOnly;
        occurrences = DayOccurrences.Of(days, window.FirstDay, window.LastDay);
        return occurrences.Count >= 2 ? Recurrence.Recurring : Recurrence.SeenOnce;
    }

    /// <summary>
    /// One call or two per pod start: from at least two replicas (two pod starts are the evidence that it recurs at
    /// every rollout) of a client that is up all window, at most <see cref="BaselineOptions.StartupMaxFlowsPerReplica"/> each.
    /// </summary>
    private bool IsStartupOnly(long flows, int clientReplicas, bool clientAlwaysUp) =>
        clientAlwaysUp && clientReplicas >= 2 && flows <= options.StartupMaxFlowsPerReplica * clientReplicas;

    /// <summary>The full pattern, with its note. <paramref name="hours"/>: flows per hour of the week (168 buckets).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public Periodicity Classify(IReadOnlyList<DateOnly> days, long flows, int clientReplicas, long[] hours, bool clientAlwaysUp)
    {
        double fullDays = window.FullDays;
        int daysCount = days.Count;
        var recurrence = RecurrenceOf(days, flows, clientReplicas, clientAlwaysUp, out var occurrences);
        if (recurrence == Recurrence.StartupOnly)
            return new Periodicity(PeriodicityPattern.StartupOnly, null, 0, string.Create(CultureInfo.InvariantCulture,
                $"{flows} flows from {clientReplicas} replicas of a client that is up all window: made when a pod starts; it recurs at every rollout and restart"));
        // One pass over the histogram: the hours of the day ever seen and the days of the week seen.
        uint hoursSeen = 0;
        int weekdays = 0, weekday = -1;
        for (int d = 0; d < 7; d++)
        {
            uint day = 0;
            for (int h = 0; h < 24; h++)
                if (hours[d * 24 + h] > 0) day |= 1u << h;
            if (day == 0) continue;
            hoursSeen |= day;
            weekdays++;
            if (weekday < 0) weekday = d;
        }
        int hoursOfDay = System.Numerics.BitOperations.PopCount(hoursSeen);
        if (recurrence == Recurrence.Continuous)
        {
            if (fullDays >= 3 && hoursOfDay <= 2)
                return Slot(PeriodicityPattern.Daily, hoursOfDay, daysCount, 0, 0) ??= new Periodicity(PeriodicityPattern.Daily, 1, daysCount,
                    $"every day, only in {hoursOfDay} hour(s) of the day: a daily job");
            return Slot(PeriodicityPattern.Continuous, daysCount, 0, 0, 0) ??= new Periodicity(PeriodicityPattern.Continuous, null, daysCount,
                string.Create(CultureInfo.InvariantCulture, $"seen on {daysCount} of {fullDays} days"));
        }
        int n = occurrences.Count;
        if (recurrence == Recurrence.SeenOnce)
            return Slot(PeriodicityPattern.SeenOnce, daysCount, 0, 0, 0) ??= new Periodicity(PeriodicityPattern.SeenOnce, null, 1,
                string.Create(CultureInfo.InvariantCulture, $"seen once ({daysCount} day(s) of {fullDays}): a period needs at least two occurrences"));
        if (occurrences.PeriodDays is { } period)
        {
            if (period is >= 6 and <= 8)
            {
                string on = weekdays == 1 ? $"on {(DayOfWeek)((weekday + 1) % 7)}s, " : "";
                return Slot(PeriodicityPattern.Weekly, n, period, weekdays == 1 ? weekday : -1, hoursOfDay) ??= new Periodicity(PeriodicityPattern.Weekly, 7, n,
                    string.Create(CultureInfo.InvariantCulture, $"{n} runs {period} days apart, {on}{hoursOfDay} hour(s) of the day: a weekly job"));
            }
            if (period is >= 28 and <= 31)
                return Slot(PeriodicityPattern.Monthly, n, period, 0, 0) ??= new Periodicity(PeriodicityPattern.Monthly, 30, n,
                    string.Create(CultureInfo.InvariantCulture, $"{n} runs {period} days apart: a monthly job"));
            return Slot(PeriodicityPattern.EveryNDays, n, period, 0, 0) ??= new Periodicity(PeriodicityPattern.EveryNDays, period, n,
                string.Create(CultureInfo.InvariantCulture, $"{n} runs every {period} days: a periodic job"));
        }
        if (daysCount <= 2)
            return Slot(PeriodicityPattern.Rare, daysCount, n, 0, 0) ??= new Periodicity(PeriodicityPattern.Rare, null, n,
                string.Create(CultureInfo.InvariantCulture, $"seen on only {daysCount} of {fullDays} days ({n} occurrences) without a steady spacing"));
        return Slot(PeriodicityPattern.Intermittent, daysCount, n, 0, 0) ??= new Periodicity(PeriodicityPattern.Intermittent, null, n,
            string.Create(CultureInfo.InvariantCulture, $"seen on {daysCount} of {fullDays} days ({n} occurrences) without a steady spacing"));
    }

    private ref Periodicity? Slot(PeriodicityPattern pattern, int a, int b, int c, int d) =>
        ref CollectionsMarshal.GetValueRefOrAddDefault(_made, (pattern, a, b, c, d), out _)!;
}
