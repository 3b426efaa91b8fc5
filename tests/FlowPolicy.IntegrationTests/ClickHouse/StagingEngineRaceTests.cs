using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace FlowPolicy.IntegrationTests.ClickHouse;

/// <summary>
/// serve runs the rollup, SLI and anomaly jobs side by side, and each creates and drops staging tables every window;
/// 18.16 failed another job's <c>system.tables</c> read with "table doesn't exist" when one vanished mid-read.
/// </summary>
public sealed class StagingEngineRaceTests(ClickHouseServerFixture server, ITestOutputHelper output) : ClickHouseTest(server)
{
    [Fact]
    public async Task Looking_up_a_tables_engine_while_another_job_creates_and_drops_its_staging_tables_succeeds()
    {
        await SchemaMigrator.MigrateAsync(Db);
        using var stop = new CancellationTokenSource();
        var churn = Task.Run(async () =>
        {
            int i = 0;
            while (!stop.IsCancellationRequested)
            {
                var staging = ClickHouseSql.QuoteIdentifier(Db.Database, "sli_windows_replace_" + (i++ % 3));
                await Db.ExecuteAsync($"DROP TABLE IF EXISTS {staging}");
                await Db.ExecuteAsync($"CREATE TABLE {staging} AS {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.SliWindows)}");
            }
            return i;
        });
        int lookups = 0;
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(4))
            {
                Assert.Null(await ClusterSchema.StagingEngineAsync(Db, FlowTables.EdgesHourly)); // plain MergeTree: no staging engine
                if (lookups % 10 == 0) Assert.Empty((await SchemaMigrator.MigrateAsync(Db)).Applied);
                lookups++;
            }
        }
        finally
        {
            stop.Cancel();
        }
        output.WriteLine($"{lookups} lookups during {await churn} staging tables");
    }
}
