using System.CommandLine;
using System.Globalization;
using FlowPolicy.Cli.Terminal;
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
        var properties = ServerOptions.KafkaProperties();
        var connectTimeout = new Option<double>("--connect-timeout")
        {
            Description = "Seconds to wait for the brokers to answer before anything is sent (exit 3 when they do not).",
            DefaultValueFactory = _ => 10,
        };
        var command = new Command("produce",
            "Send flow log files to Kafka: one message per record for line formats, one per document for Azure/GCP documents, " +
            $"and AWS VPC files with a header line as batches of {FlowFileProducer.VpcLinesPerMessage} records, each message starting with the header.\n\n" +
            "Examples:\n" +
            "  flowpolicy produce --brokers 127.0.0.1:39092 --topic flows vpc.log.gz hubble.json\n" +
            "  flowpolicy produce --brokers kafka:9093 --kafka-property security.protocol=SASL_SSL --kafka-property sasl.mechanism=SCRAM-SHA-512 \\\n" +
            "      --kafka-property sasl.username=flowpolicy --kafka-property sasl.password=@/run/secrets/kafka flows/*.jsonl")
        {
            files, brokers, topic, format, properties, connectTimeout,
        };
        command.SetAction(parse =>
        {
            var paths = parse.GetValue(files) ?? [];
            CommonOptions.RequireFiles(paths, "FILE");
            var kafka = ServerOptions.Kafka(parse.GetValue(brokers)!, parse.GetValue(topic)!, null, parse.GetValue(properties));
            var forced = CommonOptions.ParseFormat(parse.GetValue(format));
            foreach (var path in paths) RequireUsableRecords(path, forced);
            double timeout = parse.GetValue(connectTimeout);
            if (timeout is <= 0 or > 3600) throw new UsageException("--connect-timeout must be above 0 and at most 3600 seconds");
            if (KafkaBrokerCheck.Problem(kafka, TimeSpan.FromSeconds(timeout)) is { } problem)
                throw new RuntimeFailureException(string.Create(CultureInfo.InvariantCulture,
                    $"Kafka brokers {kafka.Brokers} did not answer within {timeout:0.#} s: {problem}; nothing was sent. Check --brokers and the security settings (--kafka-property security.protocol=...)"));
            Func<ReadOnlySpan<byte>, bool> lineOriented = forced is { } f
                ? FlowDecoders.For(f).IsLineOriented
                : head => FlowFormatDetector.Detect(head) is not { } detected || FlowDecoders.For(detected).IsLineOriented(head);
            var producer = new FlowFileProducer(kafka, lineOriented, Console.Error);
            using var signal = ServerOptions.OnStopSignal();
            ProduceCounts counts;
            bool interrupted = false;
            try
            {
                counts = producer.ProduceAsync(paths, signal.Token).GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                counts = producer.Counts;
                interrupted = true;
                Console.Error.WriteLine("flowpolicy: stopped before every file was sent");
            }
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"flowpolicy: {counts.Delivered} messages ({counts.DeliveredBytes} bytes) delivered to {kafka.Topic} from {counts.Files} files; " +
                $"{counts.Failed} failed, {counts.TooLarge} too large, {counts.BlankLinesSkipped} blank lines skipped"));
            // Interrupted is never success: the files were not all sent (a script must not go on as if they were).
            return interrupted ? ExitCodes.Interrupted : counts.Failed > 0 ? ExitCodes.RuntimeError : ExitCodes.Success;
        });
        return command;
    }

    /// <summary>
    /// Decodes <paramref name="path"/> until its first good record: a file whose every record is malformed (the wrong
    /// file, the wrong --format) is exit 2 before the brokers are asked, not a topic full of dead letters. A good file
    /// costs its first chunk.
    /// </summary>
    internal static void RequireUsableRecords(string path, Ingest.Formats.FlowFormat? format)
    {
        using var sink = new FirstRecordSink();
        try
        {
            new Ingest.Files.FlowFileReader(format).Read(path, sink, sink.Found);
        }
        catch (OperationCanceledException) when (sink.Found.IsCancellationRequested)
        {
            return;
        }
        catch (Ingest.Files.FlowFileException e)
        {
            throw new UsageException(e.Message);
        }
        if (sink.Accepted > 0 || sink.Rejected == 0) return;
        throw new UsageException(string.Create(CultureInfo.InvariantCulture,
            $"every one of the {sink.Rejected} records in '{path}' is malformed, so nothing was sent; the first: {sink.First}. ") +
            (format is null ? "Are these flow log files?" : "Is --format right for this file? Leave it out to detect the format."));
    }

    private sealed class FirstRecordSink : Ingest.Formats.IFlowSink, IDisposable
    {
        private readonly CancellationTokenSource _found = new();
        public CancellationToken Found => _found.Token;
        public long Accepted, Rejected;
        public Ingest.Formats.FlowDecodeError? First;

        public void Accept(in Core.Flows.FlowRecord flow)
        {
            Accepted++;
            _found.Cancel(); // one good record is enough: stop reading at the next chunk
        }

        public void Reject(Ingest.Formats.FlowDecodeError error)
        {
            Rejected++;
            First ??= error;
        }

        public void Skip(string reason, Ingest.Formats.SourcePosition position) { }

        public void Dispose() => _found.Dispose();
    }
}
