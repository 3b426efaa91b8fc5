using System.Buffers;
using System.Globalization;
using FlowPolicy.Ingest.Files.Internal;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Vpc;

namespace FlowPolicy.Ingest.Files;

/// <summary>What reading one file found.</summary>
/// <param name="Note">Something the user should know about how it was read (the time given to AWS VPC records without start/end).</param>
/// <param name="Parquet">An AWS VPC flow log delivered as Parquet (<see cref="Format"/> is then <see cref="FlowFormat.AwsVpc"/>).</param>
public sealed record FlowFileSummary(string Path, FlowFormat Format, bool Gzip, long Bytes, string? Note = null, bool Parquet = false);

/// <summary>A file that cannot be read, or not to its end (missing, unreadable, unknown format, gzip cut short or corrupt): a usage
/// error, not a bad record. Records read before a break have already reached the sink.</summary>
public sealed class FlowFileException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Reads flow log files of any supported format, gzip-compressed or not, and feeds their records to a sink.
/// Line-oriented formats are streamed in chunks of whole lines, so file size is not bounded by memory;
/// document formats (Azure, a GCP JSON array) are decoded whole.
/// </summary>
public sealed class FlowFileReader
{
    private const int ChunkBytes = 1 << 20;
    private readonly FlowFormat? _forcedFormat;
    private readonly AwsVpcFlowLogDecoder? _vpcWithTime;

    /// <param name="forcedFormat">Decode every file as this format instead of detecting it.</param>
    /// <param name="recordTime">
    /// The time of AWS VPC records whose format has no start/end (<c>--time</c>); null to take it from each file's S3
    /// delivery path, and a file whose path holds none is a <see cref="FlowFileException"/>.
    /// </param>
    public FlowFileReader(FlowFormat? forcedFormat = null, DateTime? recordTime = null)
    {
        _forcedFormat = forcedFormat;
        if (recordTime is not null) _vpcWithTime = new AwsVpcFlowLogDecoder(null, recordTime);
    }

    private FlowDecoder DecoderFor(FlowFormat format) =>
        format == FlowFormat.AwsVpc && _vpcWithTime is not null ? _vpcWithTime : FlowDecoders.For(format);

    /// <summary>Stops on a file-level problem the decoder found (VPC records without any time); else its note, if any.</summary>
    private static string? CheckFile(string source, in DecodeCursor cursor)
    {
        var (note, problem) = AwsVpcFlowLogDecoder.FileTimeStatus(cursor.State);
        if (problem is not null) throw new FlowFileException($"'{source}': {problem}");
        return note;
    }

