using FlowPolicy.Analytics.Intent;
using FlowPolicy.Analytics.Jobs;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.RowBinary;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.IntegrationTests.Infrastructure;
using FlowPolicy.IntegrationTests.Infrastructure.Chdb;
using Xunit.Abstractions;

namespace FlowPolicy.IntegrationTests.ClickHouse;

public abstract class SchemaMigratorTests<TServer>(TServer server, ITestOutputHelper output) : ClickHouseTest<TServer>(server)
    where TServer : IClickHouseTestServer
{
    private static readonly string[] AllTables =
        [FlowTables.Migrations, FlowTables.Flows, FlowTables.DeadLetters, FlowTables.L7, FlowTables.IngestProgress, FlowTables.EdgesHourly, FlowTables.EdgesDaily,
         FlowTables.SliWindows, FlowTables.SliDrift, FlowTables.SliL7Operations, FlowTables.JobRuns, FlowTables.Anomalies];

    [Fact]
    public async Task A_fresh_database_gets_every_table_and_a_second_run_applies_nothing()
    {
        var first = await SchemaMigrator.MigrateAsync(Db);
        foreach (var line in first.Applied) output.WriteLine("applied: " + line);
        foreach (var line in first.Skipped) output.WriteLine("skipped: " + line);

        Assert.Equal(0, first.PreviousSchemaVersion);
        Assert.Equal(SchemaMigrator.CurrentVersion, first.SchemaVersion);
        foreach (var table in AllTables) Assert.Contains($"create table {table}", first.Applied);
        Assert.Equal(AllTables.OrderBy(t => t), (await TablesAsync()).OrderBy(t => t));

        var second = await SchemaMigrator.MigrateAsync(Db);
        Assert.Empty(second.Applied);
        Assert.False(second.Changed);
        Assert.Equal(SchemaMigrator.CurrentVersion, second.PreviousSchemaVersion);
        Assert.Contains($"create table {FlowTables.Flows}: exists", second.Skipped);
        Assert.Contains($"{FlowTables.Flows}: columns complete", second.Skipped);

        // One recorded run: the second applied nothing and recorded nothing.
        Assert.Equal("1", await Db.QueryScalarAsync($"SELECT count() FROM {FlowTables.Migrations}"));
    }

    [Fact]
    public async Task Retention_is_a_TTL_where_supported_and_reported_as_skipped_elsewhere()
    {
        var report = await SchemaMigrator.MigrateAsync(Db, new SchemaOptions { FlowsRetentionDays = 7 });
        var engine = await Db.QueryScalarAsync($"SELECT engine_full FROM system.tables WHERE database = {ClickHouseSql.QuoteString(Db.Database)} AND name = 'flows'");
        if (Server.Version.SupportsTtl)
        {
            Assert.Contains("flows: retention 7 days", report.Applied);
            Assert.Contains($"TTL {FlowTables.StoredAt} + toIntervalDay(7)", engine);
            Assert.Empty((await SchemaMigrator.MigrateAsync(Db, new SchemaOptions { FlowsRetentionDays = 7 })).Applied);

            // A schema 3 table kept its TTL on the flow's own time: the migration moves it to inserted_at, once.
            await Db.ExecuteAsync("ALTER TABLE flows MODIFY TTL `start` + toIntervalDay(7)");
            Assert.Equal(["flows: retention 7 days"], (await SchemaMigrator.MigrateAsync(Db, new SchemaOptions { FlowsRetentionDays = 7 })).Applied);
            Assert.Contains($"TTL {FlowTables.StoredAt} + toIntervalDay(7)",
                await Db.QueryScalarAsync($"SELECT engine_full FROM system.tables WHERE database = {ClickHouseSql.QuoteString(Db.Database)} AND name = 'flows'"));
            Assert.Empty((await SchemaMigrator.MigrateAsync(Db, new SchemaOptions { FlowsRetentionDays = 7 })).Applied);
        }
        else
        {
            Assert.Contains(report.Skipped, s => s.StartsWith("flows: retention 7 days: ClickHouse 18.16", StringComparison.Ordinal) || s.StartsWith("flows: retention 7 days: ClickHouse", StringComparison.Ordinal));
            Assert.DoesNotContain("TTL", engine);
        }
    }

    /// <summary>
    /// A stored older schema: flows without TCP flags, labels, format and Kafka origin; no rollups or dead
    /// letters; one recorded run at version 0. The migrator completes it in place and keeps existing rows.
    /// </summary>
    private const string OlderSchema = """
        CREATE TABLE {db}.schema_migrations (`version` UInt32, `applied_at` DateTime('UTC'), `steps` Array(String), `server_version` String)
        ENGINE = MergeTree ORDER BY (`version`, `applied_at`);
        INSERT INTO {db}.schema_migrations VALUES (0, toDateTime('2025-01-01 00:00:00', 'UTC'), ['create table flows'], '18.16.1');
        CREATE TABLE {db}.flows (
            `start` DateTime('UTC'), `end` DateTime('UTC'), `src_ip` FixedString(16), `dst_ip` FixedString(16),
            `src_port` UInt16, `dst_port` UInt16, `protocol` UInt8, `bytes` UInt64, `packets` UInt64,
            `verdict` Enum8('unknown' = 0, 'allowed' = 1, 'denied' = 2),
            `src_namespace` String, `src_workload` String, `dst_namespace` String, `dst_workload` String)
        ENGINE = MergeTree PARTITION BY toYYYYMMDD(`start`)
        ORDER BY (`dst_namespace`, `dst_workload`, `dst_port`, `src_namespace`, `src_workload`, `start`);
        INSERT INTO {db}.flows (`start`, `end`, `dst_port`, `protocol`, `bytes`, `verdict`, `dst_namespace`, `dst_workload`)
            VALUES (toDateTime('2025-01-01 10:00:00', 'UTC'), toDateTime('2025-01-01 10:00:05', 'UTC'), 443, 6, 1000, 'allowed', 'shop', 'cart')
        """;

    [Fact]
    public async Task An_older_stored_schema_is_completed_in_place_and_then_left_alone()
    {
        foreach (var statement in OlderSchema.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            await Db.ExecuteAsync(statement.Replace("{db}", ClickHouseSql.QuoteIdentifier(Db.Database)));

        var upgrade = await SchemaMigrator.MigrateAsync(Db);
        foreach (var line in upgrade.Applied) output.WriteLine("applied: " + line);
        Assert.Equal(0, upgrade.PreviousSchemaVersion);
        Assert.Contains("flows: add column tcp_flags", upgrade.Applied);
        Assert.Contains("flows: add column src_label_keys", upgrade.Applied);
        Assert.Contains("flows: add column kafka_offset", upgrade.Applied);
        Assert.Contains($"create table {FlowTables.EdgesHourly}", upgrade.Applied);
        Assert.DoesNotContain($"create table {FlowTables.Flows}", upgrade.Applied);

        // Columns now in the order the writer uses, and the old row kept with defaults for new columns.
        var columns = await Db.QueryTsvAsync($"SELECT name FROM system.columns WHERE database = {ClickHouseSql.QuoteString(Db.Database)} AND table = 'flows'");
        Assert.Equal(FlowRowWriter.Columns.Append(FlowTables.StoredAt), columns.Select(r => r[0]));
        Assert.Equal(["shop", "cart", "1000", "0", ""], (await Db.QueryTsvAsync("SELECT dst_namespace, dst_workload, bytes, kafka_offset, format FROM flows"))[0]);

        // The upgraded table takes inserts from the current writer.
        using var rows = new RowBinaryWriter();
        var writer = new FlowRowWriter(rows);
        var record = new FlowRecord { Start = new DateTime(2025, 1, 1, 11, 0, 0, DateTimeKind.Utc), End = new DateTime(2025, 1, 1, 11, 0, 0, DateTimeKind.Utc), SrcIp = PackedIp.Parse("10.0.0.1"), DstIp = PackedIp.Parse("10.0.0.2"), DstPort = 80, Protocol = 6 };
        writer.Write(record, "vpc", "flows", 0, 5);
        await Db.InsertRowBinaryAsync(FlowTables.Flows, FlowRowWriter.Columns, rows);
        Assert.Equal("2", await Db.QueryScalarAsync("SELECT count() FROM flows"));

        var again = await SchemaMigrator.MigrateAsync(Db);
        Assert.Empty(again.Applied);
        Assert.Equal(SchemaMigrator.CurrentVersion, again.PreviousSchemaVersion);
    }

    [Fact]
    public async Task A_schema_1_database_gets_rollup_labels_and_the_SLI_tables_keeping_its_rollup_rows()
    {
        // Schema 1 as released: edge rollups without label columns, no SLI tables, one recorded run at version 1.
        await SchemaMigrator.MigrateAsync(Db);
        foreach (var table in new[] { FlowTables.EdgesHourly, FlowTables.EdgesDaily })
            foreach (var column in new[] { "src_label_keys", "src_label_values", "dst_label_keys", "dst_label_values" })
                await Db.ExecuteAsync($"ALTER TABLE {ClickHouseSql.QuoteIdentifier(Db.Database, table)} DROP COLUMN {ClickHouseSql.QuoteIdentifier(column)}");
        await Db.ExecuteAsync($"DROP TABLE {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.SliWindows)}");
        await Db.ExecuteAsync($"DROP TABLE {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.SliDrift)}");
        await Db.ExecuteAsync($"DROP TABLE {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.SliL7Operations)}");
        await Db.ExecuteAsync($"DROP TABLE {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.JobRuns)}");
        await Db.ExecuteAsync($"DROP TABLE {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.Migrations)}");
        await Db.ExecuteAsync(FlowTables.MigrationsTable().CreateSql(Db.Database));
        await Db.ExecuteAsync($"INSERT INTO {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.Migrations)} (version, applied_at, steps, server_version) VALUES (1, now(), [], '')");
        await Db.ExecuteAsync("INSERT INTO edges_1h (window_start, src_workload, dst_workload, dst_port, protocol, flows) VALUES (toDateTime('2026-11-02 10:00:00', 'UTC'), 'frontend', 'cart', 7070, 6, 12)");

        var upgrade = await SchemaMigrator.MigrateAsync(Db);
        foreach (var line in upgrade.Applied) output.WriteLine("applied: " + line);
        Assert.Equal(1, upgrade.PreviousSchemaVersion);
        Assert.Equal(SchemaMigrator.CurrentVersion, upgrade.SchemaVersion);
        Assert.Equal(
            ["edges_1h: add column src_label_keys", "edges_1h: add column src_label_values", "edges_1h: add column dst_label_keys", "edges_1h: add column dst_label_values",
             "edges_1d: add column src_label_keys", "edges_1d: add column src_label_values", "edges_1d: add column dst_label_keys", "edges_1d: add column dst_label_values",
             $"create table {FlowTables.SliWindows}", $"create table {FlowTables.SliDrift}", $"create table {FlowTables.SliL7Operations}", $"create table {FlowTables.JobRuns}"],
            upgrade.Applied.Where(a => !a.Contains("retention", StringComparison.Ordinal)));
        Assert.Equal(["frontend", "12", "0"], (await Db.QueryTsvAsync("SELECT src_workload, flows, length(src_label_keys) FROM edges_1h"))[0]);

        var again = await SchemaMigrator.MigrateAsync(Db);
        Assert.Empty(again.Applied);
        Assert.Equal(SchemaMigrator.CurrentVersion, again.PreviousSchemaVersion);
    }

    [Fact]
    public async Task A_schema_2_database_gets_the_job_runs_table_and_nothing_else()
    {
        await SchemaMigrator.MigrateAsync(Db);
        await Db.ExecuteAsync($"DROP TABLE {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.JobRuns)}");
        await Db.ExecuteAsync($"ALTER TABLE {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.Migrations)} DELETE WHERE 1");
        await Db.ExecuteAsync($"INSERT INTO {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.Migrations)} (version, applied_at, steps, server_version) VALUES (2, now(), [], '')");
        await WaitForMutationsAsync();

        var upgrade = await SchemaMigrator.MigrateAsync(Db);
        Assert.Equal(2, upgrade.PreviousSchemaVersion);
        Assert.Equal(SchemaMigrator.CurrentVersion, upgrade.SchemaVersion);
        Assert.Equal([$"create table {FlowTables.JobRuns}"], upgrade.Applied.Where(a => !a.Contains("retention", StringComparison.Ordinal)));
        await Db.ExecuteAsync($"INSERT INTO {FlowTables.JobRuns} (job, window_start, window_end, status, attempt, finished) VALUES ('analyze', now() - 3600, now(), 'succeeded', 1, now())");
        Assert.Equal("succeeded", await Db.QueryScalarAsync($"SELECT toString(status) FROM {FlowTables.JobRuns}"));

        var again = await SchemaMigrator.MigrateAsync(Db);
        Assert.Empty(again.Applied);
        Assert.Equal(SchemaMigrator.CurrentVersion, again.PreviousSchemaVersion);
    }

    [Fact]
    public async Task A_schema_4_database_gets_the_label_change_columns_of_the_edge_rollups_and_nothing_else()
    {
        await SchemaMigrator.MigrateAsync(Db);
        foreach (var table in new[] { FlowTables.EdgesHourly, FlowTables.EdgesDaily })
            foreach (var column in new[] { "src_label_changes", "dst_label_changes" })
                await Db.ExecuteAsync($"ALTER TABLE {ClickHouseSql.QuoteIdentifier(Db.Database, table)} DROP COLUMN {ClickHouseSql.QuoteIdentifier(column)}");
        await Db.ExecuteAsync($"ALTER TABLE {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.Migrations)} DELETE WHERE 1");
        await Db.ExecuteAsync($"INSERT INTO {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.Migrations)} (version, applied_at, steps, server_version) VALUES (4, now(), [], '')");
        await WaitForMutationsAsync();

        var upgrade = await SchemaMigrator.MigrateAsync(Db);
        Assert.Equal(4, upgrade.PreviousSchemaVersion);
        Assert.Equal(SchemaMigrator.CurrentVersion, upgrade.SchemaVersion);
        Assert.Equal(
            [$"{FlowTables.EdgesHourly}: add column src_label_changes", $"{FlowTables.EdgesHourly}: add column dst_label_changes",
             $"{FlowTables.EdgesDaily}: add column src_label_changes", $"{FlowTables.EdgesDaily}: add column dst_label_changes"],
            upgrade.Applied.Where(a => !a.Contains("retention", StringComparison.Ordinal)));
        // A rebuild writes the new columns.
        await EdgeRollup.RebuildDayAsync(Db, new DateOnly(2026, 11, 2));
        var again = await SchemaMigrator.MigrateAsync(Db);
        Assert.Empty(again.Applied);
    }

    [Fact]
    public async Task A_schema_6_database_gets_the_anomalies_table_and_nothing_else()
    {
        await SchemaMigrator.MigrateAsync(Db);
        await Db.ExecuteAsync($"DROP TABLE {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.Anomalies)}");
        await Db.ExecuteAsync($"ALTER TABLE {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.Migrations)} DELETE WHERE 1");
        await Db.ExecuteAsync($"INSERT INTO {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.Migrations)} (version, applied_at, steps, server_version) VALUES (6, now(), [], '')");
        await WaitForMutationsAsync();

        var upgrade = await SchemaMigrator.MigrateAsync(Db);
        Assert.Equal(6, upgrade.PreviousSchemaVersion);
        Assert.Equal(SchemaMigrator.CurrentVersion, upgrade.SchemaVersion);
        Assert.Equal([$"create table {FlowTables.Anomalies}"], upgrade.Applied.Where(a => !a.Contains("retention", StringComparison.Ordinal)));
        await Db.ExecuteAsync($"INSERT INTO {FlowTables.Anomalies} (window_start, window_end, kind, scope, subject, metric, start, end, baseline, edges) " +
            "VALUES (now() - 3600, now(), 'denied_spike', 'service', 'shop/db', 'denied_flows', now() - 3600, now(), 'hour_of_week', ['shop/api -> shop/db:5432/TCP'])");
        Assert.Equal("denied_spike", await Db.QueryScalarAsync($"SELECT toString(kind) FROM {FlowTables.Anomalies}"));

        var again = await SchemaMigrator.MigrateAsync(Db);
        Assert.Empty(again.Applied);
        Assert.Equal(SchemaMigrator.CurrentVersion, again.PreviousSchemaVersion);
    }

    [Fact]
    public async Task A_schema_7_database_gets_the_L7_table_and_nothing_else_and_the_L7_writer_fills_it()
    {
        await SchemaMigrator.MigrateAsync(Db);
        await Db.ExecuteAsync($"DROP TABLE {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.L7)}");
        await Db.ExecuteAsync($"ALTER TABLE {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.Migrations)} DELETE WHERE 1");
        await Db.ExecuteAsync($"INSERT INTO {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.Migrations)} (version, applied_at, steps, server_version) VALUES (7, now(), [], '')");
        await WaitForMutationsAsync();

        var upgrade = await SchemaMigrator.MigrateAsync(Db);
        Assert.Equal(7, upgrade.PreviousSchemaVersion);
        Assert.Equal(SchemaMigrator.CurrentVersion, upgrade.SchemaVersion);
        Assert.Equal([$"create table {FlowTables.L7}"], upgrade.Applied.Where(a => !a.Contains("retention", StringComparison.Ordinal)));

        // Every column the writer fills round-trips: an HTTP response flipped to client -> server, a DNS answer, names.
        var client = new WorkloadIdentity(EndpointKind.Pod, "shop", "checkout", "Deployment", "checkout-7d-1", [KeyValuePair.Create("app", "checkout")]);
        var server = new WorkloadIdentity(EndpointKind.Pod, "shop", "payment", "Deployment", "payment-5f-2");
        var at = new DateTime(2026, 11, 2, 10, 0, 5, DateTimeKind.Utc);
        var oriented = new FlowRecord
        {
            Start = at, SrcIp = PackedIp.Parse("10.244.0.7"), DstIp = PackedIp.Parse("10.244.1.9"), SrcPort = 41000, DstPort = 8080,
            Protocol = IpProtocols.Tcp, Verdict = Verdict.Allowed, SrcIdentity = client, DstIdentity = server,
        };
        using (var rows = new RowBinaryWriter())
        {
            var writer = new L7RowWriter(rows);
            writer.Write(oriented, L7Protocol.Http, L7Direction.Response, "GET", "/users/{id}", "/users/42", "HTTP/1.1", 503, null, 0, null, "hubble", 3, 17, 0);
            writer.Write(oriented, L7Protocol.Dns, L7Direction.Response, "A", "api.pay.example", null, null, 0,
                [PackedIp.Parse("203.0.113.5"), PackedIp.Parse("2001:db8::5")], 30, null, "hubble", 3, 18, 0);
            writer.Write(oriented, L7Protocol.Names, L7Direction.Unknown, null, null, null, null, -1, null, 0, ["api.pay.example", "pay.example"], "hubble", 3, 18, 1);
            await Db.InsertRowBinaryAsync(FlowTables.L7, L7RowWriter.Columns, rows);
        }
        var read = await Db.QueryTsvAsync($"""
            SELECT toUnixTimestamp(time), IPv6NumToString(src_ip), dst_port, toString(verdict), src_workload, src_label_keys, dst_pod, toString(l7_protocol),
                toString(l7_direction), operation, resource, path, version, status, arrayMap(a -> IPv6NumToString(a), addresses), ttl, names,
                kafka_partition, kafka_offset, kafka_index
            FROM {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.L7)} ORDER BY kafka_offset, kafka_index
            """);
        var seconds = new DateTimeOffset(at).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(
        [
            [seconds, "::ffff:10.244.0.7", "8080", "allowed", "checkout", "['app']", "payment-5f-2", "http", "response", "GET", "/users/{id}", "/users/42", "HTTP/1.1", "503", "[]", "0", "[]", "3", "17", "0"],
            [seconds, "::ffff:10.244.0.7", "8080", "allowed", "checkout", "['app']", "payment-5f-2", "dns", "response", "A", "api.pay.example", "", "", "0", "['::ffff:203.0.113.5','2001:db8::5']", "30", "[]", "3", "18", "0"],
            [seconds, "::ffff:10.244.0.7", "8080", "allowed", "checkout", "['app']", "payment-5f-2", "names", "unknown", "", "", "", "", "-1", "[]", "0", "['api.pay.example','pay.example']", "3", "18", "1"],
        ], read);

        var again = await SchemaMigrator.MigrateAsync(Db);
        Assert.Empty(again.Applied);
        Assert.Equal(SchemaMigrator.CurrentVersion, again.PreviousSchemaVersion);
    }

    [Fact]
    public async Task A_schema_8_database_gets_the_drift_remediation_column_and_keeps_its_drift_rows()
    {
        await SchemaMigrator.MigrateAsync(Db);
        var drift = ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.SliDrift);
        await Db.ExecuteAsync($"ALTER TABLE {drift} DROP COLUMN remediation");
        await Db.ExecuteAsync($"INSERT INTO {drift} (window_start, window_end, kind, src, dst, dst_port, protocol, flows, policy, rule, reason, analyzed_at) " +
            "VALUES ('2026-11-02 10:00:00', '2026-11-02 11:00:00', 'unintended_edge', 'shop/a', 'shop/b', 80, 'TCP', 3, '', '', 'no rule', now())");
        await Db.ExecuteAsync($"ALTER TABLE {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.Migrations)} DELETE WHERE 1");
        await Db.ExecuteAsync($"INSERT INTO {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.Migrations)} (version, applied_at, steps, server_version) VALUES (8, now(), [], '')");
        await WaitForMutationsAsync();

        var upgrade = await SchemaMigrator.MigrateAsync(Db);
        Assert.Equal(8, upgrade.PreviousSchemaVersion);
        Assert.Equal([$"{FlowTables.SliDrift}: add column remediation"], upgrade.Applied.Where(a => !a.Contains("retention", StringComparison.Ordinal)));
        // The row written before the column existed reads '' (no remediation computed), beside its other columns.
        Assert.Equal([["shop/a", "shop/b", ""]], await Db.QueryTsvAsync($"SELECT src, dst, remediation FROM {drift}"));
        Assert.Empty((await SchemaMigrator.MigrateAsync(Db)).Applied);
    }

    [Fact]
    public async Task A_schema_9_database_gets_the_L7_operation_SLI_table_and_nothing_else_and_the_SLI_store_fills_it()
    {
        await SchemaMigrator.MigrateAsync(Db);
        await Db.ExecuteAsync($"DROP TABLE {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.SliL7Operations)}");
        await Db.ExecuteAsync($"ALTER TABLE {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.Migrations)} DELETE WHERE 1");
        await Db.ExecuteAsync($"INSERT INTO {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.Migrations)} (version, applied_at, steps, server_version) VALUES (9, now(), [], '')");
        await WaitForMutationsAsync();

        var upgrade = await SchemaMigrator.MigrateAsync(Db);
        Assert.Equal(9, upgrade.PreviousSchemaVersion);
        Assert.Equal(10, upgrade.SchemaVersion);
        Assert.Equal([$"create table {FlowTables.SliL7Operations}"], upgrade.Applied.Where(a => !a.Contains("retention", StringComparison.Ordinal)));

        // Every column the SLI store writes round-trips: an HTTP operation with an error and a proxy denial, from two clients.
        var at = new DateTime(2026, 11, 2, 10, 0, 5, DateTimeKind.Utc);
        var window = new AnalysisWindow(at.Date.AddHours(10), at.Date.AddHours(11));
        Edge Caller(string client, long requests, long errors, long denied) =>
            new(Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, "shop", client, "Deployment")),
                Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, "shop", "api", "Deployment")), 8080, IpProtocols.Tcp)
            {
                Flows = 4, AllowedFlows = 4, FirstSeen = at, LastSeen = at.AddMinutes(9), Days = [DateOnly.FromDateTime(at)], ClientReplicas = 1,
                L7 = new EdgeL7Facts
                {
                    Operations = [new L7Operation { Protocol = L7Protocol.Http, Operation = "GET", Resource = "/users/{id}", Requests = requests, Responses = requests,
                        Errors = errors, Denied = denied, FirstSeen = at.AddMinutes(requests), LastSeen = at.AddMinutes(requests + 1) }],
                },
            };
        var report = SliCalculator.Compute([Caller("web", 3, 1, 0), Caller("batch", 5, 0, 2)], new AllowEverything(), window);
        var stored = await SliStore.ReplaceWindowAsync(Db, report, at.AddHours(2));
        Assert.Equal(1, stored.L7OperationRows);
        Assert.Equal(
            [["2026-11-02 10:00:00", "2026-11-02 11:00:00", "shop/api", "8080", "http", "GET", "/users/{id}", "2", "8", "1", "2", "8", "0", "0", "0", "1", "0", "0.125", "",
              "2026-11-02 10:03:05", "2026-11-02 10:06:05", "2026-11-02 12:00:05"]],
            await Db.QueryTsvAsync($"SELECT toString(window_start), toString(window_end), server, toString(port), toString(l7_protocol), operation, resource, " +
                "toString(clients), toString(requests), toString(errors), toString(proxy_denied), toString(allowed_by_intent), toString(denied_by_intent), " +
                "toString(denied_at_l7), toString(undetermined), toString(compliance_rate), toString(denied_rate), toString(error_rate), denied_reason, " +
                $"toString(first_seen), toString(last_seen), toString(analyzed_at) FROM {FlowTables.SliL7Operations}"));
        Assert.Empty((await SchemaMigrator.MigrateAsync(Db)).Applied);
    }

    private sealed class AllowEverything : IIntentEvaluator
    {
        private static readonly IntentRule Rule = new("shop/allow", "ingress[0]", "Test");
        public IReadOnlyList<IntentRule> Rules => [Rule];
        public IntentDecision Evaluate(Endpoint client, Endpoint server, ushort port, byte protocol) => new(true, [Rule], "allowed");
    }

    private async Task WaitForMutationsAsync()
    {
        // ALTER ... DELETE is a background mutation on every version: wait until it is done.
        for (int i = 0; i < 100 && await Db.QueryScalarAsync($"SELECT count() FROM system.mutations WHERE database = {ClickHouseSql.QuoteString(Db.Database)} AND is_done = 0") != "0"; i++)
            await Task.Delay(100);
    }

    [Fact]
    public async Task A_dropped_table_is_recreated_by_the_next_run()
    {
        await SchemaMigrator.MigrateAsync(Db);
        await Db.ExecuteAsync($"DROP TABLE {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.EdgesDaily)}");
        var report = await SchemaMigrator.MigrateAsync(Db);
        Assert.Equal([$"create table {FlowTables.EdgesDaily}"], report.Applied);
    }

    [Fact]
    public async Task The_migrator_creates_a_missing_database()
    {
        using var client = Server.Root.ForDatabase("test_" + Guid.NewGuid().ToString("N"));
        try
        {
            var report = await SchemaMigrator.MigrateAsync(client);
            Assert.Contains($"create database {client.Database}", report.Applied);
        }
        finally
        {
            await Server.Root.ExecuteAsync("DROP DATABASE IF EXISTS " + ClickHouseSql.QuoteIdentifier(client.Database), useDatabase: false);
        }
    }

    [Fact]
    public async Task Retention_job_drops_only_partitions_older_than_the_retention_and_stored_longer_ago_than_it()
    {
        await SchemaMigrator.MigrateAsync(Db);
        var now = DateTime.UtcNow;
        var future = now.Date.AddDays(5); // a day whose data is newer than any cut-off below (a clock ahead, say)
        foreach (var start in new[] { new DateTime(2026, 1, 1, 12, 0, 0, DateTimeKind.Utc), new DateTime(2026, 1, 3, 12, 0, 0, DateTimeKind.Utc), future })
            await InsertFlowAsync(start);
        var options = new SchemaOptions { FlowsRetentionDays = 2 };

        // Today: the January days are far older than 2 days, but were stored just now (a backfill): nothing goes.
        Assert.Empty(await RetentionJob.DropExpiredPartitionsAsync(Db, options, now));
        Assert.Equal(3, (await Db.QueryTsvAsync("SELECT start FROM flows")).Count);

        // Three days on (cut-off: tomorrow): both January days are old and stored more than 2 days before; the future
        // day's rows are newer than the cut-off and stay.
        var dropped = await RetentionJob.DropExpiredPartitionsAsync(Db, options, now.AddDays(3));
        Assert.Equal(["flows/20260101", "flows/20260103"], dropped.Order(StringComparer.Ordinal));
        Assert.Equal([future.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)],
            (await Db.QueryTsvAsync("SELECT toDate(start) FROM flows")).Select(r => r[0]));
    }

    [Fact]
    public async Task A_backfill_older_than_the_retention_is_kept_and_retention_counts_from_when_rows_were_stored()
    {
        await SchemaMigrator.MigrateAsync(Db, new SchemaOptions { FlowsRetentionDays = 7 });
        var old = DateTime.UtcNow.Date.AddDays(-100);
        await InsertFlowAsync(old); // flows of 100 days ago, stored now
        Assert.Single(await Db.QueryTsvAsync("SELECT inserted_at FROM flows WHERE inserted_at >= now() - 60"));
        if (Server.Version.SupportsTtl)
        {
            // A row stored 8 days ago (inserted_at given explicitly) is past the retention: the TTL, applied by the merge
            // OPTIMIZE ... FINAL forces, deletes it and keeps the backfill (a TTL on start deleted both).
            await Db.ExecuteAsync($"INSERT INTO flows (`start`, `end`, `{FlowTables.StoredAt}`) VALUES " +
                                  $"({ClickHouseSql.FormatDateTime(old)}, {ClickHouseSql.FormatDateTime(old)}, {ClickHouseSql.FormatDateTime(DateTime.UtcNow.AddDays(-8))})");
            await Db.ExecuteAsync("OPTIMIZE TABLE flows FINAL");
            var engine = await Db.QueryScalarAsync($"SELECT engine_full FROM system.tables WHERE database = {ClickHouseSql.QuoteString(Db.Database)} AND name = 'flows'");
            Assert.Contains($"TTL {FlowTables.StoredAt} + toIntervalDay(7)", engine);
        }
        else
        {
            Assert.Empty(await RetentionJob.DropExpiredPartitionsAsync(Db, new SchemaOptions { FlowsRetentionDays = 7 }, DateTime.UtcNow));
        }
        var left = await Db.QueryTsvAsync("SELECT toDate(start), inserted_at >= now() - 600 FROM flows");
        Assert.Equal([[old.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), "1"]], left);
    }

    private async Task InsertFlowAsync(DateTime start)
    {
        using var rows = new RowBinaryWriter();
        new FlowRowWriter(rows).Write(new FlowRecord { Start = start, End = start }, "test", "flows", 0, start.Day);
        await Db.InsertRowBinaryAsync(FlowTables.Flows, FlowRowWriter.Columns, rows);
    }

    private async Task<List<string>> TablesAsync() =>
        (await Db.QueryTsvAsync($"SELECT name FROM system.tables WHERE database = {ClickHouseSql.QuoteString(Db.Database)}")).Select(r => r[0]).ToList();
}

/// <summary>On the private ClickHouse 18.16 server.</summary>
[Collection(ClickHouseCollection.Name)]
public sealed class SchemaMigratorTests(ClickHouseServerFixture server, ITestOutputHelper output) : SchemaMigratorTests<ClickHouseServerFixture>(server, output);

/// <summary>On the current engine (chDB in process).</summary>
[Collection(CurrentClickHouseCollection.Name)]
[Trait("server", "current")]
public sealed class SchemaMigratorTestsOnCurrentServer(ChdbServerFixture server, ITestOutputHelper output) : SchemaMigratorTests<ChdbServerFixture>(server, output);
