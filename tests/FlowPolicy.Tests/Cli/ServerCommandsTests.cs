namespace FlowPolicy.Tests.Cli;

/// <summary>Usage errors of the server-mode commands are caught before any connection is made.</summary>
public sealed class ServerCommandsTests
{
    [Fact]
    public void Dev_broker_refuses_a_fixed_port_and_says_why()
    {
        var result = CliProcess.Run("dev-broker", "--port", "9092");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("librdkafka 2.0.2", result.Stderr);
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

    [Fact]
    public void Produce_to_an_unreachable_broker_says_so_and_sends_nothing()
    {
        var flows = Path.Combine(Path.GetTempPath(), $"flowpolicy-produce-{Guid.NewGuid():N}.jsonl");
        File.WriteAllText(flows, """{"start":"2026-11-02T10:00:00Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","dst_port":80,"proto":"TCP"}""" + "\n");
        try
        {
            // Port 1 on loopback: refused at once, as a wrong --brokers is.
            var result = CliProcess.Run("produce", "--brokers", "127.0.0.1:1", "--connect-timeout", "2", flows);
            Assert.Equal(3, result.ExitCode);
            Assert.Contains("Kafka brokers 127.0.0.1:1 did not answer within 2 s", result.Stderr);
            Assert.Contains("nothing was sent", result.Stderr);
            Assert.DoesNotContain("   at ", result.Stderr);
        }
        finally
        {
            File.Delete(flows);
        }
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
