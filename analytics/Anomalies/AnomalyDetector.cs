using FlowPolicy.Core.Edges;

namespace FlowPolicy.Analytics.Anomalies;

/// <summary>
/// Finds anomalies in hourly edge series, explainably (docs/anomalies.md). Edges are added one at a time (a million
/// edges are never held as dense series at once), each judged on flows, bytes and denied flows against its own history
/// (<see cref="RobustBaseline"/>) while the detector sums them into the series of each service (server endpoint), counts
/// new peers per source, and keeps the new edges that carry many bytes; <see cref="Finish"/> then judges the services,
/// the sources (scans) and the new heavy talkers.
/// <para>The hours are split in three: history [0, B), context [B, E) and the evaluated window [E, H), with
/// B = E - <see cref="AnomalyOptions.ContextHours"/>. Expected values come from the history only; the EWMA that finds
/// level shifts runs over context and window; only anomalies that touch the window are reported, cut to it. So a
/// scheduled job that evaluates each hour once reports an ongoing anomaly in every hour it lasts, and nothing twice.</para>
/// Not thread-safe.
/// </summary>
public sealed class AnomalyDetector
{
    private readonly AnomalyOptions _options;
    private readonly DateTime _start;
    private readonly int _hours;
    private readonly int _evaluateFrom;
    private readonly int _historyEnd;
    private readonly float[] _flows;
    private readonly float[] _bytes;
    private readonly float[] _denied;
    private readonly float[] _scratch;
    private readonly HourExpectation[] _expected;
    private readonly double[] _scores;
    private readonly double[] _ewma;
    private readonly Dictionary<string, ServiceSeries> _services = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SourceSeries> _sources = new(StringComparer.Ordinal);
    private readonly List<(EdgeHourlySeries Edge, int Hour, double Bytes)> _heavyCandidates = [];
    private readonly List<FlowAnomaly> _anomalies = [];
    private int _seriesExamined;
    private bool _finished;

