using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Cli.Sample;

/// <summary>A pod of the sample app: one replica with its address for a span of time.</summary>
internal sealed record SamplePod(SampleWorkload Workload, string Name, PackedIp Ip, DateTime From, DateTime? To, string Node)
{
    public bool LiveAt(DateTime t) => t >= From && (To is null || t < To);
}

/// <summary>A workload of the sample app and the ports it serves.</summary>
internal sealed record SampleWorkload(string Namespace, string Name, string Kind, int Replicas, IReadOnlyList<(ushort Port, byte Protocol)> Ports,
    IReadOnlyDictionary<string, string> Labels)
{
    public string Key => Namespace + "/" + Name;
}

/// <summary>
/// The built-in sample: a small online shop on Kubernetes with the traps real clusters have: DNS, replies logged
/// as separate records, pod IPs reused by another workload, kubelet probes from nodes, internet ingress, external
/// egress, a weekly batch job, a start-up-only licence check, a scanner, a debug pod, and parallel "rooms" that
/// must stay apart. Deterministic for a given seed.
/// </summary>
internal sealed class SampleApp
{
    public static readonly PackedIp PaymentGateway = PackedIp.Parse("203.0.113.10");
    public static readonly PackedIp LicenseServer = PackedIp.Parse("198.51.100.7");
    /// <summary>An object store behind rotating addresses of one network: catalog fetches images from any of them.</summary>
    public static readonly PackedIp[] ObjectStore = Enumerable.Range(16, 8).Select(i => PackedIp.FromV4(192, 0, 2, (byte)i)).ToArray();

    /// <summary>The DNS names the shop resolves its providers by (the Hubble file carries the answers): the payment API, and one name per object-store address.</summary>
    public static string? ExternalName(PackedIp address)
    {
        if (address == PaymentGateway) return "api.payments.example.com";
        int store = Array.IndexOf(ObjectStore, address);
        return store >= 0 ? $"img-{store + 1}.objects.example.net" : null;
    }

    /// <summary>The gRPC methods a server's port answers (the Hubble file carries L7 records of them); null for servers without L7 visibility.</summary>
    public static string[]? GrpcMethods(string? server, ushort port) => (server, port) switch
    {
        ("shop/catalog", 3550) => ["/hipstershop.ProductCatalogService/ListProducts", "/hipstershop.ProductCatalogService/GetProduct"],
        ("shop/payment", 50051) => ["/hipstershop.PaymentService/Charge"],
        _ => null,
    };

    public SampleApp(DateTime start, int days)
    {
        Start = start;
        End = start.AddDays(days);
        Nodes = [("node-a", PackedIp.Parse("10.0.1.10")), ("node-b", PackedIp.Parse("10.0.1.11")), ("node-c", PackedIp.Parse("10.0.1.12"))];
        Workloads =
        [
            W("shop", "frontend", "Deployment", 3, [(8080, IpProtocols.Tcp)], ("app", "frontend"), ("tier", "web")),
            W("shop", "cart", "Deployment", 2, [(7070, IpProtocols.Tcp)], ("app", "cart"), ("tier", "backend")),
            W("shop", "catalog", "Deployment", 2, [(3550, IpProtocols.Tcp)], ("app", "catalog"), ("tier", "backend")),
            W("shop", "checkout", "Deployment", 2, [(5050, IpProtocols.Tcp)], ("app", "checkout"), ("tier", "backend")),
            W("shop", "payment", "Deployment", 1, [(50051, IpProtocols.Tcp)], ("app", "payment"), ("tier", "backend")),
            W("shop", "redis", "StatefulSet", 1, [(6379, IpProtocols.Tcp)], ("app", "redis"), ("tier", "data")),
            W("shop", "postgres", "StatefulSet", 1, [(5432, IpProtocols.Tcp)], ("app", "postgres"), ("tier", "data")),
            W("kube-system", "coredns", "Deployment", 2, [(53, IpProtocols.Udp), (53, IpProtocols.Tcp)], ("k8s-app", "kube-dns")),
            W("monitoring", "prometheus", "StatefulSet", 1, [(9090, IpProtocols.Tcp)], ("app", "prometheus")),
            W("batch", "weekly-report", "CronJob", 1, [], ("app", "weekly-report")),
            W("rooms", "room-a-signal", "Deployment", 1, [(7000, IpProtocols.Tcp)], ("app", "signal"), ("room", "a")),
            W("rooms", "room-a-media", "Deployment", 1, [(7100, IpProtocols.Udp)], ("app", "media"), ("room", "a")),
            W("rooms", "room-b-signal", "Deployment", 1, [(7000, IpProtocols.Tcp)], ("app", "signal"), ("room", "b")),
            W("rooms", "room-b-media", "Deployment", 1, [(7100, IpProtocols.Udp)], ("app", "media"), ("room", "b")),
            W("shop", "debug-shell", "Pod", 1, [], ("run", "debug-shell")),
        ];
        Pods = PlacePods();
    }

