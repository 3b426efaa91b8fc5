using System.Globalization;
using System.Net;
using FlowPolicy.Tests.Evaluation.Scenarios;

namespace FlowPolicy.Tests.Evaluation.Traffic;

/// <summary>One pod of a scenario: its name, address, node, labels (per-pod ones included) and when it held the address.</summary>
internal sealed record SimPod(ScenarioWorkload Workload, string Name, IPAddress Ip, DateTime From, DateTime? To, string Node,
    IReadOnlyDictionary<string, string> Labels, int Generation)
{
    public bool LiveAt(DateTime t) => t >= From && (To is null || t < To);
    /// <summary>The controller that owns the pod as Kubernetes records it (ReplicaSet NAME-HASH, the Job, ...), null for a bare pod.</summary>
    public (string Kind, string Name)? Owner { get; init; }
}

/// <summary>
/// The pods of a scenario over its window, as a cluster runs them: Deployments roll out every few days (a new
/// ReplicaSet hash, pods replaced one by one), StatefulSet pods restart with their ordinal name and a new address,
/// CronJobs start a pod per run, and addresses freed by one pod go to the next pod started on that node a minute
/// later, whatever its workload (IP reuse across workloads).
/// </summary>
internal sealed class ClusterPods
{
    private const string HashAlphabet = "bcdfghjklmnpqrstvwxz2456789";
    private readonly Scenario _scenario;
    private readonly Random _random;
    private readonly Dictionary<string, List<SimPod>> _byWorkload = new(StringComparer.Ordinal);

    public ClusterPods(Scenario scenario)
    {
        _scenario = scenario;
        _random = new Random(scenario.Seed);
        var plans = Plan();
        Pods = AssignAddresses(plans);
        foreach (var pod in Pods)
        {
            if (!_byWorkload.TryGetValue(pod.Workload.Key, out var list)) _byWorkload[pod.Workload.Key] = list = [];
            list.Add(pod);
        }
    }

    public IReadOnlyList<SimPod> Pods { get; }

    public IReadOnlyList<string> WorkerNodes => _scenario.Nodes.Where(n => !n.ControlPlane).Select(n => n.Name).ToList();

    public IEnumerable<SimPod> Of(string workloadKey) => _byWorkload.TryGetValue(workloadKey, out var list) ? list : [];

    public IEnumerable<SimPod> LiveAt(string workloadKey, DateTime t) => Of(workloadKey).Where(p => p.LiveAt(t));

    public IPAddress NodeIp(string node) => _scenario.Nodes.First(n => n.Name == node).Ip;

    private sealed record PodPlan(ScenarioWorkload Workload, string Name, DateTime From, DateTime? To, string Node,
        IReadOnlyDictionary<string, string> Labels, int Generation, (string Kind, string Name)? Owner);

    private List<PodPlan> Plan()
    {
        var plans = new List<PodPlan>();
        var nodes = WorkerNodes;
        int placed = 0;
        string NextNode() => nodes[placed++ % nodes.Count];
        var before = _scenario.Start.AddDays(-2);
        foreach (var w in _scenario.Workloads)
        {
            switch (w.Kind)
            {
                case ControllerKind.Deployment:
                {
                    int generations = w.RolloutEveryDays > 0 ? 1 + (_scenario.Days - 1) / w.RolloutEveryDays : 1;
                    var nodeOf = Enumerable.Range(0, w.Replicas).Select(_ => NextNode()).ToArray();
                    for (int g = 0; g < generations; g++)
                    {
                        // Rollouts happen during working hours, replica by replica.
                        DateTime from = g == 0 ? before : _scenario.Start.AddDays(g * w.RolloutEveryDays).AddHours(10 + _random.Next(6)).AddMinutes(_random.Next(60));
                        string hash = Hash(w.Key, g);
                        for (int r = 0; r < w.Replicas; r++)
                        {
                            var labels = new Dictionary<string, string>(w.Labels) { ["pod-template-hash"] = hash };
                            if (w.ReleaseLabel is { } release) labels[release] = ReleaseValue(g);
                            plans.Add(new PodPlan(w, $"{w.Name}-{hash}-{Suffix()}", from.AddMinutes(r), null, nodeOf[(r + g) % nodeOf.Length], labels, g,
                                ("ReplicaSet", $"{w.Name}-{hash}")));
                        }
                    }
                    break;
                }
                case ControllerKind.StatefulSet:
                {
                    string revision = $"{w.Name}-{Hash(w.Key, 0)}";
                    for (int r = 0; r < w.Replicas; r++)
                    {
                        string name = $"{w.Name}-{r}";
                        var labels = new Dictionary<string, string>(w.Labels) { ["controller-revision-hash"] = revision, ["statefulset.kubernetes.io/pod-name"] = name };
                        // One restart in the window: same name, new address (back within a minute, before its old one is free again).
                        var restart = _scenario.Start.AddDays(_scenario.Days * (0.3 + 0.4 * _random.NextDouble())).AddMinutes(_random.Next(600));
                        string node = NextNode();
                        plans.Add(new PodPlan(w, name, before, restart, node, labels, 0, ("StatefulSet", w.Name)));
                        plans.Add(new PodPlan(w, name, restart.AddSeconds(40), null, node, labels, 1, ("StatefulSet", w.Name)));
                    }
                    break;
                }
                case ControllerKind.DaemonSet:
                    foreach (var node in nodes)
                        plans.Add(new PodPlan(w, $"{w.Name}-{Suffix()}", before, null, node, new Dictionary<string, string>(w.Labels), 0, ("DaemonSet", w.Name)));
                    break;
                case ControllerKind.CronJob:
                    for (var day = _scenario.Start.Date; day < _scenario.End; day = day.AddDays(1))
                    {
                        if (w.Schedule == CronSchedule.Weekly && day.DayOfWeek != DayOfWeek.Sunday) continue;
                        var at = day.AddHours(w.ScheduleHour);
                        string job = $"{w.Name}-{(long)(at - DateTime.UnixEpoch).TotalMinutes}";
                        var labels = new Dictionary<string, string>(w.Labels) { ["job-name"] = job, ["batch.kubernetes.io/job-name"] = job, ["controller-uid"] = Guid(job) };
                        plans.Add(new PodPlan(w, $"{job}-{Suffix()}", at.AddSeconds(-5), at.AddMinutes(12), NextNode(), labels, 0, ("Job", job)));
                    }
                    break;
                case ControllerKind.Job:
                {
                    var at = _scenario.Start.AddDays(_scenario.Days * 0.55).AddHours(3);
                    var labels = new Dictionary<string, string>(w.Labels) { ["job-name"] = w.Name, ["batch.kubernetes.io/job-name"] = w.Name, ["controller-uid"] = Guid(w.Name) };
                    plans.Add(new PodPlan(w, $"{w.Name}-{Suffix()}", at, at.AddMinutes(30), NextNode(), labels, 0, ("Job", w.Name)));
                    break;
                }
                case ControllerKind.BarePod:
                {
                    var at = _scenario.Start.AddDays(_scenario.Days * 0.4).AddHours(14);
                    plans.Add(new PodPlan(w, w.Name, at, at.AddMinutes(25), NextNode(), new Dictionary<string, string>(w.Labels), 0, null));
                    break;
                }
            }
        }
        // Old ReplicaSet pods end a minute after each new one starts.
        var ends = new List<PodPlan>();
        foreach (var group in plans.Where(p => p.Workload.Kind == ControllerKind.Deployment).GroupBy(p => p.Workload.Key))
        {
            var gens = group.GroupBy(p => p.Generation).OrderBy(g => g.Key).Select(g => g.ToList()).ToList();
            for (int g = 0; g < gens.Count; g++)
                foreach (var (pod, r) in gens[g].Select((p, i) => (p, i)))
                    ends.Add(g + 1 < gens.Count ? pod with { To = gens[g + 1][r % gens[g + 1].Count].From.AddMinutes(1) } : pod);
        }
        plans.RemoveAll(p => p.Workload.Kind == ControllerKind.Deployment);
        plans.AddRange(ends);
        return plans;
    }

