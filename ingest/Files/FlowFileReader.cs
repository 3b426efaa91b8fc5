using System.Buffers;
using System.IO.Compression;
using FlowPolicy.Ingest.Formats;

namespace FlowPolicy.Ingest.Files;

/// <summary>What reading one file found.</summary>
public sealed record FlowFileSummary(string Path, FlowFormat Format, bool Gzip, long Bytes);

/// <summary>A file that cannot be read at all (missing, unreadable, unknown format): a usage error, not a bad record.</summary>
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

    /// <param name="forcedFormat">Decode every file as this format instead of detecting it.</param>
    public FlowFileReader(FlowFormat? forcedFormat = null) => _forcedFormat = forcedFormat;

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
    public FlowFileSummary Read(Stream stream, string source, IFlowSink sink, CancellationToken cancellationToken = default)
    {
        var counting = new CountingStream(stream);
        Stream input = counting;
        Span<byte> magic = stackalloc byte[2];
        int magicRead = ReadAtLeast(counting, magic);
        bool gzip = magicRead == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
        input = new PrefixedStream(magic[..magicRead].ToArray(), counting);
        if (gzip) input = new GZipStream(input, CompressionMode.Decompress);

        byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes + FlowFormatDetector.HeadBytes);
        try
        {
            int filled = Fill(input, buffer, 0, FlowFormatDetector.HeadBytes, source);
            var head = buffer.AsSpan(0, filled);
            FlowFormat format = _forcedFormat
                ?? FlowFormatDetector.Detect(head)
                ?? throw new FlowFileException(filled == 0
                    ? $"'{source}' is empty: no flow records to read"
                    : $"cannot tell the flow format of '{source}'; pass --format ({FlowFormats.NameList})");
            var decoder = FlowDecoders.For(format);
            var cursor = new DecodeCursor(source);
            if (!decoder.IsLineOriented(head))
            {
                var whole = ReadAll(input, buffer, filled, source);
                decoder.Decode(whole.Span, ref cursor, sink);
                return new FlowFileSummary(source, format, gzip, counting.BytesRead);
            }
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                filled = Fill(input, buffer, filled, buffer.Length - filled, source);
                if (filled == 0) break;
                var span = buffer.AsSpan(0, filled);
                int lastNewline = span.LastIndexOf((byte)'\n');
                bool atEnd = filled < buffer.Length;
                if (lastNewline < 0 && !atEnd)
                {
                    // One line longer than the buffer: no real flow record is; report and skip it.
                    sink.Reject(new FlowDecodeError(cursor.At(cursor.Line), $"line longer than {buffer.Length} bytes", null));
                    filled = SkipToNewline(input, buffer, source);
                    cursor.Line++;
                    continue;
                }
                int take = atEnd ? filled : lastNewline + 1;
                decoder.Decode(span[..take], ref cursor, sink);
                int rest = filled - take;
                if (rest > 0) Buffer.BlockCopy(buffer, take, buffer, 0, rest);
                filled = rest;
                if (atEnd && rest == 0) break;
            }
            return new FlowFileSummary(source, format, gzip, counting.BytesRead);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (gzip) input.Dispose();
        }
    }

    private static int Fill(Stream input, byte[] buffer, int offset, int count, string source)
    {
        int total = offset;
        int end = offset + count;
        try
        {
            while (total < end)
            {
                int read = input.Read(buffer, total, end - total);
                if (read == 0) break;
                total += read;
            }
        }
        catch (InvalidDataException ex)
        {
            // A truncated or corrupt gzip member: keep what was decoded, say what happened.
            throw new FlowFileException($"'{source}' is not valid gzip past byte {total}: {ex.Message}", ex);
        }
        return total;
    }

    private static ReadOnlyMemory<byte> ReadAll(Stream input, byte[] head, int headLength, string source)
    {
        var all = new MemoryStream();
        all.Write(head, 0, headLength);
        try
        {
            input.CopyTo(all);
        }
        catch (InvalidDataException ex)
        {
            throw new FlowFileException($"'{source}' is not valid gzip: {ex.Message}", ex);
        }
        return all.GetBuffer().AsMemory(0, (int)all.Length);
    }

    private static int SkipToNewline(Stream input, byte[] buffer, string source)
    {
        while (true)
        {
            int filled = Fill(input, buffer, 0, buffer.Length, source);
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
    private sealed class PrefixedStream(byte[] prefix, Stream inner) : Stream
    {
        private int _position;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

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

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>Counts bytes read from the underlying file, for progress and summaries.</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public long BytesRead { get; private set; }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer);
            BytesRead += n;
            return n;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => BytesRead; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