    public FlowFileSummary Read(string path, IFlowSink sink, CancellationToken cancellationToken = default)
    {
        Stream file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new FlowFileException($"cannot read flow file '{path}': {ex.Message}", ex);
        }
        using (file)
        {
            return Read(file, path, sink, cancellationToken);
        }
    }

    /// <summary>Reads one stream; <paramref name="source"/> names it in error positions.</summary>
    /// <exception cref="FlowFileException">The stream cannot be read as flows: unknown format, or gzip that is corrupt or
    /// cut short. Records before the break have been given to <paramref name="sink"/>.</exception>
    public FlowFileSummary Read(Stream stream, string source, IFlowSink sink, CancellationToken cancellationToken = default)
    {
        long? start = stream.CanSeek ? stream.Position : null;
        var counting = new CountingStream(stream);
        Span<byte> magic = stackalloc byte[4];
        int magicRead = ReadAtLeast(counting, magic);
        bool gzip = magicRead >= 2 && magic[0] == 0x1f && magic[1] == 0x8b;
        bool parquet = FlowFormatDetector.IsParquet(magic[..magicRead]);
        // Parquet: AWS VPC flow logs delivered as Parquet, read as the text records they hold (VpcParquetTextStream).
        Stream input = parquet ? OpenParquet(stream, start, source) : new PrefixedStream(magic[..magicRead].ToArray(), counting);
        // Not GZipStream: it ends quietly where a file is cut short, and a partial file would pass for a whole one.
        if (gzip) input = new CheckedGzipStream(input);

        byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes + FlowFormatDetector.HeadBytes);
        // A Parquet file's text starts with the header it is given: line 0, so that lines are row numbers.
        var cursor = new DecodeCursor(source, firstLine: parquet ? 0 : 1);
        try
        {
            int filled = Fill(input, buffer, 0, FlowFormatDetector.HeadBytes, out var broken);
            var head = buffer.AsSpan(0, filled);
            FlowFormat? detected = parquet ? FlowFormat.AwsVpc : _forcedFormat ?? FlowFormatDetector.Detect(head);
            if (detected is null && broken is not null) throw GzipError(source, broken, cursor, counting);
            if (detected is null && FlowFormatDetector.IsParquet(head))
                throw new FlowFileException($"'{source}' is a gzip-compressed Parquet file: Parquet is read from its footer, so decompress it first (gunzip), then rerun");
            FlowFormat format = detected
                ?? throw new FlowFileException(filled == 0
                    ? $"'{source}' is empty: no flow records to read"
                    : $"cannot tell the flow format of '{source}'; pass --format ({FlowFormats.NameList})");
            var decoder = DecoderFor(format);
            if (!decoder.IsLineOriented(head))
            {
                // A document is decoded whole, so a broken one yields nothing.
                if (broken is not null) throw GzipError(source, broken, cursor, counting);
                var whole = ReadAll(input, buffer, filled, source, cursor, counting);
                decoder.Decode(whole.Span, ref cursor, sink);
                return new FlowFileSummary(source, format, gzip, counting.BytesRead, CheckFile(source, cursor));
            }
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (broken is null) filled = Fill(input, buffer, filled, buffer.Length - filled, out broken);
                if (broken is not null)
                {
                    // Keep every whole line before the break; the cut line is part of the error, not a malformed record.
                    int whole = buffer.AsSpan(0, filled).LastIndexOf((byte)'\n') + 1;
                    if (whole > 0) decoder.Decode(buffer.AsSpan(0, whole), ref cursor, sink);
                    throw GzipError(source, broken, cursor, counting);
                }
                if (filled == 0) break;
                var span = buffer.AsSpan(0, filled);
                int lastNewline = span.LastIndexOf((byte)'\n');
                bool atEnd = filled < buffer.Length;
                if (lastNewline < 0 && !atEnd)
                {
                    // One line longer than the buffer: no real flow record is; report and skip it.
                    sink.Reject(new FlowDecodeError(cursor.At(cursor.Line), $"line longer than {buffer.Length} bytes", null));
                    filled = SkipToNewline(input, buffer, source, cursor, counting);
                    cursor.Line++;
                    continue;
                }
                int take = atEnd ? filled : lastNewline + 1;
                decoder.Decode(span[..take], ref cursor, sink);
                CheckFile(source, cursor);
                int rest = filled - take;
                if (rest > 0) Buffer.BlockCopy(buffer, take, buffer, 0, rest);
                filled = rest;
                if (atEnd && rest == 0) break;
            }
            // A Parquet file is read from its footer and only the columns needed: its size is what it adds to progress.
            long bytes = parquet ? stream.Length - start!.Value : counting.BytesRead;
            return new FlowFileSummary(source, format, gzip, bytes, CheckFile(source, cursor), parquet);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (gzip || parquet) input.Dispose();
        }
    }

    /// <summary>The rows of a Parquet file as VPC text records; Parquet is read from its footer, so not from a pipe.</summary>
    private Stream OpenParquet(Stream stream, long? start, string source)
    {
        if (start is not { } at)
            throw new FlowFileException($"'{source}' is a Parquet file read from a pipe: Parquet is read from its footer, so save it to a file first, then rerun");
        if (_forcedFormat is { } forced && forced != FlowFormat.AwsVpc)
            throw new FlowFileException($"'{source}' is a Parquet file: Parquet is read as AWS VPC flow logs only, not as --format {FlowFormats.Name(forced)}; " +
                                        "leave --format out or pass --format vpc");
        stream.Position = at;
        return VpcParquetTextStream.Open(stream, source);
    }

    /// <summary>Fills up to <paramref name="count"/> bytes; a gzip error stops the fill and comes back in <paramref name="broken"/>
    /// with the bytes decompressed before it in the buffer.</summary>
    private static int Fill(Stream input, byte[] buffer, int offset, int count, out Exception? broken)
    {
        int total = offset;
        int end = offset + count;
        broken = null;
        try
        {
            while (total < end)
            {
                int read = input.Read(buffer, total, end - total);
                if (read == 0) break;
                total += read;
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or TruncatedGzipException or VpcParquetDataException)
        {
            broken = ex;
        }
        return total;
    }

    /// <summary>The error for a stream that breaks off (gzip cut short or corrupt, a Parquet row group that cannot be read): which file,
    /// what is wrong, how far it got, what to do.</summary>
    private static FlowFileException GzipError(string source, Exception ex, DecodeCursor cursor, CountingStream counting)
    {
        if (ex is VpcParquetDataException)
        {
            // Lines are rows in a Parquet file (its header is line 0).
            return new FlowFileException(
                $"'{source}' is not a readable Parquet file: {ex.Message}; the {N(Math.Max(0, cursor.Line - 1))} rows before it were read. " +
                "The file is corrupt or was cut short: copy it again, then rerun.", ex);
        }
        long lines = cursor.Line - 1;
        string reached = lines == 0 ? "no whole line came before the break" : $"it breaks off after line {N(lines)}";
        if (ex is TruncatedGzipException cut)
        {
            return new FlowFileException(
                $"'{source}' is truncated: its gzip stream ended before its trailer (member {cut.Member} is cut off in its {PartName(cut.Part)} " +
                $"after {N(cut.CompressedBytes)} bytes of the file, {N(cut.DecompressedBytes)} bytes decompressed); {reached}, and whatever followed is missing. " +
                "Download or copy the file again, or wait for its upload to finish, then rerun.", ex);
        }
        return new FlowFileException(
            $"'{source}' is not valid gzip past byte {N(counting.BytesRead)} of the file: {ex.Message}; {reached}. Check the file with gzip -t.", ex);
    }

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string PartName(GzipPart part) => part switch
    {
        GzipPart.Header => "header",
        GzipPart.CompressedData => "compressed data",
        _ => "8-byte trailer",
    };

    private static ReadOnlyMemory<byte> ReadAll(Stream input, byte[] head, int headLength, string source, DecodeCursor cursor, CountingStream counting)
    {
        var all = new MemoryStream();
        all.Write(head, 0, headLength);
        try
        {
            input.CopyTo(all);
        }
        catch (Exception ex) when (ex is InvalidDataException or TruncatedGzipException or VpcParquetDataException)
        {
            throw GzipError(source, ex, cursor, counting);
        }
        return all.GetBuffer().AsMemory(0, (int)all.Length);
    }

    private static int SkipToNewline(Stream input, byte[] buffer, string source, DecodeCursor cursor, CountingStream counting)
    {
        while (true)
        {
            int filled = Fill(input, buffer, 0, buffer.Length, out var broken);
            if (broken is not null) throw GzipError(source, broken, cursor, counting);
            if (filled == 0) return 0;
            int newline = buffer.AsSpan(0, filled).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                int rest = filled - newline - 1;
                Buffer.BlockCopy(buffer, newline + 1, buffer, 0, rest);
                return rest;
            }
        }
    }

    private static int ReadAtLeast(Stream stream, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int read = stream.Read(buffer[total..]);
            if (read == 0) break;
            total += read;
        }
        return total;
    }

    /// <summary>Gives back the bytes read to sniff the gzip magic, then the rest of the stream.</summary>
    private sealed class PrefixedStream(byte[] prefix, Stream inner) : ReadOnlyStream
    {
        private int _position;

        public override int Read(Span<byte> buffer)
        {
            if (_position < prefix.Length)
            {
                int n = Math.Min(buffer.Length, prefix.Length - _position);
                prefix.AsSpan(_position, n).CopyTo(buffer);
                _position += n;
                return n;
            }
            return inner.Read(buffer);
        }
    }

    /// <summary>Counts bytes read from the underlying file, for progress and summaries.</summary>
    private sealed class CountingStream(Stream inner) : ReadOnlyStream
    {
        public long BytesRead { get; private set; }

        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer);
            BytesRead += n;
            return n;
        }

        public override long Length => inner.Length;
        public override long Position { get => BytesRead; set => throw new NotSupportedException(); }
    }
}
