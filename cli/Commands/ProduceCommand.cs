using System.CommandLine;
using System.Globalization;
using FlowPolicy.Cli.Terminal;
using FlowPolicy.Ingest.Files;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Kafka;

namespace FlowPolicy.Cli.Commands;

/// <summary>`flowpolicy produce`: send flow files to a Kafka topic.</summary>
internal static class ProduceCommand
{
    public static Command Create()
    {
        var files = new Argument<string[]>("FILE") { Description = "Flow log files (any supported format, optionally gzip-compressed).", Arity = ArgumentArity.OneOrMore };
        var brokers = ServerOptions.Brokers();
        var topic = ServerOptions.Topic();
        var format = CommonOptions.Format();
        var recordTime = CommonOptions.RecordTime();
        var properties = ServerOptions.KafkaProperties();
        var command = new Command("produce",
            "Send flow log files to Kafka: one message per record for line formats, one per document for Azure/GCP documents, " +
            $"and AWS VPC files with a header line as batches of {FlowFileProducer.VpcLinesPerMessage} records, each message starting with the header.\n\n" +
            "Examples:\n" +
            "  flowpolicy produce --brokers 127.0.0.1:39092 --topic flows vpc.log.gz hubble.json\n" +
            "  flowpolicy produce --brokers kafka:9093 --kafka-property security.protocol=SASL_SSL --kafka-property sasl.mechanism=SCRAM-SHA-512 \\\n" +
            "      --kafka-property sasl.username=flowpolicy --kafka-property sasl.password=@/run/secrets/kafka flows/*.jsonl")
        {
            files, brokers, topic, format, recordTime, properties,
        };
        command.SetAction(parse =>
        {
            var paths = parse.GetValue(files) ?? [];
            CommonOptions.RequireFiles(paths, "FILE");
            var kafka = ServerOptions.Kafka(parse.GetValue(brokers)!, parse.GetValue(topic)!, null, parse.GetValue(properties));
            var forced = CommonOptions.ParseFormat(parse.GetValue(format));
            Func<ReadOnlySpan<byte>, bool> lineOriented = forced is { } f
                ? FlowDecoders.For(f).IsLineOriented
                : head => FlowFormatDetector.Detect(head) is not { } detected || FlowDecoders.For(detected).IsLineOriented(head);
            var producer = new FlowFileProducer(kafka, lineOriented, Console.Error)
            {
                RecordTime = CommonOptions.ParseTime(parse.GetValue(recordTime), "--time"),
            };
            using var signal = ServerOptions.OnStopSignal();
            ProduceCounts counts;
            try
            {
                counts = producer.ProduceAsync(paths, signal.Token).GetAwaiter().GetResult();
            }
            catch (FlowFileException ex)
            {
                throw new UsageException(ex.Message + " (the other files were sent)");
            }
            catch (OperationCanceledException)
            {
                counts = producer.Counts;
                Console.Error.WriteLine("flowpolicy: stopped before every file was sent");
            }
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"flowpolicy: {counts.Delivered} messages ({counts.DeliveredBytes} bytes) delivered to {kafka.Topic} from {counts.Files} files; " +
                $"{counts.Failed} failed, {counts.TooLarge} too large, {counts.BlankLinesSkipped} blank lines skipped"));
            return counts.Failed > 0 ? ExitCodes.RuntimeError : ExitCodes.Success;
        });
        return command;
    }
}
