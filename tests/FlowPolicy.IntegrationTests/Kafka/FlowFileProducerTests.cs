using System.IO.Compression;
using System.Text;
using Confluent.Kafka;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Vpc;
using FlowPolicy.Ingest.Kafka;
using FlowPolicy.Ingest.Workers;
using FlowPolicy.LocalServers.Kafka;

namespace FlowPolicy.IntegrationTests.Kafka;

public sealed class FlowFileProducerTests : IDisposable
{
    private const string Topic = "flows";
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("flowpolicy-produce-");

    public void Dispose() => _dir.Delete(recursive: true);

    private static bool LineOriented(ReadOnlySpan<byte> head) => true;
    private static bool Document(ReadOnlySpan<byte> head) => false;

    [Fact]
    public async Task Line_oriented_files_become_one_message_per_line_spread_over_partitions()
    {
        var lines = Enumerable.Range(0, 1000).Select(i => $"2 123456789012 eni-{i:x8} 10.0.0.{i % 250} 10.0.1.1 443 {40000 + i} 6 1 60 1700000000 1700000060 ACCEPT OK").ToList();
        var text = new StringBuilder();
        for (var i = 0; i < 600; i++)
        {
            text.Append(lines[i]).Append(i % 2 == 0 ? "\r\n" : "\n");
            if (i % 200 == 0)
            {
                text.Append("\n"); // blank lines are skipped, not sent
            }
        }
        var plain = Write("a.log", text.ToString());
        var gz = Path.Combine(_dir.FullName, "b.log.gz");
        await using (var file = File.Create(gz))
        await using (var zip = new GZipStream(file, CompressionLevel.Fastest))
        {
            zip.Write(Encoding.UTF8.GetBytes(string.Join('\n', lines.Skip(600)))); // no final newline
        }

        using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Partitions = 4, Topics = [Topic] });
        var producer = new FlowFileProducer(KafkaTestClients.Options(cluster, Topic), LineOriented, maxInFlight: 100);
        var counts = await producer.ProduceAsync([plain, gz]);

        Assert.Equal(new ProduceCounts(Files: 2, Delivered: 1000, DeliveredBytes: lines.Sum(l => l.Length), Failed: 0, BlankLinesSkipped: 3, TooLarge: 0), counts);
        var received = ConsumeAll(cluster, 1000);
        Assert.Equal(lines.Order(), received.Select(r => Encoding.UTF8.GetString(r.Message.Value)).Order());
        Assert.Equal(4, received.Select(r => r.Partition.Value).Distinct().Count());
        Assert.All(received, r => Assert.Equal(FlowFileProducer.KeyOf(r.Message.Value), r.Message.Key));
    }

    [Fact]
    public async Task Document_files_become_one_message_each()
    {
        var azure = Write("azure.json", """{"records":[{"time":"2024-01-01T00:00:00Z","properties":{"Version":2,"flows":[]}}]}""" + "\n");
        var gcp = Write("gcp.json", "[\n  {\"insertId\": \"1\"},\n  {\"insertId\": \"2\"}\n]\n");

        using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Topics = [Topic] });
        var counts = await new FlowFileProducer(KafkaTestClients.Options(cluster, Topic), Document).ProduceAsync([azure, gcp]);

        Assert.Equal(2, counts.Delivered);
        var received = ConsumeAll(cluster, 2).Select(r => r.Message.Value).ToList();
        Assert.Contains(received, v => v.AsSpan().SequenceEqual(File.ReadAllBytes(azure)));
        Assert.Contains(received, v => v.AsSpan().SequenceEqual(File.ReadAllBytes(gcp)));
    }

    [Fact]
    public async Task Oversized_lines_and_documents_are_counted_and_the_rest_still_goes()
    {
        var lines = Write("long.log", "first\n" + new string('x', 300_000) + "\nlast\n" + new string('y', 2_000) + "\n");
        var document = Write("big.json", "{\"records\":[" + new string(' ', 150_000) + "]}");
        var missing = Path.Combine(_dir.FullName, "missing.log");

        using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Topics = [Topic] });
        var log = new StringWriter();
        var kafka = KafkaTestClients.Options(cluster, Topic);
        var lineCounts = await new FlowFileProducer(kafka, LineOriented, log, maxMessageBytes: 100_000).ProduceAsync([lines, missing]);
        var documentCounts = await new FlowFileProducer(kafka, Document, log, maxMessageBytes: 100_000).ProduceAsync([document]);

        Assert.Equal(3, lineCounts.Delivered); // first, last, and the 2,000-byte line
        Assert.Equal(1, lineCounts.TooLarge);
        Assert.Equal(1, lineCounts.Failed);    // the missing file
        Assert.Equal(1, lineCounts.Files);
        Assert.Equal(0, documentCounts.Delivered);
        Assert.Equal(1, documentCounts.TooLarge);
        Assert.Contains("long.log:2: line longer than 100000 bytes", log.ToString());
        Assert.Contains("missing.log", log.ToString());
        Assert.Equal(["first", "last", new string('y', 2_000)], ConsumeAll(cluster, 3).Select(r => Encoding.UTF8.GetString(r.Message.Value)).Order());
    }

    [Fact]
    public async Task A_truncated_gzip_file_fails_after_sending_its_whole_lines_and_concatenated_members_all_go()
    {
        const string header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";
        var vpc = header + "\n" + string.Concat(Enumerable.Range(0, 3000).Select(i =>
            $"2 123456789012 eni-{i:x8} 10.0.{i / 250}.{i % 250} 10.0.1.1 443 {40000 + i % 20000} 6 1 60 1700000000 1700000060 ACCEPT OK\n"));
        var whole = Gzip(vpc);
        var cut = Path.Combine(_dir.FullName, "cut.log.gz");
        File.WriteAllBytes(cut, whole.AsSpan(0, whole.Length / 2).ToArray());
        // What .NET's GZipStream yields up to the cut: the whole lines in it are the ones that should still go.
        using var partial = new MemoryStream();
        using (var quiet = new GZipStream(new MemoryStream(whole, 0, whole.Length / 2), CompressionMode.Decompress)) quiet.CopyTo(partial);
        int recordsBeforeCut = Encoding.ASCII.GetString(partial.ToArray()).Split('\n').Length - 2; // minus the header and the cut line
        var members = Path.Combine(_dir.FullName, "members.log.gz");
        File.WriteAllBytes(members, [.. Gzip("one\ntwo\n"), .. Gzip("three\n")]);

        using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Topics = [Topic] });
        var log = new StringWriter();
        var counts = await new FlowFileProducer(KafkaTestClients.Options(cluster, Topic), LineOriented, log).ProduceAsync([cut, members]);

        Assert.Equal(1, counts.Files);
        Assert.Equal(1, counts.Failed);
        Assert.Contains("cut.log.gz: truncated: the gzip stream ended before its trailer", log.ToString());
        int vpcMessages = (recordsBeforeCut + FlowFileProducer.VpcLinesPerMessage - 1) / FlowFileProducer.VpcLinesPerMessage;
        var received = ConsumeAll(cluster, 3 + vpcMessages).Select(r => Encoding.ASCII.GetString(r.Message.Value)).ToList();
        Assert.Equal(["one", "three", "two"], received.Where(v => !v.StartsWith("version", StringComparison.Ordinal)).Order());
        Assert.Equal(recordsBeforeCut, received.Where(v => v.StartsWith("version", StringComparison.Ordinal)).Sum(v => v.Split('\n').Length - 1));
    }

    /// <summary>AWS VPC flow logs delivered as Parquet: the rows go as VPC text batches, header first.</summary>
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

    private static byte[] Gzip(string text)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest)) gzip.Write(Encoding.ASCII.GetBytes(text));
        return output.ToArray();
    }

    [Fact]
    public async Task Undeliverable_messages_are_counted_as_failed_not_lost_silently()
    {
        var file = Write("a.log", "one\ntwo\n");
        var kafka = new KafkaOptions { Brokers = "127.0.0.1:1", Topic = Topic };
        kafka.AddProperty("message.timeout.ms=1500");

        var counts = await new FlowFileProducer(kafka, LineOriented).ProduceAsync([file]);

        Assert.Equal(0, counts.Delivered);
        Assert.Equal(2, counts.Failed);
    }

    [Fact]
    public async Task Vpc_files_without_start_and_end_are_sent_with_the_delivery_paths_time_added_and_one_without_any_time_is_refused()
    {
        // A custom format (as transit gateway and NAT gateway logs are often configured) without start/end.
        const string header = "version account-id srcaddr dstaddr srcport dstport protocol packets bytes log-status";
        var dated = Path.Combine(_dir.FullName, "AWSLogs", "123456789012", "vpcflowlogs", "us-east-1", "2026", "11", "02");
        Directory.CreateDirectory(dated);
        var datedFile = Path.Combine(dated, "123456789012_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f6a7b8_20261102T1005Z_3f2a1b4c.log");
        File.WriteAllText(datedFile, header + "\n6 123456789012 10.1.2.3 10.2.3.4 44321 443 6 12 4380 OK\n");
        var undated = Write("tgw.log", header + "\n6 123456789012 10.1.2.3 10.2.3.4 44322 443 6 1 60 OK\n");

        using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Topics = [Topic] });
        var log = new StringWriter();
        var producer = new FlowFileProducer(KafkaTestClients.Options(cluster, Topic), LineOriented, log);
        var refused = await Assert.ThrowsAsync<FlowPolicy.Ingest.Files.FlowFileException>(() => producer.ProduceAsync([undated, datedFile]));

        Assert.Contains("tgw.log", refused.Message);
        Assert.Contains("--time", refused.Message);
        Assert.Contains("from the delivery file's name", log.ToString());
        // The file after the refused one still went, with start and end the consumer can read without the path.
        var message = Encoding.ASCII.GetString(Assert.Single(ConsumeAll(cluster, 1)).Message.Value);
        long seconds = new DateTimeOffset(2026, 11, 2, 10, 5, 0, TimeSpan.Zero).ToUnixTimeSeconds();
        Assert.Equal($"{header} start end\n6 123456789012 10.1.2.3 10.2.3.4 44321 443 6 12 4380 OK {seconds} {seconds}", message);
        var cursor = new FlowPolicy.Ingest.Formats.DecodeCursor("kafka flows[0]@0");
        var collect = new Collect();
        new FlowPolicy.Ingest.Formats.Vpc.AwsVpcFlowLogDecoder().Decode(Encoding.ASCII.GetBytes(message), ref cursor, collect);
        Assert.Equal(new DateTime(2026, 11, 2, 10, 5, 0, DateTimeKind.Utc), Assert.Single(collect.Starts));
    }

    private sealed class Collect : FlowPolicy.Ingest.Formats.IFlowSink
    {
        public List<DateTime> Starts { get; } = [];
        public void Accept(in FlowPolicy.Core.Flows.FlowRecord flow) => Starts.Add(flow.Start);
        public void Reject(FlowPolicy.Ingest.Formats.FlowDecodeError error) => throw new InvalidOperationException(error.ToString());
        public void Skip(string reason, FlowPolicy.Ingest.Formats.SourcePosition position) => throw new InvalidOperationException(reason);
    }

    private string Write(string name, string content)
    {
        var path = Path.Combine(_dir.FullName, name);
        File.WriteAllText(path, content);
        return path;
    }

    private static List<ConsumeResult<byte[], byte[]>> ConsumeAll(MockKafkaCluster cluster, int expected)
    {
        using var consumer = KafkaTestClients.Consumer(cluster, "g-check");
        consumer.Subscribe(Topic);
        var results = KafkaTestClients.ConsumeAtLeast(consumer, expected + 1, TimeSpan.FromSeconds(8));
        consumer.Close();
        Assert.Equal(expected, results.Count);
        return results;
    }
}
