using System.Diagnostics.Metrics;

namespace FlowPolicy.Ingest.Workers;

/// <summary>Why a record became a dead letter (the <c>reason</c> tag of <c>flowpolicy.ingest.dead_letters</c>).</summary>
internal enum DeadLetterReason
{
    /// <summary>The decoder rejected the record (malformed, a field out of range, an unknown format).</summary>
    Decode,
    /// <summary>A well-formed flow whose time ClickHouse DateTime cannot hold (before 1970-01-02 or after 2105).</summary>
    TimeOutOfRange,
    /// <summary>Decoding or enriching the message threw: a bug, kept as one dead letter instead of stopping the partition.</summary>
    Internal,
}

/// <summary>A non-fatal error ingest survived (the <c>error.type</c> tag of <c>flowpolicy.ingest.errors</c>).</summary>
internal enum IngestError
{
    /// <summary>A Kafka consume error the client recovers from (the message is fetched again).</summary>
    KafkaConsume,
    /// <summary>An error librdkafka reported through its error callback (broker down, transport) that was not fatal.</summary>
    KafkaClient,
    /// <summary>A commit of the offset hint failed (only a hint: the next owner reads ClickHouse).</summary>
    KafkaCommit,
    /// <summary>Resuming or seeking a partition failed.</summary>
    KafkaSeek,
    /// <summary>Leaving the group at stop failed.</summary>
    KafkaLeave,
    /// <summary>Reading a partition's watermarks for the lag failed.</summary>
    LagSample,
    /// <summary>Reading the stored offsets (resume points) from ClickHouse failed; retried.</summary>
    ResumeRead,
    /// <summary>Checking whether an ambiguously failed INSERT landed failed; retried.</summary>
    LandedCheck,
    /// <summary>Writing ingest_progress statistics failed (best effort; kept for the next try).</summary>
    ProgressWrite,
    /// <summary>An edge rollup rebuild (or listing the changed days) failed; retried on the next run.</summary>
    Rollup,
}

/// <summary>
/// Everything the ingest worker measures, on one <see cref="Meter"/> named <see cref="MeterName"/> (docs/metrics.md
/// lists each instrument). The counters are plain fields that lanes and the consumer thread add to with
/// <see cref="Interlocked"/> (no allocation, no listener call on the hot path); the Meter's observable instruments read
/// the same fields when scraped, and so do the log line, ingest_progress and the CLI summary, so every consumer sees one
/// set of numbers. Only the insert latency is a histogram recorded per INSERT.
/// </summary>
public sealed class IngestMetrics : IDisposable
{
    public const string MeterName = "FlowPolicy.Ingest";

    internal long MessagesField, MessageBytesField, FlowRowsField, SkippedField, BatchesField;
    internal long InsertMillisField, InsertMaxMillisField, BatchRowsMaxField;
    internal long StaleMessagesField, DuplicateRecordsSkippedField, PausesField, RollupsField;
    internal long AbandonedBatchesField, LagField, PausedPartitionsField, AssignedPartitionsField, RestartsField;
    internal long AssignmentsField, RevocationsField;
    private readonly long[] _deadLetters = new long[Enum.GetValues<DeadLetterReason>().Length];
    private readonly long[] _errors = new long[Enum.GetValues<IngestError>().Length];
    // Insert failures and retries by table: flows and dead letters.
    private long _flowInsertFailures, _deadLetterInsertFailures, _flowInsertRetries, _deadLetterInsertRetries;
    private readonly Dictionary<int, long> _lagByPartition = [];
    private Meter? _meter;
    private Histogram<double>? _insertDuration;
    private Histogram<long>? _batchRows;
    private Func<IEnumerable<Enrichment.EnrichmentMetrics>> _enrichment = () => [];
    private Func<IEnumerable<Direction.DirectionMetrics>> _direction = () => [];

