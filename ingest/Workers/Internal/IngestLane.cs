using System.Threading.Channels;
using FlowPolicy.ClickHouse.RowBinary;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Ingest.Direction;
using FlowPolicy.Ingest.Enrichment;
using FlowPolicy.Ingest.Formats;
using Microsoft.Extensions.Logging;

namespace FlowPolicy.Ingest.Workers.Internal;

/// <summary>
/// One lane of a worker: decodes, enriches and orients the messages of the partitions it owns, in offset order, and
/// stores their rows in batches shared by those partitions (<see cref="LaneBatches"/> keeps the order rules). One
/// batch is stored at a time, in the background, while the lane decodes on. Its own decoder scratch, enricher and
/// direction resolver, so lanes run in parallel without locks. A full queue makes the consumer wait, then pause.
/// </summary>
internal sealed class IngestLane
{
    private static readonly DateTime Earliest = new(1970, 1, 2, 0, 0, 0, DateTimeKind.Utc);
    private static readonly DateTime Latest = new(2105, 12, 31, 0, 0, 0, DateTimeKind.Utc);

    private readonly Channel<LaneItem> _queue;
    private readonly string _topic;
    private readonly IngestWorkerOptions _options;
    private readonly BatchInserter _inserter;
    private readonly IngestMetrics _metrics;
    private readonly ILogger _log;
    private readonly MessageDecoder _decoder;
    private readonly FlowEnricher? _enricher;
    private readonly DirectionResolver _resolver;
    private readonly Action<int, long> _commitHint;
    private readonly Action<ProgressRow> _progress;
    private readonly Func<int, long> _lagOf;
    private readonly Action<int> _restart;
    private readonly Dictionary<int, PartitionState> _partitions = new();
    private readonly LaneBatches _batches;
    private ResolvedDirection[] _directions = new ResolvedDirection[64];
    /// <summary>The running store (one at a time, in batch order); null when none runs.</summary>
    private Task? _store;
    /// <summary>Set by a store that gave up its batch (a partition in it was released): the lane must start over.</summary>
    private volatile bool _storeAbandoned;

