using System.Collections.Concurrent;
using System.Globalization;
using Confluent.Kafka;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.RowBinary;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Ingest.Enrichment;
using FlowPolicy.Ingest.Kafka;
using FlowPolicy.Ingest.Workers.Internal;
using Microsoft.Extensions.Logging;

namespace FlowPolicy.Ingest.Workers;

/// <summary>
/// The body of <c>flowpolicy ingest</c>: one Kafka consumer in a group, feeding lanes that decode, enrich, orient and
/// store flows in ClickHouse exactly once (docs/ingest.md). Partitions resume from what ClickHouse holds; Kafka
/// commits are only hints. Run with <see cref="RunAsync"/>; cancelling it flushes, commits and leaves the group.
/// </summary>
public sealed class IngestWorker
{
    private readonly KafkaOptions _kafka;
    private readonly ClickHouseHttpClient _client;
    private readonly IngestWorkerOptions _options;
    private readonly InventoryWatcher? _inventory;
    private readonly ILogger _log;
    private readonly BatchInserter _inserter;
    private readonly EdgeRollupJob _rollups;
    private readonly ConcurrentQueue<TopicPartitionOffset> _commits = new();
    private readonly ConcurrentQueue<ProgressRow> _progress = new();
    private readonly ConcurrentDictionary<int, long> _lag = new();
    private readonly ConcurrentQueue<int> _restarts = new();
    private readonly Dictionary<int, Owned> _owned = new();
    private readonly TaskCompletionSource _firstAssignment = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IngestLane[] _lanes = [];
    private volatile bool _leader;
    private volatile bool _leaderAtStop;

