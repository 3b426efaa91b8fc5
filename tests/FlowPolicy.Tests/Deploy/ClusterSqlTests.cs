using System.Text;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Tests.Cli;

namespace FlowPolicy.Tests.Deploy;

/// <summary>
/// deploy/clickhouse/cluster/*.sql are reference copies of what `migrate --cluster` and the per-node rollup run;
/// the code is the source of truth. Regenerate with FLOWPOLICY_REGENERATE_SQL=1.
/// </summary>
public sealed class ClusterSqlTests
{
    private static readonly DateOnly ExampleDay = new(2026, 1, 15);

    public static string SchemaSql()
    {
        var version = ClickHouseServerVersion.Parse("24.3");
        var options = new SchemaOptions { Cluster = "flowpolicy" };
        var text = new StringBuilder();
        text.Append($"-- FlowPolicy ClickHouse schema version {SchemaMigrator.CurrentVersion} on a cluster named `flowpolicy`, as `flowpolicy migrate --cluster flowpolicy` creates it on ClickHouse {version}.\n");
        text.Append("-- ON CLUSTER needs ClickHouse Keeper or ZooKeeper; without one, `--cluster-node URL` (one per node) runs the same statements without ON CLUSTER on each node.\n");
        text.Append("-- Sharded tables: <table>_local (MergeTree) on every node behind a Distributed table with the original name.\n");
        text.Append("-- flows, flows_dead_letter, ingest_progress are sharded by kafka_partition (one ingest batch = one shard = one part);\n");
        text.Append("-- edges_1h/edges_1d have no sharding key: each node rebuilds its own from its flows (rollup_rebuild_per_node.sql).\n");
        text.Append("-- schema_migrations, sli_windows, sli_drift, job_runs, flow_anomalies are whole copies on every node. Reference copy: the code is the source of truth.\n");
        text.Append("\nCREATE DATABASE IF NOT EXISTS `flowpolicy` ON CLUSTER `flowpolicy`;\n");
        foreach (var (table, ttlColumn, retention) in SchemaMigrator.Plan(version, "flowpolicy", options))
        {
            text.Append('\n').Append(table.CreateSql("flowpolicy", "flowpolicy")).Append(";\n");
            if (ttlColumn is not null && retention is not null)
                text.Append(SchemaMigrator.TtlStatement("flowpolicy", table.Name, "flowpolicy", ttlColumn, retention.Value)).Append(";\n");
        }
        return text.ToString();
    }

    public static string ReplicatedSchemaSql()
    {
        var version = ClickHouseServerVersion.Parse("24.3");
        var options = new SchemaOptions { Cluster = "flowpolicy", Replicated = true };
        var text = new StringBuilder();
        text.Append($"-- FlowPolicy ClickHouse schema version {SchemaMigrator.CurrentVersion}, replicated, as `flowpolicy migrate --cluster flowpolicy --replicated` creates it on ClickHouse {version}.\n");
        text.Append("-- Needs ZooKeeper (or ClickHouse Keeper) in every server's <zookeeper> config and the macros <shard> and <replica> in <macros>:\n");
        text.Append("-- replicas of one shard share {shard} and differ in {replica}. Every MergeTree table is ReplicatedMergeTree at\n");
        text.Append("-- /clickhouse/tables/{shard}/<database>/<table>; sharded tables keep their Distributed table (schema.sql explains the layout).\n");
        text.Append("-- Rollup and SLI rebuilds stage in plain MergeTree tables (CREATE TABLE staging AS target ENGINE = MergeTree ...) and swap them in\n");
        text.Append("-- with REPLACE PARTITION on one replica; the other replicas fetch the new parts. Reference copy: the code is the source of truth.\n");
        text.Append("\nCREATE DATABASE IF NOT EXISTS `flowpolicy` ON CLUSTER `flowpolicy`;\n");
        foreach (var (table, ttlColumn, retention) in SchemaMigrator.Plan(version, "flowpolicy", options))
        {
            text.Append('\n').Append(table.CreateSql("flowpolicy", "flowpolicy")).Append(";\n");
            if (ttlColumn is not null && retention is not null)
                text.Append(SchemaMigrator.TtlStatement("flowpolicy", table.Name, "flowpolicy", ttlColumn, retention.Value)).Append(";\n");
        }
        return text.ToString();
    }

    public static string RebuildSql()
    {
        var text = new StringBuilder();
        text.Append($"-- Rollup rebuild of one UTC day (example: {ExampleDay:yyyy-MM-dd}) on ONE node of a cluster, from its local flows into its local rollups.\n");
        text.Append("-- Run on every node (EdgeRollup.RebuildDayOnNodesAsync). REPLACE PARTITION works only between local MergeTree tables.\n");
        var local = EdgeRollupTables.ClusterLocal;
        text.Append("\n-- 1. Hourly edges from the node's flows.\n");
        foreach (var statement in EdgeRollup.RebuildStatements("flowpolicy", local.Hourly, ExampleDay, EdgeRollup.HourlySelect("flowpolicy", ExampleDay, local.Flows)))
            text.Append(statement).Append(";\n");
        text.Append("\n-- 2. Daily edges from the node's hourly ones.\n");
        foreach (var statement in EdgeRollup.RebuildStatements("flowpolicy", local.Daily, ExampleDay, EdgeRollup.DailySelect("flowpolicy", ExampleDay, local.Hourly)))
            text.Append(statement).Append(";\n");
        return text.ToString();
    }

