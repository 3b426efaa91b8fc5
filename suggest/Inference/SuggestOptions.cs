namespace FlowPolicy.Suggest.Inference;

/// <summary>Inference thresholds (docs/suggest.md explains each). Defaults suit a week or more of flow logs.</summary>
public sealed class SuggestOptions
{
    /// <summary>Window start; null takes the day of the earliest flow.</summary>
    public DateTime? WindowStart { get; init; }
    /// <summary>Window end (exclusive); null takes the day after the latest flow.</summary>
    public DateTime? WindowEnd { get; init; }

    /// <summary>A client sweeping at least this many distinct server ports ...</summary>
    public int ScannerMinPorts { get; init; } = 8;
    /// <summary>... or this many distinct servers ...</summary>
    public int ScannerMinServers { get; init; } = 16;
    /// <summary>... with at most this many bytes per flow on average ...</summary>
    public double ScannerMaxBytesPerFlow { get; init; } = 300;
    /// <summary>... and at least this share of its edges denied or unanswered is a scanner.</summary>
    public double ScannerMinFailedShare { get; init; } = 0.5;

    /// <summary>A bare pod (WorkloadKind "Pod") seen for less than this is a one-off (kubectl run, a debug shell).</summary>
    public TimeSpan BarePodMaxLifetime { get; init; } = TimeSpan.FromDays(1);

    /// <summary>This many distinct public client addresses on one port of a workload make it "any internet client".</summary>
    public int InternetClientThreshold { get; init; } = 20;
    /// <summary>This many distinct addresses inside one /24 (IPv4) or /64 (IPv6) on one port generalise to their covering block.</summary>
    public int CidrMinAddresses { get; init; } = 4;

    /// <summary>A dependency seen on at least this share of the window's days is continuous.</summary>
    public double ContinuousDayShare { get; init; } = 0.7;
    /// <summary>At most this many flows per client replica, from a client that is always up: a start-up-only dependency.</summary>
    public double StartupMaxFlowsPerReplica { get; init; } = 2;
    /// <summary>Windows shorter than this many days get a warning: weekly dependencies may be missing.</summary>
    public double MinTrustedWindowDays { get; init; } = 7;

    public void Validate()
    {
        if (WindowStart is { } s && WindowEnd is { } e && e <= s) throw new ArgumentException($"the window is empty: end {e:O} is not after start {s:O}");
        if (ScannerMinPorts < 2) throw new ArgumentException("ScannerMinPorts must be at least 2");
        if (ScannerMinServers < 2) throw new ArgumentException("ScannerMinServers must be at least 2");
        if (ScannerMinFailedShare is < 0 or > 1) throw new ArgumentException("ScannerMinFailedShare must be between 0 and 1");
        if (InternetClientThreshold < 2) throw new ArgumentException("InternetClientThreshold must be at least 2");
        if (CidrMinAddresses < 2) throw new ArgumentException("CidrMinAddresses must be at least 2");
        if (ContinuousDayShare is <= 0 or > 1) throw new ArgumentException("ContinuousDayShare must be in (0, 1]");
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
