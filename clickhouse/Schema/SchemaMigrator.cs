using System.Globalization;

namespace FlowPolicy.ClickHouse.Schema;

/// <summary>Retention per table, in days; null keeps data forever. Applied as TTL where the server supports it.</summary>
public sealed class SchemaOptions
{
    public int? FlowsRetentionDays { get; set; } = 30;
    /// <summary>L7 observations (<see cref="FlowTables.L7"/>): as long as the flows they describe by default.</summary>
    public int? L7RetentionDays { get; set; } = 30;
    public int? DeadLetterRetentionDays { get; set; } = 14;
    public int? IngestProgressRetentionDays { get; set; } = 30;
    public int? HourlyEdgesRetentionDays { get; set; } = 90;
    public int? DailyEdgesRetentionDays { get; set; }
    public int? SliRetentionDays { get; set; }
    public int? JobRunsRetentionDays { get; set; } = 180;

    /// <summary>
    /// A cluster from the server's remote_servers: sharded tables become &lt;name&gt;_local plus a Distributed table with the
    /// original name (<see cref="ClusterSchema"/>). Null: one server, plain tables.
    /// </summary>
    public string? Cluster { get; set; }

    /// <summary>
    /// With <see cref="Cluster"/>: send DDL once with ON CLUSTER (needs ClickHouse Keeper or ZooKeeper). False: the
    /// caller migrates every node itself, one client per node, with plain DDL (what works without a Keeper).
    /// </summary>
    public bool OnClusterDdl { get; set; } = true;

    /// <summary>
    /// With <see cref="Cluster"/>: every MergeTree table (the sharded &lt;name&gt;_local tables and the whole copies) is
    /// ReplicatedMergeTree('/clickhouse/tables/{shard}/&lt;database&gt;/&lt;table&gt;', '{replica}'). Needs ZooKeeper (or Keeper)
    /// and the macros shard and replica in every server's config (docs/scaling.md).
    /// </summary>
    public bool Replicated { get; set; }

    public void Validate()
    {
        if (Cluster is { } cluster && string.IsNullOrWhiteSpace(cluster)) throw new ArgumentException("The cluster name must not be empty.");
        if (Replicated && Cluster is null) throw new ArgumentException("Replicated tables need a cluster: set Cluster (--cluster NAME) as well.");
        foreach (var days in new[] { FlowsRetentionDays, L7RetentionDays, DeadLetterRetentionDays, IngestProgressRetentionDays, HourlyEdgesRetentionDays, DailyEdgesRetentionDays, SliRetentionDays, JobRunsRetentionDays })
            if (days is <= 0) throw new ArgumentException("Retention must be a positive number of days, or unset to keep data forever.");
    }
}

/// <summary>What a migration run did: steps applied, steps skipped (already in place, or unsupported, with why).</summary>
public sealed record MigrationReport(
    ClickHouseServerVersion ServerVersion,
    int PreviousSchemaVersion,
    int SchemaVersion,
    IReadOnlyList<string> Applied,
    IReadOnlyList<string> Skipped)
{
    public bool Changed => Applied.Count > 0;
}

/// <summary>
/// Brings a database to the current FlowPolicy schema. Every step first looks at what the server has
/// (system.databases, system.tables, system.columns) and only applies what is missing, so running it again
/// applies nothing, and a database created by an older FlowPolicy is completed rather than recreated.
/// Column types of existing columns are never changed. Runs that applied something are recorded in
/// schema_migrations with the schema version reached.
/// </summary>
public static class SchemaMigrator
{
    /// <summary>The schema version this code produces. Bump it when a step is added.</summary>
    /// <remarks>2: flows.kafka_index, flows.is_reply, flows_dead_letter.line; edge rollup label columns; sli_windows and sli_drift.
    /// 3: job_runs (the scheduler's record of job windows).
    /// 4: flows.inserted_at and the edge rollups' inserted_at; retention (TTL) counted from when a row was stored;
    /// non_replicated_deduplication_window on flows and flows_dead_letter (20.12+).
    /// 5: edge rollup label change columns (labels that changed within a row's flows: a rollout).
    /// 7: flow_anomalies (the anomalies job's findings with their evidence).
    /// 8: flows_l7 (L7 observations from Hubble, stored exactly once beside flows).
    /// 9: sli_drift.remediation (each drift event's suggested change to the intended policy files).
    /// 10: sli_l7_operations (the SLIs per L7 operation of each analysed window).</remarks>
    public const int CurrentVersion = 10;

