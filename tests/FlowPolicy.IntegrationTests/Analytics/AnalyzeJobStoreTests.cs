using System.CommandLine;
using FlowPolicy.Analytics.Intent;
using FlowPolicy.Analytics.Jobs;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Cli.Commands;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.IntegrationTests.Infrastructure;

namespace FlowPolicy.IntegrationTests.Analytics;

/// <summary>The analyze job's SLI rows in ClickHouse: one row per window and service, replaced (not added to) on a rerun.</summary>
public sealed class AnalyzeJobStoreTests(ClickHouseServerFixture server) : ClickHouseTest(server)
{
    private static readonly DateTime Ten = new(2026, 11, 2, 10, 0, 0, DateTimeKind.Utc);
    private static readonly AnalysisWindow TenToEleven = new(Ten, Ten.AddHours(1));
    private static readonly AnalysisWindow ElevenToTwelve = new(Ten.AddHours(1), Ten.AddHours(2));

    private static Endpoint Workload(string name) => Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, "shop", name, "Deployment"));

    private static Edge Edge(string client, string server, ushort port, long allowed, long denied) => Edge(Workload(client), Workload(server), port, allowed, denied);

    private static Edge Edge(Endpoint client, Endpoint server, ushort port, long allowed, long denied) =>
        new(client, server, port, IpProtocols.Tcp)
        {
            Flows = allowed + denied, AllowedFlows = allowed, DeniedFlows = denied, Bytes = 100, Packets = 1,
            FirstSeen = Ten, LastSeen = Ten.AddMinutes(5), Days = [DateOnly.FromDateTime(Ten)], ClientReplicas = 1,
        };

    private static readonly List<Edge> Edges = [Edge("frontend", "cart", 7070, 90, 0), Edge("debug", "cart", 22, 5, 5), Edge("cart", "redis", 6379, 40, 0)];

    private sealed class AllowList(params string[] allowedServers) : IIntentEvaluator
    {
        private static readonly IntentRule Rule = new("shop/allow", "ingress[0]", "Test");
        private static readonly IntentRule Stale = new("shop/stale", "ingress[0]", "Test");
        public IReadOnlyList<IntentRule> Rules => [Rule, Stale];
        public IntentDecision Evaluate(Endpoint client, Endpoint server, ushort port, byte protocol) =>
            allowedServers.Contains($"{client.Name}>{server.Name}:{port}") ? new(true, [Rule], "allowed") : new(false, [], "no rule");
    }

    private async Task<AnalyzeResult> RunAsync(AnalysisWindow window, IIntentEvaluator intent) =>
        await new AnalyzeJob(new AnalyzeJobOptions(), intent, Db).RunAsync(window, new LoadedEdgeSource(Edges));

    [Fact]
    public async Task Rerunning_a_window_replaces_its_rows_and_leaves_other_windows_of_the_day_alone()
    {
        await SchemaMigrator.MigrateAsync(Db);
        var first = await RunAsync(TenToEleven, new AllowList("frontend>cart:7070"));
        await RunAsync(ElevenToTwelve, new AllowList("frontend>cart:7070"));
        Assert.Equal(3, first.Stored!.SliRows); // overall, shop/cart, shop/redis
        // Unintended and allowed anyway (outage risk): debug -> cart and cart -> redis; stale: shop/stale.
        Assert.Equal(2 + 2 + 1, first.Stored.DriftRows);

        // The intent changed: cart -> redis is now intended too. Rerun 10:00-11:00.
        var second = await RunAsync(TenToEleven, new AllowList("frontend>cart:7070", "cart>redis:6379"));

        var rows = await Db.QueryTsvAsync($"""
            SELECT toString(window_start), service, flows, intended_flows, ifNull(toString(compliance_rate), 'NULL'), unintended_edges, stale_rules
            FROM {FlowTables.SliWindows} ORDER BY window_start, service
            """);
        Assert.Equal(6, rows.Count);
        Assert.Equal(["2026-11-02 10:00:00", "", "140", "130"], rows[0][..4]);
        Assert.Equal(130 / 140.0, double.Parse(rows[0][4], System.Globalization.CultureInfo.InvariantCulture), 12);
        Assert.Equal(["1", "1"], rows[0][5..]);
        Assert.Equal(["2026-11-02 10:00:00", "shop/redis", "40", "40", "1", "0", "0"], rows[2]);
        Assert.Equal(["2026-11-02 11:00:00", "shop/redis", "40", "0", "0", "1", "0"], rows[5]);

        var drift = await Db.QueryTsvAsync($"SELECT toString(window_start), toString(kind), src, dst FROM {FlowTables.SliDrift} ORDER BY window_start, kind, src");
        Assert.Equal(second.Stored!.DriftRows + first.Stored.DriftRows, drift.Count);
        Assert.Equal(
            [["2026-11-02 10:00:00", "unintended_edge", "shop/debug", "shop/cart"],
             ["2026-11-02 10:00:00", "stale_rule", "", ""],
             ["2026-11-02 10:00:00", "observed_allowed_intent_denies", "shop/debug", "shop/cart"]],
            drift.Where(r => r[0] == "2026-11-02 10:00:00"));
        Assert.Equal("0", await Db.QueryScalarAsync("SELECT count() FROM system.tables WHERE database = currentDatabase() AND name LIKE '%replace%'"));
    }

    [Fact]
    public async Task Analyze_command_reads_rollups_from_ClickHouse_and_writes_the_window_rows()
    {
        var command = AnalyzeCommand.Create(_ => new AllowList());
        var root = new RootCommand { command };
        string url = Server.Url.ToString();
        int exit;
        Environment.SetEnvironmentVariable("FLOWPOLICY_CLICKHOUSE_USER", ClickHouseServerFixture.PasswordUser);
        Environment.SetEnvironmentVariable("FLOWPOLICY_CLICKHOUSE_PASSWORD", Server.Password);
        try
        {
            exit = await root.Parse(["analyze", "--clickhouse", url, "--database", Db.Database, "--from", "2026-11-02T10:00:00Z", "--to", "2026-11-02T11:00:00Z",
                "--intent", Path.GetTempPath()]).InvokeAsync();
        }
        finally
        {
            Environment.SetEnvironmentVariable("FLOWPOLICY_CLICKHOUSE_USER", null);
            Environment.SetEnvironmentVariable("FLOWPOLICY_CLICKHOUSE_PASSWORD", null);
        }

        Assert.Equal(0, exit);
        // No flows stored: one overall row with no rates, and the stale rules.
        Assert.Equal([["", "0", "NULL"]], await Db.QueryTsvAsync($"SELECT service, flows, ifNull(toString(compliance_rate), 'NULL') FROM {FlowTables.SliWindows}"));
        Assert.Equal("2", await Db.QueryScalarAsync($"SELECT count() FROM {FlowTables.SliDrift} WHERE kind = 'stale_rule'"));
    }
    [Fact]
    public async Task Serve_stores_each_drift_events_remediation_for_the_debug_dashboard()
    {
        await SchemaMigrator.MigrateAsync(Db);
        var intent = Directory.CreateTempSubdirectory("flowpolicy-drift-store-").FullName;
        try
        {
            // cart takes 7070 from frontend (and, stale, 9999 from nobody); redis takes nothing: cart -> redis is unintended.
            File.WriteAllText(Path.Combine(intent, "shop.yaml"), """
                apiVersion: networking.k8s.io/v1
                kind: NetworkPolicy
                metadata: { name: cart, namespace: shop }
                spec:
                  podSelector: { matchLabels: { app: cart } }
                  policyTypes: [Ingress]
                  ingress:
                    - from: [ { podSelector: { matchLabels: { app: frontend } } } ]
                      ports: [ { port: 7070 } ]
                    - from: [ { podSelector: { matchLabels: { app: nobody } } } ]
                      ports: [ { port: 9999 } ]
                ---
                apiVersion: networking.k8s.io/v1
                kind: NetworkPolicy
                metadata: { name: redis, namespace: shop }
                spec: { podSelector: { matchLabels: { app: redis } }, policyTypes: [Ingress] }
                """);
            static Endpoint Labelled(string name) => Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, "shop", name, "Deployment", labels: [new("app", name)]));
            var edges = new List<Edge> { Edge(Labelled("frontend"), Labelled("cart"), 7070, 10, 0), Edge(Labelled("cart"), Labelled("redis"), 6379, 10, 0) };
            var files = new FlowPolicy.Suggest.Reports.IntentFiles(intent, dir => new IntentEvaluator(new IntentPolicyLoader().Load([dir])));

            var result = await new AnalyzeJob(new AnalyzeJobOptions(), files.Load(intent), Db) { Remediate = files.StoredRemediations() }
                .RunAsync(TenToEleven, new LoadedEdgeSource(edges));

            var rows = (await Db.QueryTsvAsync($"SELECT toString(kind), src, dst, rule, remediation FROM {FlowTables.SliDrift} ORDER BY kind"))
                .ToDictionary(r => r[0], r => r);
            Assert.Equal(result.Stored!.DriftRows, rows.Count);
            var unintended = rows["unintended_edge"];
            Assert.Equal(["shop/cart", "shop/redis"], unintended[1..3]);
            // The note, then a diff adding a new policy file.
            Assert.StartsWith("if it is wanted, add this rule", unintended[4]);
            Assert.True(unintended[4].Contains("\n--- /dev/null\n+++ b/", StringComparison.Ordinal), unintended[4]);
            // cart -> redis was allowed by the network too: the mismatch row carries the same remediation.
            Assert.Equal(unintended[4], rows["observed_allowed_intent_denies"][4]);
            var stale = rows["stale_rule"];
            Assert.Contains("ingress[1]", stale[3]);
            Assert.True(stale[4].Contains("\n--- a/shop.yaml\n+++ b/shop.yaml\n", StringComparison.Ordinal), stale[4]);
            Assert.Contains("-    - from: [ { podSelector: { matchLabels: { app: nobody } } } ]", stale[4]);
        }
        finally
        {
            Directory.Delete(intent, recursive: true);
        }
    }
}
