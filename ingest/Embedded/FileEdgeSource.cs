using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Direction;
using FlowPolicy.Ingest.Enrichment;
using FlowPolicy.Ingest.Files;
using FlowPolicy.Ingest.Formats;

namespace FlowPolicy.Ingest.Embedded;

public sealed class FileEdgeSourceOptions
{
    public IReadOnlyList<string> FlowFiles { get; init; } = [];
    public IReadOnlyList<string> InventoryFiles { get; init; } = [];
    /// <summary>Decode every file as this format; null detects it per file.</summary>
    public FlowFormat? Format { get; init; }
    public DateTime? From { get; init; }
    public DateTime? To { get; init; }
    /// <summary>The time of AWS VPC records whose format has no start/end (--time); null takes it from each file's S3 delivery path.</summary>
    public DateTime? RecordTime { get; init; }
    /// <summary>How many decode errors are kept with their positions (all are counted).</summary>
    public int MaxErrorsKept { get; init; } = 10_000;
    /// <summary>Threads that read and aggregate (every core by default); the edges are the same for any number.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>Bytes per chunk a thread takes at a time; smaller only in tests, to split small files among threads.</summary>
    public int ChunkBytes { get; init; } = 1 << 20;
    /// <summary>Endpoints (address, port, protocol) the direction resolver's listener table holds (<see cref="DirectionResolverOptions.MaxTrackedEndpoints"/>).</summary>
    public int MaxTrackedEndpoints { get; init; } = new DirectionResolverOptions().MaxTrackedEndpoints;
    /// <summary>Also keep each edge hour by hour (<see cref="FileEdgeLoad.HourlySeries"/>), for anomaly detection.</summary>
    public bool KeepHours { get; init; }
    /// <summary>
    /// Bytes of decoded records the first pass may keep for the second, so those chunks are decoded once (null: a
    /// quarter of the memory the runtime may use, at most 1 GiB; 0: read every file twice). Chunks are kept from the
    /// first on, as long as they fit; the rest are read again. The edges are the same for any value.
    /// </summary>
    public long? RecordMemoryBytes { get; init; }

    /// <summary><see cref="RecordMemoryBytes"/> as it applies on this machine.</summary>
    public long RecordMemoryBudget => RecordMemoryBytes ?? Math.Min(1L << 30, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4);

    public void Validate()
    {
        if (FlowFiles.Count == 0) throw new ArgumentException("at least one flow file is needed");
        if (Threads < 1) throw new ArgumentException("at least one thread is needed");
        if (ChunkBytes < 1) throw new ArgumentException("chunks need at least one byte");
        if (RecordMemoryBytes < 0) throw new ArgumentException("the memory for records cannot be negative");
        if (From is { } from && To is { } to && to <= from) throw new ArgumentException($"the window is empty: --to {to:O} is not after --from {from:O}");
    }
}

