using System.Buffers;
using System.Globalization;
using FlowPolicy.Ingest.Files.Internal;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Vpc;

namespace FlowPolicy.Ingest.Files;

/// <summary>What a <see cref="FlowChunkReader"/> hands out: whole lines of one source (or a whole document), or a line it had to skip.</summary>
internal sealed class FlowChunk
{
    /// <summary>A pooled buffer; <see cref="Length"/> bytes of it are the payload. Give it back with <see cref="Release"/>.</summary>
    public byte[]? Buffer;
    public int Length;
    /// <summary>Line number of the payload's first line in its source.</summary>
    public long FirstLine;
    /// <summary>What the source said before the payload (<see cref="FlowDecoder.StateAfter"/>: the VPC header), when the reader carries it.</summary>
    public object? State;
    /// <summary>A line the reader could not hand out (longer than a chunk): rejected in its place, in order.</summary>
    public FlowDecodeError? Rejection;
    /// <summary>Bytes of the underlying file read for this chunk (compressed bytes for gzip): progress.</summary>
    public long FileBytes;

    public ReadOnlySpan<byte> Payload => Buffer.AsSpan(0, Length);

    public void Release()
    {
        if (Buffer is not null) ArrayPool<byte>.Shared.Return(Buffer);
        Buffer = null;
    }
}

/// <summary>
/// Cuts one source into chunks of whole lines (or one chunk for a document format), undoing gzip and detecting the
/// format from the first 64 KiB. The one home of how a flow file is split; <see cref="FlowFileReader"/> decodes the
/// chunks as they come, <see cref="ParallelFlowFileReader"/> hands them to several threads. Each chunk holds the
/// line numbers and, for formats whose state describes the source (the VPC header), the state it starts with, so a
/// chunk decodes the same on any thread as it would in order. Not thread-safe: one caller at a time.
/// </summary>
internal sealed class FlowChunkReader : IDisposable
{
    internal const int ChunkBytes = 1 << 20;
    private readonly string _source;
    private readonly CountingStream _counting;
    private readonly Stream _input;
    private readonly bool _gzip;
    private byte[]? _carry;
    private int _carried;
    private long _line = 1;
    private long _fileBytesReported;
    private object? _state;
    private Exception? _broken;
    private bool _done;
    private readonly bool _document;
    private readonly Stream? _stream;
    private readonly int _bufferBytes;
    private readonly int _chunkBytes;
    private readonly bool _carryStates;
    // A Parquet file's rows as VPC text (null for any other file), and the file's size: what it adds to progress.
    private readonly VpcParquetTextStream? _parquet;
    private readonly long _parquetBytes;

    /// <exception cref="FlowFileException">Unknown format, empty, or broken gzip before the format could be told.</exception>
    public FlowChunkReader(Stream stream, string source, FlowFormat? forcedFormat, Func<FlowFormat, FlowDecoder> decoderFor, bool ownsStream = false,
        int chunkBytes = ChunkBytes, bool carryStates = false)
    {
        _source = source;
        _bufferBytes = chunkBytes + FlowFormatDetector.HeadBytes;
        _chunkBytes = chunkBytes;
        _carryStates = carryStates;
        _stream = ownsStream ? stream : null;
        long? start = stream.CanSeek ? stream.Position : null;
        _counting = new CountingStream(stream);
        Span<byte> magic = stackalloc byte[4];
        int magicRead = ReadAtLeast(_counting, magic);
        _gzip = magicRead >= 2 && magic[0] == 0x1f && magic[1] == 0x8b;
        bool parquet = FlowFormatDetector.IsParquet(magic[..magicRead]);
        Stream input;
        if (parquet)
        {
            // AWS VPC flow logs delivered as Parquet, read as the VPC text records they hold: header first, one line per row.
            var rows = OpenParquet(stream, start, forcedFormat);
            _parquet = rows;
            _parquetBytes = stream.Length - start!.Value;
            // The header is line 0, so that line numbers are row numbers.
            _line = 0;
            input = rows;
        }
        else
        {
            input = new PrefixedStream(magic[..magicRead].ToArray(), _counting);
            // Not GZipStream: it ends quietly where a file is cut short, and a partial file would pass for a whole one.
            if (_gzip) input = new CheckedGzipStream(input);
        }
        _input = input;

        try
        {
            _carry = ArrayPool<byte>.Shared.Rent(BufferBytes);
            _carried = Fill(_input, _carry, 0, FlowFormatDetector.HeadBytes, out _broken);
            var head = _carry.AsSpan(0, _carried);
            FlowFormat? detected = parquet ? FlowFormat.AwsVpc : forcedFormat ?? FlowFormatDetector.Detect(head);
            if (detected is null && _broken is not null) throw GzipError(_broken, 0);
            if (detected is null && FlowFormatDetector.IsParquet(head))
                throw new FlowFileException($"'{source}' is a gzip-compressed Parquet file: Parquet is read from its footer, so decompress it first (gunzip), then rerun");
            Format = detected
                ?? throw new FlowFileException(_carried == 0
                    ? $"'{source}' is empty: no flow records to read"
                    : $"cannot tell the flow format of '{source}'; pass --format ({FlowFormats.NameList})");
        }
        catch
        {
            if (_carry is not null) ArrayPool<byte>.Shared.Return(_carry);
            _carry = null;
            if (parquet) _input.Dispose();
            throw;
        }
        Decoder = decoderFor(Format);
        var detectedHead = _carry.AsSpan(0, _carried);
        _document = !Decoder.IsLineOriented(detectedHead);
    }