    /// <summary>Kafka messages taken in (after stale ones were dropped).</summary>
    public long Messages => Interlocked.Read(ref MessagesField);
    public long MessageBytes => Interlocked.Read(ref MessageBytesField);
    /// <summary>Flows rows stored in ClickHouse (acknowledged INSERTs).</summary>
    public long FlowRows => Interlocked.Read(ref FlowRowsField);
    /// <summary>Dead letters stored in ClickHouse, every reason.</summary>
    public long DeadLetters
    {
        get
        {
            long sum = 0;
            for (int i = 0; i < _deadLetters.Length; i++) sum += Interlocked.Read(ref _deadLetters[i]);
            return sum;
        }
    }
    internal long DeadLettersOf(DeadLetterReason reason) => Interlocked.Read(ref _deadLetters[(int)reason]);
    /// <summary>Records without a flow (VPC NODATA, blank messages).</summary>
    public long Skipped => Interlocked.Read(ref SkippedField);
    /// <summary>Batches stored (a batch is up to two INSERTs: dead letters, then flows).</summary>
    public long Batches => Interlocked.Read(ref BatchesField);
    public long InsertMillis => Interlocked.Read(ref InsertMillisField);
    public long InsertMaxMillis => Interlocked.Read(ref InsertMaxMillisField);
    /// <summary>INSERTs that failed (each is retried until stored or its partition is released).</summary>
    public long InsertFailures => Interlocked.Read(ref _flowInsertFailures) + Interlocked.Read(ref _deadLetterInsertFailures);
    public long BatchRowsMax => Interlocked.Read(ref BatchRowsMaxField);
    /// <summary>Messages delivered again after a pause or seek, dropped because they were already taken.</summary>
    public long StaleMessages => Interlocked.Read(ref StaleMessagesField);
    /// <summary>Records of re-read messages that ClickHouse already held (resume after a crash or rebalance).</summary>
    public long DuplicateRecordsSkipped => Interlocked.Read(ref DuplicateRecordsSkippedField);
    public long Pauses => Interlocked.Read(ref PausesField);
    public long Rollups => Interlocked.Read(ref RollupsField);
    public long RollupFailures => ErrorsOf(IngestError.Rollup);
    /// <summary>Batches dropped unwritten because their partition was revoked or the worker stopped; the next owner re-reads them.</summary>
    public long AbandonedBatches => Interlocked.Read(ref AbandonedBatchesField);
    /// <summary>Partitions started over from ClickHouse after their lane gave up a batch.</summary>
    public long Restarts => Interlocked.Read(ref RestartsField);
    /// <summary>Messages behind the high watermark, summed over assigned partitions (last sample).</summary>
    public long Lag => Interlocked.Read(ref LagField);
    public long PausedPartitions => Interlocked.Read(ref PausedPartitionsField);
    public long AssignedPartitions => Interlocked.Read(ref AssignedPartitionsField);
    internal long ErrorsOf(IngestError error) => Interlocked.Read(ref _errors[(int)error]);

    internal void AddDeadLetters(DeadLetterReason reason, long rows) => Interlocked.Add(ref _deadLetters[(int)reason], rows);

    internal void CountError(IngestError error) => Interlocked.Increment(ref _errors[(int)error]);

    internal void CountInsertFailure(bool flows) => Interlocked.Increment(ref flows ? ref _flowInsertFailures : ref _deadLetterInsertFailures);

    internal void CountInsertRetry(bool flows) => Interlocked.Increment(ref flows ? ref _flowInsertRetries : ref _deadLetterInsertRetries);

    internal void RecordInsert(bool flows, long millis)
    {
        _insertDuration?.Record(millis / 1000.0, new KeyValuePair<string, object?>("table", flows ? "flows" : "dead_letters"));
        Interlocked.Add(ref InsertMillisField, millis);
        long max;
        while (millis > (max = Interlocked.Read(ref InsertMaxMillisField)) &&
               Interlocked.CompareExchange(ref InsertMaxMillisField, millis, max) != max) { }
    }

    internal void RecordBatchRows(long rows)
    {
        _batchRows?.Record(rows);
        long max;
        while (rows > (max = Interlocked.Read(ref BatchRowsMaxField)) &&
               Interlocked.CompareExchange(ref BatchRowsMaxField, rows, max) != max) { }
    }

    /// <summary>The partition's last lag sample; -1 when there is none.</summary>
    internal long LagOf(int partition)
    {
        lock (_lagByPartition) return _lagByPartition.TryGetValue(partition, out var lag) ? lag : -1;
    }

    /// <summary>The last lag sample per owned partition (the consumer thread replaces it about once a second).</summary>
    internal void SetLag(IReadOnlyDictionary<int, long> byPartition)
    {
        long total = 0;
        lock (_lagByPartition)
        {
            _lagByPartition.Clear();
            foreach (var (partition, lag) in byPartition)
            {
                _lagByPartition[partition] = lag;
                total += lag;
            }
        }
        Interlocked.Exchange(ref LagField, total);
    }

