using System.Net;
using FlowPolicy.Tests.Evaluation.Scenarios;
using FlowPolicy.Tests.Evaluation.Traffic;

namespace FlowPolicy.Tests.Evaluation;

/// <summary>Why a dependency is required.</summary>
internal enum DependencyReason
{
    /// <summary>An edge of the application's call graph (its manifests name the service).</summary>
    CallGraph,
    /// <summary>A CronJob's run makes it.</summary>
    CronJob,
    /// <summary>Made when a pod starts, at every rollout.</summary>
    StartupOnly,
    /// <summary>Name lookups: UDP, and TCP for answers that do not fit (RFC 7766).</summary>
    Dns,
    /// <summary>A controller watching the API server.</summary>
    ApiServer,
    /// <summary>The internet reaching the front door.</summary>
    InternetIngress,
    /// <summary>A load balancer's connections to the front door forwarded by another node (NodePort, SNAT to its address).</summary>
    NodePortIngress,
}

/// <summary>Which trap a connection that must stay closed comes from.</summary>
internal enum NoiseReason
{
    DebugPod,
    AnsweredScan,
    UnansweredScan,
    CrossBoundary,
    /// <summary>Not noise the traffic holds, just a pair the call graph does not have (anything not required is forbidden).</summary>
    OutsideCallGraph,
}

/// <summary>A client of the truth: a workload, the internet, the cluster's nodes, or an uninventoried host.</summary>
internal sealed record TruthClient(string Key)
{
    public const string InternetKey = "internet";
    public static readonly TruthClient Internet = new(InternetKey);
    /// <summary>Every worker node: a NodePort forwarded by any of them reaches the pod from that node's address.</summary>
    public const string NodesKey = "nodes";
    public static readonly TruthClient Nodes = new(NodesKey);
    public bool IsWorkload => Key.Contains('/');
    public override string ToString() => Key;
}

/// <summary>A dependency the application needs: enforcing a policy must never block it.</summary>
internal sealed record Dependency(TruthClient Client, CallTarget Target, ushort Port, Protocol Protocol, DependencyReason Reason)
{
    public override string ToString() => $"{Client} -> {Target}:{Port}/{(Protocol == Protocol.Udp ? "UDP" : "TCP")} ({Reason})";
}

/// <summary>A connection that must stay closed once the policy is enforced.</summary>
internal sealed record ForbiddenConnection(TruthClient Client, CallTarget Target, ushort Port, Protocol Protocol, NoiseReason Reason)
{
    public override string ToString() => $"{Client} -> {Target}:{Port}/{(Protocol == Protocol.Udp ? "UDP" : "TCP")} ({Reason})";
}

/// <summary>
/// What a correct policy allows and what it must not, derived from the scenario (its call graph, its platform and its
/// noise plan) and never from FlowPolicy's output: the required dependencies, the noise, and every other pair of a
/// workload (or the internet, or the scanner host) with a served port or an external service, which is forbidden.
/// Kubelet probes are left out: the NetworkPolicy spec allows a node to reach its own pods whatever the policy says. The
/// front door is required from every worker node (a NodePort Service forwarded by another node), which the spec does not
/// exempt; other traffic of the nodes is neither required nor forbidden.
/// Name lookups of a workload that makes none in the call graph (the debug pod, the scanner) are neither required nor
/// forbidden: allowing DNS to every pod of a namespace is common practice.
/// An external service is required on every address it answers on (the traffic uses each in turn, so a policy that
/// keeps what it saw holds; one that keeps only the latest address does not).
/// </summary>
internal sealed class GroundTruth
{
    /// <summary>An address on the internet no call goes to: egress there is forbidden for everyone.</summary>
    public static readonly IPAddress UnrelatedInternetAddress = IPAddress.Parse("93.184.216.34");

    private GroundTruth(IReadOnlyList<Dependency> required, IReadOnlyList<ForbiddenConnection> noise, IReadOnlyList<ForbiddenConnection> forbidden)
    {
        Required = required;
        Noise = noise;
        Forbidden = forbidden;
    }

    public IReadOnlyList<Dependency> Required { get; }
    /// <summary>The connections the noise in the traffic makes: the ones most at risk of being learned.</summary>
    public IReadOnlyList<ForbiddenConnection> Noise { get; }
    /// <summary>Every connection outside the truth the judge probes (the noise included).</summary>
    public IReadOnlyList<ForbiddenConnection> Forbidden { get; }

