using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Net;
using FlowPolicy.Tests.Intent;

namespace FlowPolicy.Tests.Edges;

public sealed class NamespaceScopeTests
{
    [Fact]
    public void Policies_leave_out_the_system_namespaces_unless_an_include_pattern_is_given()
    {
        var scope = NamespaceScope.ForPolicies([], []);
        foreach (var ns in new[] { "kube-system", "kube-public", "kube-node-lease" }) Assert.False(scope.Includes(ns), ns);
        Assert.True(scope.Includes("shop"));
        Assert.True(scope.Includes("kube-systems")); // a pattern, not a prefix
        Assert.False(scope.Includes(null));

        var everything = NamespaceScope.ForPolicies(["*"], []);
        Assert.True(everything.Includes("kube-system"));
        var some = NamespaceScope.ForPolicies(["team-?", "kube-system"], ["team-b"]);
        Assert.True(some.Includes("team-a"));
        Assert.False(some.Includes("team-b")); // an exclusion wins over an inclusion
        Assert.False(some.Includes("team-ab"));
        Assert.True(some.Includes("kube-system"));
        Assert.False(some.Includes("shop"));
    }

    [Fact]
    public void Check_and_analyze_scope_only_what_the_user_names()
    {
        Assert.True(NamespaceScope.Exactly([], []).IsEverything);
        Assert.True(NamespaceScope.Exactly([], []).Includes("kube-system"));
        var scope = NamespaceScope.Exactly([], ["monitoring", "ci-*"]);
        Assert.False(scope.Includes("ci-runner"));
        Assert.True(scope.Includes("kube-system"));
    }

    [Fact]
    public void An_edge_stays_when_either_end_is_in_scope_or_neither_end_has_a_namespace()
    {
        var scope = NamespaceScope.ForPolicies([], []);
        var frontend = PolicyFiles.Pod("shop", "frontend");
        var coredns = PolicyFiles.Pod("kube-system", "coredns");
        var proxy = PolicyFiles.Pod("kube-system", "kube-proxy");
        var node = PolicyFiles.Node("node-a");
        var internet = PolicyFiles.Ip("203.0.113.9");
        Assert.True(scope.Keeps(new Edge(frontend, coredns, 53, IpProtocols.Udp)));
        Assert.True(scope.Keeps(new Edge(coredns, frontend, 8080, IpProtocols.Tcp)));
        Assert.False(scope.Keeps(new Edge(proxy, coredns, 53, IpProtocols.Udp)));
        Assert.False(scope.Keeps(new Edge(node, coredns, 8181, IpProtocols.Tcp)));
        Assert.False(scope.Keeps(new Edge(coredns, internet, 53, IpProtocols.Udp)));
        Assert.True(scope.Keeps(new Edge(node, internet, 443, IpProtocols.Tcp)));
        Assert.True(scope.Keeps(new Edge(internet, frontend, 443, IpProtocols.Tcp)));
    }

    [Fact]
    public void An_empty_pattern_is_refused()
    {
        Assert.Throws<ArgumentException>(() => NamespaceScope.ForPolicies([""], []));
        Assert.Throws<ArgumentException>(() => NamespaceScope.Exactly([], [" "]));
    }
}
