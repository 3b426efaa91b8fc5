using System.Text;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Enrichment;

namespace FlowPolicy.Tests.Enrichment;

public sealed class KubectlInventoryTests
{
    private static readonly DateTime Nov2 = new(2026, 11, 2, 10, 0, 0, DateTimeKind.Utc);

    private static InventoryLoadResult Parse(string content, string source = "pods.json") =>
        InventoryLoader.Parse(Encoding.UTF8.GetBytes(content), source);

    private static WorkloadIdentity? At(InventoryLoadResult result, string ip, DateTime at) =>
        result.Index.Lookup(PackedIp.Parse(ip), at);

    [Fact]
    public void A_replicaset_pod_belongs_to_its_deployment_on_every_address_of_a_dual_stack_pod()
    {
        var result = Parse(KubectlFixtures.Pods);

        Assert.Empty(result.Errors);
        var v4 = At(result, "10.244.1.7", Nov2);
        Assert.NotNull(v4);
        Assert.Equal(EndpointKind.Pod, v4.Kind);
        Assert.Equal("shop", v4.Namespace);
        Assert.Equal("cartservice", v4.Workload);
        Assert.Equal("Deployment", v4.WorkloadKind);
        Assert.Equal("cartservice-7d9c5b6f8d-x2x7k", v4.Name);
        Assert.Equal("7d9c5b6f8d", v4.Label("pod-template-hash")); // labels as they are; suggest drops per-instance ones
        Assert.Same(v4, At(result, "fd00:10:244:1::7", Nov2));
        Assert.True(result.Index.Serves(PackedIp.Parse("10.244.1.7"), 7070, IpProtocols.Tcp, Nov2));
        Assert.Null(At(result, "10.244.1.7", new DateTime(2026, 11, 1, 7, 59, 59, DateTimeKind.Utc))); // before creation
    }

    [Fact]
    public void Statefulset_and_daemonset_pods_keep_their_owner_name()
    {
        var result = Parse(KubectlFixtures.Pods);

        var redis = At(result, "10.244.2.3", Nov2);
        Assert.Equal(("redis-cart", "StatefulSet"), (redis?.Workload, redis?.WorkloadKind));
        Assert.True(result.Index.Serves(PackedIp.Parse("10.244.2.3"), 6379, IpProtocols.Tcp, Nov2));
        var fluent = At(result, "10.244.1.20", Nov2);
        Assert.Equal(("logging", "fluent-bit", "DaemonSet"), (fluent?.Namespace, fluent?.Workload, fluent?.WorkloadKind));
    }

    [Fact]
    public void A_cronjob_job_pod_belongs_to_the_cronjob_and_a_plain_job_stays_a_job()
    {
        var result = Parse(KubectlFixtures.Pods);

        var report = At(result, "10.244.2.9", new DateTime(2026, 11, 2, 0, 1, 0, DateTimeKind.Utc));
        Assert.Equal(("report", "CronJob"), (report?.Workload, report?.WorkloadKind));
        var migrate = At(result, "10.244.2.10", Nov2);
        Assert.Equal(("migrate-db-v2", "Job"), (migrate?.Workload, migrate?.WorkloadKind));
    }

    [Fact]
    public void A_finished_pod_releases_its_address_when_its_last_container_stopped()
    {
        var result = Parse(KubectlFixtures.Pods);
        var finished = new DateTime(2026, 11, 2, 0, 5, 0, DateTimeKind.Utc);

        Assert.NotNull(At(result, "10.244.2.9", finished.AddTicks(-1)));
        Assert.Null(At(result, "10.244.2.9", finished));
    }

    [Fact]
    public void A_pod_without_owner_is_a_bare_pod()
    {
        var debug = At(Parse(KubectlFixtures.Pods), "10.244.1.30", Nov2);

        Assert.Equal(("default", "debug-shell", "Pod"), (debug?.Namespace, debug?.Workload, debug?.WorkloadKind));
    }

    [Fact]
    public void A_host_network_pod_leaves_the_address_to_its_node()
    {
        using var files = new InventoryTestFiles();
        var pods = files.Write("pods.json", KubectlFixtures.Pods);
        var nodes = files.Write("nodes.json", KubectlFixtures.Nodes);

        var result = InventoryLoader.Load([pods, nodes]);

        Assert.Empty(result.Errors);
        var node = At(result, "10.0.0.11", Nov2);
        Assert.Equal(EndpointKind.Node, node?.Kind);
        Assert.Equal("node:node-1", node?.ToString());
        Assert.Equal("Node", node?.WorkloadKind);
        Assert.Same(node, At(result, "203.0.113.11", Nov2)); // ExternalIP too
        Assert.True(result.Index.Serves(PackedIp.Parse("10.0.0.12"), 10250, IpProtocols.Tcp, Nov2));
        Assert.Equal(2, result.SkippedItems); // the hostNetwork pod and the pending pod without an address
    }

    [Fact]
    public void A_deleted_pod_hands_its_address_to_the_next_pod_at_its_deletion_time()
    {
        var result = Parse(KubectlFixtures.Pods);
        var deleted = new DateTime(2026, 11, 1, 12, 0, 0, DateTimeKind.Utc);

        Assert.Equal("checkout", At(result, "10.244.3.5", deleted.AddMinutes(-1))?.Workload);
        Assert.Null(At(result, "10.244.3.5", deleted.AddSeconds(20))); // freed, not yet reused
        Assert.Equal("payment", At(result, "10.244.3.5", deleted.AddMinutes(1))?.Workload);
        Assert.True(result.Index.Serves(PackedIp.Parse("10.244.3.5"), 50051, IpProtocols.Tcp, deleted.AddMinutes(1)));
        Assert.False(result.Index.Serves(PackedIp.Parse("10.244.3.5"), 5050, IpProtocols.Tcp, deleted.AddMinutes(1)));
    }