    public static GroundTruth Derive(Scenario scenario)
    {
        var required = new List<Dependency>();
        var noiseClients = new HashSet<string>(StringComparer.Ordinal)
        {
            scenario.Noise.DebugPod.Namespace + "/" + scenario.Noise.DebugPod.PodName,
            scenario.Noise.AnsweredScan.Namespace + "/" + scenario.Noise.AnsweredScan.JobName,
        };
        foreach (var call in scenario.Calls)
        {
            var client = scenario.Workload(call.Client);
            var reason = call.Pattern == CallPattern.StartupOnly ? DependencyReason.StartupOnly
                : client.Kind == ControllerKind.CronJob ? DependencyReason.CronJob
                : call.Target.Kind == TargetKind.ApiServer ? DependencyReason.ApiServer
                : DependencyReason.CallGraph;
            required.Add(new Dependency(new TruthClient(call.Client), call.Target, call.Port, call.Protocol, reason));
        }
        foreach (var w in scenario.Workloads.Where(w => w.UsesDns && !noiseClients.Contains(w.Key) && w.Key != "kube-system/coredns"))
        {
            required.Add(new Dependency(new TruthClient(w.Key), CallTarget.Workload("kube-system/coredns"), 53, Protocol.Udp, DependencyReason.Dns));
            required.Add(new Dependency(new TruthClient(w.Key), CallTarget.Workload("kube-system/coredns"), 53, Protocol.Tcp, DependencyReason.Dns));
        }
        required.Add(new Dependency(TruthClient.Internet, CallTarget.Workload(scenario.FrontDoor.Workload), scenario.FrontDoor.Port, Protocol.Tcp, DependencyReason.InternetIngress));
        required.Add(new Dependency(TruthClient.Nodes, CallTarget.Workload(scenario.FrontDoor.Workload), scenario.FrontDoor.Port, Protocol.Tcp, DependencyReason.NodePortIngress));
        required = required.Distinct().ToList();

        var noise = new List<ForbiddenConnection>();
        var debug = new TruthClient(scenario.Noise.DebugPod.Namespace + "/" + scenario.Noise.DebugPod.PodName);
        foreach (var (workload, port) in scenario.Noise.DebugPod.Targets)
            noise.Add(new ForbiddenConnection(debug, CallTarget.Workload(workload), port, Protocol.Tcp, NoiseReason.DebugPod));
        var scanner = new TruthClient(scenario.Noise.AnsweredScan.Namespace + "/" + scenario.Noise.AnsweredScan.JobName);
        var unanswered = new TruthClient(scenario.Noise.UnansweredScanner.ToString());
        foreach (var w in scenario.Workloads.Where(w => scenario.Noise.AnsweredScan.TargetNamespaces.Contains(w.Namespace) && w.Ports.Count > 0))
        {
            foreach (var port in ClusterTraffic.ScanPorts.Concat(w.Ports.Where(p => p.Protocol == Protocol.Tcp).Select(p => p.Port)).Distinct())
                noise.Add(new ForbiddenConnection(scanner, CallTarget.Workload(w.Key), port, Protocol.Tcp, NoiseReason.AnsweredScan));
            foreach (ushort port in new ushort[] { 22, 80, 443, 3389, 8080 })
                noise.Add(new ForbiddenConnection(unanswered, CallTarget.Workload(w.Key), port, Protocol.Tcp, NoiseReason.UnansweredScan));
        }
        var (crossClient, crossServer, crossPort) = scenario.Noise.CrossBoundary;
        noise.Add(new ForbiddenConnection(new TruthClient(crossClient), CallTarget.Workload(crossServer), crossPort, Protocol.Tcp, NoiseReason.CrossBoundary));

        // Everything else a client could try: every served port of every workload, every external service, the API
        // server, an unrelated internet address. What the truth requires is taken out; noise keeps its reason.
        bool IsRequired(TruthClient c, CallTarget t, ushort port, Protocol p) =>
            required.Any(d => d.Client == c && d.Target == t && d.Port == port && d.Protocol == p);
        var clients = scenario.Workloads.Select(w => new TruthClient(w.Key)).Append(TruthClient.Internet).Append(unanswered).ToList();
        var targets = new List<(CallTarget Target, ushort Port, Protocol Protocol)>();
        foreach (var w in scenario.Workloads)
            foreach (var port in w.Ports)
                targets.Add((CallTarget.Workload(w.Key), port.Port, port.Protocol));
        foreach (var external in scenario.Externals) targets.Add((CallTarget.External(external.Name), 443, Protocol.Tcp));
        targets.Add((CallTarget.ApiServer, 6443, Protocol.Tcp));
        targets.Add((CallTarget.External(UnrelatedInternetName), 443, Protocol.Tcp));
        var forbidden = new List<ForbiddenConnection>(noise);
        var seen = noise.Select(n => (n.Client, n.Target, n.Port, n.Protocol)).ToHashSet();
        foreach (var client in clients)
            foreach (var (target, port, protocol) in targets)
            {
                if (client.Key == target.Name) continue; // a workload talking to itself is not policed between its pods by these policies
                // DNS for every pod of a namespace is common practice (one rule instead of one per workload): a pod's
                // lookups are neither required nor forbidden unless the call graph has them (then they are required).
                if (client.IsWorkload && target == DnsTarget && port == 53) continue;
                if (!client.IsWorkload && target.Kind != TargetKind.Workload) continue; // outside-to-outside never crosses the cluster
                if (IsRequired(client, target, port, protocol) || !seen.Add((client, target, port, protocol))) continue;
                forbidden.Add(new ForbiddenConnection(client, target, port, protocol, NoiseReason.OutsideCallGraph));
            }
        return new GroundTruth(required, noise, forbidden);
    }

    private static readonly CallTarget DnsTarget = CallTarget.Workload("kube-system/coredns");

    /// <summary>The external "service" that stands for an arbitrary internet address (see <see cref="UnrelatedInternetAddress"/>).</summary>
    public const string UnrelatedInternetName = "unrelated-internet";
}
