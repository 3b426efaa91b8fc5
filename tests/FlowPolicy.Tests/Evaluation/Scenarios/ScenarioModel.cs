using System.Net;

namespace FlowPolicy.Tests.Evaluation.Scenarios;

/// <summary>How a workload's pods are run, which decides their names, labels and lifetimes.</summary>
internal enum ControllerKind
{
    Deployment,
    StatefulSet,
    DaemonSet,
    /// <summary>Runs on a schedule (<see cref="ScenarioWorkload.Schedule"/>); each run is a Job pod named after the scheduled minute.</summary>
    CronJob,
    /// <summary>A Job outside any CronJob (a CI job): one pod, owned by the Job.</summary>
    Job,
    /// <summary>A pod without a controller (`kubectl run`).</summary>
    BarePod,
}

/// <summary>When a CronJob runs.</summary>
internal enum CronSchedule
{
    None,
    /// <summary>Every day at <see cref="ScenarioWorkload.ScheduleHour"/>.</summary>
    Daily,
    /// <summary>Every Sunday at <see cref="ScenarioWorkload.ScheduleHour"/>.</summary>
    Weekly,
}

internal sealed record ScenarioPort(ushort Port, Protocol Protocol, string? Name = null);

/// <summary>IANA protocol numbers the scenarios use; the judge compares them with NetworkPolicy's names.</summary>
internal enum Protocol : byte
{
    Tcp = 6,
    Udp = 17,
}

/// <summary>A workload of a scenario: what its manifest says (name, controller, replicas, ports, pod labels, service account).</summary>
internal sealed record ScenarioWorkload(
    string Namespace, string Name, ControllerKind Kind, int Replicas, IReadOnlyList<ScenarioPort> Ports,
    IReadOnlyDictionary<string, string> Labels, string ServiceAccount)
{
    public string Key => Namespace + "/" + Name;
    public CronSchedule Schedule { get; init; }
    public int ScheduleHour { get; init; }
    /// <summary>Days between rollouts of a Deployment (a new ReplicaSet hash each time); 0 = no rollout in the window.</summary>
    public int RolloutEveryDays { get; init; }
    /// <summary>A pod label whose value changes at every rollout (Istio's `version`, Helm's `app.kubernetes.io/version`), or null.</summary>
    public string? ReleaseLabel { get; init; }
    /// <summary>Long-running workloads resolve names through kube-dns; the generator sends their lookups.</summary>
    public bool UsesDns { get; init; } = true;
}

/// <summary>What a call goes to.</summary>
internal enum TargetKind
{
    /// <summary>Pods of a workload of the scenario.</summary>
    Workload,
    /// <summary>The Kubernetes API server on the control-plane nodes.</summary>
    ApiServer,
    /// <summary>A service outside the cluster on one or more addresses (a SaaS rotating its addresses).</summary>
    External,
}

internal sealed record CallTarget(TargetKind Kind, string Name)
{
    public static CallTarget Workload(string key) => new(TargetKind.Workload, key);
    public static readonly CallTarget ApiServer = new(TargetKind.ApiServer, "apiserver");
    public static CallTarget External(string name) => new(TargetKind.External, name);
    public override string ToString() => Kind switch { TargetKind.Workload => Name, TargetKind.ApiServer => "apiserver", _ => "external:" + Name };
}

/// <summary>When a call is made.</summary>
internal enum CallPattern
{
    /// <summary>All the time, following the daily load curve (or during every run, for a CronJob client).</summary>
    Steady,
    /// <summary>Only when a pod of the client starts (at every rollout): the dependency nobody lists.</summary>
    StartupOnly,
}

/// <summary>One edge of the application's call graph, as its manifests declare it (an env var naming the service it calls).</summary>
internal sealed record ScenarioCall(string Client, CallTarget Target, ushort Port, Protocol Protocol, double PerHour, CallPattern Pattern = CallPattern.Steady);

/// <summary>A service outside the cluster: a name and the addresses it answers on (several, rotating).</summary>
internal sealed record ExternalService(string Name, IReadOnlyList<IPAddress> Addresses);

/// <summary>
/// One application on one cluster: namespaces with their labels, workloads, the call graph, external services and the
/// front door the internet reaches. Platform pieces every cluster has (kube-dns, the API server, node probes) and the
/// noise (scans, a debug pod, a one-off cross-namespace call) are added by <see cref="ScenarioBuilder"/>.
/// </summary>
internal sealed class Scenario
{
    public required string Name { get; init; }
    /// <summary>Upstream repository, path and commit the application part was derived from.</summary>
    public required string DerivedFrom { get; init; }
    public required int Days { get; init; }
    public required DateTime Start { get; init; }
    public DateTime End => Start.AddDays(Days);
    public required int Seed { get; init; }
    public required IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Namespaces { get; init; }
    public required IReadOnlyList<ScenarioWorkload> Workloads { get; init; }
    public required IReadOnlyList<ScenarioCall> Calls { get; init; }
    public required IReadOnlyList<ExternalService> Externals { get; init; }
    /// <summary>The workload and port the internet reaches (through a load balancer that keeps client addresses).</summary>
    public required (string Workload, ushort Port) FrontDoor { get; init; }
    public required double InternetPerHour { get; init; }
    public required IReadOnlyList<(string Name, IPAddress Ip, bool ControlPlane)> Nodes { get; init; }
    public required NoisePlan Noise { get; init; }

    public ScenarioWorkload Workload(string key) => Workloads.FirstOrDefault(w => w.Key == key) ?? throw new KeyNotFoundException($"{Name}: no workload {key}");
    public ExternalService External(string name) => Externals.First(e => e.Name == name);
    public IEnumerable<IPAddress> ApiServerAddresses => Nodes.Where(n => n.ControlPlane).Select(n => n.Ip);
    public override string ToString() => Name;
}

/// <summary>The traffic that must never be learned, placed in the window by the generator.</summary>
internal sealed class NoisePlan
{
    /// <summary>A bare debug pod (`kubectl run`) in this namespace that pokes these targets for a few minutes, once.</summary>
    public required (string Namespace, string PodName, IReadOnlyList<(string Workload, ushort Port)> Targets) DebugPod { get; init; }
    /// <summary>A CI Job's pod that scans these namespaces' pods on many ports; every probe is answered (SYN-ACK or RST).</summary>
    public required (string Namespace, string JobName, IReadOnlyList<string> TargetNamespaces) AnsweredScan { get; init; }
    /// <summary>An unknown machine inside the VPC sweeping pod addresses; nothing answers.</summary>
    public required IPAddress UnansweredScanner { get; init; }
    /// <summary>Once, a workload calls a workload in a namespace its own never talks to (a wrong env var in staging).</summary>
    public required (string Client, string Server, ushort Port) CrossBoundary { get; init; }
}
