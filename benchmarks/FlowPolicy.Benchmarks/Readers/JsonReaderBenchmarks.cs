using System.Text.Json;
using BenchmarkDotNet.Attributes;
using FlowPolicy.Benchmarks.Data;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Canonical;

namespace FlowPolicy.Benchmarks.Readers;

// Baseline for the JSON line formats: System.Text.Json's fastest documented path (source-generated
// JsonSerializer into a POCO per line). The POCOs keep addresses as strings, so the baseline does less work
// than the readers (no address parsing, no validation): ratios are, if anything, flattering to the baseline.

public class CanonicalJson : ReaderBenchmark
{
    protected override FlowFormat Format => FlowFormat.Canonical;
    protected override byte[] BuildPayload() => BenchData.Canonical();

    [Benchmark(Baseline = true, OperationsPerInvoke = Records, Description = "STJ JsonSerializer POCO")]
    public long Baseline() => RunBaseline();

    protected override long RunBaseline() =>
        ForEachLine(Payload, static line => JsonSerializer.Deserialize(line, BaselineJson.Default.CanonicalFlow) is { SrcIp: not null });

    private readonly CanonicalJsonDecoder _readerOnly = new() { UseScanner = false };
    private readonly CountingSink _readerOnlySink = new();

    /// <summary>The same reader with its byte scanner switched off: every line through Utf8JsonReader (the code before the scanner).</summary>
    [Benchmark(OperationsPerInvoke = Records, Description = "FlowPolicy reader, Utf8JsonReader path only")]
    public long ReaderPathOnly()
    {
        _readerOnlySink.Reset();
        var cursor = new DecodeCursor("bench");
        _readerOnly.Decode(Payload, ref cursor, _readerOnlySink);
        return _readerOnlySink.Accepted;
    }
}

public class HubbleJson : ReaderBenchmark
{
    protected override FlowFormat Format => FlowFormat.Hubble;
    protected override byte[] BuildPayload() => BenchData.Hubble();

    [Benchmark(Baseline = true, OperationsPerInvoke = Records, Description = "STJ JsonSerializer POCO")]
    public long Baseline() => RunBaseline();

    protected override long RunBaseline() =>
        ForEachLine(Payload, static line => JsonSerializer.Deserialize(line, BaselineJson.Default.HubbleResponse) is { Flow.Ip.Source: not null });
}

public class GoFlow2Json : ReaderBenchmark
{
    protected override FlowFormat Format => FlowFormat.GoFlow2;
    protected override byte[] BuildPayload() => BenchData.GoFlow2();

    [Benchmark(Baseline = true, OperationsPerInvoke = Records, Description = "STJ JsonSerializer POCO")]
    public long Baseline() => RunBaseline();

    protected override long RunBaseline() =>
        ForEachLine(Payload, static line => JsonSerializer.Deserialize(line, BaselineJson.Default.GoFlow2Flow) is { SrcAddr: not null });
}

public class GcpVpcJson : ReaderBenchmark
{
    protected override FlowFormat Format => FlowFormat.GcpVpc;
    protected override byte[] BuildPayload() => BenchData.GcpVpc();

    [Benchmark(Baseline = true, OperationsPerInvoke = Records, Description = "STJ JsonSerializer POCO")]
    public long Baseline() => RunBaseline();

    protected override long RunBaseline() =>
        ForEachLine(Payload, static line => JsonSerializer.Deserialize(line, BaselineJson.Default.GcpLogEntry) is { JsonPayload.Connection.SrcIp: not null });
}

/// <summary>
/// Azure blobs are documents, not lines: the baseline is JsonDocument over the blob, walking
/// records[].properties.flows[].flows[].flowTuples[] and splitting each tuple string on commas.
/// </summary>
public class AzureNsgJson : ReaderBenchmark
{
    protected override FlowFormat Format => FlowFormat.Azure;
    protected override byte[] BuildPayload() => BenchData.Azure();

    [Benchmark(Baseline = true, OperationsPerInvoke = Records, Description = "STJ JsonDocument + Split")]
    public long Baseline() => RunBaseline();

    protected override long RunBaseline()
    {
        long count = 0;
        using var document = JsonDocument.Parse(Payload);
        foreach (var record in document.RootElement.GetProperty("records").EnumerateArray())
        foreach (var rule in record.GetProperty("properties").GetProperty("flows").EnumerateArray())
        foreach (var mac in rule.GetProperty("flows").EnumerateArray())
        foreach (var tuple in mac.GetProperty("flowTuples").EnumerateArray())
        {
            var fields = tuple.GetString()!.Split(',');
            long unix = long.Parse(fields[0]);
            var src = System.Net.IPAddress.Parse(fields[1]);
            var dst = System.Net.IPAddress.Parse(fields[2]);
            int srcPort = int.Parse(fields[3]), dstPort = int.Parse(fields[4]);
            ulong packets = fields.Length > 9 && fields[9].Length > 0 ? ulong.Parse(fields[9]) : 0;
            if (unix > 0 && src is not null && dst is not null && srcPort + dstPort >= 0 && packets >= 0) count++;
        }
        return count;
    }
}