    [Fact]
    public void Cluster_schema_reference_copy_matches_the_migrator() => Check("schema.sql", SchemaSql());

    [Fact]
    public void Replicated_cluster_schema_reference_copy_matches_the_migrator() => Check("schema-replicated.sql", ReplicatedSchemaSql());

    [Fact]
    public void Replicated_mode_makes_every_MergeTree_table_replicated_at_a_path_per_shard_database_and_table()
    {
        var plan = SchemaMigrator.Plan(ClickHouseServerVersion.Parse("18.16.1"), "db", new SchemaOptions { Cluster = "c", Replicated = true }).Select(t => t.Table).ToList();
        var plain = SchemaMigrator.Plan(ClickHouseServerVersion.Parse("18.16.1"), "db", new SchemaOptions { Cluster = "c" }).Select(t => t.Table).ToList();
        Assert.Equal(plain.Select(t => t.Name), plan.Select(t => t.Name));
        for (int i = 0; i < plan.Count; i++)
        {
            Assert.Equal(plain[i].Columns, plan[i].Columns);
            if (plain[i].EngineClause.StartsWith("ENGINE = Distributed", StringComparison.Ordinal))
            {
                Assert.Equal(plain[i].EngineClause, plan[i].EngineClause);
                continue;
            }
            var engine = $"ENGINE = ReplicatedMergeTree('/clickhouse/tables/{{shard}}/db/{plan[i].Name}', '{{replica}}')";
            Assert.Equal(engine + plain[i].EngineClause["ENGINE = MergeTree".Length..], plan[i].EngineClause);
        }
        Assert.Contains(plan, t => t.Name == "flows_local" && t.EngineClause.Contains("/db/flows_local'", StringComparison.Ordinal));
        Assert.Throws<ArgumentException>(() => new SchemaOptions { Replicated = true }.Validate());
    }

    [Theory]
    [InlineData("MergeTree PARTITION BY toYYYYMMDD(window_start) ORDER BY (a, b) SETTINGS index_granularity = 8192", null)]
    [InlineData("ReplicatedMergeTree('/clickhouse/tables/{shard}/db/edges_1h_local', '{replica}') PARTITION BY toYYYYMMDD(window_start) ORDER BY (a, b) SETTINGS index_granularity = 8192",
        "ENGINE = MergeTree PARTITION BY toYYYYMMDD(window_start) ORDER BY (a, b) SETTINGS index_granularity = 8192")]
    [InlineData("ReplicatedReplacingMergeTree('/p/it\\'s (odd)', 'r1', version) ORDER BY a", "ENGINE = ReplacingMergeTree(version) ORDER BY a")]
    [InlineData("ReplicatedMergeTree('/p', '{replica}') ORDER BY (version, applied_at)", "ENGINE = MergeTree ORDER BY (version, applied_at)")]
    public void Staging_tables_of_a_replicated_target_get_the_plain_engine_with_the_same_keys(string engineFull, string? expected) =>
        Assert.Equal(expected, ClusterSchema.StagingEngine(engineFull));

    [Theory]
    // 18.16 prints SHOW CREATE TABLE on one line.
    [InlineData("CREATE TABLE db.t ( `a` UInt8,  `engine` String DEFAULT 'x) ENGINE = Log') ENGINE = ReplicatedMergeTree('/p/t', '{replica}') PARTITION BY toYYYYMMDD(a) ORDER BY a SETTINGS index_granularity = 8192",
                "ReplicatedMergeTree('/p/t', '{replica}') PARTITION BY toYYYYMMDD(a) ORDER BY a SETTINGS index_granularity = 8192")]
    // Current servers print one clause per line.
    [InlineData("CREATE TABLE db.t\n(\n    `a` UInt8,\n    `ENGINE` String\n)\nENGINE = MergeTree\nPARTITION BY toYYYYMMDD(a)\nORDER BY a\nTTL a + toIntervalDay(7)\nSETTINGS index_granularity = 8192",
                "MergeTree PARTITION BY toYYYYMMDD(a) ORDER BY a TTL a + toIntervalDay(7) SETTINGS index_granularity = 8192")]
    public void The_engine_clause_of_a_create_statement_is_what_engine_full_holds(string statement, string expected) =>
        Assert.Equal(expected, ClusterSchema.EngineFullOf(statement));