    public DateTime Start { get; }
    public DateTime End { get; }
    public IReadOnlyList<(string Name, PackedIp Ip)> Nodes { get; }
    public IReadOnlyList<SampleWorkload> Workloads { get; }
    public IReadOnlyList<SamplePod> Pods { get; }

    public SampleWorkload Workload(string key) => Workloads.First(w => w.Key == key);

    public IEnumerable<SamplePod> PodsOf(string key, DateTime at) => Pods.Where(p => p.Workload.Key == key && p.LiveAt(at));

    private static SampleWorkload W(string ns, string name, string kind, int replicas, (ushort, byte)[] ports, params (string, string)[] labels) =>
        new(ns, name, kind, replicas, ports, labels.ToDictionary(l => l.Item1, l => l.Item2));

    private List<SamplePod> PlacePods()
    {
        var pods = new List<SamplePod>();
        int next = 10;
        PackedIp NextIp() => PackedIp.FromV4(10, 244, (byte)(next / 250), (byte)(next++ % 250 + 2));
        foreach (var workload in Workloads)
        {
            if (workload.Kind is "CronJob" or "Pod") continue; // short-lived: placed when they run
            for (int r = 0; r < workload.Replicas; r++)
            {
                string node = Nodes[(pods.Count) % Nodes.Count].Name;
                pods.Add(new SamplePod(workload, PodName(workload, r, 0), NextIp(), Start.AddDays(-1), null, node));
            }
        }
        // A rollout of cart on day 2: its first pod's address goes to a new catalog pod a few minutes later,
        // so an address-only record means cart before the change and catalog after it.
        var cartPod = pods.First(p => p.Workload.Name == "cart");
        var rollout = Start.AddDays(Math.Min(1.5, (End - Start).TotalDays / 2));
        pods[pods.IndexOf(cartPod)] = cartPod with { To = rollout };
        pods.Add(new SamplePod(cartPod.Workload, PodName(cartPod.Workload, 0, 1), NextIp(), rollout, null, cartPod.Node));
        var catalogPod = pods.First(p => p.Workload.Name == "catalog");
        pods[pods.IndexOf(catalogPod)] = catalogPod with { To = rollout };
        pods.Add(new SamplePod(catalogPod.Workload, PodName(catalogPod.Workload, 0, 1), cartPod.Ip, rollout.AddMinutes(5), null, catalogPod.Node));
        return pods;
    }

    public SamplePod RunJobPod(string workloadKey, DateTime at, TimeSpan length, int run)
    {
        var workload = Workload(workloadKey);
        var name = workload.Kind == "CronJob"
            ? $"{workload.Name}-{(long)(at - DateTime.UnixEpoch).TotalMinutes}-{Suffix(run)}"
            : workload.Name;
        return new SamplePod(workload, name, PackedIp.FromV4(10, 244, 200, (byte)(10 + run % 200)), at.AddSeconds(-5), at + length, Nodes[run % Nodes.Count].Name);
    }

    private static string PodName(SampleWorkload workload, int replica, int generation) => workload.Kind switch
    {
        "StatefulSet" => $"{workload.Name}-{replica}",
        _ => $"{workload.Name}-{Hash(workload.Name, generation)}-{Suffix(replica + 7 * generation)}",
    };

    public static string TemplateHash(SampleWorkload workload, int generation) => Hash(workload.Name, generation);

    private static string Hash(string name, int generation)
    {
        const string alphabet = "bcdfghjklmnpqrstvwxz2456789";
        uint h = 2166136261;
        foreach (char c in name + generation) h = (h ^ c) * 16777619;
        var chars = new char[10];
        for (int i = 0; i < chars.Length; i++) { chars[i] = alphabet[(int)(h % (uint)alphabet.Length)]; h = h / 7 + 31 * (uint)i + 17; }
        return new string(chars);
    }

    private static string Suffix(int n)
    {
        const string alphabet = "bcdfghjklmnpqrstvwxz2456789";
        var chars = new char[5];
        uint h = (uint)(n * 2654435761);
        for (int i = 0; i < chars.Length; i++) { chars[i] = alphabet[(int)(h % (uint)alphabet.Length)]; h /= (uint)alphabet.Length; h += 7; }
        return new string(chars);
    }
}
