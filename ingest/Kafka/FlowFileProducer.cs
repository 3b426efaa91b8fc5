using System.Buffers;
using System.Buffers.Binary;
using Confluent.Kafka;
using FlowPolicy.Ingest.Files;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Vpc;

namespace FlowPolicy.Ingest.Kafka;

/// <summary>What <see cref="FlowFileProducer"/> did. Delivered counts only messages the brokers acknowledged.</summary>
public readonly record struct ProduceCounts(
    long Files,
    long Delivered,
    long DeliveredBytes,
    long Failed,
    long BlankLinesSkipped,
    long TooLarge);

/// <summary>
/// Sends flow log files to a Kafka topic, the body of <c>flowpolicy produce</c>. Line-oriented payloads (as the
/// format's <see cref="FlowDecoder.IsLineOriented"/> says from the file's head) go one line per message; documents
/// (Azure JSON, a GCP JSON array) one file per message. AWS VPC files that start with a header line (custom formats:
/// the header says which field is which) go as batches of up to <see cref="VpcLinesPerMessage"/> records, each batch
/// prefixed with the header, so every message decodes on its own. gzip files are read decompressed. Each message is keyed by
/// a hash of its bytes so records spread over partitions; at most <c>maxInFlight</c> messages await their delivery
/// report at once, and <see cref="ProduceAsync"/> returns after every report is in.
/// </summary>
public sealed class FlowFileProducer
{
    public const int DefaultMaxInFlight = 10_000;
    /// <summary>Kafka's default message.max.bytes; larger records or documents are counted as too large, not sent.</summary>
    public const int DefaultMaxMessageBytes = 1_000_000;

    /// <summary>Records per message for VPC files with a header line (each message repeats the header).</summary>
    public const int VpcLinesPerMessage = 500;

    private const int HeadBytes = 4096;
    private const int MaxLoggedErrors = 10;

    private readonly KafkaOptions _kafka;
    private readonly Func<ReadOnlySpan<byte>, bool> _isLineOriented;
    private readonly int _maxMessageBytes;
    private readonly TextWriter? _log;
    private readonly SemaphoreSlim _inFlight;
    private readonly Action<DeliveryReport<byte[], byte[]>> _onDelivery;

    private long _files, _delivered, _deliveredBytes, _failed, _blank, _tooLarge, _pending, _errorsLogged;