    /// <summary>A chunk buffer: 1 MiB of lines plus the detection head, so a line up to that long fits.</summary>
    private int BufferBytes => _bufferBytes;

    public FlowFormat Format { get; }
    public FlowDecoder Decoder { get; }
    public bool Gzip => _gzip;
    /// <summary>An AWS VPC flow log delivered as Parquet (<see cref="Format"/> is then <see cref="FlowFormat.AwsVpc"/>).</summary>
    public bool Parquet => _parquet is not null;
    public string Source => _source;
    /// <summary>Bytes of the underlying file read so far. A Parquet file is read from its footer and only the columns needed:
    /// its size, in the share of its row groups opened (all of it at the end), is what it adds to progress.</summary>
    public long FileBytesRead => _parquet is null ? _counting.BytesRead
        : _done ? _parquetBytes : (long)(_parquetBytes * _parquet.RowGroupsOpened);

    /// <summary>The rows of a Parquet file as VPC text records; Parquet is read from its footer, so not from a pipe.</summary>
    private VpcParquetTextStream OpenParquet(Stream stream, long? start, FlowFormat? forcedFormat)
    {
        if (start is not { } at)
            throw new FlowFileException($"'{_source}' is a Parquet file read from a pipe: Parquet is read from its footer, so save it to a file first, then rerun");
        if (forcedFormat is { } forced && forced != FlowFormat.AwsVpc)
            throw new FlowFileException($"'{_source}' is a Parquet file: Parquet is read as AWS VPC flow logs only, not as --format {FlowFormats.Name(forced)}; " +
                                        "leave --format out or pass --format vpc");
        stream.Position = at;
        return VpcParquetTextStream.Open(stream, _source);
    }
    /// <summary>The gzip error that ends this source after its last chunk (the lines before the break were handed out).</summary>
    public FlowFileException? Failure { get; private set; }

    /// <summary>The next chunk, or false at the end (then see <see cref="Failure"/>).</summary>
    public bool TryNext(FlowChunk chunk)
    {
        chunk.Release();
        chunk.Rejection = null;
        chunk.State = null;
        chunk.Length = 0;
        while (!_done)
        {
            if (_document)
            {
                _done = true;
                // A document is decoded whole, so a broken one yields nothing.
                if (_broken is not null) return Fail(_broken);
                var all = new MemoryStream();
                all.Write(_carry!, 0, _carried);
                try
                {
                    _input.CopyTo(all);
                }
                catch (Exception ex) when (ex is InvalidDataException or TruncatedGzipException or VpcParquetDataException)
                {
                    return Fail(ex);
                }
                var bytes = ArrayPool<byte>.Shared.Rent((int)all.Length);
                all.GetBuffer().AsSpan(0, (int)all.Length).CopyTo(bytes);
                return Hand(chunk, bytes, (int)all.Length); 
            }
            var buffer = _carry!;
            int filled = _carried;
            // Chunks of about chunkBytes; the buffer's slack (the detection head) lets a longer line grow into it.
            int target = Math.Min(_bufferBytes, Math.Max(_chunkBytes, filled));
            if (_broken is null) filled = Fill(_input, buffer, filled, target - filled, out _broken);
            if (_broken is null && filled == target && target < _bufferBytes && buffer.AsSpan(0, filled).LastIndexOf((byte)'\n') < 0)
                filled = Fill(_input, buffer, filled, (target = _bufferBytes) - filled, out _broken);
            if (_broken is not null)
            {
                // Keep every whole line before the break; the cut line is part of the error, not a malformed record.
                _done = true;
                int whole = buffer.AsSpan(0, filled).LastIndexOf((byte)'\n') + 1;
                if (whole == 0) return Fail(_broken);
                _carried = 0;
                Failure = GzipError(_broken, _line - 1 + CountLines(buffer.AsSpan(0, whole)));
                return Hand(chunk, TakeCarry(), whole);
            }
            if (filled == 0)
            {
                _done = true;
                break;
            }
            var span = buffer.AsSpan(0, filled);
            int lastNewline = span.LastIndexOf((byte)'\n');
            bool atEnd = filled < target;
            if (lastNewline < 0 && !atEnd)
            {
                // One line longer than the buffer: no real flow record is; report and skip it.
                chunk.Rejection = new FlowDecodeError(new SourcePosition(_source, _line), $"line longer than {_bufferBytes} bytes", null);
                chunk.FirstLine = _line;
                try
                {
                    _carried = SkipToNewline(buffer);
                }
                catch (FlowFileException ex)
                {
                    // The rejection still comes first, then the break.
                    Failure = ex;
                    _done = true;
                }
                _line++;
                chunk.FileBytes = TakeFileBytes();
                return true;
            }
            int take = atEnd ? filled : lastNewline + 1;
            int rest = filled - take;
            var next = ArrayPool<byte>.Shared.Rent(BufferBytes);
            if (rest > 0) buffer.AsSpan(take, rest).CopyTo(next);
            _carry = next;
            _carried = rest;
            if (atEnd && rest == 0) _done = true;
            return Hand(chunk, buffer, take);
        }
        if (_carry is not null)
        {
            ArrayPool<byte>.Shared.Return(_carry);
            _carry = null;
        }
        chunk.FileBytes = TakeFileBytes();
        return false;
    }