    public static async Task<MigrationReport> MigrateAsync(ClickHouseHttpClient client, SchemaOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        options ??= new SchemaOptions();
        options.Validate();
        var version = await client.GetServerVersionAsync(cancellationToken).ConfigureAwait(false);
        var applied = new List<string>();
        var skipped = new List<string>();
        var db = client.Database;

        var dbExists = await client.QueryScalarAsync(
            $"SELECT count() FROM system.databases WHERE name = {ClickHouseSql.QuoteString(db)}", cancellationToken, useDatabase: false).ConfigureAwait(false);
        var onCluster = options.Cluster is not null && options.OnClusterDdl ? options.Cluster : null;
        if (dbExists == "0")
        {
            if (onCluster is null) await client.EnsureDatabaseAsync(cancellationToken).ConfigureAwait(false);
            else await client.ExecuteAsync($"CREATE DATABASE IF NOT EXISTS {ClickHouseSql.QuoteIdentifier(db)}{ClusterSchema.OnCluster(onCluster)}", cancellationToken, useDatabase: false).ConfigureAwait(false);
            applied.Add($"create database {db}");
        }
        else skipped.Add($"create database {db}: exists");

        var snapshot = await SchemaSnapshot.LoadAsync(client, cancellationToken).ConfigureAwait(false);
        int previous = snapshot.Tables.ContainsKey(FlowTables.Migrations)
            ? int.Parse(await client.QueryScalarAsync($"SELECT max(`version`) FROM {ClickHouseSql.QuoteIdentifier(db, FlowTables.Migrations)}", cancellationToken).ConfigureAwait(false) ?? "0", CultureInfo.InvariantCulture)
            : 0;

        foreach (var table in Plan(version, db, options).Where(t => t.Table.EngineClause.StartsWith("ENGINE = Distributed", StringComparison.Ordinal)))
        {
            // A database created for one server has the data in a MergeTree under the original name: turning it into a
            // Distributed table would hide the rows. Moving data between layouts is an operator's decision, not a migration.
            if (snapshot.Tables.TryGetValue(table.Table.Name, out var existing) && !existing.StartsWith("Distributed", StringComparison.Ordinal))
                throw new InvalidOperationException(
                    $"{db}.{table.Table.Name} exists as a single-server table ({existing.Split(' ')[0]}); a cluster layout needs it as a Distributed table over {ClusterSchema.LocalName(table.Table.Name)}. Migrate into a new database, then copy the data with INSERT ... SELECT.");
        }
        if (options.Replicated)
        {
            // Same reasoning for replication: a plain MergeTree holding data is not turned into a replicated one behind the operator's back.
            foreach (var (table, _, _) in Plan(version, db, options))
                if (table.EngineClause.StartsWith("ENGINE = Replicated", StringComparison.Ordinal)
                    && snapshot.Tables.TryGetValue(table.Name, out var existing) && !existing.StartsWith("Replicated", StringComparison.Ordinal))
                    throw new InvalidOperationException(
                        $"{db}.{table.Name} exists as a non-replicated table ({existing.Split(' ')[0]}); --replicated needs ReplicatedMergeTree. Migrate into a new database, then copy the data with INSERT ... SELECT.");
        }
        var work = Plan(version, db, options);

        foreach (var (table, ttlColumn, retention) in work)
        {
            var name = table.Name;
            string engineFull;
            if (!snapshot.Tables.ContainsKey(name))
            {
                await client.ExecuteAsync(table.CreateSql(db, onCluster), cancellationToken).ConfigureAwait(false);
                applied.Add($"create table {name}");
                engineFull = "";
            }
            else
            {
                skipped.Add($"create table {name}: exists");
                await AddMissingColumnsAsync(client, table, snapshot, onCluster, applied, skipped, cancellationToken).ConfigureAwait(false);
                engineFull = await ClusterSchema.EngineFullAsync(client, name, cancellationToken).ConfigureAwait(false);
            }

            if (engineFull.Length > 0 && table.EngineClause.Contains(FlowTables.DeduplicationSetting, StringComparison.Ordinal)
                && !engineFull.Contains(FlowTables.DeduplicationSetting, StringComparison.Ordinal))
            {
                await client.ExecuteAsync(
                    $"ALTER TABLE {ClickHouseSql.QuoteIdentifier(db, name)}{ClusterSchema.OnCluster(onCluster)} MODIFY SETTING {FlowTables.DeduplicationSetting} = {FlowTables.DeduplicationWindow}",
                    cancellationToken).ConfigureAwait(false);
                applied.Add($"{name}: {FlowTables.DeduplicationSetting} {FlowTables.DeduplicationWindow}");
            }

            if (ttlColumn is null || retention is null) continue;
            var ttlStep = $"{name}: retention {retention} days";
            if (!version.SupportsTtl)
            {
                skipped.Add($"{ttlStep}: ClickHouse {version} has no TTL (needs 19.6); expire with {nameof(RetentionJob)}.{nameof(RetentionJob.DropExpiredPartitionsAsync)}");
                continue;
            }
            // Newer servers show TTL normalised as "TTL <column> + toIntervalDay(N)" in engine_full. A TTL on another
            // column (before schema 4: the row's own time) is replaced.
            var expected = $"TTL {ttlColumn} + toIntervalDay({retention})";
            if (engineFull.Contains(expected, StringComparison.Ordinal))
            {
                skipped.Add($"{ttlStep}: in place");
                continue;
            }
            await client.ExecuteAsync(TtlStatement(db, name, onCluster, ttlColumn, retention.Value), cancellationToken).ConfigureAwait(false);
            applied.Add(ttlStep);
        }

        if (applied.Count > 0)
        {
            var steps = "[" + string.Join(", ", applied.Select(ClickHouseSql.QuoteString)) + "]";
            await client.ExecuteAsync(
                $"INSERT INTO {ClickHouseSql.QuoteIdentifier(db, FlowTables.Migrations)} (`version`, `applied_at`, `steps`, `server_version`) " +
                $"VALUES ({CurrentVersion}, {ClickHouseSql.FormatDateTime(DateTime.UtcNow)}, {steps}, {ClickHouseSql.QuoteString(version.Text)})",
                cancellationToken).ConfigureAwait(false);
        }
        return new MigrationReport(version, previous, CurrentVersion, applied, skipped);
    }

