-- Rollup rebuild of one UTC day (example: 2026-01-15) on ONE node of a cluster, from its local flows into its local rollups.
-- Run on every node (EdgeRollup.RebuildDayOnNodesAsync). REPLACE PARTITION works only between local MergeTree tables.

-- 1. Hourly edges from the node's flows.
DROP TABLE IF EXISTS `flowpolicy`.`edges_1h_local_rebuild_20260115`;
CREATE TABLE `flowpolicy`.`edges_1h_local_rebuild_20260115` AS `flowpolicy`.`edges_1h_local`;
INSERT INTO `flowpolicy`.`edges_1h_local_rebuild_20260115` (`window_start`, `src_kind`, `src_namespace`, `src_workload`, `src_workload_kind`, `src_addr`, `dst_kind`, `dst_namespace`, `dst_workload`, `dst_workload_kind`, `dst_addr`, `dst_port`, `protocol`, `flows`, `bytes`, `packets`, `allowed_flows`, `denied_flows`, `first_seen`, `last_seen`, `client_replicas`, `src_label_keys`, `src_label_values`, `dst_label_keys`, `dst_label_values`, `src_label_changes`, `dst_label_changes`) SELECT `ws`, `src_kind`, `src_namespace`, `src_name`, `src_workload_kind`, `src_addr`, `dst_kind`, `dst_namespace`, `dst_name`, `dst_workload_kind`, `dst_addr`, `dst_port`, `protocol`, `f`, `b`, `p`, `a`, `dn`, `fs`, `ls`, `r`,
    arrayMap(x -> x.1, arrayFilter((x, s) -> arrayAll(y -> has(y, x), s), `snewest`, replicate(`ssets`, `snewest`))), arrayMap(x -> x.2, arrayFilter((x, s) -> arrayAll(y -> has(y, x), s), `snewest`, replicate(`ssets`, `snewest`))), arrayMap(x -> x.1, arrayFilter((x, s) -> arrayAll(y -> has(y, x), s), `dnewest`, replicate(`dsets`, `dnewest`))), arrayMap(x -> x.2, arrayFilter((x, s) -> arrayAll(y -> has(y, x), s), `dnewest`, replicate(`dsets`, `dnewest`))), arrayReduce('groupUniqArray', arrayConcat(`sprior`, arrayMap(x -> x.1, arrayFilter((x, k) -> NOT has(k, x), arrayReduce('groupUniqArrayArray', `ssets`), replicate(arrayFilter((x, s) -> arrayAll(y -> has(y, x), s), `snewest`, replicate(`ssets`, `snewest`)), arrayReduce('groupUniqArrayArray', `ssets`)))))), arrayReduce('groupUniqArray', arrayConcat(`dprior`, arrayMap(x -> x.1, arrayFilter((x, k) -> NOT has(k, x), arrayReduce('groupUniqArrayArray', `dsets`), replicate(arrayFilter((x, s) -> arrayAll(y -> has(y, x), s), `dnewest`, replicate(`dsets`, `dnewest`)), arrayReduce('groupUniqArrayArray', `dsets`))))))
FROM (
    SELECT toStartOfHour(`start`) AS `ws`,
        `src_kind`, `src_namespace`, if(`src_workload` != '', `src_workload`, `src_pod`) AS `src_name`, `src_workload_kind`,
        if(`src_workload` = '' AND `src_pod` = '', `src_ip`, toFixedString('', 16)) AS `src_addr`,
        `dst_kind`, `dst_namespace`, if(`dst_workload` != '', `dst_workload`, `dst_pod`) AS `dst_name`, `dst_workload_kind`,
        if(`dst_workload` = '' AND `dst_pod` = '', `dst_ip`, toFixedString('', 16)) AS `dst_addr`,
        `dst_port`, `protocol`,
        countIf(`is_reply` = 0) AS `f`, sum(`bytes`) AS `b`, sum(`packets`) AS `p`,
        countIf(`verdict` = 'allowed' AND `is_reply` = 0) AS `a`, countIf(`verdict` = 'denied' AND `is_reply` = 0) AS `dn`,
        min(`start`) AS `fs`, max(greatest(`end`, `start`)) AS `ls`,
        uniqStateIf(if(`src_pod` != '', `src_pod`, hex(`src_ip`)), `is_reply` = 0) AS `r`,
        groupUniqArrayIf(arrayMap((k, v) -> (k, v), `src_label_keys`, `src_label_values`), notEmpty(`src_label_keys`)) AS `ssets`, argMaxIf(arrayMap((k, v) -> (k, v), `src_label_keys`, `src_label_values`), `start`, notEmpty(`src_label_keys`)) AS `snewest`, groupUniqArrayIf(arrayMap((k, v) -> (k, v), `dst_label_keys`, `dst_label_values`), notEmpty(`dst_label_keys`)) AS `dsets`, argMaxIf(arrayMap((k, v) -> (k, v), `dst_label_keys`, `dst_label_values`), `start`, notEmpty(`dst_label_keys`)) AS `dnewest`,
        emptyArrayString() AS `sprior`, emptyArrayString() AS `dprior`
    FROM `flowpolicy`.`flows_local`
    WHERE `start` >= toDateTime(1768435200, 'UTC') AND `start` < toDateTime(1768521600, 'UTC')
    GROUP BY `ws`, `src_kind`, `src_namespace`, `src_name`, `src_workload_kind`, `src_addr`, `dst_kind`, `dst_namespace`, `dst_name`, `dst_workload_kind`, `dst_addr`, `dst_port`, `protocol`
);
ALTER TABLE `flowpolicy`.`edges_1h_local` REPLACE PARTITION 20260115 FROM `flowpolicy`.`edges_1h_local_rebuild_20260115`;
DROP TABLE IF EXISTS `flowpolicy`.`edges_1h_local_rebuild_20260115`;

