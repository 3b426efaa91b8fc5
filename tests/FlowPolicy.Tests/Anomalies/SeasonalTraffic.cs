using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Tests.Anomalies;

/// <summary>What kind of change was planted, where (the subject the detector should name) and in which hours.</summary>
internal sealed record PlantedAnomaly(string Name, PlantedKind Kind, string Subject, string SeriesKey, int From, int To);

internal enum PlantedKind { Scan, DeniedSpike, Drop, LevelShift, NewHeavyTalker, Spike }

/// <summary>
/// Generated hourly traffic with a daily rhythm (quiet nights, busy afternoons), a weekly one (quiet weekends), a weekly
/// batch job (Sunday 02:00, 20k flows and gigabytes in one hour), a nightly cron, background denied flows, a crawler that
/// reaches a few new external addresses every hour, week-to-week variation and Poisson noise; optionally with planted
/// anomalies in the last week. Small and in memory: ~40 edges plus the crawler's, 5 weeks of hours.
/// </summary>
internal sealed class SeasonalTraffic
{
    public const int Weeks = 5;
    public const int Hours = Weeks * 168;
    /// <summary>The evaluated window: the last week.</summary>
    public const int EvaluateFrom = Hours - 168;
    public static readonly DateTime Start = new(2026, 10, 5, 0, 0, 0, DateTimeKind.Utc); // a Monday

    private readonly Random _random;
    private readonly Dictionary<(string, string, ushort), (long[] Flows, ulong[] Bytes, long[] Denied)> _edges = new();
    private readonly Dictionary<string, Endpoint> _endpoints = new(StringComparer.Ordinal);
    public List<PlantedAnomaly> Planted { get; } = [];

    public SeasonalTraffic(int seed, bool plant)
    {
        _random = new Random(seed);
        string[] services = ["shop/web", "shop/api", "shop/cart", "shop/payments", "shop/db", "shop/cache", "shop/search", "shop/auth", "ops/metrics", "ops/backup"];
        // Steady request/response dependencies: (client, server, port, peak flows/h, bytes per flow).
        var deps = new List<(string, string, ushort, double, double)>
        {
            ("shop/web", "shop/api", 8080, 3000, 20_000), ("shop/web", "shop/auth", 9000, 900, 2_000), ("shop/web", "shop/search", 9200, 600, 50_000),
            ("shop/api", "shop/db", 5432, 2500, 8_000), ("shop/api", "shop/cache", 6379, 6000, 1_000), ("shop/api", "shop/cart", 8080, 1200, 4_000),
            ("shop/api", "shop/payments", 8443, 300, 6_000), ("shop/cart", "shop/db", 5432, 800, 6_000), ("shop/cart", "shop/cache", 6379, 1500, 800),
            ("shop/payments", "shop/db", 5432, 250, 9_000), ("shop/search", "shop/db", 5432, 150, 90_000), ("shop/auth", "shop/db", 5432, 400, 3_000),
            ("ops/metrics", "shop/web", 9090, 120, 30_000), ("ops/metrics", "shop/api", 9090, 120, 30_000), ("ops/metrics", "shop/db", 9187, 120, 30_000),
        };
        foreach (var (client, server, port, peak, size) in deps) Steady(client, server, port, peak, size);
        // The weekly batch: Sunday 02:00-03:00, 20k flows and ~4 GB, ±10% from week to week.
        Periodic("ops/backup", "shop/db", 5432, h => DayOfWeek(h) == 6 && HourOfDay(h) == 2, 20_000, 200_000);
        // A nightly cron at 01:00 every day.
        Periodic("ops/backup", "shop/search", 9200, h => HourOfDay(h) == 1, 2_000, 50_000);
        // A crawler reaching a few new external addresses every hour (new peers are its normal).
        for (int h = 0; h < Hours; h++)
        {
            int n = 1 + _random.Next(4);
            for (int i = 0; i < n; i++) Add("shop/crawler", "203.0." + (h / 250 % 250) + "." + (h % 250), (ushort)(443 + i), h, 2 + _random.Next(3), 40_000, 0);
        }
        if (plant) PlantAll();
    }

    public static int DayOfWeek(int hour) => hour / 24 % 7; // 0 = Monday
    public static int HourOfDay(int hour) => hour % 24;

    /// <summary>Busy 09:00-18:00, quiet at night; weekends at 40%.</summary>
    private static double Rhythm(int hour)
    {
        double day = 0.15 + 0.85 * Math.Max(0, Math.Sin(Math.PI * (HourOfDay(hour) - 6) / 15.0));
        return DayOfWeek(hour) >= 5 ? 0.4 * day : day;
    }

