using System.Net;
using FlowPolicy.Tests.Evaluation.Scenarios;

namespace FlowPolicy.Tests.Evaluation.Traffic;

/// <summary>What one side of a connection is.</summary>
internal enum PeerRole
{
    Pod,
    /// <summary>A client on the internet reaching the front door.</summary>
    Internet,
    /// <summary>An external service's address.</summary>
    External,
    /// <summary>The API server on a control-plane node.</summary>
    ApiServer,
    /// <summary>A node's own address (kubelet probes).</summary>
    Node,
    /// <summary>A machine nobody inventoried (the unanswered scanner).</summary>
    UnknownHost,
}

internal sealed record TrafficPeer(PeerRole Role, IPAddress Ip, SimPod? Pod = null, string? Node = null);

/// <summary>How the server side reacted.</summary>
internal enum Answer
{
    /// <summary>A normal exchange (SYN-ACK, data both ways).</summary>
    Answered,
    /// <summary>Nothing listens: the server's stack answers RST.</summary>
    Refused,
    /// <summary>No reply at all (a filtered or absent host).</summary>
    Unanswered,
}

/// <summary>One connection: the writers turn it into the records each format has.</summary>
internal readonly record struct TrafficConnection(DateTime Start, TrafficPeer Client, TrafficPeer Server, ushort ClientPort, ushort ServerPort,
    Protocol Protocol, ulong RequestBytes, ulong ResponseBytes, Answer Answer);

/// <summary>
/// Generates a scenario's traffic over its window: the call graph following a daily load curve, CronJob runs,
/// start-up-only calls at every pod start, DNS over UDP (and TCP for large answers), API-server watches, external
/// services on rotating addresses, internet clients at the front door (directly, and through an internal load balancer
/// that other nodes forward from their own address), kubelet probes, and the noise (a bare debug
/// pod, an answered scan from a CI Job, an unanswered sweep, a one-off call across namespaces). Deterministic per seed.
/// </summary>
internal sealed class ClusterTraffic
{
    /// <summary>Ports a scanner tries on every address, besides the ones the target serves.</summary>
    public static readonly ushort[] ScanPorts = [21, 22, 23, 80, 443, 445, 1433, 3306, 3389, 5432, 5900, 6379, 8080, 8443, 9200, 27017];

    private readonly Scenario _scenario;
    private readonly ClusterPods _pods;
    private readonly Random _random;
    // The forwarded front-door traffic draws from its own sequence, so everything else stays what it was before it.
    private readonly Random _forwardRandom;
    private readonly List<TrafficConnection> _connections = [];
    private readonly IPAddress[] _internetClients;
    private readonly Dictionary<string, int> _rotation = new(StringComparer.Ordinal);

    public ClusterTraffic(Scenario scenario, ClusterPods pods)
    {
        _scenario = scenario;
        _pods = pods;
        _random = new Random(scenario.Seed * 31 + 7);
        _forwardRandom = new Random(scenario.Seed * 31 + 11);
        _internetClients = Enumerable.Range(0, 150)
            .Select(_ => new IPAddress([(byte)_random.Next(1, 90), (byte)_random.Next(256), (byte)_random.Next(256), (byte)_random.Next(1, 255)]))
            .Where(ip => ip.GetAddressBytes()[0] != 10)
            .ToArray();
    }

    public IReadOnlyList<TrafficConnection> Connections => _connections;
    public IReadOnlyList<IPAddress> InternetClients => _internetClients;

