using System.Globalization;
using Parquet;
using Parquet.Schema;

namespace FlowPolicy.Ingest.Formats.Vpc;

/// <summary>
/// Writes VPC flow log text records as the Parquet file AWS delivers to S3: one optional column per field, named as
/// Athena's tables name them (<c>account_id</c>, <c>log_status</c>), with AWS's documented physical types (the
/// "Parquet data type" of each field on AWS's "Flow log records" page: INT_32 for version, ports, protocol, tcp-flags and
/// traffic-path, INT_64 for packets, bytes, start and end, STRING for the rest), null where the text has '-', GZIP
/// pages. Tests and benchmarks derive their Parquet files from text with it, so both readers see the same records.
/// </summary>
internal static class VpcParquetWriter
{
    private static readonly HashSet<string> Int32Fields = new(StringComparer.Ordinal)
        { "version", "srcport", "dstport", "protocol", "tcp-flags", "traffic-path" };

    private static readonly HashSet<string> Int64Fields = new(StringComparer.Ordinal)
        { "packets", "bytes", "start", "end" };

    /// <summary>The column AWS writes for a VPC field name (hyphenated, as in the text header).</summary>
    public static DataField ColumnFor(string field)
    {
        string name = field.Replace('-', '_');
        return Int32Fields.Contains(field) ? new DataField<int?>(name)
            : Int64Fields.Contains(field) ? new DataField<long?>(name)
            : new DataField<string>(name, nullable: true);
    }

    /// <param name="header">The text header line (<c>version account-id ...</c>): the columns, in order.</param>
    /// <param name="records">Text records in that layout; a number that does not fit its column is a <see cref="FormatException"/>.</param>
    /// <param name="output">Writable and seekable.</param>
    /// <param name="rowGroupRows">Rows per row group.</param>
    public static async Task WriteAsync(string header, IEnumerable<string> records, Stream output, int rowGroupRows = 50_000,
        CompressionMethod compression = CompressionMethod.Gzip, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rowGroupRows, 1);
        var names = header.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var fields = names.Select(ColumnFor).ToArray();
        var options = new ParquetOptions { CompressionMethod = compression };
        await using var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), output, options, cancellationToken: cancellationToken);
        var batch = new List<string[]>(Math.Min(rowGroupRows, 65_536));
        foreach (var record in records)
        {
            var values = record.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (values.Length != names.Length) throw new FormatException($"record has {values.Length} fields, the header {names.Length}: {record}");
            batch.Add(values);
            if (batch.Count == rowGroupRows)
            {
                await WriteRowGroupAsync(writer, names, fields, batch, cancellationToken);
                batch.Clear();
            }
        }
        if (batch.Count > 0) await WriteRowGroupAsync(writer, names, fields, batch, cancellationToken);
    }

    private static async Task WriteRowGroupAsync(ParquetWriter writer, string[] names, DataField[] fields, List<string[]> rows, CancellationToken cancellationToken)
    {
        using var group = writer.CreateRowGroup();
        for (int c = 0; c < fields.Length; c++)
        {
            if (Int32Fields.Contains(names[c]))
                await group.WriteAsync<int>(fields[c], rows.Select(r => Absent(r[c]) ? (int?)null : int.Parse(r[c], CultureInfo.InvariantCulture)).ToArray(), cancellationToken: cancellationToken);
            else if (Int64Fields.Contains(names[c]))
                await group.WriteAsync<long>(fields[c], rows.Select(r => Absent(r[c]) ? (long?)null : long.Parse(r[c], CultureInfo.InvariantCulture)).ToArray(), cancellationToken: cancellationToken);
            else
                await group.WriteAsync(fields[c], rows.Select(r => Absent(r[c]) ? null : r[c]).ToArray());
        }
    }

    private static bool Absent(string value) => value == "-";
}