/// <summary>What reading the files found, next to the edges.</summary>
public sealed class FileEdgeLoad
{
    public required List<Edge> Edges { get; init; }
    /// <summary>
    /// With <see cref="FileEdgeSourceOptions.KeepHours"/>: the edges hour by hour, hour 0 being <see cref="SeriesStart"/>;
    /// else empty.
    /// </summary>
    public IReadOnlyList<EdgeHourlySeries> HourlySeries { get; init; } = [];
    /// <summary>The hour <see cref="HourlySeries"/> counts from: --from, else the hour of the first flow read.</summary>
    public DateTime SeriesStart { get; init; }
    public required IReadOnlyList<FlowFileSummary> Files { get; init; }
    /// <summary>Records decoded (before the time window).</summary>
    public long Records { get; init; }
    /// <summary>Records counted into edges (inside the window).</summary>
    public long RecordsInWindow { get; init; }
    public long OutsideWindow { get; init; }
    public long Rejected { get; init; }
    public required IReadOnlyDictionary<string, long> Skipped { get; init; }
    /// <summary>The first <see cref="FileEdgeSourceOptions.MaxErrorsKept"/> decode errors.</summary>
    public required IReadOnlyList<FlowDecodeError> Errors { get; init; }
    public required IReadOnlyList<InventoryError> InventoryErrors { get; init; }
    /// <summary>Addresses the inventory gives to nodes (kubectl nodes JSON, node leases): for policies that must allow egress to them.</summary>
    public IReadOnlyList<PackedIp> NodeAddresses { get; init; } = [];
    /// <summary><see cref="NodeAddresses"/> per node name, for evaluating ipBlocks against <c>node:NAME</c> endpoints.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<PackedIp>> NodeAddressesByName { get; init; } = new Dictionary<string, IReadOnlyList<PackedIp>>();
    /// <summary>Records of the window that were replies, folded into their requests' edges (bytes and packets, no flow).</summary>
    public long RepliesFolded { get; init; }
    /// <summary>L7 observations (Hubble HTTP/gRPC/DNS/Kafka records) counted into edges' L7 facts, and those no edge could take.</summary>
    public long L7Records { get; init; }
    public long L7Unattributed { get; init; }
    /// <summary>DNS answers (name, client, address) read in the first pass to name external peers.</summary>
    public int DnsAnswers { get; init; }
    public long Flipped { get; init; }
    /// <summary>
    /// Namespace labels for namespaceSelectors, from what the data holds: Namespace objects in the inventory files,
    /// and for namespaces they do not list, the labels flow records carried (Hubble). Empty when neither said.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string>>> NamespaceLabels { get; init; } =
        new Dictionary<string, IReadOnlyList<KeyValuePair<string, string>>>(StringComparer.Ordinal);
    /// <summary>Wall and CPU time of each step of the load (first pass, second pass, merge, edges), in order: for FLOWPOLICY_TIMINGS.</summary>
    public IReadOnlyList<LoadPhase> Phases { get; init; } = [];
    /// <summary>Chunks of the files, and how many of them the second pass took from memory instead of decoding them again.</summary>
    public long Chunks { get; init; }
    public long ChunksKept { get; init; }
    /// <summary>About how many bytes the kept chunks took (records, L7 observations, errors).</summary>
    public long RecordBytesKept { get; init; }

    /// <summary>The counts a report explains its flows with.</summary>
    public EdgeInputCounts Counts => new()
    {
        Source = Files.Count == 1 ? "1 flow file" : $"{Files.Count} flow files",
        RecordsRead = Records, OutsideWindow = OutsideWindow, RepliesFolded = RepliesFolded, Rejected = Rejected,
    };
}

/// <summary>One step of a load: its wall time and the CPU time of the whole process over it (every thread).</summary>
public readonly record struct LoadPhase(string Name, TimeSpan Wall, TimeSpan Cpu)
{
    /// <summary>Times the steps of a run one after another: each <see cref="End"/> closes the step begun at the previous one.</summary>
    public sealed class Clock
    {
        private readonly List<LoadPhase> _phases = [];
        private readonly System.Diagnostics.Stopwatch _wall = System.Diagnostics.Stopwatch.StartNew();
        private TimeSpan _cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;

        public IReadOnlyList<LoadPhase> Phases => _phases;

        public void End(string name)
        {
            var cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
            _phases.Add(new LoadPhase(name, _wall.Elapsed, cpu - _cpu));
            _cpu = cpu;
            _wall.Restart();
        }
    }
}

/// <summary>
/// The embedded edge source: flow files -> decode -> enrich (identity as of flow time) -> direction -> in-memory
/// edge aggregate. Two passes: the first only teaches the direction resolver which addresses listen where, so the
/// second orients every record with everything the files say, in any order. The second pass takes the records the
/// first decoded from memory, as far as <see cref="FileEdgeSourceOptions.RecordMemoryBytes"/> allows, and decodes the
/// rest from the files again.
/// </summary>
/// <remarks>
/// Both passes run on <see cref="FileEdgeSourceOptions.Threads"/> threads, a chunk of whole lines at a time
/// (<see cref="ParallelFlowFileReader"/>), and give what one thread reading the files in order gives, byte for byte:
/// <list type="bullet">
/// <item>First pass: threads decode chunks into record buffers and the one listener table observes the buffers in
/// chunk order (whichever thread finishes the next chunk in line applies it and any that queued behind it). Its
/// bounded table and its eviction see the records in file order, as reading on one thread does; merging tables
/// learned per thread would not (eviction depends on order). Enrichment is left out there: observing reads addresses,
/// ports, protocol, flags and hints, never identities. DNS answers (enriched by the thread that decoded them) enter
/// the <see cref="DnsAnswerIndex"/> with their chunk's records, in chunk order too: the index merges overlapping
/// answers, so it is built as one thread builds it, and the second pass only reads it.</item>
/// <item>Second pass: each thread enriches, resolves against the learned table (read-only, <see
/// cref="DirectionResolver.ResolveLearned"/>) and aggregates into an <see cref="EdgeAggregator"/> of its own; the
/// aggregates are merged at the end (sums, minimum and maximum, set unions: any order gives the same edges). Its
/// input is first the chunks the first pass kept (chunks 0 to k - 1, each handed whole to one thread, as the reader
/// would), then the files from chunk k on. Memory is the listener table's bound, the edges per thread and the kept
/// records' budget (fixed, not growing with the input: a larger input is read twice past it).</item>
/// </list>
/// </remarks>
public sealed class FileEdgeSource
{
    private readonly FileEdgeSourceOptions _options;

