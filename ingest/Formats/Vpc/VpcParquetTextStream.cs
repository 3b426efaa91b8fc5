using System.Globalization;
using System.Text;
using FlowPolicy.Ingest.Files;
using FlowPolicy.Ingest.Files.Internal;
using FlowPolicy.Ingest.Formats.Internal;
using Parquet;
using Parquet.Schema;

namespace FlowPolicy.Ingest.Formats.Vpc;

/// <summary>A Parquet file that breaks off while its rows are read (a corrupt or cut-short row group).</summary>
internal sealed class VpcParquetDataException(string message, Exception inner) : IOException(message, inner);

/// <summary>
/// Reads an AWS VPC flow log delivered as Parquet (S3 destination, file format "parquet") as the VPC text records AWS
/// would have written for it: a header line naming the columns, then one line per row, with '-' where a value is null.
/// Everything that reads text VPC records (the file reader, <c>produce</c>) reads Parquet through this stream, so the
/// field mapping, NODATA/SKIPDATA, '-' values and every reject reason are the text decoder's own, and line numbers are
/// row numbers (the header is line 0). docs/formats.md, "AWS VPC Flow Logs in Parquet".
/// </summary>
/// <remarks>
/// Only the columns the decoder reads are decoded (the others are never touched, which is what a columnar file is for),
/// one row group at a time: memory is bounded by a row group's columns, not by the file. AWS writes INT_32 (version,
/// ports, protocol, tcp-flags), INT_64 (packets, bytes, start, end) and STRING columns; any of the three is accepted for
/// any field, since every value goes through the text decoder's checks. Column names are AWS's field names with '_' for
/// '-' (<c>log_status</c>), as Athena's tables name them; the hyphenated names work too. White space or control
/// characters inside a string value cannot be carried in a space-separated record: they become '?', so the fields the
/// decoder checks (addresses, numbers, action, log-status) reject the row naming the column.
/// </remarks>
internal sealed class VpcParquetTextStream : ReadOnlyStream
{
    private const int PendingBytes = 1 << 16;
    private readonly ParquetReader _reader;
    private readonly Column[] _columns;
    private byte[] _pending = new byte[PendingBytes];
    private int _pendingStart, _pendingEnd;
    private int _rowGroup = -1;
    private int _rowsInGroup, _nextRow;
    private long _rowsBefore;

    private VpcParquetTextStream(ParquetReader reader, string source, Column[] columns)
    {
        _reader = reader;
        _columns = columns;
        // The header line is line 0 of the text; rows are lines 1..N.
        for (int i = 0; i < columns.Length; i++)
        {
            if (i > 0) Append((byte)' ');
            Append(columns[i].TextName);
        }
        Append((byte)'\n');
    }

    /// <summary>Rows read so far (whole row groups decoded; their lines may still be unread).</summary>
    public long RowsDecoded => _rowsBefore + _nextRow;

    /// <summary>Of the file's row groups, the share opened so far (0 to 1): the progress of a file read from its footer,
    /// where the bytes read from the stream say nothing about how far along it is.</summary>
    public double RowGroupsOpened => _reader.RowGroupCount == 0 ? 1 : (double)Math.Clamp(_rowGroup + 1, 0, _reader.RowGroupCount) / _reader.RowGroupCount;