    public ClusterTraffic Generate()
    {
        var steady = _scenario.Calls.Where(c => c.Pattern == CallPattern.Steady && _scenario.Workload(c.Client).Kind is not ControllerKind.CronJob).ToList();
        var dnsUsers = _scenario.Workloads.Where(w => w.UsesDns && w.Kind is ControllerKind.Deployment or ControllerKind.StatefulSet or ControllerKind.DaemonSet).ToList();
        int hourIndex = 0;
        for (var hour = _scenario.Start; hour < _scenario.End; hour = hour.AddHours(1), hourIndex++)
        {
            double load = 0.4 + 0.6 * Math.Sin(Math.PI * ((hour.Hour + 18) % 24) / 24.0);
            foreach (var call in steady) Call(call, hour, call.PerHour * load);
            foreach (var w in dnsUsers) Dns(w.Key, hour, 0.6, Protocol.Udp);
            // Answers too large for UDP make resolvers retry over TCP: every other workload, every other day.
            if (hour.Hour == 9)
                foreach (var (w, i) in dnsUsers.Select((w, i) => (w, i)))
                    if ((i + hour.Day) % 4 == 0) Dns(w.Key, hour, 1, Protocol.Tcp);
            Internet(hour, _scenario.InternetPerHour * load);
            ForwardedByNodes(hour, _scenario.InternetPerHour * load / 4);
            if (hourIndex % 6 == 0) Probes(hour);
        }
        CronRuns();
        StartupCalls();
        DebugPod();
        AnsweredScan();
        UnansweredScan();
        CrossBoundary();
        _connections.Sort((a, b) => a.Start.CompareTo(b.Start));
        return this;
    }

    private int Count(double expected) => (int)Math.Floor(expected + _random.NextDouble());

    private DateTime In(DateTime hour) => hour.AddSeconds(_random.Next(3600));

    private ushort Ephemeral() => (ushort)_random.Next(32768, 61000);

    private T? Pick<T>(IEnumerable<T> items) where T : class
    {
        var list = items as IList<T> ?? items.ToList();
        return list.Count == 0 ? null : list[_random.Next(list.Count)];
    }

    private TrafficPeer PodPeer(SimPod pod) => new(PeerRole.Pod, pod.Ip, pod, pod.Node);

    private TrafficPeer? Target(CallTarget target, DateTime t)
    {
        switch (target.Kind)
        {
            case TargetKind.Workload:
                return Pick(_pods.LiveAt(target.Name, t)) is { } pod ? PodPeer(pod) : null;
            case TargetKind.ApiServer:
                var cp = _scenario.Nodes.First(n => n.ControlPlane);
                return new TrafficPeer(PeerRole.ApiServer, cp.Ip, null, cp.Name);
            default:
                // The service answers on its addresses in turn (DNS round robin), so each client uses every one of them
                // once it has made as many calls as there are addresses.
                var external = _scenario.External(target.Name);
                int turn = _rotation.GetValueOrDefault(target.Name);
                _rotation[target.Name] = turn + 1;
                return new TrafficPeer(PeerRole.External, external.Addresses[turn % external.Addresses.Count]);
        }
    }

    private void Add(DateTime t, TrafficPeer client, TrafficPeer server, ushort port, Protocol protocol, ulong request, ulong response, Answer answer = Answer.Answered) =>
        _connections.Add(new TrafficConnection(t, client, server, Ephemeral(), port, protocol, request, response, answer));

    private void Call(ScenarioCall call, DateTime hour, double expected)
    {
        int n = Count(expected);
        for (int i = 0; i < n; i++)
        {
            var t = In(hour);
            var client = Pick(_pods.LiveAt(call.Client, t));
            var server = Target(call.Target, t);
            if (client is null || server is null) continue;
            Add(t, PodPeer(client), server, call.Port, call.Protocol, (ulong)_random.Next(200, 3000), (ulong)_random.Next(400, 40000));
        }
    }

    private void Dns(string workload, DateTime hour, double expected, Protocol protocol)
    {
        int n = Count(expected);
        for (int i = 0; i < n; i++)
        {
            var t = In(hour);
            var client = Pick(_pods.LiveAt(workload, t));
            var dns = Pick(_pods.LiveAt("kube-system/coredns", t));
            if (client is null || dns is null) continue;
            Add(t, PodPeer(client), PodPeer(dns), 53, protocol, 70, protocol == Protocol.Tcp ? 1800UL : 160UL);
        }
    }

