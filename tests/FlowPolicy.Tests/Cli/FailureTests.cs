using FlowPolicy.Analytics.Intent;
using FlowPolicy.Cli.Terminal;

namespace FlowPolicy.Tests.Cli;

/// <summary>What reaches the user when a command throws: one line and an exit code, the stack trace only on request.</summary>
public sealed class FailureTests
{
    private static (int Code, string Text) Report(Exception ex, bool debug = false)
    {
        var error = new StringWriter();
        int code = Failure.Report(ex, error, debug);
        return (code, error.ToString());
    }

    private static Exception Thrown(Func<Exception> make)
    {
        try
        {
            throw make();
        }
        catch (Exception e)
        {
            return e; // with a stack trace, as in a real run
        }
    }

    [Fact]
    public void Known_errors_are_one_line_with_their_exit_code()
    {
        Assert.Equal((2, "flowpolicy: --out: bad\n"), Report(Thrown(() => new UsageException("--out: bad"))));
        Assert.Equal((2, "flowpolicy: p.yaml:3: unknown field 'x' in spec\n"), Report(Thrown(() => new PolicyLoadException("p.yaml", 3, "unknown field 'x' in spec"))));
        Assert.Equal(3, Report(Thrown(() => new RuntimeFailureException("ClickHouse down"))).Code);
        Assert.Equal(3, Report(Thrown(() => new IOException("No space left on device"))).Code);
        Assert.Equal(ExitCodes.Interrupted, Report(Thrown(() => new OperationCanceledException())).Code);
    }

    [Fact]
    public void An_unexpected_error_is_a_short_message_and_a_hint_never_a_stack_trace()
    {
        var ex = Thrown(() => new InvalidOperationException("Sequence contains more than one element"));
        var (code, text) = Report(ex);
        Assert.Equal(ExitCodes.InternalError, code);
        Assert.Equal(2, text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("unexpected error (InvalidOperationException): Sequence contains more than one element", text);
        Assert.Contains("FLOWPOLICY_DEBUG=1", text);
        Assert.DoesNotContain("   at ", text);

        var (_, debug) = Report(ex, debug: true);
        Assert.Contains("   at ", debug);
    }

    [Fact]
    public void A_wrapped_single_exception_is_reported_as_itself()
    {
        var (code, text) = Report(new AggregateException(Thrown(() => new UsageException("no such file"))));
        Assert.Equal(2, code);
        Assert.Equal("flowpolicy: no such file\n", text);
    }
}
