using System.Globalization;

namespace FlowPolicy.Analytics.Anomalies;

/// <summary>The one wording of anomalies, shared by the command's table, the report section and the webhook.</summary>
public static class AnomalyText
{
    public static string Kind(AnomalyKind kind) => kind switch
    {
        AnomalyKind.Spike => "spike",
        AnomalyKind.Drop => "drop",
        AnomalyKind.DeniedSpike => "denied spike",
        AnomalyKind.LevelShift => "level shift",
        AnomalyKind.Scan => "scan",
        AnomalyKind.NewHeavyTalker => "new heavy talker",
        _ => kind.ToString(),
    };

    public static string Metric(AnomalyMetric metric) => metric switch
    {
        AnomalyMetric.Flows => "flows/h",
        AnomalyMetric.Bytes => "bytes/h",
        AnomalyMetric.DeniedFlows => "denied flows/h",
        AnomalyMetric.NewPeers => "new peers/h",
        _ => metric.ToString(),
    };

    public static string Baseline(BaselineKind baseline) => baseline switch
    {
        BaselineKind.HourOfWeek => "same hour of the week",
        BaselineKind.HourOfDay => "same hour of the day",
        BaselineKind.AllHours => "all hours",
        BaselineKind.None => "no history",
        _ => baseline.ToString(),
    };

    /// <summary>Machine names for JSON and ClickHouse (snake case, as the Enum8 values).</summary>
    public static string Name(AnomalyKind kind) => kind switch
    {
        AnomalyKind.DeniedSpike => "denied_spike",
        AnomalyKind.LevelShift => "level_shift",
        AnomalyKind.NewHeavyTalker => "new_heavy_talker",
        _ => kind.ToString().ToLowerInvariant(),
    };

    public static string Name(AnomalyMetric metric) => metric switch
    {
        AnomalyMetric.DeniedFlows => "denied_flows",
        AnomalyMetric.NewPeers => "new_peers",
        _ => metric.ToString().ToLowerInvariant(),
    };

    public static string Name(BaselineKind baseline) => baseline switch
    {
        BaselineKind.HourOfWeek => "hour_of_week",
        BaselineKind.HourOfDay => "hour_of_day",
        BaselineKind.AllHours => "all_hours",
        _ => "none",
    };

    public static string Name(AnomalyScope scope) => scope.ToString().ToLowerInvariant();

    public static string Number(double value) => Math.Abs(value) switch
    {
        >= 1e9 => (value / 1e9).ToString("0.##", CultureInfo.InvariantCulture) + "G",
        >= 1e6 => (value / 1e6).ToString("0.##", CultureInfo.InvariantCulture) + "M",
        >= 1e4 => (value / 1e3).ToString("0.#", CultureInfo.InvariantCulture) + "k",
        _ => value.ToString("0.#", CultureInfo.InvariantCulture),
    };

    public static string Explain(FlowAnomaly a)
    {
        var when = a.End - a.Start == TimeSpan.FromHours(1)
            ? a.Start.ToString("yyyy-MM-dd HH:00", CultureInfo.InvariantCulture)
            : $"{a.Start.ToString("yyyy-MM-dd HH:00", CultureInfo.InvariantCulture)}..{a.End.ToString("yyyy-MM-dd HH:00", CultureInfo.InvariantCulture)}";
        var what = $"{Kind(a.Kind)} of {a.Scope.ToString().ToLowerInvariant()} {a.Subject} at {when} UTC";
        if (a.Kind == AnomalyKind.NewHeavyTalker)
            return $"{what}: {Number(a.Observed)} bytes/h to {a.Edges.FirstOrDefault()?.Server ?? "?"} from a client never seen there before (score {a.Score.ToString("0.0", CultureInfo.InvariantCulture)})";
        var mean = a.Kind == AnomalyKind.LevelShift ? " on average" : "";
        return $"{what}: {Number(a.Observed)} {Metric(a.Metric)}{mean}, expected {Number(a.Expected)} " +
            $"(normal {Number(a.ExpectedLow)}-{Number(a.ExpectedHigh)}, {Baseline(a.Baseline)}); score {a.Score.ToString("0.0", CultureInfo.InvariantCulture)}";
    }
}
