using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Xml.Linq;
using FlowPolicy.Cli.Commands;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.IntegrationTests.Ingest;
using FlowPolicy.LocalServers.ClickHouse;
using Xunit.Abstractions;

namespace FlowPolicy.IntegrationTests.Cluster;

/// <summary>
/// A private ZooKeeper and two local ClickHouse 18.16 servers as one shard with two replicas: `migrate --replicated`
/// creates ReplicatedMergeTree tables, rows inserted on one replica appear on the other, and a rollup rebuilt on one
/// replica (staging as plain MergeTree, swapped in with REPLACE PARTITION) replicates without doubling.
/// </summary>
public sealed class ReplicatedSchemaTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string ClusterName = "flowpolicy_replicated";
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "flowpolicy-replicated-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly string _database = "replicated_" + Guid.NewGuid().ToString("N")[..12];
    private readonly List<LocalClickHouseServer> _nodes = [];
    private readonly List<ClickHouseHttpClient> _clients = [];
    private LocalZooKeeper? _zooKeeper;

    async Task IAsyncLifetime.InitializeAsync()
    {
        Assert.True(LocalZooKeeper.IsInstalled, $"{LocalZooKeeper.Jar} is missing: apt-get install zookeeper (deploy/local/install-deps.sh)");
        var clock = Stopwatch.StartNew();
        _zooKeeper = await LocalZooKeeper.StartAsync(FreePort());
        output.WriteLine($"ZooKeeper up in {clock.ElapsedMilliseconds} ms");
        int[] tcp = [FreePort(), FreePort()];
        // One shard, two replicas; internal_replication: a Distributed insert goes to one replica and ZooKeeper copies it.
        var remoteServers = new XElement("remote_servers", new XElement(ClusterName, new XElement("shard",
            new XElement("internal_replication", "true"),
            tcp.Select(port => new XElement("replica", new XElement("host", "127.0.0.1"), new XElement("port", port))))));
        var zooKeeper = new XElement("zookeeper", new XElement("node", new XElement("host", "127.0.0.1"), new XElement("port", _zooKeeper.Port)));
        for (int i = 0; i < tcp.Length; i++)
        {
            var options = new LocalClickHouseServerOptions { TcpPort = tcp[i] };
            options.ExtraConfig.Add(remoteServers);
            options.ExtraConfig.Add(zooKeeper);
            // Replicas fetch parts from each other over the interserver HTTP port (one each: they share a host).
            options.ExtraConfig.Add(new XElement("interserver_http_host", "127.0.0.1"));
            options.ExtraConfig.Add(new XElement("interserver_http_port", FreePort()));
            options.ExtraConfig.Add(new XElement("macros", new XElement("shard", "01"), new XElement("replica", "replica-" + (i + 1))));
            options.ProfileSettings["insert_distributed_sync"] = "1";
            var node = await LocalClickHouseServer.StartAsync(options);
            _nodes.Add(node);
            _clients.Add(new ClickHouseHttpClient(node.ClientOptions(_database)));
        }
        output.WriteLine($"ZooKeeper and two ClickHouse replicas up in {clock.ElapsedMilliseconds} ms");
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        foreach (var client in _clients) client.Dispose();
        foreach (var node in _nodes) await node.DisposeAsync();
        if (_zooKeeper is not null) await _zooKeeper.DisposeAsync();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private async Task<long> CountAsync(ClickHouseHttpClient node, string sql) =>
        long.Parse((await node.QueryScalarAsync(sql))!, CultureInfo.InvariantCulture);

    [Fact]
    public async Task Replicated_tables_copy_flows_and_rebuilt_rollups_to_the_other_replica_once()
    {
        var migrate = IngestTestData.RunCli(["migrate", "--cluster", ClusterName, "--replicated", "--database", _database,
            .. _nodes.SelectMany(n => new[] { "--cluster-node", n.Url.ToString() })]);
        Assert.True(migrate.ExitCode == 0, migrate.Stderr + migrate.Stdout);
        var schema = new SchemaOptions { Cluster = ClusterName, OnClusterDdl = false, Replicated = true };
        foreach (var node in _clients)
        {
            foreach (var table in new[] { "flows_local", "edges_1h_local", "edges_1d_local", "schema_migrations", "sli_windows", "sli_drift", "job_runs" })
                Assert.Equal("ReplicatedMergeTree", await node.QueryScalarAsync($"SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = '{table}'"));
            Assert.Equal("Distributed", await node.QueryScalarAsync("SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = 'flows'"));
        }

        var start = SampleCommand.DefaultStart;
        var files = SampleCommand.Write(_dir, start, days: 1, seed: 7, rate: 1);
        var records = ClusterSchemaTests.Orient(files.FlowFiles, files.InventoryFiles);
        await ClusterSchemaTests.InsertAsync(_clients[0], records);
        await _clients[1].ExecuteAsync("SYSTEM SYNC REPLICA flows_local");
        foreach (var node in _clients)
            Assert.Equal(records.Count, await CountAsync(node, "SELECT count() FROM flows_local"));
        output.WriteLine($"{records.Count} flows on both replicas");

        // Why the staging tables are plain MergeTree: a copy of a replicated table would claim the same replica in ZooKeeper.
        await Assert.ThrowsAsync<ClickHouseServerException>(() => _clients[0].ExecuteAsync("CREATE TABLE edges_1h_copy AS edges_1h_local"));

        var day = DateOnly.FromDateTime(start);
        var rebuilt = await EdgeRollup.RebuildDayAsync(_clients[0], day, EdgeRollupTables.ClusterLocal);
        Assert.True(rebuilt.HourlyRows > 10, $"only {rebuilt.HourlyRows} hourly rows");
        // The other replica rebuilds the same day too (as RebuildDayOnNodesAsync on every node would): replaced, not added.
        await EdgeRollup.RebuildDayAsync(_clients[1], day, EdgeRollupTables.ClusterLocal);
        foreach (var node in _clients)
        {
            await node.ExecuteAsync("SYSTEM SYNC REPLICA edges_1h_local");
            await node.ExecuteAsync("SYSTEM SYNC REPLICA edges_1d_local");
        }
        long requests = records.Count(r => !r.IsReply);
        foreach (var node in _clients)
        {
            Assert.Equal(rebuilt.HourlyRows, await CountAsync(node, "SELECT count() FROM edges_1h_local"));
            Assert.Equal(rebuilt.DailyRows, await CountAsync(node, "SELECT count() FROM edges_1d_local"));
            Assert.Equal(requests, await CountAsync(node, "SELECT sum(flows) FROM edges_1d_local"));
            Assert.Equal(0, await CountAsync(node, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name LIKE '%_rebuild_%'"));
        }

        foreach (var node in _clients) Assert.Empty((await SchemaMigrator.MigrateAsync(node, schema)).Applied);
    }
}
