using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Analytics.Edges;

/// <summary>
/// What <see cref="ClickHouseEdgeSource"/> does, on the Meter <see cref="MeterName"/> (docs/metrics.md): queries by kind
/// and their duration, rollup rows read, rows folded into an earlier edge. Static, as a library's meters are: sources are
/// created per run. An instance keeps its own folded count for the parity tests.
/// </summary>
internal sealed class ClickHouseEdgeSourceMetrics
{
    public const string MeterName = "FlowPolicy.Edges";
    private static readonly Meter Meter = new(MeterName);
    private static readonly Histogram<double> QueryDuration = Meter.CreateHistogram<double>("flowpolicy.edges.query.duration", "s",
        "Duration of the edge source's ClickHouse queries that succeeded, by query (edges: the rollups; counts: the raw rows)",
        advice: Core.Metrics.DurationBuckets.Requests);
    private static readonly Counter<long> QueryFailures = Meter.CreateCounter<long>("flowpolicy.edges.query.failures", "{query}",
        "Edge source queries that failed, by query (the job's attempt fails and is retried)");
    private static readonly Counter<long> RowsReadCounter = Meter.CreateCounter<long>("flowpolicy.edges.rows.read", "{row}", "Hourly rollup rows read");
    private static readonly Counter<long> RowsFoldedCounter = Meter.CreateCounter<long>("flowpolicy.edges.rows.folded", "{row}",
        "Rollup rows that named an edge an earlier row named (one endpoint stored under two kinds) and were folded into it");
    private static readonly KeyValuePair<string, object?> EdgesQuery = new("query", "edges"), CountsQuery = new("query", "counts");

    private readonly Core.Metrics.InstanceCounter _rowsFolded = new(RowsFoldedCounter);

    /// <summary>Rollup rows this source folded into an earlier edge.</summary>
    public long RowsFolded => _rowsFolded.Value;

    internal static void Queried(bool edges, TimeSpan duration) => QueryDuration.Record(duration.TotalSeconds, edges ? EdgesQuery : CountsQuery);
    internal static void Failed(bool edges) => QueryFailures.Add(1, edges ? EdgesQuery : CountsQuery);

    internal void Read(long rows, long folded)
    {
        RowsReadCounter.Add(rows);
        _rowsFolded.Add(folded);
    }
}

/// <summary>
/// Reads the edges of a window from the hourly edge rollup (<see cref="FlowTables.EdgesHourly"/>, rebuilt by
/// <see cref="EdgeRollup"/>) into the same <see cref="Edge"/> objects the in-memory aggregate of the same flows gives:
/// endpoint keys, workload kinds and stable labels, flows/bytes/packets, verdict counts, first/last seen, distinct
/// days, hour-of-week histogram and client replicas (uniq: exact below 65,536 replicas per edge). The window must be
/// whole hours, the rollup's grain; it covers flows whose start lies in [from, to), as the aggregator does.
/// </summary>
public sealed class ClickHouseEdgeSource : IEdgeSource
{
    private readonly ClickHouseHttpClient _client;

    public ClickHouseEdgeSource(ClickHouseHttpClient client) => _client = client ?? throw new ArgumentNullException(nameof(client));

    /// <summary>The edge source's Meter (<see cref="ClickHouseEdgeSourceMetrics"/>), for the /metrics exporters.</summary>
    public const string MeterName = ClickHouseEdgeSourceMetrics.MeterName;

