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

    public FlowFileSummary Read(string path, IFlowSink sink, CancellationToken cancellationToken = default)
    {
        using var file = OpenFile(path);
        return Read(file, path, sink, cancellationToken);
    }

    /// <summary>Reads one stream; <paramref name="source"/> names it in error positions.</summary>
    /// <exception cref="FlowFileException">The stream cannot be read as flows: unknown format, gzip that is corrupt or
    /// cut short, a Parquet row group that cannot be read, or Parquet from a pipe. Records before the break have been given to <paramref name="sink"/>.</exception>
    public FlowFileSummary Read(Stream stream, string source, IFlowSink sink, CancellationToken cancellationToken = default)
    {
        using var chunks = Open(stream, source);
        var chunk = new FlowChunk();
        var cursor = new DecodeCursor(source);
        try
        {
            while (chunks.TryNext(chunk))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (chunk.Rejection is { } rejection)
                {
                    sink.Reject(rejection);
                    continue;
                }
                cursor.Line = chunk.FirstLine;
                chunks.Decoder.Decode(chunk.Payload, ref cursor, sink);
                CheckFile(source, cursor);
            }
        }
        finally
        {
            chunk.Release();
        }
        if (chunks.Failure is { } failure) throw failure;
        return new FlowFileSummary(source, chunks.Format, chunks.Gzip, chunks.FileBytesRead, CheckFile(source, cursor), chunks.Parquet);
    }

    /// <summary>Opens a stream as chunks of whole lines (or one document): detection, gzip, the decoder to use.</summary>
    internal FlowChunkReader Open(Stream stream, string source) => new(stream, source, _forcedFormat, DecoderFor);

    /// <summary>Opens a file as chunks for several threads: each chunk carries the source state it starts with.</summary>
    internal FlowChunkReader Open(string path, int chunkBytes)
    {
        var file = OpenFile(path);
        try
        {
            return new FlowChunkReader(file, path, _forcedFormat, DecoderFor, ownsStream: true, chunkBytes, carryStates: true);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static FileStream OpenFile(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new FlowFileException($"cannot read flow file '{path}': {ex.Message}", ex);
        }
    }

    /// <summary>Stops on a file-level problem the decoder found (VPC records without any time); else its note, if any.</summary>
    internal static string? CheckFile(string source, in DecodeCursor cursor)
    {
        var (note, problem) = AwsVpcFlowLogDecoder.FileTimeStatus(cursor.State);
        if (problem is not null) throw new FlowFileException($"'{source}': {problem}");
        return note;
    }
}
