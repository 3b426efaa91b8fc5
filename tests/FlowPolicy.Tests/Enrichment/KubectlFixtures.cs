namespace FlowPolicy.Tests.Enrichment;

/// <summary>
/// Kubernetes API objects as `kubectl get ... -o json` prints them (v1 List with typed items), written after
/// the core/v1 Pod, Node and Service schemas; uids and resourceVersions shortened.
/// </summary>
internal static class KubectlFixtures
{
    /// <summary>`kubectl get pods -A -o json`.</summary>
    public const string Pods = """
    {
        "apiVersion": "v1",
        "items": [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "creationTimestamp": "2026-11-01T08:00:00Z",
                    "generateName": "cartservice-7d9c5b6f8d-",
                    "labels": { "app": "cartservice", "pod-template-hash": "7d9c5b6f8d" },
                    "name": "cartservice-7d9c5b6f8d-x2x7k",
                    "namespace": "shop",
                    "ownerReferences": [
                        { "apiVersion": "apps/v1", "blockOwnerDeletion": true, "controller": true, "kind": "ReplicaSet", "name": "cartservice-7d9c5b6f8d", "uid": "5c1e0d3a-01" }
                    ],
                    "resourceVersion": "1001",
                    "uid": "a1b2c3d4-01"
                },
                "spec": {
                    "containers": [
                        {
                            "image": "gcr.io/google-samples/microservices-demo/cartservice:v0.10.1",
                            "name": "server",
                            "ports": [ { "containerPort": 7070, "name": "grpc", "protocol": "TCP" } ]
                        }
                    ],
                    "nodeName": "node-1",
                    "restartPolicy": "Always"
                },
                "status": {
                    "hostIP": "10.0.0.11",
                    "phase": "Running",
                    "podIP": "10.244.1.7",
                    "podIPs": [ { "ip": "10.244.1.7" }, { "ip": "fd00:10:244:1::7" } ],
                    "startTime": "2026-11-01T08:00:01Z"
                }
            },
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "creationTimestamp": "2026-10-20T00:00:00Z",
                    "generateName": "redis-cart-",
                    "labels": { "app": "redis-cart", "apps.kubernetes.io/pod-index": "0", "controller-revision-hash": "redis-cart-5b7d8c9f4", "statefulset.kubernetes.io/pod-name": "redis-cart-0" },
                    "name": "redis-cart-0",
                    "namespace": "shop",
                    "ownerReferences": [
                        { "apiVersion": "apps/v1", "blockOwnerDeletion": true, "controller": true, "kind": "StatefulSet", "name": "redis-cart", "uid": "5c1e0d3a-02" }
                    ],
                    "uid": "a1b2c3d4-02"
                },
                "spec": {
                    "containers": [
                        { "image": "redis:7.2-alpine", "name": "redis", "ports": [ { "containerPort": 6379, "name": "redis", "protocol": "TCP" } ] }
                    ],
                    "nodeName": "node-2"
                },
                "status": { "hostIP": "10.0.0.12", "phase": "Running", "podIP": "10.244.2.3", "podIPs": [ { "ip": "10.244.2.3" } ], "startTime": "2026-10-20T00:00:02Z" }
            },
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "creationTimestamp": "2026-10-01T00:00:00Z",
                    "generateName": "node-exporter-",
                    "labels": { "app.kubernetes.io/name": "node-exporter", "controller-revision-hash": "6d5f7c8b9", "pod-template-generation": "1" },
                    "name": "node-exporter-7xkq2",
                    "namespace": "monitoring",
                    "ownerReferences": [
                        { "apiVersion": "apps/v1", "blockOwnerDeletion": true, "controller": true, "kind": "DaemonSet", "name": "node-exporter", "uid": "5c1e0d3a-03" }
                    ],
                    "uid": "a1b2c3d4-03"
                },
                "spec": {
                    "containers": [ { "image": "quay.io/prometheus/node-exporter:v1.8.2", "name": "node-exporter", "ports": [ { "containerPort": 9100, "hostPort": 9100, "name": "metrics", "protocol": "TCP" } ] } ],
                    "hostNetwork": true,
                    "nodeName": "node-1"
                },
                "status": { "hostIP": "10.0.0.11", "phase": "Running", "podIP": "10.0.0.11", "podIPs": [ { "ip": "10.0.0.11" } ], "startTime": "2026-10-01T00:00:01Z" }
            },
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "creationTimestamp": "2026-10-01T00:00:00Z",
                    "generateName": "fluent-bit-",
                    "labels": { "app.kubernetes.io/name": "fluent-bit", "controller-revision-hash": "7b9c4d5f6", "pod-template-generation": "3" },
                    "name": "fluent-bit-x8k2p",
                    "namespace": "logging",
                    "ownerReferences": [
                        { "apiVersion": "apps/v1", "blockOwnerDeletion": true, "controller": true, "kind": "DaemonSet", "name": "fluent-bit", "uid": "5c1e0d3a-04" }
                    ],
                    "uid": "a1b2c3d4-04"
                },
                "spec": { "containers": [ { "image": "cr.fluentbit.io/fluent/fluent-bit:3.1", "name": "fluent-bit", "ports": [ { "containerPort": 2020, "name": "http", "protocol": "TCP" } ] } ], "nodeName": "node-1" },
                "status": { "hostIP": "10.0.0.11", "phase": "Running", "podIP": "10.244.1.20", "podIPs": [ { "ip": "10.244.1.20" } ], "startTime": "2026-10-01T00:00:02Z" }
            },
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "creationTimestamp": "2026-11-02T00:00:00Z",
                    "generateName": "report-29884320-",
                    "labels": { "batch.kubernetes.io/controller-uid": "9f8e7d6c-05", "batch.kubernetes.io/job-name": "report-29884320", "controller-uid": "9f8e7d6c-05", "job-name": "report-29884320" },
                    "name": "report-29884320-q7k5x",
                    "namespace": "billing",
                    "ownerReferences": [
                        { "apiVersion": "batch/v1", "blockOwnerDeletion": true, "controller": true, "kind": "Job", "name": "report-29884320", "uid": "9f8e7d6c-05" }
                    ],
                    "uid": "a1b2c3d4-05"
                },
                "spec": { "containers": [ { "image": "billing/report:1.4", "name": "report" } ], "nodeName": "node-2", "restartPolicy": "OnFailure" },
                "status": {
                    "containerStatuses": [
                        { "name": "report", "ready": false, "restartCount": 0, "image": "billing/report:1.4", "imageID": "", "containerID": "containerd://01",
                          "state": { "terminated": { "exitCode": 0, "reason": "Completed", "startedAt": "2026-11-02T00:00:03Z", "finishedAt": "2026-11-02T00:05:00Z" } } }
                    ],
                    "hostIP": "10.0.0.12",
                    "phase": "Succeeded",
                    "podIP": "10.244.2.9",
                    "podIPs": [ { "ip": "10.244.2.9" } ],
                    "startTime": "2026-11-02T00:00:01Z"
                }
            },
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "creationTimestamp": "2026-11-02T06:00:00Z",
                    "generateName": "migrate-db-v2-",
                    "labels": { "job-name": "migrate-db-v2" },
                    "name": "migrate-db-v2-8fz4m",
                    "namespace": "billing",
                    "ownerReferences": [
                        { "apiVersion": "batch/v1", "blockOwnerDeletion": true, "controller": true, "kind": "Job", "name": "migrate-db-v2", "uid": "9f8e7d6c-06" }
                    ],
                    "uid": "a1b2c3d4-06"
                },
                "spec": { "containers": [ { "image": "billing/migrate:2", "name": "migrate" } ], "nodeName": "node-2", "restartPolicy": "Never" },
                "status": { "hostIP": "10.0.0.12", "phase": "Running", "podIP": "10.244.2.10", "podIPs": [ { "ip": "10.244.2.10" } ], "startTime": "2026-11-02T06:00:01Z" }
            },
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "creationTimestamp": "2026-11-02T09:30:00Z",
                    "labels": { "run": "debug-shell" },
                    "name": "debug-shell",
                    "namespace": "default",
                    "uid": "a1b2c3d4-07"
                },
                "spec": { "containers": [ { "image": "nicolaka/netshoot", "name": "debug-shell" } ], "nodeName": "node-1" },
                "status": { "hostIP": "10.0.0.11", "phase": "Running", "podIP": "10.244.1.30", "podIPs": [ { "ip": "10.244.1.30" } ], "startTime": "2026-11-02T09:30:01Z" }
            },
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "creationTimestamp": "2026-11-01T00:00:00Z",
                    "deletionGracePeriodSeconds": 30,
                    "deletionTimestamp": "2026-11-01T12:00:00Z",
                    "generateName": "checkout-6b8f9d7c5d-",
                    "labels": { "app": "checkout", "pod-template-hash": "6b8f9d7c5d" },
                    "name": "checkout-6b8f9d7c5d-abc12",
                    "namespace": "shop",
                    "ownerReferences": [
                        { "apiVersion": "apps/v1", "blockOwnerDeletion": true, "controller": true, "kind": "ReplicaSet", "name": "checkout-6b8f9d7c5d", "uid": "5c1e0d3a-08" }
                    ],
                    "uid": "a1b2c3d4-08"
                },
                "spec": { "containers": [ { "image": "shop/checkout:3.1", "name": "checkout", "ports": [ { "containerPort": 5050, "protocol": "TCP" } ] } ], "nodeName": "node-3" },
                "status": { "hostIP": "10.0.0.13", "phase": "Running", "podIP": "10.244.3.5", "podIPs": [ { "ip": "10.244.3.5" } ], "startTime": "2026-11-01T00:00:01Z" }
            },
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "creationTimestamp": "2026-11-01T12:00:40Z",
                    "generateName": "payment-5f6d7c8b9-",
                    "labels": { "app": "payment", "pod-template-hash": "5f6d7c8b9" },
                    "name": "payment-5f6d7c8b9-zz9q4",
                    "namespace": "shop",
                    "ownerReferences": [
                        { "apiVersion": "apps/v1", "blockOwnerDeletion": true, "controller": true, "kind": "ReplicaSet", "name": "payment-5f6d7c8b9", "uid": "5c1e0d3a-09" }
                    ],
                    "uid": "a1b2c3d4-09"
                },
                "spec": { "containers": [ { "image": "shop/payment:1.0", "name": "payment", "ports": [ { "containerPort": 50051, "name": "grpc" } ] } ], "nodeName": "node-3" },
                "status": { "hostIP": "10.0.0.13", "phase": "Running", "podIP": "10.244.3.5", "podIPs": [ { "ip": "10.244.3.5" } ], "startTime": "2026-11-01T12:00:41Z" }
            },
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "creationTimestamp": "2026-11-02T10:00:00Z",
                    "generateName": "frontend-59d6c8b7f4-",
                    "labels": { "app": "frontend", "pod-template-hash": "59d6c8b7f4" },
                    "name": "frontend-59d6c8b7f4-pend1",
                    "namespace": "shop",
                    "ownerReferences": [
                        { "apiVersion": "apps/v1", "blockOwnerDeletion": true, "controller": true, "kind": "ReplicaSet", "name": "frontend-59d6c8b7f4", "uid": "5c1e0d3a-10" }
                    ],
                    "uid": "a1b2c3d4-10"
                },
                "spec": { "containers": [ { "image": "shop/frontend:2.0", "name": "frontend" } ] },
                "status": { "conditions": [ { "type": "PodScheduled", "status": "False", "reason": "Unschedulable" } ], "phase": "Pending" }
            }
        ],
        "kind": "List",
        "metadata": { "resourceVersion": "" }
    }
    """;