    [Fact]
    public void A_typed_pod_list_from_the_api_has_items_without_kind()
    {
        var result = Parse(KubectlFixtures.TypedPodList);

        Assert.Empty(result.Errors);
        Assert.Equal("shop/adservice", At(result, "10.244.4.4", Nov2)?.ToString());
    }

    [Fact]
    public void Services_give_their_cluster_ip_and_ports_and_headless_ones_are_skipped()
    {
        var result = Parse(KubectlFixtures.Services, "services.json");

        Assert.Empty(result.Errors);
        var dns = At(result, "10.96.0.10", Nov2);
        Assert.Equal((EndpointKind.Service, "kube-system", "kube-dns", "Service"), (dns?.Kind, dns?.Namespace, dns?.Workload, dns?.WorkloadKind));
        Assert.True(result.Index.Serves(PackedIp.Parse("10.96.0.10"), 53, IpProtocols.Udp, Nov2));
        Assert.True(result.Index.Serves(PackedIp.Parse("10.96.0.10"), 9153, IpProtocols.Tcp, Nov2));
        Assert.Equal(1, result.Index.LeaseCount);
        Assert.Equal(1, result.SkippedItems);
    }

    [Fact]
    public void Bad_items_are_reported_by_index_and_the_rest_loads()
    {
        const string list = """
            {"apiVersion":"v1","kind":"List","items":[
              {"kind":"Pod","metadata":{"name":"ok","namespace":"a","creationTimestamp":"2026-11-01T00:00:00Z"},"status":{"podIP":"10.0.0.1"}},
              {"kind":"Pod","metadata":{"name":"bad-ip","namespace":"a","creationTimestamp":"2026-11-01T00:00:00Z"},"status":{"podIP":"10.0.0"}},
              {"kind":"Pod","metadata":{"name":"no-time","namespace":"a"},"status":{"podIP":"10.0.0.3"}},
              {"kind":"ConfigMap","metadata":{"name":"cm","namespace":"a"}},
              {"kind":"Pod","metadata":{"name":"bad-port","namespace":"a","creationTimestamp":"2026-11-01T00:00:00Z"},"spec":{"containers":[{"name":"c","ports":[{"containerPort":"http"}]}]},"status":{"podIP":"10.0.0.5"}},
              {"kind":"Pod","metadata":{"name":"ok2","namespace":"a","creationTimestamp":"2026-11-01T00:00:00Z"},"status":{"podIP":"10.0.0.6"}}
            ]}
            """;

        var result = Parse(list, "inv/pods.json");

        Assert.Equal(2, result.Index.LeaseCount);
        Assert.Equal(
            [
                "inv/pods.json: items[1]: a/bad-ip: status.podIP '10.0.0' is not an IP address",
                "inv/pods.json: items[2]: a/no-time: pod has neither metadata.creationTimestamp nor status.startTime",
                "inv/pods.json: items[3]: a/cm: unsupported kind 'ConfigMap' (expected Pod, Node, Service or Namespace)",
                "inv/pods.json: items[4]: a/bad-port: a container port has no valid containerPort",
            ],
            result.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void A_broken_pretty_printed_document_is_one_error_not_one_per_line()
    {
        var broken = KubectlFixtures.Nodes[..(KubectlFixtures.Nodes.Length / 2)];

        var result = Parse(broken, "nodes.json");

        var error = Assert.Single(result.Errors);
        Assert.StartsWith("invalid JSON document", error.Reason, StringComparison.Ordinal);
        Assert.Equal(0, result.Index.LeaseCount);
    }

    [Theory]
    [InlineData("ReplicaSet", "web-7d9c5b6f8d", "7d9c5b6f8d", "web", "Deployment")]
    [InlineData("ReplicaSet", "web-api-v2-7d9c5b6f8d", null, "web-api-v2", "Deployment")] // no label: hash-shaped suffix
    [InlineData("ReplicaSet", "standalone-rs", null, "standalone-rs", "ReplicaSet")]
    [InlineData("Job", "nightly-backup-29884320", null, "nightly-backup", "CronJob")]
    [InlineData("Job", "import-1234567", null, "import-1234567", "Job")] // 7 digits is not a schedule time
    [InlineData("StatefulSet", "kafka", null, "kafka", "StatefulSet")]
    [InlineData("Rollout", "checkout", null, "checkout", "Rollout")]
    [InlineData("Node", "node-1", null, "kube-proxy", "StaticPod")] // static (mirror) pod
    public void The_owner_reference_names_the_workload(string ownerKind, string ownerName, string? hash, string workload, string kind)
    {
        var labels = hash is null ? "" : $$""","labels":{"pod-template-hash":"{{hash}}"}""";
        var pod = $$$"""
            {"kind":"Pod","metadata":{"name":"kube-proxy-node-1","namespace":"a","creationTimestamp":"2026-11-01T00:00:00Z"{{{labels}}},
             "ownerReferences":[{"kind":"{{{ownerKind}}}","name":"{{{ownerName}}}","controller":true}]},"status":{"podIP":"10.0.0.1"}}
            """;

        var identity = At(Parse(pod), "10.0.0.1", Nov2);

        Assert.Equal((workload, kind), (identity?.Workload, identity?.WorkloadKind));
    }
}
