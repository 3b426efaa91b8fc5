namespace FlowPolicy.Cli.Terminal;

/// <summary>Exit codes every command uses (README, "Exit codes").</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    /// <summary>A policy check found flows the policy would block.</summary>
    public const int CheckFailed = 1;
    /// <summary>Bad arguments, a missing file, an unknown format: the user has to change something.</summary>
    public const int UsageError = 2;
    /// <summary>Something failed at run time (a server went away): retrying may help.</summary>
    public const int RuntimeError = 3;
    /// <summary>An error nobody expected (a bug): one line and how to get the stack trace, never the trace itself.</summary>
    public const int InternalError = 4;
    /// <summary>Stopped by Ctrl+C or SIGTERM before the work was done (128 + SIGINT, as shells report it).</summary>
    public const int Interrupted = 130;
}

/// <summary>Thrown for errors the user fixes by changing the command line or the input; exits 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>Thrown for failures at run time (a server unreachable); exits 3, retrying may help.</summary>
internal sealed class RuntimeFailureException(string message) : Exception(message);
