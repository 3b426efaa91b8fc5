using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Suggest.Inference;
using FlowPolicy.Suggest.Reports;

namespace FlowPolicy.Tests.Suggest;

/// <summary>
/// Issue 15 item 1: a `helm upgrade` (or a rollout inside the window) must not leave the live pods matched only by the
/// default deny. Pods with a realistic Helm label set, v1 then v2 within the window, then the next release (v3) that
/// the suggestion never saw: every format still allows the dependency for the v3 pods.
/// </summary>
public sealed class ReleaseLabelSelectorTests : IDisposable
{
    private static readonly DateTime Start = new(2026, 11, 2, 0, 0, 0, DateTimeKind.Utc);
    private readonly string _dir = Directory.CreateTempSubdirectory("flowpolicy-release-labels-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static WorkloadIdentity HelmPod(string name, string pod, string appVersion, string chartVersion, string hash, string build) =>
        new(EndpointKind.Pod, "shop", name, "Deployment", pod,
        [
            new("app.kubernetes.io/name", name), new("app.kubernetes.io/instance", "shop"),
            new("app.kubernetes.io/version", appVersion), new("app.kubernetes.io/managed-by", "Helm"),
            new("helm.sh/chart", name + "-" + chartVersion), new("pod-template-hash", hash), new("version", appVersion),
            new("build", build),
        ]);

    [Fact]
    public void The_next_release_of_both_sides_is_still_allowed_in_every_format()
    {
        var aggregator = new EdgeAggregator();
        for (int day = 0; day < 14; day++)
        {
            // The window sees a rollout of cart on day 7: v1 pods, then v2 pods.
            var cart = day < 7 ? HelmPod("cart", "cart-aaa-1", "1.4.0", "0.3.0", "aaa", "1041") : HelmPod("cart", "cart-bbb-1", "1.5.0", "0.4.0", "bbb", "1042");
            var frontend = HelmPod("frontend", "frontend-ccc-1", "2.0.0", "1.0.0", "ccc", "77");
            for (int hour = 0; hour < 24; hour += 3)
                aggregator.Add(Flow(frontend, cart, Start.AddDays(day).AddHours(hour)), isReply: false);
        }
        var edges = aggregator.ToEdges();
        var observedCart = edges.Single().Server;
        Assert.Equal(new[] { "build", "helm.sh/chart", "app.kubernetes.io/version", "version" }.Order(StringComparer.Ordinal), observedCart.ChangedLabelKeys);

        var set = new RuleInference(new SuggestOptions { WindowStart = Start, WindowEnd = Start.AddDays(14) }).Infer(edges);
        var rule = Assert.Single(set.Rules);
        Assert.Equal(["app.kubernetes.io/instance", "app.kubernetes.io/name"], rule.Server.Selector.Select(l => l.Key));
        Assert.Equal(["app.kubernetes.io/instance", "app.kubernetes.io/name"], rule.Client.Selector.Select(l => l.Key));
        new SuggestionOutput(new SuggestionOutputOptions { Directory = _dir }).Write(set);

        var report = File.ReadAllText(Path.Combine(_dir, "report.md"));
        Assert.Contains("## Relabelled within the window", report);
        Assert.Contains("- `shop/cart`: `app.kubernetes.io/version`, `build`, `helm.sh/chart`, `version` changed; selected by `app.kubernetes.io/instance=shop`, `app.kubernetes.io/name=cart`.", report);
        Assert.DoesNotContain("`shop/frontend`:", report);

        foreach (var file in Directory.EnumerateFiles(_dir, "*.yaml", SearchOption.AllDirectories))
        {
            var text = File.ReadAllText(file);
            foreach (var releaseKey in new[] { "helm.sh/chart", "app.kubernetes.io/version", "managed-by: Helm", "pod-template-hash", "build" })
                Assert.DoesNotContain(releaseKey, text);
        }

        // The next helm upgrade: new versions, new chart, new hash, new build number on both sides.
        var nextCart = Endpoint.FromIdentity(HelmPod("cart", "cart-ddd-1", "1.6.0", "0.5.0", "ddd", "1050"));
        var nextFrontend = Endpoint.FromIdentity(HelmPod("frontend", "frontend-eee-1", "2.1.0", "1.1.0", "eee", "78"));
        Assert.True(set.Allows(nextFrontend, nextCart, 7070, IpProtocols.Tcp));
        Assert.True(K8sPolicies.Load(Path.Combine(_dir, "k8s")).Allows(nextFrontend, nextCart, 7070, IpProtocols.Tcp));
        Assert.True(CiliumPolicies.Load(Path.Combine(_dir, "cilium")).Allows(nextFrontend, nextCart, 7070, IpProtocols.Tcp));
        Assert.True(CalicoPolicies.Load(Path.Combine(_dir, "calico")).Allows(nextFrontend, nextCart, 7070, IpProtocols.Tcp));
    }

    private static FlowRecord Flow(WorkloadIdentity src, WorkloadIdentity dst, DateTime at) => new()
    {
        Start = at,
        End = at.AddSeconds(1),
        SrcIp = PackedIp.Parse("10.244.0.1"),
        DstIp = PackedIp.Parse("10.244.0.2"),
        SrcPort = 40000,
        DstPort = 7070,
        Protocol = IpProtocols.Tcp,
        Bytes = 1000,
        Packets = 4,
        Verdict = Verdict.Allowed,
        SrcIdentity = src,
        DstIdentity = dst,
    };
}
