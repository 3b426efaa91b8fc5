using FlowPolicy.Analytics.Intent;
using FlowPolicy.Core.Edges;

namespace FlowPolicy.Analytics.Slis;

/// <summary>Which way an observed verdict disagrees with the intended policy.</summary>
public enum MismatchKind : byte
{
    /// <summary>The network allowed flows the intent denies: enforcing the intent would break them (outage risk).</summary>
    ObservedAllowedIntentDenies = 1,
    /// <summary>The network denied flows the intent allows: enforcement is stricter than intended (already failing).</summary>
    ObservedDeniedIntentAllows = 2,
}

/// <summary>One edge whose observed verdicts disagree with the intent; <see cref="Flows"/> counts the disagreeing flows.</summary>
public sealed record VerdictMismatch(Edge Edge, IntentDecision Intent, MismatchKind Kind, long Flows);

/// <summary>SLIs of one destination service (the server endpoint of edges).</summary>
public sealed class ServiceSli
{
    public required string Service { get; init; }
    public long Flows { get; set; }
    public ulong Bytes { get; set; }
    public long FlowsAllowedByIntent { get; set; }
    public ulong BytesAllowedByIntent { get; set; }
    public long DeniedFlows { get; set; }
    public double DeniedFlowsPerMinute { get; set; }
    public int UnintendedEdges { get; set; }
    public int VerdictMismatches { get; set; }
    /// <summary>Share of flows the intent allows; null when the service had no request flows.</summary>
    public double? ComplianceRate => Rate(FlowsAllowedByIntent, Flows);
    public double? BytesComplianceRate => Bytes == 0 ? null : (double)BytesAllowedByIntent / Bytes;

    internal static double? Rate(long part, long total) => total == 0 ? null : (double)part / total;
}

/// <summary>Everything `analyze` computes for a window (written as slis.json and to the SLI tables).</summary>
public sealed class SliReport
{
    public required AnalysisWindow Window { get; init; }
    public required ServiceSli Overall { get; init; }
    /// <summary>Per destination service: named server endpoints (workloads, nodes, services, named networks); bare addresses are left out so internet egress cannot explode the list.</summary>
    public required SortedDictionary<string, ServiceSli> PerService { get; init; }
    public required IReadOnlyList<AssessedEdge> UnintendedEdges { get; init; }
    public required IReadOnlyList<IntentRule> StaleRules { get; init; }
    public required IReadOnlyList<VerdictMismatch> VerdictMismatches { get; init; }
    public required SortedDictionary<string, BlastRadiusCount> BlastRadius { get; init; }
    public required IReadOnlyList<AssessedEdge> Edges { get; init; }
    /// <summary>SLIs per L7 operation, where the edges carry L7 facts (Hubble L7 records); empty otherwise.</summary>
    public IReadOnlyList<L7OperationSli> L7Operations { get; init; } = [];
}
