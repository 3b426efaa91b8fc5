using FlowPolicy.Core.Flows;

namespace FlowPolicy.Ingest.Formats;

/// <summary>Where a record came from: a file and line, or a Kafka topic/partition/offset (and line inside the message).</summary>
public readonly record struct SourcePosition(string Source, long Line)
{
    public override string ToString() => Line > 0 ? $"{Source}:{Line}" : Source;
}

/// <summary>A record that could not be decoded: where it is, why, and a short excerpt of it.</summary>
public sealed record FlowDecodeError(SourcePosition Position, string Reason, string? Excerpt)
{
    public override string ToString() => $"{Position}: {Reason}";
}

/// <summary>Receives what a decoder finds. Implementations must not throw back into the decoder.</summary>
public interface IFlowSink
{
    void Accept(in FlowRecord flow);
    void Reject(FlowDecodeError error);
    /// <summary>A record that is well-formed but carries no flow (VPC NODATA/SKIPDATA, Azure empty tuples).</summary>
    void Skip(string reason, SourcePosition position);

    /// <summary>
    /// An L7 observation (Hubble's HTTP/gRPC/DNS/Kafka records and the names it attaches to flows). When
    /// <see cref="L7Observation.CarriesFlow"/> it comes right after the <see cref="Accept"/> of the same record;
    /// otherwise it is the record's only outcome. A sink that keeps no L7 facts counts the latter as a skip, so every
    /// record is still accounted for once.
    /// </summary>
    void AcceptL7(in L7Observation observation, SourcePosition position)
    {
        if (!observation.CarriesFlow) Skip(L7Observations.NotKeptReason, position);
    }
}

/// <summary>Names shared by the L7 path.</summary>
public static class L7Observations
{
    /// <summary>The skip reason of an L7 record without a flow, at a sink that keeps no L7 facts.</summary>
    public const string NotKeptReason = "hubble: L7 record without IP (L7 facts not kept by this reader)";
}

/// <summary>
/// Position and state of decoding one source (a file, or one Kafka message). A file is fed to the decoder in
/// chunks of whole lines; the cursor carries line numbers and decoder state (the VPC header) across chunks.
/// </summary>
internal struct DecodeCursor
{
    public DecodeCursor(string source, long firstLine = 1)
    {
        Source = source;
        Line = firstLine;
        State = null;
    }

    /// <summary>File path, or "topic/partition@offset".</summary>
    public string Source;
    /// <summary>1-based line number of the first line of the next payload. Decoders advance it by the lines they consumed.</summary>
    public long Line;
    /// <summary>Decoder-owned state carried across payloads of one source.</summary>
    public object? State;

    public readonly SourcePosition At(long line) => new(Source, line);
}

/// <summary>
/// Decodes one flow log format. Decoders are stateless and thread-safe (state lives in the cursor); they never
/// throw on bad input: every malformed record becomes a <see cref="FlowDecodeError"/> and decoding goes on.
/// </summary>
public abstract class FlowDecoder
{
    public abstract FlowFormat Format { get; }

    /// <summary>
    /// True when a payload of this format can be split at newlines into independent records (JSON lines, text).
    /// False for documents (Azure JSON, a GCP JSON array) that must be decoded whole. <paramref name="head"/> is the
    /// start of the payload, for formats that come both ways.
    /// </summary>
    public abstract bool IsLineOriented(ReadOnlySpan<byte> head);

    /// <summary>
    /// Decodes a payload of complete records (whole lines for line-oriented input, or a whole document).
    /// Advances <see cref="DecodeCursor.Line"/> by the number of lines in the payload.
    /// </summary>
    internal abstract void Decode(ReadOnlySpan<byte> payload, ref DecodeCursor cursor, IFlowSink sink);

    /// <summary>
    /// For readers that hand one source's chunks to several threads: the cursor state to decode a chunk with, from the
    /// state this thread's previous chunk of this format ended with (<paramref name="reused"/>: caches keyed by raw bytes,
    /// which carry over) and what the source says before the chunk (<paramref name="sourceState"/>, from
    /// <see cref="StateAfter"/>: the VPC header). The default keeps the caches and forgets the last source's own state.
    /// </summary>
    public virtual object? StateForChunk(object? sourceState, object? reused)
    {
        if (reused is Internal.IReusableDecodeState state) state.PrepareForNextSource();
        return reused;
    }

    /// <summary>
    /// What the source says that later chunks need (the VPC header line: it decides how every later line reads), after
    /// <paramref name="lines"/> (whole lines), given what it said before them; found without decoding the records. Null
    /// for formats whose lines stand alone.
    /// </summary>
    public virtual object? StateAfter(ReadOnlySpan<byte> lines, object? before, string source) => before;
}
