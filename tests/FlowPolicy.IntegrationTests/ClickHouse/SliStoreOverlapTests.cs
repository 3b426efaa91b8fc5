using FlowPolicy.Analytics.Intent;
using FlowPolicy.Analytics.Jobs;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.IntegrationTests.Infrastructure;

namespace FlowPolicy.IntegrationTests.ClickHouse;

/// <summary>
/// serve's scheduled analyze and an `analyze --clickhouse` by hand can store the same day's SLIs at once: each swap
/// must put in whole rows, never the other's staging table (one name per day used to make them drop or double it).
/// </summary>
public sealed class SliStoreOverlapTests(ClickHouseServerFixture server) : ClickHouseTest(server)
{
    [Fact]
    public async Task Overlapping_stores_of_one_window_leave_its_rows_once_and_no_staging_table()
    {
        await SchemaMigrator.MigrateAsync(Db);
        var at = new DateTime(2026, 11, 2, 10, 0, 5, DateTimeKind.Utc);
        var window = new AnalysisWindow(at.Date.AddHours(10), at.Date.AddHours(11));
        var edges = Enumerable.Range(0, 20).Select(i => new Edge(
            Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, "shop", "client-" + i, "Deployment")),
            Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, "shop", "api-" + i % 5, "Deployment")), 8080, IpProtocols.Tcp)
        {
            Flows = 4, AllowedFlows = 4, FirstSeen = at, LastSeen = at.AddMinutes(9), Days = [DateOnly.FromDateTime(at)], ClientReplicas = 1,
        }).ToList();
        var report = SliCalculator.Compute(edges, new AllowEverything(), window);

        var once = await SliStore.ReplaceWindowAsync(Db, report, at.AddHours(2));
        Assert.True(once.SliRows > 5, $"{once.SliRows} SLI rows");
        for (int round = 0; round < 3; round++)
        {
            await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => SliStore.ReplaceWindowAsync(Db, report, at.AddHours(2)))));
            Assert.Equal(once.SliRows.ToString(), await Db.QueryScalarAsync($"SELECT count() FROM {FlowTables.SliWindows}"));
        }
        Assert.Equal("0", await Db.QueryScalarAsync("SELECT count() FROM system.tables WHERE database = currentDatabase() AND name LIKE '%replace%'"));
    }

    private sealed class AllowEverything : IIntentEvaluator
    {
        private static readonly IntentRule Rule = new("shop/allow", "ingress[0]", "Test");
        public IReadOnlyList<IntentRule> Rules => [Rule];
        public IntentDecision Evaluate(Endpoint client, Endpoint server, ushort port, byte protocol) => new(true, [Rule], "allowed");
    }
}
