using System.Net.Http;
using Confluent.Kafka;
using FlowPolicy.Analytics.Intent;
using FlowPolicy.Cli.Serve;
using FlowPolicy.ClickHouse;
using FlowPolicy.Ingest.Files;
using FlowPolicy.Suggest.Reports;

namespace FlowPolicy.Cli.Terminal;

/// <summary>
/// The last line of defence of every command: an exception that reaches <c>Main</c> becomes one line on stderr and an
/// exit code, never a .NET stack trace. Errors the user fixes exit 2, failures at run time 3; an exception nobody
/// expected is a bug, reported as one line with its type and how to get the trace.
/// </summary>
internal static class Failure
{
    /// <summary>Set to 1 to get the stack trace of an unexpected error (for a bug report).</summary>
    public const string DebugVariable = "FLOWPOLICY_DEBUG";

    public static int Report(Exception ex, TextWriter error, bool debug)
    {
        if (ex is AggregateException { InnerExceptions.Count: 1 } aggregate) ex = aggregate.InnerExceptions[0];
        var (code, message) = Classify(ex);
        error.WriteLine($"flowpolicy: {message}");
        if (code == ExitCodes.InternalError)
        {
            if (debug) error.WriteLine(ex.ToString());
            else error.WriteLine($"flowpolicy: this is a bug; rerun with {DebugVariable}=1 for the stack trace and report it with the command line");
        }
        else if (debug) error.WriteLine(ex.ToString());
        return code;
    }

    private static (int Code, string Message) Classify(Exception ex) => ex switch
    {
        UsageException or ConfigException or PolicyLoadException or FlowFileException => (ExitCodes.UsageError, ex.Message),
        SuggestionRefusedException => (ExitCodes.UsageError, ex.Message),
        RuntimeFailureException => (ExitCodes.RuntimeError, ex.Message),
        OperationCanceledException => (ExitCodes.Interrupted, "stopped before the work was done"),
        HttpRequestException or ClickHouseServerException or TimeoutException => (ExitCodes.RuntimeError, "server: " + ex.Message),
        KafkaException kafka => (ExitCodes.RuntimeError, "Kafka: " + kafka.Error.Reason),
        // Disk full, a file removed under us, a permission changed mid-run: the environment, not the input.
        UnauthorizedAccessException or IOException => (ExitCodes.RuntimeError, ex.Message),
        OutOfMemoryException => (ExitCodes.RuntimeError, "out of memory; give the process more memory or read a shorter window (--from/--to)"),
        _ => (ExitCodes.InternalError, $"unexpected error ({ex.GetType().Name}): {ex.Message}"),
    };
}
