using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using FlowPolicy.Tests.Cli;
using FlowPolicy.Tests.Evaluation.Judge;
using FlowPolicy.Tests.Evaluation.Scenarios;
using FlowPolicy.Tests.Evaluation.Traffic;

namespace FlowPolicy.Tests.Evaluation;

/// <summary>The scores of one scenario in one input format.</summary>
internal sealed record ScenarioScore(
    string Scenario, EvaluationFormat Format, int Days, long Records, int Edges, int Rules, int NetworkPolicies,
    int Required, IReadOnlyList<Dependency> Blocked,
    int Noise, IReadOnlyList<ForbiddenConnection> NoiseAllowed,
    int Forbidden, IReadOnlyList<ForbiddenConnection> ExtraAllowed,
    int SuggestExit, string SuggestStderr, int CheckExit, string CheckVerdict, long JudgedPairs, double Seconds)
{
    public bool Passes => Blocked.Count == 0 && ExtraAllowed.Count == 0 && CheckExit == 0;
}

/// <summary>
/// One scenario in one format, end to end: generate the traffic, write it in the format, run `flowpolicy suggest`
/// (the CLI itself, as a user runs it) with `--emit k8s,json`, judge the emitted NetworkPolicies against the ground
/// truth with <see cref="NetworkPolicyJudge"/> (both ipBlock readings: a portable policy must hold under each), and run
/// `flowpolicy check` on the suggestion over the same flows.
/// </summary>
internal static class EvaluationRun
{
    /// <summary>Public addresses no internet client of the traffic used: the front door must be open to them too.</summary>
    private static readonly IPAddress[] UnseenInternetClients = [IPAddress.Parse("45.33.32.156"), IPAddress.Parse("185.199.108.153"), IPAddress.Parse("2.17.1.1")];

    public static IReadOnlyList<Scenario> AllScenarios() => [OnlineBoutique.Create(), BankOfAnthos.Create(), SockShop.Create()];

    /// <summary>The scenarios to run: all, or those FLOWPOLICY_EVALUATION_SCENARIOS names (comma separated).</summary>
    public static IReadOnlyList<Scenario> Scenarios() => Selected(AllScenarios(), "FLOWPOLICY_EVALUATION_SCENARIOS", s => s.Name);

    /// <summary>The formats to run: all, or those FLOWPOLICY_EVALUATION_FORMATS names (comma separated, e.g. Hubble,AwsVpc).</summary>
    public static IReadOnlyList<EvaluationFormat> Formats() => Selected(Enum.GetValues<EvaluationFormat>(), "FLOWPOLICY_EVALUATION_FORMATS", f => f.ToString());

    private static IReadOnlyList<T> Selected<T>(IReadOnlyList<T> all, string variable, Func<T, string> name)
    {
        if (Environment.GetEnvironmentVariable(variable) is not { Length: > 0 } list) return all;
        var wanted = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var selected = all.Where(x => wanted.Contains(name(x))).ToList();
        return selected.Count > 0 ? selected : throw new ArgumentException($"{variable}={list} names none of {string.Join(", ", all.Select(name))}");
    }

