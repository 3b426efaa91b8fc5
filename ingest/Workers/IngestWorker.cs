using System.Collections.Concurrent;
using System.Globalization;
using Confluent.Kafka;
using FlowPolicy.ClickHouse;
using FlowPolicy.Ingest.Enrichment;
using FlowPolicy.Ingest.Kafka;
using FlowPolicy.Ingest.Workers.Internal;
using Microsoft.Extensions.Logging;

namespace FlowPolicy.Ingest.Workers;

/// <summary>
/// The body of <c>flowpolicy ingest</c>: one Kafka consumer in a group, feeding lanes that decode, enrich, orient and
/// store flows in ClickHouse exactly once (docs/ingest.md). Partitions resume from what ClickHouse holds; Kafka
/// commits are only hints. The component shape: options validated by the constructor (which starts nothing),
/// <see cref="StartAsync"/>, then <see cref="StopAsync"/>, which flushes every batch, commits and leaves the group.
/// This file holds the lifecycle and the consumer loop; IngestWorker.Partitions.cs the partition ownership,
/// <see cref="IngestProgress"/> the progress reporting.
/// </summary>
public sealed partial class IngestWorker
{
    private readonly KafkaOptions _kafka;
    private readonly ClickHouseHttpClient _client;
    private readonly IngestWorkerOptions _options;
    private readonly InventoryWatcher? _inventory;
    private readonly ILogger _log;
    private readonly BatchInserter _inserter;
    private readonly EdgeRollupJob _rollups;
    private readonly IngestProgress _progress;
    private readonly ConcurrentQueue<TopicPartitionOffset> _commits = new();
    private readonly ConcurrentQueue<int> _restarts = new();
    private readonly Dictionary<int, Owned> _owned = new();
    private readonly TaskCompletionSource _firstAssignment = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IngestLane[] _lanes = [];
    private volatile bool _leader;
    private volatile bool _leaderAtStop;
    private CancellationTokenSource? _stopping;
    private Task? _run;

    /// <exception cref="ArgumentException">The Kafka settings or <paramref name="options"/> are invalid (the message names the setting).</exception>
    internal IngestWorker(KafkaOptions kafka, ClickHouseHttpClient client, IngestWorkerOptions options, InventoryWatcher? inventory, ILoggerFactory logs)
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
        _progress = new IngestProgress(client, options.WorkerName, kafka.Topic, Metrics, _log);
    }

    public IngestMetrics Metrics { get; } = new();

    /// <summary>Completes when the worker first holds partitions (tests and progress).</summary>
    public Task FirstAssignment => _firstAssignment.Task;

    /// <summary>Partitions this worker holds now.</summary>
    public IReadOnlyList<int> AssignedPartitions
    {
        get { lock (_owned) return _owned.Keys.Order().ToArray(); }
    }

    /// <summary>
    /// Completes when the worker has stopped: after <see cref="StopAsync"/>, or by itself, faulted, when Kafka failed
    /// fatally (a host watches it to stop the process).
    /// </summary>
    public Task Completion => _run ?? throw new InvalidOperationException("The ingest worker is not started.");

    /// <summary>Starts the lanes, the consumer thread and the background loops, and publishes the metrics; returns at once.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_run is not null) throw new InvalidOperationException("The ingest worker is already started.");
        _stopping = new CancellationTokenSource();
        _run = RunCoreAsync(_stopping.Token);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops consuming, stores every batch held, commits the hints and leaves the group. <paramref name="cancellationToken"/>
    /// only stops the waiting: the worker goes on flushing. Rethrows a fatal failure of the worker.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_run is null || _stopping is null) return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _run.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Starts, runs until <paramref name="stop"/> is cancelled (or the worker fails), then stops.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        await StartAsync(stop).ConfigureAwait(false);
        using (stop.Register(() => _stopping!.Cancel()))
            await Completion.ConfigureAwait(false);
    }

    private async Task RunCoreAsync(CancellationToken stop)
    {
        // Off the caller's thread: StartAsync returns before the first lane runs.
        await Task.Yield();
        _lanes = new IngestLane[_options.Lanes];
        for (int i = 0; i < _lanes.Length; i++)
            _lanes[i] = new IngestLane(i, _kafka.Topic, _options, _inserter, Metrics, _log, _inventory,
                (p, o) => _commits.Enqueue(new TopicPartitionOffset(_kafka.Topic, p, o)), _progress.Add,
                Metrics.LagOf, _restarts.Enqueue);
        var lanes = _lanes;
        Metrics.Publish(() => lanes.Select(l => l.EnrichmentMetrics).OfType<EnrichmentMetrics>(), () => lanes.Select(l => l.DirectionMetrics));
        var laneTasks = _lanes.Select(l => Task.Run(l.RunAsync)).ToArray();
        using var background = new CancellationTokenSource();
        var reporter = Task.Run(() => _progress.RunAsync(_options.MetricsInterval, background.Token));
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
                await _progress.WriteAsync(limit.Token).ConfigureAwait(false);
            _progress.Report(0);
            _log.LogInformation("Ingest worker {Worker} stopped: {Rows} flows and {DeadLetters} dead letters stored", _options.WorkerName, Metrics.FlowRows, Metrics.DeadLetters);
            Metrics.Dispose();
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
                else
                {
                    Metrics.CountError(IngestError.KafkaClient);
                    _log.LogWarning("Kafka: {Reason}", e.Reason);
                }
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
                    Metrics.CountError(IngestError.KafkaConsume);
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
                Metrics.CountError(IngestError.KafkaLeave);
                _log.LogWarning("Kafka: leaving the group failed: {Reason}", e.Error.Reason);
            }
        }
    }

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
            // One rebuilder per group, the holder of partition 0: overlaps at handovers are safe (each rebuild has its own
            // staging table, docs/clickhouse.md) but waste a day's work.
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

}