    public IngestWorker(KafkaOptions kafka, ClickHouseHttpClient client, IngestWorkerOptions options, InventoryWatcher? inventory, ILoggerFactory logs)
    {
        ArgumentNullException.ThrowIfNull(kafka);
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logs);
        if (kafka.Validate() is { } error) throw new ArgumentException(error, nameof(kafka));
        options.Validate();
        _kafka = kafka;
        _client = client;
        _options = options;
        _inventory = inventory;
        _log = logs.CreateLogger("flowpolicy.ingest");
        _inserter = new BatchInserter(client, options, Metrics, _log);
        _rollups = new EdgeRollupJob(client, Metrics, _log);
    }

    public IngestMetrics Metrics { get; } = new();

    /// <summary>Completes when the worker first holds partitions (tests and progress).</summary>
    public Task FirstAssignment => _firstAssignment.Task;

    /// <summary>Partitions this worker holds now.</summary>
    public IReadOnlyList<int> AssignedPartitions
    {
        get { lock (_owned) return _owned.Keys.Order().ToArray(); }
    }

    /// <summary>Consumes until <paramref name="stop"/> is cancelled, then flushes every batch, commits and leaves the group.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        _lanes = new IngestLane[_options.Lanes];
        for (int i = 0; i < _lanes.Length; i++)
            _lanes[i] = new IngestLane(i, _kafka.Topic, _options, _inserter, Metrics, _log, _inventory,
                (p, o) => _commits.Enqueue(new TopicPartitionOffset(_kafka.Topic, p, o)), _progress.Enqueue,
                p => _lag.TryGetValue(p, out var lag) ? lag : -1, _restarts.Enqueue);
        var laneTasks = _lanes.Select(l => Task.Run(l.RunAsync)).ToArray();
        using var background = new CancellationTokenSource();
        var reporter = Task.Run(() => ReportLoopAsync(background.Token));
        var rollups = Task.Run(() => RollupLoopAsync(background.Token));
        _log.LogInformation("Ingest worker {Worker}: {Kafka}; ClickHouse {ClickHouse} database {Database}; {Lanes} lanes, batches of up to {Rows} rows or {Interval} s",
            _options.WorkerName, _kafka.Describe(), _client.ToString(), _client.Database, _options.Lanes, _options.BatchRows, _options.BatchInterval.TotalSeconds);
        try
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var thread = new Thread(() =>
            {
                try
                {
                    ConsumeLoop(stop);
                    done.TrySetResult();
                }
                catch (Exception e)
                {
                    done.TrySetException(e);
                }
            }) { Name = "flowpolicy-kafka-consumer", IsBackground = true };
            thread.Start();
            await done.Task.ConfigureAwait(false);
        }
        finally
        {
            foreach (var lane in _lanes) lane.Writer.TryComplete();
            await Task.WhenAll(laneTasks).ConfigureAwait(false);
            await background.CancelAsync().ConfigureAwait(false);
            await reporter.ConfigureAwait(false);
            await rollups.ConfigureAwait(false);
            if (_leaderAtStop && _options.RollupInterval is not null)
            {
                using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await RunRollupsAsync(limit.Token).ConfigureAwait(false);
            }
            using (var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
                await WriteProgressAsync(limit.Token).ConfigureAwait(false);
            Report(0);
            _log.LogInformation("Ingest worker {Worker} stopped: {Rows} flows and {DeadLetters} dead letters stored", _options.WorkerName, Metrics.FlowRows, Metrics.DeadLetters);
        }
    }

    private void ConsumeLoop(CancellationToken stop)
    {
        var config = _kafka.ToConsumerConfig();
        config.EnableAutoOffsetStore = false;
        config.EnablePartitionEof = false;
        // Partition, offset and value are all the worker reads: not marshalling the topic name, timestamp and headers
        // of every message saves a string and more per message.
        config.ConsumeResultFields = "none";
        IConsumer<Ignore, byte[]>? consumer = null;
        consumer = new ConsumerBuilder<Ignore, byte[]>(config)
            .SetPartitionsAssignedHandler((c, partitions) => OnAssigned(partitions, stop))
            .SetPartitionsRevokedHandler((c, partitions) => OnRevoked(c, partitions.Select(p => p.TopicPartition)))
            .SetErrorHandler((_, e) =>
            {
                if (e.IsFatal) _log.LogError("Kafka: {Reason}", e.Reason);
                else _log.LogWarning("Kafka: {Reason}", e.Reason);
            })
            .SetLogHandler((_, _) => { })
            .Build();
        using (consumer)
        {
            consumer.Subscribe(_kafka.Topic);
            long lastLagSample = 0;
            while (!stop.IsCancellationRequested)
            {
                DeliverPending(consumer);
                if (!_restarts.IsEmpty) Restart(consumer, stop);
                Commit(consumer);
                if (Environment.TickCount64 - lastLagSample > 1000)
                {
                    SampleLag(consumer);
                    lastLagSample = Environment.TickCount64;
                }
                ConsumeResult<Ignore, byte[]>? result;
                try
                {
                    result = consumer.Consume(100);
                }
                catch (ConsumeException e) when (e.Error.IsFatal)
                {
                    // Fatal: the client is unusable. FencedInstanceId means another live consumer has our group.instance.id.
                    throw new InvalidOperationException(e.Error.Code == ErrorCode.FencedInstanceId
                        ? $"Kafka fenced this worker: another consumer in group {_kafka.Group} uses group.instance.id {_kafka.GroupInstanceId}. " +
                          "Give each ingest process its own --group-instance-id (or kafka.group_instance_id), or 'none'."
                        : $"Kafka: {e.Error.Reason}", e);
                }
                catch (ConsumeException e)
                {
                    _log.LogWarning("Kafka consume error on {Partition}: {Reason}", e.ConsumerRecord?.TopicPartition, e.Error.Reason);
                    continue;
                }
                if (result is null || result.IsPartitionEOF || result.Message is null) continue;
                Dispatch(consumer, result);
            }
            // Graceful stop: flush and store everything held, commit the hints, then leave the group.
            _leaderAtStop = _leader;
            OnRevoked(consumer, OwnedPartitions());
            Commit(consumer);
            try
            {
                consumer.Close();
            }
            catch (KafkaException e)
            {
                _log.LogWarning("Kafka: leaving the group failed: {Reason}", e.Error.Reason);
            }
        }
    }

    private void Dispatch(IConsumer<Ignore, byte[]> consumer, ConsumeResult<Ignore, byte[]> result)
    {
        int partition = result.Partition.Value;
        long offset = result.Offset.Value;
        Owned? owned;
        lock (_owned) _owned.TryGetValue(partition, out owned);
        if (owned is null || offset < owned.ExpectedNext || owned.Pending is not null)
        {
            // Not ours any more, already taken, or delivered while paused (re-read after the resume seek).
            Interlocked.Increment(ref Metrics.StaleMessagesField);
            return;
        }
        var item = new LaneItem(LaneItemKind.Message, partition, offset, result.Message.Value ?? [], default, owned.Cancel.Token, null);
        var lane = LaneOf(partition).Writer;
        if (lane.TryWrite(item) || WaitForRoom(lane, item))
        {
            owned.ExpectedNext = offset + 1;
            return;
        }
        // The lane is stuck (ClickHouse slow or down): stop fetching this partition but keep polling, so the group
        // keeps us; the message waits here and is handed over when the lane has room.
        owned.Pending = item;
        consumer.Pause([new TopicPartition(_kafka.Topic, partition)]);
        Interlocked.Increment(ref Metrics.PausesField);
        Interlocked.Increment(ref Metrics.PausedPartitionsField);
    }

    /// <summary>
    /// A full lane queue is the normal state when decoding is the bottleneck: the lane frees a slot within
    /// microseconds, so the consumer waits for it rather than pausing the partition, since a resume must seek and
    /// librdkafka then drops and re-fetches (and re-decompresses) what it had prefetched. Only a lane that stays full
    /// (an INSERT retrying) leads to a pause.
    /// </summary>
    private bool WaitForRoom(System.Threading.Channels.ChannelWriter<LaneItem> lane, LaneItem item)
    {
        var deadline = Environment.TickCount64 + (long)_options.LaneFullWait.TotalMilliseconds;
        while (true)
        {
            long left = deadline - Environment.TickCount64;
            if (left <= 0) return false;
            var wait = lane.WaitToWriteAsync();
            bool room;
            if (wait.IsCompleted) room = wait.Result;
            else
            {
                var task = wait.AsTask(); // a ValueTask is consumed once: wait on, and read, this task only
                room = task.Wait(TimeSpan.FromMilliseconds(left)) && task.Result;
            }
            if (!room) return false;
            if (lane.TryWrite(item)) return true;
        }
    }

    private void DeliverPending(IConsumer<Ignore, byte[]> consumer)
    {
        // Called per message: nothing to look at unless a partition is paused (counted by the consumer thread).
        if (Interlocked.Read(ref Metrics.PausedPartitionsField) == 0) return;
        List<Owned>? waiting = null;
        lock (_owned)
            foreach (var owned in _owned.Values)
                if (owned.Pending is not null) (waiting ??= []).Add(owned);
        if (waiting is null) return;
        foreach (var owned in waiting)
        {
            var item = owned.Pending!.Value;
            if (!LaneOf(owned.Partition).Writer.TryWrite(item)) continue;
            owned.Pending = null;
            owned.ExpectedNext = item.Offset + 1;
            Interlocked.Decrement(ref Metrics.PausedPartitionsField);
            var tp = new TopicPartition(_kafka.Topic, owned.Partition);
            try
            {
                consumer.Resume([tp]);
                consumer.Seek(new TopicPartitionOffset(tp, owned.ExpectedNext));
            }
            catch (KafkaException e)
            {
                _log.LogWarning("Kafka: resuming partition {Partition} failed: {Reason}", owned.Partition, e.Error.Reason);
            }
        }
    }

    private List<TopicPartitionOffset> OnAssigned(List<TopicPartition> partitions, CancellationToken stop)
    {
        _log.LogInformation("Assigned partitions {Partitions}; reading where ClickHouse stands", string.Join(",", partitions.Select(p => p.Partition.Value)));
        var offsets = TakeOver(partitions, stop);
        Interlocked.Exchange(ref Metrics.AssignedPartitionsField, _owned.Count);
        _leader = AssignedPartitions.Contains(0);
        _firstAssignment.TrySetResult();
        return offsets;
    }

    /// <summary>
    /// Starts (or starts over) <paramref name="partitions"/> from what ClickHouse holds: waits for INSERTs of them the
    /// server still runs, reads the resume points, and hands each lane its partitions; returns where to read from.
    /// </summary>
    private List<TopicPartitionOffset> TakeOver(List<TopicPartition> partitions, CancellationToken stop)
    {
        var numbers = partitions.Select(p => p.Partition.Value).ToList();
        Dictionary<int, ResumePoint> resume = [];
        var backoff = _options.RetryInitialBackoff;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                // First let any INSERT a previous owner (or an abandoned batch) left running finish, so the read below sees all of it.
                foreach (var partition in numbers)
                    _inserter.WaitForInFlightAsync(_kafka.Topic, partition, stop).GetAwaiter().GetResult();
                resume = IngestQueries.ReadResumePointsAsync(_client, _kafka.Topic, stop).GetAwaiter().GetResult();
                break;
            }
            catch (Exception e) when (e is ClickHouseServerException or HttpRequestException or TimeoutException or IOException)
            {
                _log.LogWarning("Cannot read stored offsets from ClickHouse: {Error}; retrying in {Delay:F1} s", e.Message, backoff.TotalSeconds);
                stop.WaitHandle.WaitOne(backoff);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _options.RetryMaxBackoff.Ticks));
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
        }
        var offsets = new List<TopicPartitionOffset>(partitions.Count);
        foreach (var tp in partitions)
        {
            int partition = tp.Partition.Value;
            var point = resume.TryGetValue(partition, out var r) ? r : ResumePoint.Empty;
            offsets.Add(new TopicPartitionOffset(tp, point.SeekOffset is { } o ? new Offset(o) : Offset.Beginning));
            if (stop.IsCancellationRequested) continue;
            var owned = new Owned(partition) { ExpectedNext = point.SeekOffset ?? 0 };
            lock (_owned) _owned[partition] = owned;
            LaneOf(partition).Writer.WriteAsync(new LaneItem(LaneItemKind.Assigned, partition, 0, null, point, owned.Cancel.Token, null))
                .AsTask().GetAwaiter().GetResult();
            _log.LogInformation("Partition {Partition}: resuming at offset {Offset} ({Stored})", partition,
                point.SeekOffset?.ToString(CultureInfo.InvariantCulture) ?? "start", point);
        }
        return offsets;
    }

    /// <summary>
    /// Partitions whose lane gave up a batch (a partition in it was released while ClickHouse did not take it): the
    /// lane dropped their unstored rows, so each one still owned starts over from ClickHouse, and the consumer seeks.
    /// </summary>
    private void Restart(IConsumer<Ignore, byte[]> consumer, CancellationToken stop)
    {
        var partitions = new List<TopicPartition>();
        while (_restarts.TryDequeue(out var partition))
        {
            lock (_owned)
            {
                if (!_owned.TryGetValue(partition, out var owned) || owned.Cancel.IsCancellationRequested) continue;
                if (owned.Pending is not null)
                {
                    owned.Pending = null;
                    Interlocked.Decrement(ref Metrics.PausedPartitionsField);
                }
            }
            if (!partitions.Exists(p => p.Partition.Value == partition)) partitions.Add(new TopicPartition(_kafka.Topic, partition));
        }
        if (partitions.Count == 0) return;
        _log.LogWarning("Partitions {Partitions} start over from what ClickHouse holds", string.Join(",", partitions.Select(p => p.Partition.Value)));
        Interlocked.Add(ref Metrics.RestartsField, partitions.Count);
        foreach (var start in TakeOver(partitions, stop))
        {
            try
            {
                consumer.Resume([start.TopicPartition]);
                consumer.Seek(start);
            }
            catch (KafkaException e)
            {
                _log.LogWarning("Kafka: seeking partition {Partition} failed: {Reason}", start.Partition.Value, e.Error.Reason);
            }
        }
    }

    private void OnRevoked(IConsumer<Ignore, byte[]> consumer, IEnumerable<TopicPartition> partitions)
    {
        var owned = new List<Owned>();
        foreach (var tp in partitions)
        {
            lock (_owned)
            {
                if (_owned.Remove(tp.Partition.Value, out var o)) owned.Add(o);
            }
        }
        var leaving = new List<(Owned Owned, TaskCompletionSource Done)>();
        using var limit = new CancellationTokenSource(_options.RevokeFlushLimit);
        foreach (var o in owned)
        {
            if (o.Pending is not null) Interlocked.Decrement(ref Metrics.PausedPartitionsField);
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var item = new LaneItem(LaneItemKind.Revoked, o.Partition, 0, null, default, o.Cancel.Token, done);
            try
            {
                LaneOf(o.Partition).Writer.WriteAsync(item, limit.Token).AsTask().GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                // The lane is stuck retrying (ClickHouse down) with a full queue: release every leaving partition
                // unwritten so it drains, then hand it the item.
                foreach (var other in owned) other.Cancel.Cancel();
                LaneOf(o.Partition).Writer.WriteAsync(item).AsTask().GetAwaiter().GetResult();
            }
            leaving.Add((o, done));
        }
        if (leaving.Count == 0) return;
        var all = Task.WhenAll(leaving.Select(l => l.Done.Task));
        if (!all.Wait(limit.IsCancellationRequested ? TimeSpan.Zero : _options.RevokeFlushLimit))
        {
            // ClickHouse is not taking rows: give the partitions up unwritten; the next owner resumes from ClickHouse.
            foreach (var (o, _) in leaving) o.Cancel.Cancel();
            all.Wait();
        }
        Commit(consumer);
        foreach (var (o, _) in leaving) o.Cancel.Dispose();
        Interlocked.Exchange(ref Metrics.AssignedPartitionsField, AssignedPartitions.Count);
        _leader = AssignedPartitions.Contains(0);
        _log.LogInformation("Released partitions {Partitions}", string.Join(",", leaving.Select(l => l.Owned.Partition)));
    }

    private List<TopicPartition> OwnedPartitions()
    {
        lock (_owned) return _owned.Keys.Select(p => new TopicPartition(_kafka.Topic, p)).ToList();
    }

    private void Commit(IConsumer<Ignore, byte[]> consumer)
    {
        if (_commits.IsEmpty) return;
        var latest = new Dictionary<int, TopicPartitionOffset>();
        while (_commits.TryDequeue(out var c)) latest[c.Partition.Value] = c;
        try
        {
            consumer.Commit(latest.Values);
        }
        catch (KafkaException e)
        {
            // Only a hint: the next owner reads where to resume from ClickHouse.
            _log.LogDebug("Kafka commit (a hint) failed: {Reason}", e.Error.Reason);
        }
    }

    private void SampleLag(IConsumer<Ignore, byte[]> consumer)
    {
        long total = 0;
        foreach (var tp in OwnedPartitions())
        {
            try
            {
                var marks = consumer.GetWatermarkOffsets(tp);
                var position = consumer.Position(tp);
                if (marks.High.Value < 0 || position.Value < 0) continue;
                long lag = Math.Max(0, marks.High.Value - position.Value);
                _lag[tp.Partition.Value] = lag;
                total += lag;
            }
            catch (KafkaException)
            {
            }
        }
        Interlocked.Exchange(ref Metrics.LagField, total);
    }

    private IngestLane LaneOf(int partition) => _lanes[partition % _lanes.Length];

    private async Task ReportLoopAsync(CancellationToken cancellationToken)
    {
        var interval = _options.MetricsInterval;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            Report(interval.TotalSeconds);
            await WriteProgressAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private long _reportedRows, _reportedBytes, _reportedBatches, _reportedInsertMillis;

    private void Report(double seconds)
    {
        long rows = Metrics.FlowRows, bytes = Metrics.MessageBytes, batches = Metrics.Batches, insertMillis = Metrics.InsertMillis;
        long dRows = rows - _reportedRows, dBytes = bytes - _reportedBytes, dBatches = batches - _reportedBatches, dMillis = insertMillis - _reportedInsertMillis;
        (_reportedRows, _reportedBytes, _reportedBatches, _reportedInsertMillis) = (rows, bytes, batches, insertMillis);
        if (seconds <= 0) return;
        _log.LogInformation(
            "ingest: {RowsPerSecond:F0} rows/s, {MegabytesPerSecond:F2} MB/s in, lag {Lag} messages, {Batches} batches (avg {AvgRows:F0} rows, max {MaxRows}), insert avg {AvgMs:F0} ms max {MaxMs} ms, {DeadLetters} dead letters, {Failures} failed inserts, partitions {Assigned} ({Paused} paused)",
            dRows / seconds, dBytes / seconds / 1e6, Metrics.Lag, dBatches, dBatches == 0 ? 0 : (double)dRows / dBatches, Metrics.BatchRowsMax,
            dBatches == 0 ? 0 : (double)dMillis / dBatches, Metrics.InsertMaxMillis, Metrics.DeadLetters, Metrics.InsertFailures,
            Metrics.AssignedPartitions, Metrics.PausedPartitions);
    }

    /// <summary>Writes queued batch statistics to ingest_progress for Grafana; best effort (kept for the next try, up to a cap).</summary>
    private async Task WriteProgressAsync(CancellationToken cancellationToken)
    {
        if (_progress.IsEmpty) return;
        var rows = _progress.ToArray();
        using var writer = new RowBinaryWriter();
        foreach (var row in rows)
        {
            writer.WriteDateTime(new DateTime(row.Time.Ticks - row.Time.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc));
            writer.WriteString(_options.WorkerName);
            writer.WriteString(_kafka.Topic);
            writer.WriteInt32(row.Partition);
            writer.WriteUInt64((ulong)row.FirstOffset);
            writer.WriteUInt64((ulong)row.LastOffset);
            writer.WriteUInt64((ulong)row.Rows);
            writer.WriteUInt64((ulong)row.Bytes);
            writer.WriteInt64(row.Lag);
            writer.WriteUInt64((ulong)row.DeadLetters);
            writer.WriteUInt32((uint)Math.Min(row.InsertMillis, uint.MaxValue));
            writer.EndRow();
        }
        try
        {
            // One INSERT may span months here: ingest_progress is statistics, not subject to exactly-once.
            await _client.InsertRowBinaryAsync(FlowTables.IngestProgress, ProgressColumns, writer, cancellationToken).ConfigureAwait(false);
            for (int i = 0; i < rows.Length; i++) _progress.TryDequeue(out _);
        }
        catch (Exception e) when (e is ClickHouseServerException or HttpRequestException or TimeoutException or IOException or OperationCanceledException)
        {
            while (_progress.Count > 10_000) _progress.TryDequeue(out _);
            _log.LogDebug("Writing ingest_progress failed: {Error}", e.Message);
        }
    }

    private static readonly string[] ProgressColumns =
        ["time", "worker", "kafka_topic", "kafka_partition", "first_offset", "last_offset", "rows", "bytes", "lag", "dead_letters", "insert_latency_ms"];

    private async Task RollupLoopAsync(CancellationToken cancellationToken)
    {
        if (_options.RollupInterval is not { } interval) return;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            // One rebuilder per group: the holder of partition 0 (rebuilds of one day must not overlap).
            if (_leader) await RunRollupsAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task RunRollupsAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _rollups.RunOnceAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>A partition this worker holds, seen from the consumer thread.</summary>
    private sealed class Owned(int partition)
    {
        public int Partition { get; } = partition;
        public CancellationTokenSource Cancel { get; } = new();
        public long ExpectedNext { get; set; }
        public LaneItem? Pending { get; set; }
    }
}
