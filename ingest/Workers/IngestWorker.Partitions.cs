using System.Globalization;
using Confluent.Kafka;
using FlowPolicy.ClickHouse;
using FlowPolicy.Core.Retry;
using FlowPolicy.Ingest.Workers.Internal;
using Microsoft.Extensions.Logging;

namespace FlowPolicy.Ingest.Workers;

/// <summary>
/// Partition ownership, seen from the consumer thread: taking partitions over from what ClickHouse holds, handing
/// messages to their lane (waiting, then pausing, when it is full), releasing them on revocation after their batches
/// are stored, restarting them after a lane gave a batch up, the commit hints and the lag samples.
/// </summary>
public sealed partial class IngestWorker
{
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
                Metrics.CountError(IngestError.KafkaSeek);
                _log.LogWarning("Kafka: resuming partition {Partition} failed: {Reason}", owned.Partition, e.Error.Reason);
            }
        }
    }

    private List<TopicPartitionOffset> OnAssigned(List<TopicPartition> partitions, CancellationToken stop)
    {
        _log.LogInformation("Assigned partitions {Partitions}; reading where ClickHouse stands", string.Join(",", partitions.Select(p => p.Partition.Value)));
        Interlocked.Increment(ref Metrics.AssignmentsField);
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
        var backoff = new Backoff(_options.RetryInitialBackoff, _options.RetryMaxBackoff);
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
                Metrics.CountError(IngestError.ResumeRead);
                var delay = backoff.Next();
                _log.LogWarning("Cannot read stored offsets from ClickHouse: {Error}; retrying in {Delay:F1} s", e.Message, delay.TotalSeconds);
                stop.WaitHandle.WaitOne(delay); // the consumer thread: a synchronous wait that a stop cuts short
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
                Metrics.CountError(IngestError.KafkaSeek);
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
        Interlocked.Increment(ref Metrics.RevocationsField);
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
            Metrics.CountError(IngestError.KafkaCommit);
            _log.LogDebug("Kafka commit (a hint) failed: {Reason}", e.Error.Reason);
        }
    }

    private void SampleLag(IConsumer<Ignore, byte[]> consumer)
    {
        var sample = new Dictionary<int, long>();
        foreach (var tp in OwnedPartitions())
        {
            try
            {
                var marks = consumer.GetWatermarkOffsets(tp);
                var position = consumer.Position(tp);
                if (marks.High.Value < 0 || position.Value < 0) continue;
                long lag = Math.Max(0, marks.High.Value - position.Value);
                sample[tp.Partition.Value] = lag;
            }
            catch (KafkaException)
            {
                Metrics.CountError(IngestError.LagSample);
            }
        }
        Metrics.SetLag(sample);
    }

    private IngestLane LaneOf(int partition) => _lanes[partition % _lanes.Length];

    /// <summary>A partition this worker holds, seen from the consumer thread.</summary>
    private sealed class Owned(int partition)
    {
        public int Partition { get; } = partition;
        public CancellationTokenSource Cancel { get; } = new();
        public long ExpectedNext { get; set; }
        public LaneItem? Pending { get; set; }
    }
}
