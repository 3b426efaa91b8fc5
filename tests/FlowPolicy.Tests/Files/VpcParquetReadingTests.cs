using FlowPolicy.Core.Flows;
using FlowPolicy.Ingest.Embedded;
using FlowPolicy.Ingest.Files;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Vpc;
using FlowPolicy.Ingest.Workers;
using Parquet;
using Parquet.Meta;
using static FlowPolicy.Tests.Files.FlowFileReaderTests;

namespace FlowPolicy.Tests.Files;

/// <summary>
/// AWS VPC Flow Logs delivered as Parquet: files are written here with Parquet.Net in AWS's schema (the column names
/// Athena uses, AWS's documented physical types) from text records, and must read exactly as those text records do.
/// </summary>
public sealed class VpcParquetReadingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("flowpolicy-parquet-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // v5 custom format (every field the decoder reads, and some it does not), records after AWS's examples page.
    private const string V5Header =
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status " +
        "vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr region az-id flow-direction traffic-path";

    private static readonly string[] V5Records =
    [
        "5 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK vpc-1 subnet-1 i-1 2 IPv4 172.31.16.139 172.31.16.21 us-east-1 use1-az1 ingress -",
        "5 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK vpc-1 subnet-1 i-1 0 IPv4 172.31.9.69 172.31.9.12 us-east-1 use1-az1 ingress -",
        "5 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA vpc-1 subnet-1 i-1 - - - - us-east-1 use1-az1 - -",
        "5 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA vpc-1 subnet-1 - - - - - us-east-1 use1-az1 - -",
        // NAT gateway: the interface addresses are the gateway's, pkt-* the pod's and the service's.
        "5 123456789010 eni-0a1b2c3d 10.0.1.5 203.0.113.5 34000 443 6 9 1200 1418530010 1418530070 ACCEPT OK vpc-1 subnet-1 - 19 IPv4 10.0.7.9 203.0.113.5 us-east-1 use1-az1 egress 8",
        "5 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK vpc-1 subnet-1 i-1 18 IPv6 - - us-east-1 use1-az1 egress 1",
        "5 123456789010 eni-1235b8ca123456789 10.0.0.1 10.0.0.2 - - 1 3 252 1418530010 1418530070 ACCEPT OK vpc-1 subnet-1 i-1 0 IPv4 - - us-east-1 use1-az1 ingress -",
    ];

    private string Path(params string[] parts) => System.IO.Path.Combine([_dir, .. parts]);

    private static async Task<string> WriteParquet(string path, string header, IEnumerable<string> records, int rowGroupRows = 3)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        await using var file = File.Create(path);
        await VpcParquetWriter.WriteAsync(header, records, file, rowGroupRows);
        return path;
    }

    /// <summary>The V5 records in three row groups, the second's first data page overwritten.</summary>
    private async Task<string> WriteCorruptParquet()
    {
        var path = await WriteParquet(Path("corrupt.parquet"), V5Header, V5Records);
        long offset;
        using (var file = File.OpenRead(path))
        await using (var reader = await ParquetReader.CreateAsync(file))
            offset = reader.Metadata!.RowGroups[1].Columns[0].MetaData!.DataPageOffset;
        var bytes = File.ReadAllBytes(path);
        bytes.AsSpan((int)offset, 24).Fill(0xff);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static CollectingSink Read(string path, FlowFileReader? reader = null) => Read(path, out _, reader);

    private static CollectingSink Read(string path, out FlowFileSummary summary, FlowFileReader? reader = null)
    {
        var sink = new CollectingSink();
        summary = (reader ?? new FlowFileReader()).Read(path, sink);
        return sink;
    }

    [Fact]
    public async Task The_test_files_have_AWS_column_names_and_physical_types()
    {
        var path = await WriteParquet(Path("types.parquet"), V5Header, V5Records);
        using var file = File.OpenRead(path);
        await using var reader = await ParquetReader.CreateAsync(file);
        var schema = reader.Metadata!.Schema.Skip(1).ToDictionary(e => e.Name, e => e.Type);

        foreach (var name in new[] { "version", "srcport", "dstport", "protocol", "tcp_flags", "traffic_path" }) Assert.Equal(Parquet.Meta.Type.INT32, schema[name]);
        foreach (var name in new[] { "packets", "bytes", "start", "end" }) Assert.Equal(Parquet.Meta.Type.INT64, schema[name]);
        foreach (var name in new[] { "account_id", "interface_id", "srcaddr", "dstaddr", "action", "log_status", "pkt_srcaddr", "flow_direction" })
            Assert.Equal(Parquet.Meta.Type.BYTE_ARRAY, schema[name]);
        Assert.Equal(3, reader.RowGroupCount); // 7 rows, 3 per group: the reader must cross row groups
        Assert.Equal(CompressionCodec.GZIP, reader.Metadata.RowGroups[0].Columns[0].MetaData!.Codec);
    }

    [Fact]
    public async Task Parquet_rows_read_exactly_as_the_same_text_records()
    {
        var text = Path("flows.log");
        File.WriteAllText(text, V5Header + "\n" + string.Join("\n", V5Records) + "\n");
        var parquet = await WriteParquet(Path("flows.log.parquet"), V5Header, V5Records);

        var fromText = Read(text);
        var fromParquet = Read(parquet, out var summary);

        Assert.Equal(5, fromParquet.Flows.Count);
        Assert.Equal(fromText.Flows, fromParquet.Flows);
        Assert.Equal(["NODATA", "SKIPDATA"], fromParquet.Skips);
        Assert.Empty(fromParquet.Errors);
        Assert.Equal(FlowFormat.AwsVpc, summary.Format);
        Assert.True(summary.Parquet);
        Assert.Equal(new FileInfo(parquet).Length, summary.Bytes);
        // The mapping is the text decoder's: pkt-* addresses win, TCP flags only for TCP, the ENI is the reporter.
        var nat = fromParquet.Flows[2];
        Assert.Equal("10.0.7.9", nat.SrcIp.ToString());
        Assert.Equal((ushort)19, nat.TcpFlags);
        Assert.Equal("eni-0a1b2c3d", nat.Reporter);
        Assert.False(fromParquet.Flows[4].HasTcpFlags);
        Assert.Equal(0, fromParquet.Flows[4].SrcPort); // '-' (null) ports of an ICMP flow
    }

    [Fact]
    public async Task Default_v2_columns_with_hyphenated_names_are_read_too()
    {
        // Another writer (a conversion job) may keep AWS's text names; the text header accepts both spellings too.
        const string header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";
        var path = Path("v2.parquet");
        await using (var file = File.Create(path))
        {
            var fields = header.Split(' ').Select(name => name is "version" or "srcport" or "dstport" or "protocol" ? (Parquet.Schema.DataField)new Parquet.Schema.DataField<int>(name)
                : name is "packets" or "bytes" or "start" or "end" ? new Parquet.Schema.DataField<long>(name) : new Parquet.Schema.DataField<string>(name)).ToArray();
            await using var writer = await ParquetWriter.CreateAsync(new Parquet.Schema.ParquetSchema(fields), file);
            using var group = writer.CreateRowGroup();
            var values = FlowFileReaderTests.OneRecordPerFormat[FlowFormat.AwsVpc].Split(' ');
            for (int i = 0; i < fields.Length; i++)
            {
                if (fields[i].ClrType == typeof(int)) await group.WriteAsync<int>(fields[i], new[] { int.Parse(values[i]) });
                else if (fields[i].ClrType == typeof(long)) await group.WriteAsync<long>(fields[i], new[] { long.Parse(values[i]) });
                else await group.WriteAsync(fields[i], new[] { values[i] });
            }
        }

        var flow = Assert.Single(Read(path).Flows);

        Assert.Equal("172.31.16.139", flow.SrcIp.ToString());
        Assert.Equal(22, flow.DstPort);
        Assert.Equal(DateTime.UnixEpoch.AddSeconds(1418530010), flow.Start);
    }

    [Fact]
    public async Task A_row_with_a_bad_address_is_rejected_with_its_row_and_column_and_the_other_rows_are_read()
    {
        var records = V5Records.ToArray();
        records[4] = records[4].Replace("10.0.7.9", "10.0.7.999");
        records[5] = records[5].Replace(" 34892 ", " 70000 ");
        var path = await WriteParquet(Path("bad.parquet"), V5Header, records);

        var sink = Read(path);

        Assert.Equal(3, sink.Flows.Count);
        Assert.Collection(sink.Errors,
            e =>
            {
                Assert.Equal(new SourcePosition(path, 5), e.Position); // row 5 of the file (rows count from 1 across row groups)
                Assert.Contains("pkt-srcaddr '10.0.7.999' is not an IP address", e.Reason);
            },
            e =>
            {
                Assert.Equal(new SourcePosition(path, 6), e.Position);
                Assert.Contains("srcport '70000'", e.Reason);
            });
    }

    [Fact]
    public async Task White_space_inside_a_string_value_never_shifts_the_other_columns()
    {
        var path = Path("space.parquet");
        await using (var file = File.Create(path))
        {
            var fields = new Parquet.Schema.DataField[] { new Parquet.Schema.DataField<string>("srcaddr"), new Parquet.Schema.DataField<string>("dstaddr"), new Parquet.Schema.DataField<long?>("start") };
            await using var writer = await ParquetWriter.CreateAsync(new Parquet.Schema.ParquetSchema(fields), file);
            using var group = writer.CreateRowGroup();
            await group.WriteAsync(fields[0], new[] { "10.0.0.1", "10.0.0 .2", "" });
            await group.WriteAsync(fields[1], new[] { "10.0.0.3", "10.0.0.4", "10.0.0.5" });
            await group.WriteAsync<long>(fields[2], new long?[] { 1418530010, 1418530010, 1418530010 });
        }

        var sink = Read(path);

        Assert.Single(sink.Flows);
        Assert.Equal(2, sink.Errors.Count);
        Assert.Contains("srcaddr '10.0.0?.2' is not an IP address", sink.Errors[0].Reason);
        Assert.Contains("no srcaddr", sink.Errors[1].Reason); // an empty string is no value, as '-' is
    }

    [Fact]
    public async Task A_truncated_parquet_file_is_an_error_naming_the_file()
    {
        var whole = await WriteParquet(Path("whole.parquet"), V5Header, V5Records);
        var bytes = File.ReadAllBytes(whole);
        var cut = Path("cut.parquet");
        File.WriteAllBytes(cut, bytes[..(bytes.Length / 2)]);

        var error = Assert.Throws<FlowFileException>(() => Read(cut));

        Assert.Contains($"'{cut}'", error.Message);
        Assert.Contains("cannot be opened", error.Message);
    }

    [Fact]
    public async Task A_corrupt_row_group_stops_the_file_with_an_error_after_the_rows_before_it()
    {
        var path = await WriteCorruptParquet();

        var sink = new CollectingSink();
        var error = Assert.Throws<FlowFileException>(() => new FlowFileReader().Read(path, sink));

        Assert.Contains($"'{path}' is not a readable Parquet file", error.Message);
        Assert.Contains("row group 2 of 3", error.Message);
        Assert.Equal(2, sink.Flows.Count); // the first row group's rows were read
    }

    [Fact]
    public async Task On_several_threads_rows_keep_their_numbers_and_a_corrupt_row_group_fails_as_it_does_on_one()
    {
        var records = V5Records.ToArray();
        records[4] = records[4].Replace("10.0.7.9", "10.0.7.999");
        var bad = await WriteParquet(Path("bad.parquet"), V5Header, records, rowGroupRows: 2);
        foreach (int threads in new[] { 1, 3 })
        {
            // 150-byte chunks: about one row each, so the header and the rows go to different threads.
            var load = new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = [bad], Threads = threads, ChunkBytes = 150 }).Load();
            Assert.Equal(new SourcePosition(bad, 5), Assert.Single(load.Errors).Position);
            Assert.True(Assert.Single(load.Files).Parquet);
            Assert.Equal(new FileInfo(bad).Length, load.Files[0].Bytes);
        }

        var corrupt = await WriteCorruptParquet();
        var sequential = Assert.Throws<FlowFileException>(() => new FlowFileReader().Read(corrupt, new CollectingSink())).Message;
        Assert.Contains($"'{corrupt}' is not a readable Parquet file: row group 2 of 3", sequential);
        Assert.Contains("the 3 rows before it were read", sequential);
        foreach (int threads in new[] { 1, 2, 4 })
        {
            var parallel = Assert.Throws<FlowFileException>(() =>
                new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = [bad, corrupt], Threads = threads, ChunkBytes = 150 }).Load());
            Assert.Equal(sequential, parallel.Message);
        }
    }

    [Fact]
    public async Task Parquet_from_a_pipe_or_inside_gzip_is_refused_saying_what_to_do()
    {
        var path = await WriteParquet(Path("p.parquet"), V5Header, V5Records);
        using (var pipe = new UnseekableStream(File.ReadAllBytes(path)))
        {
            var error = Assert.Throws<FlowFileException>(() => new FlowFileReader().Read(pipe, "-", new CollectingSink()));
            Assert.Contains("'-' is a Parquet file read from a pipe", error.Message);
            Assert.Contains("save it to a file first", error.Message);
        }

        var gzipped = Path("p.parquet.gz");
        using (var gzip = new System.IO.Compression.GZipStream(File.Create(gzipped), System.IO.Compression.CompressionLevel.Fastest))
            gzip.Write(File.ReadAllBytes(path));
        var sink = new CollectingSink();
        var refused = Assert.Throws<FlowFileException>(() => new FlowFileReader().Read(gzipped, sink));
        Assert.Contains($"'{gzipped}' is a gzip-compressed Parquet file", refused.Message);
        Assert.Contains("gunzip", refused.Message);
        Assert.Empty(sink.Flows);
        Assert.Empty(sink.Errors);
    }

    /// <summary>A pipe: read-only, forward only.</summary>
    private sealed class UnseekableStream(byte[] bytes) : MemoryStream(bytes, writable: false)
    {
        public override bool CanSeek => false;
    }

    [Fact]
    public async Task Formats_without_start_and_end_take_the_time_from_the_Hive_or_the_plain_S3_path()
    {
        const string header = "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes action log-status";
        string[] records = ["5 eni-1 10.0.0.1 10.0.0.2 40000 443 6 2 120 ACCEPT OK"];
        var hive = await WriteParquet(Path("AWSLogs", "aws-account-id=123456789012", "aws-service=vpcflowlogs", "aws-region=us-east-1", "year=2026", "month=12",
            "day=07", "hour=01", "123456789012_vpcflowlogs_us-east-1_fl-0abc_20261207T0105Z_f00d.log.parquet"), header, records);
        var plain = await WriteParquet(Path("AWSLogs", "123456789012", "vpcflowlogs", "us-east-1", "2026", "12", "07", "flows.parquet"), header, records);
        var nowhere = await WriteParquet(Path("flows.parquet"), header, records);

        var fromHive = Read(hive, out var hiveSummary);
        var fromPlain = Read(plain);

        Assert.Equal(new DateTime(2026, 12, 7, 1, 5, 0, DateTimeKind.Utc), Assert.Single(fromHive.Flows).Start);
        Assert.Contains("delivery file's name", hiveSummary.Note);
        Assert.Equal(new DateTime(2026, 12, 7, 0, 0, 0, DateTimeKind.Utc), Assert.Single(fromPlain.Flows).Start);
        Assert.Equal(new DateTime(2026, 3, 1, 0, 0, 0, DateTimeKind.Utc),
            Assert.Single(Read(nowhere, new FlowFileReader(recordTime: new DateTime(2026, 3, 1, 0, 0, 0, DateTimeKind.Utc))).Flows).Start);
        var error = Assert.Throws<FlowFileException>(() => Read(nowhere));
        Assert.Contains("--time", error.Message);
    }

    [Fact]
    public async Task Parquet_is_read_as_VPC_flow_logs_only()
    {
        var path = await WriteParquet(Path("flows.parquet"), V5Header, V5Records);

        Assert.Equal(5, Read(path, new FlowFileReader(FlowFormat.AwsVpc)).Flows.Count);
        var error = Assert.Throws<FlowFileException>(() => Read(path, new FlowFileReader(FlowFormat.Hubble)));
        Assert.Contains("--format vpc", error.Message);

        var other = Path("other.parquet");
        await using (var file = File.Create(other))
        {
            var field = new Parquet.Schema.DataField<string>("city");
            await using var writer = await ParquetWriter.CreateAsync(new Parquet.Schema.ParquetSchema(field), file);
            using var group = writer.CreateRowGroup();
            await group.WriteAsync(field, new[] { "Lisbon" });
        }
        error = Assert.Throws<FlowFileException>(() => Read(other));
        Assert.Contains("without VPC flow log columns", error.Message);
        Assert.Contains("city", error.Message);
    }

    [Fact]
    public async Task The_sample_VPC_log_as_Parquet_gives_the_same_edges_as_its_text()
    {
        var sample = Cli.CliProcess.Run("sample", "--out", _dir, "--days", "2", "--rate", "2");
        Assert.Equal(0, sample.ExitCode);
        var files = sample.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var vpcText = Assert.Single(files, f => f.EndsWith(".gz"));
        var inventory = files.Where(f => f.Contains("inventory")).ToArray();
        var lines = new List<string>();
        using (var gzip = new System.IO.Compression.GZipStream(File.OpenRead(vpcText), System.IO.Compression.CompressionMode.Decompress))
        using (var text = new StreamReader(gzip))
            while (text.ReadLine() is { } line) lines.Add(line);
        var vpcParquet = await WriteParquet(Path("AWSLogs", "aws-account-id=123456789012", "aws-service=vpcflowlogs", "aws-region=us-east-1", "year=2026",
            "month=11", "day=02", "hour=10", "123456789012_vpcflowlogs_us-east-1_fl-0abc_20261102T1005Z_f00d.log.parquet"), lines[0], lines.Skip(1), rowGroupRows: 500);

        var fromText = Cli.CliProcess.Run(["edges", "--flows", vpcText, "--inventory", .. inventory]);
        var fromParquet = Cli.CliProcess.Run(["edges", "--flows", vpcParquet, "--inventory", .. inventory]);

        Assert.True(fromParquet.ExitCode == 0, fromParquet.Stderr);
        Assert.NotEmpty(fromText.Stdout.Trim());
        Assert.Equal(fromText.Stdout, fromParquet.Stdout);
        Assert.Contains("1 vpc parquet", fromParquet.Stderr);
        Assert.Contains("1 NODATA", fromParquet.Stderr);
    }

    [Fact]
    public async Task The_detector_knows_Parquet_by_its_magic_and_a_Kafka_message_holding_one_says_what_to_do()
    {
        var bytes = File.ReadAllBytes(await WriteParquet(Path("m.parquet"), V5Header, V5Records));
        Assert.True(FlowFormatDetector.IsParquet(bytes));
        Assert.False(FlowFormatDetector.IsParquet(System.Text.Encoding.UTF8.GetBytes(V5Header)));

        var decoder = new MessageDecoder();
        decoder.Decode(bytes, "flows/0@1");

        Assert.Equal(0, decoder.FlowCount);
        Assert.Contains("flowpolicy produce", Assert.Single(decoder.Rejects).Error.Reason);
    }
}