    public static ScenarioScore Run(Scenario scenario, EvaluationFormat format, string workDirectory)
    {
        var clock = Stopwatch.StartNew();
        var pods = new ClusterPods(scenario);
        var traffic = new ClusterTraffic(scenario, pods).Generate();
        string input = Path.Combine(workDirectory, "input");
        string output = Path.Combine(workDirectory, "suggestion");
        // A kept directory (FLOWPOLICY_EVALUATION_DIR) starts afresh: suggest refuses to replace a larger earlier output.
        foreach (var dir in new[] { input, output })
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        var written = new FlowLogWriter(scenario, pods).Write(format, traffic, input);
        string from = scenario.Start.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        string to = scenario.End.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

        var suggestArgs = new List<string> { "suggest", "--flows" };
        suggestArgs.AddRange(written.FlowFiles);
        suggestArgs.Add("--inventory");
        suggestArgs.AddRange(written.InventoryFiles);
        // Every namespace gets policies (kube-system too, which suggest leaves out by default): the whole cluster is judged.
        suggestArgs.AddRange(["--from", from, "--to", to, "--emit", "k8s,json", "--out", output, "--include-namespace", "*"]);
        var suggest = CliProcess.Run([.. suggestArgs]);
        (int edges, int rules) = (-1, -1);
        string suggestionsJson = Path.Combine(output, "suggestions.json");
        if (File.Exists(suggestionsJson))
        {
            using var json = JsonDocument.Parse(File.ReadAllBytes(suggestionsJson));
            edges = json.RootElement.GetProperty("input_edges").GetInt32();
            rules = json.RootElement.GetProperty("rules").GetArrayLength();
        }

        var policies = NetworkPolicyDocument.LoadDirectory(Path.Combine(output, "k8s"));
        var judges = new[]
        {
            new NetworkPolicyJudge(policies, scenario.Namespaces, IpBlockPodMatching.NeverPods),
            new NetworkPolicyJudge(policies, scenario.Namespaces, IpBlockPodMatching.PodAddresses),
        };
        var truth = GroundTruth.Derive(scenario);
        var probes = new ProbeEndpoints(scenario, pods, traffic);
        long pairs = 0;
        var blocked = new List<Dependency>();
        foreach (var dependency in truth.Required)
        {
            bool allAllowed = true;
            foreach (var client in probes.Clients(dependency.Client))
                foreach (var server in probes.Servers(dependency.Target))
                    foreach (var judge in judges)
                    {
                        pairs++;
                        allAllowed &= judge.Allows(client, server, dependency.Port, dependency.Protocol);
                    }
            if (!allAllowed) blocked.Add(dependency);
        }
        var allowedForbidden = new List<ForbiddenConnection>();
        foreach (var forbidden in truth.Forbidden)
        {
            bool anyAllowed = false;
            foreach (var client in probes.Clients(forbidden.Client))
                foreach (var server in probes.Servers(forbidden.Target))
                    foreach (var judge in judges)
                    {
                        pairs++;
                        anyAllowed |= judge.Allows(client, server, forbidden.Port, forbidden.Protocol);
                    }
            if (anyAllowed) allowedForbidden.Add(forbidden);
        }

        var checkArgs = new List<string> { "check", "--policies", Path.Combine(output, "k8s"), "--flows" };
        checkArgs.AddRange(written.FlowFiles);
        checkArgs.Add("--inventory");
        checkArgs.AddRange(written.InventoryFiles);
        checkArgs.AddRange(["--from", from, "--to", to]);
        var check = policies.Count == 0 ? new CliProcess.Result(-1, "", "no NetworkPolicy emitted") : CliProcess.Run([.. checkArgs]);
        string checkVerdict = check.Stderr.Split('\n').LastOrDefault(l => l.Contains("check passed", StringComparison.Ordinal) || l.Contains("check failed", StringComparison.Ordinal))?.Trim()
            ?? check.Stderr.Trim().Split('\n').LastOrDefault() ?? "";

        return new ScenarioScore(scenario.Name, format, scenario.Days, written.Records, edges, rules, policies.Count,
            truth.Required.Count, blocked, truth.Noise.Count, allowedForbidden.Where(f => f.Reason != NoiseReason.OutsideCallGraph).ToList(),
            truth.Forbidden.Count, allowedForbidden, suggest.ExitCode, suggest.Stderr, check.ExitCode, checkVerdict, pairs, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// The concrete endpoints a truth entry is probed with. A workload is probed with its last pod of the window and
    /// with a pod of its next rollout (new per-pod labels, new address): the policy is applied after the window, to
    /// pods that may not exist yet.
    /// </summary>
    private sealed class ProbeEndpoints(Scenario scenario, ClusterPods pods, ClusterTraffic traffic)
    {
        private readonly Dictionary<string, IReadOnlyList<JudgeEndpoint>> _workloads = new(StringComparer.Ordinal);

        public IReadOnlyList<JudgeEndpoint> Clients(TruthClient client)
        {
            if (client.Key == TruthClient.InternetKey)
                return traffic.InternetClients.Take(3).Concat(UnseenInternetClients).Select(ip => (JudgeEndpoint)new AddressEndpoint(ip)).ToList();
            // Every worker, so each probed pod is reached from its own node (exempt by the spec) and from the others (not).
            if (client.Key == TruthClient.NodesKey)
                return scenario.Nodes.Where(n => !n.ControlPlane).Select(n => (JudgeEndpoint)new AddressEndpoint(n.Ip, n.Name)).ToList();
            return client.IsWorkload ? Workload(client.Key) : [new AddressEndpoint(IPAddress.Parse(client.Key))];
        }

        public IReadOnlyList<JudgeEndpoint> Servers(CallTarget target) => target.Kind switch
        {
            TargetKind.Workload => Workload(target.Name),
            TargetKind.ApiServer => scenario.Nodes.Where(n => n.ControlPlane).Select(n => (JudgeEndpoint)new AddressEndpoint(n.Ip, n.Name)).ToList(),
            _ when target.Name == GroundTruth.UnrelatedInternetName => [new AddressEndpoint(GroundTruth.UnrelatedInternetAddress)],
            _ => scenario.External(target.Name).Addresses.Select(ip => (JudgeEndpoint)new AddressEndpoint(ip)).ToList(),
        };

        private IReadOnlyList<JudgeEndpoint> Workload(string key)
        {
            if (_workloads.TryGetValue(key, out var cached)) return cached;
            var workload = scenario.Workload(key);
            var last = pods.Of(key).MaxBy(p => p.From) ?? throw new InvalidOperationException($"{scenario.Name}: {key} has no pod");
            var named = workload.Ports.Where(p => p.Name is not null).ToDictionary(p => p.Name!, p => (p.Port, p.Protocol), StringComparer.Ordinal);
            var nextLabels = new Dictionary<string, string>(last.Labels);
            foreach (var key2 in new[] { "pod-template-hash", "controller-revision-hash" })
                if (nextLabels.ContainsKey(key2)) nextLabels[key2] = ClusterPods.Hash(key, 99);
            foreach (var key2 in new[] { "job-name", "batch.kubernetes.io/job-name" })
                if (nextLabels.ContainsKey(key2)) nextLabels[key2] = workload.Name + "-99999999";
            if (workload.ReleaseLabel is { } release) nextLabels[release] = ClusterPods.ReleaseValue(99);
            if (nextLabels.ContainsKey("controller-uid")) nextLabels["controller-uid"] = "00000000-0000-0000-0000-000000000099";
            var list = new List<JudgeEndpoint>
            {
                new PodEndpoint(new JudgePod(workload.Namespace, last.Labels, last.Ip, last.Node, named) { Name = last.Name }),
                new PodEndpoint(new JudgePod(workload.Namespace, nextLabels, IPAddress.Parse("10.244.200.1"), last.Node, named) { Name = workload.Name + "-next" }),
            };
            _workloads[key] = list;
            return list;
        }
    }
}