-- 2. Daily edges from the node's hourly ones.
DROP TABLE IF EXISTS `flowpolicy`.`edges_1d_local_rebuild_20260115`;
CREATE TABLE `flowpolicy`.`edges_1d_local_rebuild_20260115` AS `flowpolicy`.`edges_1d_local`;
INSERT INTO `flowpolicy`.`edges_1d_local_rebuild_20260115` (`window_start`, `src_kind`, `src_namespace`, `src_workload`, `src_workload_kind`, `src_addr`, `dst_kind`, `dst_namespace`, `dst_workload`, `dst_workload_kind`, `dst_addr`, `dst_port`, `protocol`, `flows`, `bytes`, `packets`, `allowed_flows`, `denied_flows`, `first_seen`, `last_seen`, `client_replicas`, `src_label_keys`, `src_label_values`, `dst_label_keys`, `dst_label_values`, `src_label_changes`, `dst_label_changes`) SELECT `ds`, `src_kind`, `src_namespace`, `src_workload`, `src_workload_kind`, `src_addr`, `dst_kind`, `dst_namespace`, `dst_workload`, `dst_workload_kind`, `dst_addr`, `dst_port`, `protocol`, `f`, `b`, `p`, `a`, `dn`, `fs`, `ls`, `r`,
    arrayMap(x -> x.1, arrayFilter((x, s) -> arrayAll(y -> has(y, x), s), `snewest`, replicate(`ssets`, `snewest`))), arrayMap(x -> x.2, arrayFilter((x, s) -> arrayAll(y -> has(y, x), s), `snewest`, replicate(`ssets`, `snewest`))), arrayMap(x -> x.1, arrayFilter((x, s) -> arrayAll(y -> has(y, x), s), `dnewest`, replicate(`dsets`, `dnewest`))), arrayMap(x -> x.2, arrayFilter((x, s) -> arrayAll(y -> has(y, x), s), `dnewest`, replicate(`dsets`, `dnewest`))), arrayReduce('groupUniqArray', arrayConcat(`sprior`, arrayMap(x -> x.1, arrayFilter((x, k) -> NOT has(k, x), arrayReduce('groupUniqArrayArray', `ssets`), replicate(arrayFilter((x, s) -> arrayAll(y -> has(y, x), s), `snewest`, replicate(`ssets`, `snewest`)), arrayReduce('groupUniqArrayArray', `ssets`)))))), arrayReduce('groupUniqArray', arrayConcat(`dprior`, arrayMap(x -> x.1, arrayFilter((x, k) -> NOT has(k, x), arrayReduce('groupUniqArrayArray', `dsets`), replicate(arrayFilter((x, s) -> arrayAll(y -> has(y, x), s), `dnewest`, replicate(`dsets`, `dnewest`)), arrayReduce('groupUniqArrayArray', `dsets`))))))
FROM (
    SELECT toStartOfDay(`window_start`) AS `ds`, `src_kind`, `src_namespace`, `src_workload`, `src_workload_kind`, `src_addr`, `dst_kind`, `dst_namespace`, `dst_workload`, `dst_workload_kind`, `dst_addr`, `dst_port`, `protocol`,
        sum(`flows`) AS `f`, sum(`bytes`) AS `b`, sum(`packets`) AS `p`, sum(`allowed_flows`) AS `a`, sum(`denied_flows`) AS `dn`,
        min(`first_seen`) AS `fs`, max(`last_seen`) AS `ls`, uniqMergeState(`client_replicas`) AS `r`,
        groupUniqArrayIf(arrayMap((k, v) -> (k, v), `src_label_keys`, `src_label_values`), notEmpty(`src_label_keys`) OR notEmpty(`src_label_changes`)) AS `ssets`, argMaxIf(arrayMap((k, v) -> (k, v), `src_label_keys`, `src_label_values`), `last_seen`, notEmpty(`src_label_keys`) OR notEmpty(`src_label_changes`)) AS `snewest`,
        groupUniqArrayIf(arrayMap((k, v) -> (k, v), `dst_label_keys`, `dst_label_values`), notEmpty(`dst_label_keys`) OR notEmpty(`dst_label_changes`)) AS `dsets`, argMaxIf(arrayMap((k, v) -> (k, v), `dst_label_keys`, `dst_label_values`), `last_seen`, notEmpty(`dst_label_keys`) OR notEmpty(`dst_label_changes`)) AS `dnewest`,
        groupUniqArrayArray(`src_label_changes`) AS `sprior`, groupUniqArrayArray(`dst_label_changes`) AS `dprior`
    FROM `flowpolicy`.`edges_1h_local`
    WHERE `window_start` >= toDateTime(1768435200, 'UTC') AND `window_start` < toDateTime(1768521600, 'UTC')
    GROUP BY `ds`, `src_kind`, `src_namespace`, `src_workload`, `src_workload_kind`, `src_addr`, `dst_kind`, `dst_namespace`, `dst_workload`, `dst_workload_kind`, `dst_addr`, `dst_port`, `protocol`
);
ALTER TABLE `flowpolicy`.`edges_1d_local` REPLACE PARTITION 20260115 FROM `flowpolicy`.`edges_1d_local_rebuild_20260115`;
DROP TABLE IF EXISTS `flowpolicy`.`edges_1d_local_rebuild_20260115`;
