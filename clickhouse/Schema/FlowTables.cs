namespace FlowPolicy.ClickHouse.Schema;

/// <summary>A column as the schema wants it; the type may depend on the server version (LowCardinality).</summary>
public sealed record ColumnDefinition(string Name, string Type);

/// <summary>A MergeTree table: columns in order, then everything after the column list (engine, keys).</summary>
public sealed record TableDefinition(string Name, IReadOnlyList<ColumnDefinition> Columns, string EngineClause)
{
    /// <summary>CREATE TABLE IF NOT EXISTS `db`.`name` [ON CLUSTER `c`] (...) ENGINE = ...</summary>
    public string CreateSql(string database, string? onCluster = null)
    {
        var columns = string.Join(",\n    ", Columns.Select(c => ClickHouseSql.QuoteIdentifier(c.Name) + " " + c.Type));
        return $"CREATE TABLE IF NOT EXISTS {ClickHouseSql.QuoteIdentifier(database, Name)}{ClusterSchema.OnCluster(onCluster)}\n(\n    {columns}\n)\n{EngineClause}";
    }
}

/// <summary>
/// Every FlowPolicy table, in one place, in DDL that runs on ClickHouse 18.16 and 24.x (see docs/clickhouse.md).
/// Time columns are DateTime('UTC') so partitions and toStartOfHour windows are UTC whatever the server's zone.
/// </summary>
public static class FlowTables
{
    public const string Migrations = "schema_migrations";
    public const string Flows = "flows";
    public const string DeadLetters = "flows_dead_letter";
    public const string L7 = "flows_l7";
    public const string IngestProgress = "ingest_progress";
    public const string EdgesHourly = "edges_1h";
    public const string EdgesDaily = "edges_1d";
    public const string SliWindows = "sli_windows";
    public const string SliDrift = "sli_drift";
    public const string SliL7Operations = "sli_l7_operations";
    public const string JobRuns = "job_runs";
    public const string Anomalies = "flow_anomalies";
    public const string AnomalyKindEnum = "Enum8('spike' = 1, 'drop' = 2, 'denied_spike' = 3, 'level_shift' = 4, 'scan' = 5, 'new_heavy_talker' = 6)";
    public const string AnomalyScopeEnum = "Enum8('edge' = 1, 'service' = 2, 'source' = 3)";
    public const string AnomalyMetricEnum = "Enum8('flows' = 1, 'bytes' = 2, 'denied_flows' = 3, 'new_peers' = 4)";
    public const string AnomalyBaselineEnum = "Enum8('hour_of_week' = 1, 'hour_of_day' = 2, 'all_hours' = 3, 'none' = 4)";
    public const string JobStatusEnum = "Enum8('succeeded' = 1, 'failed' = 2, 'skipped' = 3)";
    public const string DriftKindEnum = "Enum8('unintended_edge' = 1, 'stale_rule' = 2, 'observed_allowed_intent_denies' = 3, 'observed_denied_intent_allows' = 4)";

    public const string VerdictEnum = "Enum8('unknown' = 0, 'allowed' = 1, 'denied' = 2)";
    public const string DirectionEnum = "Enum8('unknown' = 0, 'request' = 1, 'reply' = 2)";
    public const string L7ProtocolEnum = "Enum8('none' = 0, 'http' = 1, 'grpc' = 2, 'dns' = 3, 'kafka' = 4, 'names' = 5)";
    public const string L7DirectionEnum = "Enum8('unknown' = 0, 'request' = 1, 'response' = 2)";
    public const string EndpointKindEnum = "Enum8('unknown' = 0, 'pod' = 1, 'node' = 2, 'service' = 3, 'external' = 4)";
    private const string Time = "DateTime('UTC')";

    /// <summary>
    /// Schema v4: when the row was stored (the server's clock at insert; writers leave it out). Retention counts from
    /// it, not from the flow's own time: a backfill of flows older than the retention is kept for the retention after it
    /// was stored, where a TTL on <c>start</c> deleted it right after the insert (docs/clickhouse.md "Retention").
    /// </summary>
    public const string StoredAt = "inserted_at";

    /// <summary>
    /// How many recent inserts a plain MergeTree remembers to drop a repeat (same insert_deduplication_token, or the same
    /// data): an ingest batch resent after a crash is not stored twice. Ingest tables only, where the server has it (20.12+).
    /// </summary>
    public const int DeduplicationWindow = 1000;
    public const string DeduplicationSetting = "non_replicated_deduplication_window";

