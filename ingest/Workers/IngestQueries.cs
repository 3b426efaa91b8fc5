using System.Globalization;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.Schema;

namespace FlowPolicy.Ingest.Workers;

/// <summary>
/// Every query the ingest workers run besides their INSERTs, in one place; each works on ClickHouse 18.16
/// (no tuple max, no startsWith: IN over (partition, max offset) and substring instead).
/// </summary>
internal static class IngestQueries
{
    /// <summary>
    /// Prefix of the query_id of an ingest INSERT holding rows of <paramref name="partitions"/>:
    /// <c>flowpolicy-ingest:TOPIC:P1,P2,...:</c> (a GUID follows), so a new owner of a partition can find and wait for
    /// INSERTs still running (Kafka topic names cannot contain ':').
    /// </summary>
    public static string QueryIdPrefix(string topic, IReadOnlyList<int> partitions) =>
        string.Create(CultureInfo.InvariantCulture, $"{TopicQueryIdPrefix(topic)}{string.Join(",", partitions)}:");

    private static string TopicQueryIdPrefix(string topic) => $"flowpolicy-ingest:{topic}:";

    /// <summary>Whether an ingest query_id of <paramref name="topic"/> names <paramref name="partition"/> among its partitions.</summary>
    public static bool QueryIdHolds(string queryId, string topic, int partition)
    {
        var prefix = TopicQueryIdPrefix(topic);
        if (!queryId.StartsWith(prefix, StringComparison.Ordinal)) return false;
        var rest = queryId.AsSpan(prefix.Length);
        int colon = rest.IndexOf(':');
        if (colon < 0) return false;
        foreach (var range in rest[..colon].Split(','))
            if (int.TryParse(rest[..colon][range], NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p == partition) return true;
        return false;
    }

    /// <summary>The highest stored (offset, index) per partition of <paramref name="topic"/> in flows, dead letters and L7 observations.</summary>
    public static async Task<Dictionary<int, ResumePoint>> ReadResumePointsAsync(ClickHouseHttpClient client, string topic,
        CancellationToken cancellationToken)
    {
        var flows = await HighestAsync(client, FlowTables.Flows, topic, cancellationToken).ConfigureAwait(false);
        var deadLetters = await HighestAsync(client, FlowTables.DeadLetters, topic, cancellationToken).ConfigureAwait(false);
        var l7 = await HighestAsync(client, FlowTables.L7, topic, cancellationToken).ConfigureAwait(false);
        var result = new Dictionary<int, ResumePoint>();
        foreach (var partition in flows.Keys.Union(deadLetters.Keys).Union(l7.Keys))
            result[partition] = new ResumePoint(
                flows.TryGetValue(partition, out var f) ? f : null,
                deadLetters.TryGetValue(partition, out var d) ? d : null,
                l7.TryGetValue(partition, out var o) ? o : null);
        return result;
    }

    private static async Task<Dictionary<int, RecordPosition>> HighestAsync(ClickHouseHttpClient client, string table, string topic,
        CancellationToken cancellationToken)
    {
        var name = ClickHouseSql.QuoteIdentifier(client.Database, table);
        var t = ClickHouseSql.QuoteString(topic);
        var sql = $"""
            SELECT `kafka_partition`, `kafka_offset`, max(`kafka_index`) FROM {name}
            WHERE `kafka_topic` = {t} AND (`kafka_partition`, `kafka_offset`) IN
                (SELECT `kafka_partition`, max(`kafka_offset`) FROM {name} WHERE `kafka_topic` = {t} GROUP BY `kafka_partition`)
            GROUP BY `kafka_partition`, `kafka_offset`
            """;
        var result = new Dictionary<int, RecordPosition>();
        foreach (var row in await client.QueryTsvAsync(sql, cancellationToken).ConfigureAwait(false))
            result[int.Parse(row[0], CultureInfo.InvariantCulture)] =
                new RecordPosition(long.Parse(row[1], CultureInfo.InvariantCulture), uint.Parse(row[2], CultureInfo.InvariantCulture));
        return result;
    }

    /// <summary>The query_ids of the ingest INSERTs of <paramref name="topic"/> the server is running now.</summary>
    public static async Task<List<string>> RunningInsertsAsync(ClickHouseHttpClient client, string topic, CancellationToken cancellationToken)
    {
        var prefix = TopicQueryIdPrefix(topic);
        var sql = $"SELECT `query_id` FROM system.processes WHERE substring(`query_id`, 1, {prefix.Length}) = {ClickHouseSql.QuoteString(prefix)}";
        var result = new List<string>();
        foreach (var row in await client.QueryTsvAsync(sql, cancellationToken, useDatabase: false).ConfigureAwait(false))
            result.Add(row[0]);
        return result;
    }

    /// <summary>
    /// True when the row at <paramref name="position"/> is stored: after an ambiguous failure (connection lost with
    /// the body sent), whether the INSERT's one part landed. <paramref name="partitionFilter"/> prunes to the batch's
    /// table partition.
    /// </summary>
    public static async Task<bool> RowStoredAsync(ClickHouseHttpClient client, string table, string partitionFilter, string topic,
        int partition, RecordPosition position, CancellationToken cancellationToken)
    {
        var sql = $"""
            SELECT count() FROM {ClickHouseSql.QuoteIdentifier(client.Database, table)}
            WHERE {partitionFilter} AND `kafka_topic` = {ClickHouseSql.QuoteString(topic)} AND `kafka_partition` = {ClickHouseSql.FormatNumber(partition)}
                AND `kafka_offset` = {ClickHouseSql.FormatNumber(position.Offset)} AND `kafka_index` = {ClickHouseSql.FormatNumber(position.Index)}
            """;
        return await client.QueryScalarAsync(sql, cancellationToken).ConfigureAwait(false) is { } n && n != "0";
    }

    /// <summary>The flows rows of one UTC day (yyyyMMdd): prunes to one table partition.</summary>
    public static string FlowsDayFilter(int day)
    {
        var start = new DateTime(day / 10000, day / 100 % 100, day % 100, 0, 0, 0, DateTimeKind.Utc);
        return $"`start` >= {ClickHouseSql.FormatDateTime(start)} AND `start` < {ClickHouseSql.FormatDateTime(start.AddDays(1))}";
    }

    /// <summary>The flows_l7 rows of one UTC day (yyyyMMdd): prunes to one table partition.</summary>
    public static string L7DayFilter(int day) => FlowsDayFilter(day).Replace("`start`", "`time`", StringComparison.Ordinal);

    public static string DeadLetterTimeFilter(DateTime received) => $"`received` = {ClickHouseSql.FormatDateTime(received)}";

    /// <summary>Per UTC day: the newest modification time of the flows parts and of the edges_1h parts (null when none).</summary>
    public static async Task<List<(DateOnly Day, DateTime FlowsModified, DateTime? EdgesModified)>> PartitionTimesAsync(
        ClickHouseHttpClient client, CancellationToken cancellationToken)
    {
        var db = ClickHouseSql.QuoteString(client.Database);
        var sql = $"""
            SELECT `partition`, `table`, toUnixTimestamp(max(`modification_time`)) FROM system.parts
            WHERE `database` = {db} AND `active` AND `table` IN ({ClickHouseSql.QuoteString(FlowTables.Flows)}, {ClickHouseSql.QuoteString(FlowTables.EdgesHourly)})
            GROUP BY `partition`, `table`
            """;
        var flows = new Dictionary<string, DateTime>(StringComparer.Ordinal);
        var edges = new Dictionary<string, DateTime>(StringComparer.Ordinal);
        foreach (var row in await client.QueryTsvAsync(sql, cancellationToken, useDatabase: false).ConfigureAwait(false))
        {
            var time = DateTime.UnixEpoch.AddSeconds(long.Parse(row[2], CultureInfo.InvariantCulture));
            (row[1] == FlowTables.Flows ? flows : edges)[row[0].Trim('\'')] = time;
        }
        var result = new List<(DateOnly, DateTime, DateTime?)>();
        foreach (var (partition, modified) in flows)
        {
            if (!DateOnly.TryParseExact(partition, "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day)) continue;
            result.Add((day, modified, edges.TryGetValue(partition, out var e) ? e : null));
        }
        result.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return result;
    }
}
