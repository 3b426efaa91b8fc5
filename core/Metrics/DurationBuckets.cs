using System.Diagnostics.Metrics;

namespace FlowPolicy.Core.Metrics;

/// <summary>
/// Histogram bucket boundaries (seconds) shared by FlowPolicy's duration instruments, so dashboards and alerts compare
/// like with like (docs/metrics.md). OpenTelemetry's default boundaries are milliseconds-shaped (0..10000) and would put
/// every run of seconds in the first buckets.
/// </summary>
public static class DurationBuckets
{
    /// <summary>Runs of jobs and reports: a tenth of a second to half an hour.</summary>
    public static InstrumentAdvice<double> Runs { get; } = new()
    {
        HistogramBucketBoundaries = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
    };

    /// <summary>Requests such as INSERTs: five milliseconds to half a minute.</summary>
    public static InstrumentAdvice<double> Requests { get; } = new()
    {
        HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    };
}
