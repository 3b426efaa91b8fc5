using System.Text;
using FlowPolicy.Analytics.Intent;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Net;
using static FlowPolicy.Tests.Intent.PolicyFiles;

namespace FlowPolicy.Tests.Intent;

/// <summary>
/// The indexed evaluator must decide exactly as the brute-force one (every policy, every rule, every time) on
/// random policy sets and endpoints: same verdict, same matched rules in the same order, same reason.
/// </summary>
public sealed class IntentIndexPropertyTests
{
    private static readonly string[] Namespaces = ["a", "b", "c"];
    private static readonly string[] Workloads = ["w1", "w2", "room-x", "room-y"];
    private static readonly string[] Apps = ["x", "y", "z"];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void Indexed_evaluation_equals_brute_force_on_random_policies(int seed)
    {
        var random = new Random(seed);
        for (int attempt = 0; attempt < 20; attempt++)
            if (CompareOnRandomPolicies(random)) return;
        Assert.Fail("20 random policy sets in a row allowed or denied nearly everything; the generator needs work");
    }

    /// <summary>False when the policy set was degenerate (almost all allowed or all denied) and proves little.</summary>
    private static bool CompareOnRandomPolicies(Random random, bool cilium = false)
    {
        using var files = new PolicyFiles();
        for (int f = 0; f < 3; f++)
            files.Write($"dir{f % 2}/p{f}.yaml", RandomPolicies(random, cilium));
        var set = files.Load();
        NamedPortResolver ports = (server, name, protocol) => name == "http" && server.Name == "w1" ? (ushort)80 : null;
        // A tiny address memo, so both the memoised and the computed-per-connection paths are compared.
        var indexed = new IntentEvaluator(set, new IntentEvaluatorOptions { NamedPorts = ports, MaxMemoisedAddresses = 3 });
        var brute = new IntentEvaluator(set, new IntentEvaluatorOptions { NamedPorts = ports, UseIndex = false });

        var endpoints = RandomEndpoints(random);
        var checkedPorts = new (ushort, byte)[] { (80, IpProtocols.Tcp), (443, IpProtocols.Tcp), (53, IpProtocols.Udp), (7100, IpProtocols.Udp), (0, IpProtocols.Icmp), (32001, IpProtocols.Tcp) };
        int allowed = 0, denied = 0;
        foreach (var client in endpoints)
            foreach (var server in endpoints)
                foreach (var (port, protocol) in checkedPorts)
                {
                    var expected = brute.Evaluate(client, server, port, protocol);
                    var actual = indexed.Evaluate(client, server, port, protocol);
                    Assert.True(expected.Allowed == actual.Allowed && expected.Reason == actual.Reason
                        && expected.MatchedRules.SequenceEqual(actual.MatchedRules),
                        $"{client} -> {server}:{port}/{protocol}\nbrute:   {expected.Allowed} {expected.Reason} [{string.Join(", ", expected.MatchedRules)}]\nindexed: {actual.Allowed} {actual.Reason} [{string.Join(", ", actual.MatchedRules)}]");
                    if (actual.Allowed) allowed++;
                    else denied++;
                }
        // Workloads and nodes are computed once each; only addresses past the memo limit are recomputed.
        int identities = endpoints.Count(e => !e.IsAddress);
        Assert.True(indexed.Metrics.EndpointsIndexed >= endpoints.Count && indexed.Metrics.EndpointsIndexed > identities + 3);
        var memoised = new IntentEvaluator(set, new IntentEvaluatorOptions { NamedPorts = ports });
        foreach (var client in endpoints)
            foreach (var server in endpoints)
                memoised.Evaluate(client, server, 80, IpProtocols.Tcp);
        Assert.Equal(endpoints.Count, memoised.Metrics.EndpointsIndexed);
        return allowed > 100 && denied > 100;
    }

    [Theory]
    [InlineData(31)]
    [InlineData(32)]
    [InlineData(33)]
    [InlineData(34)]
    public void Indexed_evaluation_equals_brute_force_on_random_policies_with_cilium(int seed)
    {
        var random = new Random(seed);
        for (int attempt = 0; attempt < 20; attempt++)
            if (CompareOnRandomPolicies(random, cilium: true)) return;
        Assert.Fail("20 random policy sets in a row allowed or denied nearly everything; the generator needs work");
    }

