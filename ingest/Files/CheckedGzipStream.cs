using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using FlowPolicy.Ingest.Files.Internal;

namespace FlowPolicy.Ingest.Files;

/// <summary>Where in a gzip member the input ran out.</summary>
internal enum GzipPart
{
    Header,
    CompressedData,
    Trailer,
}

/// <summary>
/// The input ended before a gzip member's 8-byte trailer: the file was cut short (partial copy or upload). Corrupt data is an
/// <see cref="InvalidDataException"/> instead.
/// </summary>
internal sealed class TruncatedGzipException(int member, GzipPart part, long compressedBytes, long decompressedBytes)
    : EndOfStreamException($"truncated: the gzip stream ended before its trailer (member {member} is cut off in its {PartName(part)} " +
        $"after {compressedBytes} compressed bytes, {decompressedBytes} bytes decompressed)")
{
    /// <summary>1-based number of the member that is cut off.</summary>
    public int Member => member;
    public GzipPart Part => part;
    /// <summary>Every byte the input had.</summary>
    public long CompressedBytes => compressedBytes;
    /// <summary>Bytes decompressed before the cut (all of them were returned to the reader).</summary>
    public long DecompressedBytes => decompressedBytes;

    private static string PartName(GzipPart part) => part switch
    {
        GzipPart.Header => "header",
        GzipPart.CompressedData => "compressed data",
        _ => "trailer",
    };
}

/// <summary>
/// Decompresses gzip (RFC 1952), one member or several concatenated (<c>cat a.gz b.gz</c>, log shippers), and fails
/// when the input is cut short. .NET's <see cref="GZipStream"/> returns end-of-stream at a cut instead of failing, so
/// a partial file would read as a whole one. Here each member's header is parsed, its deflate body inflated by
/// <see cref="DeflateStream"/>, and its trailer (CRC-32 and length) located and checked against the data.
/// </summary>
/// <remarks>
/// DeflateStream does not say how much of its input the deflate data used. It asks for input only when it has used all
/// it was given, so the data ends inside the last chunk it was fed; that chunk is kept, and the trailer is the one
/// place in it (or just past it) holding this member's CRC-32 and length.
/// </remarks>
internal sealed class CheckedGzipStream : ReadOnlyStream
{
    private const int BufferBytes = 1 << 16;
    // Bounds the chunk the trailer is searched in; DeflateStream itself asks for 8 KiB at a time.
    private const int MaxFeedBytes = 1 << 14;
    private const byte FlagHeaderCrc = 0x02, FlagExtra = 0x04, FlagName = 0x08, FlagComment = 0x10, FlagsReserved = 0xE0;

    private readonly Stream _source;
    private readonly bool _leaveOpen;
    private readonly BodyInput _bodyInput;
    private byte[]? _buffer = ArrayPool<byte>.Shared.Rent(BufferBytes);
    private int _start;          // unread compressed bytes are _buffer[_start.._end]
    private int _end;
    private long _bufferOffset;  // offset in the input of _buffer[0]
    private bool _sourceEnded;
    private int _lastFeedStart;  // the chunk last given to the inflater, in _buffer
    private int _lastFeedLength;
    private bool _bodyRanDry;    // the inflater asked for more and the input had none

    private DeflateStream? _body;
    private int _members;
    private uint _crc;
    private long _memberBytes;
    private long _totalBytes;
    private bool _ended;

    public CheckedGzipStream(Stream source, bool leaveOpen = false)
    {
        _source = source;
        _leaveOpen = leaveOpen;
        _bodyInput = new BodyInput(this);
    }

    /// <summary>Compressed bytes consumed so far (header, data and trailers of the members read).</summary>
    public long CompressedPosition => _bufferOffset + _start;

