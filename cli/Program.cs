using System.CommandLine;
using FlowPolicy.Cli.Commands;
using FlowPolicy.Cli.Terminal;

namespace FlowPolicy.Cli;

internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        bool debug = Environment.GetEnvironmentVariable(Failure.DebugVariable) is "1" or "true";
        // An exception on a thread of its own (a timer, a hosted service) never reaches the handler below; the runtime
        // would print its trace and abort. One line and exit 4 instead (the trace with FLOWPOLICY_DEBUG=1).
        AppDomain.CurrentDomain.UnhandledException += (_, e) =>
        {
            if (e.ExceptionObject is Exception ex) Environment.Exit(Failure.Report(ex, Console.Error, debug));
        };
        var root = FlowPolicyCommand.Create();
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0 && !IsHelpRequest(args))
        {
            // System.CommandLine exits 1 on parse errors; 1 means "policy check failed" here, so usage errors exit 2.
            foreach (var error in parsed.Errors)
                Console.Error.WriteLine($"flowpolicy: {error.Message}");
            var command = parsed.CommandResult.Command;
            Console.Error.WriteLine($"Run 'flowpolicy {(command == root ? "" : command.Name + " ")}--help' for usage and examples.");
            return ExitCodes.UsageError;
        }
        try
        {
            return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception ex)
        {
            return Failure.Report(ex, Console.Error, debug);
        }
    }

    private static bool IsHelpRequest(string[] args) => args.Any(a => a is "--help" or "-h" or "-?");
}

/// <summary>The `flowpolicy` command tree. Each subcommand lives in its own file under Commands/.</summary>
internal static class FlowPolicyCommand
{
    public static RootCommand Create()
    {
        var root = new RootCommand(
            "FlowPolicy: flow logs -> service dependency graph, microsegmentation SLIs and least-privilege policy suggestions.\n\n" +
            "Examples:\n" +
            "  flowpolicy demo\n" +
            "  flowpolicy edges --flows vpc.log.gz hubble.json --inventory pods.json\n" +
            "  flowpolicy edges --flows flows.jsonl --json > edges.jsonl");
        root.Subcommands.Add(AnalyzeCommand.Create());
        root.Subcommands.Add(AnomaliesCommand.Create());
        root.Subcommands.Add(CheckCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(EdgesCommand.Create());
        root.Subcommands.Add(SampleCommand.Create());
        root.Subcommands.Add(SuggestCommand.Create());
        root.Subcommands.Add(DevBrokerCommand.Create());
        root.Subcommands.Add(ProduceCommand.Create());
        root.Subcommands.Add(MigrateCommand.Create());
        root.Subcommands.Add(IngestCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(JobsCommand.Create());
        return root;
    }
}