    /// <summary>The retention of a table as the migrator sets it (deploy/clickhouse's reference copies print the same).</summary>
    public static string TtlStatement(string database, string table, string? onCluster, string ttlColumn, int retentionDays) =>
        $"ALTER TABLE {ClickHouseSql.QuoteIdentifier(database, table)}{ClusterSchema.OnCluster(onCluster)} MODIFY TTL {ClickHouseSql.QuoteIdentifier(ttlColumn)} + toIntervalDay({retentionDays})";

    /// <summary>
    /// Every table the schema wants, in creation order, with its TTL column and retention: on a cluster each sharded
    /// table becomes its local table followed by the Distributed table with the original name; replicated, every MergeTree
    /// table is ReplicatedMergeTree.
    /// </summary>
    public static IReadOnlyList<(TableDefinition Table, string? TtlColumn, int? RetentionDays)> Plan(ClickHouseServerVersion version, string database, SchemaOptions options)
    {
        var tables = new (TableDefinition Table, string? TtlColumn, int? RetentionDays)[]
        {
            (FlowTables.MigrationsTable(), null, null),
            // Every TTL counts from when the row was stored (a backfill of old flows is not deleted on arrival):
            // inserted_at where the row's own time is the data's, else a column that already holds the storing time.
            (FlowTables.FlowsTable(version), FlowTables.StoredAt, options.FlowsRetentionDays),
            (FlowTables.DeadLetterTable(version), "received", options.DeadLetterRetentionDays),
            (FlowTables.L7Table(version), FlowTables.StoredAt, options.L7RetentionDays),
            (FlowTables.IngestProgressTable(version), "time", options.IngestProgressRetentionDays),
            (FlowTables.EdgesTable(FlowTables.EdgesHourly, version), FlowTables.StoredAt, options.HourlyEdgesRetentionDays),
            (FlowTables.EdgesTable(FlowTables.EdgesDaily, version), FlowTables.StoredAt, options.DailyEdgesRetentionDays),
            (FlowTables.SliWindowsTable(version), "analyzed_at", options.SliRetentionDays),
            (FlowTables.SliDriftTable(version), "analyzed_at", options.SliRetentionDays),
            (FlowTables.SliL7OperationsTable(version), "analyzed_at", options.SliRetentionDays),
            (FlowTables.JobRunsTable(version), "finished", options.JobRunsRetentionDays),
            (FlowTables.AnomaliesTable(version), "analyzed_at", options.SliRetentionDays),
        };
        var work = new List<(TableDefinition Table, string? TtlColumn, int? RetentionDays)>();
        foreach (var (plain, ttlColumn, retention) in tables)
        {
            bool sharded = options.Cluster is not null && ClusterSchema.IsSharded(plain.Name);
            var table = sharded ? plain with { Name = ClusterSchema.LocalName(plain.Name) } : plain;
            if (options.Replicated && options.Cluster is not null) table = ClusterSchema.Replicated(table, database);
            work.Add((table, ttlColumn, retention));
            if (sharded) work.Add((ClusterSchema.DistributedTable(table, plain.Name, options.Cluster!, database), null, null));
        }
        return work;
    }

