namespace FlowPolicy.Core.Edges;

/// <summary>The time window an analysis covers, [From, To), UTC.</summary>
public readonly record struct AnalysisWindow(DateTime From, DateTime To)
{
    /// <summary>
    /// Minutes the per-minute rates divide by: the window's length, at least one minute, so a window inferred from a
    /// single flow (first = last) still gives a finite rate.
    /// </summary>
    public double Minutes => Math.Max(1.0, (To - From).TotalMinutes);

    /// <summary>The window from the first to the last flow of the edges, for analyses without --from/--to.</summary>
    public static AnalysisWindow Spanning(IReadOnlyList<Edge> edges)
    {
        if (edges.Count == 0) return new AnalysisWindow(DateTime.UnixEpoch, DateTime.UnixEpoch);
        var from = DateTime.MaxValue;
        var to = DateTime.MinValue;
        foreach (var edge in edges)
        {
            if (edge.FirstSeen < from) from = edge.FirstSeen;
            if (edge.LastSeen > to) to = edge.LastSeen;
        }
        return new AnalysisWindow(from, to);
    }

    public override string ToString() => $"[{From:O}, {To:O})";
}
