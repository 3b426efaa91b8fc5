using System.CommandLine;
using FlowPolicy.Cli.Terminal;
using FlowPolicy.Core.ClickHouse;
using FlowPolicy.Core.ClickHouse.Schema;

namespace FlowPolicy.Cli.Commands;

/// <summary>`flowpolicy migrate`: create or upgrade the ClickHouse schema, idempotently.</summary>
internal static class MigrateCommand
{
    public static Command Create()
    {
        var clickhouse = ServerOptions.ClickHouse();
        var database = ServerOptions.Database();
        var command = new Command("migrate",
            "Create or upgrade FlowPolicy's ClickHouse schema. Each step checks what the server has and applies only what is missing, " +
            "so running it again applies nothing. Prints the steps applied and skipped.\n\n" +
            "Examples:\n" +
            "  flowpolicy migrate --clickhouse http://127.0.0.1:8123/\n" +
            "  FLOWPOLICY_CLICKHOUSE_USER=admin FLOWPOLICY_CLICKHOUSE_PASSWORD_FILE=/run/secrets/ch flowpolicy migrate --clickhouse https://ch:8443/ --database flows_prod")
        {
            clickhouse, database,
        };
        command.SetAction(parse =>
        {
            var options = ServerOptions.ClickHouseClient(parse.GetValue(clickhouse)!, parse.GetValue(database)!);
            using var client = new ClickHouseHttpClient(options);
            MigrationReport report;
            try
            {
                report = SchemaMigrator.MigrateAsync(client).GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is ClickHouseServerException or HttpRequestException or TimeoutException)
            {
                Console.Error.WriteLine($"flowpolicy: migration failed on {options}: {e.Message}");
                return ExitCodes.RuntimeError;
            }
            Print(report, Console.Out);
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
