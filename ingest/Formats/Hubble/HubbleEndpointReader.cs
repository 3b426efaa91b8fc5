using System.Text.Json;
using FlowPolicy.Core.Flows;
using FlowPolicy.Ingest.Formats.Internal;

namespace FlowPolicy.Ingest.Formats.Hubble;

/// <summary>
/// Hubble's <c>source</c> and <c>destination</c> Endpoint objects (cilium/cilium api/v1/flow/flow.proto) to a
/// <see cref="WorkloadIdentity"/>: namespace, workloads[0], pod_name, the security identity, and the Cilium labels
/// ("source:key=value") sorted into pod labels, namespace labels, the service account and reserved kinds. Split from
/// <see cref="HubbleJsonDecoder"/>, which reads the rest of the flow; stateless like it (the identity cache rides in
/// the <see cref="JsonDecodeState"/>).
/// </summary>
internal static class HubbleEndpointReader
{
    // Reserved security identities (pkg/identity): host, world, health, remote-node, kube-apiserver, world-ipv4, world-ipv6.
    private const uint IdentityHost = 1, IdentityWorld = 2, IdentityHealth = 4, IdentityRemoteNode = 6,
        IdentityKubeApiServer = 7, IdentityWorldV4 = 9, IdentityWorldV6 = 10;

    /// <summary>
    /// The endpoint object at the reader (<paramref name="field"/> names it in errors) to its identity, parsed once per
    /// distinct object text per source (<see cref="JsonDecodeState.Identities"/>).
    /// </summary>
    public static string? Read(ref Utf8JsonReader reader, ReadOnlySpan<byte> line, JsonDecodeState state, string field, out WorkloadIdentity? identity)
    {
        identity = null;
        if (reader.TokenType != JsonTokenType.StartObject) return HubbleJsonDecoder.Expected(field, "an endpoint object", ref reader);
        var raw = JsonTokens.RawValue(ref reader, line);
        if (state.Identities.TryGet(raw, out int slot, out identity)) return null;
        var error = Parse(raw, state, field, out identity);
        if (error is null) state.Identities.Set(slot, raw, identity);
        return error;
    }

