using FlowPolicy.Core.Edges;
using FlowPolicy.Analytics.Jobs;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.RowBinary;
using FlowPolicy.ClickHouse.Schema;

namespace FlowPolicy.Analytics.Anomalies;

/// <summary>
/// Writes a window's anomalies to <see cref="FlowTables.Anomalies"/>; a rerun replaces the window's rows (the SLI
/// tables' REPLACE PARTITION step, <see cref="SliStore.ReplaceStatements"/>), so each window is stored exactly once.
/// </summary>
internal static class AnomalyStore
{
    private static readonly IReadOnlyList<string> Columns =
        FlowTables.AnomaliesTable(ClickHouseServerVersion.Parse("18.16.1")).Columns.Select(c => c.Name).ToArray();

    /// <returns>Rows written.</returns>
    public static async Task<int> ReplaceWindowAsync(ClickHouseHttpClient client, AnalysisWindow window, IReadOnlyList<FlowAnomaly> anomalies, DateTime analyzedAt,
        CancellationToken cancellationToken = default)
    {
        using var rows = new RowBinaryWriter();
        foreach (var a in anomalies) WriteRow(rows, window, a, analyzedAt);
        int count = rows.RowCount;
        await SliStore.ReplaceAsync(client, FlowTables.Anomalies, Columns, window, rows, cancellationToken).ConfigureAwait(false);
        return count;
    }

    /// <summary>The service an anomaly concerns, for filtering: the server of an edge, the service itself, a source's first peer.</summary>
    public static string Service(FlowAnomaly a) => a.Scope switch
    {
        AnomalyScope.Service => a.Subject,
        _ => a.Edges.Count > 0 ? a.Edges[0].Server : "",
    };

    private static void WriteRow(RowBinaryWriter w, AnalysisWindow window, FlowAnomaly a, DateTime analyzedAt)
    {
        w.WriteDateTime(window.From);
        w.WriteDateTime(window.To);
        w.WriteEnum8((sbyte)a.Kind);
        w.WriteEnum8((sbyte)a.Scope);
        w.WriteString(a.Subject);
        w.WriteEnum8((sbyte)a.Metric);
        w.WriteDateTime(a.Start);
        w.WriteDateTime(a.End);
        w.WriteFloat64(a.Observed);
        w.WriteFloat64(a.Expected);
        w.WriteFloat64(a.ExpectedLow);
        w.WriteFloat64(a.ExpectedHigh);
        w.WriteFloat64(a.Score);
        w.WriteEnum8((sbyte)a.Baseline);
        w.WriteArrayLength(a.Edges.Count);
        foreach (var e in a.Edges) w.WriteString(e.ToString());
        w.WriteArrayLength(a.Edges.Count);
        foreach (var e in a.Edges) w.WriteFloat64(e.Observed);
        w.WriteArrayLength(a.Edges.Count);
        foreach (var e in a.Edges) w.WriteFloat64(e.Expected);
        w.WriteString(a.Explanation);
        w.WriteString(Service(a));
        w.WriteDateTime(analyzedAt);
        w.EndRow();
    }
}
