using System.Globalization;
using System.Text;
using FlowPolicy.Analytics.Anomalies;
using FlowPolicy.Analytics.Edges;
using FlowPolicy.Analytics.Intent;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Cli.Commands;
using FlowPolicy.ClickHouse.RowBinary;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Direction;
using FlowPolicy.Ingest.Embedded;
using FlowPolicy.Ingest.Enrichment;
using FlowPolicy.Ingest.Files;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.IntegrationTests.Infrastructure;
using FlowPolicy.IntegrationTests.Infrastructure.Chdb;

namespace FlowPolicy.IntegrationTests.Analytics;

/// <summary>
/// The same flows through the embedded path (files -> FileEdgeSource) and through ClickHouse (enrich + direction as
/// ingest does, FlowRowWriter rows, rollup rebuild, ClickHouseEdgeSource) give identical edges and identical slis.json.
/// </summary>
public abstract class EdgeSourceParityTests<TServer>(TServer server) : ClickHouseTest<TServer>(server), IDisposable
    where TServer : IClickHouseTestServer
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "flowpolicy-parity-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Files_and_ClickHouse_give_identical_edges_and_identical_slis_for_the_sample_app()
    {
        var start = SampleCommand.DefaultStart;
        var files = SampleCommand.Write(_dir, start, days: 2, seed: 42, rate: 2);
        var window = new AnalysisWindow(start, start.AddDays(2));

        var load = new FileEdgeSource(new FileEdgeSourceOptions
        {
            FlowFiles = files.FlowFiles, InventoryFiles = files.InventoryFiles, From = window.From, To = window.To,
        }).Load();
        var fromFiles = load.Edges;

        await SchemaMigrator.MigrateAsync(Db);
        var rows = await IngestAsync(files.FlowFiles, files.InventoryFiles);
        for (var day = DateOnly.FromDateTime(window.From); day < DateOnly.FromDateTime(window.To); day = day.AddDays(1))
            await EdgeRollup.RebuildDayAsync(Db, day);
        var source = new ClickHouseEdgeSource(Db);
        var fromClickHouse = await source.ReadEdgesAsync(window);

        Assert.True(fromFiles.Count > 20, $"only {fromFiles.Count} edges");
        Assert.Contains(fromFiles, e => e.ClientReplicas > 1);
        Assert.Contains(fromFiles, e => e.DaysSeen > 1);
        var differing = fromFiles.Select(Describe).Except(fromClickHouse.Select(Describe)).Take(3)
            .Concat(fromClickHouse.Select(Describe).Except(fromFiles.Select(Describe)).Take(3)).ToList();
        Assert.True(differing.Count == 0, "files vs ClickHouse:\n" + string.Join("\n", differing));
        Assert.Equal(fromFiles.Select(Describe), fromClickHouse.Select(Describe));
        Assert.Equal(0, source.Metrics.RowsFolded);
        Assert.True(rows > fromFiles.Sum(e => e.Flows), "replies were stored too");

        // The counts a report explains its flows with agree too: records - replies = the edges' flows, on both paths.
        var counts = await source.ReadInputCountsAsync(window);
        Assert.True(counts.RepliesFolded > 0, "the sample has replies");
        Assert.Equal((load.Counts.RecordsInWindow, load.Counts.RepliesFolded), (counts.RecordsRead, counts.RepliesFolded));
        Assert.Equal(fromFiles.Sum(e => e.Flows), load.Counts.Flows);
        Assert.Equal(fromFiles.Sum(e => e.Flows), counts.Flows);

        var intent = new SampleIntent();
        // SLIs per L7 operation come from Edge.L7. Until the ClickHouse path fills it (docs/l7.md, "Not done yet") the files'
        // side is compared without its L7 facts (present there, checked first); once ClickHouse edges carry L7 facts, the
        // whole documents must be identical, L7 operations included.
        Assert.NotEmpty(SliCalculator.Compute(fromFiles, intent, window).L7Operations);
        if (!fromClickHouse.Any(e => e.L7 is not null))
            foreach (var edge in fromFiles) edge.L7 = null;
        Assert.Equal(Slis(fromFiles, intent, window), Slis(fromClickHouse, intent, window));
        var report = SliCalculator.Compute(fromFiles, intent, window);
        Assert.NotEmpty(report.UnintendedEdges); // the scanner and the debug pod at least
        Assert.NotNull(report.Overall.ComplianceRate);
    }

    [Fact]
    public async Task Files_and_ClickHouse_give_identical_hourly_series_and_the_anomalies_job_stores_each_window_once()
    {
        var start = SampleCommand.DefaultStart;
        var files = SampleCommand.Write(_dir, start, days: 2, seed: 7, rate: 2);
        var window = new AnalysisWindow(start, start.AddDays(2));
        var load = new FileEdgeSource(new FileEdgeSourceOptions
        {
            FlowFiles = files.FlowFiles, InventoryFiles = files.InventoryFiles, From = window.From, To = window.To, KeepHours = true,
        }).Load();

        await SchemaMigrator.MigrateAsync(Db);
        await IngestAsync(files.FlowFiles, files.InventoryFiles);
        for (var day = DateOnly.FromDateTime(window.From); day < DateOnly.FromDateTime(window.To); day = day.AddDays(1))
            await EdgeRollup.RebuildDayAsync(Db, day);
        var fromClickHouse = await new ClickHouseHourlySeries(Db).ReadAsync(window);

        Assert.Equal(window.From, load.SeriesStart);
        Assert.True(load.HourlySeries.Count > 20, $"only {load.HourlySeries.Count} series");
        Assert.Contains(load.HourlySeries, s => s.Hours.Length > 24);
        Assert.Contains(load.HourlySeries, s => s.DeniedFlows.Any(d => d > 0));
        static string Series(EdgeHourlySeries s) => $"{s.Client.Key} -> {s.Server.Key}:{s.Port}/{s.Protocol} " +
            string.Join(",", s.Hours.Select((h, i) => $"{h}:{s.Flows[i]}/{s.Bytes[i]}/{s.DeniedFlows[i]}"));
        Assert.Equal(load.HourlySeries.Select(Series).Order(StringComparer.Ordinal), fromClickHouse.Select(Series).Order(StringComparer.Ordinal));

        // The job judges the last hour against what came before; a rerun of the window replaces its rows.
        var lastHour = new AnalysisWindow(window.To.AddHours(-1), window.To);
        var job = new AnomalyJob(new AnomalyJobOptions { History = TimeSpan.FromHours(47) }, Db);
        var (report, stored) = await job.RunAsync(lastHour);
        Assert.Equal(report.Anomalies.Count, stored);
        var expected = AnomalyDetector.Detect(load.HourlySeries, new AnomalyOptions(), window.From, 48, 47);
        Assert.Equal(expected.Anomalies.Select(a => a.Explanation), report.Anomalies.Select(a => a.Explanation));
        var planted = new FlowAnomaly(AnomalyKind.DeniedSpike, AnomalyScope.Service, "shop/cart", AnomalyMetric.DeniedFlows, lastHour.From, lastHour.To,
            500, 2, 0, 9, 99, BaselineKind.HourOfWeek, [new AnomalyEdge("shop/frontend", "shop/cart", 7070, 6, 480, 1)]);
        await AnomalyStore.ReplaceWindowAsync(Db, lastHour, [planted], window.To);
        await AnomalyStore.ReplaceWindowAsync(Db, lastHour, [planted], window.To);
        var rows = await Db.QueryTsvAsync($"SELECT toString(kind), toString(scope), subject, service, observed, edges[1], edge_observed[1], toString(baseline) FROM {FlowTables.Anomalies}");
        Assert.Equal([["denied_spike", "service", "shop/cart", "shop/cart", "500", "shop/frontend -> shop/cart:7070/TCP", "480", "hour_of_week"]], rows);
    }

    [Fact]
    public async Task Rollouts_and_workload_kinds_give_the_same_endpoints_from_files_and_from_ClickHouse()
    {
        var day = new DateTime(2026, 11, 2, 0, 0, 0, DateTimeKind.Utc);
        static WorkloadIdentity Pod(string name, string? kind, string pod, params (string, string)[] labels) =>
            new(EndpointKind.Pod, "shop", name, kind, pod, labels.Select(l => KeyValuePair.Create(l.Item1, l.Item2)));
        var frontend = Pod("frontend", "Deployment", "frontend-1", ("app", "frontend"));
        var cartV1 = Pod("cart", "Deployment", "cart-aaa-1", ("app", "cart"), ("build", "1"), ("pod-template-hash", "aaa"), ("version", "v1"));
        var cartV2 = Pod("cart", "Deployment", "cart-bbb-1", ("app", "cart"), ("build", "2"), ("pod-template-hash", "bbb"), ("version", "v2"));
        var payV1 = Pod("pay", "Deployment", "pay-aaa-1", ("app", "pay"), ("track", "stable"), ("team", "a"));
        var payV2 = Pod("pay", "Deployment", "pay-bbb-1", ("app", "pay"), ("track", "canary"), ("team", "a"));
        var dbDeployment = Pod("db", "Deployment", "db-5f-1", ("app", "db-proxy"));
        var dbStatefulSet = Pod("db", "StatefulSet", "db-0", ("app", "db"));
        var cacheKnown = Pod("cache", "StatefulSet", "cache-0", ("app", "cache"));
        var cacheUnknown = Pod("cache", null, "cache-1", ("app", "cache"));
        var records = new List<FlowRecord>();
        void Add(WorkloadIdentity client, WorkloadIdentity server, DateTime at) => records.Add(new FlowRecord
        {
            Start = at, End = at.AddSeconds(2), SrcIp = PackedIp.Parse("10.244.0.1"), DstIp = PackedIp.Parse("10.244.0.2"),
            SrcPort = 40000, DstPort = 8080, Protocol = IpProtocols.Tcp, Bytes = 100, Packets = 2, Verdict = Verdict.Allowed,
            SrcIdentity = client, DstIdentity = server,
        });
        // cart: v1 for hours, then v2 (a rollout across hours); pay: stable and canary pods in the same single hour.
        for (int h = 0; h < 5; h++) Add(frontend, cartV1, day.AddHours(h));
        for (int h = 5; h < 10; h++) Add(frontend, cartV2, day.AddHours(h).AddMinutes(1));
        // A source that knew cart's pods but not their labels, alone in an hour and beside labelled flows: ignored.
        var cartUnlabelled = Pod("cart", "Deployment", "cart-bbb-2");
        Add(frontend, cartUnlabelled, day.AddHours(11));
        Add(frontend, cartUnlabelled, day.AddHours(8).AddMinutes(30));
        Add(frontend, payV1, day.AddHours(12));
        Add(frontend, payV2, day.AddHours(12).AddMinutes(30));
        Add(frontend, dbDeployment, day.AddHours(1));
        Add(frontend, dbStatefulSet, day.AddHours(2));
        Add(frontend, cacheKnown, day.AddHours(1));
        Add(frontend, cacheUnknown, day.AddHours(3));

        var aggregator = new EdgeAggregator();
        foreach (var record in records) aggregator.Add(record, isReply: false);
        var fromFiles = aggregator.ToEdges();

        await SchemaMigrator.MigrateAsync(Db);
        using (var rows = new RowBinaryWriter())
        {
            var writer = new FlowRowWriter(rows);
            long offset = 0;
            foreach (var record in records) writer.Write(record, "test", "flows", 0, offset++, isReply: false);
            await Db.InsertRowBinaryAsync(FlowTables.Flows, FlowRowWriter.Columns, rows);
        }
        await EdgeRollup.RebuildDayAsync(Db, DateOnly.FromDateTime(day));
        var fromClickHouse = await new ClickHouseEdgeSource(Db).ReadEdgesAsync(new AnalysisWindow(day, day.AddDays(1)));

        static string Endpoints(IEnumerable<Edge> edges) => string.Join("\n", edges.Select(e => e.Server).Select(s =>
            $"{s.Key} {s.WorkloadKind} labels={string.Join(",", s.Labels.Select(l => l.Key + "=" + l.Value))} " +
            $"selector={string.Join(",", s.Selector.Select(l => l.Key + "=" + l.Value))} changed={string.Join(",", s.ChangedLabelKeys)}"));
        Assert.Equal(Endpoints(fromFiles), Endpoints(fromClickHouse));
        // shop/cache was stored under two workload kinds ('' and StatefulSet): two rollup groups folded into one edge,
        // whose distinct client replicas can only be added (an upper bound); every other counter is exact.
        static bool Exact(Edge e) => e.Server.Key != "shop/cache";
        Assert.Equal(string.Join("\n", fromFiles.Where(Exact).Select(Describe)), string.Join("\n", fromClickHouse.Where(Exact).Select(Describe)));
        var (cacheFromFiles, cacheFromClickHouse) = (fromFiles.Single(e => !Exact(e)), fromClickHouse.Single(e => !Exact(e)));
        Assert.Equal((cacheFromFiles.Flows, cacheFromFiles.Bytes, cacheFromFiles.LastSeen), (cacheFromClickHouse.Flows, cacheFromClickHouse.Bytes, cacheFromClickHouse.LastSeen));
        Assert.Equal((1, 2), (cacheFromFiles.ClientReplicas, cacheFromClickHouse.ClientReplicas));

        var servers = fromClickHouse.Select(e => e.Server).ToDictionary(s => s.Key);
        Assert.Equal(["shop/cache", "shop/cart", "shop/deployment/db", "shop/pay", "shop/statefulset/db"], servers.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["build", "version"], servers["shop/cart"].ChangedLabelKeys);
        Assert.Equal("app=cart", string.Join(",", servers["shop/cart"].Labels.Select(l => l.Key + "=" + l.Value)));
        // Both tracks inside one hour: the hourly rollup keeps what every flow of the hour carried.
        Assert.Equal(["track"], servers["shop/pay"].ChangedLabelKeys);
        Assert.Null(servers["shop/pay"].Label("track"));
        Assert.Equal("StatefulSet", servers["shop/cache"].WorkloadKind);
        Assert.Equal(2, fromClickHouse.Single(e => e.Server.Key == "shop/cache").Flows);
    }

    [Fact]
    public async Task A_window_not_on_whole_hours_is_refused()
    {
        var source = new ClickHouseEdgeSource(Db);
        var start = new DateTime(2026, 11, 2, 10, 30, 0, DateTimeKind.Utc);
        var error = await Assert.ThrowsAsync<ArgumentException>(() => source.ReadEdgesAsync(new AnalysisWindow(start, start.AddHours(1))));
        Assert.Contains("2026-11-02T10:00:00Z", error.Message);
    }

    private static string Slis(IReadOnlyList<Edge> edges, IIntentEvaluator intent, AnalysisWindow window)
    {
        using var buffer = new MemoryStream();
        SliJson.Write(buffer, SliCalculator.Compute(edges, intent, window));
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Decode, enrich and orient as ingest does, store each record with its resolved direction, one INSERT per day.</summary>
    private async Task<int> IngestAsync(IReadOnlyList<string> flowFiles, IReadOnlyList<string> inventoryFiles)
    {
        var index = InventoryLoader.Load(inventoryFiles).Index;
        var enricher = new FlowEnricher(index);
        var resolver = new DirectionResolver(servedPorts: index);
        var reader = new FlowFileReader();
        var learning = new Sink(record => { enricher.Enrich(ref record); resolver.Observe(record); });
        foreach (var file in flowFiles) reader.Read(file, learning);

        var records = new List<(FlowRecord Record, bool IsReply)>();
        var storing = new Sink(record =>
        {
            enricher.Enrich(ref record);
            var direction = resolver.Resolve(ref record);
            // As ingest stores it: oriented client -> server, the server's half marked is_reply.
            records.Add((record, direction.IsReply));
        });
        foreach (var file in flowFiles) reader.Read(file, storing);

        long offset = 0;
        foreach (var day in records.GroupBy(r => FlowRowWriter.PartitionKey(r.Record)))
        {
            using var rows = new RowBinaryWriter();
            var writer = new FlowRowWriter(rows);
            foreach (var (record, isReply) in day) writer.Write(record, "test", "flows", 0, offset++, isReply: isReply);
            await Db.InsertRowBinaryAsync(FlowTables.Flows, FlowRowWriter.Columns, rows);
        }
        return records.Count;
    }

    private static string Describe(Edge e)
    {
        static string Side(Endpoint p) => $"{p.Key}|{p.Kind}|{p.WorkloadKind}|{string.Join(",", p.Labels.Select(l => l.Key + "=" + l.Value))}" +
            $"|{string.Join(",", p.Selector.Select(l => l.Key + "=" + l.Value))}|{string.Join(",", p.ChangedLabelKeys)}";
        var hours = string.Join(",", e.HourOfWeek.Select((n, h) => (n, h)).Where(x => x.n != 0).Select(x => $"{x.h}:{x.n}"));
        return string.Create(CultureInfo.InvariantCulture,
            $"{Side(e.Client)} -> {Side(e.Server)} :{e.Port}/{e.Protocol} flows={e.Flows} bytes={e.Bytes} packets={e.Packets} " +
            $"allowed={e.AllowedFlows} denied={e.DeniedFlows} unknown={e.UnknownVerdictFlows} first={e.FirstSeen:O} last={e.LastSeen:O} " +
            $"replicas={e.ClientReplicas} days={string.Join(",", e.Days)} hours={hours}");
    }

    private sealed class Sink(Action<FlowRecord> accept) : IFlowSink
    {
        public void Accept(in FlowRecord flow) => accept(flow);
        public void Reject(FlowDecodeError error) { }
        public void Skip(string reason, SourcePosition position) { }
    }

    /// <summary>
    /// A label- and namespace-based intent for the sample: same-namespace traffic, anything to DNS, and clients labelled
    /// app=frontend to anything; one rule that matches nothing. Labels matter, so endpoints must carry the same labels
    /// from both sources for the SLIs to agree.
    /// </summary>
    private sealed class SampleIntent : IIntentEvaluator
    {
        private static readonly IntentRule SameNamespace = new("policies/same-namespace", "ingress[0]", "Test");
        private static readonly IntentRule Dns = new("kube-system/allow-dns", "ingress[0]", "Test");
        private static readonly IntentRule Frontend = new("shop/frontend-egress", "egress[0]", "Test");
        private static readonly IntentRule Never = new("shop/legacy", "ingress[0]", "Test");

        public IReadOnlyList<IntentRule> Rules => [SameNamespace, Dns, Frontend, Never];

        public IntentDecision Evaluate(Endpoint client, Endpoint server, ushort port, byte protocol)
        {
            var matched = new List<IntentRule>();
            if (client.Namespace is not null && client.Namespace == server.Namespace && !client.IsAddress) matched.Add(SameNamespace);
            if (port == 53) matched.Add(Dns);
            if (client.Label("app") == "frontend") matched.Add(Frontend);
            return new IntentDecision(matched.Count > 0, matched, matched.Count > 0 ? "allowed" : $"nothing allows {client} -> {server}:{port}");
        }
    }
}

/// <summary>On the private ClickHouse 18.16 server.</summary>
[Collection(ClickHouseCollection.Name)]
public sealed class EdgeSourceParityTests(ClickHouseServerFixture server) : EdgeSourceParityTests<ClickHouseServerFixture>(server);

/// <summary>On the current engine (chDB in process).</summary>
[Collection(CurrentClickHouseCollection.Name)]
[Trait("server", "current")]
public sealed class EdgeSourceParityTestsOnCurrentServer(ChdbServerFixture server) : EdgeSourceParityTests<ChdbServerFixture>(server);
