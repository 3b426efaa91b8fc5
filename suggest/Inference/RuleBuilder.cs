using System.Globalization;
using System.Runtime.CompilerServices;
using FlowPolicy.Analytics.Baseline;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Suggest.Inference;

/// <summary>A rule's evidence and classification before its objects are made.</summary>
internal struct RuleSummary
{
    public long Flows;
    public ulong Bytes;
    public DateTime FirstSeen;
    public DateTime LastSeen;
    public int DaysSeen;
    public int ClientReplicas;
    public int Addresses;
    public long DeniedFlows;
    public Periodicity Periodicity;
    public RuleConfidence Confidence;
    public string ConfidenceReason;
    public RuleFlags Flags;
}

/// <summary>
/// Drafts -> rules. Holds the scratch space one rule needs (hour histogram, distinct sets) and makes the texts
/// that repeat across rules (periodicity notes, flag lists) once per distinct value.
/// </summary>
internal sealed class RuleBuilder(PeriodicityClassifier periodicity, IReadOnlySet<string> longLived)
{
    private static readonly IComparer<Edge> EdgeComparer = Comparer<Edge>.Create(EdgeOrder.Compare);
    private readonly long[] _hours = new long[Edge.HoursPerWeek];
    private readonly List<DateOnly> _days = [];
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);

    /// <summary>Everything a rule needs from its edges (which it sorts into <c>EdgeOrder</c>), without making objects.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Summarise(Draft draft, ref RuleSummary summary)
    {
        var edges = draft.Edges;
        if (edges.Length > 1) Array.Sort(edges, EdgeComparer);
        Array.Clear(_hours);
        long flows = 0, denied = 0;
        ulong bytes = 0;
        int replicas = 0;
        var firstSeen = edges[0].FirstSeen;
        var lastSeen = edges[0].LastSeen;
        bool clientAlwaysUp = false, scheduledJob = false;
        foreach (var e in edges)
        {
            e.HourOfWeek.AddTo(_hours);
            flows = checked(flows + e.Flows);
            bytes = checked(bytes + e.Bytes);
            replicas = checked(replicas + e.ClientReplicas);
            denied = checked(denied + e.DeniedFlows);
            if (e.FirstSeen < firstSeen) firstSeen = e.FirstSeen;
            if (e.LastSeen > lastSeen) lastSeen = e.LastSeen;
            clientAlwaysUp = clientAlwaysUp || longLived.Contains(e.Client.Key);
            scheduledJob = scheduledJob || ControllerKinds.IsScheduledJob(e.Client);
        }
        bool byServer = draft.Client.IsWorkload || draft.Client.Kind == PeerKind.Nodes;
        summary.Flows = flows;
        summary.Bytes = bytes;
        summary.FirstSeen = firstSeen;
        summary.LastSeen = lastSeen;
        var days = DistinctDays(edges);
        summary.DaysSeen = days.Count;
        summary.ClientReplicas = replicas;
        summary.Addresses = edges.Length == 1 ? 1 : DistinctKeys(edges, byServer);
        summary.DeniedFlows = denied;
        // Hand-made edges may not list their days: the classifier then counts their first to last day.
        var pattern = periodicity.Classify(days.Count == 0 && edges.Length == 1 ? PeriodicityClassifier.DaysOf(edges[0]) : days, flows, replicas, _hours, clientAlwaysUp);
        // Kept without a period: a CronJob/Job client says its runs are scheduled; anyone else is rare, to confirm.
        bool withoutPeriod = pattern.Pattern is PeriodicityPattern.SeenOnce or PeriodicityPattern.Rare;
        var flags = (pattern.PeriodDays is not null ? RuleFlags.Periodic : 0)
            | (pattern.Pattern == PeriodicityPattern.StartupOnly ? RuleFlags.StartupOnly : 0)
            | (withoutPeriod && !scheduledJob ? RuleFlags.Rare : 0)
            | (withoutPeriod && scheduledJob ? RuleFlags.ScheduledJob : 0)
            | (draft.Generalisation is not null ? RuleFlags.Generalised : 0)
            | (draft.Client.Kind == PeerKind.Nodes ? RuleFlags.NodeProbe : 0);
        (summary.Confidence, summary.ConfidenceReason) = RuleConfidences.Judge(pattern, flows, scheduledJob);
        summary.Periodicity = pattern;
        summary.Flags = flags;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static SuggestedRule Build(Draft draft, in RuleSummary summary) => new()
    {
        Id = RuleId(draft),
        Client = draft.Client,
        Server = draft.Server,
        Port = draft.Port,
        Protocol = draft.Protocol,
        Evidence = new RuleEvidence
        {
            Flows = summary.Flows,
            Bytes = summary.Bytes,
            FirstSeen = summary.FirstSeen,
            LastSeen = summary.LastSeen,
            DaysSeen = summary.DaysSeen,
            ClientReplicas = summary.ClientReplicas,
            Edges = draft.Edges.Length,
            Addresses = summary.Addresses,
            DeniedFlows = summary.DeniedFlows,
        },
        Periodicity = summary.Periodicity,
        Confidence = summary.Confidence,
        ConfidenceReason = summary.ConfidenceReason,
        FlagSet = summary.Flags,
        Flags = summary.Flags.Names(),
        Generalisation = draft.Generalisation,
        Edges = draft.Edges,
    };

    /// <summary>Distinct days over the edges, ascending (each edge's days are usually ascending and distinct already).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private IReadOnlyList<DateOnly> DistinctDays(Edge[] edges)
    {
        if (edges.Length == 1)
        {
            var days = edges[0].Days;
            bool ascending = true;
            for (int i = 1; i < days.Count && ascending; i++) ascending = days[i - 1] < days[i];
            if (ascending) return days;
        }
        _days.Clear();
        foreach (var e in edges) _days.AddRange(e.Days);
        _days.Sort();
        int unique = 0;
        for (int i = 0; i < _days.Count; i++)
            if (unique == 0 || _days[i] != _days[unique - 1]) _days[unique++] = _days[i];
        _days.RemoveRange(unique, _days.Count - unique);
        return _days;
    }

    private int DistinctKeys(Edge[] edges, bool servers)
    {
        _keys.Clear();
        foreach (var e in edges) _keys.Add(servers ? e.Server.Key : e.Client.Key);
        return _keys.Count;
    }

    /// <summary>
    /// Stable across runs: a hash of the rule text ("client -> server:port/proto"), so ids survive other rules
    /// appearing or going. Hashed piece by piece: the text itself is never made.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static string RuleId(Draft draft)
    {
        uint h = 2166136261;
        h = Fnv(h, draft.Client.Key);
        h = Fnv(h, " -> ");
        h = Fnv(h, draft.Server.Key);
        h = Fnv(h, ":");
        Span<char> port = stackalloc char[8];
        draft.Port.TryFormat(port, out int written, default, CultureInfo.InvariantCulture);
        h = Fnv(h, port[..written]);
        h = Fnv(h, "/");
        h = Fnv(h, IpProtocols.Name(draft.Protocol));
        return string.Create(10, h, static (chars, value) =>
        {
            chars[0] = 'r';
            chars[1] = '-';
            value.TryFormat(chars[2..], out _, "x8", CultureInfo.InvariantCulture);
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static uint Fnv(uint h, ReadOnlySpan<char> text)
    {
        foreach (char c in text) h = (h ^ c) * 16777619;
        return h;
    }
}
