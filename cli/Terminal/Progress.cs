using Spectre.Console;

namespace FlowPolicy.Cli.Terminal;

/// <summary>
/// Progress for long work, drawn on stderr so stdout stays clean for tables and JSON. Silent when stderr is not a
/// terminal (CI logs, pipes), as users expect of command-line tools.
/// </summary>
internal static class Progress
{
    public static bool Interactive => !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("CI") is null;

    private static readonly Lazy<IAnsiConsole> ErrorConsole = new(() => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(Console.Error),
    }));

    /// <summary>Runs <paramref name="work"/> with a progress bar (total in <paramref name="unit"/>s) when interactive.</summary>
    public static T Run<T>(string description, double total, Func<Action<double>, T> work)
    {
        if (!Interactive) return work(_ => { });
        T result = default!;
        ErrorConsole.Value.Progress()
            .AutoClear(true)
            .HideCompleted(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                var task = context.AddTask(description, maxValue: Math.Max(total, 1));
                result = work(done => task.Value = done);
                task.Value = task.MaxValue;
            });
        return result;
    }
}