    public IngestLane(int index, string topic, IngestWorkerOptions options, BatchInserter inserter, IngestMetrics metrics, ILogger log,
        InventoryWatcher? inventory, Action<int, long> commitHint, Action<ProgressRow> progress, Func<int, long> lagOf, Action<int> restart)
    {
        Index = index;
        _topic = topic;
        _options = options;
        _inserter = inserter;
        _metrics = metrics;
        _log = log;
        _commitHint = commitHint;
        _progress = progress;
        _lagOf = lagOf;
        _restart = restart;
        _decoder = new MessageDecoder(options.Format);
        _enricher = inventory is null ? null : new FlowEnricher(inventory);
        _resolver = new DirectionResolver(servedPorts: inventory);
        _batches = new LaneBatches(options.BatchRows);
        _queue = Channel.CreateBounded<LaneItem>(new BoundedChannelOptions(options.LaneQueueMessages)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public int Index { get; }
    public ChannelWriter<LaneItem> Writer => _queue.Writer;
    public EnrichmentMetrics? EnrichmentMetrics => _enricher?.Metrics;
    public DirectionMetrics DirectionMetrics => _resolver.Metrics;

    public async Task RunAsync()
    {
        var reader = _queue.Reader;
        try
        {
            while (true)
            {
                if (reader.TryRead(out var item))
                {
                    await HandleAsync(item).ConfigureAwait(false);
                    continue;
                }
                var wait = await FlushDueAsync().ConfigureAwait(false);
                if (reader.TryPeek(out _)) continue;
                using var timer = new CancellationTokenSource(wait);
                try
                {
                    if (!await reader.WaitToReadAsync(timer.Token).ConfigureAwait(false)) break;
                }
                catch (OperationCanceledException) when (timer.IsCancellationRequested)
                {
                }
            }
            await WaitForStoreAsync().ConfigureAwait(false);
        }
        finally
        {
            _batches.Dispose();
        }
    }

    private async Task HandleAsync(LaneItem item)
    {
        if (_storeAbandoned) await StartOverAsync().ConfigureAwait(false);
        switch (item.Kind)
        {
            case LaneItemKind.Assigned:
                // A new owner, or this one starting over after an abandoned batch: nothing of the partition is open.
                _batches.Forget(item.Partition);
                _partitions[item.Partition] = new PartitionState(item.Partition, item.Resume, item.PartitionToken);
                break;
            case LaneItemKind.Revoked:
                if (_partitions.Remove(item.Partition))
                {
                    // Everything of the partition must be stored (or given up) before it is released.
                    await FlushAllAsync().ConfigureAwait(false);
                    await WaitForStoreAsync().ConfigureAwait(false);
                    if (_storeAbandoned) await StartOverAsync().ConfigureAwait(false);
                    _batches.Forget(item.Partition);
                }
                item.Done?.TrySetResult();
                break;
            case LaneItemKind.Message:
                if (!_partitions.TryGetValue(item.Partition, out var state) || state.Abandoned || item.Offset < state.NextOffset)
                {
                    Interlocked.Increment(ref _metrics.StaleMessagesField);
                    return;
                }
                state.NextOffset = item.Offset + 1;
                await TakeMessageAsync(state, item.Offset, item.Value!).ConfigureAwait(false);
                break;
        }
    }

    private async Task TakeMessageAsync(PartitionState state, long offset, byte[] value)
    {
        Interlocked.Increment(ref _metrics.MessagesField);
        Interlocked.Add(ref _metrics.MessageBytesField, value.Length);
        var decoder = _decoder;
        bool failed = false;
        try
        {
            decoder.Decode(value, _topic);
            var flows = decoder.Flows;
            _enricher?.Enrich(flows);
            _resolver.Observe(flows);
            if (_directions.Length < flows.Length) _directions = new ResolvedDirection[Math.Max(flows.Length, _directions.Length * 2)];
            _resolver.Resolve(flows, _directions);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            failed = true;
            // Never reached with healthy decoders; if it is, the message becomes one dead letter instead of stopping the partition.
            decoder.Decode(ReadOnlySpan<byte>.Empty, _topic);
            decoder.Reject(new FlowDecodeError(new SourcePosition(_topic, 0), "ingest: " + e.Message, null));
        }
        Interlocked.Add(ref _metrics.SkippedField, decoder.Skipped);
        var formatName = decoder.Format is { } f ? FlowFormats.Name(f) : "unknown";

        int partition = state.Partition;
        LaneBatch? last = null;
        var rejects = decoder.Rejects;
        int flowCount = decoder.FlowCount;
        int fi = 0, ri = 0;
        while (fi < flowCount || ri < rejects.Count)
        {
            if (state.Abandoned) return;
            bool takeFlow = ri >= rejects.Count || (fi < flowCount && decoder.IndexAt(fi) < rejects[ri].Index);
            if (takeFlow)
            {
                int i = fi++;
                var position = new RecordPosition(offset, decoder.IndexAt(i));
                if (state.Resume.FlowStored(position))
                {
                    Interlocked.Increment(ref _metrics.DuplicateRecordsSkippedField);
                    continue;
                }
                var start = decoder.FlowAt(i).Start;
                if (start < Earliest || start > Latest || decoder.FlowAt(i).End > Latest)
                {
                    // ClickHouse DateTime cannot hold it; a dead letter at the same position keeps the sequence exact.
                    if (state.Resume.DeadLetterStored(position)) continue;
                    last = await DeadLetterBatchAsync(state).ConfigureAwait(false);
                    if (last is null) return;
                    last.AddDeadLetter(DateTime.UtcNow, _topic, partition, position, formatName,
                        $"{formatName}: flow time {start:O} is outside what ClickHouse DateTime stores (1970-2105)", default, 0, DeadLetterReason.TimeOutOfRange);
                    continue;
                }
                int day = FlowRowWriter.PartitionKey(decoder.FlowAt(i));
                var batch = _batches.ForFlow(partition, day);
                while (batch is null)
                {
                    await StoreOldestAsync().ConfigureAwait(false);
                    if (state.Abandoned) return;
                    batch = _batches.ForFlow(partition, day);
                }
                batch.AddFlow(decoder.FlowAt(i), day, formatName, _topic, partition, position, _directions[i].IsReply);
                last = batch;
                if (batch.Full) await FlushThroughAsync(batch).ConfigureAwait(false);
            }
            else
            {
                var (index, error) = rejects[ri++];
                var position = new RecordPosition(offset, index);
                if (state.Resume.DeadLetterStored(position))
                {
                    Interlocked.Increment(ref _metrics.DuplicateRecordsSkippedField);
                    continue;
                }
                last = await DeadLetterBatchAsync(state).ConfigureAwait(false);
                if (last is null) return;
                last.AddDeadLetter(DateTime.UtcNow, _topic, partition, position, formatName, error.Reason, error.Excerpt, error.Position.Line,
                    failed ? DeadLetterReason.Internal : DeadLetterReason.Decode);
            }
        }
        if (state.Abandoned) return;
        if (decoder.L7Count > 0 && !failed)
        {
            last = await TakeL7Async(state, offset).ConfigureAwait(false) ?? last;
            if (state.Abandoned) return;
        }
        // The message is wholly in batches now: once the batch holding its last row is stored, Kafka may skip it.
        if (last is null || !_batches.IsOpen(last)) return;
        last.CompleteMessage(partition, offset, value.Length);
        if (last.Full) await FlushThroughAsync(last).ConfigureAwait(false);
    }

    /// <summary>
    /// The message's L7 observations as flows_l7 rows, after its flows (so a partition's rows stay in batch order): enriched
    /// like the flows (by address, when the record has one), oriented by their own request/response type (a response's
    /// source is the server), the names Hubble attached as a row of their own with the named address as the server. Rows
    /// are numbered in the message in that order, which a re-read repeats. One with neither addresses nor both identities
    /// joins nothing and is counted as skipped, as the embedded mode does. Returns the batch of the last row added (null:
    /// none; check <see cref="PartitionState.Abandoned"/> after).
    /// </summary>
    private async Task<LaneBatch?> TakeL7Async(PartitionState state, long offset)
    {
        var decoder = _decoder;
        int partition = state.Partition;
        uint index = 0;
        LaneBatch? last = null;
        for (int i = 0; i < decoder.L7Count; i++)
        {
            var observation = decoder.L7At(i);
            if ((!observation.HasIp && (observation.SrcIdentity is null || observation.DstIdentity is null))
                || observation.Time < Earliest || observation.Time > Latest)
            {
                Interlocked.Increment(ref _metrics.SkippedField);
                continue;
            }
            var flow = observation.AsFlow();
            if (observation.HasIp) _enricher?.Enrich(ref flow);
            if (observation.Protocol is not (L7Protocol.Names or L7Protocol.None))
            {
                var oriented = flow;
                if (observation.Direction == L7Direction.Response) oriented.Flip();
                string? resource = observation.Resource, path = null;
                if (observation.Protocol == L7Protocol.Http && resource is { Length: > 0 })
                {
                    path = resource;
                    resource = PathTemplate.Of(resource);
                }
                if (!await AddL7Async(oriented, observation, observation.Protocol, resource, path, new RecordPosition(offset, index++)).ConfigureAwait(false)) return null;
            }
            if (observation.Names is { Length: > 0 })
            {
                var named = flow;
                if (observation.NamedIsSource) named.Flip();
                if (!await AddL7Async(named, observation, L7Protocol.Names, null, null, new RecordPosition(offset, index++)).ConfigureAwait(false)) return null;
            }
        }
        return last;

        async Task<bool> AddL7Async(FlowRecord oriented, L7Observation observation, L7Protocol protocol, string? resource, string? path, RecordPosition position)
        {
            if (state.Resume.L7Stored(position))
            {
                Interlocked.Increment(ref _metrics.DuplicateRecordsSkippedField);
                return true;
            }
            int day = L7RowWriter.PartitionKey(oriented.Start);
            var batch = _batches.ForFlow(partition, day);
            while (batch is null)
            {
                await StoreOldestAsync().ConfigureAwait(false);
                if (state.Abandoned) return false;
                batch = _batches.ForFlow(partition, day);
            }
            batch.AddL7(oriented, observation, protocol, resource, path, day, _topic, partition, position);
            last = batch;
            if (batch.Full) await FlushThroughAsync(batch).ConfigureAwait(false);
            return !state.Abandoned;
        }
    }

    /// <summary>The batch a dead letter of the partition joins, storing the oldest first when none may be opened; null when abandoned.</summary>
    private async Task<LaneBatch?> DeadLetterBatchAsync(PartitionState state)
    {
        var batch = _batches.ForDeadLetter(state.Partition);
        while (batch is null)
        {
            await StoreOldestAsync().ConfigureAwait(false);
            if (state.Abandoned) return null;
            batch = _batches.ForDeadLetter(state.Partition);
        }
        return batch;
    }

    /// <summary>Stores batches whose first row is older than the interval; returns how long until the next one is due.</summary>
    private async Task<TimeSpan> FlushDueAsync()
    {
        if (_storeAbandoned) await StartOverAsync().ConfigureAwait(false);
        long interval = (long)_options.BatchInterval.TotalMilliseconds;
        long dueIn;
        while (_batches.OldestDue(Environment.TickCount64, interval, out dueIn))
            await StoreOldestAsync().ConfigureAwait(false);
        return TimeSpan.FromMilliseconds(Math.Clamp(dueIn, 10, interval));
    }

    private async Task FlushThroughAsync(LaneBatch batch)
    {
        while (_batches.IsOpen(batch)) await StoreOldestAsync().ConfigureAwait(false);
    }

    private async Task FlushAllAsync()
    {
        while (_batches.Open.Count > 0) await StoreOldestAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Hands the oldest open batch to a background store once the previous store is done: batches land one after
    /// the other in the order they were opened, which the resume rule needs (<see cref="LaneBatches"/>).
    /// </summary>
    private async Task StoreOldestAsync()
    {
        await WaitForStoreAsync().ConfigureAwait(false);
        if (_storeAbandoned)
        {
            await StartOverAsync().ConfigureAwait(false);
            return;
        }
        if (_batches.TakeOldest() is not { } batch) return;
        if (batch.IsEmpty)
        {
            _batches.Return(batch);
            return;
        }
        var partitions = batch.Spans.Keys.Order().ToArray();
        var tokens = new CancellationToken[partitions.Length];
        for (int i = 0; i < partitions.Length; i++)
            tokens[i] = _partitions.TryGetValue(partitions[i], out var s) ? s.Token : new CancellationToken(canceled: true);
        _store = Task.Run(() => StoreAsync(batch, partitions, tokens));
    }

    private async Task WaitForStoreAsync()
    {
        if (_store is not { } store) return;
        await store.ConfigureAwait(false);
        _store = null;
    }

    /// <summary>
    /// A store gave up its batch, so its partitions have a gap: drop everything open and have the worker restart
    /// every partition of the lane from what ClickHouse holds (it sends Assigned again for those it still owns).
    /// </summary>
    private async Task StartOverAsync()
    {
        await WaitForStoreAsync().ConfigureAwait(false);
        _storeAbandoned = false;
        _batches.Clear();
        foreach (var state in _partitions.Values)
        {
            if (state.Abandoned) continue;
            state.Abandoned = true;
            _restart(state.Partition);
        }
    }

    /// <summary>
    /// Stores the batch: dead letters first, then L7 observations, then flows (see <see cref="ResumePoint"/> for why this order). Retries
    /// until stored or a partition in it is taken away; then the batch is dropped and the lane starts over.
    /// </summary>
    private async Task StoreAsync(LaneBatch batch, int[] partitions, CancellationToken[] tokens)
    {
        using var released = CancellationTokenSource.CreateLinkedTokenSource(tokens);
        var token = released.Token;
        long millis = 0;
        try
        {
            if (batch.DeadLetterRows > 0 && !batch.DeadLettersStored)
            {
                var (p, position) = batch.LastDeadLetter!.Value;
                millis += await _inserter.InsertAsync(FlowTables.DeadLetters, DeadLetterRowWriter.Columns, batch.DeadLetters, _topic, partitions,
                    p, position, IngestQueries.DeadLetterTimeFilter(batch.DeadLetterTime), token,
                    BatchDeduplicationToken.For(FlowTables.DeadLetters, _topic, batch.Day, batch.Spans)).ConfigureAwait(false);
                batch.DeadLettersStored = true;
                for (var reason = DeadLetterReason.Decode; reason <= DeadLetterReason.Internal; reason++) _metrics.AddDeadLetters(reason, batch.DeadLettersOf(reason));
            }
            if (batch.L7Rows > 0 && !batch.L7Stored)
            {
                var (p, position) = batch.LastL7!.Value;
                millis += await _inserter.InsertAsync(FlowTables.L7, L7RowWriter.Columns, batch.L7, _topic, partitions,
                    p, position, IngestQueries.L7DayFilter(batch.Day), token,
                    BatchDeduplicationToken.For(FlowTables.L7, _topic, batch.Day, batch.L7Spans)).ConfigureAwait(false);
                batch.L7Stored = true;
                Interlocked.Add(ref _metrics.L7RowsField, batch.L7Rows);
            }
            if (batch.FlowRows > 0)
            {
                var (p, position) = batch.LastFlow!.Value;
                millis += await _inserter.InsertAsync(FlowTables.Flows, FlowRowWriter.Columns, batch.WriteFlowsAsync, batch.FlowRows, _topic, partitions,
                    p, position, IngestQueries.FlowsDayFilter(batch.Day), token,
                    BatchDeduplicationToken.For(FlowTables.Flows, _topic, batch.Day, batch.Spans)).ConfigureAwait(false);
                Interlocked.Add(ref _metrics.FlowRowsField, batch.FlowRows);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            Interlocked.Increment(ref _metrics.AbandonedBatchesField);
            _log.LogWarning("Batch of partitions {Partitions} ({Rows} rows) not stored before a partition in it was released; the lane starts over from ClickHouse",
                string.Join(",", partitions), batch.FlowRows + batch.DeadLetterRows);
            _batches.Return(batch);
            _storeAbandoned = true;
            return;
        }
        Interlocked.Increment(ref _metrics.BatchesField);
        _metrics.RecordBatchRows(batch.FlowRows);
        var now = DateTime.UtcNow;
        foreach (var (partition, span) in batch.Spans)
        {
            _progress(new ProgressRow(now, partition, span.First.Offset, span.Last.Offset, span.FlowRows, span.Bytes,
                _lagOf(partition), span.DeadLetterRows, millis));
            // A hint only (workers resume from ClickHouse): the first message not wholly stored.
            _commitHint(partition, span.CompleteThrough + 1);
        }
        _batches.Return(batch);
    }

    private sealed class PartitionState(int partition, ResumePoint resume, CancellationToken token)
    {
        public int Partition { get; } = partition;
        public ResumePoint Resume { get; } = resume;
        public CancellationToken Token { get; } = token;
        public long NextOffset { get; set; }
        /// <summary>Rows of the partition were dropped: ignore its messages until the worker assigns it again.</summary>
        public bool Abandoned { get; set; }
    }
}
