using System.Diagnostics;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.RowBinary;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Core.Retry;
using Microsoft.Extensions.Logging;

namespace FlowPolicy.Ingest.Workers;

/// <summary>
/// Sends one batch table's rows as one INSERT and retries until ClickHouse has them or the caller gives up
/// (cancellation: partition revoked, worker stopping), waiting a <see cref="Backoff"/> between attempts. Before any retry after a
/// failure that may have reached the server (connection lost, timeout), it waits until the server no longer runs the
/// INSERT (its query_id) and checks whether the batch's last row is stored: the INSERT is one part, so that row
/// tells whether all of it landed. A retry therefore never stores a batch twice.
/// </summary>
internal sealed class BatchInserter
{
    private readonly ClickHouseHttpClient _client;
    private readonly IngestWorkerOptions _options;
    private readonly IngestMetrics _metrics;
    private readonly ILogger _log;

    public BatchInserter(ClickHouseHttpClient client, IngestWorkerOptions options, IngestMetrics metrics, ILogger log)
    {
        _client = client;
        _options = options;
        _metrics = metrics;
        _log = log;
    }

    /// <summary>
    /// Inserts <paramref name="rows"/> (of Kafka <paramref name="partitions"/>) into <paramref name="table"/>; returns the
    /// INSERT's latency. <paramref name="lastPartition"/> and <paramref name="last"/> name the batch's last row.
    /// </summary>
    public Task<long> InsertAsync(string table, IReadOnlyList<string> columns, RowBinaryWriter rows, string topic, IReadOnlyList<int> partitions,
        int lastPartition, RecordPosition last, string partitionFilter, CancellationToken cancellationToken, string? deduplicationToken = null) =>
        InsertAsync(table, columns, rows.CopyToAsync, rows.RowCount, topic, partitions, lastPartition, last, partitionFilter, cancellationToken, deduplicationToken);

    /// <summary>
    /// The same with the body written by <paramref name="writeBody"/> (<paramref name="rowCount"/> rows; called again
    /// for each attempt): lets the flows batch go out in the table's sort order. <paramref name="deduplicationToken"/>
    /// (<see cref="BatchDeduplicationToken"/>) goes with every attempt as insert_deduplication_token where the server has
    /// it (22.2+): a resent batch is then dropped by the server even when the landed check could not run (18.16 relies on it alone).
    /// </summary>
    public async Task<long> InsertAsync(string table, IReadOnlyList<string> columns, Func<Stream, CancellationToken, ValueTask> writeBody, int rowCount,
        string topic, IReadOnlyList<int> partitions, int lastPartition, RecordPosition last, string partitionFilter, CancellationToken cancellationToken,
        string? deduplicationToken = null)
    {
        var backoff = new Backoff(_options.RetryInitialBackoff, _options.RetryMaxBackoff);
        bool flows = table == FlowTables.Flows;
        bool withToken = deduplicationToken is not null
            && (await _client.GetServerVersionAsync(cancellationToken).ConfigureAwait(false)).SupportsInsertDeduplicationToken;
        for (int attempt = 1; ; attempt++)
        {
            var queryId = IngestQueries.QueryIdPrefix(topic, partitions) + Guid.NewGuid().ToString("N");
            var clock = Stopwatch.StartNew();
            Exception failure;
            bool ambiguous;
            try
            {
                KeyValuePair<string, string>[] settings = withToken
                    ? [new("query_id", queryId), new("insert_deduplication_token", deduplicationToken!)]
                    : [new("query_id", queryId)];
                await _client.InsertRowBinaryAsync(table, columns, writeBody, cancellationToken, settings).ConfigureAwait(false);
                var millis = clock.ElapsedMilliseconds;
                _metrics.RecordInsert(flows, millis);
                if (attempt > 1)
                    _log.LogInformation("ClickHouse took the {Table} batch of partitions {Partitions} ({Rows} rows) on attempt {Attempt}", table, Names(partitions), rowCount, attempt);
                return millis;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (ClickHouseServerException e)
            {
                failure = e;
                ambiguous = false; // the server answered with an error: the INSERT did not happen
            }
            catch (Exception e) when (e is HttpRequestException or TimeoutException or IOException or OperationCanceledException)
            {
                failure = e;
                ambiguous = true;
            }
            _metrics.CountInsertFailure(flows);
            var delay = backoff.Next();
            _log.LogWarning("ClickHouse INSERT into {Table} for partitions {Partitions} ({Rows} rows) failed (attempt {Attempt}): {Error}; retrying in {Delay:F1} s; Kafka offsets stay where they are",
                table, Names(partitions), rowCount, attempt, failure.Message, delay.TotalSeconds);
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            if (ambiguous && await LandedAsync(table, topic, queryId, lastPartition, last, partitionFilter, cancellationToken).ConfigureAwait(false))
            {
                _log.LogInformation("The failed {Table} INSERT of partitions {Partitions} had landed (row {Position} of partition {Partition} is stored); not sending it again",
                    table, Names(partitions), last, lastPartition);
                return clock.ElapsedMilliseconds;
            }
            _metrics.CountInsertRetry(flows);
        }
    }

    private static string Names(IReadOnlyList<int> partitions) => string.Join(",", partitions);

    /// <summary>Whether an INSERT that failed ambiguously is stored (one part: its last row tells); retries its own queries until the server answers.</summary>
    private async Task<bool> LandedAsync(string table, string topic, string queryId, int partition, RecordPosition last, string partitionFilter, CancellationToken cancellationToken)
    {
        var backoff = new Backoff(_options.RetryInitialBackoff, _options.RetryMaxBackoff);
        while (true)
        {
            try
            {
                await WaitForInFlightAsync(topic, id => id == queryId, cancellationToken).ConfigureAwait(false);
                return await IngestQueries.RowStoredAsync(_client, table, partitionFilter, topic, partition, last, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ClickHouseServerException or HttpRequestException or TimeoutException or IOException
                                      || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                _metrics.CountError(IngestError.LandedCheck);
                var delay = backoff.Next();
                _log.LogWarning("ClickHouse unreachable while checking whether the {Table} batch of partition {Partition} landed: {Error}; retrying in {Delay:F1} s",
                    table, partition, e.Message, delay.TotalSeconds);
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Waits until the server runs no INSERT holding rows of <paramref name="partition"/> (ours or a previous owner's,
    /// killed or revoked mid-batch), so a stored-offset read that follows sees every part that will ever land.
    /// Bounded by <see cref="IngestWorkerOptions.InFlightWaitLimit"/>.
    /// </summary>
    public Task WaitForInFlightAsync(string topic, int partition, CancellationToken cancellationToken) =>
        WaitForInFlightAsync(topic, id => IngestQueries.QueryIdHolds(id, topic, partition), cancellationToken);

    private async Task WaitForInFlightAsync(string topic, Func<string, bool> matches, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while ((await IngestQueries.RunningInsertsAsync(_client, topic, cancellationToken).ConfigureAwait(false)).Any(matches))
        {
            if (deadline.Elapsed > _options.InFlightWaitLimit)
            {
                _log.LogWarning("ClickHouse still runs an ingest INSERT after {Seconds} s; going on", (int)deadline.Elapsed.TotalSeconds);
                return;
            }
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }
}
