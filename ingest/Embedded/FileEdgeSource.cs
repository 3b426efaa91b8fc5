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

    public void Validate()
    {
        if (FlowFiles.Count == 0) throw new ArgumentException("at least one flow file is needed");
        if (From is { } from && To is { } to && to <= from) throw new ArgumentException($"the window is empty: --to {to:O} is not after --from {from:O}");
    }
}

/// <summary>What reading the files found, next to the edges.</summary>
public sealed class FileEdgeLoad
{
    public required List<Edge> Edges { get; init; }
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
}

/// <summary>
/// The embedded edge source: flow files -> decode -> enrich (identity as of flow time) -> direction -> in-memory
/// edge aggregate. Reads the files twice: the first pass only teaches the direction resolver which addresses
/// listen where, so the second pass orients every record with everything the files say, in any order.
/// </summary>
public sealed class FileEdgeSource
{
    private readonly FileEdgeSourceOptions _options;

    public FileEdgeSource(FileEdgeSourceOptions options)
    {
        options.Validate();
        _options = options;
    }

    /// <param name="progress">Called with (bytes read, total bytes over both passes).</param>
    public FileEdgeLoad Load(Action<long, long>? progress = null, CancellationToken cancellationToken = default)
    {
        var inventory = _options.InventoryFiles.Count == 0 ? null : InventoryLoader.Load(_options.InventoryFiles);
        var index = inventory?.Index ?? LeaseIndex.Empty;
        var enricher = new FlowEnricher(index);
        var resolver = new DirectionResolver(servedPorts: index);
        var reader = new FlowFileReader(_options.Format, _options.RecordTime);

        long total = 2 * _options.FlowFiles.Sum(f => new FileInfo(f).Length);
        long done = 0;

        var answers = new DnsAnswerIndex();
        var learning = new LearningSink(enricher, resolver, answers);
        foreach (var file in _options.FlowFiles)
        {
            var summary = reader.Read(file, learning, cancellationToken);
            done += summary.Bytes;
            progress?.Invoke(done, total);
        }

        var aggregator = new EdgeAggregator(_options.From, _options.To);
        var aggregating = new AggregatingSink(enricher, resolver, aggregator, answers, _options.MaxErrorsKept);
        var files = new List<FlowFileSummary>(_options.FlowFiles.Count);
        foreach (var file in _options.FlowFiles)
        {
            var summary = reader.Read(file, aggregating, cancellationToken);
            files.Add(summary);
            done += summary.Bytes;
            progress?.Invoke(done, total);
        }

        var edges = aggregator.ToEdges();
        return new FileEdgeLoad
        {
            Edges = edges,
            L7Records = aggregator.L7Records,
            L7Unattributed = aggregator.L7Unattributed,
            DnsAnswers = answers.Count,
            Files = files,
            Records = aggregating.Records,
            RecordsInWindow = aggregator.Records,
            OutsideWindow = aggregator.OutsideWindow,
            Rejected = aggregating.Rejected,
            Skipped = aggregating.Skipped,
            Errors = aggregating.Errors,
            InventoryErrors = inventory?.Errors ?? [],
            NodeAddresses = index.NodeAddresses,
            NodeAddressesByName = index.NodeAddressesByName,
            RepliesFolded = aggregating.Replies,
            Flipped = aggregating.Flipped,
            NamespaceLabels = MergeNamespaceLabels(inventory?.NamespaceLabels, aggregator.NamespaceLabels),
        };
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

    /// <summary>First pass: enrich and let the resolver learn listeners; errors are counted in the second pass.</summary>
    private sealed class LearningSink(FlowEnricher enricher, DirectionResolver resolver, DnsAnswerIndex answers) : IFlowSink
    {
        public void Accept(in FlowRecord flow)
        {
            var copy = flow;
            enricher.Enrich(ref copy);
            resolver.Observe(copy);
        }

        /// <summary>DNS answers: the response goes server -> client, so the client is its destination.</summary>
        public void AcceptL7(in L7Observation observation, SourcePosition position)
        {
            if (observation is not { Protocol: L7Protocol.Dns, Direction: L7Direction.Response, Status: 0, Resource: { } name, Addresses: { Length: > 0 } addresses })
                return;
            var flow = observation.AsFlow();
            if (observation.HasIp) enricher.Enrich(ref flow);
            answers.Add(flow.DstIdentity, flow.DstIp, name, addresses, flow.Start, observation.Ttl);
        }

        public void Reject(FlowDecodeError error) { }
        public void Skip(string reason, SourcePosition position) { }
    }

    private sealed class AggregatingSink(FlowEnricher enricher, DirectionResolver resolver, EdgeAggregator aggregator, DnsAnswerIndex answers, int maxErrors) : IFlowSink
    {
        private readonly Dictionary<string, long> _skipped = new(StringComparer.Ordinal);
        private readonly List<FlowDecodeError> _errors = new();

        public const string UnjoinableL7 = "hubble: L7 record without IP or without both endpoint identities";

        public long Records;
        public long Rejected;
        public long Replies;
        public long Flipped;
        public IReadOnlyDictionary<string, long> Skipped => _skipped;
        public IReadOnlyList<FlowDecodeError> Errors => _errors;

        public void Accept(in FlowRecord flow)
        {
            Records++;
            var copy = flow;
            enricher.Enrich(ref copy);
            var direction = resolver.Resolve(ref copy);
            if (direction.IsReply) Replies++;
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
            if (_errors.Count < maxErrors) _errors.Add(error);
        }

        public void Skip(string reason, SourcePosition position)
        {
            _skipped.TryGetValue(reason, out long n);
            _skipped[reason] = n + 1;
        }
    }
}
