-- FlowPolicy ClickHouse schema version 10, replicated, as `flowpolicy migrate --cluster flowpolicy --replicated` creates it on ClickHouse 24.3.
-- Needs ZooKeeper (or ClickHouse Keeper) in every server's <zookeeper> config and the macros <shard> and <replica> in <macros>:
-- replicas of one shard share {shard} and differ in {replica}. Every MergeTree table is ReplicatedMergeTree at
-- /clickhouse/tables/{shard}/<database>/<table>; sharded tables keep their Distributed table (schema.sql explains the layout).
-- Rollup and SLI rebuilds stage in plain MergeTree tables (CREATE TABLE staging AS target ENGINE = MergeTree ...) and swap them in
-- with REPLACE PARTITION on one replica; the other replicas fetch the new parts. Reference copy: the code is the source of truth.

CREATE DATABASE IF NOT EXISTS `flowpolicy` ON CLUSTER `flowpolicy`;

CREATE TABLE IF NOT EXISTS `flowpolicy`.`schema_migrations` ON CLUSTER `flowpolicy`
(
    `version` UInt32,
    `applied_at` DateTime('UTC'),
    `steps` Array(String),
    `server_version` String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/flowpolicy/schema_migrations', '{replica}')
ORDER BY (`version`, `applied_at`);

CREATE TABLE IF NOT EXISTS `flowpolicy`.`flows_local` ON CLUSTER `flowpolicy`
(
    `start` DateTime('UTC'),
    `end` DateTime('UTC'),
    `src_ip` FixedString(16),
    `dst_ip` FixedString(16),
    `src_port` UInt16,
    `dst_port` UInt16,
    `protocol` UInt8,
    `bytes` UInt64,
    `packets` UInt64,
    `verdict` Enum8('unknown' = 0, 'allowed' = 1, 'denied' = 2),
    `direction` Enum8('unknown' = 0, 'request' = 1, 'reply' = 2),
    `tcp_flags` Nullable(UInt16),
    `reporter` LowCardinality(String),
    `policy` LowCardinality(String),
    `src_kind` Enum8('unknown' = 0, 'pod' = 1, 'node' = 2, 'service' = 3, 'external' = 4),
    `src_namespace` LowCardinality(String),
    `src_workload` LowCardinality(String),
    `src_workload_kind` LowCardinality(String),
    `src_pod` String,
    `src_label_keys` Array(String),
    `src_label_values` Array(String),
    `dst_kind` Enum8('unknown' = 0, 'pod' = 1, 'node' = 2, 'service' = 3, 'external' = 4),
    `dst_namespace` LowCardinality(String),
    `dst_workload` LowCardinality(String),
    `dst_workload_kind` LowCardinality(String),
    `dst_pod` String,
    `dst_label_keys` Array(String),
    `dst_label_values` Array(String),
    `format` LowCardinality(String),
    `kafka_topic` LowCardinality(String),
    `kafka_partition` Int32,
    `kafka_offset` UInt64,
    `kafka_index` UInt32,
    `is_reply` UInt8,
    `inserted_at` DateTime('UTC') DEFAULT now()
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/flowpolicy/flows_local', '{replica}')
PARTITION BY toYYYYMMDD(`start`)
ORDER BY (`dst_namespace`, `dst_workload`, `dst_port`, `src_namespace`, `src_workload`, `start`)
SETTINGS non_replicated_deduplication_window = 1000;
ALTER TABLE `flowpolicy`.`flows_local` ON CLUSTER `flowpolicy` MODIFY TTL `inserted_at` + toIntervalDay(30);

CREATE TABLE IF NOT EXISTS `flowpolicy`.`flows` ON CLUSTER `flowpolicy`
(
    `start` DateTime('UTC'),
    `end` DateTime('UTC'),
    `src_ip` FixedString(16),
    `dst_ip` FixedString(16),
    `src_port` UInt16,
    `dst_port` UInt16,
    `protocol` UInt8,
    `bytes` UInt64,
    `packets` UInt64,
    `verdict` Enum8('unknown' = 0, 'allowed' = 1, 'denied' = 2),
    `direction` Enum8('unknown' = 0, 'request' = 1, 'reply' = 2),
    `tcp_flags` Nullable(UInt16),
    `reporter` LowCardinality(String),
    `policy` LowCardinality(String),
    `src_kind` Enum8('unknown' = 0, 'pod' = 1, 'node' = 2, 'service' = 3, 'external' = 4),
    `src_namespace` LowCardinality(String),
    `src_workload` LowCardinality(String),
    `src_workload_kind` LowCardinality(String),
    `src_pod` String,
    `src_label_keys` Array(String),
    `src_label_values` Array(String),
    `dst_kind` Enum8('unknown' = 0, 'pod' = 1, 'node' = 2, 'service' = 3, 'external' = 4),
    `dst_namespace` LowCardinality(String),
    `dst_workload` LowCardinality(String),
    `dst_workload_kind` LowCardinality(String),
    `dst_pod` String,
    `dst_label_keys` Array(String),
    `dst_label_values` Array(String),
    `format` LowCardinality(String),
    `kafka_topic` LowCardinality(String),
    `kafka_partition` Int32,
    `kafka_offset` UInt64,
    `kafka_index` UInt32,
    `is_reply` UInt8,
    `inserted_at` DateTime('UTC') DEFAULT now()
)
ENGINE = Distributed(`flowpolicy`, `flowpolicy`, `flows_local`, `kafka_partition`);

CREATE TABLE IF NOT EXISTS `flowpolicy`.`flows_dead_letter_local` ON CLUSTER `flowpolicy`
(
    `received` DateTime('UTC'),
    `kafka_topic` LowCardinality(String),
    `kafka_partition` Int32,
    `kafka_offset` UInt64,
    `format` LowCardinality(String),
    `error` String,
    `raw` String,
    `kafka_index` UInt32,
    `line` UInt64
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/flowpolicy/flows_dead_letter_local', '{replica}')
PARTITION BY toYYYYMMDD(`received`)
ORDER BY (`kafka_topic`, `kafka_partition`, `kafka_offset`)
SETTINGS non_replicated_deduplication_window = 1000;
ALTER TABLE `flowpolicy`.`flows_dead_letter_local` ON CLUSTER `flowpolicy` MODIFY TTL `received` + toIntervalDay(14);

CREATE TABLE IF NOT EXISTS `flowpolicy`.`flows_dead_letter` ON CLUSTER `flowpolicy`
(
    `received` DateTime('UTC'),
    `kafka_topic` LowCardinality(String),
    `kafka_partition` Int32,
    `kafka_offset` UInt64,
    `format` LowCardinality(String),
    `error` String,
    `raw` String,
    `kafka_index` UInt32,
    `line` UInt64
)
ENGINE = Distributed(`flowpolicy`, `flowpolicy`, `flows_dead_letter_local`, `kafka_partition`);

CREATE TABLE IF NOT EXISTS `flowpolicy`.`flows_l7_local` ON CLUSTER `flowpolicy`
(
    `time` DateTime('UTC'),
    `src_ip` FixedString(16),
    `dst_ip` FixedString(16),
    `src_port` UInt16,
    `dst_port` UInt16,
    `protocol` UInt8,
    `verdict` Enum8('unknown' = 0, 'allowed' = 1, 'denied' = 2),
    `src_kind` Enum8('unknown' = 0, 'pod' = 1, 'node' = 2, 'service' = 3, 'external' = 4),
    `src_namespace` LowCardinality(String),
    `src_workload` LowCardinality(String),
    `src_workload_kind` LowCardinality(String),
    `src_pod` String,
    `src_label_keys` Array(String),
    `src_label_values` Array(String),
    `dst_kind` Enum8('unknown' = 0, 'pod' = 1, 'node' = 2, 'service' = 3, 'external' = 4),
    `dst_namespace` LowCardinality(String),
    `dst_workload` LowCardinality(String),
    `dst_workload_kind` LowCardinality(String),
    `dst_pod` String,
    `dst_label_keys` Array(String),
    `dst_label_values` Array(String),
    `l7_protocol` Enum8('none' = 0, 'http' = 1, 'grpc' = 2, 'dns' = 3, 'kafka' = 4, 'names' = 5),
    `l7_direction` Enum8('unknown' = 0, 'request' = 1, 'response' = 2),
    `operation` LowCardinality(String),
    `resource` String,
    `path` String,
    `version` LowCardinality(String),
    `status` Int32,
    `addresses` Array(FixedString(16)),
    `ttl` UInt32,
    `names` Array(String),
    `kafka_topic` LowCardinality(String),
    `kafka_partition` Int32,
    `kafka_offset` UInt64,
    `kafka_index` UInt32,
    `inserted_at` DateTime('UTC') DEFAULT now()
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/flowpolicy/flows_l7_local', '{replica}')
PARTITION BY toYYYYMMDD(`time`)
ORDER BY (`dst_namespace`, `dst_workload`, `dst_port`, `src_namespace`, `src_workload`, `time`)
SETTINGS non_replicated_deduplication_window = 1000;
ALTER TABLE `flowpolicy`.`flows_l7_local` ON CLUSTER `flowpolicy` MODIFY TTL `inserted_at` + toIntervalDay(30);

CREATE TABLE IF NOT EXISTS `flowpolicy`.`flows_l7` ON CLUSTER `flowpolicy`
(
    `time` DateTime('UTC'),
    `src_ip` FixedString(16),
    `dst_ip` FixedString(16),
    `src_port` UInt16,
    `dst_port` UInt16,
    `protocol` UInt8,
    `verdict` Enum8('unknown' = 0, 'allowed' = 1, 'denied' = 2),
    `src_kind` Enum8('unknown' = 0, 'pod' = 1, 'node' = 2, 'service' = 3, 'external' = 4),
    `src_namespace` LowCardinality(String),
    `src_workload` LowCardinality(String),
    `src_workload_kind` LowCardinality(String),
    `src_pod` String,
    `src_label_keys` Array(String),
    `src_label_values` Array(String),
    `dst_kind` Enum8('unknown' = 0, 'pod' = 1, 'node' = 2, 'service' = 3, 'external' = 4),
    `dst_namespace` LowCardinality(String),
    `dst_workload` LowCardinality(String),
    `dst_workload_kind` LowCardinality(String),
    `dst_pod` String,
    `dst_label_keys` Array(String),
    `dst_label_values` Array(String),
    `l7_protocol` Enum8('none' = 0, 'http' = 1, 'grpc' = 2, 'dns' = 3, 'kafka' = 4, 'names' = 5),
    `l7_direction` Enum8('unknown' = 0, 'request' = 1, 'response' = 2),
    `operation` LowCardinality(String),
    `resource` String,
    `path` String,
    `version` LowCardinality(String),
    `status` Int32,
    `addresses` Array(FixedString(16)),
    `ttl` UInt32,
    `names` Array(String),
    `kafka_topic` LowCardinality(String),
    `kafka_partition` Int32,
    `kafka_offset` UInt64,
    `kafka_index` UInt32,
    `inserted_at` DateTime('UTC') DEFAULT now()
)
ENGINE = Distributed(`flowpolicy`, `flowpolicy`, `flows_l7_local`, `kafka_partition`);

CREATE TABLE IF NOT EXISTS `flowpolicy`.`ingest_progress_local` ON CLUSTER `flowpolicy`
(
    `time` DateTime('UTC'),
    `worker` LowCardinality(String),
    `kafka_topic` LowCardinality(String),
    `kafka_partition` Int32,
    `first_offset` UInt64,
    `last_offset` UInt64,
    `rows` UInt64,
    `bytes` UInt64,
    `lag` Int64,
    `dead_letters` UInt64,
    `insert_latency_ms` UInt32
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/flowpolicy/ingest_progress_local', '{replica}')
PARTITION BY toYYYYMM(`time`)
ORDER BY (`kafka_topic`, `kafka_partition`, `time`);
ALTER TABLE `flowpolicy`.`ingest_progress_local` ON CLUSTER `flowpolicy` MODIFY TTL `time` + toIntervalDay(30);

CREATE TABLE IF NOT EXISTS `flowpolicy`.`ingest_progress` ON CLUSTER `flowpolicy`
(
    `time` DateTime('UTC'),
    `worker` LowCardinality(String),
    `kafka_topic` LowCardinality(String),
    `kafka_partition` Int32,
    `first_offset` UInt64,
    `last_offset` UInt64,
    `rows` UInt64,
    `bytes` UInt64,
    `lag` Int64,
    `dead_letters` UInt64,
    `insert_latency_ms` UInt32
)
ENGINE = Distributed(`flowpolicy`, `flowpolicy`, `ingest_progress_local`, `kafka_partition`);

CREATE TABLE IF NOT EXISTS `flowpolicy`.`edges_1h_local` ON CLUSTER `flowpolicy`
(
    `window_start` DateTime('UTC'),
    `src_kind` Enum8('unknown' = 0, 'pod' = 1, 'node' = 2, 'service' = 3, 'external' = 4),
    `src_namespace` LowCardinality(String),
    `src_workload` LowCardinality(String),
    `src_workload_kind` LowCardinality(String),
    `src_addr` FixedString(16),
    `dst_kind` Enum8('unknown' = 0, 'pod' = 1, 'node' = 2, 'service' = 3, 'external' = 4),
    `dst_namespace` LowCardinality(String),
    `dst_workload` LowCardinality(String),
    `dst_workload_kind` LowCardinality(String),
    `dst_addr` FixedString(16),
    `dst_port` UInt16,
    `protocol` UInt8,
    `flows` UInt64,
    `bytes` UInt64,
    `packets` UInt64,
    `allowed_flows` UInt64,
    `denied_flows` UInt64,
    `first_seen` DateTime('UTC'),
    `last_seen` DateTime('UTC'),
    `client_replicas` AggregateFunction(uniq, String),
    `src_label_keys` Array(String),
    `src_label_values` Array(String),
    `dst_label_keys` Array(String),
    `dst_label_values` Array(String),
    `inserted_at` DateTime('UTC') DEFAULT now(),
    `src_label_changes` Array(String),
    `dst_label_changes` Array(String)
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/flowpolicy/edges_1h_local', '{replica}')
PARTITION BY toYYYYMMDD(`window_start`)
ORDER BY (`dst_namespace`, `dst_workload`, `dst_port`, `protocol`, `src_namespace`, `src_workload`, `src_addr`, `dst_addr`, `window_start`);
ALTER TABLE `flowpolicy`.`edges_1h_local` ON CLUSTER `flowpolicy` MODIFY TTL `inserted_at` + toIntervalDay(90);

CREATE TABLE IF NOT EXISTS `flowpolicy`.`edges_1h` ON CLUSTER `flowpolicy`
(
    `window_start` DateTime('UTC'),
    `src_kind` Enum8('unknown' = 0, 'pod' = 1, 'node' = 2, 'service' = 3, 'external' = 4),
    `src_namespace` LowCardinality(String),
    `src_workload` LowCardinality(String),
    `src_workload_kind` LowCardinality(String),
    `src_addr` FixedString(16),
    `dst_kind` Enum8('unknown' = 0, 'pod' = 1, 'node' = 2, 'service' = 3, 'external' = 4),
    `dst_namespace` LowCardinality(String),
    `dst_workload` LowCardinality(String),
    `dst_workload_kind` LowCardinality(String),
    `dst_addr` FixedString(16),
    `dst_port` UInt16,
    `protocol` UInt8,
    `flows` UInt64,
    `bytes` UInt64,
    `packets` UInt64,
    `allowed_flows` UInt64,
    `denied_flows` UInt64,
    `first_seen` DateTime('UTC'),
    `last_seen` DateTime('UTC'),
    `client_replicas` AggregateFunction(uniq, String),
    `src_label_keys` Array(String),
    `src_label_values` Array(String),
    `dst_label_keys` Array(String),
    `dst_label_values` Array(String),
    `inserted_at` DateTime('UTC') DEFAULT now(),
    `src_label_changes` Array(String),
    `dst_label_changes` Array(String)
)
ENGINE = Distributed(`flowpolicy`, `flowpolicy`, `edges_1h_local`);

CREATE TABLE IF NOT EXISTS `flowpolicy`.`edges_1d_local` ON CLUSTER `flowpolicy`
(
    `window_start` DateTime('UTC'),
    `src_kind` Enum8('unknown' = 0, 'pod' = 1, 'node' = 2, 'service' = 3, 'external' = 4),
    `src_namespace` LowCardinality(String),
    `src_workload` LowCardinality(String),
    `src_workload_kind` LowCardinality(String),
    `src_addr` FixedString(16),
    `dst_kind` Enum8('unknown' = 0, 'pod' = 1, 'node' = 2, 'service' = 3, 'external' = 4),
    `dst_namespace` LowCardinality(String),
    `dst_workload` LowCardinality(String),
    `dst_workload_kind` LowCardinality(String),
    `dst_addr` FixedString(16),
    `dst_port` UInt16,
    `protocol` UInt8,
    `flows` UInt64,
    `bytes` UInt64,
    `packets` UInt64,
    `allowed_flows` UInt64,
    `denied_flows` UInt64,
    `first_seen` DateTime('UTC'),
    `last_seen` DateTime('UTC'),
    `client_replicas` AggregateFunction(uniq, String),
    `src_label_keys` Array(String),
    `src_label_values` Array(String),
    `dst_label_keys` Array(String),
    `dst_label_values` Array(String),
    `inserted_at` DateTime('UTC') DEFAULT now(),
    `src_label_changes` Array(String),
    `dst_label_changes` Array(String)
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/flowpolicy/edges_1d_local', '{replica}')
PARTITION BY toYYYYMMDD(`window_start`)
ORDER BY (`dst_namespace`, `dst_workload`, `dst_port`, `protocol`, `src_namespace`, `src_workload`, `src_addr`, `dst_addr`, `window_start`);

CREATE TABLE IF NOT EXISTS `flowpolicy`.`edges_1d` ON CLUSTER `flowpolicy`
(
    `window_start` DateTime('UTC'),
    `src_kind` Enum8('unknown' = 0, 'pod' = 1, 'node' = 2, 'service' = 3, 'external' = 4),
    `src_namespace` LowCardinality(String),
    `src_workload` LowCardinality(String),
    `src_workload_kind` LowCardinality(String),
    `src_addr` FixedString(16),
    `dst_kind` Enum8('unknown' = 0, 'pod' = 1, 'node' = 2, 'service' = 3, 'external' = 4),
    `dst_namespace` LowCardinality(String),
    `dst_workload` LowCardinality(String),
    `dst_workload_kind` LowCardinality(String),
    `dst_addr` FixedString(16),
    `dst_port` UInt16,
    `protocol` UInt8,
    `flows` UInt64,
    `bytes` UInt64,
    `packets` UInt64,
    `allowed_flows` UInt64,
    `denied_flows` UInt64,
    `first_seen` DateTime('UTC'),
    `last_seen` DateTime('UTC'),
    `client_replicas` AggregateFunction(uniq, String),
    `src_label_keys` Array(String),
    `src_label_values` Array(String),
    `dst_label_keys` Array(String),
    `dst_label_values` Array(String),
    `inserted_at` DateTime('UTC') DEFAULT now(),
    `src_label_changes` Array(String),
    `dst_label_changes` Array(String)
)
ENGINE = Distributed(`flowpolicy`, `flowpolicy`, `edges_1d_local`);

CREATE TABLE IF NOT EXISTS `flowpolicy`.`sli_windows` ON CLUSTER `flowpolicy`
(
    `window_start` DateTime('UTC'),
    `window_end` DateTime('UTC'),
    `service` LowCardinality(String),
    `flows` UInt64,
    `bytes` UInt64,
    `intended_flows` UInt64,
    `intended_bytes` UInt64,
    `compliance_rate` Nullable(Float64),
    `bytes_compliance_rate` Nullable(Float64),
    `denied_flows` UInt64,
    `denied_flows_per_minute` Float64,
    `unintended_edges` UInt32,
    `verdict_mismatches` UInt32,
    `stale_rules` UInt32,
    `blast_radius_intended` Nullable(UInt32),
    `blast_radius_observed` Nullable(UInt32),
    `analyzed_at` DateTime('UTC')
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/flowpolicy/sli_windows', '{replica}')
PARTITION BY toYYYYMMDD(`window_start`)
ORDER BY (`service`, `window_start`, `window_end`);

CREATE TABLE IF NOT EXISTS `flowpolicy`.`sli_drift` ON CLUSTER `flowpolicy`
(
    `window_start` DateTime('UTC'),
    `window_end` DateTime('UTC'),
    `kind` Enum8('unintended_edge' = 1, 'stale_rule' = 2, 'observed_allowed_intent_denies' = 3, 'observed_denied_intent_allows' = 4),
    `src` String,
    `dst` String,
    `dst_port` UInt16,
    `protocol` LowCardinality(String),
    `flows` UInt64,
    `policy` String,
    `rule` String,
    `reason` String,
    `analyzed_at` DateTime('UTC'),
    `remediation` String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/flowpolicy/sli_drift', '{replica}')
PARTITION BY toYYYYMMDD(`window_start`)
ORDER BY (`kind`, `dst`, `src`, `window_start`);

CREATE TABLE IF NOT EXISTS `flowpolicy`.`sli_l7_operations` ON CLUSTER `flowpolicy`
(
    `window_start` DateTime('UTC'),
    `window_end` DateTime('UTC'),
    `server` LowCardinality(String),
    `port` UInt16,
    `l7_protocol` Enum8('none' = 0, 'http' = 1, 'grpc' = 2, 'dns' = 3, 'kafka' = 4, 'names' = 5),
    `operation` LowCardinality(String),
    `resource` String,
    `clients` UInt32,
    `requests` UInt64,
    `errors` UInt64,
    `proxy_denied` UInt64,
    `allowed_by_intent` UInt64,
    `denied_by_intent` UInt64,
    `denied_at_l7` UInt64,
    `undetermined` UInt64,
    `compliance_rate` Nullable(Float64),
    `denied_rate` Nullable(Float64),
    `error_rate` Nullable(Float64),
    `denied_reason` String,
    `first_seen` DateTime('UTC'),
    `last_seen` DateTime('UTC'),
    `analyzed_at` DateTime('UTC')
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/flowpolicy/sli_l7_operations', '{replica}')
PARTITION BY toYYYYMMDD(`window_start`)
ORDER BY (`server`, `port`, `resource`, `window_start`);

CREATE TABLE IF NOT EXISTS `flowpolicy`.`job_runs` ON CLUSTER `flowpolicy`
(
    `job` LowCardinality(String),
    `window_start` DateTime('UTC'),
    `window_end` DateTime('UTC'),
    `status` Enum8('succeeded' = 1, 'failed' = 2, 'skipped' = 3),
    `attempt` UInt16,
    `started` DateTime('UTC'),
    `finished` DateTime('UTC'),
    `trigger` LowCardinality(String),
    `host` LowCardinality(String),
    `error` String,
    `summary` String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/flowpolicy/job_runs', '{replica}')
PARTITION BY toYYYYMM(`window_end`)
ORDER BY (`job`, `window_end`, `finished`);
ALTER TABLE `flowpolicy`.`job_runs` ON CLUSTER `flowpolicy` MODIFY TTL `finished` + toIntervalDay(180);

CREATE TABLE IF NOT EXISTS `flowpolicy`.`flow_anomalies` ON CLUSTER `flowpolicy`
(
    `window_start` DateTime('UTC'),
    `window_end` DateTime('UTC'),
    `kind` Enum8('spike' = 1, 'drop' = 2, 'denied_spike' = 3, 'level_shift' = 4, 'scan' = 5, 'new_heavy_talker' = 6),
    `scope` Enum8('edge' = 1, 'service' = 2, 'source' = 3),
    `subject` String,
    `metric` Enum8('flows' = 1, 'bytes' = 2, 'denied_flows' = 3, 'new_peers' = 4),
    `start` DateTime('UTC'),
    `end` DateTime('UTC'),
    `observed` Float64,
    `expected` Float64,
    `expected_low` Float64,
    `expected_high` Float64,
    `score` Float64,
    `baseline` Enum8('hour_of_week' = 1, 'hour_of_day' = 2, 'all_hours' = 3, 'none' = 4),
    `edges` Array(String),
    `edge_observed` Array(Float64),
    `edge_expected` Array(Float64),
    `explanation` String,
    `service` LowCardinality(String),
    `analyzed_at` DateTime('UTC')
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/flowpolicy/flow_anomalies', '{replica}')
PARTITION BY toYYYYMMDD(`window_start`)
ORDER BY (`kind`, `subject`, `window_start`, `start`);
