using System.Text;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Embedded;
using FlowPolicy.Ingest.Enrichment;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Hubble;
using FlowPolicy.Tests.Formats;

namespace FlowPolicy.Tests.Enrichment;

/// <summary>
/// Who owns a pod when the record does not say (issue 16, item 3), service accounts (item 7) and namespace labels
/// (item 6) as the readers and the inventory carry them. Hubble lines are written in the shape Cilium's exporter and
/// `hubble observe -o json` print (cilium/cilium api/v1/flow/flow.proto, protojson with proto names): endpoint labels
/// as "source:key=value" with Cilium's default identity-relevant set (pod-template-hash and friends filtered out).
/// </summary>
public sealed class PodOwnerTests
{
    private static readonly DateTime Nov2 = new(2026, 11, 2, 10, 0, 0, DateTimeKind.Utc);

    private static KeyValuePair<string, string>[] Labels(params string[] pairs) =>
        pairs.Select(p => p.Split('=', 2)).Select(p => new KeyValuePair<string, string>(p[0], p[1])).ToArray();

    [Theory]
    // ReplicaSet pods: the template hash (4-9, b, c, d, f) and the 5 generated characters are not typed by people.
    [InlineData("checkout-5d59d67564-qwxzt", "", "checkout", "Deployment")]
    [InlineData("web-1-7c5ddbdf54-k2x7p", "", "web-1", "Deployment")] // a Deployment named web-1, not a StatefulSet web
    [InlineData("frontend-7c5ddbdf54-k2x7p", "pod-template-hash=7c5ddbdf54", "frontend", "Deployment")]
    // StatefulSet ordinals: trusted from the controller's labels, or when an app label agrees with the name.
    [InlineData("db-0", "statefulset.kubernetes.io/pod-name=db-0", "db", "StatefulSet")]
    [InlineData("db-2", "apps.kubernetes.io/pod-index=2", "db", "StatefulSet")]
    [InlineData("redis-cart-1", "app=redis-cart", "redis-cart", "StatefulSet")]
    [InlineData("shop-postgresql-0", "app.kubernetes.io/instance=shop|app.kubernetes.io/name=postgresql", "shop-postgresql", "StatefulSet")]
    [InlineData("web-1", "", "web-1", "Pod")] // a pod someone called web-1: nothing shows a controller
    [InlineData("web-1", "tier=frontend", "web-1", "Pod")] // a label, but not one that names the app
    // Jobs and CronJobs: the job-name label, or a CronJob's scheduled minute in the name.
    [InlineData("migrate-db-k2x7p", "job-name=migrate-db", "migrate-db", "Job")]
    [InlineData("report-29412345-mzq4w", "batch.kubernetes.io/job-name=report-29412345", "report", "CronJob")]
    [InlineData("report-29412345-mzq4w", "", "report", "CronJob")]
    // A single generated suffix: a DaemonSet's pod when its labels say so, some controller's when an app label agrees.
    [InlineData("fluent-bit-k2x7p", "controller-revision-hash=6d7c9|pod-template-generation=3", "fluent-bit", "DaemonSet")]
    [InlineData("fluent-bit-k2x7p", "k8s-app=fluent-bit", "fluent-bit", null)]
    [InlineData("tmp-k2x7p", "", "tmp-k2x7p", "Pod")] // generateName without any app label
    // kubectl run: run=NAME and nothing else.
    [InlineData("debug-shell", "run=debug-shell", "debug-shell", "Pod")]
    [InlineData("curl-0", "run=curl-0", "curl-0", "Pod")]
    [InlineData("api-abcdefgh-k2x7p", "", "api-abcdefgh-k2x7p", "Pod")] // vowels: not a template hash
    public void The_owner_comes_from_labels_then_generated_names_and_otherwise_the_pod_is_bare(
        string pod, string labels, string workload, string? kind)
    {
        var owner = PodOwnerInference.Infer(pod, labels.Length == 0 ? [] : Labels(labels.Split('|')));
        Assert.Equal((workload, kind), (owner.Workload, owner.Kind));
        Assert.Equal(kind == "Pod", owner.IsBare);
    }

    // ---------------- Hubble

    private const string NodeName = "ip-10-0-3-17.eu-west-1.compute.internal";

