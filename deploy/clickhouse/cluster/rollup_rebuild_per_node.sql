-- Rollup rebuild of one UTC day (example: 2026-01-15) on ONE node of a cluster, from its local flows into its local rollups.
-- Run on every node (EdgeRollup.RebuildDayOnNodesAsync). REPLACE PARTITION works only between local MergeTree tables.

-- 1. Hourly edges from the node's flows.
DROP TABLE IF EXISTS `flowpolicy`.`edges_1h_local_rebuild_20260115`;
CREATE TABLE `flowpolicy`.`edges_1h_local_rebuild_20260115` AS `flowpolicy`.`edges_1h_local`;
INSERT INTO `flowpolicy`.`edges_1h_local_rebuild_20260115` (`window_start`, `src_kind`, `src_namespace`, `src_workload`, `src_workload_kind`, `src_addr`, `dst_kind`, `dst_namespace`, `dst_workload`, `dst_workload_kind`, `dst_addr`, `dst_port`, `protocol`, `flows`, `bytes`, `packets`, `allowed_flows`, `denied_flows`, `first_seen`, `last_seen`, `client_replicas`, `src_label_keys`, `src_label_values`, `dst_label_keys`, `dst_label_values`) SELECT toStartOfHour(`start`) AS `window_start`,
    `src_kind`, `src_namespace`, if(`src_workload` != '', `src_workload`, `src_pod`) AS `src_name`, `src_workload_kind`,
    if(`src_workload` = '' AND `src_pod` = '', `src_ip`, toFixedString('', 16)) AS `src_addr`,
    `dst_kind`, `dst_namespace`, if(`dst_workload` != '', `dst_workload`, `dst_pod`) AS `dst_name`, `dst_workload_kind`,
    if(`dst_workload` = '' AND `dst_pod` = '', `dst_ip`, toFixedString('', 16)) AS `dst_addr`,
    `dst_port`, `protocol`,
    countIf(`is_reply` = 0), sum(`bytes`), sum(`packets`),
    countIf(`verdict` = 'allowed' AND `is_reply` = 0), countIf(`verdict` = 'denied' AND `is_reply` = 0),
    min(`start`), max(greatest(`end`, `start`)),
    uniqStateIf(if(`src_pod` != '', `src_pod`, hex(`src_ip`)), `is_reply` = 0),
    argMax(`src_label_keys`, `start`), argMax(`src_label_values`, `start`),
    argMax(`dst_label_keys`, `start`), argMax(`dst_label_values`, `start`)
FROM `flowpolicy`.`flows_local`
WHERE `start` >= toDateTime(1768435200, 'UTC') AND `start` < toDateTime(1768521600, 'UTC')
GROUP BY `window_start`, `src_kind`, `src_namespace`, `src_name`, `src_workload_kind`, `src_addr`, `dst_kind`, `dst_namespace`, `dst_name`, `dst_workload_kind`, `dst_addr`, `dst_port`, `protocol`;
ALTER TABLE `flowpolicy`.`edges_1h_local` REPLACE PARTITION 20260115 FROM `flowpolicy`.`edges_1h_local_rebuild_20260115`;
DROP TABLE IF EXISTS `flowpolicy`.`edges_1h_local_rebuild_20260115`;

-- 2. Daily edges from the node's hourly ones.
DROP TABLE IF EXISTS `flowpolicy`.`edges_1d_local_rebuild_20260115`;
CREATE TABLE `flowpolicy`.`edges_1d_local_rebuild_20260115` AS `flowpolicy`.`edges_1d_local`;
INSERT INTO `flowpolicy`.`edges_1d_local_rebuild_20260115` (`window_start`, `src_kind`, `src_namespace`, `src_workload`, `src_workload_kind`, `src_addr`, `dst_kind`, `dst_namespace`, `dst_workload`, `dst_workload_kind`, `dst_addr`, `dst_port`, `protocol`, `flows`, `bytes`, `packets`, `allowed_flows`, `denied_flows`, `first_seen`, `last_seen`, `client_replicas`, `src_label_keys`, `src_label_values`, `dst_label_keys`, `dst_label_values`) SELECT toStartOfDay(`window_start`) AS `day_start`, `src_kind`, `src_namespace`, `src_workload`, `src_workload_kind`, `src_addr`, `dst_kind`, `dst_namespace`, `dst_workload`, `dst_workload_kind`, `dst_addr`, `dst_port`, `protocol`,
    sum(`flows`), sum(`bytes`), sum(`packets`), sum(`allowed_flows`), sum(`denied_flows`),
    min(`first_seen`), max(`last_seen`), uniqMergeState(`client_replicas`),
    argMax(`src_label_keys`, `last_seen`), argMax(`src_label_values`, `last_seen`),
    argMax(`dst_label_keys`, `last_seen`), argMax(`dst_label_values`, `last_seen`)
FROM `flowpolicy`.`edges_1h_local`
WHERE `window_start` >= toDateTime(1768435200, 'UTC') AND `window_start` < toDateTime(1768521600, 'UTC')
GROUP BY `day_start`, `src_kind`, `src_namespace`, `src_workload`, `src_workload_kind`, `src_addr`, `dst_kind`, `dst_namespace`, `dst_workload`, `dst_workload_kind`, `dst_addr`, `dst_port`, `protocol`;
ALTER TABLE `flowpolicy`.`edges_1d_local` REPLACE PARTITION 20260115 FROM `flowpolicy`.`edges_1d_local_rebuild_20260115`;
DROP TABLE IF EXISTS `flowpolicy`.`edges_1d_local_rebuild_20260115`;
