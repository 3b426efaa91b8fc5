using System.Text.Json;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Enrichment.Internal;

namespace FlowPolicy.Ingest.Enrichment;

/// <summary>
/// Leases from Kubernetes API objects as <c>kubectl get ... -o json</c> prints them: a v1 List (items carry
/// their kind), a typed list (PodList: items have no kind), or a single Pod/Node/Service. Namespace objects give no
/// lease: their labels are collected for namespaceSelectors.
/// </summary>
internal static class KubectlInventory
{
    private const string PodTemplateHashLabel = "pod-template-hash";

    public static void Parse(JsonElement root, string source, InventoryBuilder builder)
    {
        string? rootKind = JsonFields.String(root, "kind");
        if (!root.TryGetProperty("items", out var items))
        {
            ParseItem(root, rootKind, source, InventoryError.NoItem, builder);
            return;
        }
        if (items.ValueKind != JsonValueKind.Array)
        {
            builder.Error(source, 0, InventoryError.NoItem, "\"items\" must be an array");
            return;
        }
        // "PodList" items have no kind of their own; "List" items (kubectl) do.
        string? itemKind = rootKind is { Length: > 4 } && rootKind.EndsWith("List", StringComparison.Ordinal) ? rootKind[..^4] : null;
        int index = 0;
        foreach (var item in items.EnumerateArray())
        {
            ParseItem(item, JsonFields.String(item, "kind") ?? itemKind, source, index, builder);
            index++;
        }
    }

    private static void ParseItem(JsonElement item, string? kind, string source, int index, InventoryBuilder builder)
    {
        string? reason;
        try
        {
            reason = kind switch
            {
                "Pod" => AddPod(item, source, index, builder),
                "Node" => AddNode(item, source, index, builder),
                "Service" => AddService(item, source, index, builder),
                "Namespace" => AddNamespace(item, builder),
                null => "object has no \"kind\" (expected Pod, Node, Service or Namespace)",
                _ => $"unsupported kind '{kind}' (expected Pod, Node, Service or Namespace)",
            };
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException)
        {
            reason = $"unexpected value: {ex.Message}"; // a field of the wrong JSON type
        }
        if (reason is not null)
        {
            var name = NameOf(item);
            builder.Error(source, 0, index, name is null ? reason : $"{name}: {reason}");
        }
    }

    private static string? NameOf(JsonElement item)
    {
        var metadata = JsonFields.Child(item, "metadata");
        string? name = JsonFields.String(metadata, "name");
        string? ns = JsonFields.String(metadata, "namespace");
        return name is null ? null : ns is null ? name : ns + "/" + name;
    }

    private static string Origin(string source, int index) => index >= 0 ? $"{source}: items[{index}]" : source;

    private static string? AddPod(JsonElement pod, string source, int index, InventoryBuilder builder)
    {
        var metadata = JsonFields.Child(pod, "metadata");
        var spec = JsonFields.Child(pod, "spec");
        var status = JsonFields.Child(pod, "status");
        string? name = JsonFields.String(metadata, "name");
        if (name is null) return "pod has no metadata.name";
        string? ns = JsonFields.String(metadata, "namespace");

        // hostNetwork pods share the node's address; the node lease keeps it.
        if (JsonFields.True(spec, "hostNetwork"))
        {
            builder.SkippedItems++;
            return null;
        }

        var ips = new List<PackedIp>(2);
        foreach (var entry in JsonFields.Array(status, "podIPs"))
        {
            string? text = JsonFields.String(entry, "ip");
            if (text is null) continue;
            if (!PackedIp.TryParse(text.AsSpan(), out var ip)) return $"status.podIPs has '{text}', not an IP address";
            if (!ips.Contains(ip)) ips.Add(ip);
        }
        if (ips.Count == 0 && JsonFields.String(status, "podIP") is { Length: > 0 } single)
        {
            if (!PackedIp.TryParse(single.AsSpan(), out var ip)) return $"status.podIP '{single}' is not an IP address";
            ips.Add(ip);
        }
        if (ips.Count == 0)
        {
            builder.SkippedItems++; // pending: no address yet
            return null;
        }

        if (!JsonFields.TryTime(metadata, "creationTimestamp", DateTime.MinValue, out var from, out var error)) return error;
        if (from == DateTime.MinValue)
        {
            if (!JsonFields.TryTime(status, "startTime", DateTime.MinValue, out from, out error)) return error;
            if (from == DateTime.MinValue) return "pod has neither metadata.creationTimestamp nor status.startTime";
        }
        if (!JsonFields.TryTime(metadata, "deletionTimestamp", DateTime.MaxValue, out var to, out error)) return error;
        // A finished pod stays in the API but its address is free again from when its last container stopped.
        if (JsonFields.String(status, "phase") is "Succeeded" or "Failed" && FinishedAt(status) is { } finished && finished < to)
            to = finished;
        if (to <= from) to = from.AddTicks(1); // deleted in the same second it was created: keep a valid, tiny lease

        var labelsOk = JsonFields.TryLabels(metadata, "labels", builder.Interner, out var labels, out error);
        if (!labelsOk) return "metadata." + error;
        var (workload, workloadKind) = Owner(name, labels, metadata, JsonFields.String(spec, "nodeName"));
        // serviceAccount is the field's deprecated spelling, still filled by the API server.
        string? serviceAccount = JsonFields.String(spec, "serviceAccountName") ?? JsonFields.String(spec, "serviceAccount");

        var ports = new List<ServedPort>();
        foreach (var container in JsonFields.Array(spec, "containers"))
        {
            foreach (var port in JsonFields.Array(container, "ports"))
            {
                if (!JsonFields.TryInt(port, "containerPort", out int number) || number is < 1 or > 65535)
                    return "a container port has no valid containerPort";
                if (!JsonFields.TryProtocol(port, "protocol", out byte protocol, out error)) return error;
                ports.Add(new ServedPort((ushort)number, protocol, JsonFields.String(port, "name")));
            }
        }

        var interner = builder.Interner;
        var identity = new WorkloadIdentity(EndpointKind.Pod, interner.String(ns), interner.String(workload),
            workloadKind, name, labels)
        {
            WorkloadSource = WorkloadSource.Reported,
            ServiceAccount = interner.String(serviceAccount),
        };
        var portArray = ports.ToArray();
        foreach (var ip in ips)
            builder.Add(IpPrefix.Host(ip), from, to, identity, portArray, Origin(source, index));
        return null;
    }

