using FlowPolicy.Analytics.Intent;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Net;
using static FlowPolicy.Tests.Intent.PolicyFiles;

namespace FlowPolicy.Tests.Intent;

/// <summary>
/// The shortcuts the blast radius takes through <see cref="IntentEvaluator"/> must change nothing: the reason-free
/// decision equals <see cref="IntentEvaluator.Evaluate"/>'s verdict, every member of an endpoint class gets the
/// decisions of every other, and the blast radius through classes equals the one asked pair by pair.
/// </summary>
public sealed class EndpointClassPropertyTests
{
    private static readonly (ushort Port, byte Protocol)[] Ports =
        [(80, IpProtocols.Tcp), (443, IpProtocols.Tcp), (53, IpProtocols.Udp), (7100, IpProtocols.Udp), (0, IpProtocols.Icmp), (32001, IpProtocols.Tcp)];

    [Theory]
    [InlineData(11, false)]
    [InlineData(12, true)]
    [InlineData(13, false)]
    [InlineData(14, true)]
    [InlineData(15, false)]
    [InlineData(16, true)]
    public void Classes_and_reason_free_decisions_agree_with_evaluate_on_random_policies(int seed, bool namedPorts) =>
        ClassesAgree(seed, namedPorts, cilium: false);

    [Theory]
    [InlineData(41, false)]
    [InlineData(42, true)]
    [InlineData(43, false)]
    public void Classes_and_reason_free_decisions_agree_with_evaluate_on_random_policies_with_cilium(int seed, bool namedPorts) =>
        ClassesAgree(seed, namedPorts, cilium: true);

    private static void ClassesAgree(int seed, bool namedPorts, bool cilium)
    {
        var random = new Random(seed);
        int informative = 0;
        for (int attempt = 0; attempt < 12; attempt++)
        {
            using var files = new PolicyFiles();
            for (int f = 0; f < 3; f++) files.Write($"p{f}.yaml", IntentIndexPropertyTests.RandomPolicies(random, cilium));
            var set = files.Load();
            var options = new IntentEvaluatorOptions
            {
                NamedPorts = namedPorts ? (server, name, protocol) => name == "http" && server.Name == "w1" ? (ushort)80 : null : null,
                MaxMemoisedAddresses = 3,
            };
            var evaluator = new IntentEvaluator(set, options);
            var endpoints = IntentIndexPropertyTests.RandomEndpoints(random);
            var classes = evaluator.Classify(endpoints)!;
            Assert.NotNull(classes);
            int allowed = 0, denied = 0;
            for (int c = 0; c < endpoints.Count; c++)
                for (int s = 0; s < endpoints.Count; s++)
                    foreach (var (port, protocol) in Ports)
                    {
                        bool expected = evaluator.Evaluate(endpoints[c], endpoints[s], port, protocol).Allowed;
                        Assert.Equal(expected, evaluator.Allows(endpoints[c], endpoints[s], port, protocol));
                        if (expected) allowed++;
                        else denied++;
                    }
            // Same class, same decisions: against every other endpoint on every port.
            for (int a = 0; a < endpoints.Count; a++)
                for (int b = a + 1; b < endpoints.Count; b++)
                {
                    bool sameClient = classes.ClientClass[a] == classes.ClientClass[b];
                    bool sameServer = classes.ServerClass[a] == classes.ServerClass[b];
                    if (!sameClient && !sameServer) continue;
                    foreach (var other in endpoints)
                        foreach (var (port, protocol) in Ports)
                        {
                            if (sameClient)
                                Assert.True(evaluator.Allows(endpoints[a], other, port, protocol) == evaluator.Allows(endpoints[b], other, port, protocol),
                                    $"client class of {endpoints[a]} and {endpoints[b]} differ towards {other}:{port}/{protocol}");
                            if (sameServer)
                                Assert.True(evaluator.Allows(other, endpoints[a], port, protocol) == evaluator.Allows(other, endpoints[b], port, protocol),
                                    $"server class of {endpoints[a]} and {endpoints[b]} differ from {other}:{port}/{protocol}");
                        }
                }
            if (allowed > 100 && denied > 100 && classes.ClientClassCount < endpoints.Count) informative++;
        }
        Assert.True(informative >= 3, $"only {informative} of 12 random policy sets were informative; the generator needs work");
    }

    [Theory]
    [InlineData(21, false)]
    [InlineData(22, true)]
    [InlineData(23, false)]
    [InlineData(24, true)]
    public void Blast_radius_through_classes_equals_the_pairwise_blast_radius(int seed, bool namedPorts)
    {
        var random = new Random(seed);
        int differentFromObserved = 0;
        for (int attempt = 0; attempt < 10; attempt++)
        {
            using var files = new PolicyFiles();
            for (int f = 0; f < 3; f++) files.Write($"p{f}.yaml", IntentIndexPropertyTests.RandomPolicies(random));
            var options = new IntentEvaluatorOptions
            {
                NamedPorts = namedPorts ? (server, name, protocol) => name == "http" && server.Name == "w1" ? (ushort)80 : null : null,
            };
            var evaluator = new IntentEvaluator(files.Load(), options);
            var endpoints = IntentIndexPropertyTests.RandomEndpoints(random);
            var edges = new List<Edge>();
            var seen = new HashSet<(int, int, ushort, byte)>();
            for (int i = 0; i < 60; i++)
            {
                int c = random.Next(endpoints.Count), s = random.Next(endpoints.Count);
                var (port, protocol) = Ports[random.Next(Ports.Length)];
                if (!seen.Add((c, s, port, protocol))) continue;
                edges.Add(new Edge(endpoints[c], endpoints[s], port, protocol) { Flows = random.Next(3) });
            }
            edges.Sort(FlowPolicy.Core.Edges.EdgeOrder.Compare);

            var throughClasses = BlastRadius.Compute(edges, evaluator);
            var pairwise = BlastRadius.Compute(edges, new OnlyEvaluate(evaluator));
            Assert.Equal(pairwise, throughClasses);
            if (pairwise.Any(p => p.Value.Intended != p.Value.Observed && p.Value.Intended > 0)) differentFromObserved++;
        }
        Assert.True(differentFromObserved >= 2, "the random graphs never had a non-trivial intended blast radius");
    }

    /// <summary>Hides the evaluator's type, so the blast radius asks it pair by pair (the reference).</summary>
    private sealed class OnlyEvaluate(IIntentEvaluator inner) : IIntentEvaluator
    {
        public IReadOnlyList<IntentRule> Rules => inner.Rules;
        public IntentDecision Evaluate(Endpoint client, Endpoint server, ushort port, byte protocol) => inner.Evaluate(client, server, port, protocol);
    }
}
