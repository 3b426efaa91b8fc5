namespace FlowPolicy.ClickHouse.Schema;

/// <summary>
/// How FlowPolicy's tables are laid out on a ClickHouse cluster (see docs/scaling.md). Sharded tables keep their data in
/// <c>&lt;name&gt;_local</c> MergeTree tables on every node, behind a <c>Distributed</c> table with the original name, so
/// queries and inserts keep working unchanged. The small SLI tables and schema_migrations stay whole on every node.
/// Replicated (<see cref="SchemaOptions.Replicated"/>): every MergeTree table is ReplicatedMergeTree, one ZooKeeper path
/// per shard and table (<see cref="ReplicatedPath"/>).
/// </summary>
internal static class ClusterSchema
{
    public const string LocalSuffix = "_local";

    /// <summary>The local table behind a sharded table.</summary>
    public static string LocalName(string table) => table + LocalSuffix;

    /// <summary>
    /// The sharding key of each sharded table, or null for tables written per shard (never through the Distributed
    /// table: a Distributed table without a key refuses inserts on a cluster of several shards, which guards the rollups).
    /// Ingest tables are sharded by Kafka partition: a batch holds one partition, so it lands on one shard as one part
    /// and the exactly-once argument (one INSERT = one atomic part; resume after the highest stored position of the
    /// partition) holds unchanged. Per-service reads stay narrow on every shard through the ORDER BY key.
    /// </summary>
    public static string? ShardingKey(string table) => table switch
    {
        FlowTables.Flows or FlowTables.DeadLetters or FlowTables.L7 or FlowTables.IngestProgress => "`kafka_partition`",
        FlowTables.EdgesHourly or FlowTables.EdgesDaily => null,
        _ => throw new ArgumentException($"{table} is not sharded", nameof(table)),
    };

    /// <summary>True for the tables split across shards; the others are whole copies on every node.</summary>
    public static bool IsSharded(string table) => table is FlowTables.Flows or FlowTables.DeadLetters or FlowTables.L7 or FlowTables.IngestProgress
        or FlowTables.EdgesHourly or FlowTables.EdgesDaily;

    /// <summary>The Distributed table with the original name over the local tables of every shard.</summary>
    public static TableDefinition DistributedTable(TableDefinition local, string table, string cluster, string database)
    {
        var key = ShardingKey(table);
        var engine = $"ENGINE = Distributed({ClickHouseSql.QuoteIdentifier(cluster)}, {ClickHouseSql.QuoteIdentifier(database)}, {ClickHouseSql.QuoteIdentifier(local.Name)}{(key is null ? "" : ", " + key)})";
        return new TableDefinition(table, local.Columns, engine);
    }

    /// <summary>
    /// The ZooKeeper path of a replicated table: one per shard, database and table. <c>{shard}</c> (and <c>{replica}</c> in
    /// the engine) are macros every server defines in its &lt;macros&gt; config; the server substitutes them at CREATE.
    /// </summary>
    public static string ReplicatedPath(string database, string table) => "/clickhouse/tables/{shard}/" + database + "/" + table;

    /// <summary>The table as ReplicatedMergeTree (the same keys): its copies on the replicas of a shard stay equal through ZooKeeper.</summary>
    public static TableDefinition Replicated(TableDefinition table, string database)
    {
        const string Plain = "ENGINE = MergeTree";
        if (!table.EngineClause.StartsWith(Plain, StringComparison.Ordinal))
            throw new ArgumentException($"{table.Name} is not a MergeTree table", nameof(table));
        var engine = $"ENGINE = ReplicatedMergeTree({ClickHouseSql.QuoteString(ReplicatedPath(database, table.Name))}, '{{replica}}')";
        return table with { EngineClause = engine + table.EngineClause[Plain.Length..] };
    }

