namespace FlowPolicy.Analytics.Anomalies;

/// <summary>What one hour was expected to hold: the robust centre, the robust scale and the history it came from.</summary>
internal readonly record struct HourExpectation(double Expected, double Scale, BaselineKind Baseline);

/// <summary>
/// The expected value of one hour of an hourly series from its history, with robust statistics: the median and the
/// median absolute deviation (MAD, times 1.4826 to read as a standard deviation) of the same hour of the week in
/// earlier weeks, so a weekly batch run is expected at its hour and nowhere else. With too few weeks, the same hour of
/// the day on earlier days; with too few days, every hour. The scale never falls below
/// <see cref="AnomalyOptions.RelativeTolerance"/> of the expected value, nor (for counts) below the Poisson noise of
/// the expected count (√expected): a flat history would otherwise make every small wobble infinitely unusual.
/// </summary>
internal static class RobustBaseline
{
    public const double MadToSigma = 1.4826;

    /// <param name="series">The whole series, hour 0 first.</param>
    /// <param name="hour">The hour to judge (at or after <paramref name="historyEnd"/>).</param>
    /// <param name="historyEnd">Hours before it are the history; later ones are never used (they may hold the anomaly).</param>
    /// <param name="scratch">At least <paramref name="historyEnd"/> floats.</param>
    /// <param name="allHours">Median and MAD of the whole history, computed on first need and reused for the series.</param>
    public static HourExpectation At(ReadOnlySpan<float> series, int hour, int historyEnd, AnomalyOptions options, bool counts,
        Span<float> scratch, ref (bool Known, double Median, double Mad) allHours)
    {
        if (historyEnd <= 0) return new HourExpectation(0, Floor(0, options, counts), BaselineKind.None);
        int n = Samples(series, hour, historyEnd, 168, scratch);
        BaselineKind kind = BaselineKind.HourOfWeek;
        if (n < options.MinSlotSamples)
        {
            n = Samples(series, hour, historyEnd, 24, scratch);
            kind = BaselineKind.HourOfDay;
        }
        double median, mad;
        if (n >= options.MinSlotSamples) (median, mad) = MedianAndMad(scratch[..n]);
        else
        {
            if (!allHours.Known)
            {
                series[..historyEnd].CopyTo(scratch);
                var (m, d) = MedianAndMad(scratch[..historyEnd]);
                allHours = (true, m, d);
            }
            (median, mad) = (allHours.Median, allHours.Mad);
            kind = BaselineKind.AllHours;
        }
        return new HourExpectation(median, Math.Max(MadToSigma * mad, Floor(median, options, counts)), kind);
    }

    /// <summary>The smallest scale: the relative tolerance, the Poisson noise of a count, and never zero.</summary>
    public static double Floor(double expected, AnomalyOptions options, bool counts) =>
        Math.Max(Math.Max(options.RelativeTolerance * expected, counts ? Math.Sqrt(Math.Max(expected, 1)) : 1), 1);

    /// <summary>The values at hour - step, hour - 2·step, ... that lie in the history.</summary>
    private static int Samples(ReadOnlySpan<float> series, int hour, int historyEnd, int step, Span<float> scratch)
    {
        int n = 0;
        for (int h = hour - step; h >= 0; h -= step)
            if (h < historyEnd) scratch[n++] = series[h];
        return n;
    }

    /// <summary>Median and median absolute deviation; sorts <paramref name="values"/> in place.</summary>
    public static (double Median, double Mad) MedianAndMad(Span<float> values)
    {
        if (values.Length == 0) return (0, 0);
        values.Sort();
        double median = Median(values);
        for (int i = 0; i < values.Length; i++) values[i] = (float)Math.Abs(values[i] - median);
        values.Sort();
        return (median, Median(values));
    }

    private static double Median(ReadOnlySpan<float> sorted)
    {
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + (double)sorted[mid]) / 2;
    }
}
