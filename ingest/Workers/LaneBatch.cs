using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FlowPolicy.ClickHouse.RowBinary;
using FlowPolicy.Core.Flows;

namespace FlowPolicy.Ingest.Workers;

/// <summary>
/// Rows waiting for their INSERTs, from any of the Kafka partitions one lane owns: flows, L7 observations and dead
/// letters in pooled RowBinary buffers. Every flows and flows_l7 row lies in one UTC day (one table partition, so the INSERT is one atomic part) and
/// there are at most <c>maxRows</c> of them (below max_insert_block_size, so it is one block). One batch for many
/// Kafka partitions makes parts as big as the lane's throughput allows instead of one small part per partition; the
/// order rules that keep this exactly once live in <see cref="LaneBatches"/>. Per partition the batch keeps the span
/// of positions it holds. Not thread-safe: filled by one lane, then handed to one store.
/// </summary>
internal sealed class LaneBatch : IDisposable
{
    private readonly int _maxRows;
    private readonly FlowRowWriter _flowWriter;
    private readonly DeadLetterRowWriter _deadLetterWriter;
    private readonly L7RowWriter _l7Writer;
    // Per partition, the span of L7 positions (their own index sequence): the L7 INSERT's deduplication token.
    private readonly Dictionary<int, PartitionSpan> _l7Spans = new();
    private readonly Dictionary<int, PartitionSpan> _spans = new();
    private readonly int[] _deadLettersByReason = new int[Enum.GetValues<DeadLetterReason>().Length];

    public LaneBatch(int maxRows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        _maxRows = maxRows;
        Flows = new RowBinaryWriter();
        DeadLetters = new RowBinaryWriter();
        _flowWriter = new FlowRowWriter(Flows);
        _deadLetterWriter = new DeadLetterRowWriter(DeadLetters);
        L7 = new RowBinaryWriter();
        _l7Writer = new L7RowWriter(L7);
    }

    /// <summary>Creation order among the lane's batches: batches are stored in this order.</summary>
    public long Sequence { get; internal set; }
    public RowBinaryWriter Flows { get; }
    public RowBinaryWriter DeadLetters { get; }
    public RowBinaryWriter L7 { get; }
    public int FlowRows => Flows.RowCount;
    public int DeadLetterRows => DeadLetters.RowCount;
    public int L7Rows => L7.RowCount;
    public bool IsEmpty => FlowRows == 0 && DeadLetterRows == 0 && L7Rows == 0;

    /// <summary>The UTC day (yyyyMMdd) of every flows and flows_l7 row, 0 while there is none.</summary>
    public int Day { get; private set; }
    /// <summary>The <c>received</c> time every dead letter of this batch carries (one value: one table partition).</summary>
    public DateTime DeadLetterTime { get; private set; }
    /// <summary>Set once the dead letters are stored, so a retry sends only the flows.</summary>
    public bool DeadLettersStored { get; set; }
    /// <summary>Set once the L7 rows are stored, so a retry sends only the flows.</summary>
    public bool L7Stored { get; set; }
    /// <summary>When the first row entered (Environment.TickCount64), for the batch interval.</summary>
    public long StartedTicks { get; private set; }
    /// <summary>The Kafka partition and position of the last flows row (to check after an ambiguous failure whether the INSERT landed).</summary>
    public (int Partition, RecordPosition Position)? LastFlow { get; private set; }
    public (int Partition, RecordPosition Position)? LastDeadLetter { get; private set; }
    public (int Partition, RecordPosition Position)? LastL7 { get; private set; }
    public IReadOnlyDictionary<int, PartitionSpan> L7Spans => _l7Spans;

    /// <summary>Dead letters of this batch with <paramref name="reason"/> (counted once the batch is stored).</summary>
    public int DeadLettersOf(DeadLetterReason reason) => _deadLettersByReason[(int)reason];

    /// <summary>What the batch holds of each Kafka partition.</summary>
    public IReadOnlyDictionary<int, PartitionSpan> Spans => _spans;

    /// <summary>True when a flow or L7 row of <paramref name="day"/> may join this batch (the L7 rows are stored first: not once they are).</summary>
    public bool FitsFlow(int day) => (FlowRows == 0 && L7Rows == 0) || (FlowRows < _maxRows && L7Rows < _maxRows && day == Day && !L7Stored);

    public bool FitsDeadLetter => DeadLetterRows < _maxRows && !DeadLettersStored;

    public bool Full => FlowRows >= _maxRows || DeadLetterRows >= _maxRows || L7Rows >= _maxRows;

    /// <summary>The INSERT body of the flows rows, in the table's sort order (the server then skips sorting them).</summary>
    public ValueTask WriteFlowsAsync(Stream destination, CancellationToken cancellationToken) =>
        _flowWriter.CopySortedToAsync(destination, cancellationToken);

    public void AddFlow(in FlowRecord flow, int day, string format, string topic, int partition, RecordPosition position, bool isReply)
    {
        if (!FitsFlow(day)) throw new InvalidOperationException("A flow of another day (or past the row limit) cannot join this batch.");
        Day = day;
        _flowWriter.Write(flow, format, topic, partition, position.Offset, position.Index, isReply);
        LastFlow = (partition, position);
        Note(partition, position, flow: true);
    }