    [Fact]
    public void A_staging_table_of_a_replicated_target_is_created_with_the_plain_engine()
    {
        var statements = EdgeRollup.RebuildStatements("db", "edges_1h_local", ExampleDay, "SELECT 1", "ENGINE = MergeTree ORDER BY a");
        Assert.Equal("CREATE TABLE `db`.`edges_1h_local_rebuild_20260115` AS `db`.`edges_1h_local` ENGINE = MergeTree ORDER BY a", statements[1]);
        Assert.Equal("CREATE TABLE `db`.`edges_1h_local_rebuild_20260115` AS `db`.`edges_1h_local`", EdgeRollup.RebuildStatements("db", "edges_1h_local", ExampleDay, "SELECT 1")[1]);
    }

    [Fact]
    public void A_rebuild_s_staging_table_is_its_own_and_its_age_is_read_back_from_its_name()
    {
        var at = new DateTimeOffset(2026, 12, 7, 14, 0, 0, TimeSpan.Zero);
        var tags = Enumerable.Range(0, 50).Select(_ => StagingTables.NewTag(at)).ToList();
        Assert.Equal(tags.Count, tags.Distinct().Count());
        string name = EdgeRollup.StagingName("edges_1h", ExampleDay, tags[0]);
        Assert.StartsWith("edges_1h_rebuild_20260115_1796652000_", name);
        Assert.Contains($"CREATE TABLE `db`.`{name}` AS `db`.`edges_1h`", EdgeRollup.RebuildStatements("db", "edges_1h", ExampleDay, "SELECT 1", stagingTag: tags[0]));
        Assert.Equal(at, StagingTables.StartOf("edges_1h_rebuild_", name));
        // Not this table's, the reference scripts' untagged name, or not a tag at all: never taken for a leftover.
        Assert.Null(StagingTables.StartOf("edges_1d_rebuild_", name));
        Assert.Null(StagingTables.StartOf("edges_1h_rebuild_", "edges_1h_rebuild_20260115"));
        Assert.Null(StagingTables.StartOf("edges_1h_rebuild_", "edges_1h_rebuild_20260115_1796652000_zz"));
        Assert.Null(StagingTables.StartOf("edges_1h_rebuild_", "edges_1h_local_rebuild_20260115_1796652000_0000abcd"));
    }

    [Fact]
    public void Per_node_rollup_reference_copy_matches_the_code() => Check("rollup_rebuild_per_node.sql", RebuildSql());

    [Fact]
    public void Every_sharded_table_has_a_local_table_before_its_Distributed_table_and_the_rest_stay_whole()
    {
        var plan = SchemaMigrator.Plan(ClickHouseServerVersion.Parse("18.16.1"), "db", new SchemaOptions { Cluster = "c" }).Select(t => t.Table).ToList();
        foreach (var table in new[] { FlowTables.Flows, FlowTables.DeadLetters, FlowTables.L7, FlowTables.IngestProgress, FlowTables.EdgesHourly, FlowTables.EdgesDaily })
        {
            int local = plan.FindIndex(t => t.Name == table + "_local"), distributed = plan.FindIndex(t => t.Name == table);
            Assert.True(local >= 0 && distributed == local + 1, table);
            Assert.StartsWith("ENGINE = MergeTree", plan[local].EngineClause);
            Assert.StartsWith("ENGINE = Distributed(`c`, `db`, `" + table + "_local`", plan[distributed].EngineClause);
            Assert.Equal(plan[local].Columns, plan[distributed].Columns);
        }
        foreach (var table in new[] { FlowTables.Migrations, FlowTables.SliWindows, FlowTables.SliDrift, FlowTables.SliL7Operations, FlowTables.JobRuns, FlowTables.Anomalies })
            Assert.StartsWith("ENGINE = MergeTree", plan.Single(t => t.Name == table).EngineClause);
        Assert.Equal(SchemaMigrator.Plan(ClickHouseServerVersion.Parse("18.16.1"), "db", new SchemaOptions()).Select(t => t.Table.Name),
            [FlowTables.Migrations, FlowTables.Flows, FlowTables.DeadLetters, FlowTables.L7, FlowTables.IngestProgress, FlowTables.EdgesHourly, FlowTables.EdgesDaily, FlowTables.SliWindows, FlowTables.SliDrift, FlowTables.SliL7Operations, FlowTables.JobRuns, FlowTables.Anomalies]);
    }

    private static void Check(string file, string expected)
    {
        var path = Path.Combine(CliProcess.RepositoryRoot(), "deploy", "clickhouse", "cluster", file);
        if (Environment.GetEnvironmentVariable("FLOWPOLICY_REGENERATE_SQL") == "1") File.WriteAllText(path, expected);
        Assert.True(File.Exists(path), $"{path} is missing; run the tests with FLOWPOLICY_REGENERATE_SQL=1.");
        Assert.Equal(expected, File.ReadAllText(path));
    }
}
