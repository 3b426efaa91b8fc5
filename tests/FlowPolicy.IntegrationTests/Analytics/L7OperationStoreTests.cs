using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using FlowPolicy.Analytics.Intent;
using FlowPolicy.Analytics.Jobs;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.IntegrationTests.Infrastructure;
using FlowPolicy.IntegrationTests.Infrastructure.Chdb;

namespace FlowPolicy.IntegrationTests.Analytics;

/// <summary>
/// The analyze job's SLIs per L7 operation in sli_l7_operations: the rows slis.json's l7_operations holds for the same
/// window, replaced (not added to) when the window is analysed again with changed L7 rules.
/// </summary>
public abstract class L7OperationStoreTests<TServer>(TServer server) : ClickHouseTest<TServer>(server), IDisposable
    where TServer : IClickHouseTestServer
{
    private const string GetProduct = "/hipstershop.ProductCatalogService/GetProduct";
    private const string ListProducts = "/hipstershop.ProductCatalogService/ListProducts";
    private static readonly DateTime Ten = new(2026, 11, 2, 10, 0, 0, DateTimeKind.Utc);
    private static readonly AnalysisWindow TenToEleven = new(Ten, Ten.AddHours(1));
    private static readonly AnalysisWindow ElevenToTwelve = new(Ten.AddHours(1), Ten.AddHours(2));

    private readonly string _dir = Directory.CreateTempSubdirectory("flowpolicy-l7-store-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Endpoint Workload(string name) =>
        Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, "shop", name, "Deployment", labels: [new("app", name)]));

    private static L7Operation Grpc(string method, long requests, long errors, int minute) => new()
    {
        Protocol = L7Protocol.Grpc, Operation = "POST", Resource = method, Requests = requests, Responses = requests, Errors = errors,
        FirstSeen = Ten.AddMinutes(minute), LastSeen = Ten.AddMinutes(minute + 20), Days = [DateOnly.FromDateTime(Ten)],
    };

    private static Edge Edge(string client, string server, ushort port, byte protocol, params L7Operation[] operations) =>
        new(Workload(client), Workload(server), port, protocol)
        {
            Flows = 10, AllowedFlows = 10, Bytes = 1000, Packets = 10, FirstSeen = Ten, LastSeen = Ten.AddMinutes(30),
            Days = [DateOnly.FromDateTime(Ten)], ClientReplicas = 1, L7 = new EdgeL7Facts { Operations = operations },
        };

    /// <summary>
    /// frontend and checkout call catalog's two gRPC methods (the two clients' ListProducts make one row); debug calls
    /// GetProduct on a port the intent denies; frontend resolves a name through kube-dns.
    /// </summary>
    private static readonly List<Edge> Edges =
    [
        Edge("frontend", "catalog", 3550, IpProtocols.Tcp, Grpc(GetProduct, 120, 3, 1), Grpc(ListProducts, 80, 0, 2)),
        Edge("checkout", "catalog", 3550, IpProtocols.Tcp, Grpc(ListProducts, 20, 1, 5)),
        Edge("debug", "catalog", 3550, IpProtocols.Tcp, Grpc(GetProduct, 5, 0, 7)),
        Edge("frontend", "kube-dns", 53, IpProtocols.Udp, new L7Operation
        {
            Protocol = L7Protocol.Dns, Operation = "A", Resource = "api.payments.example.com", Requests = 7, Responses = 7, Errors = 1,
            FirstSeen = Ten.AddMinutes(3), LastSeen = Ten.AddMinutes(9), Days = [DateOnly.FromDateTime(Ten)],
        }),
    ];

    private sealed class AllowList(params string[] allowed) : IIntentEvaluator
    {
        private static readonly IntentRule Rule = new("shop/allow", "ingress[0]", "Test");
        public IReadOnlyList<IntentRule> Rules => [Rule];
        public IntentDecision Evaluate(Endpoint client, Endpoint server, ushort port, byte protocol) =>
            allowed.Contains($"{client.Name}>{server.Name}:{port}") ? new(true, [Rule], "allowed") : new(false, [], "no rule");
    }

    private static readonly AllowList L4 = new("frontend>catalog:3550", "checkout>catalog:3550", "frontend>kube-dns:53");

    /// <summary>A Cilium policy whose L7 rules allow frontend the gRPC paths matching <paramref name="pathRegex"/> on catalog:3550.</summary>
    private L7IntentEvaluator CatalogRules(string pathRegex)
    {
        var file = Path.Combine(_dir, "catalog-" + Guid.NewGuid().ToString("N") + ".yaml");
        File.WriteAllText(file, $$$"""
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: catalog, namespace: shop}
            spec:
              endpointSelector: {matchLabels: {app: catalog}}
              ingress:
                - fromEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": shop, app: frontend}}]
                  toPorts:
                    - ports: [{port: "3550", protocol: TCP}]
                      rules:
                        http:
                          - {method: POST, path: '{{{pathRegex}}}'}
            """);
        return new L7IntentEvaluator(new IntentPolicyLoader().Load(file));
    }

    private async Task<AnalyzeResult> RunAsync(AnalysisWindow window, L7IntentEvaluator l7, string? output = null) =>
        await new AnalyzeJob(new AnalyzeJobOptions { OutputDirectory = output, RenderSvg = false }, L4, Db, l7).RunAsync(window, new LoadedEdgeSource(Edges));

    private const string RowSql = """
        SELECT server, toString(port), toString(l7_protocol), operation, resource, toString(clients), toString(requests), toString(errors), toString(proxy_denied),
            toString(allowed_by_intent), toString(denied_by_intent), toString(denied_at_l7), toString(undetermined),
            ifNull(toString(compliance_rate), 'null'), ifNull(toString(denied_rate), 'null'), ifNull(toString(error_rate), 'null'), denied_reason,
            toString(first_seen), toString(last_seen)
        FROM sli_l7_operations
        """;

    [Fact]
    public async Task Rerunning_a_window_replaces_its_operation_rows_which_match_slis_json()
    {
        await SchemaMigrator.MigrateAsync(Db);
        var stored = new List<(string Table, long Rows)>();
        using var listener = RowsStoredListener(stored);
        // First run: frontend may call ListProducts only, so its GetProduct requests are denied at L7.
        var first = await RunAsync(TenToEleven, CatalogRules("/hipstershop\\.ProductCatalogService/ListProducts"));
        await RunAsync(ElevenToTwelve, CatalogRules("/hipstershop\\.ProductCatalogService/ListProducts"));
        // catalog GetProduct, catalog ListProducts, kube-dns A api.payments.example.com.
        Assert.Equal(3, first.Stored!.L7OperationRows);
        // The job's stored-rows counter has a table tag per SLI table (other tests' runs may add their own measurements).
        lock (stored) Assert.Contains((FlowTables.SliL7Operations, 3L), stored);
        var denied = await Db.QueryTsvAsync(
            $"SELECT resource, toString(requests), toString(denied_by_intent), toString(denied_at_l7), denied_reason FROM {FlowTables.SliL7Operations} WHERE window_start = '2026-11-02 10:00:00' AND resource = '{GetProduct}'");
        // 120 from frontend denied by the L7 rule, 5 from debug by the port.
        Assert.Equal([GetProduct, "125", "125", "120"], Assert.Single(denied)[..4]);
        Assert.Contains("CiliumNetworkPolicy shop/catalog", denied[0][4]);

        // The L7 rules changed: every catalog method allowed. Rerun 10:00-11:00 with slis.json written beside the rows.
        var second = await RunAsync(TenToEleven, CatalogRules("/hipstershop\\.ProductCatalogService/.*"), _dir);

        var rows = (await Db.QueryTsvAsync(RowSql + " WHERE window_start = '2026-11-02 10:00:00' ORDER BY server, port, resource, operation")).Select(NormalizeRates).ToList();
        Assert.Equal(second.Stored!.L7OperationRows, rows.Count);
        Assert.Equal(Expected(Path.Combine(_dir, "slis.json")), rows);
        var get = Assert.Single(rows, r => r[4] == GetProduct);
        // Only debug's 5 requests are left denied (by the port); the two clients allowed and denied make 2 clients.
        Assert.Equal(["shop/catalog", "3550", "grpc", "POST", GetProduct, "2", "125", "3", "0", "120", "5", "0", "0"], get[..13]);
        Assert.Equal(["2026-11-02 10:01:00", "2026-11-02 10:27:00"], get[17..]);
        var list = Assert.Single(rows, r => r[4] == ListProducts);
        Assert.Equal(["2", "100", "1", "0", "100", "0", "0", "0", "1"], list[5..14]);
        var dns = Assert.Single(rows, r => r[2] == "dns");
        Assert.Equal(["shop/kube-dns", "53", "dns", "A", "api.payments.example.com", "1", "7", "1"], dns[..8]);

        // The other window kept its rows from the first rules; nothing was added to the rerun window, no staging table left.
        Assert.Equal("120", await Db.QueryScalarAsync($"SELECT toString(sum(denied_at_l7)) FROM {FlowTables.SliL7Operations} WHERE window_start = '2026-11-02 11:00:00'"));
        Assert.Equal("6", await Db.QueryScalarAsync($"SELECT toString(count()) FROM {FlowTables.SliL7Operations}"));
        Assert.Equal("0", await Db.QueryScalarAsync("SELECT toString(count()) FROM system.tables WHERE database = currentDatabase() AND name LIKE '%replace%'"));
    }

    [Fact]
    public async Task A_window_without_L7_facts_replaces_its_operation_rows_with_none()
    {
        await SchemaMigrator.MigrateAsync(Db);
        await RunAsync(TenToEleven, CatalogRules(".*"));
        Assert.Equal("3", await Db.QueryScalarAsync($"SELECT toString(count()) FROM {FlowTables.SliL7Operations}"));

        // The L7 records of the window were gone when it ran again (say, a rebuilt rollup without them): its rows go too.
        var plain = Edges.Select(e => new Edge(e.Client, e.Server, e.Port, e.Protocol)
        {
            Flows = e.Flows, AllowedFlows = e.AllowedFlows, Bytes = e.Bytes, Packets = e.Packets, FirstSeen = e.FirstSeen, LastSeen = e.LastSeen, Days = e.Days, ClientReplicas = 1,
        }).ToList();
        var result = await new AnalyzeJob(new AnalyzeJobOptions(), L4, Db, CatalogRules(".*")).RunAsync(TenToEleven, new LoadedEdgeSource(plain));
        Assert.Equal(0, result.Stored!.L7OperationRows);
        Assert.Equal("0", await Db.QueryScalarAsync($"SELECT toString(count()) FROM {FlowTables.SliL7Operations}"));
    }

    private static MeterListener RowsStoredListener(List<(string Table, long Rows)> stored)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == AnalyzeJob.MeterName && instrument.Name == "flowpolicy.analyze.rows.stored") l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag.Key == "table")
                    lock (stored) stored.Add(((string)tag.Value!, value));
        });
        listener.Start();
        return listener;
    }

    /// <summary>The rates (columns 13..15) as C# prints the double the server printed: versions differ in digits, not in value.</summary>
    private static string[] NormalizeRates(IReadOnlyList<string> row) =>
        row.Select((cell, i) => i is >= 13 and <= 15 && cell != "null" ? double.Parse(cell, CultureInfo.InvariantCulture).ToString("R", CultureInfo.InvariantCulture) : cell).ToArray();

    /// <summary>slis.json's l7_operations as the TSV rows of <see cref="RowSql"/> (rates as <see cref="NormalizeRates"/> prints them).</summary>
    private List<string[]> Expected(string slisJson)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(slisJson));
        static string Rate(JsonElement e) => e.ValueKind == JsonValueKind.Null ? "null" : e.GetDouble().ToString("R", CultureInfo.InvariantCulture);
        static string Time(JsonElement e) => DateTime.Parse(e.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        var rows = doc.RootElement.GetProperty("l7_operations").EnumerateArray().Select(o => new[]
        {
            o.GetProperty("server").GetString()!, o.GetProperty("port").ToString(), o.GetProperty("protocol").GetString()!, o.GetProperty("operation").GetString()!,
            o.GetProperty("resource").GetString()!, o.GetProperty("clients").ToString(), o.GetProperty("requests").ToString(), o.GetProperty("errors").ToString(),
            o.GetProperty("proxy_denied").ToString(), o.GetProperty("allowed_by_intent").ToString(), o.GetProperty("denied_by_intent").ToString(),
            o.GetProperty("denied_at_l7").ToString(), o.GetProperty("undetermined").ToString(),
            Rate(o.GetProperty("compliance_rate")), Rate(o.GetProperty("denied_rate")), Rate(o.GetProperty("error_rate")),
            o.TryGetProperty("denied_reason", out var reason) ? reason.GetString()! : "",
            Time(o.GetProperty("first_seen")), Time(o.GetProperty("last_seen")),
        }).OrderBy(r => r[0], StringComparer.Ordinal).ThenBy(r => int.Parse(r[1], CultureInfo.InvariantCulture)).ThenBy(r => r[4], StringComparer.Ordinal)
            .ThenBy(r => r[3], StringComparer.Ordinal).ToList();
        Assert.Equal(3, rows.Count);
        return rows;
    }
}

/// <summary>On the private ClickHouse 18.16 server.</summary>
[Collection(ClickHouseCollection.Name)]
public sealed class L7OperationStoreTests(ClickHouseServerFixture server) : L7OperationStoreTests<ClickHouseServerFixture>(server);

/// <summary>On the current engine (chDB in process).</summary>
[Collection(CurrentClickHouseCollection.Name)]
[Trait("server", "current")]
public sealed class L7OperationStoreTestsOnCurrentServer(ChdbServerFixture server) : L7OperationStoreTests<ChdbServerFixture>(server);
