using FlowPolicy.Tests.Evaluation.Scenarios;
using FlowPolicy.Tests.Evaluation.Traffic;
using Xunit.Abstractions;

namespace FlowPolicy.Tests.Evaluation;

/// <summary>
/// The evaluation of issue 16: FlowPolicy's suggestions on clusters built from real applications' call graphs, in every
/// input format, judged against the ground truth. The harness test always runs; the three assertions of the issue are
/// theories per scenario and format (docs/evaluation.md has the scorecard).
/// </summary>
[Collection(EvaluationCollection.Name)]
public sealed class EvaluationTests(EvaluationFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public void The_evaluation_scores_every_scenario_in_every_format()
    {
        output.WriteLine(fixture.Text);
        Assert.Equal(EvaluationRun.Scenarios().Count * EvaluationRun.Formats().Count, fixture.Scores.Count);
        foreach (var s in fixture.Scores)
        {
            Assert.True(s.SuggestExit == 0, $"{s.Scenario}/{s.Format}: suggest exited {s.SuggestExit}: {s.SuggestStderr}");
            Assert.True(s.Records > 10_000, $"{s.Scenario}/{s.Format}: only {s.Records} records written");
            Assert.True(s.Edges > 30 && s.Rules > 0, $"{s.Scenario}/{s.Format}: {s.Edges} edges, {s.Rules} rules");
            Assert.True(s.NetworkPolicies > 0, $"{s.Scenario}/{s.Format}: no NetworkPolicy emitted");
            Assert.True(s.Required > 30 && s.Noise > 50 && s.Forbidden > s.Noise, $"{s.Scenario}/{s.Format}: truth too small");
            Assert.True(s.JudgedPairs > 4 * (s.Required + s.Forbidden), $"{s.Scenario}/{s.Format}: {s.JudgedPairs} pairs judged");
            Assert.Contains(s.CheckExit, new[] { 0, 1 });
            // A suggestion can only be judged if it is not "allow everything": most forbidden probes must be denied.
            Assert.True(s.ExtraAllowed.Count < s.Forbidden / 2, $"{s.Scenario}/{s.Format}: {s.ExtraAllowed.Count} of {s.Forbidden} forbidden allowed");
        }
        Assert.Contains("| scenario | format |", fixture.Text, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(EvaluationFixture.Cases), MemberType = typeof(EvaluationFixture))]
    public void No_required_dependency_is_blocked(string scenario, string format)
    {
        if (fixture.Score(scenario, format) is not { } score) return; // left out of this run by FLOWPOLICY_EVALUATION_SCENARIOS/FORMATS
        Assert.True(score.Blocked.Count == 0, $"{score.Blocked.Count} blocked:\n{string.Join("\n", score.Blocked)}");
    }

    [Theory]
    [MemberData(nameof(EvaluationFixture.Cases), MemberType = typeof(EvaluationFixture))]
    public void Nothing_outside_the_truth_is_allowed(string scenario, string format)
    {
        if (fixture.Score(scenario, format) is not { } score) return; // left out of this run by FLOWPOLICY_EVALUATION_SCENARIOS/FORMATS
        Assert.True(score.ExtraAllowed.Count == 0, $"{score.ExtraAllowed.Count} allowed outside the truth:\n{string.Join("\n", score.ExtraAllowed.Take(40))}");
    }

    [Theory]
    [MemberData(nameof(EvaluationFixture.Cases), MemberType = typeof(EvaluationFixture))]
    public void Check_passes_on_its_own_suggestion(string scenario, string format)
    {
        if (fixture.Score(scenario, format) is not { } score) return; // left out of this run by FLOWPOLICY_EVALUATION_SCENARIOS/FORMATS
        Assert.True(score.CheckExit == 0, $"check exited {score.CheckExit}: {score.CheckVerdict}");
    }
}

