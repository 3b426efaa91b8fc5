using FlowPolicy.Analytics.Slis;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.RowBinary;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Analytics.Jobs;

/// <summary>Rows written for one window, per table.</summary>
public sealed record SliStoreResult(int SliRows, int DriftRows, int L7OperationRows);

/// <summary>A drift event of an <see cref="SliReport"/>, as sli_drift names it: the kind's enum name and the subject.</summary>
/// <param name="Kind">unintended_edge, stale_rule or observed_denied_intent_allows (an observed_allowed_intent_denies row
/// takes its edge's unintended_edge remediation).</param>
/// <param name="Subject">The edge (<see cref="Edge.ToString"/>: client -> server:port/PROTO) or the rule (<see cref="Intent.IntentRule.ToString"/>).</param>
public readonly record struct DriftEvent(string Kind, string Subject)
{
    public const string UnintendedEdge = "unintended_edge";
    public const string StaleRule = "stale_rule";
    public const string ObservedDeniedIntentAllows = "observed_denied_intent_allows";
}

/// <summary>
/// Computes the remediation of a report's drift events (the suggested change to the intended policy files, as text:
/// suggest's DriftRemediation, which analytics cannot reference); events without an entry store ''.
/// </summary>
public delegate IReadOnlyDictionary<DriftEvent, string> DriftRemediator(SliReport report);

/// <summary>
/// Writes a window's SLIs to <see cref="FlowTables.SliWindows"/>, <see cref="FlowTables.SliDrift"/> and
/// <see cref="FlowTables.SliL7Operations"/> so that a rerun
/// replaces the window's rows instead of adding to them, on 18.16 and 24.x alike: per table, the window's day
/// partition is copied into a staging table without this window's old rows, the new rows are inserted there, and
/// <c>ALTER TABLE ... REPLACE PARTITION</c> swaps the day in atomically. A crash leaves the old or the new rows of
/// the window, never both; other windows of the day are carried over untouched. One run per day at a time (the
/// staging table is per day, as for the edge rollups).
/// </summary>
internal static class SliStore
{
    /// <param name="remediations">Each drift event's remediation (sli_drift.remediation); null stores '' for every event.</param>
    public static async Task<SliStoreResult> ReplaceWindowAsync(ClickHouseHttpClient client, SliReport report, DateTime analyzedAt,
        CancellationToken cancellationToken = default, IReadOnlyDictionary<DriftEvent, string>? remediations = null)
    {
        var window = report.Window;
        using var sliRows = new RowBinaryWriter();
        WriteSliRows(sliRows, report, analyzedAt);
        int sliCount = sliRows.RowCount;
        await ReplaceAsync(client, FlowTables.SliWindows, SliColumns, window, sliRows, cancellationToken).ConfigureAwait(false);

        using var driftRows = new RowBinaryWriter();
        WriteDriftRows(driftRows, report, analyzedAt, remediations ?? new Dictionary<DriftEvent, string>());
        int driftCount = driftRows.RowCount;
        await ReplaceAsync(client, FlowTables.SliDrift, DriftColumns, window, driftRows, cancellationToken).ConfigureAwait(false);

        using var operationRows = new RowBinaryWriter();
        WriteL7OperationRows(operationRows, report, analyzedAt);
        int operationCount = operationRows.RowCount;
        await ReplaceAsync(client, FlowTables.SliL7Operations, L7OperationColumns, window, operationRows, cancellationToken).ConfigureAwait(false);
        return new SliStoreResult(sliCount, driftCount, operationCount);
    }

    private static readonly IReadOnlyList<string> SliColumns =
        FlowTables.SliWindowsTable(ClickHouseServerVersion.Parse("18.16.1")).Columns.Select(c => c.Name).ToArray();
    private static readonly IReadOnlyList<string> DriftColumns =
        FlowTables.SliDriftTable(ClickHouseServerVersion.Parse("18.16.1")).Columns.Select(c => c.Name).ToArray();
    private static readonly IReadOnlyList<string> L7OperationColumns =
        FlowTables.SliL7OperationsTable(ClickHouseServerVersion.Parse("18.16.1")).Columns.Select(c => c.Name).ToArray();