    /// <summary>
    /// Creates the Meter and its instruments (the worker calls this when it starts; a second call does nothing).
    /// <paramref name="enrichment"/> and <paramref name="direction"/> give the lanes' own counters, summed at scrape time.
    /// </summary>
    internal void Publish(Func<IEnumerable<Enrichment.EnrichmentMetrics>>? enrichment = null, Func<IEnumerable<Direction.DirectionMetrics>>? direction = null)
    {
        if (_meter is not null) return;
        _enrichment = enrichment ?? (() => []);
        _direction = direction ?? (() => []);
        var meter = new Meter(MeterName);
        meter.CreateObservableCounter("flowpolicy.ingest.messages", () => Messages, "{message}", "Kafka messages taken in");
        meter.CreateObservableCounter("flowpolicy.ingest.received", () => MessageBytes, "By", "Bytes of the Kafka messages taken in");
        meter.CreateObservableCounter("flowpolicy.ingest.flows.stored", () => FlowRows, "{flow}", "Flow rows stored in ClickHouse (acknowledged INSERTs)");
        meter.CreateObservableCounter("flowpolicy.ingest.dead_letters", () => Tagged(_deadLetters, "reason", DeadLetterReasonNames), "{record}",
            "Records stored as dead letters, by reason");
        meter.CreateObservableCounter("flowpolicy.ingest.records.skipped", () => Skipped, "{record}", "Well-formed records without a flow (VPC NODATA)");
        meter.CreateObservableCounter("flowpolicy.ingest.records.duplicate", () => DuplicateRecordsSkipped, "{record}",
            "Records of re-read messages ClickHouse already held (resume after a crash or rebalance)");
        meter.CreateObservableCounter("flowpolicy.ingest.messages.stale", () => StaleMessages, "{message}", "Messages delivered again after a pause or seek and dropped");
        meter.CreateObservableCounter("flowpolicy.ingest.batches", () => Batches, "{batch}", "Batches stored");
        meter.CreateObservableCounter("flowpolicy.ingest.batches.abandoned", () => AbandonedBatches, "{batch}",
            "Batches dropped unwritten because a partition in them was released (the next owner re-reads them)");
        _batchRows = meter.CreateHistogram<long>("flowpolicy.ingest.batch.size", "{flow}", "Flow rows per stored batch",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [100, 1_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000] });
        _insertDuration = meter.CreateHistogram<double>("flowpolicy.ingest.insert.duration", "s", "Latency of the ClickHouse INSERTs that succeeded, by table",
            advice: Core.Metrics.DurationBuckets.Requests);
        meter.CreateObservableCounter("flowpolicy.ingest.insert.failures", () => new Measurement<long>[]
        {
            new(Interlocked.Read(ref _flowInsertFailures), new KeyValuePair<string, object?>("table", "flows")),
            new(Interlocked.Read(ref _deadLetterInsertFailures), new KeyValuePair<string, object?>("table", "dead_letters")),
        }, "{insert}", "ClickHouse INSERTs that failed, by table (each is retried)");
        meter.CreateObservableCounter("flowpolicy.ingest.retries", () => new Measurement<long>[]
        {
            new(Interlocked.Read(ref _flowInsertRetries), new KeyValuePair<string, object?>("table", "flows")),
            new(Interlocked.Read(ref _deadLetterInsertRetries), new KeyValuePair<string, object?>("table", "dead_letters")),
        }, "{insert}", "INSERTs sent again after a failure, by table");
        meter.CreateObservableCounter("flowpolicy.ingest.errors", () => Tagged(_errors, "error.type", IngestErrorNames), "{error}",
            "Non-fatal errors ingest survived, by type");
        meter.CreateObservableGauge("flowpolicy.ingest.partition.lag", LagMeasurements, "{message}",
            "Messages behind the high watermark per assigned Kafka partition (sampled about once a second)");
        meter.CreateObservableGauge("flowpolicy.ingest.partitions.assigned", () => AssignedPartitions, "{partition}", "Kafka partitions this worker holds");
        meter.CreateObservableGauge("flowpolicy.ingest.partitions.paused", () => PausedPartitions, "{partition}",
            "Partitions paused because their lane is full (ClickHouse slow or down)");
        meter.CreateObservableCounter("flowpolicy.ingest.pauses", () => Pauses, "{pause}", "Partition pauses for backpressure");
        meter.CreateObservableCounter("flowpolicy.ingest.rebalances", () => new Measurement<long>[]
        {
            new(Interlocked.Read(ref AssignmentsField), new KeyValuePair<string, object?>("kind", "assigned")),
            new(Interlocked.Read(ref RevocationsField), new KeyValuePair<string, object?>("kind", "revoked")),
        }, "{rebalance}", "Consumer group rebalances that assigned or revoked partitions of this worker");
        meter.CreateObservableCounter("flowpolicy.ingest.partition.restarts", () => Restarts, "{partition}",
            "Partitions started over from ClickHouse after their lane gave up a batch");
        meter.CreateObservableCounter("flowpolicy.ingest.rollups", () => Rollups, "{day}", "Days whose edge rollups were rebuilt");
        meter.CreateObservableCounter("flowpolicy.ingest.enrichment.flows", () => _enrichment().Sum(e => e.Flows), "{flow}",
            "Flows that went through enrichment (an inventory was given)");
        meter.CreateObservableCounter("flowpolicy.ingest.enrichment.identified", () => _enrichment().Sum(e => e.FlowsEnriched), "{flow}",
            "Flows where at least one side got its workload identity from the inventory");
        meter.CreateObservableCounter("flowpolicy.ingest.enrichment.unidentified", () => new Measurement<long>[]
        {
            new(_enrichment().Sum(e => e.UnknownSrc), new KeyValuePair<string, object?>("side", "source")),
            new(_enrichment().Sum(e => e.UnknownDst), new KeyValuePair<string, object?>("side", "destination")),
        }, "{flow}", "Flows with a side left without an identity after enrichment (a stale inventory shows here)");
        meter.CreateObservableCounter("flowpolicy.ingest.enrichment.kept_from_source", () => _enrichment().Sum(e => e.IdentitiesKeptFromSource), "{side}",
            "Sides whose identity came with the record (Hubble) and was kept over the inventory's");
        meter.CreateObservableCounter("flowpolicy.ingest.direction.decisions", () => DirectionSignals.Select(signal =>
            new Measurement<long>(_direction().Sum(d => d.DecidedBy(signal.Value)), new KeyValuePair<string, object?>("signal", signal.Name))), "{flow}",
            "Flows by the signal that decided which side is the server (docs/enrichment.md)");
        meter.CreateObservableCounter("flowpolicy.ingest.direction.flipped", () => _direction().Sum(d => d.Flipped), "{flow}",
            "Flows stored the other way round (the record was the server's half, or named the server first)");
        meter.CreateObservableGauge("flowpolicy.ingest.direction.listeners.tracked", () => _direction().Sum(d => (long)d.TrackedEndpoints), "{endpoint}",
            "Endpoints (address, port, protocol) the direction resolvers remember as possible listeners");
        meter.CreateObservableCounter("flowpolicy.ingest.direction.listeners.evicted", () => _direction().Sum(d => d.EvictedEndpoints), "{endpoint}",
            "Endpoints dropped from the listener tables to keep them within their bound (a steady rise: more endpoints than the bound, and directions fall back to weaker signals)");
        _meter = meter;
    }

    /// <summary>The direction signals with their tag values (snake_case of the enum names).</summary>
    private static readonly (Direction.DirectionSignal Value, string Name)[] DirectionSignals = Enum.GetValues<Direction.DirectionSignal>()
        .Select(v => (v, string.Concat(v.ToString().Select((c, i) => char.IsUpper(c) && i > 0 ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()))))
        .ToArray();

    private static readonly string[] DeadLetterReasonNames = ["decode", "time_out_of_range", "internal"];
    private static readonly string[] IngestErrorNames =
        ["kafka_consume", "kafka_client", "kafka_commit", "kafka_seek", "kafka_leave", "lag_sample", "resume_read", "landed_check", "progress_write", "rollup"];

    private static Measurement<long>[] Tagged(long[] values, string tag, string[] names)
    {
        var result = new Measurement<long>[values.Length];
        for (int i = 0; i < values.Length; i++)
            result[i] = new Measurement<long>(Interlocked.Read(ref values[i]), new KeyValuePair<string, object?>(tag, names[i]));
        return result;
    }

    private List<Measurement<long>> LagMeasurements()
    {
        lock (_lagByPartition)
            return _lagByPartition.Select(p => new Measurement<long>(p.Value, new KeyValuePair<string, object?>("partition", p.Key))).ToList();
    }

    public void Dispose()
    {
        _meter?.Dispose();
        _meter = null;
        _insertDuration = null;
        _batchRows = null;
    }

    internal static string Name(DeadLetterReason reason) => DeadLetterReasonNames[(int)reason];
}
