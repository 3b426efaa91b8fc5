using System.Threading.Channels;
using FlowPolicy.Core.ClickHouse.RowBinary;
using FlowPolicy.Core.ClickHouse.Schema;
using FlowPolicy.Core.Flows;
using FlowPolicy.Ingest.Direction;
using FlowPolicy.Ingest.Enrichment;
using FlowPolicy.Ingest.Formats;
using Microsoft.Extensions.Logging;

namespace FlowPolicy.Ingest.Workers.Internal;

/// <summary>
/// One lane of a worker: decodes, enriches and orients the messages of the partitions it owns, in offset order, and
/// stores each partition's batches in order (dead letters, then flows). Its own decoder scratch, enricher and
/// direction resolver, so lanes run in parallel without locks. A full queue makes the consumer pause the partition.
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
    private readonly Dictionary<int, PartitionState> _partitions = new();
    private ResolvedDirection[] _directions = new ResolvedDirection[64];

    public IngestLane(int index, string topic, IngestWorkerOptions options, BatchInserter inserter, IngestMetrics metrics, ILogger log,
        InventoryWatcher? inventory, Action<int, long> commitHint, Action<ProgressRow> progress, Func<int, long> lagOf)
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
        _decoder = new MessageDecoder(options.Format);
        _enricher = inventory is null ? null : new FlowEnricher(inventory);
        _resolver = new DirectionResolver(servedPorts: inventory);
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

    public async Task RunAsync()
    {
        var reader = _queue.Reader;
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
        foreach (var state in _partitions.Values)
        {
            await WaitForStoreAsync(state).ConfigureAwait(false);
            state.Dispose();
        }
    }

    private async Task HandleAsync(LaneItem item)
    {
        switch (item.Kind)
        {
            case LaneItemKind.Assigned:
                if (_partitions.Remove(item.Partition, out var old))
                {
                    await WaitForStoreAsync(old).ConfigureAwait(false);
                    old.Dispose();
                }
                _partitions[item.Partition] = new PartitionState(item.Partition, item.Resume, item.PartitionToken, _options.BatchRows);
                break;
            case LaneItemKind.Revoked:
                if (_partitions.Remove(item.Partition, out var leaving))
                {
                    await FlushAsync(leaving).ConfigureAwait(false);
                    await WaitForStoreAsync(leaving).ConfigureAwait(false);
                    leaving.Dispose();
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
            // Never reached with healthy decoders; if it is, the message becomes one dead letter instead of stopping the partition.
            decoder.Decode(ReadOnlySpan<byte>.Empty, _topic);
            decoder.Reject(new FlowDecodeError(new SourcePosition(_topic, 0), "ingest: " + e.Message, null));
        }
        Interlocked.Add(ref _metrics.SkippedField, decoder.Skipped);
        var formatName = decoder.Format is { } f ? FlowFormats.Name(f) : "unknown";

        state.InMessage = offset;
        // state.Batch, never a local: a flush swaps in the partition's other batch.
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
                    if (!state.Batch.FitsDeadLetter) await FlushAsync(state).ConfigureAwait(false);
                    if (state.Abandoned) return;
                    state.Batch.AddDeadLetter(DateTime.UtcNow, _topic, state.Partition, position, formatName,
                        $"{formatName}: flow time {start:O} is outside what ClickHouse DateTime stores (1970-2105)", default, 0);
                    continue;
                }
                int day = FlowRowWriter.PartitionKey(decoder.FlowAt(i));
                if (!state.Batch.FitsFlow(day))
                {
                    await FlushAsync(state).ConfigureAwait(false);
                    if (state.Abandoned) return;
                }
                state.Batch.AddFlow(decoder.FlowAt(i), day, formatName, _topic, state.Partition, position, _directions[i].IsReply);
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
                if (!state.Batch.FitsDeadLetter)
                {
                    await FlushAsync(state).ConfigureAwait(false);
                    if (state.Abandoned) return;
                }
                state.Batch.AddDeadLetter(DateTime.UtcNow, _topic, state.Partition, position, formatName, error.Reason, error.Excerpt, error.Position.Line);
            }
        }
        state.Batch.AddPayloadBytes(value.Length);
        state.InMessage = -1;
        state.LastMessage = offset;
        if (state.Batch.Full) await FlushAsync(state).ConfigureAwait(false);
    }

    /// <summary>Flushes batches older than the interval; returns how long until the next one is due.</summary>
    private async Task<TimeSpan> FlushDueAsync()
    {
        long now = Environment.TickCount64;
        long interval = (long)_options.BatchInterval.TotalMilliseconds;
        long next = interval;
        foreach (var state in _partitions.Values)
        {
            if (state.Batch.IsEmpty) continue;
            long due = state.Batch.StartedTicks + interval - now;
            if (due <= 0) await FlushAsync(state).ConfigureAwait(false);
            else next = Math.Min(next, due);
        }
        return TimeSpan.FromMilliseconds(Math.Max(next, 10));
    }

    /// <summary>
    /// Hands the partition's batch to a background store and gives the lane the partition's other batch, so decoding
    /// goes on while ClickHouse takes the INSERT. A partition has at most one store running: its batches land in
    /// offset order, one after the other, which the resume rule needs (<see cref="ResumePoint"/>).
    /// </summary>
    private async Task FlushAsync(PartitionState state)
    {
        if (state.Batch.IsEmpty || state.Abandoned) return;
        await WaitForStoreAsync(state).ConfigureAwait(false);
        if (state.Abandoned) return;
        var batch = state.SwapBatch();
        // A hint only (workers resume from ClickHouse): the first message not wholly in this batch or an earlier one.
        long commitHint = state.InMessage >= 0 ? state.InMessage : state.LastMessage + 1;
        state.Store = Task.Run(() => StoreAsync(state, batch, commitHint));
    }

    /// <summary>Waits for the partition's running store, if any (its batch is then stored or abandoned).</summary>
    private static async Task WaitForStoreAsync(PartitionState state)
    {
        if (state.Store is not { } store) return;
        await store.ConfigureAwait(false);
        state.Store = null;
    }

    /// <summary>
    /// Stores the batch: dead letters first, then flows (see <see cref="ResumePoint"/> for why this order). Retries
    /// until stored or the partition is taken away; then the batch is dropped and the partition ignored until
    /// reassigned, as its next owner resumes from what ClickHouse holds. Runs beside the lane, which only touches
    /// the partition's other batch meanwhile.
    /// </summary>
    private async Task StoreAsync(PartitionState state, PartitionBatch batch, long commitHint)
    {
        long millis = 0;
        try
        {
            if (batch.DeadLetterRows > 0 && !batch.DeadLettersStored)
            {
                millis += await _inserter.InsertAsync(FlowTables.DeadLetters, PartitionBatch.DeadLetterColumns, batch.DeadLetters, _topic, state.Partition,
                    batch.LastDeadLetter!.Value, IngestQueries.DeadLetterTimeFilter(batch.DeadLetterTime), state.Token).ConfigureAwait(false);
                batch.DeadLettersStored = true;
                Interlocked.Add(ref _metrics.DeadLettersField, batch.DeadLetterRows);
            }
            if (batch.FlowRows > 0)
            {
                millis += await _inserter.InsertAsync(FlowTables.Flows, FlowRowWriter.Columns, batch.Flows, _topic, state.Partition,
                    batch.LastFlow!.Value, IngestQueries.FlowsDayFilter(batch.Day), state.Token).ConfigureAwait(false);
                Interlocked.Add(ref _metrics.FlowRowsField, batch.FlowRows);
            }
        }
        catch (OperationCanceledException) when (state.Token.IsCancellationRequested)
        {
            state.Abandoned = true;
            Interlocked.Increment(ref _metrics.AbandonedBatchesField);
            _log.LogWarning("Partition {Partition}: batch {First}..{Last} ({Rows} rows) not stored before the partition was released; its next owner re-reads it",
                state.Partition, batch.First, batch.Last, batch.FlowRows + batch.DeadLetterRows);
            state.ReturnBatch(batch);
            return;
        }
        Interlocked.Increment(ref _metrics.BatchesField);
        _metrics.RecordBatchRows(batch.FlowRows);
        _progress(new ProgressRow(DateTime.UtcNow, state.Partition, batch.First!.Value.Offset, batch.Last!.Value.Offset,
            batch.FlowRows, batch.PayloadBytes, _lagOf(state.Partition), batch.DeadLetterRows, millis));
        _commitHint(state.Partition, commitHint);
        state.ReturnBatch(batch);
    }

    private sealed class PartitionState(int partition, ResumePoint resume, CancellationToken token, int batchRows) : IDisposable
    {
        private PartitionBatch? _spare;

        public int Partition { get; } = partition;
        public ResumePoint Resume { get; } = resume;
        public CancellationToken Token { get; } = token;
        /// <summary>The batch the lane fills.</summary>
        public PartitionBatch Batch { get; private set; } = new(batchRows);
        /// <summary>The store of the previous batch while ClickHouse takes it; null when none runs.</summary>
        public Task? Store { get; set; }
        public long NextOffset { get; set; }
        /// <summary>The message being added (its rows may span a flush), -1 between messages.</summary>
        public long InMessage { get; set; } = -1;
        public long LastMessage { get; set; } = -1;
        /// <summary>Set by a store that gave up (partition released); the lane then drops everything of the partition.</summary>
        public bool Abandoned
        {
            get => Volatile.Read(ref _abandoned);
            set => Volatile.Write(ref _abandoned, value);
        }
        private bool _abandoned;

        /// <summary>Takes the filled batch out for storing and gives the lane the spare one (no store runs: the caller waited).</summary>
        public PartitionBatch SwapBatch()
        {
            var full = Batch;
            Batch = _spare ?? new PartitionBatch(batchRows);
            _spare = null;
            return full;
        }

        /// <summary>Called by the store when it is done with its batch, before its task completes.</summary>
        public void ReturnBatch(PartitionBatch batch)
        {
            batch.Reset();
            _spare = batch;
        }

        public void Dispose()
        {
            Batch.Dispose();
            _spare?.Dispose();
        }
    }
}