    /// <param name="seriesStart">The UTC hour that hour index 0 of every added series stands for.</param>
    /// <param name="hours">Hours in the series (history, context and window).</param>
    /// <param name="evaluateFrom">The first hour of the evaluated window (an index, 0 ≤ it &lt; <paramref name="hours"/>).</param>
    public AnomalyDetector(AnomalyOptions options, DateTime seriesStart, int hours, int evaluateFrom)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (hours <= 0) throw new ArgumentOutOfRangeException(nameof(hours), hours, "needs at least one hour");
        if (evaluateFrom < 0 || evaluateFrom >= hours) throw new ArgumentOutOfRangeException(nameof(evaluateFrom), evaluateFrom, $"the evaluated window starts inside the {hours} hours");
        if (seriesStart.Ticks % TimeSpan.TicksPerHour != 0) throw new ArgumentException("the series start is not on a whole hour", nameof(seriesStart));
        _options = options;
        _start = DateTime.SpecifyKind(seriesStart, DateTimeKind.Utc);
        _hours = hours;
        _evaluateFrom = evaluateFrom;
        _historyEnd = Math.Max(0, evaluateFrom - options.ContextHours);
        _flows = new float[hours];
        _bytes = new float[hours];
        _denied = new float[hours];
        _scratch = new float[Math.Max(1, _historyEnd)];
        _expected = new HourExpectation[hours - _historyEnd];
        _scores = new double[hours - _historyEnd];
        _ewma = new double[hours - _historyEnd];
    }

    /// <summary>Detects over a whole set of series at once.</summary>
    public static AnomalyReport Detect(IEnumerable<EdgeHourlySeries> series, AnomalyOptions options, DateTime seriesStart, int hours, int evaluateFrom)
    {
        var detector = new AnomalyDetector(options, seriesStart, hours, evaluateFrom);
        foreach (var edge in series) detector.Add(edge);
        return detector.Finish();
    }

    /// <summary>Judges one edge and adds it to its service and source. Hours outside [0, hours) are ignored.</summary>
    public void Add(EdgeHourlySeries edge)
    {
        ArgumentNullException.ThrowIfNull(edge);
        if (_finished) throw new InvalidOperationException("the detector has finished");
        Array.Clear(_flows);
        Array.Clear(_bytes);
        Array.Clear(_denied);
        int firstHour = -1;
        for (int i = 0; i < edge.Hours.Length; i++)
        {
            int h = edge.Hours[i];
            if ((uint)h >= (uint)_hours) continue;
            _flows[h] = edge.Flows[i];
            _bytes[h] = edge.Bytes[i];
            _denied[h] = edge.DeniedFlows[i];
            if (firstHour < 0 && (edge.Flows[i] > 0 || edge.Bytes[i] > 0)) firstHour = h;
        }
        if (firstHour < 0) return;
        _seriesExamined++;

        ref var service = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_services, edge.Server.Key, out bool known);
        if (!known) service = new ServiceSeries(_hours, _hours - _historyEnd);
        service!.Add(_flows, _bytes, _denied);

        NoteNewEdge(edge, firstHour);

        Evaluate(_flows, AnomalyMetric.Flows, AnomalyScope.Edge, null, edge);
        service.Offer(AnomalyMetric.Flows, edge, _flows, _expected, _historyEnd, _options.MinFlowsDelta / 5, _options.EvidenceEdges);
        Evaluate(_bytes, AnomalyMetric.Bytes, AnomalyScope.Edge, null, edge);
        service.Offer(AnomalyMetric.Bytes, edge, _bytes, _expected, _historyEnd, _options.MinBytesDelta / 5, _options.EvidenceEdges);
        Evaluate(_denied, AnomalyMetric.DeniedFlows, AnomalyScope.Edge, null, edge);
        service.Offer(AnomalyMetric.DeniedFlows, edge, _denied, _expected, _historyEnd, _options.MinFlowsDelta / 5, _options.EvidenceEdges);
    }

    /// <summary>Judges the services, scans and new heavy talkers, and returns every anomaly found.</summary>
    public AnomalyReport Finish()
    {
        if (_finished) throw new InvalidOperationException("the detector has finished");
        _finished = true;
        foreach (var (key, service) in _services.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            Evaluate(service.Flows, AnomalyMetric.Flows, AnomalyScope.Service, key, null, service);
            Evaluate(service.Bytes, AnomalyMetric.Bytes, AnomalyScope.Service, key, null, service);
            Evaluate(service.Denied, AnomalyMetric.DeniedFlows, AnomalyScope.Service, key, null, service);
        }
        foreach (var (key, source) in _sources.OrderBy(p => p.Key, StringComparer.Ordinal)) DetectScans(key, source);
        DetectHeavyTalkers();
        _anomalies.Sort((a, b) =>
        {
            int c = a.Start.CompareTo(b.Start);
            if (c != 0) return c;
            c = Math.Abs(b.Score).CompareTo(Math.Abs(a.Score));
            return c != 0 ? c : string.CompareOrdinal(a.Subject, b.Subject);
        });
        return new AnomalyReport(_start, Time(_hours), Time(_evaluateFrom), _seriesExamined, _anomalies.ToList());
    }

    private DateTime Time(int hour) => _start.AddHours(hour);

    internal static string EdgeSubject(EdgeHourlySeries edge) => $"{edge.Client.Key} -> {edge.Server.Key}:{edge.Port}/{Core.Net.IpProtocols.Name(edge.Protocol)}";

    private static AnomalyEdge Evidence(EdgeHourlySeries edge, double observed, double expected) =>
        new(edge.Client.Key, edge.Server.Key, edge.Port, edge.Protocol, observed, expected);

    /// <summary>
    /// A new edge (first traffic after the warm-up) counts as a new peer of its client in its first hour; a new edge
    /// of the evaluated hours that carries many bytes is a heavy-talker candidate.
    /// </summary>
    private void NoteNewEdge(EdgeHourlySeries edge, int firstHour)
    {
        if (firstHour < _options.WarmupHours || firstHour == 0) return;
        ref var source = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_sources, edge.Client.Key, out bool known);
        if (!known) source = new SourceSeries(_hours, _hours - _historyEnd);
        source!.NewPeers[firstHour]++;
        if (firstHour >= _historyEnd)
        {
            var list = source.NewEdges[firstHour - _historyEnd] ??= [];
            if (list.Count < _options.EvidenceEdges) list.Add(Evidence(edge, _flows[firstHour], 0));
        }
        if (firstHour < _historyEnd) return;
        for (int h = Math.Max(firstHour, _evaluateFrom); h < _hours; h++)
            if (_bytes[h] >= _options.HeavyTalkerMinBytes) _heavyCandidates.Add((edge, h, _bytes[h]));
    }

    /// <summary>
    /// Judges one series hour by hour (expected value, robust score, EWMA), finds level shifts (runs of a shifted EWMA)
    /// and single-hour spikes and drops outside them, and reports those that touch the evaluated window.
    /// </summary>
    private void Evaluate(float[] x, AnomalyMetric metric, AnomalyScope scope, string? subject, EdgeHourlySeries? edge, ServiceSeries? service = null)
    {
        int b = _historyEnd;
        int n = _hours - b;
        bool any = false;
        for (int h = 0; h < _hours && !any; h++) any = x[h] != 0;
        if (!any)
        {
            Array.Fill(_expected, new HourExpectation(0, 1, BaselineKind.None));
            return;
        }
        bool counts = metric != AnomalyMetric.Bytes;
        double minDelta = counts ? _options.MinFlowsDelta : _options.MinBytesDelta;
        var allHours = (false, 0.0, 0.0);
        double ewma = 0;
        for (int i = 0; i < n; i++)
        {
            var e = RobustBaseline.At(x, b + i, b, _options, counts, _scratch, ref allHours);
            _expected[i] = e;
            double z = (x[b + i] - e.Expected) / e.Scale;
            _scores[i] = z;
            ewma = _options.EwmaAlpha * Math.Clamp(z, -_options.EwmaClip, _options.EwmaClip) + (1 - _options.EwmaAlpha) * ewma;
            _ewma[i] = ewma;
        }

        Span<sbyte> covered = n <= 1024 ? stackalloc sbyte[n] : new sbyte[n];
        covered.Clear();
        // Level shifts: runs where the EWMA stays beyond the threshold with one sign for long enough.
        for (int i = 0; i < n;)
        {
            int sign = _ewma[i] >= _options.LevelShiftThreshold ? 1 : _ewma[i] <= -_options.LevelShiftThreshold ? -1 : 0;
            if (sign == 0) { i++; continue; }
            int end = i;
            while (end < n && Math.Sign(_ewma[end]) == sign && Math.Abs(_ewma[end]) >= _options.LevelShiftThreshold) end++;
            int start = i;
            // The EWMA lags: the shift began at the first hour of the same sign just before it crossed.
            while (start > 0 && Math.Sign(_scores[start - 1]) == sign && Math.Abs(_scores[start - 1]) >= 1) start--;
            if (end - start >= _options.LevelShiftHours && !(metric == AnomalyMetric.DeniedFlows && sign < 0))
            {
                for (int k = start; k < end; k++) covered[k] = (sbyte)sign;
                ReportRun(x, metric, scope, subject, edge, service, start, end, sign, minDelta);
            }
            i = end;
        }
        // Single hours outside a level shift of the same direction, consecutive hours of one kind merged.
        for (int i = 0; i < n;)
        {
            int kind = PointKind(x[b + i], i, metric, minDelta);
            if (kind == 0 || covered[i] == kind) { i++; continue; }
            int end = i + 1;
            while (end < n && PointKind(x[b + end], end, metric, minDelta) == kind && covered[end] != kind) end++;
            ReportPoints(x, metric, scope, subject, edge, service, i, end, kind);
            i = end;
        }
    }

    /// <summary>+1 an hour far above its range, -1 far below it (a drop), 0 in range or too small a change to matter.</summary>
    private int PointKind(double observed, int i, AnomalyMetric metric, double minDelta)
    {
        double expected = _expected[i].Expected;
        double z = _scores[i];
        if (z >= _options.Threshold && observed - expected >= minDelta) return 1;
        if (metric != AnomalyMetric.DeniedFlows && z <= -_options.Threshold && expected - observed >= minDelta && observed <= _options.DropFraction * expected) return -1;
        return 0;
    }

    private void ReportRun(float[] x, AnomalyMetric metric, AnomalyScope scope, string? subject, EdgeHourlySeries? edge, ServiceSeries? service,
        int start, int end, int sign, double minDelta)
    {
        int b = _historyEnd;
        int first = Math.Max(start, _evaluateFrom - b);
        if (first >= end) return;
        double observed = 0, expected = 0, scale = 0, score = 0;
        int peak = first;
        for (int i = first; i < end; i++)
        {
            observed += x[b + i];
            expected += _expected[i].Expected;
            scale += _expected[i].Scale;
            score += _scores[i];
            if (Math.Abs(_scores[i]) > Math.Abs(_scores[peak])) peak = i;
        }
        int hours = end - first;
        observed /= hours;
        expected /= hours;
        scale /= hours;
        score /= hours;
        if (Math.Abs(observed - expected) < minDelta) return;
        var kind = metric == AnomalyMetric.DeniedFlows ? AnomalyKind.DeniedSpike
            : sign < 0 && observed <= _options.DropFraction * expected ? AnomalyKind.Drop
            : AnomalyKind.LevelShift;
        Report(kind, metric, scope, subject, edge, service, first, end, peak, observed, expected, scale, score);
    }

    private void ReportPoints(float[] x, AnomalyMetric metric, AnomalyScope scope, string? subject, EdgeHourlySeries? edge, ServiceSeries? service,
        int start, int end, int kind)
    {
        int b = _historyEnd;
        int first = Math.Max(start, _evaluateFrom - b);
        if (first >= end) return;
        int peak = first;
        for (int i = first + 1; i < end; i++)
            if (Math.Abs(_scores[i]) > Math.Abs(_scores[peak])) peak = i;
        var anomalyKind = kind < 0 ? AnomalyKind.Drop : metric == AnomalyMetric.DeniedFlows ? AnomalyKind.DeniedSpike : AnomalyKind.Spike;
        Report(anomalyKind, metric, scope, subject, edge, service, first, end, peak, x[b + peak], _expected[peak].Expected, _expected[peak].Scale, _scores[peak]);
    }

    private void Report(AnomalyKind kind, AnomalyMetric metric, AnomalyScope scope, string? subject, EdgeHourlySeries? edge, ServiceSeries? service,
        int first, int end, int peak, double observed, double expected, double scale, double score)
    {
        int b = _historyEnd;
        IReadOnlyList<AnomalyEdge> evidence = edge is not null
            ? [Evidence(edge, observed, expected)]
            : service?.Top(metric, peak) ?? [];
        double range = _options.Threshold * scale;
        _anomalies.Add(new FlowAnomaly(kind, scope, subject ?? EdgeSubject(edge!), metric, Time(b + first), Time(b + end),
            observed, expected, Math.Max(0, expected - range), expected + range, score, _expected[peak].Baseline, evidence));
    }

    /// <summary>
    /// A source reached far more new peers in an hour than it usually does (its new-peer counts after the warm-up,
    /// all hours: new peers have no weekly rhythm worth the name), and at least <see cref="AnomalyOptions.MinScanPeers"/>.
    /// </summary>
    private void DetectScans(string key, SourceSeries source)
    {
        int from = Math.Min(_options.WarmupHours, _historyEnd);
        int history = _historyEnd - from;
        double median = 0, mad = 0;
        if (history > 0)
        {
            source.NewPeers.AsSpan(from, history).CopyTo(_scratch);
            (median, mad) = RobustBaseline.MedianAndMad(_scratch.AsSpan(0, history));
        }
        double scale = Math.Max(RobustBaseline.MadToSigma * mad, RobustBaseline.Floor(median, _options, counts: true));
        for (int h = _evaluateFrom; h < _hours;)
        {
            if (!IsScan(source.NewPeers[h])) { h++; continue; }
            int end = h + 1;
            int peak = h;
            while (end < _hours && IsScan(source.NewPeers[end]))
            {
                if (source.NewPeers[end] > source.NewPeers[peak]) peak = end;
                end++;
            }
            var evidence = new List<AnomalyEdge>();
            for (int k = h; k < end && evidence.Count < _options.EvidenceEdges; k++)
                foreach (var e in source.NewEdges[k - _historyEnd] ?? [])
                    if (evidence.Count < _options.EvidenceEdges) evidence.Add(e);
            double range = _options.Threshold * scale;
            _anomalies.Add(new FlowAnomaly(AnomalyKind.Scan, AnomalyScope.Source, key, AnomalyMetric.NewPeers, Time(h), Time(end),
                source.NewPeers[peak], median, Math.Max(0, median - range), median + range, (source.NewPeers[peak] - median) / scale,
                history > 0 ? BaselineKind.AllHours : BaselineKind.None, evidence));
            h = end;
        }

        bool IsScan(float peers) => peers >= _options.MinScanPeers && (peers - median) / scale >= _options.Threshold;
    }

    /// <summary>New edges (no traffic in the history) that carried a large share of their service's bytes in an hour, per client and service.</summary>
    private void DetectHeavyTalkers()
    {
        foreach (var group in _heavyCandidates.GroupBy(c => (c.Edge.Client.Key, c.Edge.Server.Key)).OrderBy(g => g.Key.Item1, StringComparer.Ordinal).ThenBy(g => g.Key.Item2, StringComparer.Ordinal))
        {
            var service = _services[group.Key.Item2];
            var byHour = group.GroupBy(c => c.Hour).ToDictionary(g => g.Key, g => g.ToList());
            bool Heavy(int h) => byHour.TryGetValue(h, out var c) && c.Sum(x => x.Bytes) >= _options.HeavyTalkerMinBytes
                && c.Sum(x => x.Bytes) >= _options.HeavyTalkerShare * service.Bytes[h];
            for (int h = _evaluateFrom; h < _hours;)
            {
                if (!Heavy(h)) { h++; continue; }
                int end = h + 1;
                while (end < _hours && Heavy(end)) end++;
                int peak = Enumerable.Range(h, end - h).MaxBy(k => byHour[k].Sum(x => x.Bytes));
                double bytes = byHour[peak].Sum(x => x.Bytes);
                double share = service.Bytes[peak] > 0 ? bytes / service.Bytes[peak] : 1;
                var evidence = byHour[peak].OrderByDescending(c => c.Bytes).Take(_options.EvidenceEdges).Select(c => Evidence(c.Edge, c.Bytes, 0)).ToList();
                _anomalies.Add(new FlowAnomaly(AnomalyKind.NewHeavyTalker, AnomalyScope.Source, group.Key.Item1, AnomalyMetric.Bytes, Time(h), Time(end),
                    bytes, 0, 0, 0, _options.Threshold * share / Math.Max(_options.HeavyTalkerShare, 1e-9), BaselineKind.None, evidence));
                h = end;
            }
        }
    }

    /// <summary>A service's hourly sums, and per metric and judged hour the edges that moved it most.</summary>
    private sealed class ServiceSeries(int hours, int judged)
    {
        public readonly float[] Flows = new float[hours];
        public readonly float[] Bytes = new float[hours];
        public readonly float[] Denied = new float[hours];
        private readonly List<AnomalyEdge>?[][] _top = [new List<AnomalyEdge>?[judged], new List<AnomalyEdge>?[judged], new List<AnomalyEdge>?[judged]];

        public void Add(float[] flows, float[] bytes, float[] denied)
        {
            for (int h = 0; h < Flows.Length; h++)
            {
                Flows[h] += flows[h];
                Bytes[h] += bytes[h];
                Denied[h] += denied[h];
            }
        }

        /// <summary>Keeps the edge as evidence for the hours where it moved furthest from its own expected value.</summary>
        public void Offer(AnomalyMetric metric, EdgeHourlySeries edge, float[] values, HourExpectation[] expected, int historyEnd, double minDeviation, int keep)
        {
            var slots = _top[(int)metric - 1];
            for (int i = 0; i < slots.Length; i++)
            {
                double observed = values[historyEnd + i];
                double deviation = Math.Abs(observed - expected[i].Expected);
                if (deviation < minDeviation || deviation == 0) continue;
                var list = slots[i] ??= [];
                if (list.Count == keep)
                {
                    int smallest = 0;
                    for (int k = 1; k < list.Count; k++)
                        if (Math.Abs(list[k].Observed - list[k].Expected) < Math.Abs(list[smallest].Observed - list[smallest].Expected)) smallest = k;
                    if (Math.Abs(list[smallest].Observed - list[smallest].Expected) >= deviation) continue;
                    list.RemoveAt(smallest);
                }
                list.Add(Evidence(edge, observed, expected[i].Expected));
            }
        }

        public IReadOnlyList<AnomalyEdge> Top(AnomalyMetric metric, int judgedHour) =>
            _top[(int)metric - 1][judgedHour]?.OrderByDescending(e => Math.Abs(e.Observed - e.Expected)).ToList() ?? [];
    }

    /// <summary>New peers per hour of one source, and the first few new edges of each judged hour.</summary>
    private sealed class SourceSeries(int hours, int judged)
    {
        public readonly float[] NewPeers = new float[hours];
        public readonly List<AnomalyEdge>?[] NewEdges = new List<AnomalyEdge>?[judged];
    }
}
