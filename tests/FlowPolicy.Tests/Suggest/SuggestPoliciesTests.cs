using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Suggest.Emitters;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Tests.Suggest;

/// <summary>
/// The acceptance bar on the sample app: the emitted policies block no observed request edge, allow nothing beyond
/// them except the documented generalisations, and every format decides exactly as the neutral rule set does.
/// </summary>
public sealed class SuggestPoliciesTests(SampleSuggestion sample) : IClassFixture<SampleSuggestion>
{
    private IEnumerable<Edge> Kept => sample.Set.Rules.SelectMany(r => r.Edges);

    [Fact]
    public void Every_edge_not_left_out_is_covered_by_a_rule()
    {
        var covered = Kept.Select(Describe).ToHashSet();
        var left = sample.Set.LeftOut.Select(l => Describe(l.Edge)).ToHashSet();
        foreach (var edge in sample.Edges)
            Assert.True(covered.Contains(Describe(edge)) ^ left.Contains(Describe(edge)), Describe(edge));
        Assert.All(sample.Set.LeftOut, l => Assert.Contains(l.ReasonName, new[] { "scanner", "bare-pod" }));
    }

    [Fact]
    public void Kubernetes_policies_block_no_observed_request_edge()
    {
        var k8s = K8sPolicies.Load(Path.Combine(sample.Out, "k8s"));
        var blocked = Kept.Where(e => !k8s.Allows(e.Client, e.Server, e.Port, e.Protocol)).Select(Describe).ToList();
        Assert.Empty(blocked);
        Assert.True(Kept.Count() > 50, "the sample should have many kept edges");
    }

    [Fact]
    public void Cilium_and_Calico_policies_block_no_observed_request_edge()
    {
        var cilium = CiliumPolicies.Load(Path.Combine(sample.Out, "cilium"));
        var calico = CalicoPolicies.Load(Path.Combine(sample.Out, "calico"));
        var staged = CalicoPolicies.Load(Path.Combine(sample.Out, "calico", "staged"), "StagedNetworkPolicy");
        Assert.Empty(Kept.Where(e => !cilium.Allows(e.Client, e.Server, e.Port, e.Protocol)).Select(Describe));
        Assert.Empty(Kept.Where(e => !calico.Allows(e.Client, e.Server, e.Port, e.Protocol)).Select(Describe));
        Assert.Empty(Kept.Where(e => !staged.Allows(e.Client, e.Server, e.Port, e.Protocol)).Select(Describe));
    }

    [Fact]
    public void Istio_policies_block_no_observed_tcp_request_to_a_workload()
    {
        var istio = IstioPolicies.Load(Path.Combine(sample.Out, "istio"));
        var inScope = Kept.Where(e => e.Protocol == IpProtocols.Tcp && e.Server.Kind == EndpointKind.Pod && e.Client.Kind != EndpointKind.Node).ToList();
        Assert.NotEmpty(inScope);
        Assert.Empty(inScope.Where(e => !istio.Allows(e.Client, e.Server, e.Port)).Select(Describe));
    }

    [Fact]
    public void Kubernetes_policies_allow_nothing_beyond_observed_edges_and_documented_generalisations()
    {
        var k8s = K8sPolicies.Load(Path.Combine(sample.Out, "k8s"));
        var observed = Kept.Select(e => (e.Client.Key, e.Server.Key, e.Port, e.Protocol)).ToHashSet();
        var generalised = sample.Set.Rules.Where(r => r.Generalisation is not null).ToList();
        var universe = sample.Universe();
        int allowed = 0;
        var unexplained = new List<string>();
        foreach (var client in universe)
            foreach (var server in universe)
                foreach (var (port, protocol) in sample.Ports())
                {
                    if (!k8s.Allows(client, server, port, protocol)) continue;
                    allowed++;
                    bool explained = observed.Contains((client.Key, server.Key, port, protocol))
                        || generalised.Any(r => r.Allows(client, server, port, protocol))
                        // DNS: UDP 53 allowed brings TCP 53 to the same peers and the reverse (documented in EmittedRules).
                        || (EmittedRules.DnsCompanion(protocol, port) is { } other && observed.Contains((client.Key, server.Key, port, other)))
                        || (client.Kind == EndpointKind.Node && server.Kind == EndpointKind.Pod) // the NetworkPolicy spec
                        || (!IsWorkload(client) && !IsWorkload(server)); // no pod involved: not a pod policy's business
                    if (!explained) unexplained.Add($"{client} -> {server}:{port}/{IpProtocols.Name(protocol)}");
                }
        Assert.True(allowed > 0);
        Assert.Empty(unexplained.Take(20));
    }