    private void Steady(string client, string server, ushort port, double peak, double bytesPerFlow)
    {
        var weekly = new double[Weeks];
        for (int w = 0; w < Weeks; w++) weekly[w] = 1 + 0.05 * Normal();
        for (int h = 0; h < Hours; h++)
        {
            long flows = Poisson(peak * Rhythm(h) * weekly[h / 168] * (1 + 0.03 * Normal()));
            Add(client, server, port, h, flows, bytesPerFlow, Poisson(1.5));
        }
    }

    private void Periodic(string client, string server, ushort port, Func<int, bool> when, double flows, double bytesPerFlow)
    {
        for (int h = 0; h < Hours; h++)
            if (when(h)) Add(client, server, port, h, (long)(flows * (1 + 0.1 * (_random.NextDouble() * 2 - 1))), bytesPerFlow, 0);
    }

    private void PlantAll()
    {
        int w = EvaluateFrom;
        // Scans: one source reaches 40-300 new peers/ports in an hour, mostly denied.
        PlantScan("shop/web", w + 10, 300);
        PlantScan("shop/cart", w + 40, 60);
        PlantScan("ops/metrics", w + 100, 40);
        PlantScan("shop/crawler", w + 130, 80);
        // Denied spikes on edges that usually see one or two denied flows an hour.
        PlantDenied("shop/api", "shop/payments", 8443, w + 14, 1, 500);
        PlantDenied("shop/web", "shop/auth", 9000, w + 60, 2, 120);
        PlantDenied("shop/cart", "shop/db", 5432, w + 3, 1, 80);
        PlantDenied("ops/metrics", "shop/api", 9090, w + 150, 3, 60);
        // Drops: a dependency goes quiet for some hours.
        PlantScale("drop api->db", PlantedKind.Drop, "shop/api", "shop/db", 5432, w + 35, 3, 0);
        PlantScale("drop cart->cache", PlantedKind.Drop, "shop/cart", "shop/cache", 6379, w + 82, 2, 0.05);
        PlantScale("drop web->search", PlantedKind.Drop, "shop/web", "shop/search", 9200, w + 110, 6, 0.1);
        PlantScale("drop auth->db", PlantedKind.Drop, "shop/auth", "shop/db", 5432, w + 57, 1, 0);
        // Level shifts: a sustained move for the rest of the week (a new release, a new customer).
        PlantScale("shift web->api x1.6", PlantedKind.LevelShift, "shop/web", "shop/api", 8080, w + 72, 96, 1.6);
        PlantScale("shift api->cache x1.5", PlantedKind.LevelShift, "shop/api", "shop/cache", 6379, w + 20, 148, 1.5);
        PlantScale("shift payments->db x2", PlantedKind.LevelShift, "shop/payments", "shop/db", 5432, w + 90, 78, 2);
        // Spikes: one busy hour on an edge.
        PlantScale("spike cart->db x5", PlantedKind.Spike, "shop/cart", "shop/db", 5432, w + 111, 1, 5);
        PlantScale("spike api->cart x3", PlantedKind.Spike, "shop/api", "shop/cart", 8080, w + 33, 2, 3);
        // New heavy talkers: a client never seen at the service moves gigabytes.
        PlantHeavy("ops/exporter", "shop/db", 5432, w + 22, 3, 3_000_000_000);
        PlantHeavy("shop/search", "shop/payments", 8443, w + 120, 1, 800_000_000);
        PlantHeavy("ops/backup", "shop/cache", 6379, w + 45, 2, 1_500_000_000);
    }

    private void PlantScan(string client, int hour, int peers)
    {
        for (int i = 0; i < peers; i++)
            Add(client, "10.9." + (i / 200) + "." + (i % 200 + 1), (ushort)(20 + i % 1000), hour, 1 + _random.Next(2), 80, 1 + _random.Next(2));
        Planted.Add(new PlantedAnomaly($"scan {client} {peers} peers", PlantedKind.Scan, client, "peers:" + client, hour, hour + 1));
    }

    private void PlantDenied(string client, string server, ushort port, int hour, int hours, long denied)
    {
        var edge = _edges[(client, server, port)];
        for (int h = hour; h < hour + hours; h++)
        {
            edge.Denied[h] += denied;
            edge.Flows[h] += denied;
        }
        Planted.Add(new PlantedAnomaly($"denied spike {client}->{server} +{denied}/h", PlantedKind.DeniedSpike, EdgeKey(client, server, port), "denied:" + EdgeKey(client, server, port), hour, hour + hours));
    }