    internal ClickHouseEdgeSourceMetrics Metrics { get; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> unless the window is non-empty and on whole UTC hours.</summary>
    public static void ValidateWindow(AnalysisWindow window)
    {
        if (window.To <= window.From) throw new ArgumentException($"the window is empty: --to {window.To:O} is not after --from {window.From:O}");
        foreach (var (name, time) in new[] { ("--from", window.From), ("--to", window.To) })
            if (time.Ticks % TimeSpan.TicksPerHour != 0)
                throw new ArgumentException($"{name} {time:O} is not on a whole hour; the ClickHouse edge rollups are hourly (e.g. {new DateTime(time.Ticks - time.Ticks % TimeSpan.TicksPerHour, DateTimeKind.Utc):yyyy-MM-ddTHH:00:00Z})");
    }

    public async Task<IReadOnlyList<Edge>> ReadEdgesAsync(AnalysisWindow window, CancellationToken cancellationToken = default)
    {
        ValidateWindow(window);
        var rows = await QueryAsync(Query(_client.Database, window), edges: true, cancellationToken).ConfigureAwait(false);
        // Endpoints first (every row's label sets observed, as the in-memory aggregate observes every identity), then
        // the edges on the resolved endpoints.
        var catalog = new EndpointCatalog();
        var read = new List<(int Client, int Server, Edge Counters)>();
        foreach (var row in rows)
        {
            int client = ObserveEndpoint(catalog, row, "s");
            int server = ObserveEndpoint(catalog, row, "d");
            read.Add((client, server, ReadCounters(row)));
        }
        var endpoints = catalog.Resolve();
        var edges = new Dictionary<(string, string, ushort, byte), Edge>();
        long folded = 0;
        foreach (var (clientId, serverId, counters) in read)
        {
            var client = endpoints[clientId];
            var server = endpoints[serverId];
            var edge = new Edge(client, server, counters.Port, counters.Protocol)
            {
                FirstSeen = counters.FirstSeen, LastSeen = counters.LastSeen, Days = counters.Days,
            };
            Fold(edge, counters);
            var key = (client.Key, server.Key, edge.Port, edge.Protocol);
            if (edges.TryGetValue(key, out var earlier))
            {
                folded++;
                Fold(earlier, edge);
            }
            else edges[key] = edge;
        }
        Metrics.Read(rows.Count, folded);
        var result = edges.Values.ToList();
        result.Sort(EdgeOrder.Compare);
        return result;
    }

    private async Task<IReadOnlyList<JsonElement>> QueryAsync(string sql, bool edges, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        try
        {
            var rows = await _client.QueryJsonEachRowAsync(sql, cancellationToken).ConfigureAwait(false);
            ClickHouseEdgeSourceMetrics.Queried(edges, Stopwatch.GetElapsedTime(started));
            return rows;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            ClickHouseEdgeSourceMetrics.Failed(edges);
            throw;
        }
    }

    /// <summary>
    /// The edge key and endpoint labels of a query over <see cref="FlowTables.EdgesHourly"/> grouped by
    /// <see cref="EdgeKeyGroup"/>, as <see cref="ObserveEndpoint"/> reads them (the hourly anomaly series use it too).
    /// </summary>
    internal const string EdgeKeyColumns = """
        if(`src_workload` = '', '', toString(`src_kind`)) AS `sk`, if(`src_workload` = '', '', `src_namespace`) AS `sns`,
            `src_workload` AS `sname`, hex(`src_addr`) AS `saddr`, if(`src_workload` = '', '', `src_workload_kind`) AS `swk`,
            if(`dst_workload` = '', '', toString(`dst_kind`)) AS `dk`, if(`dst_workload` = '', '', `dst_namespace`) AS `dns`,
            `dst_workload` AS `dname`, hex(`dst_addr`) AS `daddr`, if(`dst_workload` = '', '', `dst_workload_kind`) AS `dwk`,
            `dst_port` AS `port`, `protocol` AS `proto`,
            groupUniqArrayIf((`src_label_keys`, `src_label_values`), notEmpty(`src_label_keys`) OR notEmpty(`src_label_changes`)) AS `sls`,
            groupUniqArrayIf((`dst_label_keys`, `dst_label_values`), notEmpty(`dst_label_keys`) OR notEmpty(`dst_label_changes`)) AS `dls`,
            groupUniqArrayArray(`src_label_changes`) AS `slc`, groupUniqArrayArray(`dst_label_changes`) AS `dlc`
        """;

    internal const string EdgeKeyGroup = "`sk`, `sns`, `sname`, `saddr`, `swk`, `dk`, `dns`, `dname`, `daddr`, `dwk`, `port`, `proto`";

    /// <summary>
    /// The raw rows of the window and how many were replies, for the report to explain its flows by. The raw table may
    /// keep fewer days than the rollups (retention): then records − replies falls short of the edges' flows, which the
    /// report says.
    /// </summary>
    public async Task<EdgeInputCounts> ReadInputCountsAsync(AnalysisWindow window, CancellationToken cancellationToken = default)
    {
        ValidateWindow(window);
        var rows = await QueryAsync(CountsQuery(_client.Database, window), edges: false, cancellationToken).ConfigureAwait(false);
        var row = rows[0];
        return new EdgeInputCounts
        {
            Source = "ClickHouse table " + _client.Database + "." + FlowTables.Flows,
            RecordsRead = Number(row, "n"),
            RepliesFolded = Number(row, "replies"),
        };
    }

    internal static string CountsQuery(string database, AnalysisWindow window) => $"""
        SELECT count() AS `n`, countIf(`is_reply` = 1) AS `replies`
        FROM {ClickHouseSql.QuoteIdentifier(database, FlowTables.Flows)}
        WHERE `start` >= {ClickHouseSql.FormatDateTime(window.From)} AND `start` < {ClickHouseSql.FormatDateTime(window.To)}
        """;

    /// <summary>
    /// One row per edge over the window's hourly rows. Address endpoints are grouped by address alone (their kind
    /// comes from the address, as in memory); named ones by kind, namespace, name and workload kind (a Deployment and a
    /// StatefulSet of one name are two endpoints). Labels: every distinct label set the hourly rows hold (each hourly
    /// row holds the labels all that hour's flows carried, see <see cref="EdgeRollup"/>), as (keys, values) tuples, and
    /// the keys that changed inside an hour; <see cref="EndpointCatalog"/> intersects the sets. Rows without labels and
    /// without changes knew no labels and are left out (an empty set with changes is a known, empty intersection). No alias shadows a column (18.16 would substitute it into other
    /// expressions).
    /// </summary>
    internal static string Query(string database, AnalysisWindow window) => $"""
        SELECT
            {EdgeKeyColumns},
            sum(`flows`) AS `f`, sum(`bytes`) AS `b`, sum(`packets`) AS `p`, sum(`allowed_flows`) AS `a`, sum(`denied_flows`) AS `d`,
            toUInt32(min(`first_seen`)) AS `fs`, toUInt32(max(`last_seen`)) AS `ls`, uniqMerge(`client_replicas`) AS `r`,
            groupUniqArrayIf(toDate(`window_start`), `flows` > 0) AS `days`,
            sumMap([toUInt16((toDayOfWeek(`window_start`) - 1) * 24 + toHour(`window_start`))], [`flows`]) AS `how`
        FROM {ClickHouseSql.QuoteIdentifier(database, FlowTables.EdgesHourly)}
        WHERE `window_start` >= {ClickHouseSql.FormatDateTime(window.From)} AND `window_start` < {ClickHouseSql.FormatDateTime(window.To)}
        GROUP BY {EdgeKeyGroup}
        ORDER BY `sname`, `saddr`, `dname`, `daddr`, `proto`, `port`, `sk`, `dk`, `sns`, `dns`, `swk`, `dwk`
        """;

    /// <summary>The counters of one row, on a placeholder edge (its endpoints are resolved later).</summary>
    private static Edge ReadCounters(JsonElement row)
    {
        var edge = new Edge(Placeholder, Placeholder, (ushort)Number(row, "port"), (byte)Number(row, "proto"))
        {
            Flows = Number(row, "f"),
            Bytes = Unsigned(row.GetProperty("b")),
            Packets = Unsigned(row.GetProperty("p")),
            AllowedFlows = Number(row, "a"),
            DeniedFlows = Number(row, "d"),
            FirstSeen = DateTime.UnixEpoch.AddSeconds(Number(row, "fs")),
            LastSeen = DateTime.UnixEpoch.AddSeconds(Number(row, "ls")),
            ClientReplicas = (int)Number(row, "r"),
            Days = ReadDays(row.GetProperty("days")),
        };
        edge.UnknownVerdictFlows = edge.Flows - edge.AllowedFlows - edge.DeniedFlows;
        var histogram = row.GetProperty("how");
        var hours = histogram[0];
        var counts = histogram[1];
        for (int i = 0; i < hours.GetArrayLength(); i++)
            edge.HourOfWeek.Add((int)Number(hours[i]), Number(counts[i]));
        return edge;
    }

    private static readonly Endpoint Placeholder = Endpoint.FromAddress(PackedIp.None);

    /// <summary>Adds one side of a row to the catalog, once per label set the row holds, and returns its id.</summary>
    internal static int ObserveEndpoint(EndpointCatalog catalog, JsonElement row, string side)
    {
        string name = row.GetProperty(side + "name").GetString() ?? "";
        if (name.Length == 0)
            return catalog.Add(Endpoint.FromAddress(PackedIp.FromBytes(Convert.FromHexString(row.GetProperty(side + "addr").GetString() ?? ""))));
        var kind = Enum.TryParse<EndpointKind>(row.GetProperty(side + "k").GetString(), ignoreCase: true, out var parsed) ? parsed : EndpointKind.Unknown;
        string? ns = row.GetProperty(side + "ns").GetString();
        string? workloadKind = row.GetProperty(side + "wk").GetString();
        // Keys that changed inside a rollup row (both releases within one hour): the row's labels already lack them.
        var changed = new List<string>();
        foreach (var key in row.GetProperty(side + "lc").EnumerateArray())
            if (key.GetString() is { } text && !StableLabels.IsPerInstance(text)) changed.Add(text);
        int id = -1;
        foreach (var set in row.GetProperty(side + "ls").EnumerateArray())
        {
            var keys = set[0];
            var values = set[1];
            var labels = new List<KeyValuePair<string, string>>(keys.GetArrayLength());
            for (int i = 0; i < keys.GetArrayLength() && i < values.GetArrayLength(); i++)
                labels.Add(new(keys[i].GetString() ?? "", values[i].GetString() ?? ""));
            id = catalog.Add(Endpoint.FromIdentity(new WorkloadIdentity(kind, ns, name, workloadKind, name: null, labels), changed));
        }
        return id >= 0 ? id : catalog.Add(Endpoint.FromIdentity(new WorkloadIdentity(kind, ns, name, workloadKind), changed));
    }

    private static List<DateOnly> ReadDays(JsonElement days)
    {
        var result = new List<DateOnly>(days.GetArrayLength());
        foreach (var day in days.EnumerateArray())
            result.Add(DateOnly.ParseExact(day.GetString()!, "yyyy-MM-dd", CultureInfo.InvariantCulture));
        result.Sort();
        return result;
    }

    /// <summary>
    /// Two rollup groups that are one edge (an endpoint stored under two endpoint kinds, or a workload stored with and
    /// without its workload kind). Counters add up exactly; client
    /// replicas can only be added, an upper bound.
    /// </summary>
    private static void Fold(Edge into, Edge other)
    {
        into.Flows += other.Flows;
        into.Bytes += other.Bytes;
        into.Packets += other.Packets;
        into.AllowedFlows += other.AllowedFlows;
        into.DeniedFlows += other.DeniedFlows;
        into.UnknownVerdictFlows += other.UnknownVerdictFlows;
        if (other.FirstSeen < into.FirstSeen) into.FirstSeen = other.FirstSeen;
        if (other.LastSeen > into.LastSeen) into.LastSeen = other.LastSeen;
        into.ClientReplicas += other.ClientReplicas;
        if (!ReferenceEquals(into.Days, other.Days)) into.Days = into.Days.Union(other.Days).Order().ToList();
        into.HourOfWeek.Add(other.HourOfWeek);
    }

    internal static ulong Unsigned(JsonElement value) => value.ValueKind == JsonValueKind.String
        ? ulong.Parse(value.GetString()!, CultureInfo.InvariantCulture)
        : value.GetUInt64();

    internal static long Number(JsonElement row, string name) => Number(row.GetProperty(name));

    // 64-bit integers arrive quoted (output_format_json_quote_64bit_integers), smaller ones as numbers.
    internal static long Number(JsonElement value) => value.ValueKind == JsonValueKind.String
        ? long.Parse(value.GetString()!, CultureInfo.InvariantCulture)
        : value.GetInt64();
}
