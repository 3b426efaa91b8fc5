using System.Text;
using FlowPolicy.Ingest.Files;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Tests.Cli;
using static FlowPolicy.Tests.Files.FlowFileReaderTests;
using FlowPolicy.Ingest.Formats.Vpc;

namespace FlowPolicy.Tests.Formats;

/// <summary>
/// AWS VPC custom formats without start/end (issue 16, item 9): the records' time from --time or the S3 delivery path.
/// The transit gateway record is written in the shape AWS documents for TGW flow logs (its own tgw-* fields, then the
/// 5-tuple, counters and log-status), configured here without start and end.
/// </summary>
public sealed class VpcRecordTimeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("flowpolicy-vpctime-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string TransitGatewayHeader =
        "version resource-type account-id tgw-id tgw-attachment-id tgw-src-vpc-account-id tgw-dst-vpc-account-id tgw-src-vpc-id tgw-dst-vpc-id " +
        "tgw-src-subnet-id tgw-dst-subnet-id tgw-src-eni tgw-dst-eni tgw-src-az-id tgw-dst-az-id tgw-pair-attachment-id " +
        "srcaddr dstaddr srcport dstport protocol packets bytes log-status type";

    private const string TransitGatewayRecord =
        "6 TransitGateway 123456789012 tgw-0a1b2c3d4e5f60718 tgw-attach-0f1e2d3c4b5a69788 123456789012 210987654321 vpc-0aa11bb22cc33dd44 " +
        "vpc-0ee55ff66aa77bb88 subnet-01234abcd5678ef90 subnet-0fedcba9876543210 eni-0a1b2c3d4e5f6a7b8 eni-0b1c2d3e4f5a6b7c8 use1-az1 use1-az2 " +
        "tgw-attach-0a9b8c7d6e5f4a3b2 10.1.2.3 10.2.3.4 44321 443 6 12 4380 OK IPv4";

    private const string Text = TransitGatewayHeader + "\n" + TransitGatewayRecord + "\n";

    [Theory]
    [InlineData("logs/AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/02/123456789012_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f6a7b8_20261102T1005Z_3f2a1b4c.log.gz",
        "2026-11-02T10:05:00Z", VpcTimeOrigin.DeliveryFileName)]
    [InlineData("/data/AWSLogs/123456789012/vpcflowlogs/eu-west-1/2026/11/02/17/flows.log.gz", "2026-11-02T17:00:00Z", VpcTimeOrigin.DeliveryPathHour)]
    [InlineData("AWSLogs/123456789012/vpcflowlogs/eu-west-1/2026/11/02/flows.log", "2026-11-02T00:00:00Z", VpcTimeOrigin.DeliveryPathDay)]
    [InlineData(@"C:\s3\AWSLogs\123456789012\vpcflowlogs\eu-west-1\2026\11\02\flows.log", "2026-11-02T00:00:00Z", VpcTimeOrigin.DeliveryPathDay)]
    [InlineData("bucket/prefix/AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=11/day=02/hour=08/x.log.gz",
        "2026-11-02T08:00:00Z", VpcTimeOrigin.DeliveryPathHour)]
    // A file name stamped on another day than its folder (a copy moved by hand): the folder's date is trusted.
    [InlineData("AWSLogs/1/vpcflowlogs/r/2026/11/02/1_vpcflowlogs_r_fl-1_20261005T1005Z_a.log", "2026-11-02T00:00:00Z", VpcTimeOrigin.DeliveryPathDay)]
    public void The_delivery_path_gives_the_most_precise_time_it_holds(string path, string expected, object origin) // object: the enum is internal
    {
        Assert.True(VpcRecordTime.TryFromDeliveryPath(path, out var time, out var found));
        Assert.Equal(DateTime.Parse(expected, null, System.Globalization.DateTimeStyles.AdjustToUniversal), time);
        Assert.Equal(DateTimeKind.Utc, time.Kind);
        Assert.Equal((VpcTimeOrigin)origin, found);
    }

    [Theory]
    [InlineData("flows.log")]
    [InlineData("AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/13/02/flows.log")] // month 13
    [InlineData("AWSLogs/123456789012/cloudtrail/us-east-1/2026/11/02/trail.json")] // not a flow log delivery
    [InlineData("AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11")] // no day
    public void Paths_without_a_delivery_date_give_none(string path) =>
        Assert.False(VpcRecordTime.TryFromDeliveryPath(path, out _, out _));

    private string WriteAt(string relative, string text)
    {
        var path = Path.Combine(_dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void A_transit_gateway_file_without_start_and_end_takes_its_time_from_the_delivery_path_and_says_so()
    {
        var path = WriteAt("AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/02/123456789012_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f6a7b8_20261102T1005Z_3f2a1b4c.log", Text);
        var sink = new CollectingSink();
        var summary = new FlowFileReader().Read(path, sink);

        Assert.Empty(sink.Errors);
        var flow = Assert.Single(sink.Flows);
        Assert.Equal(new DateTime(2026, 11, 2, 10, 5, 0, DateTimeKind.Utc), flow.Start);
        Assert.Equal(flow.Start, flow.End);
        Assert.Equal((443, 12UL, 4380UL), (flow.DstPort, flow.Packets, flow.Bytes));
        Assert.Equal(FlowFormat.AwsVpc, summary.Format);
        Assert.Contains("from the delivery file's name", summary.Note);
    }

    [Fact]
    public void A_given_time_wins_over_the_path_and_a_file_with_neither_is_a_file_error_naming_what_to_pass()
    {
        var dated = WriteAt("AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/02/flows.log", Text);
        var undated = WriteAt("copies/tgw.log", Text);
        var given = new DateTime(2026, 11, 3, 12, 0, 0, DateTimeKind.Utc);

        var sink = new CollectingSink();
        var summary = new FlowFileReader(null, given).Read(dated, sink);
        Assert.Equal(given, Assert.Single(sink.Flows).Start);
        Assert.Contains("from --time", summary.Note);

        var ex = Assert.Throws<FlowFileException>(() => new FlowFileReader().Read(undated, new CollectingSink()));
        Assert.Contains("tgw.log", ex.Message);
        Assert.Contains("--time", ex.Message);
    }

    [Fact]
    public void Files_with_start_and_end_ignore_the_given_time()
    {
        var path = WriteAt("plain.log", "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK\n");
        var sink = new CollectingSink();
        var summary = new FlowFileReader(null, new DateTime(2026, 11, 3, 0, 0, 0, DateTimeKind.Utc)).Read(path, sink);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1418530010).UtcDateTime, Assert.Single(sink.Flows).Start);
        Assert.Null(summary.Note);
    }

    [Fact]
    public void The_edges_command_exits_2_without_a_time_and_reads_the_file_with_time()
    {
        var undated = WriteAt("tgw.log", Text);
        var failed = CliProcess.Run("edges", "--flows", undated);
        Assert.Equal(2, failed.ExitCode);
        Assert.Contains("pass --time T", failed.Stderr);

        var read = CliProcess.Run("edges", "--flows", undated, "--time", "2026-11-02T10:00:00Z", "--json");
        Assert.True(read.ExitCode == 0, read.Stderr);
        Assert.Contains("time 2026-11-02T10:00:00Z from --time", read.Stderr);
        Assert.Contains("10.2.3.4", read.Stdout);
        Assert.Contains("2026-11-02T10:00:00Z", read.Stdout);
    }

    [Fact]
    public void Produce_refuses_a_file_without_any_time_before_asking_a_broker()
    {
        var undated = WriteAt("tgw.log", Text);
        var result = CliProcess.Run("produce", "--brokers", "127.0.0.1:1", "--connect-timeout", "1", undated);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("pass --time T", result.Stderr);
    }

    [Fact]
    public void A_configured_format_without_times_resolves_per_source_and_keeps_the_shared_layout_clean()
    {
        var decoder = new AwsVpcFlowLogDecoder("srcaddr dstaddr srcport dstport protocol packets bytes");
        const string record = "10.1.2.3 10.2.3.4 44321 443 6 12 4380\n";
        var dated = new DecodeCursor("AWSLogs/1/vpcflowlogs/r/2026/11/02/a.log");
        var datedSink = new CollectingSink();
        decoder.Decode(Encoding.ASCII.GetBytes(record), ref dated, datedSink);
        var undated = new DecodeCursor("kafka flows[3]@17");
        var undatedSink = new CollectingSink();
        decoder.Decode(Encoding.ASCII.GetBytes(record), ref undated, undatedSink);

        Assert.Equal(new DateTime(2026, 11, 2, 0, 0, 0, DateTimeKind.Utc), Assert.Single(datedSink.Flows).Start);
        Assert.Contains("--time", Assert.Single(undatedSink.Errors).Reason); // not the other source's date
    }
}
