using FlowPolicy.Core.Edges;

namespace FlowPolicy.Analytics.Baseline;

/// <summary>The time window a set of edges is judged over: what "every day", "seen once" and "up all window" refer to.</summary>
public readonly record struct BaselineWindow(DateTime Start, DateTime End)
{
    /// <summary>Length in days (at least an hour, so a rate is never divided by zero).</summary>
    public double Days => Math.Max((End - Start).TotalDays, 1.0 / 24);

    /// <summary>Whole days, at least one: the denominator of "seen on N of M days".</summary>
    public double FullDays => Math.Max(1, Math.Round(Days));

    public DateOnly FirstDay => DateOnly.FromDateTime(Start);

    public DateOnly LastDay => DateOnly.FromDateTime(End > Start ? End.AddTicks(-1) : Start);

    /// <summary>
    /// The given bounds, or the UTC days spanning the first and last flow (suggest and check both take their window from
    /// here, so both judge the same edges over the same days).
    /// </summary>
    public static BaselineWindow Of(IReadOnlyList<Edge> edges, DateTime? start, DateTime? end)
    {
        DateTime first = DateTime.MaxValue, last = DateTime.MinValue;
        if (edges.Count > 0 && (start is null || end is null))
            for (int i = 0; i < edges.Count; i++)
            {
                var e = edges[i];
                if (e.FirstSeen < first) first = e.FirstSeen;
                if (e.LastSeen > last) last = e.LastSeen;
            }
        var from = start ?? (edges.Count == 0 ? DateTime.UnixEpoch : first.Date);
        var to = end ?? (edges.Count == 0 ? from.AddDays(1) : last.Date.AddDays(1));
        return new BaselineWindow(DateTime.SpecifyKind(from, DateTimeKind.Utc), DateTime.SpecifyKind(to, DateTimeKind.Utc));
    }
}
