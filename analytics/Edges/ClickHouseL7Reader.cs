using System.Globalization;
using System.Text.Json;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Analytics.Edges;

/// <summary>
/// The L7 facts of a window's edges from <see cref="FlowTables.L7"/> (docs/l7.md "Server mode"), the same facts the
/// embedded aggregate gives for the same records: operations summed per (edge, protocol, operation, resource template)
/// by the server, the names Hubble attached to flows, and the names of external peers joined from stored DNS answers to
/// the stored flows that followed them. The join runs here, at read time, over every Kafka partition's rows: a DNS
/// answer and the connection after it are usually in different partitions (Hubble keys records by node or not at all),
/// so a join inside one ingest worker would miss them, and would forget its answers when the worker restarts.
/// </summary>
internal static class ClickHouseL7Reader
{
    /// <summary>
    /// How far before the window DNS answers are read: an answer names connections for max(TTL, 1 h) after it, so this
    /// covers TTLs up to a day (longer ones name connections only within a day of the answer on this path).
    /// </summary>
    internal static readonly TimeSpan AnswerLookback = TimeSpan.FromDays(1);

    /// <summary>One stored fact with the catalog ids of its (client, server) endpoints.</summary>
    internal readonly record struct Fact(int Client, int Server, ushort Port, byte Protocol, Action<EdgeL7Accumulator> Apply);

    /// <summary>Reads the window's L7 facts, observing their endpoints in <paramref name="catalog"/> (not yet resolved).</summary>
    public static async Task<List<Fact>> ReadAsync(ClickHouseHttpClient client, EndpointCatalog catalog, AnalysisWindow window,
        CancellationToken cancellationToken)
    {
        var facts = new List<Fact>();
        foreach (var row in await ClickHouseEdgeSourceMetrics.QueryAsync(client, OperationsQuery(client.Database, window), EdgeSourceQuery.L7, cancellationToken).ConfigureAwait(false))
        {
            var protocol = Enum.Parse<L7Protocol>(row.GetProperty("lp").GetString()!, ignoreCase: true);
            string operation = row.GetProperty("op").GetString() ?? "", resource = row.GetProperty("res").GetString() ?? "";
            long requests = Number(row, "rq"), responses = Number(row, "rs"), denied = Number(row, "dn"), errors = Number(row, "er");
            var first = Time(row, "fs");
            var last = Time(row, "ls");
            var days = row.GetProperty("days").EnumerateArray().Select(d => DateOnly.ParseExact(d.GetString()!, "yyyy-MM-dd", CultureInfo.InvariantCulture)).ToList();
            var classes = new long[6];
            for (int c = 1; c <= 5; c++) classes[c] = Number(row, "c" + c.ToString(CultureInfo.InvariantCulture));
            var paths = row.GetProperty("paths").EnumerateArray().Select(p => p.GetString() ?? "").Order(StringComparer.Ordinal).ToList();
            facts.Add(Observe(catalog, row, acc => acc.AddSummary(protocol, operation, resource, requests, responses, denied, errors, first, last, days, classes, paths)));
        }
        foreach (var row in await ClickHouseEdgeSourceMetrics.QueryAsync(client, NamesQuery(client.Database, window), EdgeSourceQuery.L7, cancellationToken).ConfigureAwait(false))
        {
            string name = row.GetProperty("name").GetString() ?? "";
            long flows = Number(row, "n");
            var first = Time(row, "fs");
            var last = Time(row, "ls");
            facts.Add(Observe(catalog, row, acc => acc.AddName(name, flows, first, last)));
        }
        await ReadAnswerNamesAsync(client, catalog, window, facts, cancellationToken).ConfigureAwait(false);
        return facts;
    }

    /// <summary>
    /// Names of external peers from DNS answers: the answers of the window (and <see cref="AnswerLookback"/> before it)
    /// in time order into a <see cref="DnsAnswerIndex"/>, as the embedded mode's first pass builds it; then the window's
    /// flows (not replies) to the answered public addresses without a workload, counted per second, named by the index.
    /// </summary>
    private static async Task ReadAnswerNamesAsync(ClickHouseHttpClient client, EndpointCatalog catalog, AnalysisWindow window,
        List<Fact> facts, CancellationToken cancellationToken)
    {
        var answers = new DnsAnswerIndex();
        foreach (var row in await ClickHouseEdgeSourceMetrics.QueryAsync(client, AnswersQuery(client.Database, window), EdgeSourceQuery.L7, cancellationToken).ConfigureAwait(false))
        {
            var addresses = row.GetProperty("addrs").EnumerateArray().Select(a => Address(a.GetString())).ToList();
            answers.Add(row.GetProperty("cns").GetString(), row.GetProperty("cw").GetString(), Address(row.GetProperty("cip").GetString()),
                row.GetProperty("name").GetString() ?? "", addresses, Time(row, "at"), (uint)Number(row, "ttl"));
        }
        if (answers.IsEmpty) return;
        foreach (var row in await ClickHouseEdgeSourceMetrics.QueryAsync(client, AnsweredFlowsQuery(client.Database, window), EdgeSourceQuery.L7, cancellationToken).ConfigureAwait(false))
        {
            var destination = Address(row.GetProperty("dip").GetString());
            if (destination.IsPrivate) continue;
            var at = Time(row, "t");
            var names = answers.NamesFor(row.GetProperty("cns").GetString(), row.GetProperty("cw").GetString(), Address(row.GetProperty("cip").GetString()), destination, at);
            if (names.Count == 0) continue;
            long flows = Number(row, "n");
            var named = names.ToArray();
            facts.Add(Observe(catalog, row, acc =>
            {
                foreach (var name in named) acc.AddName(name, flows, at, at);
            }));
        }
    }