    [Fact]
    public void Every_emitter_decides_like_the_neutral_rule_set_on_observed_and_unobserved_pairs()
    {
        var k8s = K8sPolicies.Load(Path.Combine(sample.Out, "k8s"));
        var cilium = CiliumPolicies.Load(Path.Combine(sample.Out, "cilium"));
        var calico = CalicoPolicies.Load(Path.Combine(sample.Out, "calico"));
        var istio = IstioPolicies.Load(Path.Combine(sample.Out, "istio"));
        var set = sample.Set;
        var universe = sample.Universe();
        var mismatches = new List<string>();
        int compared = 0;
        foreach (var client in universe)
            foreach (var server in universe)
            {
                if (!IsWorkload(client) && !IsWorkload(server)) continue; // no policy of ours applies
                foreach (var (port, protocol) in sample.Ports())
                {
                    // The neutral decision with the emitters' documented deviations (DNS on both transports, internet families).
                    bool neutral = EmittedRules.Allows(set, client, server, port, protocol);
                    string what = $"{client} -> {server}:{port}/{IpProtocols.Name(protocol)} neutral={neutral}";
                    compared++;
                    // NetworkPolicy: node -> pod is always allowed by the spec (documented in the report).
                    bool k8sExpected = neutral || (client.Kind == EndpointKind.Node && server.Kind == EndpointKind.Pod);
                    if (k8s.Allows(client, server, port, protocol) != k8sExpected) mismatches.Add("k8s " + what);
                    if (cilium.Allows(client, server, port, protocol) != neutral) mismatches.Add("cilium " + what);
                    if (calico.Allows(client, server, port, protocol) != neutral) mismatches.Add("calico " + what);
                    // Istio: server-side, TCP, no node sources (probes are rewritten to the sidecar).
                    if (protocol == IpProtocols.Tcp && server.Kind == EndpointKind.Pod && client.Kind != EndpointKind.Node)
                    {
                        bool ingressSide = neutral;
                        if (istio.Allows(client, server, port) != ingressSide) mismatches.Add("istio " + what);
                    }
                }
            }
        Assert.True(compared > 10_000, $"only {compared} decisions compared");
        Assert.Empty(mismatches.Take(20));
    }

    [Fact]
    public void Noise_is_blocked_by_every_format()
    {
        var k8s = K8sPolicies.Load(Path.Combine(sample.Out, "k8s"));
        var cilium = CiliumPolicies.Load(Path.Combine(sample.Out, "cilium"));
        var calico = CalicoPolicies.Load(Path.Combine(sample.Out, "calico"));
        var noise = sample.Set.LeftOut.Select(l => l.Edge).ToList();
        Assert.Contains(noise, e => e.Client.Key == "10.0.9.99");
        Assert.Contains(noise, e => e.Client.Key == "shop/debug-shell");
        foreach (var e in noise)
        {
            // The scanner's port 8080 on frontend is a port frontend serves; from a private address it stays blocked all the same.
            Assert.False(k8s.Allows(e.Client, e.Server, e.Port, e.Protocol), "k8s " + Describe(e));
            Assert.False(cilium.Allows(e.Client, e.Server, e.Port, e.Protocol), "cilium " + Describe(e));
            Assert.False(calico.Allows(e.Client, e.Server, e.Port, e.Protocol), "calico " + Describe(e));
        }
    }

    [Fact]
    public void Rooms_stay_apart_in_every_format()
    {
        var endpoints = sample.Edges.SelectMany(e => new[] { e.Client, e.Server }).DistinctBy(e => e.Key).ToDictionary(e => e.Key);
        var aSignal = endpoints["rooms/room-a-signal"];
        var bMedia = endpoints["rooms/room-b-media"];
        var aMedia = endpoints["rooms/room-a-media"];
        Assert.True(sample.Set.Allows(aSignal, aMedia, 7100, IpProtocols.Udp));
        Assert.False(sample.Set.Allows(aSignal, bMedia, 7100, IpProtocols.Udp));
        Assert.False(K8sPolicies.Load(Path.Combine(sample.Out, "k8s")).Allows(aSignal, bMedia, 7100, IpProtocols.Udp));
        Assert.False(CiliumPolicies.Load(Path.Combine(sample.Out, "cilium")).Allows(aSignal, bMedia, 7100, IpProtocols.Udp));
        Assert.False(CalicoPolicies.Load(Path.Combine(sample.Out, "calico")).Allows(aSignal, bMedia, 7100, IpProtocols.Udp));
        var group = Assert.Single(sample.Set.Groups);
        Assert.Equal("room", group.LabelKey);
        Assert.All(sample.Set.Rules.Where(r => r.Client.Namespace == "rooms" && r.Server.Namespace == "rooms"),
            r => Assert.Contains(r.Client.Selector, l => l.Key == "room"));
    }

    private static bool IsWorkload(Endpoint e) => e.Kind == EndpointKind.Pod;

    private static string Describe(Edge e) => $"{e.Client.Key} -> {e.Server.Key}:{e.Port}/{e.ProtocolName}";
}
