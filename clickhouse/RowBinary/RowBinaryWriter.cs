using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;
using FlowPolicy.Core.Net;

namespace FlowPolicy.ClickHouse.RowBinary;

/// <summary>
/// Writes rows in ClickHouse's RowBinary format into pooled 64 KiB chunks (no per-value allocation, no boxing).
/// One method per wire type; the caller writes the columns of a row in table order, then <see cref="EndRow"/>.
/// Composite types are written by their parts: Nullable(T) = <see cref="WriteNull"/> or <see cref="WriteNotNull"/>
/// then T; Array(T) = <see cref="WriteArrayLength"/> then the elements; LowCardinality(String) and Enum8 travel as
/// String and Int8. Not thread-safe; reuse it across batches with <see cref="Reset"/>, return its buffers with Dispose.
/// Reset keeps the chunks the batch used (up to <see cref="MaxRetainedBytes"/>) for the next batch: ArrayPool.Shared
/// holds only a few arrays per size, so returning a 20 MB batch's chunks to it re-allocated most of them every batch.
/// Chunks a batch did not need are returned at the next Reset, so a writer shrinks back after one big batch.
/// </summary>
public sealed class RowBinaryWriter : IBufferWriter<byte>, IDisposable
{
    internal const int ChunkSize = 64 * 1024;
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);
    private static readonly long EpochTicks = DateTime.UnixEpoch.Ticks;
    private static readonly int EpochDayNumber = DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;

    /// <summary>Default bound on the chunk bytes kept across <see cref="Reset"/>.</summary>
    public const int DefaultMaxRetainedBytes = 32 << 20;

    private readonly List<(byte[] Buffer, int Length)> _filled = [];
    private readonly Stack<byte[]> _spare = new();
    private byte[] _current;
    private int _position;
    private long _filledBytes;

    /// <param name="maxRetainedBytes">Chunk bytes kept across <see cref="Reset"/> (0 returns every chunk but one to the pool).</param>
    public RowBinaryWriter(int maxRetainedBytes = DefaultMaxRetainedBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxRetainedBytes);
        MaxRetainedBytes = maxRetainedBytes;
        _current = ArrayPool<byte>.Shared.Rent(ChunkSize);
    }

    public int MaxRetainedBytes { get; }

    /// <summary>Spare chunks kept for the next batch (tests).</summary>
    internal int RetainedChunks => _spare.Count;

    /// <summary>Rows completed with <see cref="EndRow"/> since the last <see cref="Reset"/>.</summary>
    public int RowCount { get; private set; }

    /// <summary>Bytes written so far (uncompressed body size).</summary>
    public long Length => _filledBytes + _position;

    public void EndRow() => RowCount++;

    /// <summary>
    /// Forgets the rows written. Keeps the current chunk and the batch's filled chunks (up to <see cref="MaxRetainedBytes"/>)
    /// for the next batch; spare chunks this batch did not touch go back to the pool.
    /// </summary>
    public void Reset()
    {
        // Spares still here were not needed by this batch (it took spares before renting): the writer needs fewer now.
        while (_spare.Count > 0) ArrayPool<byte>.Shared.Return(_spare.Pop());
        long retained = (long)(_spare.Count + 1) * ChunkSize;
        foreach (var (buffer, _) in _filled)
        {
            if (buffer.Length == ChunkSize && retained + ChunkSize <= MaxRetainedBytes)
            {
                _spare.Push(buffer);
                retained += ChunkSize;
            }
            else ArrayPool<byte>.Shared.Return(buffer);
        }
        _filled.Clear();
        _filledBytes = 0;
        _position = 0;
        RowCount = 0;
    }

    // IBufferWriter<byte>: callers (and the typed writers below) get contiguous space of at least sizeHint bytes.
    public Span<byte> GetSpan(int sizeHint = 0)
    {
        if (sizeHint <= 0) sizeHint = 1;
        if (_current.Length - _position < sizeHint) NextChunk(sizeHint);
        return _current.AsSpan(_position);
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (sizeHint <= 0) sizeHint = 1;
        if (_current.Length - _position < sizeHint) NextChunk(sizeHint);
        return _current.AsMemory(_position);
    }

    public void Advance(int count)
    {
        if ((uint)count > (uint)(_current.Length - _position)) ThrowHelper.AdvancedTooFar();
        _position += count;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void NextChunk(int sizeHint)
    {
        if (_position > 0)
        {
            _filled.Add((_current, _position));
            _filledBytes += _position;
        }
        else ArrayPool<byte>.Shared.Return(_current);
        if (sizeHint <= ChunkSize && _spare.Count > 0) _current = _spare.Pop();
        else _current = ArrayPool<byte>.Shared.Rent(Math.Max(ChunkSize, sizeHint));
        _position = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Span<byte> Reserve(int size)
    {
        if (_current.Length - _position < size) NextChunk(size);
        var span = _current.AsSpan(_position, size);
        _position += size;
        return span;
    }

    public void WriteUInt8(byte value) => Reserve(1)[0] = value;
    public void WriteInt8(sbyte value) => Reserve(1)[0] = (byte)value;
    public void WriteBool(bool value) => Reserve(1)[0] = value ? (byte)1 : (byte)0;
    public void WriteUInt16(ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Reserve(2), value);
    public void WriteInt16(short value) => BinaryPrimitives.WriteInt16LittleEndian(Reserve(2), value);
    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Reserve(4), value);
    public void WriteInt32(int value) => BinaryPrimitives.WriteInt32LittleEndian(Reserve(4), value);
    public void WriteUInt64(ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Reserve(8), value);
    public void WriteInt64(long value) => BinaryPrimitives.WriteInt64LittleEndian(Reserve(8), value);
    public void WriteFloat32(float value) => BinaryPrimitives.WriteSingleLittleEndian(Reserve(4), value);
    public void WriteFloat64(double value) => BinaryPrimitives.WriteDoubleLittleEndian(Reserve(8), value);

    /// <summary>Enum8 travels as its Int8 value.</summary>
    public void WriteEnum8(sbyte value) => WriteInt8(value);

    /// <summary>LEB128 unsigned varint: string lengths and array sizes.</summary>
    public void WriteVarUInt(ulong value)
    {
        var span = Reserve(VarUIntLength(value));
        int i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[i] = (byte)value;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int VarUIntLength(ulong value)
    {
        int length = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            length++;
        }
        return length;
    }

    /// <summary>String (and LowCardinality(String)): varint byte length, then UTF-8 bytes. Null writes "".</summary>
    public void WriteString(string? value) => WriteString(value.AsSpan());

    public void WriteString(ReadOnlySpan<char> value)
    {
        // Short strings (the common case: names, labels) have < 128 UTF-8 bytes, so a one-byte length is
        // reserved and the text encoded straight behind it; longer ones are measured first.
        if (value.Length <= 42)
        {
            var span = GetSpan(1 + value.Length * 3);
            int written = Utf8.GetBytes(value, span[1..]);
            span[0] = (byte)written;
            _position += 1 + written;
            return;
        }
        int byteCount = Utf8.GetByteCount(value);
        WriteVarUInt((ulong)byteCount);
        var target = Reserve(byteCount);
        Utf8.GetBytes(value, target);
    }

    /// <summary>String from bytes as they are (need not be UTF-8: ClickHouse strings are byte strings).</summary>
    public void WriteString(ReadOnlySpan<byte> value)
    {
        WriteVarUInt((ulong)value.Length);
        value.CopyTo(Reserve(value.Length));
    }

    public void WriteLowCardinalityString(string? value) => WriteString(value);

    /// <summary>Bytes already in RowBinary form (values encoded once and reused, e.g. an identity's columns).</summary>
    public void WriteRaw(ReadOnlySpan<byte> encoded) => encoded.CopyTo(Reserve(encoded.Length));

    /// <summary>FixedString(N): the bytes, zero-padded to N. Longer values are refused, as the server would.</summary>
    public void WriteFixedString(ReadOnlySpan<byte> value, int length)
    {
        if (value.Length > length) ThrowHelper.FixedStringTooLong(value.Length, length);
        var span = Reserve(length);
        value.CopyTo(span);
        span[value.Length..].Clear();
    }

    /// <summary>FixedString(16) holding an address as <see cref="PackedIp"/> stores it.</summary>
    public void WriteFixedString16(in PackedIp ip) => ip.WriteTo(Reserve(16));

    /// <summary>DateTime: UInt32 seconds since the epoch. Local times convert to UTC; Unspecified is taken as UTC.</summary>
    public void WriteDateTime(DateTime value) => WriteUInt32(DateTimeSeconds(value));

    /// <summary>The UInt32 a DateTime column stores for <paramref name="value"/> (what <see cref="WriteDateTime"/> writes).</summary>
    public static uint DateTimeSeconds(DateTime value)
    {
        if (value.Kind == DateTimeKind.Local) value = value.ToUniversalTime();
        long seconds = (value.Ticks - EpochTicks) / TimeSpan.TicksPerSecond;
        if ((ulong)seconds > uint.MaxValue) ThrowHelper.DateTimeOutOfRange(value);
        return (uint)seconds;
    }

    /// <summary>Date: UInt16 days since 1970-01-01.</summary>
    public void WriteDate(DateOnly value)
    {
        int days = value.DayNumber - EpochDayNumber;
        if ((uint)days > ushort.MaxValue) ThrowHelper.DateOutOfRange(value);
        WriteUInt16((ushort)days);
    }

    /// <summary>Array(T) prefix: the element count; the elements follow.</summary>
    public void WriteArrayLength(int count)
    {
        if (count < 0) ThrowHelper.NegativeArrayLength();
        WriteVarUInt((ulong)count);
    }

    /// <summary>Nullable(T) that is NULL: marker 1, nothing follows.</summary>
    public void WriteNull() => WriteUInt8(1);

    /// <summary>Nullable(T) with a value: marker 0, then the T value.</summary>
    public void WriteNotNull() => WriteUInt8(0);

    /// <summary>Streams everything written so far to <paramref name="destination"/>.</summary>
    public async ValueTask CopyToAsync(Stream destination, CancellationToken cancellationToken = default)
    {
        foreach (var (buffer, length) in _filled)
            await destination.WriteAsync(buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        if (_position > 0)
            await destination.WriteAsync(_current.AsMemory(0, _position), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The chunk the next byte goes to, unless it does not fit there (then the next one): see <see cref="CopyRowsToAsync"/>.</summary>
    internal int ChunkIndex => _filled.Count;

    /// <summary>
    /// Streams the rows in the order <paramref name="order"/> lists them: row i begins at <paramref name="rowStarts"/>[i]
    /// (the <see cref="Length"/> when it began, <paramref name="rowChunks"/>[i] the <see cref="ChunkIndex"/> then) and
    /// ends where row i + 1 begins, the last one at <see cref="Length"/>. Lets a caller send a batch in the table's sort
    /// order without encoding it twice.
    /// </summary>
    internal async ValueTask CopyRowsToAsync(Stream destination, ReadOnlyMemory<long> rowStarts, ReadOnlyMemory<int> rowChunks, ReadOnlyMemory<int> order,
        CancellationToken cancellationToken = default)
    {
        var chunkStarts = new long[_filled.Count + 1];
        for (int i = 1; i < chunkStarts.Length; i++) chunkStarts[i] = chunkStarts[i - 1] + _filled[i - 1].Length;
        var staging = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            var cursor = new RowCursor();
            while (true)
            {
                int used = FillRows(staging, rowStarts.Span, rowChunks.Span, order.Span, chunkStarts, ref cursor);
                if (used == 0) break;
                await destination.WriteAsync(staging.AsMemory(0, used), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(staging);
        }
    }

    /// <summary>Where <see cref="FillRows"/> stopped: the next entry of the order, and how much of its row is already out.</summary>
    private struct RowCursor
    {
        public int Next;
        public long Done;
    }

    private const int PrefetchDistance = 8;

    /// <summary>
    /// Asks the CPU for a row's first cache lines a few rows ahead of the copy: rows are read in an order unrelated to
    /// where they lie, so without it nearly every row waits for memory. A hint only; the row is read normally later.
    /// </summary>
    private unsafe void Prefetch(ReadOnlySpan<long> rowStarts, ReadOnlySpan<int> rowChunks, int row, long[] chunkStarts)
    {
        if (!System.Runtime.Intrinsics.X86.Sse.IsSupported) return;
        int chunk = rowChunks[row];
        if (chunk >= _filled.Count) return;
        long at = rowStarts[row] - chunkStarts[chunk];
        var buffer = _filled[chunk].Buffer;
        if ((ulong)at + 192 > (ulong)buffer.Length) return;
        fixed (byte* p = &buffer[(int)at])
        {
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(p);
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(p + 64);
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(p + 128);
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(p + 192);
        }
    }

    /// <summary>Copies rows (whole, or the rest of a row cut at the end of the last fill) into <paramref name="staging"/> until it is full.</summary>
    private int FillRows(Span<byte> staging, ReadOnlySpan<long> rowStarts, ReadOnlySpan<int> rowChunks, ReadOnlySpan<int> order, long[] chunkStarts,
        ref RowCursor cursor)
    {
        int used = 0;
        long length = Length;
        while (cursor.Next < order.Length && used < staging.Length)
        {
            int row = order[cursor.Next];
            if (cursor.Next + PrefetchDistance < order.Length) Prefetch(rowStarts, rowChunks, order[cursor.Next + PrefetchDistance], chunkStarts);
            long from = rowStarts[row] + cursor.Done, to = row + 1 < rowStarts.Length ? rowStarts[row + 1] : length;
            int chunk = rowChunks[row];
            while (from < to && used < staging.Length)
            {
                // A row may begin past the end of the chunk that was current (its first value did not fit there) and
                // may straddle chunks: move on to the chunk holding `from`.
                while (chunk < _filled.Count && from >= chunkStarts[chunk + 1]) chunk++;
                ReadOnlySpan<byte> source = chunk < _filled.Count
                    ? _filled[chunk].Buffer.AsSpan(0, _filled[chunk].Length)
                    : _current.AsSpan(0, _position);
                int at = (int)(from - chunkStarts[chunk]);
                int n = (int)Math.Min(Math.Min(to - from, source.Length - at), staging.Length - used);
                source.Slice(at, n).CopyTo(staging[used..]);
                used += n;
                from += n;
            }
            if (from < to)
            {
                cursor.Done = from - rowStarts[row];
                break;
            }
            cursor.Next++;
            cursor.Done = 0;
        }
        return used;
    }

    /// <summary>A copy of the written bytes (tests and diagnostics).</summary>
    public byte[] ToArray()
    {
        var result = new byte[Length];
        int offset = 0;
        foreach (var (buffer, length) in _filled)
        {
            buffer.AsSpan(0, length).CopyTo(result.AsSpan(offset));
            offset += length;
        }
        _current.AsSpan(0, _position).CopyTo(result.AsSpan(offset));
        return result;
    }

    public void Dispose()
    {
        foreach (var (buffer, _) in _filled) ArrayPool<byte>.Shared.Return(buffer);
        _filled.Clear();
        while (_spare.Count > 0) ArrayPool<byte>.Shared.Return(_spare.Pop());
        _filledBytes = 0;
        _position = 0;
        RowCount = 0;
        if (_current.Length > 0) ArrayPool<byte>.Shared.Return(_current);
        _current = [];
    }

    /// <summary>Throws kept out of the writers so they stay small and inlinable.</summary>
    private static class ThrowHelper
    {
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static void AdvancedTooFar() => throw new InvalidOperationException("Advanced past the end of the span handed out.");

        [MethodImpl(MethodImplOptions.NoInlining)]
        public static void FixedStringTooLong(int actual, int length) =>
            throw new ArgumentException($"A value of {actual} bytes does not fit FixedString({length}).");

        [MethodImpl(MethodImplOptions.NoInlining)]
        public static void DateTimeOutOfRange(DateTime value) =>
            throw new ArgumentOutOfRangeException(nameof(value), value, "ClickHouse DateTime holds 1970-01-01 to 2106-02-07 UTC.");

        [MethodImpl(MethodImplOptions.NoInlining)]
        public static void DateOutOfRange(DateOnly value) =>
            throw new ArgumentOutOfRangeException(nameof(value), value, "ClickHouse Date holds 1970-01-01 to 2149-06-06.");

        [MethodImpl(MethodImplOptions.NoInlining)]
        public static void NegativeArrayLength() => throw new ArgumentOutOfRangeException("count", "An array length cannot be negative.");
    }
}