    /// <summary>The statements that replace one window in one table, in order; the new rows go into the staging table after the third.</summary>
    /// <remarks>A replicated target needs <paramref name="stagingEngine"/> (ClusterSchema.StagingEngine, which <see cref="StagingTables.SwapAsync{T}"/> passes).</remarks>
    /// <param name="stagingTag">Makes the staging table this run's own (<see cref="StagingTables"/>: runs for one day may overlap); null: the
    /// plain per-day name.</param>
    public static IReadOnlyList<string> ReplaceStatements(string database, string table, AnalysisWindow window, string? stagingEngine = null,
        string? stagingTag = null)
    {
        var target = ClickHouseSql.QuoteIdentifier(database, table);
        var partition = EdgeRollup.PartitionId(DateOnly.FromDateTime(window.From));
        var staging = ClickHouseSql.QuoteIdentifier(database, StagingName(table, window, stagingTag));
        return
        [
            $"DROP TABLE IF EXISTS {staging}",
            $"CREATE TABLE {staging} AS {target}{(stagingEngine is null ? "" : " " + stagingEngine)}",
            $"INSERT INTO {staging} SELECT * FROM {target} WHERE toYYYYMMDD(`window_start`) = {partition} " +
            $"AND NOT (`window_start` = {ClickHouseSql.FormatDateTime(window.From)} AND `window_end` = {ClickHouseSql.FormatDateTime(window.To)})",
            $"ALTER TABLE {target} REPLACE PARTITION {partition} FROM {staging}",
            $"DROP TABLE IF EXISTS {staging}",
        ];
    }

    /// <summary>Replaces the window's rows of one table with <paramref name="rows"/> (the anomalies' store uses it too).</summary>
    internal static async Task ReplaceAsync(ClickHouseHttpClient client, string table, IReadOnlyList<string> columns, AnalysisWindow window,
        RowBinaryWriter rows, CancellationToken cancellationToken)
    {
        var partition = EdgeRollup.PartitionId(DateOnly.FromDateTime(window.From));
        // The fill copies the day's other windows; this window's rows go in before the swap.
        await StagingTables.SwapAsync(client, table, StagingPrefix(table), partition,
            (tag, stagingEngine) => ReplaceStatements(client.Database, table, window, stagingEngine, tag),
            async staging =>
            {
                if (rows.RowCount > 0) await client.InsertRowBinaryAsync(staging, columns, rows, cancellationToken).ConfigureAwait(false);
                return rows.RowCount;
            }, cancellationToken).ConfigureAwait(false);
    }

    private static string StagingPrefix(string table) => table + "_replace_";

    private static string StagingName(string table, AnalysisWindow window, string? tag) =>
        StagingTables.Name(StagingPrefix(table), EdgeRollup.PartitionId(DateOnly.FromDateTime(window.From)), tag);

    private static void WriteSliRows(RowBinaryWriter w, SliReport report, DateTime analyzedAt)
    {
        WriteSliRow(w, report, report.Overall, null, analyzedAt, report.StaleRules.Count);
        foreach (var (service, sli) in report.PerService)
        {
            BlastRadiusCount? blast = report.BlastRadius.TryGetValue(service, out var count) ? count : null;
            WriteSliRow(w, report, sli, blast, analyzedAt, 0);
        }
    }

    private static void WriteSliRow(RowBinaryWriter w, SliReport report, ServiceSli sli, BlastRadiusCount? blast, DateTime analyzedAt, int staleRules)
    {
        w.WriteDateTime(report.Window.From);
        w.WriteDateTime(report.Window.To);
        w.WriteString(sli.Service);
        w.WriteUInt64((ulong)sli.Flows);
        w.WriteUInt64(sli.Bytes);
        w.WriteUInt64((ulong)sli.FlowsAllowedByIntent);
        w.WriteUInt64(sli.BytesAllowedByIntent);
        WriteNullable(w, sli.ComplianceRate);
        WriteNullable(w, sli.BytesComplianceRate);
        w.WriteUInt64((ulong)sli.DeniedFlows);
        w.WriteFloat64(sli.DeniedFlowsPerMinute);
        w.WriteUInt32((uint)sli.UnintendedEdges);
        w.WriteUInt32((uint)sli.VerdictMismatches);
        w.WriteUInt32((uint)staleRules);
        WriteNullable(w, blast?.Intended);
        WriteNullable(w, blast?.Observed);
        w.WriteDateTime(analyzedAt);
        w.EndRow();
    }