    /// <summary>
    /// Adds one flows_l7 row (<paramref name="oriented"/>: client as source); <paramref name="position"/> is the
    /// observation's place in the message's L7 sequence.
    /// </summary>
    public void AddL7(in FlowRecord oriented, in L7Observation observation, L7Protocol protocol, string? resource, string? path, int day,
        string topic, int partition, RecordPosition position)
    {
        if (!FitsFlow(day)) throw new InvalidOperationException("An L7 row of another day (or past the row limit) cannot join this batch.");
        Day = day;
        bool names = protocol == L7Protocol.Names;
        _l7Writer.Write(oriented, protocol, names ? L7Direction.Unknown : observation.Direction, names ? null : observation.Operation, resource, path,
            names ? null : observation.Version, names ? -1 : observation.Status, names ? null : observation.Addresses, names ? 0 : observation.Ttl,
            names ? observation.Names : null, topic, partition, position.Offset, position.Index);
        LastL7 = (partition, position);
        ref var l7 = ref CollectionsMarshal.GetValueRefOrAddDefault(_l7Spans, partition, out bool seen);
        l7 = seen ? l7 with { Last = position } : new PartitionSpan(position, position, 0, 0, 0, position.Offset - 1);
        if (StartedTicks == 0) StartedTicks = Environment.TickCount64;
        // The partition's span exists (for the commit hint and its release token) even when it holds no flow here.
        ref var span = ref CollectionsMarshal.GetValueRefOrAddDefault(_spans, partition, out bool exists);
        if (!exists) span = new PartitionSpan(position, position, 0, 0, 0, position.Offset - 1);
    }

    public void AddDeadLetter(DateTime now, string topic, int partition, RecordPosition position, string format, string error, ReadOnlySpan<char> raw, long line,
        DeadLetterReason reason = DeadLetterReason.Decode)
    {
        if (!FitsDeadLetter) throw new InvalidOperationException("No more dead letters can join this batch.");
        if (DeadLetterRows == 0) DeadLetterTime = new DateTime(now.Ticks - now.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
        _deadLetterWriter.Write(DeadLetterTime, topic, partition, position.Offset, format, error, raw, position.Index, line);
        LastDeadLetter = (partition, position);
        _deadLettersByReason[(int)reason]++;
        Note(partition, position, flow: false);
    }

    /// <summary>
    /// Marks the partition's message at <paramref name="offset"/> as wholly added (to this batch or an earlier one) and
    /// counts its <paramref name="bytes"/> (for throughput) against the partition's span.
    /// </summary>
    public void CompleteMessage(int partition, long offset, int bytes)
    {
        ref var span = ref CollectionsMarshal.GetValueRefOrNullRef(_spans, partition);
        if (Unsafe.IsNullRef(ref span)) return;
        span = span with { CompleteThrough = offset, Bytes = span.Bytes + bytes };
    }

    private void Note(int partition, RecordPosition position, bool flow)
    {
        if (StartedTicks == 0) StartedTicks = Environment.TickCount64;
        // One lookup per row: this runs for every record the worker stores.
        ref var span = ref CollectionsMarshal.GetValueRefOrAddDefault(_spans, partition, out bool exists);
        span = exists
            ? span with { Last = position, FlowRows = span.FlowRows + (flow ? 1 : 0), DeadLetterRows = span.DeadLetterRows + (flow ? 0 : 1) }
            : new PartitionSpan(position, position, flow ? 1 : 0, flow ? 0 : 1, 0, position.Offset - 1);
    }

    public void Reset()
    {
        _flowWriter.Reset();
        DeadLetters.Reset();
        _spans.Clear();
        L7.Reset();
        _l7Spans.Clear();
        L7Stored = false;
        LastL7 = null;
        Array.Clear(_deadLettersByReason);
        Day = 0;
        DeadLetterTime = default;
        DeadLettersStored = false;
        StartedTicks = 0;
        LastFlow = LastDeadLetter = null;
        Sequence = 0;
    }

    public void Dispose()
    {
        Flows.Dispose();
        DeadLetters.Dispose();
        L7.Dispose();
    }
}

/// <summary>
/// The insert_deduplication_token of one table's INSERT of a batch: the table, the topic, the UTC day and, per Kafka
/// partition in order, the first and last record positions. The same records batched the same way give the same
/// token, so a batch resent after a crash (an INSERT that may have landed) is dropped by the server, never stored twice.
/// </summary>
internal static class BatchDeduplicationToken
{
    public static string For(string table, string topic, int day, IReadOnlyDictionary<int, PartitionSpan> spans)
    {
        var text = new System.Text.StringBuilder(64);
        text.Append(table).Append('/').Append(topic).Append('/').Append(day);
        foreach (var (partition, span) in spans.OrderBy(s => s.Key))
            text.Append('/').Append(partition).Append(':').Append(span.First).Append('-').Append(span.Last);
        return text.ToString();
    }
}

/// <summary>
/// The positions of one Kafka partition inside a <see cref="LaneBatch"/>: contiguous from <see cref="First"/> to
/// <see cref="Last"/> among the records not already stored. <see cref="CompleteThrough"/> is the last offset whose
/// records are all in this batch or earlier ones (the Kafka commit hint is the offset after it).
/// </summary>
internal readonly record struct PartitionSpan(RecordPosition First, RecordPosition Last, int FlowRows, int DeadLetterRows, long Bytes, long CompleteThrough);
