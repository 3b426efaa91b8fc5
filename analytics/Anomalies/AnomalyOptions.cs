namespace FlowPolicy.Analytics.Anomalies;

/// <summary>
/// Thresholds of <see cref="AnomalyDetector"/>. The defaults are the ones the quality test measures
/// (docs/anomalies.md: false-positive and detection rates); change them with those numbers in view.
/// </summary>
public sealed class AnomalyOptions
{
    /// <summary>Robust score (deviation / robust scale) from which one hour is anomalous.</summary>
    public double Threshold { get; init; } = 5;
    /// <summary>Earlier samples of the same hour of the week needed to use them alone (else the hour of the day, else all hours).</summary>
    public int MinSlotSamples { get; init; } = 3;
    /// <summary>
    /// The scale is at least this share of the expected value: traffic that moves by 10% from week to week is normal
    /// even when the history happens to be flat (MAD 0).
    /// </summary>
    public double RelativeTolerance { get; init; } = 0.15;
    /// <summary>Hourly change in flows (and denied flows) below which nothing is reported, however unusual.</summary>
    public double MinFlowsDelta { get; init; } = 30;
    /// <summary>Hourly change in bytes below which nothing is reported.</summary>
    public double MinBytesDelta { get; init; } = 10_000_000;
    /// <summary>A drop needs the hour at or below this share of the expected value.</summary>
    public double DropFraction { get; init; } = 0.5;
    /// <summary>EWMA weight of the newest hour's (clipped) score, for level shifts.</summary>
    public double EwmaAlpha { get; init; } = 0.3;
    /// <summary>|EWMA| from which the level counts as shifted.</summary>
    public double LevelShiftThreshold { get; init; } = 2;
    /// <summary>Hours the EWMA must stay shifted (same sign) to be a level shift rather than a spike.</summary>
    public int LevelShiftHours { get; init; } = 4;
    /// <summary>Scores enter the EWMA clipped to ±this, so one extreme hour cannot make a level shift.</summary>
    public double EwmaClip { get; init; } = 4;
    /// <summary>Hours before the evaluated window that the EWMA runs over first (and that the baseline leaves out).</summary>
    public int ContextHours { get; init; } = 24;
    /// <summary>New peers (edges used for the first time) in one hour from one source from which it can be a scan.</summary>
    public int MinScanPeers { get; init; } = 20;
    /// <summary>Hours at the start of the history in which every edge is "new" and new-peer counts mean nothing.</summary>
    public int WarmupHours { get; init; } = 24;
    /// <summary>Bytes in one hour from which a new client is a heavy talker ...</summary>
    public double HeavyTalkerMinBytes { get; init; } = 50_000_000;
    /// <summary>... when it also carries at least this share of the service's bytes in that hour.</summary>
    public double HeavyTalkerShare { get; init; } = 0.2;
    /// <summary>Edges kept as evidence per anomaly (the largest contributions).</summary>
    public int EvidenceEdges { get; init; } = 5;

    public void Validate()
    {
        if (!(Threshold > 0)) throw new ArgumentException("the anomaly threshold must be positive");
        if (MinSlotSamples < 1) throw new ArgumentException("min slot samples must be at least 1");
        if (RelativeTolerance < 0 || MinFlowsDelta < 0 || MinBytesDelta < 0) throw new ArgumentException("tolerances must not be negative");
        if (DropFraction is <= 0 or > 1) throw new ArgumentException("the drop fraction must be in (0, 1]");
        if (EwmaAlpha is <= 0 or > 1) throw new ArgumentException("the EWMA weight must be in (0, 1]");
        if (LevelShiftHours < 1 || ContextHours < 0 || WarmupHours < 0 || MinScanPeers < 1 || EvidenceEdges < 1)
            throw new ArgumentException("hour counts must not be negative, and scan peers, level shift hours and evidence edges at least 1");
        if (HeavyTalkerShare is < 0 or > 1) throw new ArgumentException("the heavy talker share must be in [0, 1]");
    }
}