    /// <summary>`kubectl get nodes -o json`.</summary>
    public const string Nodes = """
    {
        "apiVersion": "v1",
        "items": [
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "creationTimestamp": "2026-09-01T00:00:00Z",
                    "labels": { "kubernetes.io/hostname": "node-1", "kubernetes.io/os": "linux", "topology.kubernetes.io/zone": "eu-west-1a" },
                    "name": "node-1",
                    "uid": "b0b0b0b0-01"
                },
                "spec": { "podCIDR": "10.244.1.0/24", "podCIDRs": [ "10.244.1.0/24", "fd00:10:244:1::/64" ] },
                "status": {
                    "addresses": [
                        { "address": "10.0.0.11", "type": "InternalIP" },
                        { "address": "203.0.113.11", "type": "ExternalIP" },
                        { "address": "node-1", "type": "Hostname" }
                    ],
                    "daemonEndpoints": { "kubeletEndpoint": { "Port": 10250 } },
                    "nodeInfo": { "kubeletVersion": "v1.31.2", "containerRuntimeVersion": "containerd://1.7.22" }
                }
            },
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "creationTimestamp": "2026-09-01T00:00:00Z",
                    "labels": { "kubernetes.io/hostname": "node-2" },
                    "name": "node-2",
                    "uid": "b0b0b0b0-02"
                },
                "spec": { "podCIDR": "10.244.2.0/24" },
                "status": {
                    "addresses": [ { "address": "10.0.0.12", "type": "InternalIP" }, { "address": "node-2", "type": "Hostname" } ],
                    "daemonEndpoints": { "kubeletEndpoint": { "Port": 10250 } }
                }
            }
        ],
        "kind": "List",
        "metadata": { "resourceVersion": "" }
    }
    """;