    private void DnsAt(SimPod client, DateTime t)
    {
        var dns = Pick(_pods.LiveAt("kube-system/coredns", t));
        if (dns is not null) Add(t, PodPeer(client), PodPeer(dns), 53, Protocol.Udp, 70, 160);
    }

    private void Internet(DateTime hour, double expected)
    {
        int n = Count(expected);
        for (int i = 0; i < n; i++)
        {
            var t = In(hour);
            var pod = Pick(_pods.LiveAt(_scenario.FrontDoor.Workload, t));
            if (pod is null) continue;
            var client = _internetClients[_random.Next(_internetClients.Length)];
            Add(t, new TrafficPeer(PeerRole.Internet, client), PodPeer(pod), _scenario.FrontDoor.Port, Protocol.Tcp, (ulong)_random.Next(300, 3000), (ulong)_random.Next(2000, 90000));
        }
    }

    /// <summary>
    /// The office's internal load balancer reaches the front door through a NodePort Service with
    /// externalTrafficPolicy Cluster: a connection landing on a node without a front-door pod is forwarded by kube-proxy,
    /// which SNATs it to that node's address. So the pod sees a node that is not its own, which the NetworkPolicy spec
    /// does not exempt (only the pod's own node is).
    /// </summary>
    private void ForwardedByNodes(DateTime hour, double expected)
    {
        var workers = _scenario.Nodes.Where(n => !n.ControlPlane).ToList();
        int n = (int)Math.Floor(expected + _forwardRandom.NextDouble());
        for (int i = 0; i < n; i++)
        {
            var t = hour.AddSeconds(_forwardRandom.Next(3600));
            var live = _pods.LiveAt(_scenario.FrontDoor.Workload, t).ToList();
            if (live.Count == 0) continue;
            var pod = live[_forwardRandom.Next(live.Count)];
            var others = workers.Where(w => w.Name != pod.Node).ToList();
            if (others.Count == 0) continue;
            var node = others[_forwardRandom.Next(others.Count)];
            Add(t, new TrafficPeer(PeerRole.Node, node.Ip, null, node.Name), PodPeer(pod), _scenario.FrontDoor.Port, Protocol.Tcp,
                (ulong)_forwardRandom.Next(300, 3000), (ulong)_forwardRandom.Next(2000, 90000));
        }
    }

    /// <summary>Kubelet probes each pod's first TCP port from the pod's node.</summary>
    private void Probes(DateTime hour)
    {
        foreach (var pod in _pods.Pods)
        {
            if (!pod.LiveAt(hour) || pod.Workload.Ports.FirstOrDefault(p => p.Protocol == Protocol.Tcp) is not { } port) continue;
            var node = new TrafficPeer(PeerRole.Node, _pods.NodeIp(pod.Node), null, pod.Node);
            Add(hour.AddSeconds(_random.Next(60)), node, PodPeer(pod), port.Port, Protocol.Tcp, 120, 180);
        }
    }

    /// <summary>Each run of a CronJob makes its calls a few times while its pod lives.</summary>
    private void CronRuns()
    {
        foreach (var cron in _scenario.Workloads.Where(w => w.Kind == ControllerKind.CronJob))
        {
            var calls = _scenario.Calls.Where(c => c.Client == cron.Key).ToList();
            foreach (var pod in _pods.Of(cron.Key))
            {
                var t0 = pod.From.AddSeconds(10);
                DnsAt(pod, t0);
                for (int i = 0; i < 4; i++)
                    foreach (var call in calls)
                        if (Target(call.Target, t0.AddMinutes(i)) is { } server)
                            Add(t0.AddMinutes(i).AddSeconds(_random.Next(30)), PodPeer(pod), server, call.Port, call.Protocol, 900, 250_000);
            }
        }
    }

