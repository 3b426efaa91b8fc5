using System.Globalization;
using System.Net;
using System.Text;
using BenchmarkDotNet.Attributes;
using FlowPolicy.Benchmarks.Data;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats;

namespace FlowPolicy.Benchmarks.Readers;

/// <summary>
/// VPC text against the obvious hand-written reader: a string per line, string.Split(' '), then int/long.Parse
/// and IPAddress.Parse into the same FlowRecord fields (default v2 layout known up front, header skipped).
/// </summary>
public class AwsVpcText : ReaderBenchmark
{
    protected override FlowFormat Format => FlowFormat.AwsVpc;
    protected override byte[] BuildPayload() => BenchData.AwsVpc();

    [Benchmark(Baseline = true, OperationsPerInvoke = Records, Description = "string.Split + Parse")]
    public long Baseline() => RunBaseline();

    protected override long RunBaseline() => ForEachLine(Payload, static line =>
    {
        var fields = Encoding.UTF8.GetString(line).Split(' ');
        if (fields[0] == "version") return false; // header
        var flow = new FlowRecord
        {
            SrcIp = PackedIp.FromIPAddress(IPAddress.Parse(fields[3])),
            DstIp = PackedIp.FromIPAddress(IPAddress.Parse(fields[4])),
            SrcPort = ushort.Parse(fields[5], CultureInfo.InvariantCulture),
            DstPort = ushort.Parse(fields[6], CultureInfo.InvariantCulture),
            Protocol = byte.Parse(fields[7], CultureInfo.InvariantCulture),
            Packets = ulong.Parse(fields[8], CultureInfo.InvariantCulture),
            Bytes = ulong.Parse(fields[9], CultureInfo.InvariantCulture),
            Start = DateTime.UnixEpoch.AddSeconds(long.Parse(fields[10], CultureInfo.InvariantCulture)),
            End = DateTime.UnixEpoch.AddSeconds(long.Parse(fields[11], CultureInfo.InvariantCulture)),
            Verdict = fields[12] == "ACCEPT" ? Verdict.Allowed : Verdict.Denied,
            Reporter = fields[2],
        };
        return flow.Packets > 0;
    });
}