    public FileEdgeSource(FileEdgeSourceOptions options)
    {
        options.Validate();
        _options = options;
    }

    /// <param name="progress">Called with (bytes read, total bytes over both passes), after every chunk.</param>
    public FileEdgeLoad Load(Action<long, long>? progress = null, CancellationToken cancellationToken = default)
    {
        var clock = new LoadPhase.Clock();
        var inventory = _options.InventoryFiles.Count == 0 ? null : InventoryLoader.Load(_options.InventoryFiles);
        var index = inventory?.Index ?? LeaseIndex.Empty;
        var resolver = new DirectionResolver(new DirectionResolverOptions { MaxTrackedEndpoints = _options.MaxTrackedEndpoints }, index);
        var reader = new ParallelFlowFileReader(new FlowFileReader(_options.Format, _options.RecordTime), _options.Threads, _options.ChunkBytes);
        int threads = _options.Threads;

        long fileBytes = 0;
        foreach (var file in _options.FlowFiles)
        {
            try
            {
                fileBytes += new FileInfo(file).Length;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                // The reader reports it.
            }
        }
        long total = 2 * fileBytes;
        progress?.Invoke(0, total);

        // DNS answers are fed in chunk order beside the listeners (the index merges overlapping answers, so order matters),
        // then only read in the second pass: the same index for any thread count.
        var answers = new DnsAnswerIndex();
        var observer = new OrderedObserver(resolver, answers, threads, _options.RecordMemoryBudget);
        var learning = Enumerable.Range(0, threads).Select(_ => (IChunkedFlowSink)new LearningSink(observer, new FlowEnricher(index))).ToList();
        clock.End("inventory");
        // Pass 1's summaries: pass 2 may not read every file again.
        var files = reader.Read(_options.FlowFiles, learning, done => progress?.Invoke(Math.Min(done, fileBytes), total), cancellationToken);
        clock.End("pass 1: decode, learn listeners");

        var aggregating = Enumerable.Range(0, threads)
            .Select(_ => new AggregatingSink(new FlowEnricher(index), resolver, new EdgeAggregator(_options.From, _options.To, _options.KeepHours), answers, _options.MaxErrorsKept))
            .ToList();
        var kept = observer.Kept;
        long keptFileBytes = Replay(kept, aggregating, threads, done => progress?.Invoke(fileBytes + Math.Min(done, fileBytes), total), cancellationToken);
        if (kept.Count < observer.Chunks)
            reader.Read(_options.FlowFiles, aggregating, done => progress?.Invoke(fileBytes + Math.Min(keptFileBytes + done, fileBytes), total), cancellationToken,
                firstChunk: kept.Count);
        progress?.Invoke(total, total);
        long keptMiB = observer.KeptBytes >> 20;
        clock.End(kept.Count == observer.Chunks ? $"pass 2: enrich, orient, aggregate (every chunk kept from pass 1: {keptMiB} MiB)"
            : $"pass 2: enrich, orient, aggregate ({kept.Count} of {observer.Chunks} chunks kept from pass 1 in {keptMiB} MiB, the rest decoded again)");

        var first = aggregating[0];
        for (int i = 1; i < aggregating.Count; i++) first.MergeFrom(aggregating[i]);
        var aggregator = first.Aggregator;
        clock.End("merge per-thread aggregates");
        var edges = aggregator.ToEdges(threads);
        clock.End("edges: resolve endpoints, sort");
        var seriesStart = _options.From ?? (edges.Count == 0 ? DateTime.UnixEpoch : edges.Min(e => e.FirstSeen));
        seriesStart = new DateTime(seriesStart.Ticks - seriesStart.Ticks % TimeSpan.TicksPerHour, DateTimeKind.Utc);
        return new FileEdgeLoad
        {
            Edges = edges,
            HourlySeries = _options.KeepHours ? aggregator.ToHourlySeries(seriesStart) : [],
            SeriesStart = seriesStart,
            L7Records = aggregator.L7Records,
            L7Unattributed = aggregator.L7Unattributed,
            DnsAnswers = answers.Count,
            Files = files,
            Records = first.Records,
            RecordsInWindow = aggregator.Records,
            OutsideWindow = aggregator.OutsideWindow,
            Rejected = first.Rejected,
            Skipped = first.Skipped,
            Errors = first.Errors,
            InventoryErrors = inventory?.Errors ?? [],
            NodeAddresses = index.NodeAddresses,
            NodeAddressesByName = index.NodeAddressesByName,
            RepliesFolded = aggregator.Replies,
            Flipped = first.Flipped,
            NamespaceLabels = MergeNamespaceLabels(inventory?.NamespaceLabels, aggregator.NamespaceLabels),
            Phases = clock.Phases,
            Chunks = observer.Chunks,
            ChunksKept = kept.Count,
            RecordBytesKept = observer.KeptBytes,
        };
    }

