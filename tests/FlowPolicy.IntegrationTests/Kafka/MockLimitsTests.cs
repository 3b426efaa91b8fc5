using System.Diagnostics;
using Confluent.Kafka;
using FlowPolicy.Ingest.Kafka;
using FlowPolicy.LocalServers.Kafka;
using Xunit.Abstractions;

namespace FlowPolicy.IntegrationTests.Kafka;

/// <summary>Measures the mock: throughput with flow-sized messages, and how much a partition keeps.</summary>
public sealed class MockLimitsTests(ITestOutputHelper output)
{
    [Fact]
    public void Produce_and_consume_throughput_with_300_byte_messages()
    {
        // 12 partitions x 10,000 x 300 B = 3 MB per partition, under the mock's ~5 MB retention.
        const int partitions = 12;
        const int count = 120_000;
        using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Partitions = partitions, Topics = ["flows"] });
        using var producer = KafkaTestClients.Producer(cluster);

        var produce = Stopwatch.StartNew();
        KafkaTestClients.ProduceRoundRobin(producer, "flows", partitions, count);
        produce.Stop();

        using var consumer = KafkaTestClients.Consumer(cluster, "g-throughput");
        consumer.Subscribe("flows");
        var join = Stopwatch.StartNew();
        var results = KafkaTestClients.ConsumeAtLeast(consumer, 1, TimeSpan.FromSeconds(30));
        join.Stop();
        var consume = Stopwatch.StartNew();
        results.AddRange(KafkaTestClients.ConsumeAtLeast(consumer, count - 1, TimeSpan.FromSeconds(120)));
        consume.Stop();
        consumer.Close();

        Assert.Equal(count, results.Count);
        output.WriteLine($"produce: {count / produce.Elapsed.TotalSeconds:F0} msg/s ({count} x 300 B in {produce.Elapsed.TotalSeconds:F2} s, acks=all, idempotent, lz4)");
        output.WriteLine($"consume: {(count - 1) / consume.Elapsed.TotalSeconds:F0} msg/s ({consume.Elapsed.TotalSeconds:F2} s after the first message; group join took {join.Elapsed.TotalSeconds:F2} s)");
    }

    [Fact]
    public async Task Flow_file_producer_throughput_with_300_byte_lines()
    {
        const int count = 100_000;
        var path = Path.GetTempFileName();
        try
        {
            await using (var file = new StreamWriter(path))
            {
                for (var i = 0; i < count; i++)
                {
                    // Distinct, flow-like text lines of 300 bytes (299 + newline).
                    await file.WriteAsync($"2 123456789012 eni-{i:x8} 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255} 10.0.1.1 443 {i % 60000} 6 1 60 1700000000 1700000060 ACCEPT OK ".PadRight(299, '-') + "\n");
                }
            }
            using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Partitions = 12, Topics = ["flows"] });
            var producer = new FlowFileProducer(KafkaTestClients.Options(cluster, "flows"), static _ => true);

            var watch = Stopwatch.StartNew();
            var counts = await producer.ProduceAsync([path]);
            watch.Stop();

            Assert.Equal(count, counts.Delivered);
            output.WriteLine($"FlowFileProducer: {count / watch.Elapsed.TotalSeconds:F0} msg/s ({count} lines of 300 B in {watch.Elapsed.TotalSeconds:F2} s)");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_partition_keeps_about_5_MB_and_silently_drops_older_messages()
    {
        // 40,000 x 300 B = 12 MB into one partition.
        const int count = 40_000;
        using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Partitions = 1, Topics = ["flows"] });
        using var producer = KafkaTestClients.Producer(cluster);
        KafkaTestClients.ProduceRoundRobin(producer, "flows", 1, count);

        using var consumer = KafkaTestClients.Consumer(cluster, "g-retention");
        var partition = new TopicPartition("flows", 0);
        var marks = consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(10));
        var retained = marks.High.Value - marks.Low.Value;
        output.WriteLine($"high {marks.High.Value}, low {marks.Low.Value}: {retained} messages ({retained * 300 / 1024.0 / 1024.0:F2} MB of values) retained of {count}");

        Assert.Equal(count, marks.High.Value);
        Assert.True(marks.Low.Value > 0, "the mock dropped nothing: its retention limit changed, update docs/kafka.md");
        Assert.InRange(retained * 300, 3L * 1024 * 1024, 6L * 1024 * 1024);

        // Reading from the start quietly begins at the low watermark: the dropped messages are simply gone.
        consumer.Assign(new TopicPartitionOffset(partition, Offset.Beginning));
        var first = KafkaTestClients.ConsumeAtLeast(consumer, 1, TimeSpan.FromSeconds(15)).Single();
        Assert.Equal(marks.Low.Value, first.Offset.Value);
        Assert.Equal(marks.Low.Value, KafkaTestClients.SequenceOf(first.Message.Value));
    }
}
