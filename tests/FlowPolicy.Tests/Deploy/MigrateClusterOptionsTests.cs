using FlowPolicy.Tests.Cli;

namespace FlowPolicy.Tests.Deploy;

/// <summary>`migrate --cluster` usage errors are caught before any server is contacted.</summary>
public sealed class MigrateClusterOptionsTests
{
    [Fact]
    public void Cluster_nodes_without_a_cluster_name_are_a_usage_error()
    {
        var result = CliProcess.Run("migrate", "--cluster-node", "http://127.0.0.1:1/");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--cluster-node only makes sense with --cluster NAME", result.Stderr);
    }

    [Fact]
    public void Migrate_help_shows_the_cluster_options_and_examples()
    {
        var result = CliProcess.Run("migrate", "--help");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("--cluster-node", result.Stdout);
        Assert.Contains("flowpolicy migrate --cluster flowpolicy --cluster-node http://ch-0:8123/", result.Stdout);
    }
}
