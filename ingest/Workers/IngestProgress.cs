using System.Collections.Concurrent;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.RowBinary;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Ingest.Workers.Internal;
using Microsoft.Extensions.Logging;

namespace FlowPolicy.Ingest.Workers;

/// <summary>
/// The worker's progress reporting: every metrics interval, one log line of rates computed from
/// <see cref="IngestMetrics"/> and the queued per-batch rows written to ingest_progress (the Grafana ingest panels read
/// it). Both come from the same measurements /metrics exposes. Best effort: a failed write keeps the rows for the next
/// try, up to a cap, and is counted as <see cref="IngestError.ProgressWrite"/>.
/// </summary>
internal sealed class IngestProgress(ClickHouseHttpClient client, string worker, string topic, IngestMetrics metrics, ILogger log)
{
    /// <summary>Rows kept while ClickHouse does not take them; older ones are dropped (they are statistics).</summary>
    private const int MaxQueued = 10_000;

    private readonly ConcurrentQueue<ProgressRow> _rows = new();
    private long _reportedRows, _reportedBytes, _reportedBatches, _reportedInsertMillis;

    /// <summary>Queues one stored batch's share of one partition (lanes call this).</summary>
    public void Add(ProgressRow row) => _rows.Enqueue(row);

    /// <summary>Logs and writes every <paramref name="interval"/> until cancelled.</summary>
    public async Task RunAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                Report(interval.TotalSeconds);
                await WriteAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Logs the rates since the last call over <paramref name="seconds"/>; 0 only takes the baseline (at stop).</summary>
    public void Report(double seconds)
    {
        long rows = metrics.FlowRows, bytes = metrics.MessageBytes, batches = metrics.Batches, insertMillis = metrics.InsertMillis;
        long dRows = rows - _reportedRows, dBytes = bytes - _reportedBytes, dBatches = batches - _reportedBatches, dMillis = insertMillis - _reportedInsertMillis;
        (_reportedRows, _reportedBytes, _reportedBatches, _reportedInsertMillis) = (rows, bytes, batches, insertMillis);
        if (seconds <= 0) return;
        log.LogInformation(
            "ingest: {RowsPerSecond:F0} rows/s, {MegabytesPerSecond:F2} MB/s in, lag {Lag} messages, {Batches} batches (avg {AvgRows:F0} rows, max {MaxRows}), insert avg {AvgMs:F0} ms max {MaxMs} ms, {DeadLetters} dead letters, {Failures} failed inserts, partitions {Assigned} ({Paused} paused)",
            dRows / seconds, dBytes / seconds / 1e6, metrics.Lag, dBatches, dBatches == 0 ? 0 : (double)dRows / dBatches, metrics.BatchRowsMax,
            dBatches == 0 ? 0 : (double)dMillis / dBatches, metrics.InsertMaxMillis, metrics.DeadLetters, metrics.InsertFailures,
            metrics.AssignedPartitions, metrics.PausedPartitions);
    }

    /// <summary>Writes the queued rows to ingest_progress in one INSERT.</summary>
    public async Task WriteAsync(CancellationToken cancellationToken)
    {
        if (_rows.IsEmpty) return;
        var rows = _rows.ToArray();
        using var buffer = new RowBinaryWriter();
        var writer = new IngestProgressRowWriter(buffer);
        foreach (var row in rows)
            writer.Write(row.Time, worker, topic, row.Partition, row.FirstOffset, row.LastOffset, row.Rows, row.Bytes, row.Lag, row.DeadLetters, row.InsertMillis);
        try
        {
            // One INSERT may span months here: ingest_progress is statistics, not subject to exactly-once.
            await client.InsertRowBinaryAsync(FlowTables.IngestProgress, IngestProgressRowWriter.Columns, buffer, cancellationToken).ConfigureAwait(false);
            for (int i = 0; i < rows.Length; i++) _rows.TryDequeue(out _);
        }
        catch (Exception e) when (e is ClickHouseServerException or HttpRequestException or TimeoutException or IOException or OperationCanceledException)
        {
            metrics.CountError(IngestError.ProgressWrite);
            while (_rows.Count > MaxQueued) _rows.TryDequeue(out _);
            log.LogDebug("Writing ingest_progress failed: {Error}", e.Message);
        }
    }
}
