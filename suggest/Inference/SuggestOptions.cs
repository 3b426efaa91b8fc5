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

/// <summary>What inference did, for logs and the report.</summary>
public sealed class SuggestMetrics
{
    public long EdgesIn;
    public long EdgesKept;
    public long EdgesLeftOut;
    public long Rules;
    public long GeneralisedRules;
    public long PeriodicRules;
}
