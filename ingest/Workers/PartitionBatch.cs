using FlowPolicy.Core.ClickHouse.RowBinary;
using FlowPolicy.Core.Flows;

namespace FlowPolicy.Ingest.Workers;

/// <summary>
/// The rows of one Kafka partition waiting for their INSERTs: flows and dead letters in pooled RowBinary buffers.
/// Every flows row of a batch lies in one UTC day (one table partition, so the INSERT is one atomic part) and
/// there are at most <c>maxRows</c> of them (below max_insert_block_size, so it is one block). The caller asks
/// <see cref="FitsFlow"/> before each row and flushes when it says no. Positions are contiguous: the batch covers
/// every record from <see cref="First"/> to <see cref="Last"/> of its partition that was not already stored.
/// Not thread-safe: owned by one lane.
/// </summary>
public sealed class PartitionBatch : IDisposable
{
    private readonly int _maxRows;
    private readonly FlowRowWriter _flowWriter;

    public PartitionBatch(int maxRows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        _maxRows = maxRows;
        Flows = new RowBinaryWriter();
        DeadLetters = new RowBinaryWriter();
        _flowWriter = new FlowRowWriter(Flows);
    }

    public RowBinaryWriter Flows { get; }
    public RowBinaryWriter DeadLetters { get; }
    public int FlowRows => Flows.RowCount;
    public int DeadLetterRows => DeadLetters.RowCount;
    public bool IsEmpty => FlowRows == 0 && DeadLetterRows == 0;

    /// <summary>The UTC day (yyyyMMdd) of every flows row, 0 while there is none.</summary>
    public int Day { get; private set; }
    /// <summary>The <c>received</c> time every dead letter of this batch carries (one value: one table partition).</summary>
    public DateTime DeadLetterTime { get; private set; }
    public RecordPosition? First { get; private set; }
    public RecordPosition? Last { get; private set; }
    /// <summary>The last flows row's position (to check after an ambiguous failure whether the INSERT landed).</summary>
    public RecordPosition? LastFlow { get; private set; }
    public RecordPosition? LastDeadLetter { get; private set; }
    /// <summary>Set once the dead letters are stored, so a retry sends only the flows.</summary>
    public bool DeadLettersStored { get; set; }
    /// <summary>When the first row entered (Environment.TickCount64), for the batch interval.</summary>
    public long StartedTicks { get; private set; }
    public long PayloadBytes { get; private set; }

    /// <summary>True when a flow of <paramref name="day"/> may join this batch; false means flush first.</summary>
    public bool FitsFlow(int day) => FlowRows == 0 || (FlowRows < _maxRows && day == Day);

    public bool FitsDeadLetter => DeadLetterRows < _maxRows && !DeadLettersStored;

    public bool Full => FlowRows >= _maxRows || DeadLetterRows >= _maxRows;

    public void AddFlow(in FlowRecord flow, int day, string format, string topic, int partition, RecordPosition position, bool isReply)
    {
        if (!FitsFlow(day)) throw new InvalidOperationException("The batch must be flushed before a flow of another day (or past the row limit) joins it.");
        Day = day;
        _flowWriter.Write(flow, format, topic, partition, position.Offset, position.Index, isReply);
        LastFlow = position;
        Note(position);
    }

    public void AddDeadLetter(DateTime now, string topic, int partition, RecordPosition position, string format, string error, ReadOnlySpan<char> raw, long line)
    {
        if (!FitsDeadLetter) throw new InvalidOperationException("The batch must be flushed before more dead letters join it.");
        if (DeadLetterRows == 0) DeadLetterTime = new DateTime(now.Ticks - now.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
        var w = DeadLetters;
        w.WriteDateTime(DeadLetterTime);
        w.WriteString(topic);
        w.WriteInt32(partition);
        w.WriteUInt64(checked((ulong)position.Offset));
        w.WriteString(format);
        w.WriteString(error);
        w.WriteString(raw);
        w.WriteUInt32(position.Index);
        w.WriteUInt64(line < 0 ? 0 : (ulong)line);
        w.EndRow();
        LastDeadLetter = position;
        Note(position);
    }

    /// <summary>Counts a consumed message's bytes (for throughput) once its records are in.</summary>
    public void AddPayloadBytes(int bytes) => PayloadBytes += bytes;

    private void Note(RecordPosition position)
    {
        if (First is null)
        {
            First = position;
            StartedTicks = Environment.TickCount64;
        }
        Last = position;
    }

    public void Reset()
    {
        Flows.Reset();
        DeadLetters.Reset();
        Day = 0;
        First = Last = LastFlow = LastDeadLetter = null;
        DeadLettersStored = false;
        PayloadBytes = 0;
    }

    public void Dispose()
    {
        Flows.Dispose();
        DeadLetters.Dispose();
    }

    /// <summary>The dead letter columns in the order <see cref="AddDeadLetter"/> writes them.</summary>
    public static IReadOnlyList<string> DeadLetterColumns { get; } =
        ["received", "kafka_topic", "kafka_partition", "kafka_offset", "format", "error", "raw", "kafka_index", "line"];
}
