using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.RowBinary;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.IntegrationTests.Infrastructure;
using FlowPolicy.IntegrationTests.Infrastructure.Chdb;

namespace FlowPolicy.IntegrationTests.ClickHouse;

/// <summary>Flow records through FlowRowWriter into the migrated flows table, and the edge rollups rebuilt from them.</summary>
public abstract class FlowStoreTests<TServer>(TServer server) : ClickHouseTest<TServer>(server)
    where TServer : IClickHouseTestServer
{
    private static readonly DateTime Day = new(2026, 5, 6, 0, 0, 0, DateTimeKind.Utc);

    private static readonly WorkloadIdentity Cart = new(EndpointKind.Pod, "shop", "cart", "Deployment", "cart-7d9f-abcde",
        [new("app", "cart"), new("tier", "backend"), new("team", "o'brien\\ops")]);
    private static readonly WorkloadIdentity Cart2 = new(EndpointKind.Pod, "shop", "cart", "Deployment", "cart-7d9f-zzzzz",
        [new("app", "cart"), new("tier", "backend")]);
    private static readonly WorkloadIdentity Db6 = new(EndpointKind.Pod, "data", "postgres", "StatefulSet", "postgres-0");

    private static FlowRecord Flow(int minute, string src, string dst, WorkloadIdentity? srcId, WorkloadIdentity? dstId,
        ushort port = 5432, Verdict verdict = Verdict.Allowed, DirectionHint direction = DirectionHint.Request, ulong bytes = 100)
    {
        var start = Day.AddMinutes(minute);
        return new FlowRecord
        {
            Start = start, End = start.AddSeconds(30),
            SrcIp = PackedIp.Parse(src), DstIp = PackedIp.Parse(dst),
            SrcPort = 40000, DstPort = port, Protocol = IpProtocolsTcp,
            Verdict = verdict, Direction = direction, Bytes = bytes, Packets = 2,
            SrcIdentity = srcId, DstIdentity = dstId, Reporter = "node-1",
        };
    }

    private const byte IpProtocolsTcp = 6;

    private async Task InsertAsync(IEnumerable<FlowRecord> records, long firstOffset = 0)
    {
        using var rows = new RowBinaryWriter();
        var writer = new FlowRowWriter(rows);
        long offset = firstOffset;
        // A record marked Reply stands for the server's half as ingest stores it: flipped, with is_reply = 1.
        foreach (var record in records)
        {
            bool isReply = record.Direction == DirectionHint.Reply;
            writer.Write(isReply ? record with { Direction = DirectionHint.Request } : record, "hubble", "flows-topic", 3, offset++, isReply: isReply);
        }
        await Db.InsertRowBinaryAsync(FlowTables.Flows, FlowRowWriter.Columns, rows);
    }

    [Fact]
    public async Task Flow_records_with_IPv6_identities_and_origin_read_back_exactly()
    {
        await SchemaMigrator.MigrateAsync(Db);
        var v6 = Flow(1, "fd00::1:2", "2001:db8::5", Cart, Db6, verdict: Verdict.Denied);
        v6.HasTcpFlags = true;
        v6.TcpFlags = FlowRecord.TcpSyn | FlowRecord.TcpRst;
        v6.PolicyName = "deny-all";
        var external = Flow(2, "203.0.113.9", "10.0.0.7", null, Db6, port: 443, direction: DirectionHint.Unknown);
        await InsertAsync([v6, external], firstOffset: 41);

        var rows = await Db.QueryTsvAsync("""
            SELECT IPv6NumToString(src_ip), IPv6NumToString(dst_ip), src_port, dst_port, protocol, bytes, packets,
                   verdict, direction, ifNull(toString(tcp_flags), 'NULL'), reporter, policy,
                   src_kind, src_namespace, src_workload, src_workload_kind, src_pod, arrayStringConcat(src_label_keys, '|'), arrayStringConcat(src_label_values, '|'),
                   dst_kind, dst_namespace, dst_workload, dst_workload_kind, dst_pod, length(dst_label_keys),
                   format, kafka_topic, kafka_partition, kafka_offset, toString(start), toString(`end`)
            FROM flows ORDER BY kafka_offset
            """);
        Assert.Equal(2, rows.Count);
        Assert.Equal(
            ["fd00::1:2", "2001:db8::5", "40000", "5432", "6", "100", "2", "denied", "request", "6", "node-1", "deny-all",
             "pod", "shop", "cart", "Deployment", "cart-7d9f-abcde", "app|team|tier", "cart|o'brien\\ops|backend",
             "pod", "data", "postgres", "StatefulSet", "postgres-0", "0",
             "hubble", "flows-topic", "3", "41", "2026-05-06 00:01:00", "2026-05-06 00:01:30"],
            rows[0]);
        Assert.Equal(["::ffff:203.0.113.9", "unknown", "", "NULL", "unknown", "42"],
            new[] { rows[1][0], rows[1][8], rows[1][14], rows[1][9], rows[1][12], rows[1][28] });
    }

    /// <summary>The server's count of inserted blocks it found already in key order (it then skips sorting them).</summary>
    private async Task<long> BlocksAlreadySortedAsync() =>
        long.Parse(await Db.QueryScalarAsync("SELECT toString(sum(value)) FROM system.events WHERE event = 'MergeTreeDataWriterBlocksAlreadySorted'") ?? "0");

    [Fact]
    public async Task A_sorted_batch_is_stored_whole_without_the_server_sorting_it()
    {
        await SchemaMigrator.MigrateAsync(Db);
        var basket = new WorkloadIdentity(EndpointKind.Pod, "shop", "basket", "Deployment", "basket-0");
        WorkloadIdentity?[] peers = [Cart, Cart2, Db6, basket, null];
        var random = new Random(1);
        var records = Enumerable.Range(0, 2_000)
            .Select(i => Flow(random.Next(1_400), "10.0.0.1", "10.0.1.1", peers[random.Next(peers.Length)], peers[random.Next(peers.Length)],
                port: (ushort)(random.Next(2) == 0 ? 443 : 5432)))
            .ToList();
        using var rows = new RowBinaryWriter();
        var writer = new FlowRowWriter(rows);
        for (int i = 0; i < records.Count; i++) writer.Write(records[i], "hubble", "flows-topic", 3, i);

        long before = await BlocksAlreadySortedAsync();
        await Db.InsertRowBinaryAsync(FlowTables.Flows, FlowRowWriter.Columns, writer.CopySortedToAsync);
        Assert.Equal(before + 1, await BlocksAlreadySortedAsync());
        // Control: the same rows in the order written are sorted by the server (the count stays). Where flows deduplicates
        // (non_replicated_deduplication_window) the same rows again would be dropped as a repeat: a token of its own keeps them.
        await Db.InsertRowBinaryAsync(FlowTables.Flows, FlowRowWriter.Columns, rows,
            settings: Server.Version.SupportsInsertDeduplicationToken ? [new("insert_deduplication_token", "control copy")] : null);
        Assert.Equal(before + 1, await BlocksAlreadySortedAsync());

        // Both copies hold every row: the same offsets, the same sums.
        var stored = await Db.QueryTsvAsync("SELECT count(), uniqExact(kafka_offset), sum(bytes), sum(toUInt32(start)) FROM flows GROUP BY _part ORDER BY _part");
        Assert.Equal(2, stored.Count);
        var expected = new[] { "2000", "2000", records.Sum(r => (long)r.Bytes).ToString(), records.Sum(r => (long)RowBinaryWriter.DateTimeSeconds(r.Start)).ToString() };
        Assert.Equal(expected, stored[0]);
        Assert.Equal(expected, stored[1]);
    }

    [Fact]
    public async Task Partition_key_is_the_UTC_day_of_the_start()
    {
        var record = new FlowRecord { Start = new DateTime(2026, 12, 31, 23, 59, 59, DateTimeKind.Utc) };
        Assert.Equal(20261231, FlowRowWriter.PartitionKey(record));
        await SchemaMigrator.MigrateAsync(Db);
        await InsertAsync([record with { End = record.Start }]);
        Assert.Equal("20261231", await Db.QueryScalarAsync("SELECT partition FROM system.parts WHERE database = currentDatabase() AND table = 'flows' AND active"));
    }

    [Fact]
    public async Task Rollups_match_raw_counts_after_a_rebuild_and_a_rerun_does_not_double_them()
    {
        await SchemaMigrator.MigrateAsync(Db);
        var flows = new List<FlowRecord>();
        for (int i = 0; i < 30; i++) flows.Add(Flow(i * 7, "10.0.0.1", "10.0.1.1", i % 2 == 0 ? Cart : Cart2, Db6, verdict: i % 5 == 0 ? Verdict.Denied : Verdict.Allowed));
        for (int i = 0; i < 5; i++) flows.Add(Flow(600 + i, "198.51.100.7", "10.0.1.1", null, Db6, port: 443));
        // The server's half of a connection, stored oriented client -> server: bytes and packets for the edge, not a flow.
        flows.Add(Flow(700, "10.0.0.1", "10.0.1.1", Cart, Db6, direction: DirectionHint.Reply));
        var nextDay = Flow(0, "10.0.0.1", "10.0.1.1", Cart, Db6);
        nextDay.Start = nextDay.End = Day.AddDays(1).AddMinutes(5);
        await InsertAsync(flows);
        await InsertAsync([nextDay], firstOffset: 1000);

        var day = DateOnly.FromDateTime(Day);
        var first = await EdgeRollup.RebuildDayAsync(Db, day);
        await AssertRollupsMatchRawAsync(expectedFlows: 35);
        Assert.Equal(2, first.DailyRows); // cart -> postgres:5432 and 198.51.100.7 -> postgres:443

        var rerun = await EdgeRollup.RebuildDayAsync(Db, day);
        Assert.Equal(first, rerun);
        await AssertRollupsMatchRawAsync(expectedFlows: 35);

        // Late data for the day: the next rebuild replaces the day, now including it.
        await InsertAsync([Flow(900, "10.0.0.1", "10.0.1.1", Cart, Db6)], firstOffset: 2000);
        await EdgeRollup.RebuildDayAsync(Db, day);
        await AssertRollupsMatchRawAsync(expectedFlows: 36);

        var edge = await Db.QueryTsvAsync("""
            SELECT sum(flows), sum(denied_flows), sum(allowed_flows), uniqMerge(client_replicas), toString(min(first_seen)), toString(max(last_seen))
            FROM edges_1d WHERE src_workload = 'cart' AND dst_workload = 'postgres'
            """);
        Assert.Equal(["31", "6", "25", "2", "2026-05-06 00:00:00", "2026-05-06 15:00:30"], edge[0]);
        var external = await Db.QueryTsvAsync("SELECT IPv6NumToString(src_addr), src_kind, sum(flows) FROM edges_1h WHERE dst_port = 443 GROUP BY src_addr, src_kind");
        Assert.Equal(["::ffff:198.51.100.7", "unknown", "5"], external[0]);
        // Only the rebuilt day is in the rollups; the next day waits for its own rebuild.
        Assert.Equal("0", await Db.QueryScalarAsync("SELECT count() FROM edges_1h WHERE window_start >= toDateTime('2026-05-07 00:00:00', 'UTC')"));
        Assert.Equal("0", await Db.QueryScalarAsync("SELECT count() FROM system.tables WHERE database = currentDatabase() AND name LIKE '%rebuild%'"));
    }

    [Fact]
    public async Task Rebuilding_a_day_left_half_done_by_a_crash_gives_the_same_rollup()
    {
        await SchemaMigrator.MigrateAsync(Db);
        await InsertAsync([Flow(10, "10.0.0.1", "10.0.1.1", Cart, Db6), Flow(70, "10.0.0.1", "10.0.1.1", Cart2, Db6)]);
        var day = DateOnly.FromDateTime(Day);
        // Simulate a crash after the staging insert, before the partition swap.
        var statements = EdgeRollup.RebuildStatements(Db.Database, FlowTables.EdgesHourly, day, EdgeRollup.HourlySelect(Db.Database, day));
        for (int i = 0; i < 3; i++) await Db.ExecuteAsync(statements[i]);
        Assert.Equal("0", await Db.QueryScalarAsync("SELECT count() FROM edges_1h"));

        await EdgeRollup.RebuildDayAsync(Db, day);
        await AssertRollupsMatchRawAsync(expectedFlows: 2);
        Assert.Equal("2", await Db.QueryScalarAsync("SELECT count() FROM edges_1h"));
    }

    [Fact]
    public async Task Overlapping_rebuilds_of_one_day_each_swap_in_the_whole_day()
    {
        // A worker leaving the group finishes its last rebuild while the next holder of partition 0 starts its own: with
        // one staging table per day, one rebuild dropped or swapped in the other's half-filled table.
        await SchemaMigrator.MigrateAsync(Db);
        var flows = Enumerable.Range(0, 40).Select(i => Flow(i * 30, "10.0.0.1", "10.0.1.1", i % 2 == 0 ? Cart : Cart2, Db6)).ToArray();
        await InsertAsync(flows);
        var day = DateOnly.FromDateTime(Day);
        for (int round = 0; round < 3; round++)
        {
            await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => EdgeRollup.RebuildDayAsync(Db, day))));
            await AssertRollupsMatchRawAsync(expectedFlows: 40);
        }
        Assert.Equal("0", await Db.QueryScalarAsync("SELECT count() FROM system.tables WHERE database = currentDatabase() AND name LIKE '%rebuild%'"));
    }

    [Fact]
    public async Task A_rebuild_drops_staging_tables_a_crash_left_an_hour_ago_and_keeps_a_running_ones()
    {
        await SchemaMigrator.MigrateAsync(Db);
        await InsertAsync([Flow(10, "10.0.0.1", "10.0.1.1", Cart, Db6)]);
        var day = DateOnly.FromDateTime(Day);
        string old = EdgeRollup.StagingName(FlowTables.EdgesHourly, day, StagingTables.NewTag(DateTimeOffset.UtcNow.AddHours(-2)));
        string running = EdgeRollup.StagingName(FlowTables.EdgesHourly, day, StagingTables.NewTag(DateTimeOffset.UtcNow.AddMinutes(-1)));
        foreach (var name in new[] { old, running })
            await Db.ExecuteAsync($"CREATE TABLE {ClickHouseSql.QuoteIdentifier(Db.Database, name)} AS {ClickHouseSql.QuoteIdentifier(Db.Database, FlowTables.EdgesHourly)}");

        await EdgeRollup.RebuildDayAsync(Db, day);

        await AssertRollupsMatchRawAsync(expectedFlows: 1);
        var left = await Db.QueryTsvAsync("SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE '%rebuild%' ORDER BY name");
        Assert.Equal([running], left.Select(r => r[0]));
    }

    private async Task AssertRollupsMatchRawAsync(int expectedFlows)
    {
        var raw = await Db.QueryTsvAsync("""
            SELECT countIf(is_reply = 0), sum(bytes), sum(packets) FROM flows
            WHERE start >= toDateTime('2026-05-06 00:00:00', 'UTC') AND start < toDateTime('2026-05-07 00:00:00', 'UTC')
            """);
        Assert.Equal(expectedFlows.ToString(), raw[0][0]);
        Assert.Equal(raw[0], (await Db.QueryTsvAsync("SELECT sum(flows), sum(bytes), sum(packets) FROM edges_1h"))[0]);
        Assert.Equal(raw[0], (await Db.QueryTsvAsync("SELECT sum(flows), sum(bytes), sum(packets) FROM edges_1d"))[0]);
    }
}

/// <summary>On the private ClickHouse 18.16 server.</summary>
[Collection(ClickHouseCollection.Name)]
public sealed class FlowStoreTests(ClickHouseServerFixture server) : FlowStoreTests<ClickHouseServerFixture>(server);

/// <summary>On the current engine (chDB in process).</summary>
[Collection(CurrentClickHouseCollection.Name)]
[Trait("server", "current")]
public sealed class FlowStoreTestsOnCurrentServer(ChdbServerFixture server) : FlowStoreTests<ChdbServerFixture>(server);
