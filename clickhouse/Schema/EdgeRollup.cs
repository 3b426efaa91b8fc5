using System.Globalization;

namespace FlowPolicy.ClickHouse.Schema;

/// <summary>The tables a rebuild reads and replaces: the plain names on one server, the local tables on a cluster node.</summary>
internal sealed record EdgeRollupTables(string Flows, string Hourly, string Daily)
{
    public static EdgeRollupTables Default { get; } = new(FlowTables.Flows, FlowTables.EdgesHourly, FlowTables.EdgesDaily);

    /// <summary>
    /// One node's shard of a cluster (<see cref="ClusterSchema"/>): its local flows into its local rollups. REPLACE PARTITION
    /// only works between local MergeTree tables, and a shard's edges come from the shard's flows only; readers sum the
    /// shards' partial rows through the Distributed tables (sum, min, max, uniqMerge, argMax all combine across rows).
    /// </summary>
    public static EdgeRollupTables ClusterLocal { get; } = new(ClusterSchema.LocalName(FlowTables.Flows),
        ClusterSchema.LocalName(FlowTables.EdgesHourly), ClusterSchema.LocalName(FlowTables.EdgesDaily));
}

/// <summary>Rows the rebuild of one day wrote into each rollup.</summary>
public sealed record EdgeRollupResult(DateOnly Day, long HourlyRows, long DailyRows);

/// <summary>
/// Rebuilds the edge rollups of one UTC day from the raw flows table, idempotently: the day is aggregated into a
/// staging table with the rollup's structure, then swapped in with <c>ALTER TABLE ... REPLACE PARTITION</c>, which
/// replaces the day's partition atomically (18.16 and newer). A crash at any step leaves either the old or the new
/// rows for that day, never both; running it again redoes the day from raw data. No materialized views: their
/// second insert can fail or repeat independently of the raw insert (see docs/clickhouse.md).
/// Rebuilds of one day may overlap (a worker leaving the group finishes its last rebuild while the next holder of
/// partition 0 starts one; a rebalance moves the role mid-run): each uses a staging table of its own, named by day, start
/// time and a random tag, so neither drops or fills the other's, and each swap puts in a whole day computed from the raw
/// rows (<see cref="StagingTables"/>).
/// </summary>
public static class EdgeRollup
{
    /// <summary>Rebuilds edges_1h for the day from flows, then edges_1d for the day from edges_1h.</summary>
    public static Task<EdgeRollupResult> RebuildDayAsync(ClickHouseHttpClient client, DateOnly day, CancellationToken cancellationToken = default) =>
        RebuildDayAsync(client, day, EdgeRollupTables.Default, cancellationToken);

