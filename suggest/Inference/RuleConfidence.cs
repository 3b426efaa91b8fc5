using FlowPolicy.Analytics.Baseline;

namespace FlowPolicy.Suggest.Inference;

/// <summary>How far a reviewer can rely on a rule without asking its owner.</summary>
public enum RuleConfidence : byte
{
    High,
    Medium,
    Low,
}

/// <summary>What a reviewer should read about a rule; the texts are documented (suggestions.json <c>flags</c>).</summary>
[Flags]
public enum RuleFlags : byte
{
    None = 0,
    /// <summary>A detected period (daily, weekly, monthly, every N days).</summary>
    Periodic = 1,
    /// <summary>Made when client pods start.</summary>
    StartupOnly = 2,
    /// <summary>Seen once or rarely without a period: kept, confirm with the owner.</summary>
    Rare = 4,
    /// <summary>An address widened to a block (or any internet client).</summary>
    Generalised = 8,
    /// <summary>Kubelet and host probes from the nodes.</summary>
    NodeProbe = 16,
    /// <summary>The client is a CronJob or Job: kept without a confirmed period, as its runs are scheduled.</summary>
    ScheduledJob = 32,
}

internal static class RuleConfidences
{
    private static readonly string[] ConfidenceNames = ["high", "medium", "low"];
    private static readonly string[] FlagNames = ["periodic", "startup-only", "rare", "generalised", "node-probe", "scheduled-job"];
    private static readonly string[]?[] FlagLists = new string[]?[64];

    public static string Name(this RuleConfidence confidence) => ConfidenceNames[(int)confidence];

    /// <summary>The flag texts in documented order; one shared array per combination (a million rules share a handful).</summary>
    public static string[] Names(this RuleFlags flags)
    {
        ref var list = ref FlagLists[(int)flags];
        if (list is not null) return list;
        var names = new List<string>(FlagNames.Length);
        for (int bit = 0; bit < FlagNames.Length; bit++)
            if (((int)flags & (1 << bit)) != 0) names.Add(FlagNames[bit]);
        return list = [.. names];
    }

    /// <summary>Confidence from how the dependency recurs (docs/suggest.md, "Confidence").</summary>
    public static (RuleConfidence, string) Judge(Periodicity periodicity, long flows, bool scheduledJobClient) => periodicity.Pattern switch
    {
        PeriodicityPattern.Continuous or PeriodicityPattern.Daily when flows >= 10 => (RuleConfidence.High, "steady traffic over the window"),
        PeriodicityPattern.Continuous or PeriodicityPattern.Daily => (RuleConfidence.Medium, "seen throughout, but few flows"),
        PeriodicityPattern.Weekly or PeriodicityPattern.Monthly or PeriodicityPattern.EveryNDays =>
            (RuleConfidence.Medium, "a periodic dependency: keep it even though it is rarely seen"),
        PeriodicityPattern.StartupOnly => (RuleConfidence.Medium, "a start-up dependency: rarely seen, needed at every pod start"),
        PeriodicityPattern.Intermittent => (RuleConfidence.Medium, "seen on several days"),
        _ when scheduledJobClient => (RuleConfidence.Medium,
            "a CronJob/Job client: kept as a scheduled dependency, though the window holds no second run to confirm its schedule"),
        _ => (RuleConfidence.Low, "rare: confirm with the owner before relying on it (seen without a period)"),
    };
}