    private static Fact Observe(EndpointCatalog catalog, JsonElement row, Action<EdgeL7Accumulator> apply) =>
        new(ClickHouseEdgeSource.ObserveEndpoint(catalog, row, "s"), ClickHouseEdgeSource.ObserveEndpoint(catalog, row, "d"),
            (ushort)Number(row, "port"), (byte)Number(row, "proto"), apply);

    /// <summary>
    /// Attaches the facts to the edges: by (client, server, port, transport), or, for a record without transport, to the
    /// one edge between its endpoints (none or several: not attributed), as the in-memory aggregate does.
    /// </summary>
    public static void Attach(List<Fact> facts, IReadOnlyList<Endpoint> endpoints, Dictionary<(string, string, ushort, byte), Edge> edges)
    {
        if (facts.Count == 0) return;
        Dictionary<(string, string), List<Edge>>? byPair = null;
        var accumulators = new Dictionary<Edge, EdgeL7Accumulator>(ReferenceEqualityComparer.Instance);
        foreach (var fact in facts)
        {
            string client = endpoints[fact.Client].Key, server = endpoints[fact.Server].Key;
            Edge? edge;
            if (fact.Protocol == 0)
            {
                if (byPair is null)
                {
                    byPair = new();
                    foreach (var ((c, s, _, _), e) in edges)
                    {
                        if (!byPair.TryGetValue((c, s), out var list)) byPair[(c, s)] = list = [];
                        list.Add(e);
                    }
                }
                edge = byPair.TryGetValue((client, server), out var candidates) && candidates.Count == 1 ? candidates[0] : null;
            }
            else edges.TryGetValue((client, server, fact.Port, fact.Protocol), out edge);
            if (edge is null) continue;
            if (!accumulators.TryGetValue(edge, out var acc)) accumulators[edge] = acc = new EdgeL7Accumulator();
            fact.Apply(acc);
        }
        foreach (var (edge, acc) in accumulators)
            if (!acc.IsEmpty) edge.L7 = acc.ToFacts();
    }

    /// <summary>
    /// The edge key of a raw row (flows or flows_l7: the same endpoint columns) as <see cref="ClickHouseEdgeSource.EdgeKeyColumns"/>
    /// reads it from the rollups, which <see cref="EdgeRollup"/> keys from the raw rows this way (name: the workload, else
    /// the pod; address only for sides with neither). No labels: L7 rows add none to the endpoints.
    /// </summary>
    private static string RawKeyColumns(string side, string alias) => $"""
        if(`{side}_workload` != '', `{side}_workload`, `{side}_pod`) AS `{alias}name`,
            if(`{side}_workload` = '' AND `{side}_pod` = '', '', toString(`{side}_kind`)) AS `{alias}k`,
            if(`{side}_workload` = '' AND `{side}_pod` = '', '', `{side}_namespace`) AS `{alias}ns`,
            hex(if(`{side}_workload` = '' AND `{side}_pod` = '', `{side}_ip`, toFixedString('', 16))) AS `{alias}addr`,
            if(`{side}_workload` = '' AND `{side}_pod` = '', '', `{side}_workload_kind`) AS `{alias}wk`
        """;

    private const string RawKeyGroup = "`sname`, `sk`, `sns`, `saddr`, `swk`, `dname`, `dk`, `dns`, `daddr`, `dwk`, `port`, `proto`";

    private static string Keys => $"{RawKeyColumns("src", "s")}, {RawKeyColumns("dst", "d")}, `dst_port` AS `port`, `protocol` AS `proto`";

    /// <summary>Label sets, none: appended after GROUP BY so JSON rows carry what <see cref="ClickHouseEdgeSource.ObserveEndpoint"/> reads.</summary>
    private const string NoLabelSets = "emptyArrayString() AS `sls`, emptyArrayString() AS `dls`, emptyArrayString() AS `slc`, emptyArrayString() AS `dlc`";

    private static string Window(string column, AnalysisWindow window) =>
        $"`{column}` >= {ClickHouseSql.FormatDateTime(window.From)} AND `{column}` < {ClickHouseSql.FormatDateTime(window.To)}";

    private const string Response = "`l7_direction` = 'response'";
    private const string HttpLike = "(`l7_protocol` = 'http' OR `l7_protocol` = 'grpc')";

