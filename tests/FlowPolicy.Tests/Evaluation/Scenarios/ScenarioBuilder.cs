using System.Net;

namespace FlowPolicy.Tests.Evaluation.Scenarios;

/// <summary>
/// Turns an application's part of a scenario (its workloads and call graph, from its manifests) into a whole cluster:
/// the platform every cluster has (CoreDNS, the API server on a control-plane node, Prometheus scraping, cert-manager
/// talking to the API server and an ACME endpoint), a CI namespace whose Job scans the cluster, and the nodes.
/// </summary>
internal static class ScenarioBuilder
{
    public static readonly DateTime DefaultStart = new(2026, 11, 2, 0, 0, 0, DateTimeKind.Utc); // a Monday

    public static ScenarioWorkload Deployment(string ns, string name, int replicas, int rolloutEveryDays, string serviceAccount,
        IReadOnlyList<ScenarioPort> ports, params (string Key, string Value)[] labels) =>
        new(ns, name, ControllerKind.Deployment, replicas, ports, labels.ToDictionary(l => l.Key, l => l.Value), serviceAccount)
        { RolloutEveryDays = rolloutEveryDays };

    public static ScenarioWorkload StatefulSet(string ns, string name, int replicas, string serviceAccount, IReadOnlyList<ScenarioPort> ports,
        params (string Key, string Value)[] labels) =>
        new(ns, name, ControllerKind.StatefulSet, replicas, ports, labels.ToDictionary(l => l.Key, l => l.Value), serviceAccount);

    public static ScenarioWorkload CronJob(string ns, string name, CronSchedule schedule, int hour, string serviceAccount, params (string Key, string Value)[] labels) =>
        new(ns, name, ControllerKind.CronJob, 1, [], labels.ToDictionary(l => l.Key, l => l.Value), serviceAccount) { Schedule = schedule, ScheduleHour = hour };

    public static ScenarioPort Tcp(ushort port, string? name = null) => new(port, Protocol.Tcp, name);
    public static ScenarioPort Udp(ushort port, string? name = null) => new(port, Protocol.Udp, name);

    public static IReadOnlyDictionary<string, string> NamespaceLabels(string name, params (string Key, string Value)[] extra)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal) { ["kubernetes.io/metadata.name"] = name };
        foreach (var (key, value) in extra) labels[key] = value;
        return labels;
    }

    /// <summary>The application part of a scenario; <see cref="Complete"/> adds the rest of the cluster.</summary>
    public sealed class AppPart
    {
        public required string Name { get; init; }
        public required string DerivedFrom { get; init; }
        public required int Days { get; init; }
        public required int Seed { get; init; }
        public required IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Namespaces { get; init; }
        public required IReadOnlyList<ScenarioWorkload> Workloads { get; init; }
        public required IReadOnlyList<ScenarioCall> Calls { get; init; }
        public required IReadOnlyList<ExternalService> Externals { get; init; }
        public required (string Workload, ushort Port) FrontDoor { get; init; }
        public required double InternetPerHour { get; init; }
        /// <summary>Workloads and metrics ports Prometheus scrapes.</summary>
        public required IReadOnlyList<(string Workload, ushort Port)> Scraped { get; init; }
        public required (string Namespace, IReadOnlyList<(string Workload, ushort Port)> Targets) DebugPod { get; init; }
        public required (string Client, string Server, ushort Port) CrossBoundary { get; init; }
    }

    public static Scenario Complete(AppPart app)
    {
        var workloads = new List<ScenarioWorkload>(app.Workloads)
        {
            Deployment("kube-system", "coredns", 2, 0, "coredns", [Udp(53, "dns"), Tcp(53, "dns-tcp"), Tcp(9153, "metrics")], ("k8s-app", "kube-dns")),
            StatefulSet("monitoring", "prometheus", 1, "prometheus", [Tcp(9090, "web")],
                ("app.kubernetes.io/name", "prometheus"), ("app.kubernetes.io/instance", "k8s")),
            Deployment("cert-manager", "cert-manager", 1, 0, "cert-manager", [Tcp(9402, "http-metrics")],
                ("app.kubernetes.io/name", "cert-manager"), ("app.kubernetes.io/component", "controller")),
            new ScenarioWorkload("ci", "ci-portscan-q7x2k", ControllerKind.Job, 1, [],
                new Dictionary<string, string> { ["app"] = "security-scan" }, "scanner") { UsesDns = false },
            new ScenarioWorkload(app.DebugPod.Namespace, "debug-shell", ControllerKind.BarePod, 1, [],
                new Dictionary<string, string> { ["run"] = "debug-shell" }, "default") { UsesDns = true },
        };
        var calls = new List<ScenarioCall>(app.Calls)
        {
            // CoreDNS watches Services and Endpoints; cert-manager and Prometheus (service discovery) watch the API too.
            new("kube-system/coredns", CallTarget.ApiServer, 6443, Protocol.Tcp, 0.5),
            new("cert-manager/cert-manager", CallTarget.ApiServer, 6443, Protocol.Tcp, 0.5),
            new("cert-manager/cert-manager", CallTarget.External("acme"), 443, Protocol.Tcp, 0.1),
            new("monitoring/prometheus", CallTarget.ApiServer, 6443, Protocol.Tcp, 0.3),
        };
        foreach (var (workload, port) in app.Scraped)
            calls.Add(new ScenarioCall("monitoring/prometheus", CallTarget.Workload(workload), port, Protocol.Tcp, 1));
        var namespaces = new Dictionary<string, IReadOnlyDictionary<string, string>>(app.Namespaces)
        {
            ["kube-system"] = NamespaceLabels("kube-system"),
            ["monitoring"] = NamespaceLabels("monitoring", ("team", "platform")),
            ["cert-manager"] = NamespaceLabels("cert-manager", ("team", "platform")),
            ["ci"] = NamespaceLabels("ci", ("team", "platform"), ("purpose", "ci")),
        };
        var externals = new List<ExternalService>(app.Externals)
        {
            // Let's Encrypt's ACME API answers on several addresses.
            new("acme", [IPAddress.Parse("172.65.32.248"), IPAddress.Parse("172.65.46.172")]),
        };
        var appNamespaces = app.Namespaces.Keys.ToList();
        return new Scenario
        {
            Name = app.Name,
            DerivedFrom = app.DerivedFrom,
            Days = app.Days,
            Start = DefaultStart,
            Seed = app.Seed,
            Namespaces = namespaces,
            Workloads = workloads,
            Calls = calls,
            Externals = externals,
            FrontDoor = app.FrontDoor,
            InternetPerHour = app.InternetPerHour,
            Nodes =
            [
                ("cp-1", IPAddress.Parse("10.0.0.10"), true),
                ("node-a", IPAddress.Parse("10.0.1.10"), false),
                ("node-b", IPAddress.Parse("10.0.1.11"), false),
                ("node-c", IPAddress.Parse("10.0.1.12"), false),
            ],
            Noise = new NoisePlan
            {
                DebugPod = (app.DebugPod.Namespace, "debug-shell", app.DebugPod.Targets),
                AnsweredScan = ("ci", "ci-portscan-q7x2k", appNamespaces),
                UnansweredScanner = IPAddress.Parse("10.0.9.99"),
                CrossBoundary = app.CrossBoundary,
            },
        };
    }
}