    private static string Deduplicated(ClickHouseServerVersion version, string engine) =>
        version.SupportsNonReplicatedDeduplication ? $"{engine}\nSETTINGS {DeduplicationSetting} = {DeduplicationWindow}" : engine;
    private static readonly ColumnDefinition StoredAtColumn = new(StoredAt, Time + " DEFAULT now()");

    /// <summary>LowCardinality(String) where the server supports it as a normal type, else String (same RowBinary bytes).</summary>
    public static string RepeatedString(ClickHouseServerVersion version) =>
        version.SupportsLowCardinality ? "LowCardinality(String)" : "String";

    /// <summary>
    /// The raw flows table. Column order is the order <c>FlowRowWriter</c> writes. One row per flow record as
    /// ingest stored it (replies already flipped to client -> server where the direction was decided), with the
    /// Kafka position it came from so a restarted worker can seek past what is stored.
    /// </summary>
    public static TableDefinition FlowsTable(ClickHouseServerVersion version)
    {
        var lc = RepeatedString(version);
        return new TableDefinition(Flows,
        [
            new("start", Time),
            new("end", Time),
            new("src_ip", "FixedString(16)"),
            new("dst_ip", "FixedString(16)"),
            new("src_port", "UInt16"),
            new("dst_port", "UInt16"),
            new("protocol", "UInt8"),
            new("bytes", "UInt64"),
            new("packets", "UInt64"),
            new("verdict", VerdictEnum),
            new("direction", DirectionEnum),
            new("tcp_flags", "Nullable(UInt16)"),
            new("reporter", lc),
            new("policy", lc),
            .. EndpointColumns("src", lc),
            .. EndpointColumns("dst", lc),
            new("format", lc),
            new("kafka_topic", lc),
            new("kafka_partition", "Int32"),
            new("kafka_offset", "UInt64"),
            // Schema v2: the record's place inside its Kafka message (a message may hold many flows), so a worker
            // resumes at the exact record when a message's rows were split across two inserts (two UTC days).
            new("kafka_index", "UInt32"),
            // Schema v2: 1 when the row is the server's half of a connection (already flipped to client -> server):
            // it adds bytes and packets to its edge but is not a flow of its own (as EdgeAggregator counts).
            new("is_reply", "UInt8"),
            StoredAtColumn,
        ],
        // Per-service questions ("who talks to ns/workload:port") read a narrow key range (FlowRowWriter.CopySortedToAsync
        // sends ingest batches in this order: change both together); one partition per UTC day
        // keeps inserts of a batch inside one part and lets retention drop whole days.
        Deduplicated(version, "ENGINE = MergeTree\nPARTITION BY toYYYYMMDD(`start`)\nORDER BY (`dst_namespace`, `dst_workload`, `dst_port`, `src_namespace`, `src_workload`, `start`)"));
    }

    private static IEnumerable<ColumnDefinition> EndpointColumns(string side, string lc) =>
    [
        new(side + "_kind", EndpointKindEnum),
        new(side + "_namespace", lc),
        new(side + "_workload", lc),
        new(side + "_workload_kind", lc),
        new(side + "_pod", "String"),
        new(side + "_label_keys", "Array(String)"),
        new(side + "_label_values", "Array(String)"),
    ];

