using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;

namespace FlowPolicy.Tests.Edges;

public sealed class WorkloadSelectorTests
{
    // The labels a Helm chart made with `helm create` puts on its pods, plus a pod-template-hash.
    private static readonly KeyValuePair<string, string>[] HelmPod = Labels(
        ("app.kubernetes.io/name", "cart"), ("app.kubernetes.io/instance", "shop"), ("app.kubernetes.io/version", "1.4.2"),
        ("app.kubernetes.io/managed-by", "Helm"), ("helm.sh/chart", "cart-0.3.1"), ("pod-template-hash", "7d4b9c"));

    [Fact]
    public void Helm_pods_are_selected_by_name_and_instance_never_by_version_chart_or_manager()
    {
        var selector = WorkloadSelector.Choose(StableLabels.Of(HelmPod));
        Assert.Equal(Labels(("app.kubernetes.io/instance", "shop"), ("app.kubernetes.io/name", "cart")), selector);
    }

    [Fact]
    public void The_app_label_is_chosen_over_version_and_other_labels()
    {
        var selector = WorkloadSelector.Choose(Labels(("app", "reviews"), ("team", "books"), ("version", "v2")));
        Assert.Equal(Labels(("app", "reviews")), selector);
    }

    [Theory]
    [InlineData("k8s-app", "kube-dns")]
    [InlineData("name", "metrics")]
    public void Add_on_conventions_identify_a_workload(string key, string value)
    {
        var selector = WorkloadSelector.Choose(Labels((key, value), ("chart", "x-1.0"), ("zone", "a")));
        Assert.Equal(Labels((key, value)), selector);
    }

    [Fact]
    public void Without_an_identifying_key_every_label_but_per_release_ones_selects()
    {
        var selector = WorkloadSelector.Choose(Labels(("heritage", "Helm"), ("role", "db"), ("team", "a"), ("track", "canary"), ("version", "3")));
        Assert.Equal(Labels(("role", "db"), ("team", "a")), selector);
    }

    [Fact]
    public void A_neighbour_sharing_the_identifying_labels_adds_the_component_to_keep_each_selector_its_own()
    {
        var primary = Labels(("app.kubernetes.io/component", "primary"), ("app.kubernetes.io/instance", "db"), ("app.kubernetes.io/name", "postgresql"));
        var read = Labels(("app.kubernetes.io/component", "read"), ("app.kubernetes.io/instance", "db"), ("app.kubernetes.io/name", "postgresql"));
        Assert.Equal(primary, WorkloadSelector.Choose(primary, [read]));
        Assert.Equal(read, WorkloadSelector.Choose(read, [primary]));
        // Alone in its namespace the component is not needed.
        Assert.Equal(Labels(("app.kubernetes.io/instance", "db"), ("app.kubernetes.io/name", "postgresql")), WorkloadSelector.Choose(primary, []));
    }

    [Fact]
    public void Disambiguation_never_uses_per_release_keys()
    {
        var v1 = Labels(("app", "web"), ("version", "v1"));
        var v2 = Labels(("app", "web"), ("version", "v2"));
        Assert.Equal(Labels(("app", "web")), WorkloadSelector.Choose(v1, [v2]));
    }

    [Fact]
    public void Intersect_keeps_shared_pairs_and_reports_changed_keys()
    {
        var changed = new SortedSet<string>(StringComparer.Ordinal);
        var kept = WorkloadSelector.Intersect(
            Labels(("app", "web"), ("release-train", "r1"), ("team", "a")),
            Labels(("app", "web"), ("release-train", "r2"), ("tier", "front")), changed);
        Assert.Equal(Labels(("app", "web")), kept);
        Assert.Equal(["release-train", "team", "tier"], changed);
    }

    [Fact]
    public void An_endpoint_made_alone_selects_by_its_identifying_labels()
    {
        var endpoint = Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, "shop", "cart", "Deployment", "cart-1", HelmPod));
        Assert.Equal(Labels(("app.kubernetes.io/instance", "shop"), ("app.kubernetes.io/name", "cart")), endpoint.Selector);
        Assert.Contains(endpoint.Labels, l => l.Key == "helm.sh/chart"); // still a label for intent evaluation
        Assert.False(endpoint.LabelsChanged);
    }

    internal static KeyValuePair<string, string>[] Labels(params (string Key, string Value)[] pairs) =>
        pairs.Select(p => KeyValuePair.Create(p.Key, p.Value)).OrderBy(p => p.Key, StringComparer.Ordinal).ToArray();
}
