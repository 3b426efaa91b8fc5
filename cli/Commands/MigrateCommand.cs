using System.CommandLine;
using FlowPolicy.Cli.Terminal;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.Schema;

namespace FlowPolicy.Cli.Commands;

/// <summary>`flowpolicy migrate`: create or upgrade the ClickHouse schema, idempotently.</summary>
internal static class MigrateCommand
{
    public static Command Create()
    {
        var clickhouse = ServerOptions.ClickHouse();
        var database = ServerOptions.Database();
        var cluster = new Option<string?>("--cluster")
        {
            Description = "Cluster name from the servers' remote_servers: shard flows, dead letters, ingest progress and edge rollups " +
                          "(<table>_local on every node behind a Distributed <table>). DDL goes once with ON CLUSTER (needs ClickHouse Keeper/ZooKeeper) unless --cluster-node is given.",
        };
        var nodes = new Option<string[]>("--cluster-node")
        {
            Description = "With --cluster: migrate each node's HTTP URL in turn with plain DDL instead of ON CLUSTER (clusters without a Keeper). Repeatable; list every node.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var replicated = new Option<bool>("--replicated")
        {
            Description = "With --cluster: every MergeTree table becomes ReplicatedMergeTree('/clickhouse/tables/{shard}/<database>/<table>', '{replica}'). " +
                          "Needs ZooKeeper (or Keeper) and the macros shard and replica in every server's config (docs/scaling.md).",
        };
        var command = new Command("migrate",
            "Create or upgrade FlowPolicy's ClickHouse schema. Each step checks what the server has and applies only what is missing, " +
            "so running it again applies nothing. Prints the steps applied and skipped.\n\n" +
            "Examples:\n" +
            "  flowpolicy migrate --clickhouse http://127.0.0.1:8123/\n" +
            "  FLOWPOLICY_CLICKHOUSE_USER=admin FLOWPOLICY_CLICKHOUSE_PASSWORD_FILE=/run/secrets/ch flowpolicy migrate --clickhouse https://ch:8443/ --database flows_prod\n" +
            "  flowpolicy migrate --clickhouse http://ch-0:8123/ --cluster flowpolicy\n" +
            "  flowpolicy migrate --cluster flowpolicy --cluster-node http://ch-0:8123/ --cluster-node http://ch-1:8123/\n" +
            "  flowpolicy migrate --clickhouse http://ch-0:8123/ --cluster flowpolicy --replicated")
        {
            clickhouse, database, cluster, nodes, replicated,
        };
        command.SetAction(parse =>
        {
            var clusterName = parse.GetValue(cluster);
            var nodeUrls = parse.GetValue(nodes) ?? [];
            if (clusterName is { Length: 0 } || (clusterName is not null && string.IsNullOrWhiteSpace(clusterName)))
                throw new UsageException("--cluster needs the cluster name as the servers' remote_servers spell it");
            if (nodeUrls.Length > 0 && clusterName is null)
                throw new UsageException("--cluster-node only makes sense with --cluster NAME");
            if (parse.GetValue(replicated) && clusterName is null)
                throw new UsageException("--replicated needs --cluster NAME (replicas are named by the servers' macros)");
            var targets = nodeUrls.Length > 0 ? nodeUrls : [parse.GetValue(clickhouse)!];
            var schema = new SchemaOptions { Cluster = clusterName, OnClusterDdl = nodeUrls.Length == 0, Replicated = parse.GetValue(replicated) };
            foreach (var url in targets)
            {
                var options = ServerOptions.ClickHouseClient(url, parse.GetValue(database)!);
                using var client = new ClickHouseHttpClient(options);
                MigrationReport report;
                try
                {
                    report = SchemaMigrator.MigrateAsync(client, schema).GetAwaiter().GetResult();
                }
                catch (Exception e) when (e is ClickHouseServerException or HttpRequestException or TimeoutException)
                {
                    Console.Error.WriteLine($"flowpolicy: migration failed on {options}: {e.Message}");
                    return ExitCodes.RuntimeError;
                }
                catch (InvalidOperationException e)
                {
                    throw new UsageException(e.Message);
                }
                if (targets.Length > 1) Console.Out.WriteLine($"node {url}:");
                Print(report, Console.Out);
            }
            return ExitCodes.Success;
        });
        return command;
    }

    public static void Print(MigrationReport report, TextWriter output)
    {
        output.WriteLine($"ClickHouse {report.ServerVersion}: schema version {report.PreviousSchemaVersion} -> {report.SchemaVersion}; " +
                         $"{report.Applied.Count} applied, {report.Skipped.Count} skipped");
        foreach (var step in report.Applied) output.WriteLine($"applied: {step}");
        foreach (var step in report.Skipped) output.WriteLine($"skipped: {step}");
    }
}