    /// <summary>
    /// Schema 8: L7 observations (Hubble HTTP/gRPC/DNS/Kafka records, and the DNS names Hubble attached to a flow), one
    /// row each, stored oriented client -> server (a response flipped; a names row has the named address as its server)
    /// with the Kafka position they came from, exactly once as flows are (docs/l7.md, docs/ingest.md). Per protocol:
    /// <c>operation</c> the HTTP method, Kafka api key or DNS query types; <c>resource</c> the HTTP path template
    /// (PathTemplate), gRPC method path, Kafka topic or DNS name; <c>path</c> the concrete HTTP path; <c>status</c> the
    /// HTTP code, DNS rcode or Kafka error code (-1: none); <c>addresses</c>/<c>ttl</c> a DNS answer; <c>names</c> the
    /// server address's DNS names. <c>protocol</c> is the transport (0: the record had no l4). Its own
    /// <c>kafka_index</c> sequence inside a message (not shared with flows rows).
    /// </summary>
    public static TableDefinition L7Table(ClickHouseServerVersion version)
    {
        var lc = RepeatedString(version);
        return new TableDefinition(L7,
        [
            new("time", Time),
            new("src_ip", "FixedString(16)"),
            new("dst_ip", "FixedString(16)"),
            new("src_port", "UInt16"),
            new("dst_port", "UInt16"),
            new("protocol", "UInt8"),
            new("verdict", VerdictEnum),
            .. EndpointColumns("src", lc),
            .. EndpointColumns("dst", lc),
            new("l7_protocol", L7ProtocolEnum),
            new("l7_direction", L7DirectionEnum),
            new("operation", lc),
            new("resource", "String"),
            new("path", "String"),
            new("version", lc),
            new("status", "Int32"),
            new("addresses", "Array(FixedString(16))"),
            new("ttl", "UInt32"),
            new("names", "Array(String)"),
            new("kafka_topic", lc),
            new("kafka_partition", "Int32"),
            new("kafka_offset", "UInt64"),
            new("kafka_index", "UInt32"),
            StoredAtColumn,
        ],
        Deduplicated(version, "ENGINE = MergeTree\nPARTITION BY toYYYYMMDD(`time`)\nORDER BY (`dst_namespace`, `dst_workload`, `dst_port`, `src_namespace`, `src_workload`, `time`)"));
    }

    /// <summary>Records that could not be decoded, kept with their Kafka position so their offsets count as consumed.</summary>
    public static TableDefinition DeadLetterTable(ClickHouseServerVersion version)
    {
        var lc = RepeatedString(version);
        return new TableDefinition(DeadLetters,
        [
            new("received", Time),
            new("kafka_topic", lc),
            new("kafka_partition", "Int32"),
            new("kafka_offset", "UInt64"),
            new("format", lc),
            new("error", "String"),
            new("raw", "String"),
            // Schema v2: the record's index inside its message (shared with flows rows of that message) and its line.
            new("kafka_index", "UInt32"),
            new("line", "UInt64"),
        ],
        Deduplicated(version, "ENGINE = MergeTree\nPARTITION BY toYYYYMMDD(`received`)\nORDER BY (`kafka_topic`, `kafka_partition`, `kafka_offset`)"));
    }

    /// <summary>One row per committed batch per worker and partition: throughput, lag and insert latency over time.</summary>
    public static TableDefinition IngestProgressTable(ClickHouseServerVersion version)
    {
        var lc = RepeatedString(version);
        return new TableDefinition(IngestProgress,
        [
            new("time", Time),
            new("worker", lc),
            new("kafka_topic", lc),
            new("kafka_partition", "Int32"),
            new("first_offset", "UInt64"),
            new("last_offset", "UInt64"),
            new("rows", "UInt64"),
            new("bytes", "UInt64"),
            new("lag", "Int64"),
            new("dead_letters", "UInt64"),
            new("insert_latency_ms", "UInt32"),
        ],
        "ENGINE = MergeTree\nPARTITION BY toYYYYMM(`time`)\nORDER BY (`kafka_topic`, `kafka_partition`, `time`)");
    }

    /// <summary>
    /// Edge rollups, one row per edge per window (hour or day), written whole by <see cref="EdgeRollup"/> for closed
    /// windows; plain MergeTree because rows are final (no background summing to reason about). Across windows,
    /// read with sum(), min(), max() and uniqMerge(client_replicas). Partitioned by UTC day: the unit the
    /// rebuild replaces atomically.
    /// </summary>
    public static TableDefinition EdgesTable(string name, ClickHouseServerVersion version)
    {
        var lc = RepeatedString(version);
        return new TableDefinition(name,
        [
            new("window_start", Time),
            .. EdgeEndpointColumns("src", lc),
            .. EdgeEndpointColumns("dst", lc),
            new("dst_port", "UInt16"),
            new("protocol", "UInt8"),
            new("flows", "UInt64"),
            new("bytes", "UInt64"),
            new("packets", "UInt64"),
            new("allowed_flows", "UInt64"),
            new("denied_flows", "UInt64"),
            new("first_seen", Time),
            new("last_seen", Time),
            new("client_replicas", "AggregateFunction(uniq, String)"),
            // Schema 2: the labels of each side, so intent evaluation (label selectors) and suggested selectors see the
            // same endpoints from ClickHouse as from files: since schema 5 the labels every flow of the row carried (the
            // intersection; before, the newest flow's). Per-instance labels are dropped when read.
            new("src_label_keys", "Array(String)"),
            new("src_label_values", "Array(String)"),
            new("dst_label_keys", "Array(String)"),
            new("dst_label_values", "Array(String)"),
            StoredAtColumn,
            // Schema 5: label keys whose value differed between the flows of the row (a rollout inside the window):
            // the label columns above then hold only what every flow carried. Per-instance keys are dropped when read.
            new("src_label_changes", "Array(String)"),
            new("dst_label_changes", "Array(String)"),
        ],
        "ENGINE = MergeTree\nPARTITION BY toYYYYMMDD(`window_start`)\nORDER BY (`dst_namespace`, `dst_workload`, `dst_port`, `protocol`, `src_namespace`, `src_workload`, `src_addr`, `dst_addr`, `window_start`)");
    }