    /// <summary>`kubectl get services -A -o json`: a ClusterIP Service and a headless one.</summary>
    public const string Services = """
    {
        "apiVersion": "v1",
        "items": [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "creationTimestamp": "2026-09-01T00:00:00Z",
                    "labels": { "k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS" },
                    "name": "kube-dns",
                    "namespace": "kube-system",
                    "uid": "c0c0c0c0-01"
                },
                "spec": {
                    "clusterIP": "10.96.0.10",
                    "clusterIPs": [ "10.96.0.10" ],
                    "internalTrafficPolicy": "Cluster",
                    "ipFamilies": [ "IPv4" ],
                    "ports": [
                        { "name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53 },
                        { "name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53 },
                        { "name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153 }
                    ],
                    "selector": { "k8s-app": "kube-dns" },
                    "type": "ClusterIP"
                },
                "status": { "loadBalancer": {} }
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": { "creationTimestamp": "2026-10-20T00:00:00Z", "name": "redis-cart", "namespace": "shop", "uid": "c0c0c0c0-02" },
                "spec": { "clusterIP": "None", "clusterIPs": [ "None" ], "ports": [ { "name": "redis", "port": 6379, "protocol": "TCP", "targetPort": 6379 } ], "selector": { "app": "redis-cart" }, "type": "ClusterIP" },
                "status": { "loadBalancer": {} }
            }
        ],
        "kind": "List",
        "metadata": { "resourceVersion": "" }
    }
    """;

    /// <summary>GET /api/v1/namespaces/shop/pods: a typed PodList whose items carry no kind.</summary>
    public const string TypedPodList = """
    {"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"777"},"items":[
      {"metadata":{"name":"adservice-6f9c7b8d5c-k2m4n","generateName":"adservice-6f9c7b8d5c-","namespace":"shop","uid":"d0-01","creationTimestamp":"2026-11-01T00:00:00Z","labels":{"app":"adservice","pod-template-hash":"6f9c7b8d5c"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"adservice-6f9c7b8d5c","uid":"e0-01","controller":true,"blockOwnerDeletion":true}]},
       "spec":{"containers":[{"name":"server","image":"adservice:v1","ports":[{"containerPort":9555,"protocol":"TCP"}]}]},
       "status":{"phase":"Running","podIP":"10.244.4.4","podIPs":[{"ip":"10.244.4.4"}]}}
    ]}
    """;
}