    private static DateTime? FinishedAt(JsonElement status)
    {
        DateTime? latest = null;
        foreach (var container in JsonFields.Array(status, "containerStatuses"))
        {
            var terminated = JsonFields.Child(JsonFields.Child(container, "state"), "terminated");
            if (JsonFields.TryTime(terminated, "finishedAt", DateTime.MinValue, out var finished, out _)
                && finished != DateTime.MinValue && (latest is null || finished > latest))
                latest = finished;
            else
                return null; // a container still running (or unknown): the address is still in use
        }
        return latest;
    }

    /// <summary>
    /// The workload a pod belongs to, from its controller owner reference: ReplicaSet "name-hash" -> Deployment
    /// "name"; Job "name-&lt;8+ digits&gt;" (a CronJob's scheduled time) -> CronJob "name"; a Node (a static pod, named
    /// "name-&lt;node&gt;") -> StaticPod "name"; StatefulSet, DaemonSet and other controllers as they are; no owner ->
    /// the bare pod (<see cref="WorkloadKinds.BarePod"/>).
    /// </summary>
    internal static (string Workload, string Kind) Owner(string podName, KeyValuePair<string, string>[] labels, JsonElement metadata,
        string? nodeName = null)
    {
        JsonElement? owner = null;
        foreach (var reference in JsonFields.Array(metadata, "ownerReferences"))
        {
            if (JsonFields.True(reference, "controller"))
            {
                owner = reference;
                break;
            }
            owner ??= reference;
        }
        string? ownerKind = owner is { } o ? JsonFields.String(o, "kind") : null;
        string? ownerName = owner is { } n ? JsonFields.String(n, "name") : null;
        if (ownerKind is null || ownerName is null) return (podName, WorkloadKinds.BarePod);

        switch (ownerKind)
        {
            case "ReplicaSet":
                string? hash = null;
                foreach (var label in labels)
                    if (label.Key == PodTemplateHashLabel) hash = label.Value;
                var replicaSetOwner = PodOwnerInference.OfReplicaSet(ownerName, hash);
                return (replicaSetOwner.Workload, replicaSetOwner.Kind!);
            case "Job":
                var jobOwner = PodOwnerInference.OfJob(ownerName);
                return (jobOwner.Workload, jobOwner.Kind!);
            case "Node":
                // The kubelet names a mirror pod "<manifest name>-<node name>": one workload across nodes.
                string node = nodeName ?? ownerName;
                if (podName.Length > node.Length + 1 && podName.EndsWith("-" + node, StringComparison.Ordinal))
                    return (podName[..^(node.Length + 1)], WorkloadKinds.StaticPod);
                return (podName, WorkloadKinds.StaticPod);
            default:
                return (ownerName, ownerKind);
        }
    }