    /// <summary>A Hubble line from cart's node: the destination (checkout) runs elsewhere, so no workloads[] for it.</summary>
    internal static string HubbleLine(string source, string destination, int port = 8080) =>
        """{"flow":{"time":"2026-11-02T10:00:00.5Z","uuid":"0f6f2c1d-1a9e-4c57-9b0e-4b7c5c9d2e11","verdict":"FORWARDED","ethernet":{"source":"8e:1f:4c:22:10:0a","destination":"ce:9a:01:7f:33:b2"},"IP":{"source":"10.244.1.15","destination":"10.244.2.20","ipVersion":"IPv4"},"l4":{"TCP":{"source_port":51324,"destination_port":PORT,"flags":{"SYN":true}}},"source":SOURCE,"destination":DESTINATION,"Type":"L3_L4","node_name":"NODE","event_type":{"type":4,"sub_type":3},"traffic_direction":"EGRESS","trace_observation_point":"TO_STACK","is_reply":false,"Summary":"TCP Flags: SYN"},"node_name":"NODE","time":"2026-11-02T10:00:00.5Z"}"""
            .Replace("PORT", port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("NODE", NodeName, StringComparison.Ordinal)
            .Replace("SOURCE", source, StringComparison.Ordinal)
            .Replace("DESTINATION", destination, StringComparison.Ordinal);

    internal static string Endpoint(string ns, string pod, string labels, string? workloads = null, int identity = 48211) =>
        $$"""{"ID":{{identity % 4000}},"identity":{{identity}},"cluster_name":"prod-eu","namespace":"{{ns}}","labels":[{{labels}}],"pod_name":"{{pod}}"{{(workloads is null ? "" : ",\"workloads\":" + workloads)}}}""";

    internal static string CiliumLabels(string ns, string serviceAccount, params string[] podLabels) =>
        string.Join(",", podLabels.Select(l => $"\"k8s:{l}\"").Concat(
        [
            $"\"k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name={ns}\"",
            $"\"k8s:io.cilium.k8s.namespace.labels.team=payments\"",
            $"\"k8s:io.cilium.k8s.namespace.labels.environment=prod\"",
            "\"k8s:io.cilium.k8s.policy.cluster=prod-eu\"",
            $"\"k8s:io.cilium.k8s.policy.serviceaccount={serviceAccount}\"",
            $"\"k8s:io.kubernetes.pod.namespace={ns}\"",
        ]));

    private static FlowRecord DecodeHubble(string line) => JsonLineSink.Decode(new HubbleJsonDecoder(), line).Single();

    [Fact]
    public void A_hubble_pod_without_workloads_gets_its_deployment_from_the_pod_name()
    {
        var cart = Endpoint("shop", "cart-7c5ddbdf54-k2x7p", CiliumLabels("shop", "cart", "app=cart"), """[{"name":"cart","kind":"Deployment"}]""");
        var checkout = Endpoint("shop", "checkout-5d59d67564-qwxzt", CiliumLabels("shop", "checkout-sa", "app=checkout", "app.kubernetes.io/part-of=shop"), identity: 51002);
        var flow = DecodeHubble(HubbleLine(cart, checkout));

        Assert.Equal(("cart", "Deployment", WorkloadSource.Reported), (flow.SrcIdentity!.Workload, flow.SrcIdentity.WorkloadKind, flow.SrcIdentity.WorkloadSource));
        var dst = flow.DstIdentity!;
        Assert.Equal(("checkout", "Deployment", WorkloadSource.Derived), (dst.Workload, dst.WorkloadKind, dst.WorkloadSource));
        Assert.Equal("checkout-5d59d67564-qwxzt", dst.Name);
        Assert.False(dst.IsBarePod);
        // One endpoint for every replica, not one per pod.
        Assert.Equal("shop/checkout", Core.Edges.Endpoint.FromIdentity(dst).Key);
    }

    [Fact]
    public void A_kubectl_run_pod_from_hubble_is_a_bare_pod()
    {
        var debug = Endpoint("shop", "debug", CiliumLabels("shop", "default", "run=debug"), identity: 60311);
        var cart = Endpoint("shop", "cart-7c5ddbdf54-k2x7p", CiliumLabels("shop", "cart", "app=cart"), """[{"name":"cart","kind":"Deployment"}]""");
        var flow = DecodeHubble(HubbleLine(debug, cart));

        var src = flow.SrcIdentity!;
        Assert.True(src.IsBarePod);
        Assert.Equal(("debug", WorkloadKinds.BarePod), (src.Workload, src.WorkloadKind));
        var endpoint = Core.Edges.Endpoint.FromIdentity(src);
        Assert.True(endpoint.IsBarePod);
        Assert.Equal("Pod", endpoint.WorkloadKind); // the contract suggest's noise classifier reads
    }

    [Fact]
    public void Service_account_and_namespace_labels_are_read_and_never_become_pod_labels()
    {
        var cart = Endpoint("shop", "cart-7c5ddbdf54-k2x7p", CiliumLabels("shop", "cart-runtime", "app=cart", "tier=backend"), """[{"name":"cart","kind":"Deployment"}]""");
        var flow = DecodeHubble(HubbleLine(cart, cart));

        var src = flow.SrcIdentity!;
        Assert.Equal("cart-runtime", src.ServiceAccount);
        Assert.Equal(["environment=prod", "kubernetes.io/metadata.name=shop", "team=payments"],
            src.NamespaceLabels.Select(l => l.Key + "=" + l.Value));
        Assert.Equal(["app=cart", "tier=backend"], src.Labels.Select(l => l.Key + "=" + l.Value));
        var endpoint = Core.Edges.Endpoint.FromIdentity(src);
        Assert.Equal(["app=cart", "tier=backend"], endpoint.Labels.Select(l => l.Key + "=" + l.Value));
        Assert.Equal("cart-runtime", endpoint.ServiceAccount);
    }

    // ---------------- kubectl and leases

    private static InventoryLoadResult Inventory(string content, string source = "inv.json") =>
        InventoryLoader.Parse(Encoding.UTF8.GetBytes(content), source);

    private const string PodsJson = """
        {"apiVersion":"v1","kind":"List","items":[
          {"apiVersion":"v1","kind":"Pod","metadata":{"name":"checkout-5d59d67564-qwxzt","namespace":"shop","creationTimestamp":"2026-11-01T08:00:00Z",
            "labels":{"app":"checkout","pod-template-hash":"5d59d67564"},
            "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"checkout-5d59d67564","uid":"8f0c1a52-6f3e-4c1a-9d61-2b7f0e1c9a11","controller":true,"blockOwnerDeletion":true}]},
           "spec":{"serviceAccountName":"checkout-sa","serviceAccount":"checkout-sa","nodeName":"ip-10-0-3-17","containers":[{"name":"app","ports":[{"containerPort":8080,"name":"http","protocol":"TCP"}]}]},
           "status":{"phase":"Running","podIP":"10.244.2.20","podIPs":[{"ip":"10.244.2.20"}],"startTime":"2026-11-01T08:00:01Z"}},
          {"apiVersion":"v1","kind":"Pod","metadata":{"name":"debug","namespace":"shop","creationTimestamp":"2026-11-02T09:58:00Z","labels":{"run":"debug"}},
           "spec":{"serviceAccountName":"default","nodeName":"ip-10-0-3-17","containers":[{"name":"debug","image":"busybox"}]},
           "status":{"phase":"Running","podIP":"10.244.1.15","podIPs":[{"ip":"10.244.1.15"}]}},
          {"apiVersion":"v1","kind":"Pod","metadata":{"name":"kube-proxy-ip-10-0-3-17","namespace":"kube-system","creationTimestamp":"2026-10-01T00:00:00Z",
            "labels":{"component":"kube-proxy","tier":"node"},
            "ownerReferences":[{"apiVersion":"v1","kind":"Node","name":"ip-10-0-3-17","uid":"4b1d2c0e-0000-4000-8000-000000000001","controller":true}]},
           "spec":{"nodeName":"ip-10-0-3-17","containers":[{"name":"kube-proxy"}]},
           "status":{"phase":"Running","podIP":"10.244.1.3"}}
        ]}
        """;

    [Fact]
    public void Kubectl_pods_carry_their_service_account_and_a_pod_without_owner_references_is_bare()
    {
        var result = Inventory(PodsJson);
        Assert.Empty(result.Errors);

        var checkout = result.Index.Lookup(PackedIp.Parse("10.244.2.20"), Nov2)!;
        Assert.Equal(("checkout", "Deployment", "checkout-sa", WorkloadSource.Reported),
            (checkout.Workload, checkout.WorkloadKind, checkout.ServiceAccount, checkout.WorkloadSource));
        var debug = result.Index.Lookup(PackedIp.Parse("10.244.1.15"), Nov2)!;
        Assert.True(debug.IsBarePod);
        Assert.Equal(("debug", "default"), (debug.Workload, debug.ServiceAccount));
        // A static pod is the kubelet's, one per node: not a bare one-off.
        var proxy = result.Index.Lookup(PackedIp.Parse("10.244.1.3"), Nov2)!;
        Assert.Equal(("kube-proxy", "StaticPod"), (proxy.Workload, proxy.WorkloadKind));
        Assert.False(proxy.IsBarePod);
    }

    [Fact]
    public void Namespace_objects_in_the_inventory_give_namespace_labels_and_no_lease()
    {
        var result = Inventory("""
            {"apiVersion":"v1","kind":"List","items":[
              {"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop","creationTimestamp":"2026-01-01T00:00:00Z","labels":{"kubernetes.io/metadata.name":"shop","team":"payments"}},"spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}},
              {"apiVersion":"v1","kind":"Namespace","metadata":{"name":"monitoring","labels":{"kubernetes.io/metadata.name":"monitoring","purpose":"observability"}}}
            ]}
            """, "namespaces.json");

        Assert.Empty(result.Errors);
        Assert.Equal(0, result.Index.LeaseCount);
        Assert.Equal(["kubernetes.io/metadata.name=shop", "team=payments"], result.NamespaceLabels["shop"].Select(l => l.Key + "=" + l.Value));
        Assert.Equal("observability", result.NamespaceLabels["monitoring"].Single(l => l.Key == "purpose").Value);
    }

    [Fact]
    public void Leases_carry_a_service_account_and_a_name_only_pod_lease_gets_its_owner_inferred()
    {
        var result = Inventory("""
            {"ip":"10.244.3.5","from":"2026-11-01T00:00:00Z","kind":"pod","namespace":"shop","workload":"payments","workload_kind":"Deployment","name":"payments-6b9d7c8f4-zz2xq","service_account":"payments-sa","labels":{"app":"payments"}}
            {"ip":"10.244.3.6","from":"2026-11-01T00:00:00Z","kind":"pod","namespace":"shop","name":"payments-6b9d7c8f4-q4w5x","labels":{"app":"payments"}}
            {"ip":"10.244.3.7","from":"2026-11-01T00:00:00Z","kind":"pod","namespace":"shop","name":"tmp-shell"}
            {"ip":"10.244.3.8","from":"2026-11-01T00:00:00Z","kind":"pod","namespace":"shop","name":"redis-0","workload_kind":"Pod"}
            """, "leases.jsonl");

        Assert.Empty(result.Errors);
        var reported = result.Index.Lookup(PackedIp.Parse("10.244.3.5"), Nov2)!;
        Assert.Equal(("payments", "payments-sa", WorkloadSource.Reported), (reported.Workload, reported.ServiceAccount, reported.WorkloadSource));
        var inferred = result.Index.Lookup(PackedIp.Parse("10.244.3.6"), Nov2)!;
        Assert.Equal(("payments", "Deployment", WorkloadSource.Derived), (inferred.Workload, inferred.WorkloadKind, inferred.WorkloadSource));
        Assert.Null(inferred.ServiceAccount);
        Assert.True(result.Index.Lookup(PackedIp.Parse("10.244.3.7"), Nov2)!.IsBarePod);
        var saidBare = result.Index.Lookup(PackedIp.Parse("10.244.3.8"), Nov2)!;
        Assert.Equal(("redis-0", WorkloadSource.Reported), (saidBare.Workload, saidBare.WorkloadSource));
        Assert.True(saidBare.IsBarePod);
    }

    // ---------------- enrichment

    [Fact]
    public void The_inventory_replaces_an_inferred_owner_but_never_a_reported_one()
    {
        var index = Inventory(PodsJson).Index;
        var enricher = new FlowEnricher(index);
        // Hubble saw the checkout pod with nothing to go on (called it bare); the inventory knows its ReplicaSet.
        var guessed = new WorkloadIdentity(EndpointKind.Pod, "shop", "checkout-5d59d67564-qwxzt", WorkloadKinds.BarePod, "checkout-5d59d67564-qwxzt")
        {
            WorkloadSource = WorkloadSource.Derived,
        };
        var reported = new WorkloadIdentity(EndpointKind.Pod, "shop", "debug", WorkloadKinds.BarePod, "debug") { WorkloadSource = WorkloadSource.Reported };
        var flow = new FlowRecord
        {
            Start = Nov2, End = Nov2, Protocol = IpProtocols.Tcp, DstPort = 8080,
            SrcIp = PackedIp.Parse("10.244.1.15"), DstIp = PackedIp.Parse("10.244.2.20"),
            SrcIdentity = reported, DstIdentity = guessed,
        };
        enricher.Enrich(ref flow);

        Assert.Same(reported, flow.SrcIdentity);
        Assert.Equal(("checkout", "Deployment", "checkout-sa"), (flow.DstIdentity!.Workload, flow.DstIdentity.WorkloadKind, flow.DstIdentity.ServiceAccount));
    }

    [Fact]
    public void An_inferred_owner_does_not_yield_to_a_pod_of_another_namespace()
    {
        var index = Inventory(PodsJson).Index;
        var guessed = new WorkloadIdentity(EndpointKind.Pod, "other", "checkout", WorkloadKinds.Deployment, "checkout-5d59d67564-qwxzt")
        {
            WorkloadSource = WorkloadSource.Derived,
        };
        var flow = new FlowRecord { Start = Nov2, End = Nov2, Protocol = IpProtocols.Tcp, DstIp = PackedIp.Parse("10.244.2.20"), DstIdentity = guessed };
        new FlowEnricher(index).Enrich(ref flow);
        Assert.Same(guessed, flow.DstIdentity);
    }

    // ---------------- the embedded edge source

    [Fact]
    public void Namespace_labels_from_hubble_and_the_inventory_reach_the_edge_load_and_the_inventory_wins()
    {
        var dir = Directory.CreateTempSubdirectory("flowpolicy-nslabels-").FullName;
        try
        {
            var cart = Endpoint("shop", "cart-7c5ddbdf54-k2x7p", CiliumLabels("shop", "cart", "app=cart"), """[{"name":"cart","kind":"Deployment"}]""");
            var mon = Endpoint("monitoring", "prometheus-0", CiliumLabels("monitoring", "prometheus", "app.kubernetes.io/name=prometheus"), identity: 7001);
            var flows = Path.Combine(dir, "hubble.json");
            File.WriteAllText(flows, HubbleLine(mon, cart, 9090) + "\n");
            var namespaces = Path.Combine(dir, "namespaces.json");
            File.WriteAllText(namespaces, """{"apiVersion":"v1","kind":"NamespaceList","items":[{"metadata":{"name":"shop","labels":{"kubernetes.io/metadata.name":"shop","tier":"gold"}}}]}""");

            var load = new FileEdgeSource(new FileEdgeSourceOptions { FlowFiles = [flows], InventoryFiles = [namespaces] }).Load();

            var edge = Assert.Single(load.Edges);
            Assert.Equal(("monitoring/prometheus", "StatefulSet"), (edge.Client.Key, edge.Client.WorkloadKind));
            Assert.Equal("prometheus", edge.Client.ServiceAccount);
            Assert.Equal("payments", load.NamespaceLabels["monitoring"].Single(l => l.Key == "team").Value); // from Hubble
            Assert.Equal(["kubernetes.io/metadata.name=shop", "tier=gold"], load.NamespaceLabels["shop"].Select(l => l.Key + "=" + l.Value)); // the inventory's
            Assert.DoesNotContain(edge.Server.Labels, l => l.Key.Contains("metadata.name", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

/// <summary>Istio principals name the service account the data carried, and guess only when none did (issue 16, item 7).</summary>
public sealed class IstioPrincipalTests
{
    [Fact]
    public void The_principal_uses_the_real_service_account_and_falls_back_to_the_workload_name()
    {
        var known = Core.Edges.Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, "shop", "frontend", "Deployment", "frontend-7c5ddbdf54-k2x7p")
        {
            ServiceAccount = "storefront",
        });
        var unknown = Core.Edges.Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, "shop", "cart", "Deployment", "cart-7c5ddbdf54-k2x7p"));

        Assert.Equal("cluster.local/ns/shop/sa/storefront", global::FlowPolicy.Suggest.Emitters.IstioEmitter.Principal(global::FlowPolicy.Suggest.Inference.Peer.ForWorkload(known), "cluster.local"));
        Assert.Equal("cluster.local/ns/shop/sa/cart", global::FlowPolicy.Suggest.Emitters.IstioEmitter.Principal(global::FlowPolicy.Suggest.Inference.Peer.ForWorkload(unknown), "cluster.local"));
        Assert.Contains("guesses a service account named after the workload", new global::FlowPolicy.Suggest.Emitters.IstioEmitter().Assumptions);
    }
}
