using System.Globalization;
using System.Net;
using System.Text;
using FlowPolicy.Analytics.Intent;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Tests.Evaluation.Scenarios;
using FlowPolicy.Tests.Intent;
using Xunit.Abstractions;

namespace FlowPolicy.Tests.Evaluation.Judge;

/// <summary>The judge on the cases the Kubernetes documentation spells out, then against IntentEvaluator on random policies.</summary>
public sealed class NetworkPolicyJudgeTests(ITestOutputHelper output)
{
    private static readonly Dictionary<string, IReadOnlyDictionary<string, string>> Namespaces = new()
    {
        ["alpha"] = new Dictionary<string, string> { ["kubernetes.io/metadata.name"] = "alpha", ["team"] = "red", ["env"] = "prod" },
        ["beta"] = new Dictionary<string, string> { ["kubernetes.io/metadata.name"] = "beta", ["team"] = "blue", ["env"] = "prod" },
        ["gamma"] = new Dictionary<string, string> { ["kubernetes.io/metadata.name"] = "gamma", ["team"] = "red", ["env"] = "dev" },
    };

    private static PodEndpoint Pod(string ns, string ip, string node, params (string Key, string Value)[] labels) =>
        new(new JudgePod(ns, labels.ToDictionary(l => l.Key, l => l.Value), IPAddress.Parse(ip), node,
            new Dictionary<string, (ushort, Protocol)> { ["http"] = (8080, Protocol.Tcp), ["dns"] = (53, Protocol.Udp) }) { Name = labels.FirstOrDefault().Value ?? ip });

    private static NetworkPolicyJudge Judge(string yaml, IpBlockPodMatching mode = IpBlockPodMatching.NeverPods) =>
        new(NetworkPolicyDocument.LoadText(yaml), Namespaces, mode);

    private static readonly PodEndpoint Web = Pod("alpha", "10.1.0.1", "n1", ("app", "web"));
    private static readonly PodEndpoint Db = Pod("alpha", "10.1.0.2", "n2", ("app", "db"));
    private static readonly PodEndpoint BetaApi = Pod("beta", "10.1.0.3", "n1", ("app", "api"));
    private static readonly PodEndpoint GammaApi = Pod("gamma", "10.1.0.4", "n2", ("app", "api"));

    [Fact]
    public void Without_policy_types_ingress_is_isolated_and_egress_only_with_egress_rules()
    {
        var judge = Judge("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: p, namespace: alpha}
            spec:
              podSelector: {matchLabels: {app: db}}
              egress: []
            """);
        Assert.False(judge.Allows(Web, Db, 5432, Protocol.Tcp)); // ingress isolated, no ingress rule
        Assert.True(judge.Allows(Db, Web, 8080, Protocol.Tcp));   // `egress: []` is no egress rule: not isolated for egress
    }

    [Fact]
    public void Empty_from_and_ports_match_everything_but_missing_rules_match_nothing()
    {
        var judge = Judge("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: open, namespace: alpha}
            spec:
              podSelector: {matchLabels: {app: web}}
              policyTypes: [Ingress, Egress]
              ingress:
                - from: []
            """);
        Assert.True(judge.Allows(GammaApi, Web, 1234, Protocol.Udp));
        Assert.False(judge.Allows(Web, Db, 5432, Protocol.Tcp)); // Egress in policyTypes, no egress rule
    }

