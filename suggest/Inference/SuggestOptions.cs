using System.Diagnostics.Metrics;
using FlowPolicy.Analytics.Baseline;

namespace FlowPolicy.Suggest.Inference;

/// <summary>Inference thresholds (docs/suggest.md explains each). Defaults suit a week or more of flow logs.</summary>
public sealed class SuggestOptions
{
    /// <summary>Window start; null takes the day of the earliest flow.</summary>
    public DateTime? WindowStart { get; init; }
    /// <summary>Window end (exclusive); null takes the day after the latest flow.</summary>
    public DateTime? WindowEnd { get; init; }

    /// <summary>What is noise and how recurrence is judged: the same thresholds `check` uses.</summary>
    public BaselineOptions Baseline { get; init; } = new();

    /// <summary>This many distinct public client addresses on one port of a workload make it "any internet client".</summary>
    public int InternetClientThreshold { get; init; } = 20;
    /// <summary>This many distinct addresses inside one /24 (IPv4) or /64 (IPv6) on one port generalise to their covering block.</summary>
    public int CidrMinAddresses { get; init; } = 4;

    /// <summary>Windows shorter than this many days get a warning: weekly dependencies may be missing.</summary>
    public double MinTrustedWindowDays { get; init; } = 7;

    public void Validate()
    {
        if (WindowStart is { } s && WindowEnd is { } e && e <= s) throw new ArgumentException($"the window is empty: end {e:O} is not after start {s:O}");
        Baseline.Validate();
        if (InternetClientThreshold < 2) throw new ArgumentException("InternetClientThreshold must be at least 2");
        if (CidrMinAddresses < 2) throw new ArgumentException("CidrMinAddresses must be at least 2");
        if (MinTrustedWindowDays < 0) throw new ArgumentException("MinTrustedWindowDays must not be negative");
    }
}

/// <summary>
/// What one inference did (the CLI's summary line prints it), and the same counts on suggest's Meter
/// <see cref="MeterName"/> (docs/metrics.md), which the report writer shares: one Meter for the suggest component,
/// static as a library's meters are (inference runs are created per window).
/// </summary>
public sealed class SuggestMetrics
{
    public const string MeterName = "FlowPolicy.Suggest";
    internal static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> EdgesCounter = Meter.CreateCounter<long>("flowpolicy.suggest.edges", "{edge}",
        "Edges inference read, by outcome: kept (rules are drafted from them) or left_out (the baseline's noise)");
    private static readonly Counter<long> GeneralisedCounter = Meter.CreateCounter<long>("flowpolicy.suggest.rules.generalised", "{rule}",
        "Rules whose peer is an address block wider than the addresses observed (address generalisation)");
    private static readonly Counter<long> PeriodicCounter = Meter.CreateCounter<long>("flowpolicy.suggest.rules.periodic", "{rule}",
        "Rules from traffic that recurs on a schedule (daily, weekly) rather than all the time");
    private static readonly KeyValuePair<string, object?> Kept = new("outcome", "kept"), LeftOut = new("outcome", "left_out");

    public long GeneralisedRules { get; private set; }
    public long PeriodicRules { get; private set; }

    internal void Classified(int kept, int leftOut)
    {
        EdgesCounter.Add(kept, Kept);
        EdgesCounter.Add(leftOut, LeftOut);
    }

    internal void Drafted(long generalised, long periodic)
    {
        GeneralisedRules += generalised;
        PeriodicRules += periodic;
        GeneralisedCounter.Add(generalised);
        PeriodicCounter.Add(periodic);
    }
}
