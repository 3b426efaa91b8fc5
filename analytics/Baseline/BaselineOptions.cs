namespace FlowPolicy.Analytics.Baseline;

/// <summary>
/// Thresholds that separate the traffic a policy must keep from noise (docs/suggest.md explains each). `suggest` and
/// `check` use the same values, so what one leaves out the other does not fail on.
/// </summary>
public sealed class BaselineOptions
{
    /// <summary>A client reaching at least this many distinct ports of one server with first-contact probes scans it ...</summary>
    public int ScannerMinPorts { get; init; } = 8;
    /// <summary>... or this many distinct servers with probes (failed ones, or answered ones within <see cref="ScannerBurst"/>).</summary>
    public int ScannerMinServers { get; init; } = 16;
    /// <summary>
    /// ... or this many distinct ports (over all its servers) when not one probe was answered: a sweep that got nothing
    /// back. Leaving such edges out blocks nothing that worked.
    /// </summary>
    public int ScannerMinFailedPorts { get; init; } = 4;
    /// <summary>A probe is tiny: at most this many bytes per flow (both directions) ...</summary>
    public double ScannerMaxBytesPerFlow { get; init; } = 300;
    /// <summary>... and at most this many packets per flow (SYN, SYN-ACK, ACK, RST of a connect scan) ...</summary>
    public double ScannerMaxPacketsPerFlow { get; init; } = 4;
    /// <summary>... and a first contact: at most this many flows to that peer in the window ...</summary>
    public int ScannerMaxFlowsPerPeer { get; init; } = 2;
    /// <summary>... or, for tiny flows of known size, any number within this span (every replica of a workload probed at once).</summary>
    public TimeSpan ScannerMaxProbeSpan { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>Answered probes to many servers count as a sweep when they fall within this span.</summary>
    public TimeSpan ScannerBurst { get; init; } = TimeSpan.FromHours(1);

    /// <summary>A bare pod (no controller) seen for less than this is a one-off (kubectl run, a debug shell).</summary>
    public TimeSpan BarePodMaxLifetime { get; init; } = TimeSpan.FromDays(1);

    /// <summary>A dependency seen on at least this share of the window's days is continuous.</summary>
    public double ContinuousDayShare { get; init; } = 0.7;
    /// <summary>At most this many flows per client replica, from at least two replicas of a client that is always up: a start-up-only dependency.</summary>
    public double StartupMaxFlowsPerReplica { get; init; } = 2;

    public void Validate()
    {
        if (ScannerMinPorts < 2) throw new ArgumentException("ScannerMinPorts must be at least 2");
        if (ScannerMinServers < 2) throw new ArgumentException("ScannerMinServers must be at least 2");
        if (ScannerMinFailedPorts < 2) throw new ArgumentException("ScannerMinFailedPorts must be at least 2");
        if (ScannerMaxBytesPerFlow < 0) throw new ArgumentException("ScannerMaxBytesPerFlow must not be negative");
        if (ScannerMaxPacketsPerFlow < 1) throw new ArgumentException("ScannerMaxPacketsPerFlow must be at least 1");
        if (ScannerMaxFlowsPerPeer < 1) throw new ArgumentException("ScannerMaxFlowsPerPeer must be at least 1");
        if (ScannerBurst <= TimeSpan.Zero) throw new ArgumentException("ScannerBurst must be positive");
        if (ScannerMaxProbeSpan < TimeSpan.Zero) throw new ArgumentException("ScannerMaxProbeSpan must not be negative");
        if (ContinuousDayShare is <= 0 or > 1) throw new ArgumentException("ContinuousDayShare must be in (0, 1]");
        if (StartupMaxFlowsPerReplica <= 0) throw new ArgumentException("StartupMaxFlowsPerReplica must be positive");
    }
}
