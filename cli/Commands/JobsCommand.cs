using System.CommandLine;
using System.Globalization;
using FlowPolicy.Cli.Serve;
using FlowPolicy.Cli.Terminal;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.Schema;

namespace FlowPolicy.Cli.Commands;

/// <summary>`flowpolicy jobs list|run`: what serve's jobs did, and running one window by hand.</summary>
internal static class JobsCommand
{
    public static Command Create()
    {
        var command = new Command("jobs",
            "Operate serve's scheduled jobs: list their schedules and recent runs, or run one window now.\n\n" +
            "Examples:\n" +
            "  flowpolicy jobs list --config deploy/config/flowpolicy.yaml\n" +
            "  flowpolicy jobs run analyze --config deploy/config/flowpolicy.yaml\n" +
            "  flowpolicy jobs run suggest --config flowpolicy.yaml --from 2026-11-02T00:00:00Z --to 2026-11-09T00:00:00Z");
        command.Subcommands.Add(List());
        command.Subcommands.Add(RunOne());
        return command;
    }

    private static Command List()
    {
        var config = ServeCommand.ConfigOption();
        var limit = new Option<int>("--runs") { Description = "Recent runs to show per job.", DefaultValueFactory = _ => 5 };
        var command = new Command("list",
            "List the configured jobs (schedule, next fire) and their recent runs from job_runs (window, status, attempt, error).\n\n" +
            "Examples:\n" +
            "  flowpolicy jobs list --config flowpolicy.yaml\n" +
            "  flowpolicy jobs list --config flowpolicy.yaml --runs 20")
        {
            config, limit,
        };
        command.SetAction(async (parse, ct) =>
        {
            var loaded = ServeCommand.LoadConfig(parse.GetValue(config)!);
            using var client = new ClickHouseHttpClient(ServerOptions.ClickHouseClient(loaded.ClickHouseUrl, loaded.ClickHouseDatabase));
            var store = new JobRunStore(client);
            try
            {
                await SchemaMigrator.MigrateAsync(client, cancellationToken: ct);
                foreach (var job in loaded.Jobs)
                {
                    var next = new CronWindows(job.Schedule).Next(DateTime.UtcNow);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{job.Name} ({job.Kind}{(job.Enabled ? "" : ", disabled")}): '{job.Schedule}', next {next:yyyy-MM-ddTHH:mm:ssZ}{(job.Window is { } w ? $", window {w.TotalHours:0.#}h" : "")}"));
                    foreach (var run in await store.RecentAsync(job.Name, parse.GetValue(limit), ct))
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"  {run.Window}  {run.Status,-9} attempt {run.Attempt}  {run.Trigger,-8} {(run.Finished - run.Started).TotalSeconds,6:0}s  {(run.Error.Length > 0 ? run.Error : run.Summary)}"));
                }
            }
            catch (Exception e) when (e is HttpRequestException or ClickHouseServerException or TimeoutException)
            {
                throw new RuntimeFailureException($"ClickHouse {loaded.ClickHouseUrl}: {e.Message}");
            }
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command RunOne()
    {
        var config = ServeCommand.ConfigOption();
        var name = new Argument<string>("NAME") { Description = "The job's name in the config (jobs: NAME: ...)." };
        var from = CommonOptions.From();
        var to = CommonOptions.To();
        to.Description = "Window end (exclusive), RFC 3339 UTC; default: the job's last fire time. The data read is whole hours up to it.";
        from.Description = "Window start, RFC 3339 UTC; default: the fire before --to.";
        var command = new Command("run",
            "Run one window of a job now, with the retries of serve, and record it in job_runs (trigger 'manual'). " +
            "A window already done is run again (jobs replace their output).\n\n" +
            "Examples:\n" +
            "  flowpolicy jobs run analyze --config flowpolicy.yaml\n" +
            "  flowpolicy jobs run suggest --config flowpolicy.yaml --from 2026-11-02T00:00:00Z --to 2026-11-09T00:00:00Z")
        {
            name, config, from, to,
        };
        command.SetAction(async (parse, ct) =>
        {
            var loaded = ServeCommand.LoadConfig(parse.GetValue(config)!);
            JobConfig job;
            try
            {
                job = loaded.Job(parse.GetValue(name)!);
            }
            catch (ConfigException e)
            {
                throw new UsageException(e.Message);
            }
            if (job.Kind == JobKinds.Suggest) CommonOptions.RequireWritableDirectory(loaded.Output, $"output ({loaded.SourcePath ?? "config"})");
            var windows = new CronWindows(job.Schedule);
            var end = CommonOptions.ParseTime(parse.GetValue(to), "--to") ?? windows.Previous(DateTime.UtcNow.AddTicks(1)) ?? DateTime.UtcNow;
            var start = CommonOptions.ParseTime(parse.GetValue(from), "--from") ?? windows.Previous(end) ?? end;
            if (start >= end) throw new UsageException("--from must be before --to");
            if (parse.GetValue(from) is not null && job.Kind is JobKinds.Analyze or JobKinds.Suggest
                && (start.Ticks % TimeSpan.TicksPerHour != 0 || end.Ticks % TimeSpan.TicksPerHour != 0))
                throw new UsageException($"--from and --to must be whole UTC hours for {job.Kind} (the edge rollups are hourly)");
            // An explicit range is the data window itself: the job reads [from, to) (whole hours).
            if (parse.GetValue(from) is not null)
                job = job.WithWindow(end - start);
            using var logs = ServerOptions.Logs();
            using var client = new ClickHouseHttpClient(ServerOptions.ClickHouseClient(loaded.ClickHouseUrl, loaded.ClickHouseDatabase));
            try
            {
                await SchemaMigrator.MigrateAsync(client, cancellationToken: ct);
                var runner = new JobRunner(new ScheduledJobFactory(loaded, client, logs).Create(job), client,
                    new RetryPolicy(loaded.RetryAttempts, loaded.RetryBackoff, loaded.RetryMaxBackoff), loaded.CatchUpMaxWindows, logs.CreateLogger("flowpolicy.jobs"));
                var outcome = await runner.RunWindowAsync(new JobWindow(start, end), "manual", ct);
                var last = (await new JobRunStore(client).RecentAsync(job.Name, 1, ct)).FirstOrDefault();
                Console.WriteLine(last is null ? "" : $"{last.Status}: {(last.Error.Length > 0 ? last.Error : last.Summary)}");
                // Skipped: the window's input gave nothing to write (exit 2, as `suggest` refusing an empty run).
                return outcome switch { JobOutcome.Succeeded => ExitCodes.Success, JobOutcome.Skipped => ExitCodes.UsageError, _ => ExitCodes.RuntimeError };
            }
            catch (Exception e) when (e is HttpRequestException or ClickHouseServerException or TimeoutException)
            {
                throw new RuntimeFailureException($"ClickHouse {loaded.ClickHouseUrl}: {e.Message}");
            }
        });
        return command;
    }
}
