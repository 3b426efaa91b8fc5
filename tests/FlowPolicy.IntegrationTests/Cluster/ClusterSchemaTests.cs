using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Xml.Linq;
using FlowPolicy.Analytics.Edges;
using FlowPolicy.Analytics.Intent;
using FlowPolicy.Analytics.Jobs;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Cli.Commands;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.RowBinary;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Ingest.Direction;
using FlowPolicy.Ingest.Enrichment;
using FlowPolicy.Ingest.Files;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.IntegrationTests.Infrastructure;
using FlowPolicy.IntegrationTests.Ingest;
using FlowPolicy.LocalServers.ClickHouse;
using FlowPolicy.Suggest.Inference;
using FlowPolicy.Suggest.Reports;
using Xunit.Abstractions;

namespace FlowPolicy.IntegrationTests.Cluster;

/// <summary>
/// Two local ClickHouse 18.16 servers on loopback form a 2-shard cluster (non-replicated MergeTree shards; replication
/// is ReplicatedSchemaTests). The cluster schema, inserts through the Distributed flows table, per-node rollup
/// rebuilds, and then analytics and suggestions read from the cluster must equal the same flows on one server.
/// </summary>
public sealed class ClusterSchemaTests(ClickHouseServerFixture server, ITestOutputHelper output) : ClickHouseTest(server), IAsyncLifetime, IDisposable
{
    private const string ClusterName = "flowpolicy_test";
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "flowpolicy-cluster-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly List<LocalClickHouseServer> _nodes = [];
    private readonly List<ClickHouseHttpClient> _clients = [];

    async Task IAsyncLifetime.InitializeAsync()
    {
        await InitializeAsync();
        int[] tcp = [FreePort(), FreePort()];
        // Each node learns the other's TCP port before it starts, so the ports are chosen up front.
        var remoteServers = new XElement("remote_servers", new XElement(ClusterName,
            tcp.Select(port => new XElement("shard", new XElement("replica", new XElement("host", "127.0.0.1"), new XElement("port", port))))));
        var database = "cluster_" + Guid.NewGuid().ToString("N")[..12];
        foreach (var port in tcp)
        {
            var options = new LocalClickHouseServerOptions { TcpPort = port };
            options.ExtraConfig.Add(remoteServers);
            // Ingest's exactly-once needs an INSERT into a Distributed table to return only once the shard stored it.
            options.ProfileSettings["insert_distributed_sync"] = "1";
            var node = await LocalClickHouseServer.StartAsync(options);
            _nodes.Add(node);
            _clients.Add(new ClickHouseHttpClient(node.ClientOptions(database)));
        }
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        foreach (var client in _clients) client.Dispose();
        foreach (var node in _nodes) await node.DisposeAsync();
        await DisposeAsync();
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task A_two_shard_cluster_gives_the_same_edges_slis_and_suggestions_as_one_server()
    {
        // The CLI as an operator runs it on a cluster without a Keeper: every node in turn, plain DDL.
        var migrate = IngestTestData.RunCli(["migrate", "--cluster", ClusterName, "--database", _clients[0].Database,
            .. _nodes.SelectMany(n => new[] { "--cluster-node", n.Url.ToString() })]);
        Assert.True(migrate.ExitCode == 0, migrate.Stderr);
        Assert.Equal(2, migrate.Stdout.Split('\n').Count(l => l == "applied: create table flows_local"));
        Assert.Equal(2, migrate.Stdout.Split('\n').Count(l => l == "applied: create table flows"));
        var schema = new SchemaOptions { Cluster = ClusterName, OnClusterDdl = false };
        foreach (var node in _clients) Assert.Empty((await SchemaMigrator.MigrateAsync(node, schema)).Applied);
        Assert.Equal("Distributed", await _clients[1].QueryScalarAsync($"SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = 'flows'"));
        await SchemaMigrator.MigrateAsync(Db);

        var start = SampleCommand.DefaultStart;
        var window = new AnalysisWindow(start, start.AddDays(2));
        var files = SampleCommand.Write(_dir, start, days: 2, seed: 42, rate: 2);
        var records = Orient(files.FlowFiles, files.InventoryFiles);
        // As ingest does: one INSERT per Kafka partition batch and UTC day, into `flows` (Distributed on the cluster).
        await InsertAsync(_clients[0], records);
        await InsertAsync(Db, records);

        var shardRows = new List<long>();
        foreach (var node in _clients)
            shardRows.Add(long.Parse((await node.QueryScalarAsync("SELECT count() FROM flows_local"))!, CultureInfo.InvariantCulture));
        output.WriteLine($"{records.Count} rows: shards hold {string.Join(" + ", shardRows)}");
        Assert.All(shardRows, n => Assert.True(n > 0, "every shard got rows"));
        Assert.Equal(records.Count, shardRows.Sum());
        Assert.Equal(records.Count.ToString(CultureInfo.InvariantCulture), await _clients[1].QueryScalarAsync("SELECT count() FROM flows"));
        // Each Kafka partition lives on exactly one shard (what keeps a batch one atomic part).
        var partitionsPerShard = await Task.WhenAll(_clients.Select(c => c.QueryTsvAsync("SELECT DISTINCT kafka_partition FROM flows_local ORDER BY kafka_partition")));
        Assert.Empty(partitionsPerShard[0].Select(r => r[0]).Intersect(partitionsPerShard[1].Select(r => r[0])));

        for (var day = DateOnly.FromDateTime(window.From); day < DateOnly.FromDateTime(window.To); day = day.AddDays(1))
        {
            await EdgeRollup.RebuildDayOnNodesAsync(_clients, day);
            await EdgeRollup.RebuildDayOnNodesAsync(_clients, day); // a rerun replaces, never adds
            await EdgeRollup.RebuildDayAsync(Db, day);
        }
        // The rollups have no sharding key: writing them through the Distributed table is refused, not scattered.
        await Assert.ThrowsAsync<ClickHouseServerException>(() => _clients[0].ExecuteAsync("INSERT INTO edges_1h SELECT * FROM edges_1h_local LIMIT 1"));

        var single = await new ClickHouseEdgeSource(Db).ReadEdgesAsync(window);
        var clusterSource = new ClickHouseEdgeSource(_clients[1]);
        var clustered = await clusterSource.ReadEdgesAsync(window);
        Assert.True(single.Count > 20, $"only {single.Count} edges");
        Assert.Equal(single.Select(Describe), clustered.Select(Describe));
        Assert.Equal(0, clusterSource.Metrics.RowsFolded);

        var intent = new IntentEvaluator(new IntentPolicyLoader().Load(Path.Combine(Infrastructure(), "docs", "examples", "sample-policies")));
        var onCluster = await new AnalyzeJob(new AnalyzeJobOptions(), intent, _clients[0]).RunAsync(window, new ClickHouseEdgeSource(_clients[0]));
        var onOne = await new AnalyzeJob(new AnalyzeJobOptions(), intent, Db).RunAsync(window, new ClickHouseEdgeSource(Db));
        Assert.Equal(Json(s => SliJson.Write(s, onOne.Report)), Json(s => SliJson.Write(s, onCluster.Report)));
        // SLI tables are whole copies on every node: the scheduler writes each window to every node.
        await SliStore.ReplaceWindowAsync(_clients[1], onCluster.Report, DateTime.UtcNow);
        foreach (var node in _clients)
            Assert.Equal(await Db.QueryScalarAsync("SELECT count() FROM sli_windows"), await node.QueryScalarAsync("SELECT count() FROM sli_windows"));

        var assumptions = new Dictionary<string, string>();
        Assert.Equal(Encoding.UTF8.GetString(SuggestionsJson.Write(new RuleInference().Infer(single), assumptions, null)),
            Encoding.UTF8.GetString(SuggestionsJson.Write(new RuleInference().Infer(clustered), assumptions, null)));
    }

    [Fact]
    public async Task A_single_server_database_is_not_silently_turned_into_a_cluster_layout()
    {
        await SchemaMigrator.MigrateAsync(_clients[0]);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            SchemaMigrator.MigrateAsync(_clients[0], new SchemaOptions { Cluster = ClusterName, OnClusterDdl = false }));
        Assert.Contains("flows_local", error.Message);
    }

