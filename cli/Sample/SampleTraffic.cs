using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Cli.Sample;

/// <summary>Which log a connection of the sample shows up in, as in a real cluster.</summary>
internal enum SampleLog
{
    /// <summary>Pod to pod inside the cluster: Cilium Hubble sees it with identities.</summary>
    Hubble,
    /// <summary>Traffic that crosses the VPC (internet ingress, external egress, outside scanners): AWS VPC Flow Logs, addresses only.</summary>
    Vpc,
}

/// <summary>One connection: a request and its reply; the writers turn it into the records each log has.</summary>
internal readonly record struct SampleConnection(
    DateTime Start, SampleLog Log,
    PackedIp ClientIp, SamplePod? ClientPod, ushort ClientPort,
    PackedIp ServerIp, SamplePod? ServerPod, ushort ServerPort, byte Protocol,
    ulong RequestBytes, ulong ResponseBytes, bool Denied, string Node);

/// <summary>
/// Generates the sample app's traffic and the dependency edges it is made of (the ground truth a test compares
/// against). Deterministic for a seed.
/// </summary>
internal sealed class SampleTraffic
{
    private readonly SampleApp _app;
    private readonly Random _random;
    private readonly List<SampleConnection> _connections = new();
    private readonly SortedSet<string> _truth = new(StringComparer.Ordinal);
    private readonly PackedIp[] _internetClients;
    private int _jobRuns;

    public SampleTraffic(SampleApp app, int seed, double rate)
    {
        _app = app;
        _random = new Random(seed);
        Rate = rate;
        _internetClients = Enumerable.Range(0, 300)
            .Select(_ => PackedIp.FromV4((byte)_random.Next(1, 90), (byte)_random.Next(256), (byte)_random.Next(256), (byte)_random.Next(1, 255)))
            .Where(ip => !ip.IsPrivate)
            .ToArray();
    }

    /// <summary>Connections per hour for a busy dependency.</summary>
    public double Rate { get; }

    public IReadOnlyList<SampleConnection> Connections => _connections;

    /// <summary>"client -> server:port/PROTO" lines of every request edge the traffic contains.</summary>
    public IReadOnlyCollection<string> Truth => _truth;

    public SampleTraffic Generate()
    {
        for (var hour = _app.Start; hour < _app.End; hour = hour.AddHours(1))
        {
            double load = 0.4 + 0.6 * Math.Sin(Math.PI * ((hour.Hour + 18) % 24) / 24.0); // daily curve
            Internet("shop/frontend", 8080, hour, Rate * 2 * load);
            Pods("shop/frontend", "shop/cart", 7070, IpProtocols.Tcp, hour, Rate * load);
            Pods("shop/frontend", "shop/catalog", 3550, IpProtocols.Tcp, hour, Rate * 1.5 * load);
            Pods("shop/frontend", "shop/checkout", 5050, IpProtocols.Tcp, hour, Rate * 0.3 * load);
            Pods("shop/checkout", "shop/payment", 50051, IpProtocols.Tcp, hour, Rate * 0.3 * load);
            Pods("shop/checkout", "shop/cart", 7070, IpProtocols.Tcp, hour, Rate * 0.3 * load);
            Egress("shop/payment", SampleApp.PaymentGateway, 443, hour, Rate * 0.3 * load);
            Pods("shop/cart", "shop/redis", 6379, IpProtocols.Tcp, hour, Rate * 2 * load);
            Egress("shop/catalog", SampleApp.ObjectStore[_random.Next(SampleApp.ObjectStore.Length)], 443, hour, Rate * 0.2 * load);
            Pods("shop/catalog", "shop/postgres", 5432, IpProtocols.Tcp, hour, Rate * load);
            foreach (var client in new[] { "shop/frontend", "shop/cart", "shop/catalog", "shop/checkout", "shop/payment" })
                Pods(client, "kube-system/coredns", 53, IpProtocols.Udp, hour, Rate * 0.5);
            Pods("monitoring/prometheus", "shop/frontend", 8080, IpProtocols.Tcp, hour, 4);
            Pods("monitoring/prometheus", "shop/cart", 7070, IpProtocols.Tcp, hour, 4);
            Pods("rooms/room-a-signal", "rooms/room-a-media", 7100, IpProtocols.Udp, hour, Rate * 0.5);
            Pods("rooms/room-b-signal", "rooms/room-b-media", 7100, IpProtocols.Udp, hour, Rate * 0.5);
            Probes(hour);
            if (hour.DayOfWeek == DayOfWeek.Sunday && hour.Hour == 2) WeeklyJob(hour);
        }
        LicenceChecks();
        DebugPod(_app.Start.AddDays(Math.Min(2.3, (_app.End - _app.Start).TotalDays * 0.6)));
        Scanner(_app.Start.AddHours(Math.Min(30, (_app.End - _app.Start).TotalHours / 2)));
        _connections.Sort((a, b) => a.Start.CompareTo(b.Start));
        return this;
    }

