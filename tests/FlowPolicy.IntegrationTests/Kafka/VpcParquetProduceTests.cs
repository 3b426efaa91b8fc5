using System.Text;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Kafka;
using FlowPolicy.Ingest.Workers;
using FlowPolicy.LocalServers.Kafka;

namespace FlowPolicy.IntegrationTests.Kafka;

/// <summary><c>produce</c> of AWS VPC flow logs delivered as Parquet: the rows go as VPC text batches, header first.</summary>
public sealed class VpcParquetProduceTests : IDisposable
{
    private const string Topic = "flows";
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("flowpolicy-produce-parquet-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task Parquet_rows_go_as_VPC_text_batches_that_decode_to_every_record()
    {
        const string header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status tcp-flags";
        var records = Enumerable.Range(0, 1200).Select(i => i == 7
            ? "5 123456789012 eni-1 - - - - - - - 1700000000 1700000060 - NODATA -"
            : $"5 123456789012 eni-{i % 3} 10.0.{i / 250}.{i % 250} 10.0.9.9 {40000 + i} 443 6 2 120 1700000000 1700000060 ACCEPT OK 2").ToList();
        // In the Hive-compatible layout AWS writes when asked for Parquet.
        var dir = Directory.CreateDirectory(Path.Combine(_dir.FullName, "AWSLogs", "aws-account-id=123456789012", "aws-service=vpcflowlogs",
            "aws-region=us-east-1", "year=2026", "month=12", "day=07", "hour=01"));
        var path = Path.Combine(dir.FullName, "123456789012_vpcflowlogs_us-east-1_fl-0abc_20261207T0105Z_f00d.log.parquet");
        await using (var file = File.Create(path))
            await VpcParquetWriter.WriteAsync(header, records, file, rowGroupRows: 400);

        using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Partitions = 2, Topics = [Topic] });
        // As the CLI detects line orientation: the text a Parquet file reads as is VPC text.
        var producer = new FlowFileProducer(KafkaTestClients.Options(cluster, Topic),
            head => FlowFormatDetector.Detect(head) is not { } detected || FlowDecoders.For(detected).IsLineOriented(head));
        var counts = await producer.ProduceAsync([path]);

        int messages = (records.Count + FlowFileProducer.VpcLinesPerMessage - 1) / FlowFileProducer.VpcLinesPerMessage;
        Assert.Equal(messages, counts.Delivered);
        Assert.Equal(0, counts.Failed);
        using var consumer = KafkaTestClients.Consumer(cluster, "g-parquet");
        consumer.Subscribe(Topic);
        var received = KafkaTestClients.ConsumeAtLeast(consumer, messages, TimeSpan.FromSeconds(8));
        consumer.Close();
        var decoder = new MessageDecoder();
        int flows = 0;
        long skipped = 0;
        foreach (var message in received)
        {
            // The columns the decoder reads (account-id is not one of them), in file order.
            Assert.StartsWith(header.Replace(" account-id", "") + "\n", Encoding.ASCII.GetString(message.Message.Value));
            decoder.Decode(message.Message.Value, "kafka");
            Assert.Empty(decoder.Rejects);
            flows += decoder.FlowCount;
            skipped += decoder.Skipped;
        }
        Assert.Equal(records.Count - 1, flows);
        Assert.Equal(1, skipped);
    }
}