    /// <summary>Start-up-only calls: once per pod start inside the window (every rollout), never otherwise.</summary>
    private void StartupCalls()
    {
        foreach (var call in _scenario.Calls.Where(c => c.Pattern == CallPattern.StartupOnly))
            foreach (var pod in _pods.Of(call.Client).Where(p => p.From >= _scenario.Start && p.From < _scenario.End))
                if (Target(call.Target, pod.From) is { } server)
                    Add(pod.From.AddSeconds(15 + _random.Next(20)), PodPeer(pod), server, call.Port, call.Protocol, 700, 1500);
    }

    /// <summary>`kubectl run debug-shell`: a few lookups and pokes at the targets for ten minutes, once.</summary>
    private void DebugPod()
    {
        var pod = _pods.Of(_scenario.Noise.DebugPod.Namespace + "/" + _scenario.Noise.DebugPod.PodName).Single();
        var t = pod.From.AddMinutes(1);
        DnsAt(pod, t);
        foreach (var (workload, port) in _scenario.Noise.DebugPod.Targets)
            for (int i = 0; i < 3; i++)
            {
                var at = t.AddMinutes(2 + 3 * i);
                if (Pick(_pods.LiveAt(workload, at)) is { } server) Add(at, PodPeer(pod), PodPeer(server), port, Protocol.Tcp, 300, 900);
            }
    }

    /// <summary>
    /// A CI Job scans every pod of the application namespaces on many ports: tiny flows, each answered (SYN-ACK where
    /// something listens, RST elsewhere), nothing denied.
    /// </summary>
    private void AnsweredScan()
    {
        var (ns, job, targets) = _scenario.Noise.AnsweredScan;
        var scanner = _pods.Of(ns + "/" + job).Single();
        var t = scanner.From.AddMinutes(2);
        int i = 0;
        foreach (var target in _pods.Pods.Where(p => targets.Contains(p.Workload.Namespace) && p.LiveAt(t) && p.Workload.Ports.Count > 0))
            foreach (var port in ScanPorts.Concat(target.Workload.Ports.Select(p => p.Port)).Distinct())
            {
                bool open = target.Workload.Ports.Any(p => p.Port == port && p.Protocol == Protocol.Tcp);
                Add(t.AddMilliseconds(40 * i++), PodPeer(scanner), PodPeer(target), port, Protocol.Tcp, 60, open ? 60UL : 40UL, open ? Answer.Answered : Answer.Refused);
            }
    }

    /// <summary>An uninventoried machine sweeps pod addresses on a few ports; nothing answers.</summary>
    private void UnansweredScan()
    {
        var scanner = new TrafficPeer(PeerRole.UnknownHost, _scenario.Noise.UnansweredScanner);
        var t = _scenario.Start.AddDays(_scenario.Days * 0.7).AddHours(2);
        int i = 0;
        foreach (var target in _pods.Pods.Where(p => p.LiveAt(t)).Take(25))
            foreach (ushort port in new ushort[] { 22, 80, 443, 3389, 8080 })
                Add(t.AddMilliseconds(25 * i++), scanner, PodPeer(target), port, Protocol.Tcp, 44, 0, Answer.Unanswered);
    }

    /// <summary>Once, a workload calls a workload in a namespace its own never talks to (a staging env var pointing at production).</summary>
    private void CrossBoundary()
    {
        var (client, server, port) = _scenario.Noise.CrossBoundary;
        var t = _scenario.Start.AddDays(_scenario.Days * 0.35).AddHours(16);
        for (int i = 0; i < 3; i++)
        {
            var at = t.AddSeconds(20 * i);
            var from = Pick(_pods.LiveAt(client, at));
            var to = Pick(_pods.LiveAt(server, at));
            if (from is not null && to is not null) Add(at, PodPeer(from), PodPeer(to), port, Protocol.Tcp, 500, 2000);
        }
    }
}
