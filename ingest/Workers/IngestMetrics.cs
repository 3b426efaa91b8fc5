namespace FlowPolicy.Ingest.Workers;

/// <summary>Counters of one ingest worker process; written by lanes and the consumer thread, read by the reporter.</summary>
public sealed class IngestMetrics
{
    internal long MessagesField, MessageBytesField, FlowRowsField, DeadLettersField, SkippedField, BatchesField;
    internal long InsertMillisField, InsertMaxMillisField, InsertFailuresField, BatchRowsMaxField;
    internal long StaleMessagesField, DuplicateRecordsSkippedField, PausesField, RollupsField, RollupFailuresField;
    internal long AbandonedBatchesField, LagField, PausedPartitionsField, AssignedPartitionsField, RestartsField;

    /// <summary>Kafka messages taken in (after stale ones were dropped).</summary>
    public long Messages => Interlocked.Read(ref MessagesField);
    public long MessageBytes => Interlocked.Read(ref MessageBytesField);
    /// <summary>Flows rows stored in ClickHouse (acknowledged INSERTs).</summary>
    public long FlowRows => Interlocked.Read(ref FlowRowsField);
    /// <summary>Dead letters stored in ClickHouse.</summary>
    public long DeadLetters => Interlocked.Read(ref DeadLettersField);
    /// <summary>Records without a flow (VPC NODATA, blank messages).</summary>
    public long Skipped => Interlocked.Read(ref SkippedField);
    /// <summary>Batches stored (a batch is up to two INSERTs: dead letters, then flows).</summary>
    public long Batches => Interlocked.Read(ref BatchesField);
    public long InsertMillis => Interlocked.Read(ref InsertMillisField);
    public long InsertMaxMillis => Interlocked.Read(ref InsertMaxMillisField);
    public long InsertFailures => Interlocked.Read(ref InsertFailuresField);
    public long BatchRowsMax => Interlocked.Read(ref BatchRowsMaxField);
    /// <summary>Messages delivered again after a pause or seek, dropped because they were already taken.</summary>
    public long StaleMessages => Interlocked.Read(ref StaleMessagesField);
    /// <summary>Records of re-read messages that ClickHouse already held (resume after a crash or rebalance).</summary>
    public long DuplicateRecordsSkipped => Interlocked.Read(ref DuplicateRecordsSkippedField);
    public long Pauses => Interlocked.Read(ref PausesField);
    public long Rollups => Interlocked.Read(ref RollupsField);
    public long RollupFailures => Interlocked.Read(ref RollupFailuresField);
    /// <summary>Batches dropped unwritten because their partition was revoked or the worker stopped; the next owner re-reads them.</summary>
    public long AbandonedBatches => Interlocked.Read(ref AbandonedBatchesField);
    /// <summary>Partitions started over from ClickHouse after their lane gave up a batch.</summary>
    public long Restarts => Interlocked.Read(ref RestartsField);
    /// <summary>Messages behind the high watermark, summed over assigned partitions (last sample).</summary>
    public long Lag => Interlocked.Read(ref LagField);
    public long PausedPartitions => Interlocked.Read(ref PausedPartitionsField);
    public long AssignedPartitions => Interlocked.Read(ref AssignedPartitionsField);

    internal void RecordInsert(long millis)
    {
        Interlocked.Add(ref InsertMillisField, millis);
        long max;
        while (millis > (max = Interlocked.Read(ref InsertMaxMillisField)) &&
               Interlocked.CompareExchange(ref InsertMaxMillisField, millis, max) != max) { }
    }

    internal void RecordBatchRows(long rows)
    {
        long max;
        while (rows > (max = Interlocked.Read(ref BatchRowsMaxField)) &&
               Interlocked.CompareExchange(ref BatchRowsMaxField, rows, max) != max) { }
    }
}