    /// <summary>
    /// One row per edge and operation, counted as <c>EdgeL7Accumulator.Add</c> counts records: requests (records that
    /// are not responses) and the denied among them; responses, the failed among them (HTTP/gRPC 5xx; DNS rcode and Kafka
    /// error code other than 0) and per HTTP status class; distinct days; the concrete paths behind a template.
    /// </summary>
    internal static string OperationsQuery(string database, AnalysisWindow window)
    {
        var classes = string.Join(", ", Enumerable.Range(1, 5).Select(c =>
            $"countIf({Response} AND {HttpLike} AND `status` >= 100 AND `status` < 600 AND intDiv(`status`, 100) = {c}) AS `c{c}`"));
        return $"""
            SELECT {Keys}, toString(`l7_protocol`) AS `lp`, `operation` AS `op`, `resource` AS `res`,
                countIf(NOT {Response}) AS `rq`, countIf({Response}) AS `rs`,
                countIf(NOT {Response} AND `verdict` = 'denied') AS `dn`,
                countIf({Response} AND `status` >= 0 AND if({HttpLike}, `status` >= 500, `status` != 0)) AS `er`,
                toUInt32(min(`time`)) AS `fs`, toUInt32(max(`time`)) AS `ls`, groupUniqArray(toDate(`time`)) AS `days`,
                {classes}, groupUniqArrayIf(`path`, `path` != '') AS `paths`, {NoLabelSets}
            FROM {ClickHouseSql.QuoteIdentifier(database, FlowTables.L7)}
            WHERE {Window("time", window)} AND `l7_protocol` != 'names' AND `l7_protocol` != 'none'
            GROUP BY {RawKeyGroup}, `lp`, `op`, `res`
            """;
    }

    /// <summary>The names Hubble attached to flows (<c>destination_names</c>/<c>source_names</c>): one row per edge and name.</summary>
    internal static string NamesQuery(string database, AnalysisWindow window) => $"""
        SELECT {Keys}, arrayJoin(`names`) AS `name`, count() AS `n`, toUInt32(min(`time`)) AS `fs`, toUInt32(max(`time`)) AS `ls`, {NoLabelSets}
        FROM {ClickHouseSql.QuoteIdentifier(database, FlowTables.L7)}
        WHERE {Window("time", window)} AND `l7_protocol` = 'names'
        GROUP BY {RawKeyGroup}, `name`
        """;

    /// <summary>Successful DNS answers with addresses (stored flipped: the client that asked is the source), from before the window to its end.</summary>
    private static string AnswerFilter(AnalysisWindow window) =>
        $"`l7_protocol` = 'dns' AND {Response} AND `status` = 0 AND notEmpty(`addresses`) " +
        $"AND `time` >= {ClickHouseSql.FormatDateTime(window.From - AnswerLookback)} AND `time` <= {ClickHouseSql.FormatDateTime(window.To)}";

    /// <summary>
    /// The client as <see cref="DnsAnswerIndex"/> keys it: a pod by namespace and workload (else pod name), anything else by
    /// address (<c>cw</c> empty).
    /// </summary>
    private const string ClientColumns =
        "`src_namespace` AS `cns`, if(`src_kind` = 'pod', if(`src_workload` != '', `src_workload`, `src_pod`), '') AS `cw`, hex(`src_ip`) AS `cip`";

    internal static string AnswersQuery(string database, AnalysisWindow window) => $"""
        SELECT {ClientColumns}, `resource` AS `name`, arrayMap(a -> hex(a), `addresses`) AS `addrs`, toUInt32(`time`) AS `at`, `ttl`
        FROM {ClickHouseSql.QuoteIdentifier(database, FlowTables.L7)}
        WHERE {AnswerFilter(window)}
        ORDER BY `time`, `kafka_partition`, `kafka_offset`, `kafka_index`
        """;

    /// <summary>
    /// The window's flows (not replies) to answered addresses of no workload, counted per edge, client, address and second.
    /// GLOBAL IN: on a cluster both tables are Distributed, and a plain IN over them is refused (distributed_product_mode).
    /// </summary>
    internal static string AnsweredFlowsQuery(string database, AnalysisWindow window) => $"""
        SELECT {Keys}, {ClientColumns}, hex(`dst_ip`) AS `dip`, toUInt32(`start`) AS `t`, count() AS `n`, {NoLabelSets}
        FROM {ClickHouseSql.QuoteIdentifier(database, FlowTables.Flows)}
        WHERE {Window("start", window)} AND `is_reply` = 0
            AND (`dst_kind` = 'external' OR (`dst_kind` = 'unknown' AND `dst_workload` = '' AND `dst_pod` = ''))
            AND `dst_ip` GLOBAL IN (SELECT arrayJoin(`addresses`) FROM {ClickHouseSql.QuoteIdentifier(database, FlowTables.L7)} WHERE {AnswerFilter(window)})
        GROUP BY {RawKeyGroup}, `cns`, `cw`, `cip`, `dip`, `t`
        """;

    private static PackedIp Address(string? hex) => PackedIp.FromBytes(Convert.FromHexString(hex ?? ""));

    private static DateTime Time(JsonElement row, string name) => DateTime.UnixEpoch.AddSeconds(Number(row, name));

    private static long Number(JsonElement row, string name) => ClickHouseEdgeSource.Number(row, name);
}
