using FlowPolicy.Core.Flows;
using FlowPolicy.Ingest.Formats;

namespace FlowPolicy.Benchmarks;

/// <summary>
/// The cheapest sink that still consumes every record (so nothing is optimised away): counts and sums a field.
/// Rejections are counted too; GlobalSetup checks there are none, or the benchmark would measure error paths.
/// </summary>
internal sealed class CountingSink : IFlowSink
{
    public long Accepted;
    public long Rejected;
    public long Skipped;
    public ulong Bytes;
    public FlowDecodeError? FirstError;

    public void Accept(in FlowRecord flow)
    {
        Accepted++;
        Bytes += flow.Bytes;
    }

    public void Reject(FlowDecodeError error)
    {
        Rejected++;
        FirstError ??= error;
    }

    public void Skip(string reason, SourcePosition position) => Skipped++;

    public void Reset() => Accepted = Rejected = Skipped = 0;

    /// <summary>Decodes once and fails loudly unless every one of <paramref name="expected"/> records was accepted.</summary>
    public static void Verify(FlowDecoder decoder, byte[] payload, int expected)
    {
        var sink = new CountingSink();
        var cursor = new DecodeCursor("bench");
        decoder.Decode(payload, ref cursor, sink);
        if (sink.Accepted != expected || sink.Rejected != 0)
            throw new InvalidOperationException(
                $"{decoder.Format}: accepted {sink.Accepted} of {expected}, rejected {sink.Rejected} (first: {sink.FirstError}), skipped {sink.Skipped}");
    }
}
