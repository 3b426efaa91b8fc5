using System.Globalization;

namespace FlowPolicy.ClickHouse.Schema;

/// <summary>
/// Retention without TTL (ClickHouse before 19.6, e.g. 18.16): drops whole partitions whose every row is older
/// than the table's retention and that were stored longer ago than the retention, so a backfill of old flows is kept
/// for the retention after it arrived, as the TTL on inserted_at keeps it on newer servers. "Stored" is the newest
/// <c>modification_time</c> of the partition's active parts (the insert, or a later merge: never earlier than the
/// insert). Harmless where TTL also runs. Tables are partitioned by UTC day (yyyyMMdd) except ingest_progress and
/// job_runs (yyyyMM).
/// </summary>
public static class RetentionJob
{
    /// <summary>Drops expired partitions; returns "table/partition" for each one dropped.</summary>
    public static async Task<IReadOnlyList<string>> DropExpiredPartitionsAsync(ClickHouseHttpClient client, SchemaOptions options,
        DateTime nowUtc, CancellationToken cancellationToken = default)
    {
        var dropped = new List<string>();
        var tables = new (string Table, int? Days)[]
        {
            (FlowTables.Flows, options.FlowsRetentionDays),
            (FlowTables.DeadLetters, options.DeadLetterRetentionDays),
            (FlowTables.L7, options.L7RetentionDays),
            (FlowTables.IngestProgress, options.IngestProgressRetentionDays),
            (FlowTables.EdgesHourly, options.HourlyEdgesRetentionDays),
            (FlowTables.EdgesDaily, options.DailyEdgesRetentionDays),
            (FlowTables.SliWindows, options.SliRetentionDays),
            (FlowTables.SliDrift, options.SliRetentionDays),
            (FlowTables.SliL7Operations, options.SliRetentionDays),
            (FlowTables.JobRuns, options.JobRunsRetentionDays),
        };
        foreach (var (table, days) in tables)
        {
            if (days is null) continue;
            var cutoff = nowUtc.AddDays(-days.Value);
            var partitions = await client.QueryTsvAsync(
                $"SELECT partition, toUnixTimestamp(max(modification_time)) FROM system.parts WHERE database = {ClickHouseSql.QuoteString(client.Database)} " +
                $"AND table = {ClickHouseSql.QuoteString(table)} AND active GROUP BY partition", cancellationToken).ConfigureAwait(false);
            foreach (var row in partitions)
            {
                var id = row[0];
                if (!PartitionEnd(id, out var end) || end > cutoff) continue;
                var stored = DateTime.UnixEpoch.AddSeconds(long.Parse(row[1], CultureInfo.InvariantCulture));
                if (stored > cutoff) continue; // a backfill: kept for the retention after it was stored
                await client.ExecuteAsync(
                    $"ALTER TABLE {ClickHouseSql.QuoteIdentifier(client.Database, table)} DROP PARTITION {ClickHouseSql.FormatNumber(long.Parse(id, CultureInfo.InvariantCulture))}",
                    cancellationToken).ConfigureAwait(false);
                dropped.Add(table + "/" + id);
            }
        }
        return dropped;
    }

    /// <summary>The first instant after a yyyyMMdd or yyyyMM partition.</summary>
    internal static bool PartitionEnd(string id, out DateTime end)
    {
        if (id.Length == 8 && DateTime.TryParseExact(id, "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var day))
        {
            end = day.AddDays(1);
            return true;
        }
        if (id.Length == 6 && DateTime.TryParseExact(id, "yyyyMM", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var month))
        {
            end = month.AddMonths(1);
            return true;
        }
        end = default;
        return false;
    }
}
