using System.Globalization;
using FlowPolicy.Analytics.Anomalies;
using Xunit;
using Xunit.Abstractions;

namespace FlowPolicy.Tests.Anomalies;

/// <summary>
/// The detector's measured quality (docs/anomalies.md quotes these numbers): false positives on five weeks of steady
/// seasonal traffic (daily and weekly rhythm, a weekly batch job, a nightly cron, a crawler with new peers every hour)
/// and detection of planted scans, denied spikes, drops, level shifts, spikes and new heavy talkers in the last week,
/// against a plain z-score (mean and standard deviation of all history hours, |z| ≥ 3) on the very same series.
/// </summary>
public sealed class AnomalyQualityTests(ITestOutputHelper output)
{
    private static readonly AnomalyOptions Options = new();
    private const double PlainZ = 3;

    private static AnomalyReport Detect(SeasonalTraffic traffic) =>
        AnomalyDetector.Detect(traffic.Series(), Options, SeasonalTraffic.Start, SeasonalTraffic.Hours, SeasonalTraffic.EvaluateFrom);

    [Fact]
    public void Robust_hour_of_week_baseline_beats_a_plain_z_score_on_false_positives_and_detection()
    {
        int historyEnd = SeasonalTraffic.EvaluateFrom - Options.ContextHours;
        int judgedHours = SeasonalTraffic.Hours - SeasonalTraffic.EvaluateFrom;

        // Steady traffic, three seeds: everything reported is a false positive.
        long robustFalseHours = 0, plainFalseHours = 0, seriesHours = 0;
        var falseAnomalies = new List<string>();
        foreach (int seed in new[] { 1, 2, 3 })
        {
            var steady = new SeasonalTraffic(seed, plant: false);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var report = Detect(steady);
            output.WriteLine($"seed {seed}: {report.SeriesExamined} edges judged in {clock.ElapsedMilliseconds} ms");
            foreach (var a in report.Anomalies)
            {
                robustFalseHours += (long)(a.End - a.Start).TotalHours;
                falseAnomalies.Add(a.Explanation);
            }
            var dense = steady.DenseSeries(Options.WarmupHours);
            seriesHours += (long)dense.Count * judgedHours;
            foreach (var (key, series) in dense)
                plainFalseHours += PlainFlags(series, key.StartsWith("peers:", StringComparison.Ordinal) ? Options.WarmupHours : 0, historyEnd).Count(f => f != 0);
        }
        double robustFpRate = (double)robustFalseHours / seriesHours;
        double plainFpRate = (double)plainFalseHours / seriesHours;

        // Planted anomalies, three seeds.
        int planted = 0, robustFound = 0, plainFound = 0;
        var missed = new List<string>();
        foreach (int seed in new[] { 11, 12, 13 })
        {
            var traffic = new SeasonalTraffic(seed, plant: true);
            var report = Detect(traffic);
            var dense = traffic.DenseSeries(Options.WarmupHours);
            foreach (var p in traffic.Planted)
            {
                planted++;
                if (report.Anomalies.Any(a => Matches(a, p))) robustFound++;
                else missed.Add($"robust missed: {p.Name}");
                var flags = PlainFlags(dense[p.SeriesKey], p.SeriesKey.StartsWith("peers:", StringComparison.Ordinal) ? Options.WarmupHours : 0, historyEnd);
                int sign = p.Kind == PlantedKind.Drop ? -1 : 1;
                if (Enumerable.Range(p.From, p.To - p.From).Any(h => flags[h - SeasonalTraffic.EvaluateFrom] == sign)) plainFound++;
                else missed.Add($"z-score missed: {p.Name}");
            }
        }
        double robustDetection = (double)robustFound / planted;
        double plainDetection = (double)plainFound / planted;

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"false positives on steady traffic ({seriesHours} judged series-hours): robust {robustFalseHours} ({robustFpRate:P3}), plain z-score {plainFalseHours} ({plainFpRate:P3})"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"planted anomalies detected ({planted}): robust {robustFound} ({robustDetection:P1}), plain z-score {plainFound} ({plainDetection:P1})"));
        foreach (var line in falseAnomalies.Take(20)) output.WriteLine("false positive: " + line);
        foreach (var line in missed) output.WriteLine(line);

        Assert.True(robustFpRate < plainFpRate, $"robust false-positive rate {robustFpRate:P3} is not below the z-score's {plainFpRate:P3}");
        Assert.True(robustDetection > plainDetection, $"robust detection {robustDetection:P1} is not above the z-score's {plainDetection:P1}");
        Assert.True(robustFpRate <= 0.0005, $"robust false-positive rate {robustFpRate:P3} above 0.05%");
        Assert.True(robustDetection >= 0.9, $"robust detection {robustDetection:P1} below 90%");
    }

    [Fact]
    public void A_weekly_batch_run_is_expected_at_its_hour_and_its_absence_is_a_drop()
    {
        var traffic = new SeasonalTraffic(5, plant: false);
        var report = Detect(traffic);
        Assert.DoesNotContain(report.Anomalies, a => a.Subject.Contains("ops/backup", StringComparison.Ordinal));

        // The same traffic without the last Sunday's batch run: its dependency went quiet.
        var series = traffic.Series().Select(s =>
        {
            if (s.Client.Key != "ops/backup" || s.Server.Key != "shop/db") return s;
            var keep = Enumerable.Range(0, s.Hours.Length).Where(i => s.Hours[i] < SeasonalTraffic.EvaluateFrom).ToArray();
            return new Core.Edges.EdgeHourlySeries(s.Client, s.Server, s.Port, s.Protocol, keep.Select(i => s.Hours[i]).ToArray(),
                keep.Select(i => s.Flows[i]).ToArray(), keep.Select(i => s.Bytes[i]).ToArray(), keep.Select(i => s.DeniedFlows[i]).ToArray());
        });
        var missing = AnomalyDetector.Detect(series, Options, SeasonalTraffic.Start, SeasonalTraffic.Hours, SeasonalTraffic.EvaluateFrom);
        var drop = Assert.Single(missing.Anomalies, a => a.Kind == AnomalyKind.Drop && a.Scope == AnomalyScope.Edge && a.Metric == AnomalyMetric.Flows);
        Assert.Equal("ops/backup -> shop/db:5432/TCP", drop.Subject);
        Assert.Equal(BaselineKind.HourOfWeek, drop.Baseline);
        Assert.Equal(SeasonalTraffic.Start.AddHours(SeasonalTraffic.EvaluateFrom + 6 * 24 + 2), drop.Start);
        Assert.InRange(drop.Expected, 18_000, 22_000);
        Assert.Equal(0, drop.Observed);
    }

    [Fact]
    public void Each_anomaly_carries_its_evidence()
    {
        var traffic = new SeasonalTraffic(11, plant: true);
        var report = Detect(traffic);
        var scan = Assert.Single(report.Anomalies, a => a.Kind == AnomalyKind.Scan && a.Subject == "shop/web");
        Assert.Equal(300, scan.Observed);
        Assert.True(scan.ExpectedHigh < 300);
        Assert.Equal(Options.EvidenceEdges, scan.Edges.Count);
        Assert.All(scan.Edges, e => Assert.Equal("shop/web", e.Client));

        var denied = Assert.Single(report.Anomalies, a => a.Kind == AnomalyKind.DeniedSpike && a.Scope == AnomalyScope.Service && a.Subject == "shop/payments");
        Assert.Equal("shop/api", denied.Edges[0].Client);
        Assert.True(denied.Observed > denied.ExpectedHigh);
        Assert.Contains("denied spike of service shop/payments", denied.Explanation, StringComparison.Ordinal);

        var heavy = Assert.Single(report.Anomalies, a => a.Kind == AnomalyKind.NewHeavyTalker && a.Subject == "ops/exporter");
        Assert.Equal("shop/db", heavy.Edges[0].Server);
        Assert.Equal(TimeSpan.FromHours(3), heavy.End - heavy.Start);
    }

    [Fact]
    public void Only_anomalies_touching_the_evaluated_window_are_reported_cut_to_it()
    {
        var traffic = new SeasonalTraffic(11, plant: true);
        // Evaluate only the hour of the web scan: nothing before or after it is reported.
        int hour = SeasonalTraffic.EvaluateFrom + 10;
        var series = traffic.Series();
        var report = AnomalyDetector.Detect(series.Select(s => Cut(s, hour + 1)), Options, SeasonalTraffic.Start, hour + 1, hour);
        Assert.Contains(report.Anomalies, a => a.Kind == AnomalyKind.Scan && a.Subject == "shop/web");
        Assert.All(report.Anomalies, a =>
        {
            Assert.Equal(SeasonalTraffic.Start.AddHours(hour), a.Start);
            Assert.Equal(SeasonalTraffic.Start.AddHours(hour + 1), a.End);
        });
    }

    private static Core.Edges.EdgeHourlySeries Cut(Core.Edges.EdgeHourlySeries s, int hours)
    {
        var keep = Enumerable.Range(0, s.Hours.Length).Where(i => s.Hours[i] < hours).ToArray();
        return new Core.Edges.EdgeHourlySeries(s.Client, s.Server, s.Port, s.Protocol, keep.Select(i => s.Hours[i]).ToArray(),
            keep.Select(i => s.Flows[i]).ToArray(), keep.Select(i => s.Bytes[i]).ToArray(), keep.Select(i => s.DeniedFlows[i]).ToArray());
    }

    private static bool Matches(FlowAnomaly a, PlantedAnomaly p)
    {
        var from = SeasonalTraffic.Start.AddHours(p.From);
        var to = SeasonalTraffic.Start.AddHours(p.To);
        if (a.End <= from || a.Start >= to) return false;
        var kind = p.Kind switch
        {
            PlantedKind.Scan => AnomalyKind.Scan,
            PlantedKind.DeniedSpike => AnomalyKind.DeniedSpike,
            PlantedKind.Drop => AnomalyKind.Drop,
            PlantedKind.LevelShift => AnomalyKind.LevelShift,
            PlantedKind.Spike => AnomalyKind.Spike,
            _ => AnomalyKind.NewHeavyTalker,
        };
        if (a.Kind != kind) return false;
        return a.Subject == p.Subject || a.Scope == AnomalyScope.Service && a.Edges.Any(e => e.ToString() == p.Subject);
    }

    /// <summary>Per evaluated hour: +1 z ≥ 3, -1 z ≤ -3, 0 otherwise; mean and deviation of the history hours (a flat history flags any change).</summary>
    private static int[] PlainFlags(double[] series, int historyFrom, int historyEnd)
    {
        double mean = 0;
        int n = historyEnd - historyFrom;
        for (int h = historyFrom; h < historyEnd; h++) mean += series[h];
        mean /= n;
        double variance = 0;
        for (int h = historyFrom; h < historyEnd; h++) variance += (series[h] - mean) * (series[h] - mean);
        double sd = Math.Sqrt(variance / (n - 1));
        var flags = new int[SeasonalTraffic.Hours - SeasonalTraffic.EvaluateFrom];
        for (int h = SeasonalTraffic.EvaluateFrom; h < SeasonalTraffic.Hours; h++)
        {
            double z = sd > 0 ? (series[h] - mean) / sd : series[h] == mean ? 0 : Math.Sign(series[h] - mean) * double.PositiveInfinity;
            flags[h - SeasonalTraffic.EvaluateFrom] = z >= PlainZ ? 1 : z <= -PlainZ ? -1 : 0;
        }
        return flags;
    }
}