    private static string Infrastructure() => Grafana.GrafanaDashboards.RepositoryRoot();

    private static string Json(Action<Stream> write)
    {
        using var buffer = new MemoryStream();
        write(buffer);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Decode, enrich and orient as ingest does (as EdgeSourceParityTests), keeping each record's reply flag.</summary>
    internal static List<(FlowRecord Record, bool IsReply)> Orient(IReadOnlyList<string> flowFiles, IReadOnlyList<string> inventoryFiles)
    {
        var index = InventoryLoader.Load(inventoryFiles).Index;
        var enricher = new FlowEnricher(index);
        var resolver = new DirectionResolver(servedPorts: index);
        var reader = new FlowFileReader();
        foreach (var file in flowFiles) reader.Read(file, new Sink(record => { enricher.Enrich(ref record); resolver.Observe(record); }));
        var records = new List<(FlowRecord, bool)>();
        foreach (var file in flowFiles)
            reader.Read(file, new Sink(record =>
            {
                enricher.Enrich(ref record);
                var direction = resolver.Resolve(ref record);
                records.Add((record, direction.IsReply));
            }));
        return records;
    }

    internal static async Task InsertAsync(ClickHouseHttpClient db, List<(FlowRecord Record, bool IsReply)> records)
    {
        const int Partitions = 4;
        var batches = records.Select((r, offset) => (r.Record, r.IsReply, Offset: (long)offset))
            .GroupBy(r => ((int)(r.Offset % Partitions), FlowRowWriter.PartitionKey(r.Record)));
        foreach (var batch in batches)
        {
            using var rows = new RowBinaryWriter();
            var writer = new FlowRowWriter(rows);
            foreach (var (record, isReply, offset) in batch) writer.Write(record, "test", "flows", batch.Key.Item1, offset, isReply: isReply);
            await db.InsertRowBinaryAsync(FlowTables.Flows, FlowRowWriter.Columns, rows);
        }
    }

    private static string Describe(Edge e)
    {
        static string Side(Endpoint p) => $"{p.Key}|{p.Kind}|{p.WorkloadKind}|{string.Join(",", p.Labels.Select(l => l.Key + "=" + l.Value))}";
        return string.Create(CultureInfo.InvariantCulture,
            $"{Side(e.Client)} -> {Side(e.Server)} :{e.Port}/{e.Protocol} flows={e.Flows} bytes={e.Bytes} packets={e.Packets} " +
            $"allowed={e.AllowedFlows} denied={e.DeniedFlows} first={e.FirstSeen:O} last={e.LastSeen:O} replicas={e.ClientReplicas} " +
            $"days={string.Join(",", e.Days)} hours={string.Join(",", e.HourOfWeek)}");
    }

    private sealed class Sink(Action<FlowRecord> accept) : IFlowSink
    {
        public void Accept(in FlowRecord flow) => accept(flow);
        public void Reject(FlowDecodeError error) { }
        public void Skip(string reason, SourcePosition position) { }
    }
}
