namespace FlowPolicy.Analytics.Anomalies;

/// <summary>What changed. Stored as Enum8 in ClickHouse (<c>FlowTables.AnomalyKindEnum</c>): keep the numbers.</summary>
public enum AnomalyKind : sbyte
{
    /// <summary>Flows or bytes far above what this hour of the week usually carries.</summary>
    Spike = 1,
    /// <summary>Traffic far below what this hour of the week usually carries (a dependency went quiet).</summary>
    Drop = 2,
    /// <summary>Denied flows far above their usual level.</summary>
    DeniedSpike = 3,
    /// <summary>A sustained move of the level (an EWMA of the hourly deviations stayed out of range for hours).</summary>
    LevelShift = 4,
    /// <summary>One source reached many peers or ports it had never reached before, within an hour.</summary>
    Scan = 5,
    /// <summary>A client never seen talking to a service suddenly carries a large share of its bytes.</summary>
    NewHeavyTalker = 6,
}

/// <summary>What the anomaly is about. Enum8 in ClickHouse: keep the numbers.</summary>
public enum AnomalyScope : sbyte
{
    /// <summary>One edge: client -> server:port/protocol.</summary>
    Edge = 1,
    /// <summary>A service (server endpoint): the sum of the edges into it.</summary>
    Service = 2,
    /// <summary>A client endpoint: what it reached (scans, heavy talkers).</summary>
    Source = 3,
}

/// <summary>The hourly measure that moved. Enum8 in ClickHouse: keep the numbers.</summary>
public enum AnomalyMetric : sbyte
{
    Flows = 1,
    Bytes = 2,
    DeniedFlows = 3,
    /// <summary>Edges (peer, port) a source used for the first time in the hour.</summary>
    NewPeers = 4,
}

/// <summary>Which history the expected value came from. Enum8 in ClickHouse: keep the numbers.</summary>
public enum BaselineKind : sbyte
{
    /// <summary>The same hour of the week in earlier weeks (at least <see cref="AnomalyOptions.MinSlotSamples"/> of them).</summary>
    HourOfWeek = 1,
    /// <summary>The same hour of the day on earlier days (too few weeks of history).</summary>
    HourOfDay = 2,
    /// <summary>Every hour of the history (too few days).</summary>
    AllHours = 3,
    /// <summary>Nothing before: the subject is new.</summary>
    None = 4,
}

/// <summary>One edge behind an anomaly, with its share of the evidence (values are the anomaly's metric, per hour).</summary>
public sealed record AnomalyEdge(string Client, string Server, ushort Port, byte Protocol, double Observed, double Expected)
{
    public override string ToString() => $"{Client} -> {Server}:{Port}/{Core.Net.IpProtocols.Name(Protocol)}";
}

/// <summary>
/// One anomaly with its evidence: the hours it covers [<see cref="Start"/>, <see cref="End"/>), what was observed
/// (per hour: the peak for spikes and drops, the mean over the hours for level shifts), what was expected and the
/// range outside which an hour counts as anomalous, the robust score (deviation in robust standard deviations) and
/// the edges behind it.
/// </summary>
public sealed record FlowAnomaly(
    AnomalyKind Kind,
    AnomalyScope Scope,
    string Subject,
    AnomalyMetric Metric,
    DateTime Start,
    DateTime End,
    double Observed,
    double Expected,
    double ExpectedLow,
    double ExpectedHigh,
    double Score,
    BaselineKind Baseline,
    IReadOnlyList<AnomalyEdge> Edges)
{
    /// <summary>One line a person reads: what, where, how far from what was expected and on which history.</summary>
    public string Explanation => AnomalyText.Explain(this);
}

/// <summary>What a detection run found, in a stable order (start, then score descending).</summary>
public sealed record AnomalyReport(DateTime From, DateTime To, DateTime EvaluatedFrom, int SeriesExamined, IReadOnlyList<FlowAnomaly> Anomalies);
