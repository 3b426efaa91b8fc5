using System.CommandLine;
using FlowPolicy.Cli.Serve;
using FlowPolicy.Cli.Terminal;
using FlowPolicy.ClickHouse;
using Microsoft.Extensions.Logging;

namespace FlowPolicy.Cli.Commands;

/// <summary>`flowpolicy serve --config FILE`: ingest workers, scheduled jobs and the HTTP endpoint in one process (docs/serve.md).</summary>
internal static class ServeCommand
{
    public static Option<string> ConfigOption() => new("--config")
    {
        Description = "Config file (YAML or JSON): Kafka, ClickHouse, inventory, intent, output and job schedules. See deploy/config/flowpolicy.yaml.",
        Required = true,
    };

    public static Command Create()
    {
        var config = ConfigOption();
        var command = new Command("serve",
            "Run the ingest workers, the job scheduler (analytics windows, suggestion reports, rollups, retention) and an HTTP endpoint " +
            "(/healthz, /readyz, /jobs, /reports) in one process until Ctrl+C or SIGTERM. Missed windows are caught up once at start; " +
            "every run is recorded in the ClickHouse table job_runs.\n\n" +
            "Examples:\n" +
            "  flowpolicy serve --config deploy/config/flowpolicy.yaml\n" +
            "  FLOWPOLICY_CLICKHOUSE_PASSWORD_FILE=/run/secrets/ch flowpolicy serve --config /etc/flowpolicy/flowpolicy.yaml")
        {
            config,
        };
        command.SetAction(parse =>
        {
            var loaded = LoadConfig(parse.GetValue(config)!);
            RequireWritableOutput(loaded);
            using var logs = ServerOptions.Logs();
            using var signal = ServerOptions.OnStopSignal();
            return Run(loaded, logs, signal.Token).GetAwaiter().GetResult();
        });
        return command;
    }

    public static ServeConfig LoadConfig(string path)
    {
        try
        {
            var config = ServeConfig.Load(path);
            config.Validate();
            return config;
        }
        catch (ConfigException e)
        {
            throw new UsageException(e.Message);
        }
    }

    /// <summary>Reports go to `output`: a suggest job must not find out at its first fire, hours later, that it cannot write there.</summary>
    public static void RequireWritableOutput(ServeConfig config)
    {
        if (config.Jobs.Any(j => j.Enabled && j.Kind == JobKinds.Suggest))
            CommonOptions.RequireWritableDirectory(config.Output, $"output ({config.SourcePath ?? "config"})");
    }

    internal static async Task<int> Run(ServeConfig config, ILoggerFactory logs, CancellationToken stop)
    {
        var log = logs.CreateLogger("flowpolicy.serve");
        await using var host = new ServeHost(config, logs);
        try
        {
            await host.StartAsync(stop);
        }
        catch (Exception e) when (e is HttpRequestException or ClickHouseServerException or TimeoutException)
        {
            log.LogError("Cannot start: ClickHouse {Url}: {Error}", config.ClickHouseUrl, e.Message);
            return ExitCodes.RuntimeError;
        }
        catch (OperationCanceledException)
        {
            return ExitCodes.Success;
        }
        if (host.HttpAddress is { } address) Console.WriteLine(address);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(stop, host.Stopping);
        try
        {
            await Task.Delay(Timeout.Infinite, either.Token);
        }
        catch (OperationCanceledException)
        {
        }
        await host.StopAsync();
        if (!stop.IsCancellationRequested)
        {
            log.LogError("A component stopped the host (see the errors above)");
            return ExitCodes.RuntimeError;
        }
        return ExitCodes.Success;
    }
}
