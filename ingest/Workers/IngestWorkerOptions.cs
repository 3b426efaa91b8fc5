using FlowPolicy.Ingest.Formats;

namespace FlowPolicy.Ingest.Workers;

/// <summary>Options of <see cref="IngestWorker"/>; defaults suit one process on a few cores.</summary>
public sealed class IngestWorkerOptions
{
    /// <summary>ClickHouse's default max_insert_block_size: a batch must stay below it to be one block, one part.</summary>
    public const int MaxInsertBlockSize = 1_048_576;

    /// <summary>Parallel lanes (decode, enrich, orient, insert); partitions are spread over them.</summary>
    public int Lanes { get; set; } = Math.Max(1, Environment.ProcessorCount);
    /// <summary>Flush a partition's batch at this many rows (flows or dead letters).</summary>
    public int BatchRows { get; set; } = 50_000;
    /// <summary>Flush a partition's batch when its first row is this old.</summary>
    public TimeSpan BatchInterval { get; set; } = TimeSpan.FromSeconds(2);
    /// <summary>Decode every message as this format instead of detecting it per message.</summary>
    public FlowFormat? Format { get; set; }
    /// <summary>Messages waiting per lane before the consumer pauses the partitions that feed it (backpressure).</summary>
    public int LaneQueueMessages { get; set; } = 5_000;
    /// <summary>How long the consumer waits for room in a full lane queue before it pauses the partition.</summary>
    public TimeSpan LaneFullWait { get; set; } = TimeSpan.FromMilliseconds(250);
    public TimeSpan RetryInitialBackoff { get; set; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan RetryMaxBackoff { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>How long a revoked partition's batch may take to flush before it is abandoned (the next owner re-reads it).</summary>
    public TimeSpan RevokeFlushLimit { get; set; } = TimeSpan.FromSeconds(20);
    /// <summary>How long to wait for a previous owner's INSERT that the server still runs.</summary>
    public TimeSpan InFlightWaitLimit { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>How often metrics are logged and written to ingest_progress.</summary>
    public TimeSpan MetricsInterval { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>How often edge rollups of changed days are rebuilt (by the worker holding partition 0); null: never.</summary>
    public TimeSpan? RollupInterval { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>Name in ingest_progress and logs.</summary>
    public string WorkerName { get; set; } = $"{Environment.MachineName}/{Environment.ProcessId}";

    public void Validate()
    {
        if (Lanes is < 1 or > 256) throw new ArgumentException($"--workers must be between 1 and 256, not {Lanes}.");
        if (BatchRows < 1 || BatchRows >= MaxInsertBlockSize)
            throw new ArgumentException($"--batch-rows must be between 1 and {MaxInsertBlockSize - 1} (a batch must stay below ClickHouse's max_insert_block_size to be stored atomically), not {BatchRows}.");
        if (BatchInterval <= TimeSpan.Zero || BatchInterval > TimeSpan.FromMinutes(10))
            throw new ArgumentException("--batch-interval must be above 0 and at most 600 seconds.");
        if (LaneQueueMessages < 1) throw new ArgumentException("The lane queue must hold at least one message.");
        if (LaneFullWait < TimeSpan.Zero || LaneFullWait > TimeSpan.FromSeconds(10)) throw new ArgumentException("The wait for room in a lane queue must be between 0 and 10 seconds.");
        if (RetryInitialBackoff <= TimeSpan.Zero || RetryMaxBackoff < RetryInitialBackoff) throw new ArgumentException("Retry backoff must be positive and its cap at least the initial value.");
        if (MetricsInterval < TimeSpan.FromMilliseconds(100)) throw new ArgumentException("The metrics interval must be at least 100 ms.");
        if (RollupInterval is { } r && r < TimeSpan.FromMilliseconds(100)) throw new ArgumentException("--rollup-interval must be at least 0.1 seconds.");
        if (string.IsNullOrWhiteSpace(WorkerName)) throw new ArgumentException("The worker name must not be empty.");
    }
}