    private static async Task AddMissingColumnsAsync(ClickHouseHttpClient client, TableDefinition table, SchemaSnapshot snapshot, string? onCluster,
        List<string> applied, List<string> skipped, CancellationToken cancellationToken)
    {
        var existing = snapshot.Columns.TryGetValue(table.Name, out var columns) ? columns : [];
        int added = 0;
        string? previousColumn = null;
        foreach (var column in table.Columns)
        {
            if (!existing.Contains(column.Name))
            {
                var position = previousColumn is null ? "FIRST" : "AFTER " + ClickHouseSql.QuoteIdentifier(previousColumn);
                await client.ExecuteAsync(
                    $"ALTER TABLE {ClickHouseSql.QuoteIdentifier(client.Database, table.Name)}{ClusterSchema.OnCluster(onCluster)} ADD COLUMN {ClickHouseSql.QuoteIdentifier(column.Name)} {column.Type} {position}",
                    cancellationToken).ConfigureAwait(false);
                applied.Add($"{table.Name}: add column {column.Name}");
                added++;
            }
            previousColumn = column.Name;
        }
        if (added == 0) skipped.Add($"{table.Name}: columns complete");
    }

    /// <summary>What the database holds now: tables with their engine name, and each table's column names.</summary>
    private sealed record SchemaSnapshot(Dictionary<string, string> Tables, Dictionary<string, HashSet<string>> Columns)
    {
        public static async Task<SchemaSnapshot> LoadAsync(ClickHouseHttpClient client, CancellationToken cancellationToken)
        {
            var db = ClickHouseSql.QuoteString(client.Database);
            var tables = new Dictionary<string, string>(StringComparer.Ordinal);
            // engine, not engine_full: 18.16 builds engine_full for every table and fails when one is dropped meanwhile
            // (ClusterSchema.EngineFullAsync); the one table whose settings matter is read with SHOW CREATE.
            var tableRows = await SystemTableReads.ReadAsync(
                token => client.QueryTsvAsync($"SELECT name, engine FROM system.tables WHERE database = {db}", token), cancellationToken).ConfigureAwait(false);
            foreach (var row in tableRows)
                tables[row[0]] = row[1];
            var columns = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
            var columnRows = await SystemTableReads.ReadAsync(
                token => client.QueryTsvAsync($"SELECT table, name FROM system.columns WHERE database = {db}", token), cancellationToken).ConfigureAwait(false);
            foreach (var row in columnRows)
            {
                if (!columns.TryGetValue(row[0], out var set)) columns[row[0]] = set = new HashSet<string>(StringComparer.Ordinal);
                set.Add(row[1]);
            }
            return new SchemaSnapshot(tables, columns);
        }
    }
}