    /// <summary>
    /// The engine clause for a staging table created <c>AS</c> a table whose <c>system.tables.engine_full</c> is given, or null
    /// when a plain <c>CREATE TABLE staging AS target</c> is right. A copy of a Replicated* target would register as the
    /// same replica at the same ZooKeeper path (refused, or worse, sharing its data), so the staging table is the
    /// non-replicated engine with the same keys: REPLACE PARTITION FROM accepts a plain MergeTree source into a replicated
    /// target, and the replicas fetch the new parts from the replica that ran it.
    /// </summary>
    public static string? StagingEngine(string engineFull)
    {
        ArgumentNullException.ThrowIfNull(engineFull);
        if (!engineFull.StartsWith("Replicated", StringComparison.Ordinal)) return null;
        int open = engineFull.IndexOf('(', StringComparison.Ordinal);
        if (open < 0) throw new ArgumentException($"Unexpected engine: {engineFull}", nameof(engineFull));
        var name = engineFull["Replicated".Length..open];
        var args = new List<string>();
        int depth = 0, argStart = open + 1, close = -1;
        for (int i = open + 1; i < engineFull.Length && close < 0; i++)
        {
            switch (engineFull[i])
            {
                case '\'': // skip a quoted string, with its backslash escapes
                    for (i++; i < engineFull.Length && engineFull[i] != '\''; i++) if (engineFull[i] == '\\') i++;
                    break;
                case '(': depth++; break;
                case ')' when depth > 0: depth--; break;
                case ')': args.Add(engineFull[argStart..i].Trim()); close = i; break;
                case ',' when depth == 0: args.Add(engineFull[argStart..i].Trim()); argStart = i + 1; break;
            }
        }
        if (close < 0 || args.Count < 2) throw new ArgumentException($"Unexpected replicated engine: {engineFull}", nameof(engineFull));
        // The first two arguments are the ZooKeeper path and the replica name; the rest belong to the engine (e.g. a version column).
        var rest = args.Skip(2).ToList();
        return "ENGINE = " + name + (rest.Count > 0 ? "(" + string.Join(", ", rest) + ")" : "") + engineFull[(close + 1)..];
    }

    /// <summary><see cref="StagingEngine(string)"/> for a table of the client's database; null when it is not replicated (or absent).</summary>
    public static async Task<string?> StagingEngineAsync(ClickHouseHttpClient client, string table, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        var kind = await SystemTableReads.ReadAsync(token => client.QueryScalarAsync(
            $"SELECT engine FROM system.tables WHERE database = {ClickHouseSql.QuoteString(client.Database)} AND name = {ClickHouseSql.QuoteString(table)}", token),
            cancellationToken).ConfigureAwait(false);
        if (kind is null || !kind.StartsWith("Replicated", StringComparison.Ordinal)) return null;
        return StagingEngine(await EngineFullAsync(client, table, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>
    /// What <c>system.tables.engine_full</c> holds for one table, from <c>SHOW CREATE TABLE</c>: 18.16 builds engine_full
    /// for every table of the database even when the query asks for one, so that read fails when another job drops a
    /// staging table meanwhile (<see cref="SystemTableReads"/>); SHOW CREATE reads only the table it names.
    /// </summary>
    public static async Task<string> EngineFullAsync(ClickHouseHttpClient client, string table, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        var statement = await client.QueryScalarAsync($"SHOW CREATE TABLE {ClickHouseSql.QuoteIdentifier(client.Database, table)}", cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"SHOW CREATE TABLE {client.Database}.{table} returned nothing");
        return EngineFullOf(statement);
    }

    /// <summary>
    /// The engine clause of a CREATE TABLE statement without its <c>ENGINE = </c>, on one line, as engine_full gives it:
    /// the first <c>ENGINE</c> keyword outside the column list, quotes and back-quoted names (18.16 prints the statement on
    /// one line, current servers one clause per line).
    /// </summary>
    public static string EngineFullOf(string createStatement)
    {
        ArgumentNullException.ThrowIfNull(createStatement);
        int depth = 0;
        for (int i = 0; i < createStatement.Length; i++)
        {
            char c = createStatement[i];
            if (c is '\'' or '`' or '"')
            {
                for (i++; i < createStatement.Length && createStatement[i] != c; i++) if (createStatement[i] == '\\') i++;
                continue;
            }
            if (c == '(') depth++;
            else if (c == ')') depth--;
            else if (depth == 0 && (i == 0 || char.IsWhiteSpace(createStatement[i - 1]) || createStatement[i - 1] == ')')
                     && string.CompareOrdinal(createStatement, i, "ENGINE", 0, 6) == 0)
            {
                int at = i + 6;
                while (at < createStatement.Length && (createStatement[at] == '=' || char.IsWhiteSpace(createStatement[at]))) at++;
                return string.Join(' ', createStatement[at..].Split('\n').Select(line => line.Trim()).Where(line => line.Length > 0));
            }
        }
        throw new ArgumentException($"No ENGINE clause in: {createStatement}", nameof(createStatement));
    }

    /// <summary>" ON CLUSTER `name`" for DDL sent once for the whole cluster (needs ClickHouse Keeper or ZooKeeper), else "".</summary>
    public static string OnCluster(string? cluster) => cluster is null ? "" : " ON CLUSTER " + ClickHouseSql.QuoteIdentifier(cluster);
}
