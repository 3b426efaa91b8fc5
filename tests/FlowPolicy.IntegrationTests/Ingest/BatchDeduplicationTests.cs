using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.RowBinary;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Core.Flows;
using FlowPolicy.Ingest.Workers;
using FlowPolicy.IntegrationTests.Infrastructure;
using FlowPolicy.IntegrationTests.Infrastructure.Chdb;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace FlowPolicy.IntegrationTests.Ingest;

/// <summary>
/// A batch sent twice (an INSERT in transit during a crash, sent again by the worker that takes over) with its
/// deterministic token: the current server stores it once (insert_deduplication_token + non_replicated_deduplication_window);
/// 18.16 has neither and stores it twice, which is why ingest there checks whether the batch's last row landed before
/// any resend and waits for in-flight INSERTs before it reads stored offsets.
/// </summary>
public abstract class BatchDeduplicationTests<TServer>(TServer server, ITestOutputHelper output) : ClickHouseTest<TServer>(server)
    where TServer : IClickHouseTestServer
{
    [Fact]
    public async Task A_batch_sent_again_with_its_token_is_stored_once_where_the_server_deduplicates()
    {
        await SchemaMigrator.MigrateAsync(Db);
        var engine = await Db.QueryScalarAsync($"SELECT engine_full FROM system.tables WHERE database = {ClickHouseSql.QuoteString(Db.Database)} AND name = 'flows'");
        Assert.Equal(Server.Version.SupportsNonReplicatedDeduplication, engine!.Contains($"{FlowTables.DeduplicationSetting} = {FlowTables.DeduplicationWindow}", StringComparison.Ordinal));

        var start = DateTime.UtcNow.Date.AddHours(1);
        using var rows = new RowBinaryWriter();
        var writer = new FlowRowWriter(rows);
        for (int i = 0; i < 100; i++)
            writer.Write(new FlowRecord { Start = start, End = start, DstPort = 443, Protocol = 6, Bytes = (ulong)i }, "test", "flows", 3, 500 + i);
        var spans = new Dictionary<int, PartitionSpan> { [3] = new(new RecordPosition(500, 0), new RecordPosition(599, 0), 100, 0, 0, 599) };
        var token = BatchDeduplicationToken.For(FlowTables.Flows, "flows", 20260101, spans);
        Assert.Equal("flows/flows/20260101/3:500#0-599#0", token);

        var inserter = new BatchInserter(Db, new IngestWorkerOptions(), new IngestMetrics(), NullLogger.Instance);
        for (int send = 0; send < 2; send++)
            await inserter.InsertAsync(FlowTables.Flows, FlowRowWriter.Columns, rows, "flows", [3], 3, new RecordPosition(599, 0),
                IngestQueries.FlowsDayFilter(int.Parse(start.ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture)),
                CancellationToken.None, token);

        var stored = long.Parse((await Db.QueryScalarAsync("SELECT count() FROM flows"))!, System.Globalization.CultureInfo.InvariantCulture);
        output.WriteLine($"ClickHouse {Server.Version}: the same batch sent twice with its token left {stored} rows");
        Assert.Equal(Server.Version.SupportsInsertDeduplicationToken ? 100 : 200, stored);

        // A different batch (another token) over the same rows is stored: the token, not the data, decides.
        if (Server.Version.SupportsInsertDeduplicationToken)
        {
            await inserter.InsertAsync(FlowTables.Flows, FlowRowWriter.Columns, rows, "flows", [3], 3, new RecordPosition(599, 0), "1", CancellationToken.None, token + "-other");
            Assert.Equal("200", await Db.QueryScalarAsync("SELECT count() FROM flows"));
        }
    }
}

/// <summary>On the private ClickHouse 18.16 server.</summary>
[Collection(ClickHouseCollection.Name)]
public sealed class BatchDeduplicationTests(ClickHouseServerFixture server, ITestOutputHelper output) : BatchDeduplicationTests<ClickHouseServerFixture>(server, output);

/// <summary>On the current engine (chDB in process).</summary>
[Collection(CurrentClickHouseCollection.Name)]
[Trait("server", "current")]
public sealed class BatchDeduplicationTestsOnCurrentServer(ChdbServerFixture server, ITestOutputHelper output) : BatchDeduplicationTests<ChdbServerFixture>(server, output);
