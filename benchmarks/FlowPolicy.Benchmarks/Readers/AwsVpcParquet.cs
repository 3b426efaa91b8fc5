using System.Globalization;
using System.IO.Compression;
using System.Text;
using BenchmarkDotNet.Attributes;
using FlowPolicy.Benchmarks.Data;
using FlowPolicy.Ingest.Files;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Vpc;

namespace FlowPolicy.Benchmarks.Readers;

/// <summary>
/// AWS VPC Flow Logs delivered as Parquet against the same 100k records as text, both read as files are read
/// (<see cref="FlowFileReader"/> on an in-memory file: detection, chunking, decoding), in the same run. The Parquet
/// file is what AWS delivers: the default format's columns with AWS's types, GZIP pages, row groups of 25,000 rows.
/// The text file is also read gzip-compressed, as AWS delivers text. Setup prints the bytes per record of each file.
/// </summary>
public class AwsVpcParquet
{
    private const int Records = BenchData.Records;
    private readonly CountingSink _sink = new();
    private readonly FlowFileReader _reader = new();
    private byte[] _text = [];
    private byte[] _textGzip = [];
    private byte[] _parquet = [];

    [GlobalSetup]
    public void Setup()
    {
        _text = BenchData.AwsVpc();
        var lines = Encoding.UTF8.GetString(_text).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        using (var parquet = new MemoryStream())
        {
            VpcParquetWriter.WriteAsync(lines[0], lines.Skip(1), parquet, rowGroupRows: 25_000).GetAwaiter().GetResult();
            _parquet = parquet.ToArray();
        }
        using (var gzip = new MemoryStream())
        {
            using (var zip = new GZipStream(gzip, CompressionLevel.Optimal, leaveOpen: true)) zip.Write(_text);
            _textGzip = gzip.ToArray();
        }
        Verify(_text, "text");
        Verify(_textGzip, "text gzip");
        Verify(_parquet, "parquet");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"// AwsVpcParquet: {Records} records; bytes/record: text {(double)_text.Length / Records:0.0}, text gzip {(double)_textGzip.Length / Records:0.0}, " +
            $"Parquet (GZIP pages) {(double)_parquet.Length / Records:0.0}"));
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Records, Description = "text VPC file")]
    public long Text() => Read(_text, "bench.log");

    /// <summary>What AWS delivers when the format is text: the same records gzip-compressed.</summary>
    [Benchmark(OperationsPerInvoke = Records, Description = "text VPC file, gzip")]
    public long TextGzip() => Read(_textGzip, "bench.log.gz");

    [Benchmark(OperationsPerInvoke = Records, Description = "Parquet VPC file")]
    public long Parquet() => Read(_parquet, "bench.parquet");

    private long Read(byte[] file, string name)
    {
        _sink.Reset();
        _reader.Read(new MemoryStream(file, writable: false), name, _sink);
        return _sink.Accepted;
    }

    private void Verify(byte[] file, string what)
    {
        Read(file, what);
        if (_sink.Accepted != Records || _sink.Rejected != 0)
            throw new InvalidOperationException($"{what}: accepted {_sink.Accepted} of {Records}, rejected {_sink.Rejected} (first: {_sink.FirstError})");
    }
}