    private static IEnumerable<ColumnDefinition> EdgeEndpointColumns(string side, string lc) =>
    [
        new(side + "_kind", EndpointKindEnum),
        new(side + "_namespace", lc),
        new(side + "_workload", lc),
        new(side + "_workload_kind", lc),
        // The address only for endpoints without a workload (external, unknown private); zero bytes otherwise,
        // so replicas of one workload collapse into one edge.
        new(side + "_addr", "FixedString(16)"),
    ];

    /// <summary>
    /// SLIs per analysed window: one row per window and destination service, plus the overall row (service = '').
    /// Grafana plots a column over <c>window_start</c> filtered by service. A rerun of a window replaces its rows:
    /// the analyze job rebuilds the window's day partition in a staging table and swaps it in with REPLACE PARTITION
    /// (the same atomic step the edge rollups use; 18.16 and newer). Rates are NULL when there was nothing to divide.
    /// </summary>
    public static TableDefinition SliWindowsTable(ClickHouseServerVersion version)
    {
        var lc = RepeatedString(version);
        return new TableDefinition(SliWindows,
        [
            new("window_start", Time),
            new("window_end", Time),
            new("service", lc),
            new("flows", "UInt64"),
            new("bytes", "UInt64"),
            new("intended_flows", "UInt64"),
            new("intended_bytes", "UInt64"),
            new("compliance_rate", "Nullable(Float64)"),
            new("bytes_compliance_rate", "Nullable(Float64)"),
            new("denied_flows", "UInt64"),
            new("denied_flows_per_minute", "Float64"),
            new("unintended_edges", "UInt32"),
            new("verdict_mismatches", "UInt32"),
            new("stale_rules", "UInt32"),
            new("blast_radius_intended", "Nullable(UInt32)"),
            new("blast_radius_observed", "Nullable(UInt32)"),
            new("analyzed_at", Time),
        ],
        "ENGINE = MergeTree\nPARTITION BY toYYYYMMDD(`window_start`)\nORDER BY (`service`, `window_start`, `window_end`)");
    }

    /// <summary>Drift events per analysed window: unintended edges, stale rules and verdict mismatches, one row each.</summary>
    public static TableDefinition SliDriftTable(ClickHouseServerVersion version)
    {
        var lc = RepeatedString(version);
        return new TableDefinition(SliDrift,
        [
            new("window_start", Time),
            new("window_end", Time),
            new("kind", DriftKindEnum),
            new("src", "String"),
            new("dst", "String"),
            new("dst_port", "UInt16"),
            new("protocol", lc),
            new("flows", "UInt64"),
            new("policy", "String"),
            new("rule", "String"),
            new("reason", "String"),
            new("analyzed_at", Time),
            // Schema 9: the suggested change to the intended policy files (a note, then a unified diff); '' when none was computed.
            new("remediation", "String"),
        ],
        "ENGINE = MergeTree\nPARTITION BY toYYYYMMDD(`window_start`)\nORDER BY (`kind`, `dst`, `src`, `window_start`)");
    }