    [Fact]
    public void A_peer_with_both_selectors_is_an_and_two_peers_are_an_or()
    {
        const string template = """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: p, namespace: alpha}
            spec:
              podSelector: {matchLabels: {app: db}}
              ingress:
                - from:
            PEERS
            """;
        var and = Judge(template.Replace("PEERS", "        - {namespaceSelector: {matchLabels: {team: red}}, podSelector: {matchLabels: {app: api}}}", StringComparison.Ordinal));
        Assert.True(and.Allows(GammaApi, Db, 5432, Protocol.Tcp));
        Assert.False(and.Allows(BetaApi, Db, 5432, Protocol.Tcp));
        Assert.False(and.Allows(Web, Db, 5432, Protocol.Tcp));
        var or = Judge(template.Replace("PEERS", "        - namespaceSelector: {matchLabels: {team: blue}}\n        - podSelector: {matchLabels: {app: web}}", StringComparison.Ordinal));
        Assert.True(or.Allows(BetaApi, Db, 5432, Protocol.Tcp));
        Assert.True(or.Allows(Web, Db, 5432, Protocol.Tcp));
        Assert.False(or.Allows(GammaApi, Db, 5432, Protocol.Tcp));
    }

    [Fact]
    public void IpBlock_except_endport_named_ports_and_the_node_exemption()
    {
        var judge = Judge("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: p, namespace: alpha}
            spec:
              podSelector: {}
              policyTypes: [Ingress, Egress]
              ingress:
                - ports: [{port: http}]
              egress:
                - to: [{ipBlock: {cidr: 203.0.113.0/24, except: [203.0.113.128/25]}}]
                  ports: [{port: 8000, endPort: 9000}]
                - to: [{ipBlock: {cidr: 10.0.0.0/8}}]
                  ports: [{protocol: UDP, port: 53}]
            """);
        Assert.True(judge.Allows(Web, new AddressEndpoint(IPAddress.Parse("203.0.113.5")), 8443, Protocol.Tcp));
        Assert.False(judge.Allows(Web, new AddressEndpoint(IPAddress.Parse("203.0.113.200")), 8443, Protocol.Tcp));
        Assert.False(judge.Allows(Web, new AddressEndpoint(IPAddress.Parse("203.0.113.5")), 9001, Protocol.Tcp));
        Assert.True(judge.Allows(BetaApi, Web, 8080, Protocol.Tcp));  // named port "http" of the destination
        Assert.False(judge.Allows(BetaApi, Web, 8081, Protocol.Tcp));
        Assert.True(judge.Allows(new AddressEndpoint(IPAddress.Parse("10.0.0.2"), "n1"), Web, 9999, Protocol.Tcp)); // Web runs on n1
        Assert.False(judge.Allows(new AddressEndpoint(IPAddress.Parse("10.0.0.3"), "n2"), Web, 9999, Protocol.Tcp));
        // ipBlock and pod addresses: implementation-defined, so both readings exist.
        Assert.False(judge.Allows(Web, Db, 53, Protocol.Udp));
        Assert.True(Judge("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: p, namespace: alpha}
            spec:
              podSelector: {}
              policyTypes: [Egress]
              egress:
                - to: [{ipBlock: {cidr: 10.0.0.0/8}}]
            """, IpBlockPodMatching.PodAddresses).Allows(Web, Db, 53, Protocol.Udp));
    }

    // Disagreements found by the cross-check (docs/evaluation.md), by cause. Each is IntentEvaluator departing from the spec.
    private const string PolicyTypesDefaulting = "policyTypes defaulting: IntentEvaluator reads `policyTypes: []` as isolating nothing and a bare `egress: []` as isolating egress";
    private const string NodeIpBlock = "pod -> node: IntentEvaluator never matches a node endpoint with an ipBlock of the node's address";
    private const string NodeExemption = "node -> pod: IntentEvaluator exempts every node, the spec only the pod's own node";

    /// <summary>A finding of the judge's cross-check, fixed: `policyTypes: []` and a bare `egress: []` read as the API server defaults them.</summary>
    [Fact]
    public void IntentEvaluator_defaults_policy_types_as_the_API_server_does()
    {
        const string yaml = """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: p, namespace: alpha}
            spec:
              podSelector: {matchLabels: {app: db}}
              policyTypes: []
              egress: []
            """;
        var evaluator = PolicyFiles.From(yaml);
        var db = PolicyFiles.Pod("alpha", "db", ("app", "db"));
        var web = PolicyFiles.Pod("alpha", "web", ("app", "web"));
        // Defaulted to [Ingress] (egress has no rule): ingress to db is isolated, egress from db is not.
        Assert.False(evaluator.Evaluate(web, db, 5432, (byte)Protocol.Tcp).Allowed);
        Assert.True(evaluator.Evaluate(db, web, 8080, (byte)Protocol.Tcp).Allowed);
    }

    [Fact]
    public void IntentEvaluator_matches_an_ipBlock_of_the_node_address()
    {
        const string yaml = """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: p, namespace: alpha}
            spec:
              podSelector: {}
              policyTypes: [Egress]
              egress:
                - to: [{ipBlock: {cidr: 10.0.0.10/32}}]
                  ports: [{port: 6443}]
            """;
        var nodeAddresses = new Dictionary<string, IReadOnlyList<PackedIp>>
        {
            ["cp-1"] = [PackedIp.Parse("10.0.0.10")],
            ["worker-1"] = [PackedIp.Parse("10.0.0.11")],
        };
        var evaluator = PolicyFiles.From(yaml, new IntentEvaluatorOptions { NodeAddresses = nodeAddresses });
        var web = PolicyFiles.Pod("alpha", "web", ("app", "web"));
        var node = Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Node, null, "cp-1", "Node", "cp-1"));
        var worker = Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Node, null, "worker-1", "Node", "worker-1"));
        Assert.True(evaluator.Evaluate(web, node, 6443, (byte)Protocol.Tcp).Allowed);
        // Only the node whose address the block holds; and without addresses a node matches no ipBlock.
        Assert.False(evaluator.Evaluate(web, worker, 6443, (byte)Protocol.Tcp).Allowed);
        Assert.False(PolicyFiles.From(yaml).Evaluate(web, node, 6443, (byte)Protocol.Tcp).Allowed);
    }

    /// <summary>What a random case is made of: endpoints on both sides and the policies.</summary>
    private sealed record RandomEndpoint(JudgeEndpoint Judge, Endpoint Intent, string Kind);

    /// <summary>
    /// 1,500 random connections over 60 random policy sets (selectors with matchLabels and every matchExpressions
    /// operator, missing/empty/non-empty peers and ports, ipBlock with except, endPort, named ports, policyTypes absent,
    /// empty or explicit), judged by both. Disagreements are findings: they are printed by category, and the test fails
    /// on any outside the categories already reported (docs/evaluation.md).
    /// </summary>
    [Fact]
    public void The_judge_agrees_with_IntentEvaluator_on_random_policies()
    {
        var random = new Random(16);
        var disagreements = new List<(string Category, string Case)>();
        int cases = 0;
        for (int set = 0; set < 60; set++)
        {
            var pods = Enumerable.Range(0, 6).Select(i => RandomPod(random, i)).ToList();
            var nodes = new[] { ("n1", "10.0.0.1"), ("n2", "10.0.0.2") }
                .Select(n => new RandomEndpoint(new AddressEndpoint(IPAddress.Parse(n.Item2), n.Item1), PolicyFiles.Node(n.Item1), "node")).ToList();
            var addresses = new[] { "8.8.8.8", "203.0.113.5", "203.0.113.200", "192.168.5.5", "10.9.9.9" }
                .Select(a => new RandomEndpoint(new AddressEndpoint(IPAddress.Parse(a)), Endpoint.FromAddress(PackedIp.Parse(a)), "address")).ToList();
            var yaml = new StringBuilder();
            int policies = random.Next(1, 5);
            for (int p = 0; p < policies; p++) yaml.Append(RandomPolicy(random, p));
            var judge = new NetworkPolicyJudge(NetworkPolicyDocument.LoadText(yaml.ToString()), Namespaces);
            var named = pods.ToDictionary(p => p.Intent.Key, p => ((PodEndpoint)p.Judge).Pod.NamedPorts, StringComparer.Ordinal);
            var evaluator = PolicyFiles.From(yaml.ToString(), new IntentEvaluatorOptions
            {
                NamespaceLabels = Namespaces.ToDictionary(n => n.Key, n => (IReadOnlyList<KeyValuePair<string, string>>)n.Value.ToList()),
                NamedPorts = (server, name, protocol) => named.TryGetValue(server.Key, out var ports) && ports.TryGetValue(name, out var p) && (byte)p.Protocol == protocol ? p.Port : null,
            });
            var everyone = pods.Concat(nodes).Concat(addresses).ToList();
            for (int c = 0; c < 25; c++)
            {
                var client = everyone[random.Next(everyone.Count)];
                var server = client.Kind == "pod" && random.Next(3) == 0 ? everyone[random.Next(everyone.Count)] : pods[random.Next(pods.Count)];
                ushort port = new ushort[] { 53, 80, 443, 5432, 8080, 8500, 9000 }[random.Next(7)];
                var protocol = random.Next(4) == 0 ? Protocol.Udp : Protocol.Tcp;
                bool expected = judge.Allows(client.Judge, server.Judge, port, protocol);
                bool actual = evaluator.Evaluate(client.Intent, server.Intent, port, (byte)protocol).Allowed;
                cases++;
                if (expected == actual) continue;
                var literal = new NetworkPolicyJudge(NetworkPolicyDocument.LoadText(yaml.ToString(), PolicyTypesReading.LiteralSections), Namespaces);
                string category = client.Kind == "node" ? NodeExemption
                    : server.Kind == "node" ? NodeIpBlock
                    : literal.Allows(client.Judge, server.Judge, port, protocol) == actual ? PolicyTypesDefaulting
                    : "other";
                disagreements.Add((category, $"{client.Judge} -> {server.Judge}:{port}/{protocol}: judge {(expected ? "allows" : "denies")}, IntentEvaluator {(actual ? "allows" : "denies")}\n{yaml}"));
            }
        }
        foreach (var group in disagreements.GroupBy(d => d.Category))
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{group.Key}: {group.Count()} disagreements; first:\n{group.First().Case}"));
        }
        Assert.True(cases >= 1000, $"only {cases} cases");
        // policyTypes defaulting was a finding and is fixed (SetDefaults_NetworkPolicy): no disagreement of that kind is left.
        var unexplained = disagreements.Where(d => d.Category is "other" or PolicyTypesDefaulting).ToList();
        Assert.True(unexplained.Count == 0, $"{unexplained.Count} of {cases} cases disagree; first:\n{unexplained.FirstOrDefault().Case}");
    }

    private static RandomEndpoint RandomPod(Random random, int i)
    {
        string ns = new[] { "alpha", "beta", "gamma" }[random.Next(3)];
        var labels = new List<(string, string)> { ("app", new[] { "web", "api", "db", "worker" }[random.Next(4)]) };
        if (random.Next(2) == 0) labels.Add(("tier", random.Next(2) == 0 ? "front" : "back"));
        if (random.Next(4) == 0) labels.Add(("canary", "true"));
        string ip = $"10.1.{i}.{random.Next(2, 250)}";
        var judge = Pod(ns, ip, random.Next(2) == 0 ? "n1" : "n2", labels.ToArray());
        var intent = Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, ns, $"w{i}", "Deployment",
            labels: labels.Select(l => new KeyValuePair<string, string>(l.Item1, l.Item2))));
        return new RandomEndpoint(judge, intent, "pod");
    }

    private static string RandomSelector(Random random, bool namespaces)
    {
        return random.Next(6) switch
        {
            0 => "{}",
            1 or 2 => namespaces ? $"{{matchLabels: {{team: {(random.Next(2) == 0 ? "red" : "blue")}}}}}" : $"{{matchLabels: {{app: {new[] { "web", "api", "db", "worker" }[random.Next(4)]}}}}}",
            3 => namespaces ? $"{{matchExpressions: [{{key: env, operator: {(random.Next(2) == 0 ? "In" : "NotIn")}, values: [prod]}}]}}"
                : $"{{matchExpressions: [{{key: tier, operator: {(random.Next(2) == 0 ? "In" : "NotIn")}, values: [front]}}]}}",
            4 => namespaces ? "{matchLabels: {kubernetes.io/metadata.name: beta}}" : $"{{matchExpressions: [{{key: canary, operator: {(random.Next(2) == 0 ? "Exists" : "DoesNotExist")}}}]}}",
            _ => namespaces ? "{matchLabels: {team: red}, matchExpressions: [{key: env, operator: In, values: [dev]}]}" : "{matchLabels: {app: api}, matchExpressions: [{key: tier, operator: Exists}]}",
        };
    }

    private static string RandomPeer(Random random)
    {
        string[] cidrs = ["0.0.0.0/0", "10.0.0.0/8", "10.0.0.0/24", "203.0.113.0/24", "8.8.8.8/32", "192.168.0.0/16"];
        return random.Next(5) switch
        {
            0 => $"{{podSelector: {RandomSelector(random, false)}}}",
            1 => $"{{namespaceSelector: {RandomSelector(random, true)}}}",
            2 => $"{{namespaceSelector: {RandomSelector(random, true)}, podSelector: {RandomSelector(random, false)}}}",
            3 => $"{{ipBlock: {{cidr: {cidrs[random.Next(cidrs.Length)]}}}}}",
            _ => $"{{ipBlock: {{cidr: {cidrs[random.Next(3)]}, except: [{new[] { "10.0.0.0/30", "10.1.0.0/16", "8.8.0.0/16" }[random.Next(3)]}]}}}}",
        };
    }

    private static string RandomPort(Random random) => random.Next(7) switch
    {
        0 => "{port: 80}",
        1 => "{protocol: UDP, port: 53}",
        2 => "{port: http}",
        3 => "{protocol: UDP, port: dns}",
        4 => "{port: 8000, endPort: 9000}",
        5 => "{protocol: TCP}",
        _ => "{port: 443}",
    };

    private static string RandomRules(Random random, string key)
    {
        var text = new StringBuilder();
        int rules = random.Next(4);
        if (rules == 0) return random.Next(2) == 0 ? "" : $"  {(key == "from" ? "ingress" : "egress")}: []\n";
        text.Append(CultureInfo.InvariantCulture, $"  {(key == "from" ? "ingress" : "egress")}:\n");
        for (int r = 0; r < rules; r++)
        {
            var parts = new List<string>();
            switch (random.Next(4))
            {
                case 0: break;
                case 1: parts.Add($"{key}: []"); break;
                default: parts.Add($"{key}: [{string.Join(", ", Enumerable.Range(0, random.Next(1, 3)).Select(_ => RandomPeer(random)))}]"); break;
            }
            switch (random.Next(4))
            {
                case 0: break;
                case 1: parts.Add("ports: []"); break;
                default: parts.Add($"ports: [{string.Join(", ", Enumerable.Range(0, random.Next(1, 3)).Select(_ => RandomPort(random)))}]"); break;
            }
            text.Append(CultureInfo.InvariantCulture, $"    - {{{string.Join(", ", parts)}}}\n");
        }
        return text.ToString();
    }

    private static string RandomPolicy(Random random, int index)
    {
        string ns = new[] { "alpha", "beta", "gamma" }[random.Next(3)];
        string types = random.Next(5) switch
        {
            0 => "",
            1 => "  policyTypes: []\n",
            2 => "  policyTypes: [Ingress]\n",
            3 => "  policyTypes: [Egress]\n",
            _ => "  policyTypes: [Ingress, Egress]\n",
        };
        return "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n" +
               $"metadata: {{name: p{index}, namespace: {ns}}}\nspec:\n  podSelector: {RandomSelector(random, false)}\n" +
               types + RandomRules(random, "from") + RandomRules(random, "to");
    }
}
