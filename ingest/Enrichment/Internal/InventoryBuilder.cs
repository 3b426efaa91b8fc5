using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Ingest.Enrichment.Internal;

/// <summary>Collects leases (with interned identities) and errors while files are parsed, then builds the index.</summary>
internal sealed class InventoryBuilder
{
    private readonly List<Lease> _leases = new();
    private readonly List<InventoryError> _errors = new();
    private readonly Dictionary<string, ServedPort[]> _portSets = new(StringComparer.Ordinal);

    public IdentityInterner Interner { get; } = new();
    public int SkippedItems { get; set; }
    public int FileCount { get; set; }
    public IReadOnlyList<Lease> Leases => _leases;
    public IReadOnlyList<InventoryError> Errors => _errors;
    /// <summary>Namespace objects' labels by name; a later file's object replaces an earlier one.</summary>
    public Dictionary<string, IReadOnlyList<KeyValuePair<string, string>>> NamespaceLabels { get; } = new(StringComparer.Ordinal);

    /// <summary>Past this many errors in one file the rest are counted, not listed (a wrong file type gives one per line).</summary>
    public const int MaxErrorsPerFile = 50;
    private string? _errorSource;
    private int _errorsInSource;
    private int _suppressedInSource;

    public void Error(string source, long line, int item, string reason)
    {
        if (_errorSource != source)
        {
            FlushSuppressed();
            _errorSource = source;
            _errorsInSource = 0;
        }
        if (++_errorsInSource > MaxErrorsPerFile)
        {
            _suppressedInSource++;
            return;
        }
        _errors.Add(new InventoryError(source, line, item, reason));
    }

    private void FlushSuppressed()
    {
        if (_suppressedInSource > 0 && _errorSource is not null)
            _errors.Add(new InventoryError(_errorSource, 0, InventoryError.NoItem, $"{_suppressedInSource} more errors not listed"));
        _suppressedInSource = 0;
    }

    public void Add(IpPrefix prefix, DateTime from, DateTime to, WorkloadIdentity identity,
        ServedPort[] ports, string origin) =>
        _leases.Add(new Lease(prefix, from, to, Interner.Intern(identity), InternPorts(ports), origin));

    private ServedPort[] InternPorts(ServedPort[] ports)
    {
        if (ports.Length == 0) return [];
        var key = string.Join(",", ports.Select(p => $"{p.Port}/{p.Protocol}/{p.Name}"));
        if (_portSets.TryGetValue(key, out var existing)) return existing;
        _portSets[key] = ports;
        return ports;
    }

    public InventoryLoadResult Build()
    {
        FlushSuppressed();
        _errorSource = null;
        return new InventoryLoadResult(LeaseIndex.Build(_leases, Interner.Count), _errors.ToArray(), FileCount, SkippedItems, NamespaceLabels);
    }
}