    /// <param name="isLineOriented">The format's <see cref="FlowDecoder.IsLineOriented"/>, given a file's head.</param>
    /// <param name="log">Where errors go (the first few, then only counted); null for none.</param>
    public FlowFileProducer(
        KafkaOptions kafka,
        Func<ReadOnlySpan<byte>, bool> isLineOriented,
        TextWriter? log = null,
        int maxInFlight = DefaultMaxInFlight,
        int maxMessageBytes = DefaultMaxMessageBytes)
    {
        ArgumentNullException.ThrowIfNull(kafka);
        ArgumentNullException.ThrowIfNull(isLineOriented);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxInFlight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessageBytes, 1);
        _kafka = kafka;
        _isLineOriented = isLineOriented;
        _log = log;
        _maxMessageBytes = maxMessageBytes;
        _inFlight = new SemaphoreSlim(maxInFlight, maxInFlight);
        _onDelivery = OnDelivery;
    }

    public FlowFileProducer(KafkaOptions kafka, FlowDecoder decoder, TextWriter? log = null,
        int maxInFlight = DefaultMaxInFlight, int maxMessageBytes = DefaultMaxMessageBytes)
        : this(kafka, decoder.IsLineOriented, log, maxInFlight, maxMessageBytes)
    {
    }

    /// <summary>
    /// The time of AWS VPC records whose format has no start/end (<c>--time</c>); null takes it from each file's S3
    /// delivery path. Kafka messages carry no path, so such files are sent with <c>start</c> and <c>end</c> added to the
    /// header and to every record: each message decodes on its own, with the time said once here.
    /// </summary>
    public DateTime? RecordTime { get; init; }

    /// <summary>Counts so far; safe to read from another thread for progress.</summary>
    public ProduceCounts Counts => new(
        Interlocked.Read(ref _files), Interlocked.Read(ref _delivered), Interlocked.Read(ref _deliveredBytes),
        Interlocked.Read(ref _failed), Interlocked.Read(ref _blank), Interlocked.Read(ref _tooLarge));

    /// <summary>
    /// Sends every file, waits for all delivery reports, and returns the counts. On cancellation it stops reading,
    /// gives messages already sent up to 10 s to be delivered, and throws <see cref="OperationCanceledException"/>.
    /// Files that cannot be read are counted as failed and logged; the rest still go. A file that cannot be sent usefully
    /// (VPC records without start/end and no time for them) is logged, the rest still go, then its
    /// <see cref="FlowFileException"/> is thrown.
    /// </summary>
    public async Task<ProduceCounts> ProduceAsync(IEnumerable<string> paths, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        if (_kafka.Validate() is { } error)
        {
            throw new ArgumentException(error, nameof(paths));
        }
        using var producer = new ProducerBuilder<byte[], byte[]>(_kafka.ToProducerConfig())
            .SetErrorHandler((_, e) => { if (e.IsFatal) { LogError($"Kafka: {e.Reason}"); } })
            .SetLogHandler((_, _) => { }) // librdkafka's own chatter; errors arrive through the handlers
            .Build();
        FlowFileException? unusable = null;
        try
        {
            foreach (var path in paths)
            {
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    await ProduceFileAsync(producer, path, cancellationToken).ConfigureAwait(false);
                    Interlocked.Increment(ref _files);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
                {
                    Interlocked.Increment(ref _failed);
                    LogError($"{path}: {e.Message}");
                }
                catch (FlowFileException e)
                {
                    // A usage problem (VPC records without any time): the other files still go, then it is thrown.
                    LogError(e.Message);
                    unusable ??= e;
                }
            }
            producer.Flush(cancellationToken);
            while (Interlocked.Read(ref _pending) > 0)
            {
                await Task.Delay(5, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            producer.Flush(TimeSpan.FromSeconds(10));
            throw;
        }
        if (unusable is not null) throw unusable;
        return Counts;
    }

    private async Task ProduceFileAsync(IProducer<byte[], byte[]> producer, string path, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        var magic = new byte[4];
        int magicRead = await file.ReadAtLeastAsync(magic, magic.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        var gzipped = magicRead >= 2 && magic[0] == 0x1f && magic[1] == 0x8b;
        var parquet = FlowFormatDetector.IsParquet(magic.AsSpan(0, magicRead));
        // A pipe or device cannot be read twice (the head, then from the start): name it rather than fail on the seek.
        if (!file.CanSeek) throw new IOException("not a regular file (a pipe or device?); write the data to a file and produce that");
        file.Position = 0;
        // Not GZipStream: it ends quietly where a file is cut short, so half a file would be sent as if whole.
        // Parquet (AWS VPC flow logs delivered as Parquet): its rows go as the VPC text records they are, header first.
        await using Stream input = parquet ? VpcParquetTextStream.Open(file, path) : gzipped ? new CheckedGzipStream(file) : file;

        // The line reader owns the buffer from here on (it may swap it for a larger one) and returns it to the pool.
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
        int filled;
        bool lineOriented;
        try
        {
            filled = await input.ReadAtLeastAsync(buffer, HeadBytes, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            lineOriented = filled > 0 && _isLineOriented(buffer.AsSpan(0, filled));
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
        if (filled == 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        else if (lineOriented || parquet)
        {
            await ProduceLinesAsync(producer, input, buffer, filled, path, parquet, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            using var document = new MemoryStream();
            document.Write(buffer, 0, filled);
            ArrayPool<byte>.Shared.Return(buffer);
            await ProduceDocumentAsync(producer, input, document, path, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>True when the payload starts with an AWS VPC header line ("version account-id ... srcaddr dstaddr ...").</summary>
    internal static bool StartsWithVpcHeader(ReadOnlySpan<byte> head)
    {
        if (head.StartsWith("\uFEFF"u8)) head = head[3..];
        int newline = head.IndexOf((byte)'\n');
        var line = newline < 0 ? head : head[..newline];
        if (line.IsEmpty || line[0] is (byte)'{' or (byte)'[') return false;
        return (line.StartsWith("srcaddr "u8) || line.IndexOf(" srcaddr"u8) >= 0) && line.IndexOf(" dstaddr"u8) >= 0;
    }

    private async Task ProduceLinesAsync(IProducer<byte[], byte[]> producer, Stream input, byte[] buffer, int filled, string path, bool vpcHeader,
        CancellationToken cancellationToken)
    {
        var vpcBatch = vpcHeader || StartsWithVpcHeader(buffer.AsSpan(0, filled)) ? new VpcBatch(this, producer, path) : null;
        try
        {
            var skippingLongLine = false;
            long line = 1;
            while (true)
            {
                var start = 0;
                int newline;
                while ((newline = buffer.AsSpan(start, filled - start).IndexOf((byte)'\n')) >= 0)
                {
                    if (skippingLongLine)
                    {
                        skippingLongLine = false;
                    }
                    else
                    {
                        await SendLineAsync(producer, buffer.AsMemory(start, newline), path, line, vpcBatch, cancellationToken).ConfigureAwait(false);
                    }
                    start += newline + 1;
                    line++;
                }
                // Keep the partial last line at the front of the buffer, growing it up to the message size limit.
                var rest = filled - start;
                if (rest > _maxMessageBytes && !skippingLongLine)
                {
                    TooLarge($"{path}:{line}: line longer than {_maxMessageBytes} bytes, not sent");
                    skippingLongLine = true;
                }
                if (skippingLongLine)
                {
                    rest = 0;
                }
                else if (start > 0)
                {
                    buffer.AsSpan(start, rest).CopyTo(buffer);
                }
                else if (rest == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, rest).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
                filled = rest;
                int read;
                try
                {
                    read = await input.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when ((e is InvalidDataException or EndOfStreamException or VpcParquetDataException) && vpcBatch is not null)
                {
                    // gzip cut short or corrupt: the whole lines before the break still go, then the file counts as failed.
                    await vpcBatch!.SendAsync(cancellationToken).ConfigureAwait(false);
                    throw;
                }
                if (read == 0)
                {
                    if (filled > 0 && !skippingLongLine)
                    {
                        await SendLineAsync(producer, buffer.AsMemory(0, filled), path, line, vpcBatch, cancellationToken).ConfigureAwait(false);
                    }
                    if (vpcBatch is not null)
                    {
                        await vpcBatch.SendAsync(cancellationToken).ConfigureAwait(false);
                    }
                    return;
                }
                filled += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task SendLineAsync(IProducer<byte[], byte[]> producer, ReadOnlyMemory<byte> line, string path, long lineNumber, VpcBatch? vpcBatch,
        CancellationToken cancellationToken)
    {
        if (line.Span.TrimEnd((byte)'\r').Trim(" \t"u8).IsEmpty)
        {
            Interlocked.Increment(ref _blank);
            return;
        }
        var value = line.Span.TrimEnd((byte)'\r');
        if (value.Length > _maxMessageBytes)
        {
            TooLarge($"{path}:{lineNumber}: line longer than {_maxMessageBytes} bytes, not sent");
            return;
        }
        if (vpcBatch is not null)
        {
            await vpcBatch.AddAsync(value.ToArray(), cancellationToken).ConfigureAwait(false);
            return;
        }
        await SendAsync(producer, value.ToArray(), path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Gathers a VPC file's records into messages that each start with the file's header line.</summary>
    private sealed class VpcBatch(FlowFileProducer owner, IProducer<byte[], byte[]> producer, string path)
    {
        private readonly MemoryStream _message = new();
        private byte[]? _header;
        private int _lines;

        private byte[] _timeSuffix = [];

        public async Task AddAsync(byte[] line, CancellationToken cancellationToken)
        {
            if (_header is null)
            {
                _header = line; // the first non-blank line is the header (StartsWithVpcHeader said so)
                AddTimesIfMissing();
                return;
            }
            if (_lines > 0 && (_lines >= VpcLinesPerMessage || _message.Length + line.Length + _timeSuffix.Length + 1 > owner._maxMessageBytes))
            {
                await SendAsync(cancellationToken).ConfigureAwait(false);
            }
            if (_lines == 0)
            {
                _message.SetLength(0);
                _message.Write(_header);
            }
            _message.WriteByte((byte)'\n');
            _message.Write(line);
            _message.Write(_timeSuffix);
            _lines++;
        }

        /// <summary>
        /// A format without start/end: the time from --time or the delivery path goes into every record as start and
        /// end, since the consumer will not see the path. Neither known: the file cannot be sent usefully.
        /// </summary>
        private void AddTimesIfMissing()
        {
            var layout = Formats.Vpc.VpcFlowLogLayout.Parse(System.Text.Encoding.ASCII.GetString(_header!));
            if (layout is null || layout.HasTimes) return;
            if (!VpcRecordTime.TryResolve(owner.RecordTime, path, out var time, out var origin))
                throw new FlowFileException($"'{path}': {VpcRecordTime.Remedy}");
            long seconds = new DateTimeOffset(time, TimeSpan.Zero).ToUnixTimeSeconds();
            _header = [.. _header!, .. " start end"u8];
            _timeSuffix = System.Text.Encoding.ASCII.GetBytes(string.Create(System.Globalization.CultureInfo.InvariantCulture, $" {seconds} {seconds}"));
            owner._log?.WriteLine($"flowpolicy: {path}: {VpcRecordTime.Describe(time, origin)}; sent with start and end added");
        }

        public async Task SendAsync(CancellationToken cancellationToken)
        {
            if (_lines == 0) return;
            _lines = 0;
            await owner.SendAsync(producer, _message.ToArray(), path, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ProduceDocumentAsync(IProducer<byte[], byte[]> producer, Stream input, MemoryStream document, string path, CancellationToken cancellationToken)
    {
        var chunk = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            int read;
            while (document.Length <= _maxMessageBytes &&
                   (read = await input.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                document.Write(chunk, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
        if (document.Length > _maxMessageBytes)
        {
            TooLarge($"{path}: document larger than {_maxMessageBytes} bytes, not sent (raise message.max.bytes on producer and broker)");
            return;
        }
        await SendAsync(producer, document.ToArray(), path, cancellationToken).ConfigureAwait(false);
    }

    private async Task SendAsync(IProducer<byte[], byte[]> producer, byte[] value, string path, CancellationToken cancellationToken)
    {
        await _inFlight.WaitAsync(cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _pending);
        try
        {
            producer.Produce(_kafka.Topic, new Message<byte[], byte[]> { Key = KeyOf(value), Value = value }, _onDelivery);
        }
        catch (ProduceException<byte[], byte[]> e)
        {
            Completed();
            Interlocked.Increment(ref _failed);
            LogError($"{path}: {e.Error.Reason}");
        }
    }

    private void OnDelivery(DeliveryReport<byte[], byte[]> report)
    {
        if (report.Error.IsError)
        {
            Interlocked.Increment(ref _failed);
            LogError($"delivery to {report.Topic} failed: {report.Error.Reason}");
        }
        else
        {
            Interlocked.Increment(ref _delivered);
            Interlocked.Add(ref _deliveredBytes, report.Message.Value.Length);
        }
        Completed();
    }

    private void Completed()
    {
        Interlocked.Decrement(ref _pending);
        _inFlight.Release();
    }

    /// <summary>64-bit FNV-1a of the value: deterministic, so a re-sent file lands on the same partitions.</summary>
    internal static byte[] KeyOf(ReadOnlySpan<byte> value)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in value)
        {
            hash = (hash ^ b) * 1099511628211UL;
        }
        var key = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(key, hash);
        return key;
    }

    private void TooLarge(string message)
    {
        Interlocked.Increment(ref _tooLarge);
        LogError(message);
    }

    private void LogError(string message)
    {
        if (_log is null)
        {
            return;
        }
        var logged = Interlocked.Increment(ref _errorsLogged);
        if (logged <= MaxLoggedErrors)
        {
            lock (_log)
            {
                _log.WriteLine(logged == MaxLoggedErrors ? $"{message} (further errors only counted)" : message);
            }
        }
    }
}
