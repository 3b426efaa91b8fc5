using System.Text;
using Confluent.Kafka;
using FlowPolicy.Ingest.Kafka;
using FlowPolicy.LocalServers.Kafka;

namespace FlowPolicy.IntegrationTests.Kafka;

/// <summary>Clients and payloads shared by the Kafka tests; every test starts its own mock cluster.</summary>
internal static class KafkaTestClients
{
    public static KafkaOptions Options(MockKafkaCluster cluster, string topic, string group = "test-group") =>
        new() { Brokers = cluster.BootstrapServers, Topic = topic, Group = group };

    public static IProducer<byte[], byte[]> Producer(MockKafkaCluster cluster)
    {
        return new ProducerBuilder<byte[], byte[]>(Options(cluster, "unused").ToProducerConfig())
            .SetLogHandler((_, _) => { })
            .Build();
    }

    public static IConsumer<byte[], byte[]> Consumer(MockKafkaCluster cluster, string group, Action<ConsumerConfig>? configure = null,
        Action<ConsumerBuilder<byte[], byte[]>>? build = null)
    {
        var config = Options(cluster, "unused", group).ToConsumerConfig();
        // librdkafka 2.0.2's mock keeps a member that left (Close) until its session times out, and a new member's
        // join waits for that: 45 s by default. Kafka's minimum, 6 s, keeps group hand-overs in tests short.
        config.SessionTimeoutMs = 6000;
        configure?.Invoke(config);
        var builder = new ConsumerBuilder<byte[], byte[]>(config).SetLogHandler((_, _) => { });
        build?.Invoke(builder);
        return builder.Build();
    }

    /// <summary>A message of exactly <paramref name="size"/> bytes that starts with its sequence number.</summary>
    public static byte[] Payload(long sequence, int size = 300)
    {
        // Random bytes after the sequence number: incompressible, so sizes on the wire and in the mock are honest.
        var value = new byte[size];
        new Random((int)sequence).NextBytes(value);
        Encoding.ASCII.GetBytes(sequence.ToString("D12", System.Globalization.CultureInfo.InvariantCulture)).CopyTo(value, 0);
        return value;
    }

    public static long SequenceOf(byte[] value) =>
        long.Parse(Encoding.ASCII.GetString(value, 0, 12), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Produces <paramref name="count"/> payloads round-robin over partitions and waits for every delivery.</summary>
    public static void ProduceRoundRobin(IProducer<byte[], byte[]> producer, string topic, int partitions, long count, int size = 300, long firstSequence = 0)
    {
        long failed = 0;
        Action<DeliveryReport<byte[], byte[]>> onDelivery = r => { if (r.Error.IsError) { Interlocked.Increment(ref failed); } };
        for (var i = firstSequence; i < firstSequence + count; i++)
        {
            var partition = new TopicPartition(topic, new Partition((int)(i % partitions)));
            while (true)
            {
                try
                {
                    producer.Produce(partition, new Message<byte[], byte[]> { Value = Payload(i, size) }, onDelivery);
                    break;
                }
                catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(10));
                }
            }
        }
        producer.Flush(TimeSpan.FromSeconds(60));
        Assert.Equal(0, Interlocked.Read(ref failed));
    }

    /// <summary>Consumes until <paramref name="count"/> messages arrived or <paramref name="timeout"/> passed.</summary>
    public static List<ConsumeResult<byte[], byte[]>> ConsumeAtLeast(IConsumer<byte[], byte[]> consumer, long count, TimeSpan timeout)
    {
        var results = new List<ConsumeResult<byte[], byte[]>>();
        var deadline = DateTime.UtcNow + timeout;
        while (results.Count < count && DateTime.UtcNow < deadline)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result is { IsPartitionEOF: false })
            {
                results.Add(result);
            }
        }
        return results;
    }
}