    /// <summary>A Namespace object's labels, for namespaceSelectors; it owns no address.</summary>
    private static string? AddNamespace(JsonElement item, InventoryBuilder builder)
    {
        var metadata = JsonFields.Child(item, "metadata");
        string? name = JsonFields.String(metadata, "name");
        if (name is null) return "namespace has no metadata.name";
        if (!JsonFields.TryLabels(metadata, "labels", builder.Interner, out var labels, out var error)) return "metadata." + error;
        Array.Sort(labels, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        builder.NamespaceLabels[name] = labels;
        builder.SkippedItems++; // no lease
        return null;
    }

    private static string? AddNode(JsonElement node, string source, int index, InventoryBuilder builder)
    {
        var metadata = JsonFields.Child(node, "metadata");
        string? name = JsonFields.String(metadata, "name");
        if (name is null) return "node has no metadata.name";
        if (!JsonFields.TryTime(metadata, "creationTimestamp", DateTime.MinValue, out var from, out var error)) return error;
        if (!JsonFields.TryTime(metadata, "deletionTimestamp", DateTime.MaxValue, out var to, out error)) return error;
        if (!JsonFields.TryLabels(metadata, "labels", builder.Interner, out var labels, out error)) return "metadata." + error;
        var status = JsonFields.Child(node, "status");

        // The kubelet's port is the one port a node reliably serves to the cluster.
        ServedPort[] ports = [];
        if (JsonFields.TryInt(JsonFields.Child(JsonFields.Child(status, "daemonEndpoints"), "kubeletEndpoint"), "Port", out int kubelet) && kubelet is > 0 and <= 65535)
            ports = [new ServedPort((ushort)kubelet, IpProtocols.Tcp, "kubelet")];

        var identity = new WorkloadIdentity(EndpointKind.Node, null, name, "Node", name, labels);
        int added = 0;
        foreach (var address in JsonFields.Array(status, "addresses"))
        {
            if (JsonFields.String(address, "type") is not ("InternalIP" or "ExternalIP")) continue;
            string? text = JsonFields.String(address, "address");
            if (text is null || !PackedIp.TryParse(text.AsSpan(), out var ip)) return $"status.addresses has '{text}', not an IP address";
            builder.Add(IpPrefix.Host(ip), from, to, identity, ports, Origin(source, index));
            added++;
        }
        if (added == 0) return "node has no InternalIP or ExternalIP in status.addresses";
        return null;
    }

    private static string? AddService(JsonElement service, string source, int index, InventoryBuilder builder)
    {
        var metadata = JsonFields.Child(service, "metadata");
        var spec = JsonFields.Child(service, "spec");
        string? name = JsonFields.String(metadata, "name");
        if (name is null) return "service has no metadata.name";
        string? ns = JsonFields.String(metadata, "namespace");

        var ips = new List<PackedIp>(2);
        foreach (var entry in JsonFields.Array(spec, "clusterIPs"))
            if (entry.ValueKind == JsonValueKind.String && entry.GetString() is { } text && text != "None")
            {
                if (!PackedIp.TryParse(text.AsSpan(), out var ip)) return $"spec.clusterIPs has '{text}', not an IP address";
                if (!ips.Contains(ip)) ips.Add(ip);
            }
        if (ips.Count == 0 && JsonFields.String(spec, "clusterIP") is { Length: > 0 } single && single != "None")
        {
            if (!PackedIp.TryParse(single.AsSpan(), out var ip)) return $"spec.clusterIP '{single}' is not an IP address";
            ips.Add(ip);
        }
        if (ips.Count == 0)
        {
            builder.SkippedItems++; // headless or ExternalName: no virtual IP
            return null;
        }
        if (!JsonFields.TryTime(metadata, "creationTimestamp", DateTime.MinValue, out var from, out var error)) return error;
        if (!JsonFields.TryTime(metadata, "deletionTimestamp", DateTime.MaxValue, out var to, out error)) return error;
        if (!JsonFields.TryLabels(metadata, "labels", builder.Interner, out var labels, out error)) return "metadata." + error;

        var ports = new List<ServedPort>();
        foreach (var port in JsonFields.Array(spec, "ports"))
        {
            if (!JsonFields.TryInt(port, "port", out int number) || number is < 1 or > 65535)
                return "a service port has no valid port";
            if (!JsonFields.TryProtocol(port, "protocol", out byte protocol, out error)) return error;
            ports.Add(new ServedPort((ushort)number, protocol, JsonFields.String(port, "name")));
        }
        var identity = new WorkloadIdentity(EndpointKind.Service, builder.Interner.String(ns), name, "Service", name, labels);
        var portArray = ports.ToArray();
        foreach (var ip in ips)
            builder.Add(IpPrefix.Host(ip), from, to, identity, portArray, Origin(source, index));
        return null;
    }
}