/// <summary>The ground truth and the traffic agree, without FlowPolicy in the loop.</summary>
public sealed class GroundTruthTests
{
    [Fact]
    public void Every_required_dependency_is_in_the_traffic_except_rare_dns_over_tcp()
    {
        foreach (var scenario in EvaluationRun.AllScenarios())
        {
            var pods = new ClusterPods(scenario);
            var traffic = new ClusterTraffic(scenario, pods).Generate();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var c in traffic.Connections)
            {
                string client = c.Client.Pod is { } cp ? cp.Workload.Key : c.Client.Role == PeerRole.Internet ? TruthClient.InternetKey
                    : c.Client.Role == PeerRole.Node ? TruthClient.NodesKey : c.Client.Ip.ToString();
                string server = c.Server.Role switch
                {
                    PeerRole.Pod => c.Server.Pod!.Workload.Key,
                    PeerRole.ApiServer => "apiserver",
                    PeerRole.External => "external:" + scenario.Externals.First(e => e.Addresses.Contains(c.Server.Ip)).Name,
                    _ => c.Server.Ip.ToString(),
                };
                seen.Add($"{client} -> {server}:{c.ServerPort}/{c.Protocol}");
                if (c.Server.Role == PeerRole.External) seen.Add($"{client} -> {c.Server.Ip}:{c.ServerPort}");
            }
            var truth = GroundTruth.Derive(scenario);
            var missing = truth.Required
                .Where(d => !(d.Reason == DependencyReason.Dns && d.Protocol == Protocol.Tcp))
                .Where(d => !seen.Contains($"{d.Client} -> {d.Target}:{d.Port}/{d.Protocol}")).ToList();
            Assert.True(missing.Count == 0, $"{scenario}: required but never in the traffic:\n{string.Join("\n", missing)}");
            // The truth requires every address of an external service: each client uses each of them in the window.
            var unused = truth.Required.Where(d => d.Target.Kind == TargetKind.External)
                .SelectMany(d => scenario.External(d.Target.Name).Addresses.Select(ip => $"{d.Client} -> {ip}:{d.Port}"))
                .Where(key => !seen.Contains(key)).ToList();
            Assert.True(unused.Count == 0, $"{scenario}: external addresses required but never used:\n{string.Join("\n", unused)}");
            Assert.Contains(truth.Required, d => d.Reason == DependencyReason.StartupOnly);
            Assert.Contains(truth.Required, d => d.Reason == DependencyReason.CronJob);
            Assert.Contains(truth.Required, d => d.Reason == DependencyReason.ApiServer);
            Assert.Contains(truth.Noise, n => n.Reason == NoiseReason.AnsweredScan);
            Assert.Contains(truth.Noise, n => n.Reason == NoiseReason.CrossBoundary);
            // Nothing is both required and forbidden.
            var required = truth.Required.Select(d => (d.Client, d.Target, d.Port, d.Protocol)).ToHashSet();
            Assert.DoesNotContain(truth.Forbidden, f => required.Contains((f.Client, f.Target, f.Port, f.Protocol)));
        }
    }

    [Fact]
    public void The_traffic_has_the_traps_of_a_real_cluster()
    {
        var scenario = BankOfAnthos.Create();
        var pods = new ClusterPods(scenario);
        var traffic = new ClusterTraffic(scenario, pods).Generate();
        // IP reuse across workloads: some address is held by pods of two different workloads in the window.
        Assert.Contains(pods.Pods.GroupBy(p => p.Ip), g => g.Select(p => p.Workload.Key).Distinct().Count() > 1);
        // Replicas churn: Deployments have pods of several ReplicaSet hashes; StatefulSet pods keep their ordinal name.
        Assert.True(pods.Of("bank/frontend").Select(p => p.Labels["pod-template-hash"]).Distinct().Count() >= 3);
        Assert.All(pods.Of("bank/ledger-db"), p => Assert.Equal("ledger-db-0", p.Name));
        Assert.True(pods.Of("bank/ledger-db").Select(p => p.Ip).Distinct().Count() == 2);
        // Weekly CronJob runs over 35 days: 5 Sundays; DNS over both protocols; the internet only reaches the front door.
        Assert.Equal(5, pods.Of("bank/ledger-backup").Count());
        Assert.Contains(traffic.Connections, c => c.ServerPort == 53 && c.Protocol == Protocol.Tcp);
        Assert.All(traffic.Connections.Where(c => c.Client.Role == PeerRole.Internet), c => Assert.Equal("bank/frontend", c.Server.Pod!.Workload.Key));
        // The front door is also reached from nodes that do not run the pod (a NodePort forwarded by another node).
        Assert.Contains(traffic.Connections, c => c.Client.Role == PeerRole.Node && c.Server.Pod is { } pod && pod.Workload.Key == "bank/frontend"
            && c.Client.Node != pod.Node && c.ServerPort == scenario.FrontDoor.Port);
        // Answered and unanswered scans, several addresses of one SaaS.
        Assert.Contains(traffic.Connections, c => c.Answer == Answer.Refused);
        Assert.Contains(traffic.Connections, c => c.Answer == Answer.Unanswered);
        Assert.True(traffic.Connections.Where(c => c.Server.Role == PeerRole.External && c.ServerPort == 443 && c.Client.Pod?.Workload.Name == "ledger-backup")
            .Select(c => c.Server.Ip).Distinct().Count() >= 3);
    }
}
