using System.Globalization;

namespace FlowPolicy.Core.ClickHouse.Schema;

/// <summary>
/// Where ingest resumes: the highest Kafka offset stored per partition of a topic, across flows and dead letters
/// (an undecodable record is consumed too). Workers seek to this + 1 on partition assignment; Kafka's committed
/// offset is only a hint.
/// </summary>
public static class StoredOffsets
{
    public static async Task<IReadOnlyDictionary<int, long>> ReadHighestAsync(ClickHouseHttpClient client, string topic,
        CancellationToken cancellationToken = default)
    {
        var topicLiteral = ClickHouseSql.QuoteString(topic);
        var sql = $"""
            SELECT kafka_partition, max(kafka_offset) FROM (
                SELECT `kafka_partition`, max(`kafka_offset`) AS kafka_offset FROM {ClickHouseSql.QuoteIdentifier(client.Database, FlowTables.Flows)}
                WHERE `kafka_topic` = {topicLiteral} GROUP BY `kafka_partition`
                UNION ALL
                SELECT `kafka_partition`, max(`kafka_offset`) AS kafka_offset FROM {ClickHouseSql.QuoteIdentifier(client.Database, FlowTables.DeadLetters)}
                WHERE `kafka_topic` = {topicLiteral} GROUP BY `kafka_partition`
            ) GROUP BY kafka_partition
            """;
        var result = new Dictionary<int, long>();
        foreach (var row in await client.QueryTsvAsync(sql, cancellationToken).ConfigureAwait(false))
            result[int.Parse(row[0], CultureInfo.InvariantCulture)] = long.Parse(row[1], CultureInfo.InvariantCulture);
        return result;
    }
}