    /// <summary>
    /// Schema 10: the SLIs per L7 operation of each analysed window (analytics' <c>L7OperationSli</c>, slis.json's
    /// <c>l7_operations</c>): one row per (window, server, port, L7 protocol, operation, resource) over every client. The
    /// transport is not part of the key, as it is not in the SLIs: HTTP, gRPC and Kafka run on TCP, and a DNS query is
    /// one operation over UDP and TCP alike. A rerun of a window replaces its rows, as for <see cref="SliWindows"/>.
    /// Rates are NULL without requests; <c>denied_reason</c> is '' when the L7 rules denied nothing.
    /// </summary>
    public static TableDefinition SliL7OperationsTable(ClickHouseServerVersion version)
    {
        var lc = RepeatedString(version);
        return new TableDefinition(SliL7Operations,
        [
            new("window_start", Time),
            new("window_end", Time),
            new("server", lc),
            new("port", "UInt16"),
            new("l7_protocol", L7ProtocolEnum),
            new("operation", lc),
            new("resource", "String"),
            new("clients", "UInt32"),
            new("requests", "UInt64"),
            new("errors", "UInt64"),
            new("proxy_denied", "UInt64"),
            new("allowed_by_intent", "UInt64"),
            new("denied_by_intent", "UInt64"),
            new("denied_at_l7", "UInt64"),
            new("undetermined", "UInt64"),
            new("compliance_rate", "Nullable(Float64)"),
            new("denied_rate", "Nullable(Float64)"),
            new("error_rate", "Nullable(Float64)"),
            new("denied_reason", "String"),
            new("first_seen", Time),
            new("last_seen", Time),
            new("analyzed_at", Time),
        ],
        "ENGINE = MergeTree\nPARTITION BY toYYYYMMDD(`window_start`)\nORDER BY (`server`, `port`, `resource`, `window_start`)");
    }

    /// <summary>
    /// Schema 3: one row per finished attempt of a scheduled job (flowpolicy serve, flowpolicy jobs run). A window is
    /// done when a 'succeeded' row exists for (job, window_end); the scheduler's catch-up reads these rows, so a
    /// crash mid-run leaves no row and the window runs again. Second resolution (DateTime) is enough: the finest
    /// schedule fires once a second.
    /// </summary>
    public static TableDefinition JobRunsTable(ClickHouseServerVersion version)
    {
        var lc = RepeatedString(version);
        return new TableDefinition(JobRuns,
        [
            new("job", lc),
            new("window_start", Time),
            new("window_end", Time),
            new("status", JobStatusEnum),
            new("attempt", "UInt16"),
            new("started", Time),
            new("finished", Time),
            new("trigger", lc),
            new("host", lc),
            new("error", "String"),
            new("summary", "String"),
        ],
        "ENGINE = MergeTree\nPARTITION BY toYYYYMM(`window_end`)\nORDER BY (`job`, `window_end`, `finished`)");
    }

    /// <summary>
    /// Schema 7: anomalies found per evaluated window (the anomalies job, docs/anomalies.md), one row each, with the
    /// evidence: observed and expected per hour, the normal range, the robust score, the history it was judged on and the
    /// edges behind it (parallel arrays). A rerun of a window replaces its rows, as for the SLI tables.
    /// </summary>
    public static TableDefinition AnomaliesTable(ClickHouseServerVersion version)
    {
        var lc = RepeatedString(version);
        return new TableDefinition(Anomalies,
        [
            new("window_start", Time),
            new("window_end", Time),
            new("kind", AnomalyKindEnum),
            new("scope", AnomalyScopeEnum),
            new("subject", "String"),
            new("metric", AnomalyMetricEnum),
            new("start", Time),
            new("end", Time),
            new("observed", "Float64"),
            new("expected", "Float64"),
            new("expected_low", "Float64"),
            new("expected_high", "Float64"),
            new("score", "Float64"),
            new("baseline", AnomalyBaselineEnum),
            new("edges", "Array(String)"),
            new("edge_observed", "Array(Float64)"),
            new("edge_expected", "Array(Float64)"),
            new("explanation", "String"),
            new("service", lc),
            new("analyzed_at", Time),
        ],
        "ENGINE = MergeTree\nPARTITION BY toYYYYMMDD(`window_start`)\nORDER BY (`kind`, `subject`, `window_start`, `start`)");
    }

    /// <summary>Applied migration runs: the schema version reached and the steps applied.</summary>
    public static TableDefinition MigrationsTable() => new(Migrations,
    [
        new("version", "UInt32"),
        new("applied_at", Time),
        new("steps", "Array(String)"),
        new("server_version", "String"),
    ],
    "ENGINE = MergeTree\nORDER BY (`version`, `applied_at`)");
}
