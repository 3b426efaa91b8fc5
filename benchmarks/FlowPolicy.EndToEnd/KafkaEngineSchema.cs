using System.Globalization;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.Schema;

namespace FlowPolicy.EndToEnd;

/// <summary>
/// What a ClickHouse user would write instead of FlowPolicy ingest: a Kafka engine table reading the canonical JSON
/// lines (JSONEachRow), and a materialized view converting them into a MergeTree table with the columns the JSON
/// carries, typed as in FlowPolicy's flows table. No enrichment, no direction (replies stay replies): the Kafka
/// engine path does strictly less work. Syntax as ClickHouse 18.16 accepts it (SETTINGS form of the Kafka engine,
/// parseDateTimeBestEffort for RFC 3339 with fractions, IPv4 text mapped into FixedString(16) like PackedIp).
/// </summary>
internal static class KafkaEngineSchema
{
    public const string Target = "flows";
    private const string Queue = "flows_queue";
    private const string View = "flows_mv";

    public static IEnumerable<string> Create(string database, string brokers, string topic, string group, int consumers, bool withQueue)
    {
        string Q(string name) => ClickHouseSql.QuoteIdentifier(database, name);
        if (!withQueue)
        {
            yield return $"""
                CREATE TABLE {Q(Target)} (
                  `start` DateTime('UTC'), `end` DateTime('UTC'), src_ip FixedString(16), dst_ip FixedString(16),
                  src_port UInt16, dst_port UInt16, protocol UInt8, bytes UInt64, packets UInt64,
                  verdict {FlowTables.VerdictEnum}, direction {FlowTables.DirectionEnum}, tcp_flags Nullable(UInt16),
                  reporter String, policy String)
                ENGINE = MergeTree PARTITION BY toYYYYMMDD(`start`) ORDER BY (dst_ip, dst_port, src_ip, `start`)
                """;
            yield break;
        }
        yield return $"""
            CREATE TABLE {Q(Queue)} (
              `start` String, `end` String, src_ip String, src_port UInt16, dst_ip String, dst_port UInt16, proto String,
              bytes UInt64, packets UInt64, verdict String, direction String, tcp_flags Nullable(UInt16), reporter String, policy String)
            ENGINE = Kafka SETTINGS kafka_broker_list = {ClickHouseSql.QuoteString(brokers)}, kafka_topic_list = {ClickHouseSql.QuoteString(topic)},
              kafka_group_name = {ClickHouseSql.QuoteString(group)}, kafka_format = 'JSONEachRow', kafka_row_delimiter = '\n',
              kafka_num_consumers = {consumers.ToString(CultureInfo.InvariantCulture)}
            """;
        yield return $"""
            CREATE MATERIALIZED VIEW {Q(View)} TO {Q(Target)} AS SELECT
              parseDateTimeBestEffort(`start`) AS `start`, parseDateTimeBestEffort(`end`) AS `end`,
              if(position(src_ip, ':') > 0, IPv6StringToNum(src_ip), IPv4ToIPv6(IPv4StringToNum(src_ip))) AS src_ip,
              if(position(dst_ip, ':') > 0, IPv6StringToNum(dst_ip), IPv4ToIPv6(IPv4StringToNum(dst_ip))) AS dst_ip,
              src_port, dst_port, toUInt8(transform(proto, ['tcp', 'udp', 'icmp'], [6, 17, 1], toUInt8OrZero(proto))) AS protocol,
              bytes, packets, CAST(verdict AS {FlowTables.VerdictEnum}) AS verdict, CAST(direction AS {FlowTables.DirectionEnum}) AS direction,
              tcp_flags, reporter, policy
            FROM {Q(Queue)}
            """;
    }

    /// <summary>The view first (it holds the consumers' stream), then the Kafka table: consumers stop, the group is left.</summary>
    public static IEnumerable<string> Drop(string database)
    {
        yield return $"DROP TABLE IF EXISTS {ClickHouseSql.QuoteIdentifier(database, View)}";
        yield return $"DROP TABLE IF EXISTS {ClickHouseSql.QuoteIdentifier(database, Queue)}";
    }
}
