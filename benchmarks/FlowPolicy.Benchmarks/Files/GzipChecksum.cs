using System.IO.Hashing;
using BenchmarkDotNet.Attributes;
using FlowPolicy.Ingest.Files;

namespace FlowPolicy.Benchmarks.Files;

/// <summary>
/// The gzip trailer's CRC-32 over what <c>CheckedGzipStream</c> feeds it: inflated blocks of up to 64 KiB (a large
/// member) and 6 KB (a small member, AWS's many-member files), and the 10-byte header. The framework's
/// <c>System.IO.Hashing.Crc32</c> against the hand-written one (carry-less multiply folding + slicing-by-8) in the
/// same run; the framework one replaces ours only if it is at least as fast.
/// </summary>
public class GzipChecksum
{
    private byte[] _data = [];

    [Params(10, 6_000, 65_536)]
    public int Bytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Bytes];
        new Random(11).NextBytes(_data);
    }

    [Benchmark(Baseline = true, Description = "hand-written CRC-32")]
    public uint HandWritten() => GzipCrc32.Append(0, _data);

    [Benchmark(Description = "System.IO.Hashing.Crc32")]
    public uint Framework() => Crc32.HashToUInt32(_data);
}