    /// <summary>
    /// Per node, a /24 of pod addresses; a pod takes the address most recently freed on its node (at least a minute
    /// ago), else the next unused one: so addresses move between workloads within minutes, as with real IPAM.
    /// </summary>
    private List<SimPod> AssignAddresses(List<PodPlan> plans)
    {
        var nodeIndex = _scenario.Nodes.Select((n, i) => (n.Name, i)).ToDictionary(x => x.Name, x => x.i);
        var nextHost = new Dictionary<string, int>(StringComparer.Ordinal);
        var freed = new Dictionary<string, List<(IPAddress Ip, DateTime At)>>(StringComparer.Ordinal);
        var pods = new List<SimPod>();
        var live = new List<SimPod>();
        foreach (var plan in plans.OrderBy(p => p.From).ThenBy(p => p.Name, StringComparer.Ordinal))
        {
            foreach (var ended in live.Where(p => p.To is { } to && to <= plan.From).ToList())
            {
                live.Remove(ended);
                if (!freed.TryGetValue(ended.Node, out var list)) freed[ended.Node] = list = [];
                list.Add((ended.Ip, ended.To!.Value));
            }
            IPAddress ip;
            var candidates = freed.TryGetValue(plan.Node, out var free) ? free.Where(f => f.At.AddMinutes(1) <= plan.From).ToList() : [];
            if (candidates.Count > 0)
            {
                var pick = candidates.MaxBy(f => f.At);
                free!.Remove(pick);
                ip = pick.Ip;
            }
            else
            {
                int host = nextHost.GetValueOrDefault(plan.Node, 10);
                nextHost[plan.Node] = host + 1;
                ip = IPAddress.Parse($"10.244.{nodeIndex[plan.Node]}.{host}");
            }
            var pod = new SimPod(plan.Workload, plan.Name, ip, plan.From, plan.To, plan.Node, plan.Labels, plan.Generation) { Owner = plan.Owner };
            pods.Add(pod);
            live.Add(pod);
        }
        return pods;
    }

    /// <summary>The release label's value for a generation of pods (a version bumped at each rollout).</summary>
    public static string ReleaseValue(int generation) => $"v1.{generation}.0";

    public static string Hash(string name, int generation)
    {
        uint h = 2166136261;
        foreach (char c in name + "#" + generation) h = (h ^ c) * 16777619;
        // As the Deployment controller writes it: rand.SafeEncodeString of the hash's decimal digits, each byte mapped
        // into the alphabet (so a pod-template-hash only ever holds 4-9 and b, c, d, f).
        var digits = h.ToString(CultureInfo.InvariantCulture);
        var chars = new char[digits.Length];
        for (int i = 0; i < chars.Length; i++) chars[i] = HashAlphabet[digits[i] % HashAlphabet.Length];
        return new string(chars);
    }

    private string Suffix()
    {
        var chars = new char[5];
        for (int i = 0; i < chars.Length; i++) chars[i] = HashAlphabet[_random.Next(HashAlphabet.Length)];
        return new string(chars);
    }

    private static string Guid(string seed)
    {
        var bytes = System.Security.Cryptography.MD5.HashData(System.Text.Encoding.UTF8.GetBytes(seed));
        return new System.Guid(bytes).ToString();
    }
}