    /// <summary>
    /// An Endpoint message to an identity: namespace, workloads[0], pod_name, and the Cilium labels ("source:key=value")
    /// without their source prefix or Cilium's bookkeeping labels; reserved labels and identities decide node/external.
    /// </summary>
    internal static string? Parse(ReadOnlySpan<byte> raw, JsonDecodeState state, string field, out WorkloadIdentity? identity)
    {
        identity = null;
        var reader = new Utf8JsonReader(raw, JsonTokens.LineOptions);
        reader.Read();
        Span<byte> nameScratch = state.NameScratch;
        Span<byte> scratch = state.ValueScratch;
        uint securityIdentity = 0;
        string? ns = null, pod = null, workload = null, workloadKind = null;
        EndpointKind? reservedKind = null;
        var cilium = new CiliumLabels();

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = JsonTokens.Utf8(ref reader, nameScratch);
            reader.Read();
            if (reader.TokenType == JsonTokenType.Null) continue;
            if (name.SequenceEqual("identity"u8))
            {
                if (!JsonTokens.TryGetUInt32(ref reader, scratch, out securityIdentity)) return HubbleJsonDecoder.Expected(field + ".identity", "an unsigned integer", ref reader);
            }
            else if (name.SequenceEqual("ID"u8))
            {
                if (!JsonTokens.TryGetUInt32(ref reader, scratch, out _)) return HubbleJsonDecoder.Expected(field + ".ID", "an unsigned integer", ref reader);
            }
            else if (name.SequenceEqual("namespace"u8))
            {
                if (reader.TokenType != JsonTokenType.String) return HubbleJsonDecoder.Expected(field + ".namespace", "a string", ref reader);
                ns = state.String(JsonTokens.Utf8(ref reader, scratch));
            }
            else if (HubbleJsonDecoder.Is(name, "pod_name"u8, "podName"u8))
            {
                if (reader.TokenType != JsonTokenType.String) return HubbleJsonDecoder.Expected(field + ".pod_name", "a string", ref reader);
                pod = state.String(JsonTokens.Utf8(ref reader, scratch));
            }
            else if (name.SequenceEqual("labels"u8))
            {
                if (reader.TokenType != JsonTokenType.StartArray) return HubbleJsonDecoder.Expected(field + ".labels", "an array of strings", ref reader);
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.String) return HubbleJsonDecoder.Expected(field + ".labels[]", "a string", ref reader);
                    AddLabel(JsonTokens.Utf8(ref reader, scratch), state, ref cilium, ref reservedKind);
                }
            }
            else if (name.SequenceEqual("workloads"u8))
            {
                if (reader.TokenType != JsonTokenType.StartArray) return HubbleJsonDecoder.Expected(field + ".workloads", "an array of workloads", ref reader);
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.StartObject) return HubbleJsonDecoder.Expected(field + ".workloads[]", "a workload object", ref reader);
                    bool first = workload is null && workloadKind is null;
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        bool isName = reader.ValueTextEquals("name"u8);
                        bool isKind = !isName && reader.ValueTextEquals("kind"u8);
                        reader.Read();
                        if (!isName && !isKind || reader.TokenType == JsonTokenType.Null)
                        {
                            reader.Skip();
                            continue;
                        }
                        if (reader.TokenType != JsonTokenType.String) return HubbleJsonDecoder.Expected(field + (isName ? ".workloads[].name" : ".workloads[].kind"), "a string", ref reader);
                        if (!first) continue; // an endpoint has one owner; later entries are not expected
                        var text = state.String(JsonTokens.Utf8(ref reader, scratch));
                        if (isName) workload = text;
                        else workloadKind = text;
                    }
                }
            }
            else
            {
                reader.Skip(); // cluster_name and future fields
            }
        }

        var labels = cilium.Labels;
        ns = string.IsNullOrEmpty(ns) ? cilium.Namespace : ns;
        var kind = reservedKind ?? securityIdentity switch
        {
            // The API server is node traffic too, wherever it runs (on a node: host + kube-apiserver labels; managed
            // outside the nodes: identity 7): policies allow it as nodes / Cilium's kube-apiserver entity, never as a /32.
            IdentityHost or IdentityRemoteNode or IdentityHealth or IdentityKubeApiServer => EndpointKind.Node,
            IdentityWorld or IdentityWorldV4 or IdentityWorldV6 => EndpointKind.External,
            _ => (EndpointKind?)null,
        };
        if (kind is null)
        {
            // An endpoint Hubble could not attribute (empty object, only an ID) carries no identity.
            if (string.IsNullOrEmpty(ns) && string.IsNullOrEmpty(pod) && string.IsNullOrEmpty(workload) && labels is null) return null;
            kind = EndpointKind.Pod;
        }
        if (kind != EndpointKind.Pod)
        {
            identity = new WorkloadIdentity(kind.Value, null, null, null, null, labels); // nodes and the world have no namespace or owner
            return null;
        }
        var source = WorkloadSource.Unknown;
        if (workload is not null) source = WorkloadSource.Reported;
        else if (!string.IsNullOrEmpty(pod))
        {
            // No workloads: a bare pod, or a controller's pod in a record another node's agent (or the L7 proxy) wrote.
            var owner = PodOwnerInference.Infer(pod, (IReadOnlyList<KeyValuePair<string, string>>?)labels ?? []);
            workload = owner.Workload;
            workloadKind = owner.Kind;
            source = WorkloadSource.Derived;
        }
        identity = new WorkloadIdentity(EndpointKind.Pod, ns, workload, workloadKind, pod, labels)
        {
            WorkloadSource = source,
            ServiceAccount = cilium.ServiceAccount,
            NamespaceLabels = (IReadOnlyList<KeyValuePair<string, string>>?)cilium.NamespaceLabels ?? [],
        };
        return null;
    }

    /// <summary>What an endpoint's Cilium labels say beside the pod's own labels.</summary>
    private struct CiliumLabels
    {
        public List<KeyValuePair<string, string>>? Labels;
        public List<KeyValuePair<string, string>>? NamespaceLabels;
        public string? Namespace;
        public string? ServiceAccount;
    }

    /// <summary>Adds one Cilium label ("k8s:app=web", "reserved:host", "app=web") to an identity under construction.</summary>
    private static void AddLabel(ReadOnlySpan<byte> label, JsonDecodeState state, ref CiliumLabels cilium, ref EndpointKind? reservedKind)
    {
        int equals = label.IndexOf((byte)'=');
        int colon = label.IndexOf((byte)':');
        ReadOnlySpan<byte> source = default;
        if (colon >= 0 && (equals < 0 || colon < equals))
        {
            source = label[..colon];
            label = label[(colon + 1)..];
            if (equals >= 0) equals -= colon + 1;
        }
        var key = equals >= 0 ? label[..equals] : label;
        var value = equals >= 0 ? label[(equals + 1)..] : default;

        if (source.SequenceEqual("reserved"u8))
        {
            // Reserved labels name what an endpoint is, not who owns it; they never become identity labels.
            if (key.SequenceEqual("world"u8) || key.SequenceEqual("world-ipv4"u8) || key.SequenceEqual("world-ipv6"u8))
                reservedKind ??= EndpointKind.External;
            else if (key.SequenceEqual("host"u8) || key.SequenceEqual("remote-node"u8) || key.SequenceEqual("health"u8)
                     || key.SequenceEqual("kube-apiserver"u8))
                reservedKind = EndpointKind.Node; // wins over world: a managed API server is still the cluster's
            return;
        }
        // CIDR and FQDN labels describe addresses a policy selected, not a workload.
        if (source.SequenceEqual("cidr"u8) || source.SequenceEqual("fqdn"u8) || source.SequenceEqual("cidrgroup"u8)) return;
        if (key.SequenceEqual("io.kubernetes.pod.namespace"u8))
        {
            cilium.Namespace = state.String(value);
            return;
        }
        if (key.StartsWith("io.cilium.k8s."u8))
        {
            // Namespace labels select namespaces and the service account names the pod's principal: neither is a pod
            // label a podSelector may use. The policy cluster name is Cilium's own bookkeeping.
            if (key.StartsWith(NamespaceLabelPrefix) && key.Length > NamespaceLabelPrefix.Length)
                AddUnique(ref cilium.NamespaceLabels, state.String(key[NamespaceLabelPrefix.Length..]), state.String(value));
            else if (key.SequenceEqual("io.cilium.k8s.policy.serviceaccount"u8) && !value.IsEmpty)
                cilium.ServiceAccount = state.String(value);
            return;
        }
        if (key.IsEmpty) return;
        AddUnique(ref cilium.Labels, state.String(key), state.String(value));
    }

    private static ReadOnlySpan<byte> NamespaceLabelPrefix => "io.cilium.k8s.namespace.labels."u8;

    private static void AddUnique(ref List<KeyValuePair<string, string>>? labels, string key, string value)
    {
        labels ??= [];
        foreach (var existing in labels)
            if (existing.Key == key) return; // the same key from two sources (k8s and container)
        labels.Add(new(key, value));
    }
}
