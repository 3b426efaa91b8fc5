namespace FlowPolicy.Tests.Cli;

/// <summary>Usage errors of the server-mode commands are caught before any connection is made.</summary>
public sealed class ServerCommandsTests
{
    [Fact]
    public void Dev_broker_refuses_a_fixed_port_and_says_why()
    {
        var result = CliProcess.Run("dev-broker", "--port", "9092");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("librdkafka's mock", result.Stderr);
        Assert.Contains("first line", result.Stderr);
    }

    [Fact]
    public void Ingest_refuses_batches_too_large_to_be_stored_atomically()
    {
        var result = CliProcess.Run("ingest", "--batch-rows", "2000000");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("max_insert_block_size", result.Stderr);
    }

    [Fact]
    public void Produce_refuses_a_malformed_kafka_property_and_a_missing_file()
    {
        var property = CliProcess.Run("produce", "--kafka-property", "security.protocol", "/dev/null");
        Assert.Equal(2, property.ExitCode);
        Assert.Contains("key=value", property.Stderr);
        var missing = CliProcess.Run("produce", "/no/such/flows.json");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("no such file", missing.Stderr);
    }

    [Theory]
    [InlineData("dev-broker")]
    [InlineData("produce")]
    [InlineData("migrate")]
    [InlineData("ingest")]
    public void Every_server_command_has_examples_in_its_help(string command)
    {
        var result = CliProcess.Run(command, "--help");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Examples:", result.Stdout);
        Assert.Contains("flowpolicy " + command, result.Stdout);
    }
}