    private static void WriteDriftRows(RowBinaryWriter w, SliReport report, DateTime analyzedAt, IReadOnlyDictionary<DriftEvent, string> remediations)
    {
        string Remediation(string kind, string subject) => remediations.GetValueOrDefault(new DriftEvent(kind, subject), "");
        foreach (var item in report.UnintendedEdges)
            WriteDriftRow(w, report, 1, item.Edge.Client.Key, item.Edge.Server.Key, item.Edge.Port, item.Edge.ProtocolName, item.Edge.Flows, "", "", item.Intent.Reason, analyzedAt,
                Remediation(DriftEvent.UnintendedEdge, item.Edge.ToString()));
        foreach (var rule in report.StaleRules)
            WriteDriftRow(w, report, 2, "", "", 0, "", 0, rule.Policy, rule.Rule, $"{rule.Kind} allow rule matched no flow in the window", analyzedAt,
                Remediation(DriftEvent.StaleRule, rule.ToString()));
        foreach (var mismatch in report.VerdictMismatches)
        {
            var edge = mismatch.Edge;
            bool allowed = mismatch.Kind == MismatchKind.ObservedAllowedIntentDenies;
            WriteDriftRow(w, report, allowed ? (sbyte)3 : (sbyte)4, edge.Client.Key, edge.Server.Key, edge.Port, edge.ProtocolName, mismatch.Flows, "", "", mismatch.Intent.Reason, analyzedAt,
                // Allowed by the network, denied by the intent: the same edge is an unintended edge, and its remediation is that one's.
                Remediation(allowed ? DriftEvent.UnintendedEdge : DriftEvent.ObservedDeniedIntentAllows, edge.ToString()));
        }
    }

    private static void WriteDriftRow(RowBinaryWriter w, SliReport report, sbyte kind, string src, string dst, ushort port, string protocol,
        long flows, string policy, string rule, string reason, DateTime analyzedAt, string remediation)
    {
        w.WriteDateTime(report.Window.From);
        w.WriteDateTime(report.Window.To);
        w.WriteEnum8(kind);
        w.WriteString(src);
        w.WriteString(dst);
        w.WriteUInt16(port);
        w.WriteString(protocol);
        w.WriteUInt64((ulong)flows);
        w.WriteString(policy);
        w.WriteString(rule);
        w.WriteString(reason);
        w.WriteDateTime(analyzedAt);
        w.WriteString(remediation);
        w.EndRow();
    }

    private static void WriteL7OperationRows(RowBinaryWriter w, SliReport report, DateTime analyzedAt)
    {
        foreach (var op in report.L7Operations)
        {
            w.WriteDateTime(report.Window.From);
            w.WriteDateTime(report.Window.To);
            w.WriteString(op.Server);
            w.WriteUInt16(op.Port);
            // Enum8 numbers equal L7Protocol's values (FlowTables.L7ProtocolEnum), as flows_l7 stores them.
            w.WriteEnum8((sbyte)op.Protocol);
            w.WriteString(op.Operation);
            w.WriteString(op.Resource);
            w.WriteUInt32((uint)op.Clients);
            w.WriteUInt64((ulong)op.Requests);
            w.WriteUInt64((ulong)op.Errors);
            w.WriteUInt64((ulong)op.ProxyDenied);
            w.WriteUInt64((ulong)op.RequestsAllowedByIntent);
            w.WriteUInt64((ulong)op.RequestsDeniedByIntent);
            w.WriteUInt64((ulong)op.RequestsDeniedAtL7);
            w.WriteUInt64((ulong)op.RequestsUndetermined);
            WriteNullable(w, op.ComplianceRate);
            WriteNullable(w, op.DeniedRate);
            WriteNullable(w, op.ErrorRate);
            w.WriteString(op.DeniedReason ?? "");
            w.WriteDateTime(op.FirstSeen);
            w.WriteDateTime(op.LastSeen);
            w.WriteDateTime(analyzedAt);
            w.EndRow();
        }
    }

    private static void WriteNullable(RowBinaryWriter w, double? value)
    {
        if (value is { } v) { w.WriteNotNull(); w.WriteFloat64(v); }
        else w.WriteNull();
    }

    private static void WriteNullable(RowBinaryWriter w, int? value)
    {
        if (value is { } v) { w.WriteNotNull(); w.WriteUInt32((uint)v); }
        else w.WriteNull();
    }
}