    private int Count(double expected) => (int)Math.Floor(expected + _random.NextDouble());

    private DateTime In(DateTime hour) => hour.AddSeconds(_random.Next(3600));

    private ushort Ephemeral() => (ushort)_random.Next(32768, 61000);

    private void Pods(string client, string server, ushort port, byte protocol, DateTime hour, double expected)
    {
        int n = Count(expected);
        for (int i = 0; i < n; i++)
        {
            var t = In(hour);
            var from = Pick(_app.PodsOf(client, t));
            var to = Pick(_app.PodsOf(server, t));
            if (from is null || to is null) continue;
            Add(new SampleConnection(t, SampleLog.Hubble, from.Ip, from, Ephemeral(), to.Ip, to, port, protocol,
                (ulong)_random.Next(200, 2000), (ulong)_random.Next(500, 20000), false, from.Node));
            _truth.Add($"{client} -> {server}:{port}/{IpProtocols.Name(protocol)}");
        }
    }

    private void Internet(string server, ushort port, DateTime hour, double expected)
    {
        int n = Count(expected);
        for (int i = 0; i < n; i++)
        {
            var t = In(hour);
            var to = Pick(_app.PodsOf(server, t));
            if (to is null) continue;
            var client = _internetClients[_random.Next(_internetClients.Length)];
            Add(new SampleConnection(t, SampleLog.Vpc, client, null, Ephemeral(), to.Ip, to, port, IpProtocols.Tcp,
                (ulong)_random.Next(300, 3000), (ulong)_random.Next(2000, 90000), false, to.Node));
            _truth.Add($"{client} -> {server}:{port}/TCP");
        }
    }

    private void Egress(string client, PackedIp server, ushort port, DateTime hour, double expected)
    {
        int n = Count(expected);
        for (int i = 0; i < n; i++)
        {
            var t = In(hour);
            var from = Pick(_app.PodsOf(client, t));
            if (from is null) continue;
            Add(new SampleConnection(t, SampleLog.Vpc, from.Ip, from, Ephemeral(), server, null, port, IpProtocols.Tcp,
                (ulong)_random.Next(500, 4000), (ulong)_random.Next(300, 2000), false, from.Node));
            _truth.Add($"{client} -> {server}:{port}/TCP");
        }
    }

    /// <summary>Kubelet probes every pod's first port from its node, every ten minutes.</summary>
    private void Probes(DateTime hour)
    {
        foreach (var pod in _app.Pods)
        {
            if (pod.Workload.Ports.Count == 0 || pod.Workload.Ports[0].Protocol != IpProtocols.Tcp) continue;
            var node = _app.Nodes.First(n => n.Name == pod.Node);
            for (int m = 0; m < 60; m += 10)
            {
                var t = hour.AddMinutes(m).AddSeconds(_random.Next(5));
                if (!pod.LiveAt(t)) continue;
                var port = pod.Workload.Ports[0].Port;
                Add(new SampleConnection(t, SampleLog.Hubble, node.Ip, null, Ephemeral(), pod.Ip, pod, port, IpProtocols.Tcp, 120, 180, false, pod.Node));
                _truth.Add($"node:{node.Name} -> {pod.Workload.Key}:{port}/TCP");
            }
        }
    }