    /// <summary>
    /// Opens <paramref name="file"/> (seekable, positioned anywhere: Parquet is read from its footer) and checks that its
    /// columns are a VPC flow log's. <paramref name="file"/> stays the caller's to dispose.
    /// </summary>
    /// <exception cref="FlowFileException">Not a readable Parquet file (cut short, corrupt), or no VPC flow log columns.</exception>
    public static VpcParquetTextStream Open(Stream file, string source)
    {
        ParquetReader reader;
        try
        {
            reader = ParquetReader.CreateAsync(file, leaveStreamOpen: true).GetAwaiter().GetResult();
        }
        catch (Exception ex) when (IsParquetFailure(ex))
        {
            throw new FlowFileException(
                $"'{source}' starts like a Parquet file (PAR1) but cannot be opened: {ex.Message}. A file still being uploaded or cut short lacks " +
                "the footer Parquet is read from: copy it again (aws s3 cp), then rerun.", ex);
        }
        try
        {
            return new VpcParquetTextStream(reader, source, SelectColumns(reader, source));
        }
        catch
        {
            reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }

    /// <summary>The top-level columns named like a VPC field the decoder reads, in file order.</summary>
    private static Column[] SelectColumns(ParquetReader reader, string source)
    {
        var columns = new List<Column>();
        var names = new List<string>();
        foreach (var field in reader.Schema.Fields)
        {
            names.Add(field.Name);
            string textName = field.Name.Replace('_', '-');
            if (VpcFlowLogLayout.FieldOf(textName) == VpcField.Other) continue;
            if (field is not DataField data || data.MaxRepetitionLevel > 0)
                throw new FlowFileException($"'{source}': column '{field.Name}' is a nested or repeated Parquet field; AWS writes every VPC flow log field as a plain column");
            var kind = data.ClrType == typeof(int) ? ValueKind.Int32
                : data.ClrType == typeof(long) ? ValueKind.Int64
                : data.ClrType == typeof(string) || data.ClrType == typeof(ReadOnlyMemory<char>) ? ValueKind.Text
                : throw new FlowFileException(
                    $"'{source}': column '{field.Name}' holds {data.ClrType.Name} values; VPC flow log columns are INT_32, INT_64 or STRING (as AWS writes them)");
            columns.Add(new Column(data, kind, Encoding.ASCII.GetBytes(textName)));
        }
        if (columns.Count == 0)
            throw new FlowFileException(
                $"'{source}' is a Parquet file without VPC flow log columns (expected AWS's names such as version, srcaddr, dstaddr, start, action, log_status; " +
                $"found {string.Join(", ", names.Take(12))}{(names.Count > 12 ? ", ..." : "")})");
        return columns.ToArray();
    }

    public override int Read(Span<byte> buffer)
    {
        while (_pendingStart == _pendingEnd)
        {
            _pendingStart = _pendingEnd = 0;
            if (_nextRow == _rowsInGroup && !NextRowGroup()) return 0;
            FormatRows();
        }
        int n = Math.Min(buffer.Length, _pendingEnd - _pendingStart);
        _pending.AsSpan(_pendingStart, n).CopyTo(buffer);
        _pendingStart += n;
        return n;
    }

    /// <summary>Decodes the next row group's columns; false after the last.</summary>
    private bool NextRowGroup()
    {
        _rowsBefore += _rowsInGroup;
        _rowsInGroup = _nextRow = 0;
        while (++_rowGroup < _reader.RowGroupCount)
        {
            try
            {
                var group = _reader.OpenRowGroupReader(_rowGroup);
                if (group.RowCount > int.MaxValue / 2) throw new InvalidDataException($"{group.RowCount} rows in one row group");
                int rows = (int)group.RowCount;
                foreach (var column in _columns) column.Load(group, rows);
                _rowsInGroup = rows;
            }
            catch (Exception ex) when (IsParquetFailure(ex))
            {
                throw new VpcParquetDataException(string.Create(CultureInfo.InvariantCulture,
                    $"row group {_rowGroup + 1} of {_reader.RowGroupCount} (after row {_rowsBefore:N0}) cannot be read: {ex.Message}"), ex);
            }
            if (_rowsInGroup > 0) return true;
        }
        return false;
    }

    /// <summary>Formats rows of the current row group as text lines until the pending buffer is about full.</summary>
    private void FormatRows()
    {
        while (_nextRow < _rowsInGroup && _pendingEnd < PendingBytes - 1024)
        {
            int row = _nextRow++;
            for (int i = 0; i < _columns.Length; i++)
            {
                if (i > 0) Append((byte)' ');
                _columns[i].AppendValue(this, row);
            }
            Append((byte)'\n');
        }
    }

    private void Append(byte value)
    {
        Reserve(1);
        _pending[_pendingEnd++] = value;
    }

    private void Append(ReadOnlySpan<byte> value)
    {
        Reserve(value.Length);
        value.CopyTo(_pending.AsSpan(_pendingEnd));
        _pendingEnd += value.Length;
    }

    private Span<byte> Reserve(int bytes)
    {
        if (_pendingEnd + bytes > _pending.Length) Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _pendingEnd + bytes));
        return _pending.AsSpan(_pendingEnd);
    }

    /// <summary>What Parquet.Net throws on a file it cannot read (besides our own cancellations and running out of memory).</summary>
    private static bool IsParquetFailure(Exception ex) =>
        ex is not (OperationCanceledException or OutOfMemoryException or FlowFileException);

    protected override void Dispose(bool disposing)
    {
        if (disposing) _reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        base.Dispose(disposing);
    }

    private enum ValueKind : byte { Int32, Int64, Text }

    /// <summary>One VPC field's column: its values for the current row group, reused from group to group.</summary>
    private sealed class Column(DataField field, ValueKind kind, byte[] textName)
    {
        private int[] _ints = [];
        private long[] _longs = [];
        private ReadOnlyMemory<char>[] _texts = [];
        private int[] _definitions = [];
        private int _nextValue;

        public byte[] TextName { get; } = textName;

        public void Load(ParquetRowGroupReader group, int rows)
        {
            if (!group.ColumnExists(field)) throw new InvalidDataException($"column '{field.Name}' is missing from the row group");
            // The chunk's value count includes nulls; it is the row count for a plain column, and the buffers' size.
            long values = group.GetMetadata(field)!.MetaData?.NumValues ?? rows;
            if (values != rows) throw new InvalidDataException($"column '{field.Name}' holds {values} values for {rows} rows");
            Memory<int>? definitions = null;
            if (field.MaxDefinitionLevel > 0)
            {
                Grow(ref _definitions, rows);
                definitions = _definitions.AsMemory(0, rows);
            }
            switch (kind)
            {
                case ValueKind.Int32:
                    Grow(ref _ints, rows);
                    group.ReadRawAsync(field, _ints.AsMemory(0, rows), definitions, null).AsTask().GetAwaiter().GetResult();
                    break;
                case ValueKind.Int64:
                    Grow(ref _longs, rows);
                    group.ReadRawAsync(field, _longs.AsMemory(0, rows), definitions, null).AsTask().GetAwaiter().GetResult();
                    break;
                default:
                    Grow(ref _texts, rows);
                    group.ReadRawAsync(field, _texts.AsMemory(0, rows), definitions, null).AsTask().GetAwaiter().GetResult();
                    break;
            }
            _nextValue = 0;
        }

        /// <summary>Appends row <paramref name="row"/>'s value ('-' for null); rows must come in order, since nulls take no value slot.</summary>
        public void AppendValue(VpcParquetTextStream to, int row)
        {
            if (field.MaxDefinitionLevel > 0 && _definitions[row] < field.MaxDefinitionLevel)
            {
                to.Append((byte)'-');
                return;
            }
            int index = _nextValue++;
            int written;
            switch (kind)
            {
                case ValueKind.Int32:
                    _ints[index].TryFormat(to.Reserve(11), out written, default, CultureInfo.InvariantCulture);
                    break;
                case ValueKind.Int64:
                    _longs[index].TryFormat(to.Reserve(20), out written, default, CultureInfo.InvariantCulture);
                    break;
                default:
                    var text = _texts[index].Span;
                    if (text.IsEmpty)
                    {
                        to.Append((byte)'-'); // text cannot say "empty"; AWS writes null for a value that does not apply
                        return;
                    }
                    var into = to.Reserve(Encoding.UTF8.GetMaxByteCount(text.Length));
                    written = Encoding.UTF8.GetBytes(text, into);
                    foreach (ref byte b in into[..written])
                        if (b <= (byte)' ' || b == 0x7f) b = (byte)'?';
                    break;
            }
            to._pendingEnd += written;
        }

        private static void Grow<T>(ref T[] array, int length)
        {
            if (array.Length < length) array = new T[length];
        }
    }
}
