using FlowPolicy.Core.Flows;

namespace FlowPolicy.Ingest.Enrichment.Internal;

/// <summary>One <see cref="WorkloadIdentity"/> instance per distinct identity, so a million flows share a few objects.</summary>
internal sealed class IdentityInterner
{
    private readonly Dictionary<WorkloadIdentity, WorkloadIdentity> _identities = new();
    private readonly Dictionary<string, string> _strings = new(StringComparer.Ordinal);

    public int Count => _identities.Count;

    public WorkloadIdentity Intern(WorkloadIdentity identity)
    {
        if (_identities.TryGetValue(identity, out var existing)) return existing;
        _identities.Add(identity, identity);
        return identity;
    }

    /// <summary>Label keys/values and names repeat across thousands of pods; keep one copy of each.</summary>
    public string? String(string? value)
    {
        if (value is null) return null;
        if (_strings.TryGetValue(value, out var existing)) return existing;
        _strings.Add(value, value);
        return value;
    }
}
