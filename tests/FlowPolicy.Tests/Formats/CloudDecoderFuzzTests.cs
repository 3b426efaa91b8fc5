using System.Text;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Azure;
using FlowPolicy.Ingest.Formats.Gcp;

namespace FlowPolicy.Tests.Formats;

/// <summary>Random and mutated input never escapes a cloud decoder as an exception.</summary>
public sealed class CloudDecoderFuzzTests
{
    private const int InputsPerDecoder = 3000;

    public static TheoryData<string> Decoders => ["gcp", "azure"];

    [Theory]
    [MemberData(nameof(Decoders))]
    public void Mutated_and_random_bytes_never_throw_and_always_advance_the_cursor(string format)
    {
        FlowDecoder decoder = format == "gcp" ? new GcpVpcFlowLogDecoder() : new AzureFlowLogDecoder();
        byte[][] seeds = format == "gcp"
            ? [Utf8(GcpVpcFlowLogDecoderTests.GkePodToPod + "\n" + GcpVpcFlowLogDecoderTests.VmToInternet + "\n" + GcpVpcFlowLogDecoderTests.Ipv6),
               Utf8("[\n  " + GcpVpcFlowLogDecoderTests.Pretty(GcpVpcFlowLogDecoderTests.GkePodToPod) + ",\n  " + GcpVpcFlowLogDecoderTests.Pretty(GcpVpcFlowLogDecoderTests.Ipv6) + "\n]")]
            : [Utf8(AzureFlowLogDecoderTests.NsgVersion1), Utf8(AzureFlowLogDecoderTests.NsgVersion2), Utf8(AzureFlowLogDecoderTests.VNet)];
        var random = new Random(20261121);
        int decodedSomething = 0;

        for (int i = 0; i < InputsPerDecoder; i++)
        {
            byte[] input = Mutate(seeds[i % seeds.Length], random, i);
            var sink = new CloudRecordingSink();
            var cursor = new DecodeCursor("fuzz", 1);
            var exception = Record.Exception(() => decoder.Decode(input, ref cursor, sink));
            Assert.True(exception is null, $"input #{i} threw {exception}: {Encoding.UTF8.GetString(input)}");
            Assert.Equal(1 + LineCount(input), cursor.Line);
            Assert.All(sink.Rejected, error => Assert.InRange(error.Position.Line, 1, 1 + LineCount(input)));
            if (sink.Accepted.Count + sink.Rejected.Count > 0) decodedSomething++;
        }

        // The mutations must leave enough structure for the decoders to get past the first bytes.
        Assert.True(decodedSomething > InputsPerDecoder / 2, $"only {decodedSomething} inputs produced records or rejects");
    }

    private static byte[] Mutate(byte[] seed, Random random, int round)
    {
        switch (round % 6)
        {
            case 0: // pure noise, sometimes JSON-ish
            {
                var noise = new byte[random.Next(0, 300)];
                random.NextBytes(noise);
                if (round % 12 == 0)
                {
                    var alphabet = "{}[],:\"0123456789.-eE \n\\ut"u8;
                    for (int i = 0; i < noise.Length; i++) noise[i] = alphabet[noise[i] % alphabet.Length];
                }
                return noise;
            }
            case 1: // truncation
                return seed[..random.Next(0, seed.Length)];
            default: // a few byte flips, insertions and deletions
            {
                var bytes = new List<byte>(seed);
                int edits = 1 + random.Next(8);
                for (int e = 0; e < edits && bytes.Count > 0; e++)
                {
                    int at = random.Next(bytes.Count);
                    switch (random.Next(4))
                    {
                        case 0: bytes[at] = (byte)random.Next(256); break;
                        case 1: bytes.Insert(at, "{}[],:\"\\0-. \n"u8[random.Next(13)]); break;
                        case 2: bytes.RemoveAt(at); break;
                        default: bytes[at] = (byte)(bytes[at] ^ (1 << random.Next(8))); break;
                    }
                }
                return [.. bytes];
            }
        }
    }

    private static long LineCount(byte[] input)
    {
        if (input.Length == 0) return 0;
        long lines = input.Count(b => b == (byte)'\n');
        return input[^1] == (byte)'\n' ? lines : lines + 1;
    }

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
}
