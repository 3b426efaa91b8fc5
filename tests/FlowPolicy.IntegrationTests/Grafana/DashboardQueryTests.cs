using FlowPolicy.Analytics.Anomalies;
using System.Globalization;
using System.Text;
using System.Text.Json;
using FlowPolicy.Analytics.Edges;
using FlowPolicy.Analytics.Intent;
using FlowPolicy.Analytics.Jobs;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Cli.Commands;
using FlowPolicy.Cli.Serve;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Core.Edges;
using FlowPolicy.Ingest.Enrichment;
using FlowPolicy.Ingest.Kafka;
using FlowPolicy.Ingest.Workers;
using FlowPolicy.IntegrationTests.Infrastructure;
using FlowPolicy.IntegrationTests.Infrastructure.Chdb;
using FlowPolicy.IntegrationTests.Ingest;
using FlowPolicy.LocalServers.Kafka;
using Xunit.Abstractions;

namespace FlowPolicy.IntegrationTests.Grafana;

/// <summary>
/// Every panel query and variable query of deploy/grafana/dashboards, with the plugin's macros expanded as the plugin
/// does, runs against a ClickHouse 18.16 filled the way production fills it: two days of the sample app through the
/// mock Kafka broker and an ingest worker (flows, dead letters, ingest_progress), the rollup rebuild, the analyze job
/// with the sample policies (sli_windows, sli_drift), and job_runs rows.
/// </summary>
public abstract class DashboardQueryTests<TServer>(TServer server, ITestOutputHelper output) : ClickHouseTest<TServer>(server), IDisposable
    where TServer : IClickHouseTestServer
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "flowpolicy-grafana-" + Guid.NewGuid().ToString("N")[..10]);

    /// <summary>Columns each panel must return, in order: what its visualisation and field overrides are built on.</summary>
    private static readonly Dictionary<string, string[]> ExpectedColumns = new()
    {
        ["executive / Compliance rate (overall)"] = ["time", "flows_compliance", "bytes_compliance"],
        ["executive / Compliance rate of the busiest services"] = ["time", "service", "compliance_rate"],
        ["executive / Denied flows per week"] = ["week", "denied"],
        ["executive / Top services by denial impact"] = ["service", "denied", "total_flows", "denied_share", "denied_clients"],
        ["executive / Blast radius before and after enforcement"] = ["service", "before_enforcement", "after_enforcement", "reduction"],
        ["executive / Drift events"] = ["time", "drift", "events"],
        ["oncall / Denied flows"] = ["time", "denied"],
        ["oncall / Denied flows (latest first)"] = ["time", "source", "destination", "port", "proto", "reporter", "policy"],
        ["oncall / New unintended edges"] = ["src", "dst", "port", "proto", "total_flows", "first_window", "why"],
        ["oncall / Ingest rows/s"] = ["bucket", "rows_per_second"],
        ["oncall / Ingest lag (messages, worst partition)"] = ["bucket", "max_lag", "max_insert_ms"],
        ["oncall / Dead letters"] = ["bucket", "dead_letters"],
        ["oncall / Latest dead letters"] = ["received", "topic", "part", "offset", "line", "fmt", "error", "excerpt"],
        ["oncall / Scheduled jobs: last success"] = ["job", "last_success", "covered_until", "seconds_since_success", "failures_in_range", "last_error"],
        ["oncall / Anomalies per hour"] = ["time", "anomalies", "denied_spikes", "scans", "drops_and_shifts"],
        ["oncall / Anomalies (latest first)"] = ["time", "anomaly", "about", "subject", "measure", "seen", "usual", "normal_range", "robust_score", "history", "evidence", "why"],
        ["debug / Edges"] = ["source", "destination", "port", "proto", "total_flows", "total_bytes", "allowed", "denied", "unknown_verdict", "first", "last", "hours_seen", "replicas", "intent"],
        ["debug / Flows by verdict"] = ["time", "reported", "flow_count"],
        ["debug / Intent: drift and mismatches"] = ["window_start", "event", "src", "dst", "port", "proto", "flow_count", "reason", "policy", "rule", "remediation"],
        ["debug / L7 operations: SLIs"] = ["server", "port", "l7", "operation", "resource", "total_requests", "intended", "not_intended", "denied_by_l7_rules", "cannot_judge",
            "proxy_denied_requests", "failed", "compliance", "error_share", "most_clients", "first", "last", "why_not_intended"],
        ["debug / Flows"] = ["start", "end", "source", "src_pod", "source_ip", "destination", "dst_pod", "destination_ip", "sport", "port", "proto", "reported", "reply", "flow_bytes", "flow_packets", "reporter", "policy", "fmt"],
    };

    /// <summary>Panels that must show data on the sample (the rest may legitimately be empty, e.g. with no drift).</summary>
    private static readonly HashSet<string> MustHaveRows =
    [
        "executive / Compliance rate (overall)", "executive / Compliance rate of the busiest services", "executive / Denied flows per week",
        "executive / Top services by denial impact", "executive / Blast radius before and after enforcement", "executive / Drift events",
        "oncall / Denied flows", "oncall / Denied flows (latest first)", "oncall / New unintended edges", "oncall / Ingest rows/s",
        "oncall / Ingest lag (messages, worst partition)", "oncall / Dead letters", "oncall / Latest dead letters", "oncall / Scheduled jobs: last success",
        "oncall / Anomalies per hour", "oncall / Anomalies (latest first)",
        "debug / Edges", "debug / Flows by verdict", "debug / Intent: drift and mismatches", "debug / L7 operations: SLIs", "debug / Flows",
    ];

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Every_panel_and_variable_query_runs_on_ClickHouse_filled_by_ingest_and_analyze_and_returns_the_panel_columns()
    {
        var (from, to) = await FillAsync();
        var files = Directory.GetFiles(GrafanaDashboards.Directory, "*.json").OrderBy(f => f, StringComparer.Ordinal).ToList();
        Assert.Equal(["debug.json", "executive.json", "oncall.json"], files.Select(Path.GetFileName));
        var panels = files.SelectMany(GrafanaDashboards.Panels).ToList();
        Assert.Equal(ExpectedColumns.Keys.Order(StringComparer.Ordinal), panels.Select(p => p.ToString()).Order(StringComparer.Ordinal));

        // Grafana's range interval for ~1000 points over the range, as the plugin receives it.
        int interval = (int)Math.Max(1, (to - from).TotalSeconds / 1000);
        var failures = new List<string>();

        // Debug dashboard: variables set to "All", then to one real value each, chosen from the variable's own query.
        var debugFile = files.Single(f => f.EndsWith("debug.json", StringComparison.Ordinal));
        var all = GrafanaDashboards.Variables(debugFile).ToDictionary(v => v.Name, v => v.AllValue);
        var chosen = new Dictionary<string, string>(all);
        var preferred = new Dictionary<string, string> { ["src_namespace"] = "shop", ["src_workload"] = "frontend", ["dst_namespace"] = "shop", ["dst_workload"] = "cart", ["port"] = "7070" };
        foreach (var (name, query, _) in GrafanaDashboards.Variables(debugFile))
        {
            var result = await RunAsync(GrafanaMacros.Expand(query, from, to, interval, chosen));
            Assert.True(result.Error is null, $"variable {name}: {result.Error}");
            Assert.True(result.Rows.Count > 0, $"variable {name} lists no values");
            Assert.Single(result.Columns);
            var values = result.Rows.Select(r => r[0].ToString()).ToList();
            chosen[name] = preferred.TryGetValue(name, out var want) ? (values.Contains(want) ? want : throw new Xunit.Sdk.XunitException($"{name} lacks {want}: {string.Join(",", values)}")) : values[0];
        }
        output.WriteLine("debug variables: " + string.Join(", ", chosen.Select(kv => kv.Key + "=" + kv.Value)));

        foreach (var panel in panels)
        {
            var runs = panel.Dashboard == "debug" ? new[] { ("all", all), ("chosen", chosen) } : [("", new Dictionary<string, string>())];
            foreach (var (label, variables) in runs)
            {
                var key = panel.ToString();
                var sql = GrafanaMacros.Expand(panel.Sql, from, to, interval, variables);
                var result = await RunAsync(sql);
                var where = label.Length == 0 ? key : $"{key} (variables {label})";
                if (result.Error is not null) { failures.Add($"{where}: {result.Error}\n{sql}"); continue; }
                output.WriteLine($"{where}: {result.Rows.Count} rows; {string.Join(", ", result.Columns.Select(c => c.Name + " " + c.Type))}");
                if (!result.Columns.Select(c => c.Name).SequenceEqual(ExpectedColumns[key]))
                    failures.Add($"{where}: columns {string.Join(",", result.Columns.Select(c => c.Name))}, expected {string.Join(",", ExpectedColumns[key])}");
                if (panel.Format == "timeseries" && !result.Columns[0].Type.StartsWith("DateTime", StringComparison.Ordinal))
                    failures.Add($"{where}: a time series panel needs a DateTime first column, got {result.Columns[0].Type}");
                if (panel.Format == "timeseries" && !result.Columns.Skip(1).Any(c => IsNumeric(c.Type)))
                    failures.Add($"{where}: a time series panel needs a numeric column");
                // "chosen" narrows to shop/frontend -> shop/cart: the edge and its flows exist; the drift panel may be empty then, and
                // the L7 panel is (the sample's Hubble file has L7 records of catalog's and payment's gRPC and kube-dns, none of cart).
                bool needRows = MustHaveRows.Contains(key) && !(label == "chosen" && key is "debug / Intent: drift and mismatches" or "debug / L7 operations: SLIs");
                if (needRows && result.Rows.Count == 0) failures.Add($"{where}: no rows");
                // Every unintended edge's row says what to do about it (the remediation: a note, a diff where one applies).
                if (key == "debug / Intent: drift and mismatches" && result.Rows.Any(r => r[^1].GetString()!.Length == 0))
                    failures.Add($"{where}: a drift event without its remediation");
                if (key == "debug / Intent: drift and mismatches" && label == "all" && !result.Rows.Any(r => r[^1].GetString()!.Contains("\n+++ b/", StringComparison.Ordinal)))
                    failures.Add($"{where}: no drift event with a diff");
                // The sample's gRPC calls to catalog, stored per operation by the analyze job, each with its requests judged.
                if (key == "debug / L7 operations: SLIs" && label == "all")
                {
                    var methods = result.Rows.Where(r => r[0].GetString() == "shop/catalog" && r[2].GetString() == "grpc").Select(r => r[4].GetString()).Order(StringComparer.Ordinal);
                    if (!methods.SequenceEqual(["/hipstershop.ProductCatalogService/GetProduct", "/hipstershop.ProductCatalogService/ListProducts"]))
                        failures.Add($"{where}: catalog's gRPC methods {string.Join(",", methods)}");
                    static long Count(JsonElement cell) => cell.ValueKind == JsonValueKind.String ? long.Parse(cell.GetString()!, CultureInfo.InvariantCulture) : cell.GetInt64();
                    foreach (var row in result.Rows)
                        if (Count(row[5]) == 0 || Count(row[6]) + Count(row[7]) + Count(row[9]) != Count(row[5]))
                            failures.Add($"{where}: {row[0]} {row[4]}: {row[5]} requests are not intended + not intended + cannot judge ({row[6]}, {row[7]}, {row[9]})");
                }
                // The sample policies allow frontend -> cart:7070, and the scanner's edges are unintended.
                if (key == "debug / Edges" && result.Rows.Count > 0)
                {
                    var intents = result.Rows.Select(r => r[^1].GetString()).Distinct().Order(StringComparer.Ordinal).ToList();
                    if (label == "chosen" && !intents.SequenceEqual(["intended"])) failures.Add($"{where}: intent {string.Join(",", intents)}, expected intended");
                    if (label == "all" && !intents.SequenceEqual(["intended", "not intended"])) failures.Add($"{where}: intent values {string.Join(",", intents)}");
                }
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }

    [Fact]
    public async Task Every_alert_rule_query_runs_and_fires_for_the_planted_incidents_only()
    {
        var (from, _) = await FillAsync();
        var sampleEnd = from.AddDays(2);
        var now = DateTime.UtcNow;
        now = new DateTime(now.Ticks - now.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
        await PlantIncidentsAsync(now);
        var rules = GrafanaAlertRules.Load();
        Assert.Equal(["flowpolicy-compliance-burn-fast", "flowpolicy-compliance-burn-slow", "flowpolicy-dead-letters-rising", "flowpolicy-denied-flow-spike",
            "flowpolicy-ingest-lagging", "flowpolicy-ingest-stalled", "flowpolicy-job-failing", "flowpolicy-new-unintended-edge-critical"], rules.Select(r => r.Uid).Order(StringComparer.Ordinal));
        var failures = new List<string>();
        var firing = new List<string>();
        // Evaluated as Grafana does at "now" (the planted incidents) and at the sample's end (its analyzed windows only).
        foreach (var (label, at) in new[] { ("now", now), ("sample end", sampleEnd) })
            foreach (var rule in rules)
            {
                var sql = GrafanaMacros.Expand(rule.Sql, at.AddSeconds(-rule.FromSeconds), at.AddSeconds(-rule.ToSeconds), 1, new Dictionary<string, string>());
                var result = await RunAsync(sql);
                if (result.Error is not null) { failures.Add($"{rule} at {label}: {result.Error}\n{sql}"); continue; }
                output.WriteLine($"{rule} at {label}: {result.Rows.Count} rows; {string.Join(", ", result.Columns.Select(c => c.Name + " " + c.Type))}");
                // Grafana's alerting reads a table as one instance per row: the text columns are its labels, the one number its value
                // (the plugin reads LowCardinality(String), which current servers' schema uses, as text).
                var numeric = result.Columns.Select((c, i) => (c, i)).Where(x => IsNumeric(x.c.Type)).ToList();
                if (numeric.Count != 1 || result.Columns.Count(c => c.Type is "String" or "LowCardinality(String)") != result.Columns.Count - 1)
                {
                    failures.Add($"{rule}: needs text label columns and exactly one numeric value column, got {string.Join(", ", result.Columns.Select(c => c.Name + " " + c.Type))}");
                    continue;
                }
                var labels = result.Rows.Select(r => string.Join(",", result.Columns.Select((c, i) => (c, i)).Where(x => x.i != numeric[0].i).Select(x => x.c.Name + "=" + r[x.i].GetString()))).ToList();
                if (labels.Distinct().Count() != labels.Count) failures.Add($"{rule} at {label}: two rows with the same labels");
                for (int row = 0; row < result.Rows.Count; row++)
                {
                    var cell = result.Rows[row][numeric[0].i];
                    double value = cell.ValueKind == JsonValueKind.String ? double.Parse(cell.GetString()!, CultureInfo.InvariantCulture) : cell.GetDouble();
                    if (!double.IsFinite(value)) failures.Add($"{rule} at {label}: value {value} for {labels[row]}");
                    output.WriteLine($"  {labels[row]}: {value}{(rule.Fires(value) ? " FIRES" : "")}");
                    if (rule.Fires(value)) firing.Add($"{label}: {rule} {labels[row]}");
                }
            }
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
        // The planted incidents fire, their controls do not. Instances about other data (the sample's own) are only printed:
        // which of them fire depends on the hour the test runs.
        string[] expected =
        [
            "now: flowpolicy-compliance-burn-fast slo=compliance",
            "now: flowpolicy-compliance-burn-slow slo=compliance",
            "now: flowpolicy-dead-letters-rising topic=test-broken",
            "now: flowpolicy-denied-flow-spike dst_scope=test-spiked",
            "now: flowpolicy-ingest-lagging topic=test-behind",
            "now: flowpolicy-ingest-stalled topic=test-stalled,part=3",
            "now: flowpolicy-job-failing job=test-failing",
            "now: flowpolicy-new-unintended-edge-critical src=test/intruder,dst=shop/payment,port=8443,proto=TCP",
        ];
        var planted = firing.Where(f => f.Contains("test", StringComparison.Ordinal) || f.Contains("slo=", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, planted);
    }

    /// <summary>
    /// Rows as the writers store them, each incident beside a control that must not fire: a job with 3 failed attempts in
    /// the hour (and one with 2), a partition whose last batch saw lag 20 minutes ago (and one 5 minutes ago), 50 dead
    /// letters of 150 records (and 9 of 10: under the minimum count), a topic whose lag grows past a million (and one whose
    /// lag falls), 60 denied flows in the last minutes to a namespace (and 40 to another: under the floor of 50), a
    /// window with half its flows unintended, and a new unintended caller of a critical service (and an old one, and a
    /// new one of a service not on the list).
    /// </summary>
    private async Task PlantIncidentsAsync(DateTime now)
    {
        var runs = new JobRunStore(Db);
        for (int attempt = 1; attempt <= 3; attempt++)
            await runs.RecordAsync(new JobRun("test-failing", new JobWindow(now.AddHours(-2), now.AddHours(-1)), JobRunStore.Failed, attempt, now.AddMinutes(-40 + attempt), now.AddMinutes(-40 + attempt), "schedule", "test", "boom", ""), default);
        for (int attempt = 1; attempt <= 2; attempt++)
            await runs.RecordAsync(new JobRun("test-flaky", new JobWindow(now.AddHours(-2), now.AddHours(-1)), JobRunStore.Failed, attempt, now.AddMinutes(-40 + attempt), now.AddMinutes(-40 + attempt), "schedule", "test", "boom", ""), default);
        string T(DateTime t) => F(t);
        await Db.ExecuteAsync("INSERT INTO ingest_progress (time, worker, kafka_topic, kafka_partition, first_offset, last_offset, rows, bytes, lag, dead_letters, insert_latency_ms) VALUES " +
            $"({T(now.AddMinutes(-20))}, 'w', 'test-stalled', 3, 0, 10, 10, 100, 500, 0, 5), ({T(now.AddMinutes(-5))}, 'w', 'test-stalled', 4, 0, 10, 10, 100, 500, 0, 5), " +
            $"({T(now.AddMinutes(-2))}, 'w', 'test-broken', 0, 0, 150, 100, 1000, 0, 50, 5), ({T(now.AddMinutes(-2))}, 'w', 'test-few', 0, 0, 10, 1, 10, 0, 9, 5), " +
            $"({T(now.AddMinutes(-12))}, 'w', 'test-behind', 0, 0, 10, 10, 100, 2000000, 0, 5), ({T(now.AddMinutes(-1))}, 'w', 'test-behind', 0, 10, 20, 10, 100, 2500000, 0, 5), " +
            $"({T(now.AddMinutes(-12))}, 'w', 'test-catching-up', 0, 0, 10, 10, 100, 3000000, 0, 5), ({T(now.AddMinutes(-1))}, 'w', 'test-catching-up', 0, 10, 20, 10, 100, 2500000, 0, 5)");
        await Db.ExecuteAsync($"INSERT INTO flows (start, end, verdict, dst_namespace) SELECT {T(now.AddMinutes(-3))}, {T(now.AddMinutes(-3))}, 'denied', 'test-spiked' FROM system.numbers LIMIT 60");
        await Db.ExecuteAsync($"INSERT INTO flows (start, end, verdict, dst_namespace) SELECT {T(now.AddMinutes(-3))}, {T(now.AddMinutes(-3))}, 'denied', 'test-quiet' FROM system.numbers LIMIT 40");
        // Half of a billion flows unintended: burns 50x whatever sample windows share the range.
        await Db.ExecuteAsync("INSERT INTO sli_windows (window_start, window_end, service, flows, bytes, intended_flows, intended_bytes, compliance_rate, bytes_compliance_rate, denied_flows, denied_flows_per_minute, unintended_edges, verdict_mismatches, stale_rules, analyzed_at) VALUES " +
            $"({T(now.AddMinutes(-90))}, {T(now.AddMinutes(-30))}, '', 1000000000, 0, 500000000, 0, 0.5, NULL, 0, 0, 1, 0, 0, {T(now)})");
        string Drift(DateTime end, string src, string dst) =>
            $"({T(end.AddHours(-1))}, {T(end)}, 'unintended_edge', '{src}', '{dst}', 8443, 'TCP', 7, '', '', 'not allowed', {T(now)})";
        await Db.ExecuteAsync("INSERT INTO sli_drift (window_start, window_end, kind, src, dst, dst_port, protocol, flows, policy, rule, reason, analyzed_at) VALUES " +
            string.Join(", ", Drift(now.AddMinutes(-30), "test/intruder", "shop/payment"), Drift(now.AddHours(-5), "test/old-caller", "shop/payment"),
                Drift(now.AddMinutes(-30), "test/old-caller", "shop/payment"), Drift(now.AddMinutes(-30), "test/intruder", "shop/frontend")));
    }

    private static bool IsNumeric(string type) =>
        type.Replace("Nullable(", "", StringComparison.Ordinal).TrimEnd(')') is var t && (t.StartsWith("UInt", StringComparison.Ordinal) || t.StartsWith("Int", StringComparison.Ordinal) || t.StartsWith("Float", StringComparison.Ordinal));

    /// <summary>Sample app (2 days ending at today's midnight) -> mock Kafka -> ingest worker -> rollups -> analyze (6 h windows) -> job_runs.</summary>
    private async Task<(DateTime From, DateTime To)> FillAsync()
    {
        var start = DateTime.UtcNow.Date.AddDays(-2);
        var sample = SampleCommand.Write(Path.Combine(_dir, "sample"), start, days: 2, seed: 42, rate: 2);
        var flowFiles = sample.FlowFiles.Append(WriteBrokenLines(start)).ToList();
        await SchemaMigrator.MigrateAsync(Db);

        using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Partitions = 4, Topics = ["flows"] });
        await using var inventory = new InventoryWatcher(new InventoryWatcherOptions { Paths = sample.InventoryFiles });
        await inventory.StartAsync();
        using var logs = IngestWorkerTests.TestLogs(output);
        var worker = new IngestWorker(IngestWorkerTests.KafkaOptions(cluster, "g-grafana"), Db,
            new IngestWorkerOptions { Lanes = 2, BatchRows = 20_000, BatchInterval = TimeSpan.FromMilliseconds(300), RollupInterval = null, MetricsInterval = TimeSpan.FromSeconds(1) },
            inventory, logs);
        using var stop = new CancellationTokenSource();
        var running = worker.RunAsync(stop.Token);
        var produced = await Task.Run(() => IngestTestData.Produce(cluster.BootstrapServers, "flows", flowFiles));
        long expected = ExpectedRecords(flowFiles, sample.InventoryFiles);
        var stored = await IngestTestData.EventuallyAsync(
            async () => await IngestTestData.CountAsync(Db, FlowTables.Flows) + await IngestTestData.CountAsync(Db, FlowTables.DeadLetters),
            n => n >= expected, TimeSpan.FromSeconds(90));
        await stop.CancelAsync();
        await running;
        Assert.Equal(expected, stored);
        output.WriteLine($"ingested {stored} records from {produced.Delivered} messages");
        foreach (var row in await Db.QueryTsvAsync("SELECT table, sum(rows), sum(bytes_on_disk), sum(data_uncompressed_bytes) FROM system.parts WHERE database = currentDatabase() AND active GROUP BY table ORDER BY table"))
            output.WriteLine($"storage {row[0]}: {row[1]} rows, {row[2]} bytes on disk, {row[3]} uncompressed");

        for (var day = DateOnly.FromDateTime(start); day < DateOnly.FromDateTime(start.AddDays(2)); day = day.AddDays(1))
            await EdgeRollup.RebuildDayAsync(Db, day);

        // As serve's analyze job runs it: each drift event stored with its remediation (the debug dashboard's drift panel).
        var intentFiles = new FlowPolicy.Suggest.Reports.IntentFiles(Path.Combine(GrafanaDashboards.RepositoryRoot(), "docs", "examples", "sample-policies"),
            dir => new IntentEvaluator(new IntentPolicyLoader().Load(dir)));
        var l7 = new L7IntentEvaluator(new IntentPolicyLoader().Load(intentFiles.Path));
        var job = new AnalyzeJob(new AnalyzeJobOptions(), intentFiles.Load(intentFiles.Path), Db, l7) { Remediate = intentFiles.StoredRemediations() };
        var source = new ClickHouseEdgeSource(Db);
        for (var window = start; window < start.AddDays(2); window = window.AddHours(6))
            await job.RunAsync(new AnalysisWindow(window, window.AddHours(6)), source);

        // The anomalies job over the second day's last hour (the sample's steady traffic may hold none), plus one stored
        // as the job stores it, so the anomaly panels have a row to show.
        var lastHour = new AnalysisWindow(start.AddDays(2).AddHours(-1), start.AddDays(2));
        await new AnomalyJob(new AnomalyJobOptions { History = TimeSpan.FromHours(47) }, Db).RunAsync(lastHour);
        await AnomalyStore.ReplaceWindowAsync(Db, lastHour,
            [new FlowAnomaly(AnomalyKind.DeniedSpike, AnomalyScope.Service, "shop/cart", AnomalyMetric.DeniedFlows, lastHour.From, lastHour.To, 500, 2, 0, 9, 99,
                BaselineKind.HourOfDay, [new AnomalyEdge("shop/frontend", "shop/cart", 7070, 6, 480, 1)])], DateTime.UtcNow);

        // Job runs as the serve host records them.
        var now = DateTime.UtcNow;
        var runs = new JobRunStore(Db);
        await runs.RecordAsync(new JobRun("analyze", new JobWindow(start, start.AddHours(6)), JobRunStore.Succeeded, 1, now.AddMinutes(-20), now.AddMinutes(-19), "schedule", "test", "", ""), default);
        await runs.RecordAsync(new JobRun("analyze", new JobWindow(start.AddHours(6), start.AddHours(12)), JobRunStore.Failed, 1, now.AddMinutes(-10), now.AddMinutes(-10), "schedule", "test", "ClickHouse timeout", ""), default);
        await runs.RecordAsync(new JobRun("rollup", new JobWindow(start, start.AddDays(1)), JobRunStore.Succeeded, 1, now.AddMinutes(-5), now.AddMinutes(-4), "schedule", "test", "", ""), default);
        // Flows lie in the two sample days; ingest statistics and dead letters carry today's wall-clock time.
        return (start, now.AddMinutes(5));
    }

    private static string F(DateTime t) => ClickHouseSql.FormatDateTime(t);

    /// <summary>Canonical flows with malformed lines between them: the dead letters the on-call dashboard shows.</summary>
    private string WriteBrokenLines(DateTime start)
    {
        var path = Path.Combine(_dir, "canonical-with-broken.jsonl");
        var text = new StringBuilder();
        for (int i = 0; i < 50; i++)
        {
            text.Append(CultureInfo.InvariantCulture,
                $"{{\"start\":\"{start.AddMinutes(i):yyyy-MM-ddTHH:mm:ssZ}\",\"src_ip\":\"10.9.0.1\",\"dst_ip\":\"10.9.0.2\",\"src_port\":{40000 + i},\"dst_port\":8080,\"proto\":\"TCP\",\"bytes\":100,\"packets\":1}}\n");
            if (i % 2 == 1) text.Append(CultureInfo.InvariantCulture, $"not a flow record {i}\n");
        }
        File.WriteAllText(path, text.ToString());
        return path;
    }

    private static long ExpectedRecords(IEnumerable<string> flowFiles, IReadOnlyList<string> inventoryFiles)
    {
        var sink = new CountingSink();
        var reader = new FlowPolicy.Ingest.Files.FlowFileReader();
        foreach (var file in flowFiles) reader.Read(file, sink);
        return sink.Count;
    }

    private sealed class CountingSink : FlowPolicy.Ingest.Formats.IFlowSink
    {
        public long Count;
        public void Accept(in FlowPolicy.Core.Flows.FlowRecord flow) => Count++;
        public void Reject(FlowPolicy.Ingest.Formats.FlowDecodeError error) => Count++;
        public void Skip(string reason, FlowPolicy.Ingest.Formats.SourcePosition position) { }
    }

    private sealed record QueryResult(IReadOnlyList<(string Name, string Type)> Columns, IReadOnlyList<JsonElement[]> Rows, string? Error);

    /// <summary>Runs one query as the plugin would (a plain SELECT), returning column names and types from JSONCompact.</summary>
    private async Task<QueryResult> RunAsync(string sql)
    {
        var url = new Uri(Server.Url, "?database=" + Uri.EscapeDataString(Db.Database));
        using var response = await Server.Http.PostAsync(url, new StringContent(sql + "\nFORMAT JSONCompact", Encoding.UTF8));
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) return new QueryResult([], [], body.Trim());
        using var doc = JsonDocument.Parse(body);
        var columns = doc.RootElement.GetProperty("meta").EnumerateArray()
            .Select(c => (c.GetProperty("name").GetString()!, c.GetProperty("type").GetString()!)).ToList();
        var rows = doc.RootElement.GetProperty("data").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.Clone()).ToArray()).ToList();
        return new QueryResult(columns, rows, null);
    }
}

/// <summary>On the private ClickHouse 18.16 server.</summary>
[Collection(ClickHouseCollection.Name)]
public sealed class DashboardQueryTests(ClickHouseServerFixture server, ITestOutputHelper output) : DashboardQueryTests<ClickHouseServerFixture>(server, output);

/// <summary>On the current engine (chDB in process).</summary>
[Collection(CurrentClickHouseCollection.Name)]
[Trait("server", "current")]
public sealed class DashboardQueryTestsOnCurrentServer(ChdbServerFixture server, ITestOutputHelper output) : DashboardQueryTests<ChdbServerFixture>(server, output);
