using System.Text.Json;
using FlowPolicy.Analytics.Edges;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Core.Edges;

namespace FlowPolicy.Analytics.Anomalies;

/// <summary>
/// Reads each edge of a window hour by hour from the hourly edge rollup (<see cref="FlowTables.EdgesHourly"/>): one row
/// per edge with its hours as sumMap arrays, endpoints resolved as <see cref="ClickHouseEdgeSource"/> resolves them, so
/// the keys are the keys the embedded mode gives for the same flows.
/// </summary>
public sealed class ClickHouseHourlySeries(ClickHouseHttpClient client)
{
    /// <summary>The window's edges; hour 0 is <c>window.From</c>.</summary>
    public async Task<IReadOnlyList<EdgeHourlySeries>> ReadAsync(AnalysisWindow window, CancellationToken cancellationToken = default)
    {
        ClickHouseEdgeSource.ValidateWindow(window);
        var rows = await client.QueryJsonEachRowAsync(Query(client.Database, window), cancellationToken).ConfigureAwait(false);
        var catalog = new EndpointCatalog();
        var read = new List<(int Client, int Server, ushort Port, byte Protocol, SortedDictionary<int, (long Flows, ulong Bytes, long Denied)> Hours)>(rows.Count);
        foreach (var row in rows)
        {
            int clientId = ClickHouseEdgeSource.ObserveEndpoint(catalog, row, "s");
            int serverId = ClickHouseEdgeSource.ObserveEndpoint(catalog, row, "d");
            var hours = new SortedDictionary<int, (long, ulong, long)>();
            Merge(hours, row.GetProperty("fm"), 0);
            Merge(hours, row.GetProperty("bm"), 1);
            Merge(hours, row.GetProperty("dm"), 2);
            read.Add((clientId, serverId, (ushort)ClickHouseEdgeSource.Number(row, "port"), (byte)ClickHouseEdgeSource.Number(row, "proto"), hours));
        }
        var endpoints = catalog.Resolve();
        // Rows that resolve to one edge (an endpoint stored under two kinds) are added up, as the edge source folds them.
        var edges = new Dictionary<(string, string, ushort, byte), (Endpoint Client, Endpoint Server, SortedDictionary<int, (long Flows, ulong Bytes, long Denied)> Hours)>();
        foreach (var (clientId, serverId, port, protocol, hours) in read)
        {
            var key = (endpoints[clientId].Key, endpoints[serverId].Key, port, protocol);
            if (!edges.TryGetValue(key, out var into)) edges[key] = (endpoints[clientId], endpoints[serverId], hours);
            else
                foreach (var (h, c) in hours)
                {
                    into.Hours.TryGetValue(h, out var sum);
                    into.Hours[h] = (sum.Flows + c.Flows, sum.Bytes + c.Bytes, sum.Denied + c.Denied);
                }
        }
        var result = new List<EdgeHourlySeries>(edges.Count);
        foreach (var ((_, _, port, protocol), (clientEndpoint, serverEndpoint, hours)) in edges)
        {
            foreach (var empty in hours.Where(p => p.Value == default).Select(p => p.Key).ToList()) hours.Remove(empty);
            result.Add(new EdgeHourlySeries(clientEndpoint, serverEndpoint, port, protocol, hours.Keys.ToArray(),
                hours.Values.Select(v => v.Flows).ToArray(), hours.Values.Select(v => v.Bytes).ToArray(), hours.Values.Select(v => v.Denied).ToArray()));
        }
        return result;
    }

    private static void Merge(SortedDictionary<int, (long Flows, ulong Bytes, long Denied)> hours, JsonElement map, int counter)
    {
        var keys = map[0];
        var values = map[1];
        for (int i = 0; i < keys.GetArrayLength(); i++)
        {
            int hour = (int)ClickHouseEdgeSource.Number(keys[i]);
            hours.TryGetValue(hour, out var c);
            switch (counter)
            {
                case 0: c.Flows += ClickHouseEdgeSource.Number(values[i]); break;
                case 1: c.Bytes += ClickHouseEdgeSource.Unsigned(values[i]); break;
                default: c.Denied += ClickHouseEdgeSource.Number(values[i]); break;
            }
            hours[hour] = c;
        }
    }

    /// <summary>
    /// One row per edge: the edge key of <see cref="ClickHouseEdgeSource"/> and, per counter, a sumMap of hour index
    /// (hours since the window's start) to the count. 18.16 and current servers alike (sumMap, intDiv, no window functions).
    /// </summary>
    internal static string Query(string database, AnalysisWindow window)
    {
        var from = ClickHouseSql.FormatDateTime(window.From);
        var hour = $"toUInt32(intDiv(toUInt32(`window_start`) - toUInt32({from}), 3600))";
        return $"""
            SELECT
                {ClickHouseEdgeSource.EdgeKeyColumns},
                sumMap([{hour}], [`flows`]) AS `fm`, sumMap([{hour}], [`bytes`]) AS `bm`, sumMap([{hour}], [`denied_flows`]) AS `dm`
            FROM {ClickHouseSql.QuoteIdentifier(database, FlowTables.EdgesHourly)}
            WHERE `window_start` >= {from} AND `window_start` < {ClickHouseSql.FormatDateTime(window.To)}
            GROUP BY {ClickHouseEdgeSource.EdgeKeyGroup}
            """;
    }
}
