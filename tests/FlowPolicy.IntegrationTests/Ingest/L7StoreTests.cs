using System.Globalization;
using FlowPolicy.Analytics.Edges;
using FlowPolicy.Cli.Commands;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Core.Edges;
using FlowPolicy.Ingest.Embedded;
using FlowPolicy.Ingest.Enrichment;
using FlowPolicy.Ingest.Workers;
using FlowPolicy.IntegrationTests.Infrastructure;
using FlowPolicy.IntegrationTests.Infrastructure.Chdb;
using FlowPolicy.LocalServers.Kafka;
using Xunit.Abstractions;

namespace FlowPolicy.IntegrationTests.Ingest;

/// <summary>
/// The sample app's Hubble and VPC files (gRPC calls with their responses, DNS answers before connections to a payment provider
/// by name) through the embedded mode and through mock Kafka -> ingest worker -> flows_l7 -> ClickHouseEdgeSource gives
/// the same L7 facts on the same edges: operations with every count, days and status classes, and the names of the
/// external peer (joined from DNS answers at read time, across Kafka partitions).
/// </summary>
public abstract class L7StoreTests<TServer>(TServer server, ITestOutputHelper output) : ClickHouseTest<TServer>(server), IDisposable
    where TServer : IClickHouseTestServer
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "flowpolicy-l7store-" + Guid.NewGuid().ToString("N")[..10]);

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Hubble_L7_through_Kafka_and_ClickHouse_gives_the_L7_facts_of_the_embedded_mode()
    {
        var start = SampleCommand.DefaultStart;
        var sample = SampleCommand.Write(_dir, start, days: 2, seed: 42, rate: 1);
        // Both files: the DNS answers are in the Hubble file, the connections they name in the VPC flow logs. Plus the
        // shapes the sample lacks: HTTP paths with ids, a 5xx, a denied request, Kafka, destination_names, and an L7
        // record without addresses that joins its edge by identities.
        var files = sample.FlowFiles.Append(WriteExtraHubble(start)).ToList();
        var window = new AnalysisWindow(start, start.AddDays(2));
        var load = new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = files, InventoryFiles = sample.InventoryFiles, From = window.From, To = window.To }).Load();
        var embedded = L7ByEdge(load.Edges);
        Assert.Contains(embedded.Values, f => f.Contains("Grpc POST", StringComparison.Ordinal));
        Assert.Contains(embedded.Values, f => f.Contains("name ", StringComparison.Ordinal));
        Assert.Contains(embedded.Values, f => f.Contains("Http GET /products/{id}/reviews req=6 resp=6 denied=0 err=1", StringComparison.Ordinal)
            && f.Contains("Http POST /reviews", StringComparison.Ordinal) && f.Contains("Http DELETE /products/{id} req=1 resp=0 denied=1", StringComparison.Ordinal));
        Assert.Contains(embedded.Values, f => f.Contains("Kafka produce reviews-written", StringComparison.Ordinal));
        Assert.Contains(embedded.Values, f => f.Contains("name api.stripe.com flows=3", StringComparison.Ordinal));
        Assert.Equal(0, load.L7Unattributed);

        await SchemaMigrator.MigrateAsync(Db);
        // Several partitions: a DNS answer and the connection it names land in different ones.
        using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Partitions = 4, Topics = ["flows"] });
        await using var inventory = new InventoryWatcher(new InventoryWatcherOptions { Paths = sample.InventoryFiles });
        await inventory.StartAsync();
        using var logs = IngestWorkerTests.TestLogs(output);
        var worker = new IngestWorker(IngestWorkerTests.KafkaOptions(cluster, "g-l7"), Db,
            new IngestWorkerOptions { Lanes = 2, BatchRows = 20_000, BatchInterval = TimeSpan.FromMilliseconds(300), RollupInterval = null },
            inventory, logs);
        using var stop = new CancellationTokenSource();
        var running = worker.RunAsync(stop.Token);
        await Task.Run(() => IngestTestData.Produce(cluster.BootstrapServers, "flows", files));
        var (flows, _, l7Rows) = IngestTestData.Expect(files, sample.InventoryFiles);
        await IngestTestData.EventuallyAsync(async () => (await IngestTestData.CountAsync(Db, FlowTables.Flows), await IngestTestData.CountAsync(Db, FlowTables.L7)),
            n => n.Item1 >= flows && n.Item2 >= l7Rows, TimeSpan.FromSeconds(90));
        await stop.CancelAsync();
        await running;
        Assert.Equal((flows, l7Rows), (await IngestTestData.CountAsync(Db, FlowTables.Flows), await IngestTestData.CountAsync(Db, FlowTables.L7)));
        output.WriteLine($"{await IngestTestData.CountAsync(Db, FlowTables.Flows)} flows, {worker.Metrics.L7Rows} L7 rows; embedded: {load.L7Records} L7 records, {load.DnsAnswers} DNS answers");
        Assert.True(worker.Metrics.L7Rows > 0);
        for (var day = DateOnly.FromDateTime(window.From); day < DateOnly.FromDateTime(window.To); day = day.AddDays(1))
            await EdgeRollup.RebuildDayAsync(Db, day);

        var fromClickHouse = L7ByEdge(await new ClickHouseEdgeSource(Db).ReadEdgesAsync(window));
        var differing = embedded.Except(fromClickHouse).Select(p => "embedded " + p.Key + ": " + p.Value).Take(3)
            .Concat(fromClickHouse.Except(embedded).Select(p => "ClickHouse " + p.Key + ": " + p.Value).Take(3)).ToList();
        Assert.True(differing.Count == 0, string.Join("\n", differing));
        Assert.Equal(embedded.OrderBy(p => p.Key, StringComparer.Ordinal), fromClickHouse.OrderBy(p => p.Key, StringComparer.Ordinal));
    }

    private const string Frontend = """{"ID":1201,"identity":51234,"namespace":"shop","labels":["k8s:app=frontend","k8s:io.kubernetes.pod.namespace=shop"],"pod_name":"frontend-7d4b9c-x2x9z","workloads":[{"name":"frontend","kind":"Deployment"}]}""";
    private const string Reviews = """{"ID":1302,"identity":51301,"namespace":"shop","labels":["k8s:app=reviews","k8s:io.kubernetes.pod.namespace=shop"],"pod_name":"reviews-5c9f8-abcde","workloads":[{"name":"reviews","kind":"Deployment"}]}""";
    private const string World = """{"identity":2,"labels":["reserved:world"]}""";

    /// <summary>Hubble records in the shapes of cilium/cilium pkg/hubble/parser/seven (as tests/FlowPolicy.Tests/L7/HubbleL7Tests.cs uses them).</summary>
    private string WriteExtraHubble(DateTime start)
    {
        string T(double hours) => start.AddHours(hours).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        string Http(double hours, string verdict, bool response, string method, string url, int code)
        {
            var (src, dst, sport, dport, who, whom) = response ? ("10.244.7.30", "10.244.7.15", 8080, 51000, Reviews, Frontend) : ("10.244.7.15", "10.244.7.30", 51000, 8080, Frontend, Reviews);
            var http = response ? $$$$"""{"code":{{{{code}}}},"method":"{{{{method}}}}","url":"{{{{url}}}}","protocol":"HTTP/1.1"}""" : $$$$"""{"method":"{{{{method}}}}","url":"{{{{url}}}}","protocol":"HTTP/1.1"}""";
            return $$$$"""{"flow":{"time":"{{{{T(hours)}}}}","verdict":"{{{{verdict}}}}","IP":{"source":"{{{{src}}}}","destination":"{{{{dst}}}}","ipVersion":"IPv4"},"l4":{"TCP":{"source_port":{{{{sport}}}},"destination_port":{{{{dport}}}}}},"source":{{{{who}}}},"destination":{{{{whom}}}},"Type":"L7","node_name":"kind-worker","l7":{"type":"{{{{(response ? "RESPONSE" : "REQUEST")}}}}","http":{{{{http}}}}},"traffic_direction":"INGRESS","is_reply":{{{{(response ? "true" : "false")}}}}}}""";
        }
        var lines = new List<string>();
        for (int i = 0; i < 6; i++)
        {
            lines.Add(Http(3 + 7 * i, "FORWARDED", false, "GET", $"http://reviews:8080/products/{8812 + i}/reviews?page=2", 0));
            lines.Add(Http(3 + 7 * i, "FORWARDED", true, "GET", $"http://reviews:8080/products/{8812 + i}/reviews?page=2", i == 4 ? 503 : 200));
        }
        lines.Add(Http(5, "DROPPED", false, "DELETE", "http://reviews:8080/products/1", 0));
        // Without addresses (the proxy wrote none): joins the one frontend -> reviews edge by its identities (the Kafka
        // record below goes the other way, so it is still the only one).
        lines.Add($$$$"""{"flow":{"time":"{{{{T(6)}}}}","verdict":"FORWARDED","source":{{{{Frontend}}}},"destination":{{{{Reviews}}}},"Type":"L7","l7":{"type":"REQUEST","http":{"method":"POST","url":"/reviews","protocol":"HTTP/1.1"}},"is_reply":false}}""");
        lines.Add($$$$"""{"flow":{"time":"{{{{T(7)}}}}","verdict":"FORWARDED","IP":{"source":"10.244.7.30","destination":"10.244.7.15"},"l4":{"TCP":{"source_port":51002,"destination_port":9092}},"source":{{{{Reviews}}}},"destination":{{{{Frontend}}}},"Type":"L7","l7":{"type":"REQUEST","kafka":{"api_key":"produce","topic":"reviews-written"}},"is_reply":false}}""");
        for (int i = 0; i < 3; i++)
            lines.Add($$$$"""{"flow":{"time":"{{{{T(8 + 11 * i)}}}}","verdict":"FORWARDED","IP":{"source":"10.244.7.15","destination":"54.187.174.169"},"l4":{"TCP":{"source_port":{{{{41000 + i}}}},"destination_port":443,"flags":{"SYN":true}}},"source":{{{{Frontend}}}},"destination":{{{{World}}}},"Type":"L3_L4","destination_names":["api.stripe.com"],"is_reply":false}}""");
        var path = Path.Combine(_dir, "hubble-l7-extra.json");
        File.WriteAllLines(path, lines);
        return path;
    }

    /// <summary>Every L7 fact of every edge that has any, as text, by edge.</summary>
    private static Dictionary<string, string> L7ByEdge(IEnumerable<Edge> edges) => edges.Where(e => e.L7 is not null).ToDictionary(
        e => $"{e.Client.Key} -> {e.Server.Key}:{e.Port}/{e.Protocol}",
        e => string.Join("; ", e.L7!.Operations.Select(o => string.Create(CultureInfo.InvariantCulture,
                $"{o.Protocol} {o} req={o.Requests} resp={o.Responses} denied={o.Denied} err={o.Errors} {o.FirstSeen:O}..{o.LastSeen:O} days={string.Join(",", o.Days)} classes={string.Join(",", o.StatusClasses)} paths={o.DistinctPaths}"))
            .Concat(e.L7.Names.Select(n => string.Create(CultureInfo.InvariantCulture, $"name {n.Name} flows={n.Flows} {n.FirstSeen:O}..{n.LastSeen:O}")))),
        StringComparer.Ordinal);
}

/// <summary>On the private ClickHouse 18.16 server.</summary>
[Collection(ClickHouseCollection.Name)]
public sealed class L7StoreTests(ClickHouseServerFixture server, ITestOutputHelper output) : L7StoreTests<ClickHouseServerFixture>(server, output);

/// <summary>On the current engine (chDB in process).</summary>
[Collection(CurrentClickHouseCollection.Name)]
[Trait("server", "current")]
public sealed class L7StoreTestsOnCurrentServer(ChdbServerFixture server, ITestOutputHelper output) : L7StoreTests<ChdbServerFixture>(server, output);
