using System.Globalization;
using System.Text.Json;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Core.ClickHouse;
using FlowPolicy.Core.ClickHouse.Schema;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Analytics.Edges;

public sealed class ClickHouseEdgeSourceMetrics
{
    public long Queries;
    public long RowsRead;
    /// <summary>Rollup rows that named the same edge as an earlier row (one endpoint stored under two kinds) and were folded in.</summary>
    public long RowsFolded;
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

    public ClickHouseEdgeSourceMetrics Metrics { get; } = new();

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
        Metrics.Queries++;
        var rows = await _client.QueryJsonEachRowAsync(Query(_client.Database, window), cancellationToken).ConfigureAwait(false);
        var endpoints = new Dictionary<string, Endpoint>(StringComparer.Ordinal);
        var edges = new Dictionary<(string, string, ushort, byte), Edge>();
        foreach (var row in rows)
        {
            Metrics.RowsRead++;
            var client = Intern(endpoints, ReadEndpoint(row, "s"));
            var server = Intern(endpoints, ReadEndpoint(row, "d"));
            ushort port = (ushort)Number(row, "port");
            byte protocol = (byte)Number(row, "proto");
            var edge = new Edge(client, server, port, protocol)
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

            var key = (client.Key, server.Key, port, protocol);
            if (edges.TryGetValue(key, out var earlier))
            {
                Metrics.RowsFolded++;
                Fold(earlier, edge);
            }
            else edges[key] = edge;
        }
        var result = edges.Values.ToList();
        result.Sort(EdgeOrder.Compare);
        return result;
    }

    /// <summary>
    /// One row per edge over the window's hourly rows. Address endpoints are grouped by address alone (their kind
    /// comes from the address, as in memory); named ones by kind, namespace and name. Workload kind and labels are
    /// the newest. No alias shadows a column (18.16 would substitute it into other expressions).
    /// </summary>
    internal static string Query(string database, AnalysisWindow window) => $"""
        SELECT
            if(`src_workload` = '', '', toString(`src_kind`)) AS `sk`, if(`src_workload` = '', '', `src_namespace`) AS `sns`,
            `src_workload` AS `sname`, hex(`src_addr`) AS `saddr`,
            if(`dst_workload` = '', '', toString(`dst_kind`)) AS `dk`, if(`dst_workload` = '', '', `dst_namespace`) AS `dns`,
            `dst_workload` AS `dname`, hex(`dst_addr`) AS `daddr`,
            `dst_port` AS `port`, `protocol` AS `proto`,
            argMax(`src_workload_kind`, `last_seen`) AS `swk`, argMax(`src_label_keys`, `last_seen`) AS `slk`, argMax(`src_label_values`, `last_seen`) AS `slv`,
            argMax(`dst_workload_kind`, `last_seen`) AS `dwk`, argMax(`dst_label_keys`, `last_seen`) AS `dlk`, argMax(`dst_label_values`, `last_seen`) AS `dlv`,
            sum(`flows`) AS `f`, sum(`bytes`) AS `b`, sum(`packets`) AS `p`, sum(`allowed_flows`) AS `a`, sum(`denied_flows`) AS `d`,
            toUInt32(min(`first_seen`)) AS `fs`, toUInt32(max(`last_seen`)) AS `ls`, uniqMerge(`client_replicas`) AS `r`,
            groupUniqArrayIf(toDate(`window_start`), `flows` > 0) AS `days`,
            sumMap([toUInt16((toDayOfWeek(`window_start`) - 1) * 24 + toHour(`window_start`))], [`flows`]) AS `how`
        FROM {ClickHouseSql.QuoteIdentifier(database, FlowTables.EdgesHourly)}
        WHERE `window_start` >= {ClickHouseSql.FormatDateTime(window.From)} AND `window_start` < {ClickHouseSql.FormatDateTime(window.To)}
        GROUP BY `sk`, `sns`, `sname`, `saddr`, `dk`, `dns`, `dname`, `daddr`, `port`, `proto`
        ORDER BY `sname`, `saddr`, `dname`, `daddr`, `proto`, `port`, `sk`, `dk`, `sns`, `dns`
        """;

    private static Endpoint ReadEndpoint(JsonElement row, string side)
    {
        string name = row.GetProperty(side + "name").GetString() ?? "";
        if (name.Length == 0)
            return Endpoint.FromAddress(PackedIp.FromBytes(Convert.FromHexString(row.GetProperty(side + "addr").GetString() ?? "")));
        var kind = Enum.TryParse<EndpointKind>(row.GetProperty(side + "k").GetString(), ignoreCase: true, out var parsed) ? parsed : EndpointKind.Unknown;
        var keys = row.GetProperty(side + "lk");
        var values = row.GetProperty(side + "lv");
        var labels = new List<KeyValuePair<string, string>>(keys.GetArrayLength());
        for (int i = 0; i < keys.GetArrayLength() && i < values.GetArrayLength(); i++)
            labels.Add(new(keys[i].GetString() ?? "", values[i].GetString() ?? ""));
        var identity = new WorkloadIdentity(kind, row.GetProperty(side + "ns").GetString(), name,
            row.GetProperty(side + "wk").GetString(), name: null, labels);
        return Endpoint.FromIdentity(identity);
    }

    /// <summary>The first endpoint read for a key is used by every edge, as in the in-memory aggregate.</summary>
    private static Endpoint Intern(Dictionary<string, Endpoint> endpoints, Endpoint endpoint)
    {
        if (endpoints.TryGetValue(endpoint.Key, out var existing)) return existing;
        endpoints[endpoint.Key] = endpoint;
        return endpoint;
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
    /// Two rollup groups that are one edge (an endpoint stored under two kinds). Counters add up exactly; client
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
        into.Days = into.Days.Union(other.Days).Order().ToList();
        into.HourOfWeek.Add(other.HourOfWeek);
    }

    private static ulong Unsigned(JsonElement value) => value.ValueKind == JsonValueKind.String
        ? ulong.Parse(value.GetString()!, CultureInfo.InvariantCulture)
        : value.GetUInt64();

    private static long Number(JsonElement row, string name) => Number(row.GetProperty(name));

    // 64-bit integers arrive quoted (output_format_json_quote_64bit_integers), smaller ones as numbers.
    private static long Number(JsonElement value) => value.ValueKind == JsonValueKind.String
        ? long.Parse(value.GetString()!, CultureInfo.InvariantCulture)
        : value.GetInt64();
}
