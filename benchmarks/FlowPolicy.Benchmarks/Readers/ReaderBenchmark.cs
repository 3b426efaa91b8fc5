using BenchmarkDotNet.Attributes;
using FlowPolicy.Benchmarks.Data;
using FlowPolicy.Ingest.Formats;

namespace FlowPolicy.Benchmarks.Readers;

/// <summary>
/// One reader against "what users would use instead" on the same 100k-record payload. Every method handles the
/// whole payload; OperationsPerInvoke makes BenchmarkDotNet report time and allocation per record.
/// </summary>
public abstract class ReaderBenchmark
{
    protected const int Records = BenchData.Records;
    private readonly CountingSink _sink = new();
    private FlowDecoder _decoder = null!;
    protected byte[] Payload { get; private set; } = [];

    protected abstract FlowFormat Format { get; }
    protected abstract byte[] BuildPayload();

    [GlobalSetup]
    public void Setup()
    {
        Payload = BuildPayload();
        _decoder = FlowDecoders.For(Format);
        CountingSink.Verify(_decoder, Payload, Records);
        VerifyBaseline();
    }

    /// <summary>The reader as the ingest workers run it: one decoder, one cursor per source, one sink.</summary>
    [Benchmark(OperationsPerInvoke = Records, Description = "FlowPolicy reader")]
    public long FlowPolicyReader()
    {
        _sink.Reset();
        var cursor = new DecodeCursor("bench");
        _decoder.Decode(Payload, ref cursor, _sink);
        return _sink.Accepted;
    }

    /// <summary>Runs the baseline once and checks it saw every record, so the comparison is like for like.</summary>
    private void VerifyBaseline()
    {
        long seen = RunBaseline();
        if (seen != Records) throw new InvalidOperationException($"{GetType().Name}: baseline saw {seen} of {Records} records");
    }

    protected abstract long RunBaseline();

    /// <summary>Calls <paramref name="line"/> for each non-empty line, as a line-oriented consumer would split a file.</summary>
    protected static long ForEachLine(ReadOnlySpan<byte> payload, LineHandler line)
    {
        long count = 0;
        while (!payload.IsEmpty)
        {
            int newline = payload.IndexOf((byte)'\n');
            var current = newline < 0 ? payload : payload[..newline];
            payload = newline < 0 ? default : payload[(newline + 1)..];
            if (!current.IsEmpty && line(current)) count++;
        }
        return count;
    }

    protected delegate bool LineHandler(ReadOnlySpan<byte> line);
}