    private void PlantScale(string name, PlantedKind kind, string client, string server, ushort port, int hour, int hours, double factor)
    {
        var edge = _edges[(client, server, port)];
        for (int h = hour; h < Math.Min(Hours, hour + hours); h++)
        {
            edge.Flows[h] = (long)(edge.Flows[h] * factor);
            edge.Bytes[h] = (ulong)(edge.Bytes[h] * factor);
        }
        Planted.Add(new PlantedAnomaly(name, kind, EdgeKey(client, server, port), "flows:" + EdgeKey(client, server, port), hour, Math.Min(Hours, hour + hours)));
    }

    private void PlantHeavy(string client, string server, ushort port, int hour, int hours, double bytesPerHour)
    {
        for (int h = hour; h < hour + hours; h++) Add(client, server, port, h, 200, bytesPerHour / 200, 0);
        Planted.Add(new PlantedAnomaly($"heavy {client}->{server}", PlantedKind.NewHeavyTalker, client, "bytes:" + EdgeKey(client, server, port), hour, hour + hours));
    }

    public static string EdgeKey(string client, string server, ushort port) => $"{client} -> {server}:{port}/TCP";

    private void Add(string client, string server, ushort port, int hour, long flows, double bytesPerFlow, long denied)
    {
        if (!_edges.TryGetValue((client, server, port), out var edge))
            _edges[(client, server, port)] = edge = (new long[Hours], new ulong[Hours], new long[Hours]);
        edge.Flows[hour] += flows + denied;
        edge.Bytes[hour] += (ulong)(flows * bytesPerFlow * (1 + 0.05 * Normal()));
        edge.Denied[hour] += denied;
    }

    private Endpoint Endpoint(string key)
    {
        if (_endpoints.TryGetValue(key, out var known)) return known;
        var parts = key.Split('/');
        var endpoint = parts.Length == 2
            ? Core.Edges.Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, parts[0], parts[1], "Deployment"))
            : Core.Edges.Endpoint.FromAddress(PackedIp.Parse(key));
        return _endpoints[key] = endpoint;
    }

    /// <summary>The series as the edge sources give them (sparse, hour indexes from <see cref="Start"/>).</summary>
    public List<EdgeHourlySeries> Series()
    {
        var result = new List<EdgeHourlySeries>(_edges.Count);
        foreach (var ((client, server, port), (flows, bytes, denied)) in _edges)
        {
            var hours = Enumerable.Range(0, Hours).Where(h => flows[h] > 0 || bytes[h] > 0).ToArray();
            result.Add(new EdgeHourlySeries(Endpoint(client), Endpoint(server), port, IpProtocols.Tcp,
                hours, hours.Select(h => flows[h]).ToArray(), hours.Select(h => bytes[h]).ToArray(), hours.Select(h => denied[h]).ToArray()));
        }
        return result;
    }

    /// <summary>Every series the detector judges that has traffic in the evaluated week, dense, by name (flows:/bytes:/denied: edge or service, peers: source): for the plain z-score.</summary>
    public Dictionary<string, double[]> DenseSeries(int warmupHours)
    {
        var all = new Dictionary<string, double[]>(StringComparer.Ordinal);
        double[] Get(string key) => all.TryGetValue(key, out var s) ? s : all[key] = new double[Hours];
        foreach (var ((client, server, port), (flows, bytes, denied)) in _edges)
        {
            var edge = EdgeKey(client, server, port);
            var serverKey = Endpoint(server).Key;
            int first = Array.FindIndex(flows, f => f > 0);
            if (first >= warmupHours) Get("peers:" + Endpoint(client).Key)[first]++;
            double[] ef = Get("flows:" + edge), eb = Get("bytes:" + edge), ed = Get("denied:" + edge);
            double[] sf = Get("flows:" + serverKey), sb = Get("bytes:" + serverKey), sd = Get("denied:" + serverKey);
            for (int h = 0; h < Hours; h++)
            {
                ef[h] = flows[h];
                eb[h] = bytes[h];
                ed[h] = denied[h];
                sf[h] += flows[h];
                sb[h] += bytes[h];
                sd[h] += denied[h];
            }
        }
        // Series silent all week (the crawler's edges of earlier weeks) would pad the false-positive denominator.
        return all.Where(p => p.Value.AsSpan(EvaluateFrom).ContainsAnyExcept(0d)).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
    }

    private double Normal() => Math.Sqrt(-2 * Math.Log(1 - _random.NextDouble())) * Math.Cos(2 * Math.PI * _random.NextDouble());

    private long Poisson(double mean)
    {
        if (mean <= 0) return 0;
        if (mean > 50) return Math.Max(0, (long)Math.Round(mean + Math.Sqrt(mean) * Normal()));
        double l = Math.Exp(-mean), p = 1;
        long k = 0;
        do { k++; p *= _random.NextDouble(); } while (p > l);
        return k - 1;
    }
}