    /// <summary>
    /// The second pass over the chunks the first pass kept: every thread takes the next chunk and hands its records,
    /// L7 observations, errors and skips to its sink as decoding would have (each chunk is freed once handed over).
    /// Returns the file bytes of those chunks.
    /// </summary>
    private static long Replay(List<KeptChunk?> kept, List<AggregatingSink> sinks, int threads, Action<long>? progress, CancellationToken cancellationToken)
    {
        int next = -1;
        long done = 0;
        var gate = new Lock();
        void Work(AggregatingSink sink)
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < kept.Count)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var batch = kept[i]!;
                kept[i] = null;
                batch.ReplayInto(sink, i);
                lock (gate)
                {
                    done += batch.FileBytes;
                    progress?.Invoke(done);
                }
            }
        }
        if (threads == 1 || kept.Count < 2) Work(sinks[0]);
        else Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, i => Work(sinks[i]));
        return done;
    }

    /// <summary>The inventory's Namespace objects, and what the records carried for the namespaces they do not list.</summary>
    internal static IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string>>> MergeNamespaceLabels(
        IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string>>>? inventory,
        IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string>>> carried)
    {
        var merged = new Dictionary<string, IReadOnlyList<KeyValuePair<string, string>>>(carried, StringComparer.Ordinal);
        if (inventory is not null)
            foreach (var (ns, labels) in inventory) merged[ns] = labels;
        return merged;
    }

    /// <summary>
    /// The first pass's listener learning in file order: chunks' records are observed in chunk order, by whichever
    /// thread hands in the chunk next in line (then also any queued behind it). A thread that runs too far ahead waits,
    /// so buffered records stay a few chunks per thread. The chunks' DNS answers enter the index in the same order.
    /// Observed chunks are kept for the second pass while they fit the memory budget, from the first on (so the kept
    /// ones are chunks 0 to <see cref="Kept"/>.Count - 1 and the second pass reads the files from the next one).
    /// </summary>
    private sealed class OrderedObserver(DirectionResolver resolver, DnsAnswerIndex answers, int threads, long memoryBudget)
    {
        private readonly object _gate = new();
        private readonly Dictionary<long, ChunkBatch> _pending = new();
        private readonly Stack<ChunkBatch> _free = new();
        private readonly int _ahead = 4 * threads;
        private long _next;
        private bool _draining;
        private volatile bool _keeping = memoryBudget > 0;
        private long _keptBytes;
        // Listeners are learned only for records whose direction needs them (DirectionResolver.ConsultsLearned: no
        // request/reply hint). While every chunk so far is kept and has none, observing waits: Kept[.._observedKept]
        // are observed; the first chunk that needs learning or is not kept observes the waiting ones first, in order.
        // Hubble (is_reply) and agent JSON (direction) usually never need it: pass 1 then learns nothing.
        private bool _deferring = memoryBudget > 0;
        private int _observedKept;

        /// <summary>The chunks kept, in chunk order; read once the first pass ended.</summary>
        public List<KeptChunk?> Kept { get; } = new();

        /// <summary>Chunks observed: all of them, once the first pass ended.</summary>
        public long Chunks => _next;

        public long KeptBytes => _keptBytes;

        /// <summary>False once a chunk did not fit: no later one is kept, so decoding threads need not pack theirs.</summary>
        public bool Keeping => _keeping;

        public ChunkBatch Rent()
        {
            lock (_gate) return _free.Count > 0 ? _free.Pop() : new ChunkBatch();
        }

        public void Submit(long sequence, ChunkBatch records)
        {
            lock (_gate)
            {
                while (sequence - _next >= _ahead) Monitor.Wait(_gate);
                _pending.Add(sequence, records);
                if (_draining) return;
                _draining = true;
            }
            while (true)
            {
                ChunkBatch? batch;
                lock (_gate)
                {
                    if (!_pending.Remove(_next, out batch))
                    {
                        _draining = false;
                        return;
                    }
                }
                // Only the draining thread gets here, one chunk at a time in order.
                foreach (var a in batch.Answers) answers.Add(a.Client, a.ClientAddress, a.Name, a.Addresses, a.At, a.Ttl);
                bool kept = false;
                if (_keeping)
                {
                    var chunk = batch.Packed is { } packed ? batch.Keep(packed) : null;
                    if (chunk is not null && chunk.Bytes <= memoryBudget - _keptBytes)
                    {
                        _keptBytes += chunk.Bytes;
                        Kept.Add(chunk);
                        kept = true;
                    }
                    else _keeping = false;
                }
                if (_deferring && (!kept || batch.NeedsLearning))
                {
                    _deferring = false;
                    int waiting = kept ? Kept.Count - 1 : Kept.Count;
                    for (; _observedKept < waiting; _observedKept++) Kept[_observedKept]!.Observe(resolver);
                }
                if (!_deferring) resolver.Observe(CollectionsMarshal.AsSpan(batch.Records));
                batch.Clear();
                lock (_gate)
                {
                    _next++;
                    _free.Push(batch);
                    Monitor.PulseAll(_gate);
                }
            }
        }
    }

    /// <summary>
    /// One chunk as the first pass decoded it, reused from chunk to chunk: its records and DNS answers for the
    /// <see cref="OrderedObserver"/>, and while chunks are being kept, the records packed and the rest of what it held
    /// (L7 observations, errors, skips) for the second pass.
    /// </summary>
    private sealed class ChunkBatch
    {
        public readonly List<FlowRecord> Records = new(8192);
        public readonly List<DnsAnswer> Answers = new();
        public List<(L7Observation Observation, SourcePosition Position)> L7 = new();
        public List<FlowDecodeError> Errors = new();
        public List<(string Reason, SourcePosition Position)> Skips = new();
        public long FileBytes;
        /// <summary>The records packed by the thread that decoded them (while the observer is keeping chunks).</summary>
        public KeptRecords? Packed;
        /// <summary>Some record's direction depends on learned listeners (<see cref="DirectionResolver.ConsultsLearned"/>).</summary>
        public bool NeedsLearning;

        /// <summary>What the second pass needs of this chunk; the lists it takes are replaced by new ones here.</summary>
        public KeptChunk Keep(KeptRecords packed) => new(packed, Take(ref L7), Take(ref Errors), Take(ref Skips), FileBytes);

        private static List<T>? Take<T>(ref List<T> list)
        {
            if (list.Count == 0) return null;
            var taken = list;
            list = new List<T>();
            return taken;
        }

        public void Clear()
        {
            Records.Clear();
            Answers.Clear();
            L7.Clear();
            Errors.Clear();
            Skips.Clear();
            FileBytes = 0;
            Packed = null;
            NeedsLearning = false;
        }
    }

    /// <summary>A chunk the first pass kept for the second: everything its decoding handed to the sink.</summary>
    private sealed class KeptChunk(KeptRecords records, List<(L7Observation Observation, SourcePosition Position)>? l7, List<FlowDecodeError>? errors,
        List<(string Reason, SourcePosition Position)>? skips, long fileBytes)
    {
        public long FileBytes => fileBytes;

        /// <summary>Teaches <paramref name="resolver"/> this chunk's records, as the first pass would have.</summary>
        public void Observe(DirectionResolver resolver)
        {
            for (int i = 0; i < records.Count; i++)
            {
                records.Read(i, out var record);
                resolver.Observe(in record);
            }
        }

        /// <summary>About the bytes held (records, L7 observations, errors at ~200 bytes with their text, skips).</summary>
        public long Bytes { get; } = records.Bytes + (long)(l7?.Count ?? 0) * Unsafe.SizeOf<(L7Observation, SourcePosition)>()
            + 256L * (errors?.Count ?? 0) + 32L * (skips?.Count ?? 0) + 128;

        /// <summary>Hands the chunk to a second-pass sink. Records, L7 observations, errors and skips each keep their order
        /// (the sink's results do not depend on how the four interleave: counts, sets, and errors and skips by position).</summary>
        public void ReplayInto(AggregatingSink sink, long sequence)
        {
            sink.BeginChunk(sequence);
            for (int i = 0; i < records.Count; i++)
            {
                records.Read(i, out var record);
                sink.Accept(in record);
            }
            if (l7 is not null)
                foreach (ref readonly var o in CollectionsMarshal.AsSpan(l7)) sink.AcceptL7(in o.Observation, o.Position);
            if (errors is not null)
                foreach (var error in errors) sink.Reject(error);
            if (skips is not null)
                foreach (var (reason, position) in skips) sink.Skip(reason, position);
            sink.EndChunk(sequence, fileBytes);
        }
    }

    private readonly record struct DnsAnswer(WorkloadIdentity? Client, PackedIp ClientAddress, string Name, PackedIp[] Addresses, DateTime At, uint Ttl);

    /// <summary>First pass: buffers each chunk's records, DNS answers and the rest for the <see cref="OrderedObserver"/>.</summary>
    private sealed class LearningSink(OrderedObserver observer, FlowEnricher enricher) : IChunkedFlowSink
    {
        private readonly Dictionary<object, int> _objects = new(ReferenceEqualityComparer.Instance);
        private ChunkBatch? _batch;

        public void BeginChunk(long sequence) => _batch = observer.Rent();

        /// <summary>Packs the records here, on every thread, rather than in the observer's one line.</summary>
        public void EndChunk(long sequence, long fileBytes)
        {
            _batch!.FileBytes = fileBytes;
            if (observer.Keeping) _batch.Packed = KeptRecords.From(CollectionsMarshal.AsSpan(_batch.Records), _objects);
            observer.Submit(sequence, _batch);
            _batch = null;
        }

        public void Accept(in FlowRecord flow)
        {
            _batch!.Records.Add(flow);
            if (!_batch.NeedsLearning && DirectionResolver.ConsultsLearned(flow)) _batch.NeedsLearning = true;
        }

        /// <summary>DNS answers: the response goes server -> client, so the client is its destination.</summary>
        public void AcceptL7(in L7Observation observation, SourcePosition position)
        {
            // Only a chunk that may be kept needs them (once the observer stops keeping, it never starts again).
            if (observer.Keeping) _batch!.L7.Add((observation, position));
            if (observation is not { Protocol: L7Protocol.Dns, Direction: L7Direction.Response, Status: 0, Resource: { } name, Addresses: { Length: > 0 } addresses })
                return;
            var flow = observation.AsFlow();
            if (observation.HasIp) enricher.Enrich(ref flow);
            _batch!.Answers.Add(new DnsAnswer(flow.DstIdentity, flow.DstIp, name, addresses, flow.Start, observation.Ttl));
        }

        public void Reject(FlowDecodeError error)
        {
            if (observer.Keeping) _batch!.Errors.Add(error);
        }

        public void Skip(string reason, SourcePosition position)
        {
            if (observer.Keeping) _batch!.Skips.Add((reason, position));
        }
    }

    /// <summary>Second pass of one thread: enrich, orient from the learned listeners, aggregate; counts and errors with their chunk.</summary>
    private sealed class AggregatingSink(FlowEnricher enricher, DirectionResolver resolver, EdgeAggregator aggregator, DnsAnswerIndex answers, int maxErrors) : IChunkedFlowSink
    {
        // Skip reasons in the order one thread reading in order first meets them: by (chunk, count-in-chunk) of the first.
        private readonly Dictionary<string, (long Count, long FirstChunk, long FirstLine)> _skipped = new(StringComparer.Ordinal);
        private readonly List<(long Chunk, FlowDecodeError Error)> _errors = new();
        private long _chunk;

        public const string UnjoinableL7 = "hubble: L7 record without IP or without both endpoint identities";

        public EdgeAggregator Aggregator => aggregator;
        public long Records;
        public long Rejected;
        public long Flipped;

        public IReadOnlyDictionary<string, long> Skipped =>
            _skipped.OrderBy(p => p.Value.FirstChunk).ThenBy(p => p.Value.FirstLine).ToDictionary(p => p.Key, p => p.Value.Count, StringComparer.Ordinal);

        public IReadOnlyList<FlowDecodeError> Errors => _errors.Select(e => e.Error).ToList();

        public void BeginChunk(long sequence) => _chunk = sequence;
        public void EndChunk(long sequence, long fileBytes) { }

        public void Accept(in FlowRecord flow)
        {
            Records++;
            var copy = flow;
            enricher.Enrich(ref copy);
            var direction = resolver.ResolveLearned(ref copy);
            if (direction.Flipped) Flipped++;
            aggregator.Add(copy, direction.IsReply);
            // A connection to an external address the client had resolved: the edge learns the name.
            if (!answers.IsEmpty && !direction.IsReply && copy.DstIdentity is null or { Kind: EndpointKind.External } && !copy.DstIp.IsPrivate)
            {
                var names = answers.NamesFor(copy.SrcIdentity, copy.SrcIp, copy.DstIp, copy.Start);
                if (names.Count > 0) aggregator.AddNames(copy, names);
            }
        }

        /// <summary>
        /// An L7 observation: oriented by its own request/response type (a response's source is the server), enriched
        /// by address when it has one, else joined by the identities it carries. docs/l7.md.
        /// </summary>
        public void AcceptL7(in L7Observation observation, SourcePosition position)
        {
            if (!observation.HasIp && (observation.SrcIdentity is null || observation.DstIdentity is null))
            {
                // Neither addresses nor both identities: nothing to join it to.
                Skip(UnjoinableL7, position);
                return;
            }
            if (!observation.CarriesFlow) Records++;
            var flow = observation.AsFlow();
            if (observation.HasIp) enricher.Enrich(ref flow);
            if (observation.Protocol is not (L7Protocol.Names or L7Protocol.None))
            {
                var oriented = flow;
                if (observation.Direction == L7Direction.Response) oriented.Flip();
                aggregator.AddL7(oriented, observation);
            }
            if (observation.Names is { } names)
            {
                // Names belong to the external side; the other side is the client that resolved them.
                var named = flow;
                if (observation.NamedIsSource) named.Flip();
                aggregator.AddNames(named, names);
            }
        }

        public void Reject(FlowDecodeError error)
        {
            Rejected++;
            // Each thread's chunks come in increasing order, so its first maxErrors hold every one of the first
            // maxErrors overall that it saw.
            if (_errors.Count < maxErrors) _errors.Add((_chunk, error));
        }

        public void Skip(string reason, SourcePosition position)
        {
            ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_skipped, reason, out bool exists);
            if (!exists) slot = (0, _chunk, position.Line);
            slot.Count++;
        }

        /// <summary>Folds another thread's results in: edges, counts, the earliest errors in file order.</summary>
        public void MergeFrom(AggregatingSink other)
        {
            aggregator.MergeFrom(other.Aggregator);
            Records += other.Records;
            Rejected += other.Rejected;
            Flipped += other.Flipped;
            foreach (var (reason, theirs) in other._skipped)
            {
                ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_skipped, reason, out bool exists);
                if (!exists) slot = theirs;
                else if ((theirs.FirstChunk, theirs.FirstLine).CompareTo((slot.FirstChunk, slot.FirstLine)) < 0) slot = (slot.Count + theirs.Count, theirs.FirstChunk, theirs.FirstLine);
                else slot.Count += theirs.Count;
            }
            _errors.AddRange(other._errors);
            // Stable: one chunk's errors stay in line order.
            var ordered = _errors.OrderBy(e => e.Chunk).Take(maxErrors).ToList();
            _errors.Clear();
            _errors.AddRange(ordered);
        }
    }
}
