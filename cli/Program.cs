using System.CommandLine;

namespace FlowPolicy.Cli;

internal static class Program
{
    public static Task<int> Main(string[] args) => FlowPolicyCommand.Create().Parse(args).InvokeAsync();
}

/// <summary>The `flowpolicy` command tree. Each subcommand lives in its own file under Commands/.</summary>
internal static class FlowPolicyCommand
{
    public static RootCommand Create()
    {
        var root = new RootCommand("FlowPolicy: flow logs -> service dependency graph, microsegmentation SLIs and least-privilege policy suggestions.");
        return root;
    }
}
