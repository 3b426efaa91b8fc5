using FlowPolicy.Ingest.Kafka;
using FlowPolicy.LocalServers.Kafka.Internal;

namespace FlowPolicy.LocalServers.Kafka;

/// <summary>Options for <see cref="MockKafkaCluster"/>; validated by <see cref="Validate"/>.</summary>
public sealed class MockKafkaClusterOptions
{
    /// <summary>Number of mock brokers (each listens on its own 127.0.0.1 port).</summary>
    public int Brokers { get; init; } = 1;

    /// <summary>Partitions of each topic in <see cref="Topics"/>. Topics created on first use always get 4.</summary>
    public int Partitions { get; init; } = MockKafkaCluster.AutoCreatedPartitions;

    /// <summary>Topics to create up front with <see cref="Partitions"/> partitions.</summary>
    public IReadOnlyList<string> Topics { get; init; } = [];

    /// <summary>Returns what is wrong, or null when the options are usable.</summary>
    public string? Validate()
    {
        if (Brokers is < 1 or > 32)
        {
            return $"The mock cluster takes 1 to 32 brokers, not {Brokers}.";
        }
        if (Partitions is < 1 or > 1000)
        {
            return $"Topics take 1 to 1000 partitions, not {Partitions}.";
        }
        foreach (var topic in Topics)
        {
            if (KafkaOptions.ValidateTopicName(topic) is { } error)
            {
                return error;
            }
        }
        return null;
    }
}

/// <summary>
/// A Kafka-protocol cluster on 127.0.0.1 hosted by librdkafka's built-in mock (<c>test.mock.num.brokers</c>), for
/// development and tests without a real broker. Any Kafka client in any process (kcat, Confluent.Kafka) can connect
/// to <see cref="BootstrapServers"/>. Limits of librdkafka 2.16's mock, all measured (docs/kafka.md): ports are
/// random (no way to fix them), a topic created on first use gets 4 partitions, CreateTopics requests time out
/// (use <see cref="CreateTopic"/>), and each partition keeps only about 5 MB: older messages are dropped silently.
/// </summary>
public sealed class MockKafkaCluster : IDisposable
{
    /// <summary>Partition count the mock gives a topic it creates on first use (hard-coded in librdkafka).</summary>
    public const int AutoCreatedPartitions = 4;

    /// <summary>About how much each mock partition keeps before dropping its oldest messages.</summary>
    public const long RetainedBytesPerPartition = 5L * 1024 * 1024;

    private readonly RdKafkaHandle _host;

    private MockKafkaCluster(RdKafkaHandle host, int brokers)
    {
        _host = host;
        Brokers = brokers;
        BootstrapServers = RdKafkaMock.Bootstraps(host);
    }

    /// <summary>Comma-separated 127.0.0.1:port list of the mock brokers, for <c>bootstrap.servers</c>.</summary>
    public string BootstrapServers { get; }

    public int Brokers { get; }

    /// <summary>Starts the mock cluster and creates <see cref="MockKafkaClusterOptions.Topics"/>.</summary>
    public static MockKafkaCluster Start(MockKafkaClusterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Validate() is { } error)
        {
            throw new ArgumentException(error, nameof(options));
        }
        var cluster = new MockKafkaCluster(RdKafkaMock.CreateMockHost(options.Brokers), options.Brokers);
        try
        {
            foreach (var topic in options.Topics)
            {
                cluster.CreateTopic(topic, options.Partitions);
            }
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Creates a topic with <paramref name="partitions"/> partitions, replicated on up to 3 brokers.
    /// Throws if the topic exists (a topic is created on first use, so create topics before clients touch them).
    /// </summary>
    public void CreateTopic(string topic, int partitions)
    {
        if (KafkaOptions.ValidateTopicName(topic) is { } error)
        {
            throw new ArgumentException(error, nameof(topic));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        var err = RdKafkaMock.CreateTopic(_host, topic, partitions, Math.Min(3, Brokers));
        if (err != 0)
        {
            throw new InvalidOperationException($"The mock cluster could not create topic '{topic}': {RdKafkaMock.ErrorText(err)}.");
        }
    }

    public void Dispose() => _host.Dispose();
}