    /// <summary>Rebuilds the day in the given tables (<see cref="EdgeRollupTables.ClusterLocal"/> on each node of a cluster).</summary>
    internal static async Task<EdgeRollupResult> RebuildDayAsync(ClickHouseHttpClient client, DateOnly day, EdgeRollupTables tables, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tables);
        var hourly = await RebuildAsync(client, tables.Hourly, day, HourlySelect(client.Database, day, tables.Flows), cancellationToken).ConfigureAwait(false);
        var daily = await RebuildAsync(client, tables.Daily, day, DailySelect(client.Database, day, tables.Hourly), cancellationToken).ConfigureAwait(false);
        return new EdgeRollupResult(day, hourly, daily);
    }

    /// <summary>
    /// Rebuilds the day on every node of a cluster, one node after the other, each from its own shard's flows. Each node's
    /// swap is atomic; across nodes a reader can briefly see one shard's new rows beside another's old ones.
    /// </summary>
    public static async Task<IReadOnlyList<EdgeRollupResult>> RebuildDayOnNodesAsync(IReadOnlyList<ClickHouseHttpClient> nodes, DateOnly day, CancellationToken cancellationToken = default)
    {
        var results = new List<EdgeRollupResult>(nodes.Count);
        foreach (var node in nodes)
            results.Add(await RebuildDayAsync(node, day, EdgeRollupTables.ClusterLocal, cancellationToken).ConfigureAwait(false));
        return results;
    }

    /// <summary>
    /// The statements one table's rebuild runs, in order (documented in deploy/clickhouse/rollup_rebuild.sql). A replicated
    /// target needs <paramref name="stagingEngine"/> (<see cref="ClusterSchema.StagingEngine"/>): the staging table must not copy its ZooKeeper path.
    /// </summary>
    /// <param name="stagingTag">Makes the staging table this rebuild's own (<see cref="StagingTables.NewTag"/>); null: the plain per-day name
    /// of the reference scripts, for one rebuild at a time.</param>
    public static IReadOnlyList<string> RebuildStatements(string database, string table, DateOnly day, string select, string? stagingEngine = null,
        string? stagingTag = null)
    {
        var target = ClickHouseSql.QuoteIdentifier(database, table);
        var staging = ClickHouseSql.QuoteIdentifier(database, StagingName(table, day, stagingTag));
        return
        [
            $"DROP TABLE IF EXISTS {staging}",
            $"CREATE TABLE {staging} AS {target}{(stagingEngine is null ? "" : " " + stagingEngine)}",
            $"INSERT INTO {staging} ({EdgeColumnList}) {select}",
            // An empty staging partition replaces the day with nothing: a day whose raw rows are gone empties too.
            $"ALTER TABLE {target} REPLACE PARTITION {PartitionId(day)} FROM {staging}",
            $"DROP TABLE IF EXISTS {staging}",
        ];
    }

    private static async Task<long> RebuildAsync(ClickHouseHttpClient client, string table, DateOnly day, string select, CancellationToken cancellationToken)
    {
        // The rows the day got: the staging table's, counted before the swap (which copies them).
        return await StagingTables.SwapAsync(client, table, StagingPrefix(table), PartitionId(day),
            (tag, stagingEngine) => RebuildStatements(client.Database, table, day, select, stagingEngine, tag),
            async staging =>
            {
                var rows = await client.QueryScalarAsync($"SELECT count() FROM {ClickHouseSql.QuoteIdentifier(client.Database, staging)}", cancellationToken).ConfigureAwait(false);
                return long.Parse(rows ?? "0", CultureInfo.InvariantCulture);
            }, cancellationToken).ConfigureAwait(false);
    }

    private static string StagingPrefix(string table) => table + "_rebuild_";

    internal static string StagingName(string table, DateOnly day, string? tag = null) => StagingTables.Name(StagingPrefix(table), PartitionId(day), tag);

    /// <summary>The toYYYYMMDD partition value of a UTC day.</summary>
    public static string PartitionId(DateOnly day) => day.ToString("yyyyMMdd", CultureInfo.InvariantCulture);

    private const string EdgeColumnList =
        "`window_start`, `src_kind`, `src_namespace`, `src_workload`, `src_workload_kind`, `src_addr`, " +
        "`dst_kind`, `dst_namespace`, `dst_workload`, `dst_workload_kind`, `dst_addr`, `dst_port`, `protocol`, " +
        "`flows`, `bytes`, `packets`, `allowed_flows`, `denied_flows`, `first_seen`, `last_seen`, `client_replicas`, " +
        "`src_label_keys`, `src_label_values`, `dst_label_keys`, `dst_label_values`, `src_label_changes`, `dst_label_changes`";

    /// <summary>The edge key of a rollup row (the daily rollup groups the hourly rows by it).</summary>
    private const string EdgeKey =
        "`src_kind`, `src_namespace`, `src_workload`, `src_workload_kind`, `src_addr`, " +
        "`dst_kind`, `dst_namespace`, `dst_workload`, `dst_workload_kind`, `dst_addr`, `dst_port`, `protocol`";

    private const string HourlyEdgeKey =
        "`src_kind`, `src_namespace`, `src_name`, `src_workload_kind`, `src_addr`, " +
        "`dst_kind`, `dst_namespace`, `dst_name`, `dst_workload_kind`, `dst_addr`, `dst_port`, `protocol`";

    /// <summary>
    /// One row per edge and hour of the day, keyed like the in-memory <c>EdgeAggregator</c> keys endpoints: the
    /// rollup's <c>*_workload</c> holds the endpoint name (the workload, or the pod name of a bare pod), and
    /// <c>*_addr</c> the address only for sides with neither. Rows with <c>is_reply = 1</c> (the server's half
    /// of a connection, stored flipped to client -> server by ingest) add bytes, packets and seen times but no flows, verdicts or
    /// replicas, as replies do in memory. Labels are those every flow row of the group carried (<see cref="LabelIntersection"/>),
    /// so a label that changed within the hour (a rollout: v1 then v2 pods) is not kept; its key is in the
    /// <c>*_label_changes</c> column (<see cref="LabelChanges"/>). Aggregates are not aliased
    /// where an alias would shadow a source column (bytes, packets): 18.16 substitutes such aliases into other expressions.
    /// </summary>
    public static string HourlySelect(string database, DateOnly day) => HourlySelect(database, day, FlowTables.Flows);

    public static string HourlySelect(string database, DateOnly day, string flowsTable)
    {
        var (from, to) = DayBounds(day);
        return $"""
            SELECT `ws`, {HourlyEdgeKey}, `f`, `b`, `p`, `a`, `dn`, `fs`, `ls`, `r`,
                {LabelIntersection("s")}, {LabelIntersection("d")}, {LabelChanges("s")}, {LabelChanges("d")}
            FROM (
                SELECT toStartOfHour(`start`) AS `ws`,
                    `src_kind`, `src_namespace`, if(`src_workload` != '', `src_workload`, `src_pod`) AS `src_name`, `src_workload_kind`,
                    if(`src_workload` = '' AND `src_pod` = '', `src_ip`, toFixedString('', 16)) AS `src_addr`,
                    `dst_kind`, `dst_namespace`, if(`dst_workload` != '', `dst_workload`, `dst_pod`) AS `dst_name`, `dst_workload_kind`,
                    if(`dst_workload` = '' AND `dst_pod` = '', `dst_ip`, toFixedString('', 16)) AS `dst_addr`,
                    `dst_port`, `protocol`,
                    countIf(`is_reply` = 0) AS `f`, sum(`bytes`) AS `b`, sum(`packets`) AS `p`,
                    countIf(`verdict` = 'allowed' AND `is_reply` = 0) AS `a`, countIf(`verdict` = 'denied' AND `is_reply` = 0) AS `dn`,
                    min(`start`) AS `fs`, max(greatest(`end`, `start`)) AS `ls`,
                    uniqStateIf(if(`src_pod` != '', `src_pod`, hex(`src_ip`)), `is_reply` = 0) AS `r`,
                    {LabelSets("src", "s", "`start`", "notEmpty(`src_label_keys`)")}, {LabelSets("dst", "d", "`start`", "notEmpty(`dst_label_keys`)")},
                    emptyArrayString() AS `sprior`, emptyArrayString() AS `dprior`
                FROM {ClickHouseSql.QuoteIdentifier(database, flowsTable)}
                WHERE `start` >= {from} AND `start` < {to}
                GROUP BY `ws`, {HourlyEdgeKey}
            )
            """;
    }

    /// <summary>One row per edge for the day, merged from the day's hourly rows (labels: those every hour kept).</summary>
    public static string DailySelect(string database, DateOnly day) => DailySelect(database, day, FlowTables.EdgesHourly);

    public static string DailySelect(string database, DateOnly day, string hourlyTable)
    {
        var (from, to) = DayBounds(day);
        return $"""
            SELECT `ds`, {EdgeKey}, `f`, `b`, `p`, `a`, `dn`, `fs`, `ls`, `r`,
                {LabelIntersection("s")}, {LabelIntersection("d")}, {LabelChanges("s")}, {LabelChanges("d")}
            FROM (
                SELECT toStartOfDay(`window_start`) AS `ds`, {EdgeKey},
                    sum(`flows`) AS `f`, sum(`bytes`) AS `b`, sum(`packets`) AS `p`, sum(`allowed_flows`) AS `a`, sum(`denied_flows`) AS `dn`,
                    min(`first_seen`) AS `fs`, max(`last_seen`) AS `ls`, uniqMergeState(`client_replicas`) AS `r`,
                    {LabelSets("src", "s", "`last_seen`", "notEmpty(`src_label_keys`) OR notEmpty(`src_label_changes`)")},
                    {LabelSets("dst", "d", "`last_seen`", "notEmpty(`dst_label_keys`) OR notEmpty(`dst_label_changes`)")},
                    groupUniqArrayArray(`src_label_changes`) AS `sprior`, groupUniqArrayArray(`dst_label_changes`) AS `dprior`
                FROM {ClickHouseSql.QuoteIdentifier(database, hourlyTable)}
                WHERE `window_start` >= {from} AND `window_start` < {to}
                GROUP BY `ds`, {EdgeKey}
            )
            """;
    }

    /// <summary>
    /// The aggregates an intersection of one side's labels needs: every distinct label set of the group's rows (as
    /// arrays of (key, value) tuples; a handful per group: one per release seen) and the newest row's set. 18.16 has no
    /// groupArrayIntersect (24.x) and arrayIntersect takes a fixed number of arrays, so the intersection is the newest set
    /// filtered by "in every set" (<see cref="LabelIntersection"/>), over an inner query because a lambda cannot hold an
    /// aggregate. Rows whose labels are unknown (<paramref name="known"/> false: no label at all, and no change recorded)
    /// are left out, as the in-memory catalog ignores identities without labels (a source that did not know them).
    /// </summary>
    private static string LabelSets(string column, string alias, string newest, string known) =>
        $"groupUniqArrayIf(arrayMap((k, v) -> (k, v), `{column}_label_keys`, `{column}_label_values`), {known}) AS `{alias}sets`, " +
        $"argMaxIf(arrayMap((k, v) -> (k, v), `{column}_label_keys`, `{column}_label_values`), {newest}, {known}) AS `{alias}newest`";

    /// <summary>
    /// The keys of pairs some set holds and the intersection does not (<see cref="LabelIntersection"/>), with the changes the
    /// merged rows already recorded (<c>{alias}prior</c>), each once.
    /// </summary>
    private static string LabelChanges(string alias)
    {
        string all = $"arrayReduce('groupUniqArrayArray', `{alias}sets`)";
        return $"arrayReduce('groupUniqArray', arrayConcat(`{alias}prior`, arrayMap(x -> x.1, " +
            $"arrayFilter((x, k) -> NOT has(k, x), {all}, replicate({Kept(alias)}, {all})))))";
    }

    private static string Kept(string alias) =>
        $"arrayFilter((x, s) -> arrayAll(y -> has(y, x), s), `{alias}newest`, replicate(`{alias}sets`, `{alias}newest`))";

    /// <summary>
    /// Keys and values of the labels in every set (<see cref="LabelSets"/>), in the newest row's order. The sets reach
    /// the lambda as an argument (<c>replicate</c>), not captured: 18.16 prunes a subquery column referenced only inside
    /// a lambda ("Unknown identifier").
    /// </summary>
    private static string LabelIntersection(string alias)
    {
        string kept = Kept(alias);
        return $"arrayMap(x -> x.1, {kept}), arrayMap(x -> x.2, {kept})";
    }

    private static (string From, string To) DayBounds(DateOnly day)
    {
        var start = day.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
        return (ClickHouseSql.FormatDateTime(start), ClickHouseSql.FormatDateTime(start.AddDays(1)));
    }
}
