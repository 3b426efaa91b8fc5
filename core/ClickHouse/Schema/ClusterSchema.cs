namespace FlowPolicy.Core.ClickHouse.Schema;

/// <summary>
/// How FlowPolicy's tables are laid out on a ClickHouse cluster (see docs/scaling.md). Sharded tables keep their data in
/// <c>&lt;name&gt;_local</c> MergeTree tables on every node, behind a <c>Distributed</c> table with the original name, so
/// queries and inserts keep working unchanged. The small SLI tables and schema_migrations stay whole on every node.
/// </summary>
public static class ClusterSchema
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
        FlowTables.Flows or FlowTables.DeadLetters or FlowTables.IngestProgress => "`kafka_partition`",
        FlowTables.EdgesHourly or FlowTables.EdgesDaily => null,
        _ => throw new ArgumentException($"{table} is not sharded", nameof(table)),
    };

    /// <summary>True for the tables split across shards; the others are whole copies on every node.</summary>
    public static bool IsSharded(string table) => table is FlowTables.Flows or FlowTables.DeadLetters or FlowTables.IngestProgress
        or FlowTables.EdgesHourly or FlowTables.EdgesDaily;

    /// <summary>The Distributed table with the original name over the local tables of every shard.</summary>
    public static TableDefinition DistributedTable(TableDefinition local, string table, string cluster, string database)
    {
        var key = ShardingKey(table);
        var engine = $"ENGINE = Distributed({ClickHouseSql.QuoteIdentifier(cluster)}, {ClickHouseSql.QuoteIdentifier(database)}, {ClickHouseSql.QuoteIdentifier(local.Name)}{(key is null ? "" : ", " + key)})";
        return new TableDefinition(table, local.Columns, engine);
    }

    /// <summary>" ON CLUSTER `name`" for DDL sent once for the whole cluster (needs ClickHouse Keeper or ZooKeeper), else "".</summary>
    public static string OnCluster(string? cluster) => cluster is null ? "" : " ON CLUSTER " + ClickHouseSql.QuoteIdentifier(cluster);
}