    private void WeeklyJob(DateTime hour)
    {
        var pod = _app.RunJobPod("batch/weekly-report", hour.AddMinutes(1), TimeSpan.FromMinutes(20), _jobRuns++);
        var postgres = Pick(_app.PodsOf("shop/postgres", hour));
        if (postgres is null) return;
        for (int i = 0; i < 12; i++)
        {
            var t = hour.AddMinutes(1 + i);
            Add(new SampleConnection(t, SampleLog.Hubble, pod.Ip, pod, Ephemeral(), postgres.Ip, postgres, 5432, IpProtocols.Tcp, 900, 250_000, false, pod.Node));
            var dns = Pick(_app.PodsOf("kube-system/coredns", t))!;
            Add(new SampleConnection(t, SampleLog.Hubble, pod.Ip, pod, Ephemeral(), dns.Ip, dns, 53, IpProtocols.Udp, 60, 120, false, pod.Node));
        }
        _truth.Add("batch/weekly-report -> shop/postgres:5432/TCP");
        _truth.Add("batch/weekly-report -> kube-system/coredns:53/UDP");
    }

    /// <summary>Catalog pods check their licence once, when they start: the dependency nobody lists.</summary>
    private void LicenceChecks()
    {
        foreach (var pod in _app.Pods.Where(p => p.Workload.Key == "shop/catalog"))
        {
            var t = pod.From < _app.Start ? _app.Start.AddMinutes(_random.Next(1, 30)) : pod.From.AddSeconds(20);
            Add(new SampleConnection(t, SampleLog.Vpc, pod.Ip, pod, Ephemeral(), SampleApp.LicenseServer, null, 8443, IpProtocols.Tcp, 700, 1500, false, pod.Node));
            _truth.Add($"shop/catalog -> {SampleApp.LicenseServer}:8443/TCP");
        }
    }

    /// <summary>Someone runs a bare debug pod once and pokes the cart service.</summary>
    private void DebugPod(DateTime at)
    {
        var pod = _app.RunJobPod("shop/debug-shell", at, TimeSpan.FromMinutes(15), 250);
        var cart = Pick(_app.PodsOf("shop/cart", at));
        if (cart is null) return;
        for (int i = 0; i < 3; i++)
            Add(new SampleConnection(at.AddSeconds(30 * i), SampleLog.Hubble, pod.Ip, pod, Ephemeral(), cart.Ip, cart, 7070, IpProtocols.Tcp, 300, 800, false, pod.Node));
        _truth.Add("shop/debug-shell -> shop/cart:7070/TCP");
    }

    /// <summary>A VM outside the cluster sweeps pod addresses and ports; almost everything is dropped.</summary>
    private void Scanner(DateTime at)
    {
        var scanner = PackedIp.Parse("10.0.9.99");
        var targets = _app.Pods.Where(p => p.LiveAt(at)).Take(6).ToList();
        int i = 0;
        foreach (var target in targets)
            foreach (ushort port in new ushort[] { 21, 22, 23, 80, 443, 445, 1433, 3306, 3389, 5900, 6379, 8080, 8443, 9200 })
            {
                bool open = target.Workload.Ports.Any(p => p.Port == port);
                Add(new SampleConnection(at.AddSeconds(i++ * 0.2), SampleLog.Vpc, scanner, null, Ephemeral(), target.Ip, target, port, IpProtocols.Tcp,
                    44, open ? 40UL : 0UL, !open, target.Node));
                _truth.Add($"{scanner} -> {target.Workload.Key}:{port}/TCP");
            }
    }

    private void Add(in SampleConnection connection) => _connections.Add(connection);

    private SamplePod? Pick(IEnumerable<SamplePod> pods)
    {
        var list = pods as IList<SamplePod> ?? pods.ToList();
        return list.Count == 0 ? null : list[_random.Next(list.Count)];
    }
}
