using FlowPolicy.Analytics.Baseline;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Suggest.Inference;

/// <summary>The observations behind a rule, merged over the edges it covers.</summary>
public sealed class RuleEvidence
{
    public long Flows { get; init; }
    public ulong Bytes { get; init; }
    public DateTime FirstSeen { get; init; }
    public DateTime LastSeen { get; init; }
    public int DaysSeen { get; init; }
    /// <summary>Distinct client replicas, summed over the covered edges (distinct per edge).</summary>
    public int ClientReplicas { get; init; }
    /// <summary>Observed edges (client endpoint, server endpoint) the rule covers.</summary>
    public int Edges { get; init; }
    /// <summary>Distinct client or server addresses folded into a generalised network rule.</summary>
    public int Addresses { get; init; }
    public long DeniedFlows { get; init; }
}

/// <summary>
/// One allow rule: clients matching <see cref="Client"/> may connect to servers matching <see cref="Server"/> on
/// <see cref="Port"/>/<see cref="Protocol"/>. The format-neutral unit every emitter translates.
/// </summary>
public sealed class SuggestedRule
{
    public required string Id { get; init; }
    public required Peer Client { get; init; }
    public required Peer Server { get; init; }
    public required ushort Port { get; init; }
    public required byte Protocol { get; init; }
    public required RuleEvidence Evidence { get; init; }
    public required Periodicity Periodicity { get; init; }
    public required RuleConfidence Confidence { get; init; }
    /// <summary>"high", "medium" or "low": <see cref="Confidence"/> as documented in suggestions.json and the evidence comments.</summary>
    public string ConfidenceName => Confidence.Name();
    public required string ConfidenceReason { get; init; }
    public required RuleFlags FlagSet { get; init; }
    /// <summary>
    /// <see cref="FlagSet"/> as the documented texts a reviewer reads: "periodic", "startup-only", "rare", "generalised",
    /// "node-probe", "scheduled-job".
    /// </summary>
    public required IReadOnlyList<string> Flags { get; init; }
    /// <summary>For generalised rules: what was widened and how much address space it adds.</summary>
    public string? Generalisation { get; init; }
    /// <summary>The observed edges behind the rule, in <c>EdgeOrder</c>.</summary>
    public required IReadOnlyList<Edge> Edges { get; init; }

    public string ProtocolName => IpProtocols.Name(Protocol);

    public bool Allows(Endpoint client, Endpoint server, ushort port, byte protocol) =>
        protocol == Protocol && (!IpProtocols.HasPorts(Protocol) || port == Port) && Client.Matches(client) && Server.Matches(server);

    public override string ToString() => $"{Client.Key} -> {Server.Key}:{Port}/{ProtocolName}";
}

/// <summary>An observed edge kept out of the rules, and why.</summary>
public sealed record LeftOutEdge(Edge Edge, LeaveOutReason Reason, string Detail)
{
    /// <summary>The documented text of <see cref="Reason"/> (suggestions.json <c>left_out[].reason</c>).</summary>
    public string ReasonName => Reason.Name();
}

/// <summary>Everything inference found: the rules, what was left out, and what to be careful about.</summary>
public sealed class SuggestionSet
{
    public required DateTime WindowStart { get; init; }
    public required DateTime WindowEnd { get; init; }
    public required IReadOnlyList<SuggestedRule> Rules { get; init; }
    public required IReadOnlyList<LeftOutEdge> LeftOut { get; init; }
    public required IReadOnlyList<WorkloadGroups> Groups { get; init; }
    public required IReadOnlyList<string> Warnings { get; init; }
    /// <summary>Namespaces that get a default deny: every namespace with an observed workload.</summary>
    public required IReadOnlyList<string> Namespaces { get; init; }
    /// <summary>Workloads that get policies (client or server of a rule, or seen in a namespace), by key.</summary>
    public required IReadOnlyList<Peer> Workloads { get; init; }
    public int InputEdges { get; init; }

    public double WindowDays => (WindowEnd - WindowStart).TotalDays;

    private RuleIndex? _index;

    /// <summary>Rules by server and by client key, workloads by namespace: built once, for emitters that walk every workload.</summary>
    internal RuleIndex Index => _index ??= new RuleIndex(this);

    /// <summary>The neutral decision: does any rule allow this connection?</summary>
    public bool Allows(Endpoint client, Endpoint server, ushort port, byte protocol)
    {
        foreach (var rule in Rules)
            if (rule.Allows(client, server, port, protocol)) return true;
        return false;
    }
}

/// <summary>
/// Lookups over a <see cref="SuggestionSet"/> (which is immutable once built), each list in the set's order, so a
/// walk over every workload costs the workload's own rules instead of every rule.
/// </summary>
internal sealed class RuleIndex
{
    private readonly ILookup<string, SuggestedRule> _byServer;
    private readonly ILookup<string, SuggestedRule> _byClient;
    private readonly ILookup<string?, Peer> _workloadsByNamespace;

    public RuleIndex(SuggestionSet set)
    {
        _byServer = set.Rules.ToLookup(r => r.Server.Key, StringComparer.Ordinal);
        _byClient = set.Rules.ToLookup(r => r.Client.Key, StringComparer.Ordinal);
        _workloadsByNamespace = set.Workloads.ToLookup(w => w.Namespace);
    }

    /// <summary>Rules whose server is <paramref name="key"/>, in rule order.</summary>
    public IEnumerable<SuggestedRule> ToServer(string key) => _byServer[key];

    /// <summary>Rules whose client is <paramref name="key"/>, in rule order.</summary>
    public IEnumerable<SuggestedRule> FromClient(string key) => _byClient[key];

    /// <summary>Workloads of a namespace, in workload order.</summary>
    public IEnumerable<Peer> WorkloadsIn(string? ns) => _workloadsByNamespace[ns];
}
