using FlowPolicy.Core.Flows;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Internal;

namespace FlowPolicy.Ingest.Workers;

/// <summary>
/// Decodes one Kafka message into reusable arrays: its flow records and its rejects, each with its index inside
/// the message (one sequence for both, in the order the decoder reports them; decoding is deterministic, so a
/// re-read message gives every record the same index). The format is detected per message unless forced.
/// One instance per lane; the arrays grow to the largest message seen and are reused.
/// </summary>
internal sealed class MessageDecoder : IFlowSink
{
    private readonly FlowFormat? _forcedFormat;
    private FlowRecord[] _flows = new FlowRecord[64];
    private uint[] _flowIndexes = new uint[64];
    private readonly List<(uint Index, FlowDecodeError Error)> _rejects = new();
    // L7 observations (Hubble), with their own index sequence: flows_l7 rows keep (offset, index) of that sequence, so
    // flows and dead letters keep the indexes they had before L7 records were stored.
    private L7Observation[] _l7 = new L7Observation[8];
    private uint _next;
    /// <summary>
    /// Each format's decoder caches (JSON names and identities, GCP metadata, VPC reporter names), kept from message to
    /// message: a fresh set per message cost ~18 KB of zeroed memory per message and never warmed up. They are keyed by
    /// raw bytes, so a message decodes the same with or without them (re-reads stay deterministic); what belongs to one
    /// message only (a VPC header layout) is dropped by <see cref="IReusableDecodeState.PrepareForNextSource"/>.
    /// </summary>
    private readonly IReusableDecodeState?[] _states = new IReusableDecodeState?[FlowFormats.All.Max(f => (int)f) + 1];

    public MessageDecoder(FlowFormat? forcedFormat = null) => _forcedFormat = forcedFormat;

    public int FlowCount { get; private set; }
    public Span<FlowRecord> Flows => _flows.AsSpan(0, FlowCount);
    public ReadOnlySpan<uint> FlowIndexes => _flowIndexes.AsSpan(0, FlowCount);
    public IReadOnlyList<(uint Index, FlowDecodeError Error)> Rejects => _rejects;
    public ref FlowRecord FlowAt(int i) => ref _flows[i];
    public uint IndexAt(int i) => _flowIndexes[i];
    public long Skipped { get; private set; }
    /// <summary>The L7 observations of the last message, in the order decoded (a record's index in this sequence is its place).</summary>
    public int L7Count { get; private set; }
    public ref L7Observation L7At(int i) => ref _l7[i];
    /// <summary>The format of the last message, null when it could not be told.</summary>
    public FlowFormat? Format { get; private set; }

    /// <summary>Decodes <paramref name="payload"/>; <paramref name="source"/> names it in reject positions (no per-message string).</summary>
    public void Decode(ReadOnlySpan<byte> payload, string source)
    {
        // Clear identity references of the previous message so they do not outlive it in the scratch array.
        Array.Clear(_flows, 0, FlowCount);
        FlowCount = 0;
        Array.Clear(_l7, 0, L7Count);
        L7Count = 0;
        _rejects.Clear();
        _next = 0;
        Skipped = 0;
        Format = _forcedFormat ?? FlowFormatDetector.Detect(payload.Length > FlowFormatDetector.HeadBytes ? payload[..FlowFormatDetector.HeadBytes] : payload);
        if (Format is not { } format)
        {
            if (IsBlank(payload))
            {
                Skipped++;
                return;
            }
            Reject(new FlowDecodeError(new SourcePosition(source, 1), FlowFormatDetector.IsParquet(payload)
                    // A whole file is no record stream; produce sends a Parquet file's rows as VPC text records instead.
                    ? "a Parquet file in one message: send Parquet VPC flow logs with flowpolicy produce, which sends their rows as VPC text records"
                    : $"unknown flow format (expected one of: {FlowFormats.NameList}); force one with --format", Excerpts.Of(payload)));
            return;
        }
        var cursor = new DecodeCursor(source) { State = _states[(int)format] };
        try
        {
            FlowDecoders.For(format).Decode(payload, ref cursor, this);
            if (cursor.State is IReusableDecodeState state)
            {
                state.PrepareForNextSource();
                _states[(int)format] = state;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Decoders report bad input through the sink; an exception is a bug or truly odd input. The records
            // decoded before it stay (the same prefix on every re-read); the rest of the message is one dead letter.
            Reject(new FlowDecodeError(cursor.At(cursor.Line), $"{FlowFormats.Name(format)}: {e.Message}", Excerpts.Of(payload)));
        }
    }

    public void Accept(in FlowRecord flow)
    {
        if (FlowCount == _flows.Length)
        {
            Array.Resize(ref _flows, _flows.Length * 2);
            Array.Resize(ref _flowIndexes, _flowIndexes.Length * 2);
        }
        _flows[FlowCount] = flow;
        _flowIndexes[FlowCount] = _next++;
        FlowCount++;
    }

    public void Reject(FlowDecodeError error) => _rejects.Add((_next++, error));

    /// <summary>Kept for flows_l7 (with or without a flow of the same record); the lane decides what joins nothing.</summary>
    public void AcceptL7(in L7Observation observation, SourcePosition position)
    {
        if (L7Count == _l7.Length) Array.Resize(ref _l7, _l7.Length * 2);
        _l7[L7Count++] = observation;
    }

    public void Skip(string reason, SourcePosition position) => Skipped++;

    private static bool IsBlank(ReadOnlySpan<byte> payload)
    {
        foreach (var b in payload)
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')) return false;
        return true;
    }
}
