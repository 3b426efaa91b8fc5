using System.CommandLine;
using FlowPolicy.Cli.Terminal;
using FlowPolicy.Ingest.Kafka;
using FlowPolicy.LocalServers.Kafka;

namespace FlowPolicy.Cli.Commands;

/// <summary>`flowpolicy dev-broker`: a Kafka-protocol cluster in this process (librdkafka's mock) for demos and tests.</summary>
internal static class DevBrokerCommand
{
    public static Command Create()
    {
        var port = new Option<int?>("--port") { Description = "Not supported: librdkafka's mock listens on a random port (2.16 too) (read it from the first output line)." };
        var partitions = new Option<int>("--partitions") { Description = "Partitions of the topics created up front.", DefaultValueFactory = _ => 12 };
        var topics = new Option<string[]>("--topic")
        {
            Description = "Topics to create up front (others are created on first use with 4 partitions).",
            Arity = ArgumentArity.ZeroOrMore,
            DefaultValueFactory = _ => [KafkaOptions.DefaultTopic],
        };
        var brokers = new Option<int>("--broker-count") { Description = "Mock brokers.", DefaultValueFactory = _ => 1 };
        var command = new Command("dev-broker",
            "Run a local Kafka-protocol broker for demos and tests (librdkafka's mock cluster, in memory, ~5 MB kept per partition). " +
            "Prints its bootstrap address alone on the first line and runs until Ctrl+C.\n\n" +
            "Examples:\n" +
            "  flowpolicy dev-broker\n" +
            "  flowpolicy dev-broker --partitions 24 --topic flows --topic flows-test")
        {
            port, partitions, topics, brokers,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(port) is { } fixedPort)
                throw new UsageException($"--port {fixedPort}: the broker cannot listen on a chosen port (librdkafka's mock has no such setting, 2.16 included); " +
                                         "leave --port out and read the address from the first line of the output.");
            var options = new MockKafkaClusterOptions
            {
                Partitions = parse.GetValue(partitions),
                Topics = parse.GetValue(topics) ?? [],
                Brokers = parse.GetValue(brokers),
            };
            if (options.Validate() is { } error) throw new UsageException(error);
            using var signal = ServerOptions.OnStopSignal();
            return new DevBrokerRunner(options, Console.Out).RunAsync(signal.Token).GetAwaiter().GetResult();
        });
        return command;
    }
}