    private byte[] TakeCarry()
    {
        var buffer = _carry!;
        _carry = null;
        return buffer;
    }

    private bool Hand(FlowChunk chunk, byte[] buffer, int length)
    {
        chunk.Buffer = buffer;
        chunk.Length = length;
        chunk.FirstLine = _line;
        chunk.FileBytes = TakeFileBytes();
        var payload = buffer.AsSpan(0, length);
        if (_carryStates)
        {
            chunk.State = _state;
            _state = Decoder.StateAfter(payload, _state, _source);
        }
        if (!_document) _line += CountLines(payload);
        return true;
    }

    private static long CountLines(ReadOnlySpan<byte> lines)
    {
        // As LineFlowDecoder counts: one per newline, and one for a last line without its newline.
        long n = lines.Count((byte)'\n');
        return lines.Length > 0 && lines[^1] != '\n' ? n + 1 : n;
    }

    private long TakeFileBytes()
    {
        long now = FileBytesRead;
        long delta = now - _fileBytesReported;
        _fileBytesReported = now;
        return delta;
    }

    private bool Fail(Exception ex)
    {
        _done = true;
        Failure = GzipError(ex, _line - 1);
        return false;
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

    /// <summary>The error for a stream that breaks off (gzip cut short or corrupt, a Parquet row group that cannot be read): which
    /// file, what is wrong, how far it got, what to do. <paramref name="lines"/>: the whole lines before the break.</summary>
    private FlowFileException GzipError(Exception ex, long lines)
    {
        if (ex is VpcParquetDataException)
        {
            // Lines are rows in a Parquet file (its header is line 0, so before any whole line this is -1).
            return new FlowFileException(
                $"'{_source}' is not a readable Parquet file: {ex.Message}; the {N(Math.Max(0, lines))} rows before it were read. " +
                "The file is corrupt or was cut short: copy it again, then rerun.", ex);
        }
        string reached = lines == 0 ? "no whole line came before the break" : $"it breaks off after line {N(lines)}";
        if (ex is TruncatedGzipException cut)
        {
            return new FlowFileException(
                $"'{_source}' is truncated: its gzip stream ended before its trailer (member {cut.Member} is cut off in its {PartName(cut.Part)} " +
                $"after {N(cut.CompressedBytes)} bytes of the file, {N(cut.DecompressedBytes)} bytes decompressed); {reached}, and whatever followed is missing. " +
                "Download or copy the file again, or wait for its upload to finish, then rerun.", ex);
        }
        return new FlowFileException(
            $"'{_source}' is not valid gzip past byte {N(_counting.BytesRead)} of the file: {ex.Message}; {reached}. Check the file with gzip -t.", ex);
    }

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string PartName(GzipPart part) => part switch
    {
        GzipPart.Header => "header",
        GzipPart.CompressedData => "compressed data",
        _ => "8-byte trailer",
    };

    private int SkipToNewline(byte[] buffer)
    {
        while (true)
        {
            int filled = Fill(_input, buffer, 0, _bufferBytes, out var broken);
            if (broken is not null) throw GzipError(broken, _line - 1);
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

    public void Dispose()
    {
        if (_carry is not null) ArrayPool<byte>.Shared.Return(_carry);
        _carry = null;
        if (_gzip || _parquet is not null) _input.Dispose();
        _stream?.Dispose();
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