    [Fact]
    public void Endpoints_sharing_a_key_are_judged_by_their_own_labels()
    {
        var evaluator = From("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: prod-only, namespace: shop}
            spec:
              podSelector: {matchLabels: {env: prod}}
              policyTypes: [Ingress]
            """);
        var client = Pod("shop", "client");
        for (int round = 0; round < 2; round++)
        {
            Assert.False(Allows(evaluator, client, Pod("shop", "cart", ("env", "prod")), 80));
            Assert.True(Allows(evaluator, client, Pod("shop", "cart", ("env", "dev")), 80));
        }
        Assert.Equal(3, evaluator.Metrics.EndpointsIndexed); // client + cart twice, each once
    }

    [Fact]
    public void No_policies_allow_everything()
    {
        var evaluator = new IntentEvaluator(IntentPolicySet.Empty);
        var decision = evaluator.Evaluate(Ip("203.0.113.1"), Pod("shop", "cart"), 7070, IpProtocols.Tcp);
        Assert.True(decision.Allowed);
        Assert.Empty(decision.MatchedRules);
        Assert.Empty(evaluator.Rules);
    }

    internal static List<Endpoint> RandomEndpoints(Random random)
    {
        var list = new List<Endpoint>();
        foreach (var ns in Namespaces)
            foreach (var workload in Workloads)
                list.Add(Pod(ns, workload, RandomLabels(random)));
        list.Add(Service("a", "svc", ("app", "x")));
        list.Add(Node("n1"));
        foreach (var ip in new[] { "10.0.0.5", "10.0.1.5", "10.1.0.1", "203.0.113.7", "198.51.100.1", "2001:db8::5", "2001:db8:1::5" })
            list.Add(Ip(ip));
        return list;
    }

    private static (string, string)[] RandomLabels(Random random)
    {
        var labels = new List<(string, string)>();
        if (random.Next(4) > 0) labels.Add(("app", Apps[random.Next(Apps.Length)]));
        if (random.Next(2) == 0) labels.Add(("tier", random.Next(2).ToString()));
        return labels.ToArray();
    }

    private static string Pick(Random random, params string[] options) => options[random.Next(options.Length)];

    /// <param name="cilium">Mix in CiliumNetworkPolicies and CiliumClusterwideNetworkPolicies.</param>
    internal static string RandomPolicies(Random random, bool cilium = false)
    {
        var text = new StringBuilder();
        int n = random.Next(2, 6);
        for (int i = 0; i < n; i++)
        {
            if (i > 0) text.Append("---\n");
            if (cilium && random.Next(2) == 0) text.Append(RandomCiliumPolicy(random));
            else if (random.Next(3) > 0) text.Append(RandomNetworkPolicy(random));
            else text.Append(RandomFlowPolicy(random));
        }
        return text.ToString();
    }

    private static int _names;

    private static string Selector(Random random) => Pick(random,
        "{}",
        $"{{matchLabels: {{app: {Pick(random, Apps)}}}}}",
        $"{{matchExpressions: [{{key: tier, operator: {Pick(random, "In", "NotIn")}, values: ['{random.Next(2)}']}}]}}",
        $"{{matchExpressions: [{{key: app, operator: {Pick(random, "Exists", "DoesNotExist")}}}]}}");

    private static string RandomNetworkPolicy(Random random)
    {
        var text = new StringBuilder();
        text.Append($"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: np{Interlocked.Increment(ref _names)}, namespace: {Pick(random, Namespaces)}}}\nspec:\n");
        text.Append($"  podSelector: {Selector(random)}\n");
        text.Append(Pick(random, "", "  policyTypes: [Ingress]\n", "  policyTypes: [Egress]\n", "  policyTypes: [Ingress, Egress]\n"));
        foreach (var (section, field) in new[] { ("ingress", "from"), ("egress", "to") })
        {
            int rules = random.Next(-1, 3);
            if (rules < 0) continue;
            text.Append($"  {section}:\n");
            if (rules == 0) text.Append("    - {}\n");
            for (int r = 0; r < rules; r++)
            {
                text.Append("    - ");
                string peers = Pick(random, "", "p", "pp", "ppp");
                var items = peers.Select(_ => Pick(random,
                    $"{{podSelector: {Selector(random)}}}",
                    $"{{namespaceSelector: {Pick(random, "{}", "{matchLabels: {kubernetes.io/metadata.name: a}}", "{matchLabels: {env: prod}}")}}}",
                    $"{{namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: {Pick(random, Namespaces)}}}}}, podSelector: {Selector(random)}}}",
                    "{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.1.0/24]}}",
                    "{ipBlock: {cidr: 0.0.0.0/0}}",
                    "{ipBlock: {cidr: '2001:db8::/32', except: ['2001:db8:1::/48']}}")).ToList();
                var ports = Pick(random, "", "[{port: 80}]", "[{protocol: UDP}]", "[{port: 32000, endPort: 32768}]", "[{port: http}]", "[{protocol: UDP, port: 53}, {port: 443}]");
                var fields = new List<string>();
                if (items.Count > 0) fields.Add($"{field}: [{string.Join(", ", items)}]");
                if (ports.Length > 0) fields.Add($"ports: {ports}");
                text.Append('{').Append(string.Join(", ", fields)).Append("}\n");
            }
        }
        return text.ToString();
    }

    private static string RandomCiliumPolicy(Random random)
    {
        var text = new StringBuilder();
        bool clusterwide = random.Next(3) == 0;
        int name = Interlocked.Increment(ref _names);
        text.Append(clusterwide
            ? $"apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {{name: ccnp{name}}}\nspec:\n"
            : $"apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: cnp{name}, namespace: {Pick(random, Namespaces)}}}\nspec:\n");
        text.Append($"  endpointSelector: {Selector(random)}\n");
        if (random.Next(5) == 0) text.Append($"  enableDefaultDeny: {{{Pick(random, "ingress", "egress")}: false}}\n");
        foreach (var (section, egress) in new[] { ("ingress", false), ("egress", true), ("ingressDeny", false), ("egressDeny", true) })
        {
            bool deny = section.EndsWith("Deny", StringComparison.Ordinal);
            int rules = random.Next(deny ? -3 : -1, 3);
            if (rules < 0) continue;
            text.Append($"  {section}:\n");
            if (rules == 0) text.Append("    - {}\n");
            string to = egress ? "to" : "from";
            for (int r = 0; r < rules; r++)
            {
                var fields = new List<string>();
                foreach (var _ in Pick(random, "", "p", "pp"))
                    fields.Add(Pick(random,
                        $"{to}Endpoints: [{Selector(random)}]",
                        $"{to}Endpoints: [{{matchLabels: {{'k8s:io.kubernetes.pod.namespace': {Pick(random, Namespaces)}}}}}]",
                        $"{to}Entities: [{Pick(random, "world", "cluster", "host", "all", "host, remote-node")}]",
                        $"{to}CIDRSet: [{{cidr: 10.0.0.0/16, except: [10.0.1.0/24]}}]",
                        $"{to}CIDR: ['203.0.113.0/24', '2001:db8::/32']"));
                var ports = Pick(random, "", "[{ports: [{port: '80', protocol: TCP}]}]", "[{ports: [{port: '53', protocol: ANY}]}]",
                    "[{ports: [{port: '32000', endPort: 32768, protocol: TCP}]}]", "[{ports: [{protocol: UDP}]}]", "[{ports: [{port: http}]}]");
                if (ports.Length > 0) fields.Add($"toPorts: {ports}");
                text.Append("    - {").Append(string.Join(", ", fields.DistinctBy(f => f[..f.IndexOf(':')]))).Append("}\n");
            }
        }
        return text.ToString();
    }

    private static string Pattern(Random random) => Pick(random,
        "any", "node", "world", "unknown", "cluster", "10.0.0.0/16", "'2001:db8::/32'",
        $"{Pick(random, Namespaces)}/{Pick(random, "w*", "room-*", "w1")}",
        $"{{namespace: {Pick(random, Namespaces)}}}",
        $"{{labels: {{app: '{Pick(random, "x", "*", "y")}'}}}}",
        "{external: '203.0.113.*'}",
        "{kind: service}",
        $"[{{namespace: {Pick(random, Namespaces)}, workload: 'room-*'}}, '203.0.113.0/24']");

    private static string RandomFlowPolicy(Random random)
    {
        var text = new StringBuilder();
        text.Append($"apiVersion: flowpolicy.dev/v1\nkind: FlowPolicy\nmetadata: {{name: fp{Interlocked.Increment(ref _names)}}}\nspec:\n");
        text.Append($"  defaultAction: {Pick(random, "deny", "deny", "allow")}\n");
        if (random.Next(4) > 0) text.Append($"  appliesTo: {Pattern(random)}\n");
        text.Append($"  direction: {Pick(random, "both", "ingress", "egress")}\n");
        text.Append("  rules:\n");
        int rules = random.Next(0, 5);
        for (int r = 0; r < rules; r++)
        {
            var fields = new List<string> { $"name: r{r}" };
            if (random.Next(6) == 0) fields.Add("action: deny");
            if (random.Next(4) > 0) fields.Add($"from: {Pattern(random)}");
            if (random.Next(4) > 0) fields.Add($"to: {Pattern(random)}");
            var ports = Pick(random, "", "[80]", "['53/UDP']", "['7000-7200/UDP']", "[{port: 443, protocol: any}]", "[ICMP]");
            if (ports.Length > 0) fields.Add($"ports: {ports}");
            text.Append("    - {").Append(string.Join(", ", fields)).Append("}\n");
        }
        return text.ToString();
    }
}