    // The inflater works synchronously, and so do these reads (local files); no thread-pool hop per call.
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return new ValueTask<int>(Read(buffer.Span));
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_buffer is null, this);
        if (buffer.IsEmpty) return 0;
        while (true)
        {
            if (_body is null)
            {
                if (_ended || !StartMember())
                {
                    _ended = true;
                    return 0;
                }
            }
            int n = _body!.Read(buffer);
            if (n > 0)
            {
                _crc = GzipCrc32.Append(_crc, buffer[..n]);
                _memberBytes += n;
                _totalBytes += n;
                return n;
            }
            if (_bodyRanDry) throw Truncated(GzipPart.CompressedData);
            EndMember();
        }
    }

    /// <summary>Parses the next member's header and starts inflating its body; false at a clean end.</summary>
    private bool StartMember()
    {
        if (!Ensure(1)) return false;
        var buffer = _buffer!;
        if (buffer[_start] != 0x1f || (Ensure(2) && buffer[_start + 1] != 0x8b))
        {
            if (_members == 0) throw new InvalidDataException("not gzip: the input does not start with 1f 8b");
            // gzip(1) ignores zero padding after the last member (some writers pad to a block size); anything else is not ours to guess.
            if (RestIsZeros()) return false;
            throw new InvalidDataException($"the bytes after gzip member {_members} (at byte {CompressedPosition}) are not another gzip member");
        }
        if (!Ensure(10)) throw Truncated(GzipPart.Header, _members + 1);
        byte method = buffer[_start + 2];
        byte flags = buffer[_start + 3];
        if (method != 8) throw new InvalidDataException($"gzip member {_members + 1} uses compression method {method}, not deflate (8)");
        if ((flags & FlagsReserved) != 0) throw new InvalidDataException($"gzip member {_members + 1} sets reserved header flags (0x{flags:x2})");
        uint headerCrc = GzipCrc32.Append(0, buffer.AsSpan(_start, 10));
        _start += 10;
        if ((flags & FlagExtra) != 0)
        {
            if (!Ensure(2)) throw Truncated(GzipPart.Header, _members + 1);
            int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(_start));
            SkipHeaderBytes(2 + extraLength, ref headerCrc);
        }
        if ((flags & FlagName) != 0) SkipZeroTerminated(ref headerCrc);
        if ((flags & FlagComment) != 0) SkipZeroTerminated(ref headerCrc);
        if ((flags & FlagHeaderCrc) != 0)
        {
            if (!Ensure(2)) throw Truncated(GzipPart.Header, _members + 1);
            if (BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(_start)) != (ushort)headerCrc)
            {
                throw new InvalidDataException($"gzip member {_members + 1} fails its header CRC check");
            }
            _start += 2;
        }
        _members++;
        _crc = 0;
        _memberBytes = 0;
        _bodyRanDry = false;
        _body = new DeflateStream(_bodyInput, CompressionMode.Decompress, leaveOpen: true);
        return true;
    }

    /// <summary>The body is inflated: find and check its trailer, and continue after it.</summary>
    private void EndMember()
    {
        _body!.Dispose();
        _body = null;
        // Nothing was read since the last chunk was fed, so it is still in the buffer; the deflate data ended in it.
        _start = _lastFeedStart;
        int searched = _lastFeedLength;
        Ensure(searched + 8);
        var buffer = _buffer!;
        Span<byte> trailer = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(trailer, _crc);
        BinaryPrimitives.WriteUInt32LittleEndian(trailer[4..], (uint)_memberBytes);
        // The deflate data is at least one byte of the chunk; the trailer starts at most right after the chunk.
        int from = _start + 1;
        int at = buffer.AsSpan(from, Math.Min(searched + 7, _end - from)).IndexOf(trailer);
        if (at >= 0)
        {
            _start = from + at + 8;
            return;
        }
        // The input ends with this member's length but not its CRC: the trailer is there and the data is wrong.
        if (_sourceEnded && _end - 8 >= from && _end - 8 <= _start + searched
            && BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(_end - 4)) == (uint)_memberBytes)
        {
            throw new InvalidDataException($"gzip member {_members} fails its CRC-32 check: the data is corrupt");
        }
        if (_sourceEnded && _end < _start + searched + 8) throw Truncated(GzipPart.Trailer);
        throw new InvalidDataException($"gzip member {_members} has no trailer matching its data (CRC-32 and length): the data is corrupt");
    }

    private void SkipHeaderBytes(int count, ref uint crc)
    {
        while (count > 0)
        {
            if (_start == _end && !Ensure(1)) throw Truncated(GzipPart.Header, _members + 1);
            int n = Math.Min(count, _end - _start);
            crc = GzipCrc32.Append(crc, _buffer.AsSpan(_start, n));
            _start += n;
            count -= n;
        }
    }

    private void SkipZeroTerminated(ref uint crc)
    {
        while (true)
        {
            if (_start == _end && !Ensure(1)) throw Truncated(GzipPart.Header, _members + 1);
            var available = _buffer.AsSpan(_start, _end - _start);
            int zero = available.IndexOf((byte)0);
            int n = zero < 0 ? available.Length : zero + 1;
            crc = GzipCrc32.Append(crc, available[..n]);
            _start += n;
            if (zero >= 0) return;
        }
    }

    private bool RestIsZeros()
    {
        while (Ensure(1))
        {
            if (_buffer.AsSpan(_start, _end - _start).ContainsAnyExcept((byte)0)) return false;
            _start = _end;
        }
        return true;
    }

    /// <summary>Makes at least <paramref name="count"/> unread bytes available, unless the input ends first.</summary>
    private bool Ensure(int count)
    {
        if (_end - _start >= count) return true;
        var buffer = _buffer!;
        if (_start > 0)
        {
            Buffer.BlockCopy(buffer, _start, buffer, 0, _end - _start);
            _bufferOffset += _start;
            _end -= _start;
            _lastFeedStart -= _start;
            _start = 0;
        }
        while (_end < count && !_sourceEnded)
        {
            int read = _source.Read(buffer, _end, buffer.Length - _end);
            if (read == 0) _sourceEnded = true;
            _end += read;
        }
        return _end - _start >= count;
    }

    /// <summary>Gives the inflater the next chunk of the buffer.</summary>
    private int Feed(Span<byte> destination)
    {
        if (_start == _end && !Ensure(1))
        {
            _bodyRanDry = true;
            return 0;
        }
        int n = Math.Min(Math.Min(destination.Length, MaxFeedBytes), _end - _start);
        _buffer.AsSpan(_start, n).CopyTo(destination);
        _lastFeedStart = _start;
        _lastFeedLength = n;
        _start += n;
        return n;
    }

    private TruncatedGzipException Truncated(GzipPart part, int? member = null)
    {
        // Only thrown once the input has ended, so every byte it had has been read into the buffer.
        return new TruncatedGzipException(member ?? _members, part, _bufferOffset + _end, _totalBytes);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && _buffer is { } buffer)
        {
            _body?.Dispose();
            _body = null;
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
            if (!_leaveOpen) _source.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <summary>The inflater's input: chunks of the owner's buffer, so the bytes after the deflate data stay readable.</summary>
    private sealed class BodyInput(CheckedGzipStream owner) : ReadOnlyStream
    {
        public override int Read(Span<byte> buffer) => owner.Feed(buffer);
    }
}
