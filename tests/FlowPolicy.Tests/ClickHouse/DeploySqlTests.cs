using System.Text;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Tests.Cli;

namespace FlowPolicy.Tests.ClickHouse;

/// <summary>
/// deploy/clickhouse/*.sql are reference copies for operators; the migrator's DDL is the source of truth.
/// These tests fail when the copies drift. Regenerate with FLOWPOLICY_REGENERATE_SQL=1.
/// </summary>
public sealed class DeploySqlTests
{
    private static readonly DateOnly ExampleDay = new(2026, 1, 15);

    public static string SchemaSql(string serverVersion)
    {
        var version = ClickHouseServerVersion.Parse(serverVersion);
        var text = new StringBuilder();
        text.Append($"-- FlowPolicy ClickHouse schema version {SchemaMigrator.CurrentVersion}, as the migrator creates it on ClickHouse {version}.\n");
        text.Append("-- Reference copy: `SchemaMigrator.MigrateAsync` is the source of truth (tests keep this file in sync).\n");
        text.Append(version.SupportsLowCardinality
            ? "-- On servers before 20.1 the LowCardinality(String) columns are plain String (same RowBinary bytes).\n"
            : "-- 18.16 flavour: plain String where newer servers get LowCardinality(String); no TTL (use RetentionJob).\n");
        text.Append("\nCREATE DATABASE IF NOT EXISTS `flowpolicy`;\n");
        // The tables and retentions the migrator lays out with its default options, in its order.
        var plan = SchemaMigrator.Plan(version, "flowpolicy", new SchemaOptions());
        foreach (var (table, _, _) in plan)
            text.Append('\n').Append(table.CreateSql("flowpolicy")).Append(";\n");
        if (version.SupportsTtl)
        {
            text.Append("\n-- Retention (defaults; SchemaOptions changes them), counted from when a row was stored:\n");
            foreach (var (table, ttlColumn, retention) in plan)
                if (ttlColumn is not null && retention is not null)
                    text.Append(SchemaMigrator.TtlStatement("flowpolicy", table.Name, null, ttlColumn, retention.Value)).Append(";\n");
        }
        return text.ToString();
    }

    public static string RebuildSql()
    {
        var text = new StringBuilder();
        text.Append($"-- Idempotent rebuild of the edge rollups for one UTC day (example: {ExampleDay:yyyy-MM-dd}), as EdgeRollup.RebuildDayAsync runs it.\n");
        text.Append("-- Any step may fail or be repeated: rerunning the whole sequence gives the same rollup rows.\n");
        text.Append("\n-- 1. Hourly edges from raw flows.\n");
        foreach (var statement in EdgeRollup.RebuildStatements("flowpolicy", FlowTables.EdgesHourly, ExampleDay, EdgeRollup.HourlySelect("flowpolicy", ExampleDay)))
            text.Append(statement).Append(";\n");
        text.Append("\n-- 2. Daily edges from the hourly ones.\n");
        foreach (var statement in EdgeRollup.RebuildStatements("flowpolicy", FlowTables.EdgesDaily, ExampleDay, EdgeRollup.DailySelect("flowpolicy", ExampleDay)))
            text.Append(statement).Append(";\n");
        return text.ToString();
    }

    [Theory]
    [InlineData("schema.sql", "24.3")]
    [InlineData("schema-18.16.sql", "18.16.1")]
    public void Schema_reference_copies_match_the_migrator(string file, string version) => Check(file, SchemaSql(version));

    [Fact]
    public void Rollup_rebuild_reference_copy_matches_the_code() => Check("rollup_rebuild.sql", RebuildSql());

    private static void Check(string file, string expected)
    {
        var dir = CliProcess.RepositoryRoot();
        var path = Path.Combine(dir, "deploy", "clickhouse", file);
        if (Environment.GetEnvironmentVariable("FLOWPOLICY_REGENERATE_SQL") == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, expected);
        }
        Assert.True(File.Exists(path), $"{path} is missing; run the tests with FLOWPOLICY_REGENERATE_SQL=1.");
        Assert.Equal(expected, File.ReadAllText(path));
    }
}
