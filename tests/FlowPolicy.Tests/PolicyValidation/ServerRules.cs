using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace FlowPolicy.Tests.PolicyValidation;

/// <summary>
/// What the API server checks on every object whatever its kind (k8s.io/apimachinery/pkg/util/validation and
/// apimachinery/pkg/api/validation/objectmeta.go), and what makes a set of files apply as one: names unique per kind
/// and namespace, the namespace default deny present once and never replaced by another document.
/// </summary>
internal static partial class KubernetesObjectRules
{
    /// <summary>etcd's default request limit (--max-request-bytes 1.5 MiB): the API server cannot store a larger object.</summary>
    public const int MaxObjectBytes = 1536 * 1024;
    /// <summary>objectmeta.go: TotalAnnotationSizeLimitB.</summary>
    public const int MaxAnnotationBytes = 256 * 1024;

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")] private static partial Regex Dns1123Label();
    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")] private static partial Regex Dns1123Subdomain();
    [GeneratedRegex("^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")] private static partial Regex QualifiedName();

    public static bool IsDns1123Label(string? s) => s is { Length: > 0 and <= 63 } && Dns1123Label().IsMatch(s);
    public static bool IsDns1123Subdomain(string? s) => s is { Length: > 0 and <= 253 } && Dns1123Subdomain().IsMatch(s);

    /// <summary>validation.IsQualifiedName: [prefix/]name, prefix a DNS-1123 subdomain, name at most 63.</summary>
    public static bool IsLabelKey(string key)
    {
        int slash = key.IndexOf('/');
        string name = slash < 0 ? key : key[(slash + 1)..];
        if (slash >= 0 && !IsDns1123Subdomain(key[..slash])) return false;
        return name.Length is > 0 and <= 63 && QualifiedName().IsMatch(name);
    }

    /// <summary>validation.IsValidLabelValue.</summary>
    public static bool IsLabelValue(string value) => value.Length == 0 || (value.Length <= 63 && QualifiedName().IsMatch(value));

    public static void Check(PolicyDocument doc, List<string> errors)
    {
        if (!IsDns1123Subdomain(doc.Name)) errors.Add($"{doc}: metadata.name '{doc.Name}' is not a DNS-1123 subdomain (at most 253 characters)");
        if (doc.Namespace is not null && !IsDns1123Label(doc.Namespace)) errors.Add($"{doc}: metadata.namespace '{doc.Namespace}' is not a DNS-1123 label");
        if (doc.Json["metadata"]?["labels"] is JsonObject labels) CheckLabels(doc, "metadata.labels", labels, errors);
        if (doc.Json["metadata"]?["annotations"] is JsonObject annotations)
        {
            int size = annotations.Sum(a => a.Key.Length + ((string?)a.Value)?.Length ?? 0);
            if (size > MaxAnnotationBytes) errors.Add($"{doc}: annotations are {size} bytes, over the API server's {MaxAnnotationBytes}");
        }
        int bytes = doc.StoredBytes;
        if (bytes > MaxObjectBytes) errors.Add($"{doc}: {bytes} bytes as stored, over the API server's {MaxObjectBytes} (etcd request limit)");
    }

    public static void CheckLabels(PolicyDocument doc, string where, JsonObject labels, List<string> errors, Func<string, string>? key = null)
    {
        foreach (var (k, v) in labels)
        {
            string name = key is null ? k : key(k);
            if (!IsLabelKey(name)) errors.Add($"{doc}: {where} key '{k}' is not a valid label key");
            if (v is not JsonValue value || !value.TryGetValue(out string? text)) errors.Add($"{doc}: {where}['{k}'] is not a string");
            else if (!IsLabelValue(text)) errors.Add($"{doc}: {where}['{k}'] = '{text}' is not a valid label value");
        }
    }

    /// <summary>
    /// Names unique per (group, kind, namespace) across the whole output (kubectl apply keeps the last of two), and in
    /// each namespace exactly one namespace-wide default deny, under the name no workload can produce.
    /// </summary>
    public static void CheckSet(IReadOnlyList<PolicyDocument> docs, string denyName, Func<PolicyDocument, bool> isNamespaceDeny, List<string> errors)
    {
        foreach (var dup in docs.GroupBy(d => (d.ApiVersion.Split('/')[0], d.Kind, d.Namespace, d.Name)).Where(g => g.Count() > 1))
            errors.Add($"{dup.Count()} documents named {dup.Key.Item3}/{dup.Key.Name} of kind {dup.Key.Kind}: {string.Join(", ", dup.Select(d => d.File))}");
        // A ServiceEntry (istio, --l7) is a registry entry beside the policies, not a policy with a namespace default.
        foreach (var ns in docs.Where(d => d.Kind != "ServiceEntry").GroupBy(d => (d.Kind, d.Namespace)))
        {
            var denies = ns.Where(isNamespaceDeny).ToList();
            if (denies.Count != 1) errors.Add($"{ns.Key.Kind} in {ns.Key.Namespace}: {denies.Count} namespace default denies (expected 1)");
            foreach (var named in ns.Where(d => d.Name == denyName && !isNamespaceDeny(d)))
                errors.Add($"{named}: named like the namespace default deny but is not one");
        }
    }
}

/// <summary>
/// Calico's own validation of NetworkPolicy / StagedNetworkPolicy, ported from projectcalico/calico
/// libcalico-go/lib/validator/v3/validator.go (commit 00c10b0abb46): validateRule, validateEntityRule,
/// validateProtocol/validatePort (numorstring), the selector and name validators; Calico's CRD
/// (libcalico-go/config/crd/crd.projectcalico.org_networkpolicies.yaml, commit 0058a4948) for the enums.
/// </summary>
internal static partial class CalicoRules
{
    /// <summary>Our cap per direction (CalicoEmitter.MaxRulesPerDirection): the CRD sets none.</summary>
    public const int MaxRulesPerDirection = 1024;

    // validator.go: networkPolicyNameRegex (a DNS-1123 label, or two joined by '.', or knp./ossg. prefixed).
    [GeneratedRegex("^(([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)?|((?:knp|ossg)\\.default\\.([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)))$")]
    private static partial Regex NetworkPolicyName();
    // validator.go: protocolRegex.
    [GeneratedRegex("^(TCP|UDP|ICMP|ICMPv6|SCTP|UDPLite)$")] private static partial Regex ProtocolName();

    public static void Check(PolicyDocument doc, List<string> errors)
    {
        if (doc.ApiVersion != "projectcalico.org/v3" || doc.Kind is not ("NetworkPolicy" or "StagedNetworkPolicy"))
        {
            errors.Add($"{doc}: not a Calico v3 (Staged)NetworkPolicy");
            return;
        }
        if (!NetworkPolicyName().IsMatch(doc.Name) || doc.Name.Length > 253)
            errors.Add($"{doc}: name '{doc.Name}' does not match Calico's NetworkPolicy name format (a DNS-1123 label, optionally one '.')");
        var spec = doc.Spec;
        if (spec is null)
        {
            errors.Add($"{doc}: no spec");
            return;
        }
        if (doc.Kind == "StagedNetworkPolicy" && (string?)spec["stagedAction"] is not ("Set" or "Delete" or "Learn" or "Ignore"))
            errors.Add($"{doc}: stagedAction must be Set, Delete, Learn or Ignore");
        Selector(doc, "spec.selector", (string?)spec["selector"], errors, allowGlobal: false);
        var types = (spec["types"] as JsonArray)?.Select(t => (string?)t).ToList() ?? [];
        foreach (var t in types)
            if (t is not ("Ingress" or "Egress")) errors.Add($"{doc}: spec.types has '{t}'");
        foreach (var direction in new[] { "ingress", "egress" })
        {
            if (spec[direction] is not JsonArray rules) continue;
            if (rules.Count > MaxRulesPerDirection) errors.Add($"{doc}: {rules.Count} {direction} rules, over {MaxRulesPerDirection}");
            for (int i = 0; i < rules.Count; i++) Rule(doc, $"spec.{direction}[{i}]", (JsonObject)rules[i]!, errors);
        }
    }

    /// <summary>validator.go validateRule (+ the field validators it relies on).</summary>
    private static void Rule(PolicyDocument doc, string where, JsonObject rule, List<string> errors)
    {
        if ((string?)rule["action"] is not ("Allow" or "Deny" or "Log" or "Pass")) errors.Add($"{doc}: {where}.action must be Allow, Deny, Log or Pass");
        var protocol = rule["protocol"];
        bool supportsPorts = false;
        bool icmp = false;
        if (protocol is not null)
        {
            // numorstring.Protocol: a name matching protocolRegex, or a number 1-255.
            if (protocol is JsonValue v && v.TryGetValue(out long number))
            {
                if (number is < 1 or > 255) errors.Add($"{doc}: {where}.protocol {number} is not in 1-255");
                supportsPorts = number is 6 or 17 or 132;
            }
            else
            {
                string name = (string?)protocol ?? "";
                if (!ProtocolName().IsMatch(name)) errors.Add($"{doc}: {where}.protocol '{name}' is not one of TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number");
                supportsPorts = name is "TCP" or "UDP" or "SCTP" or "UDPLite";
                icmp = name is "ICMP" or "ICMPv6";
            }
        }
        foreach (var side in new[] { "source", "destination" })
        {
            if (rule[side] is not JsonObject entity) continue;
            foreach (var field in new[] { "ports", "notPorts" })
            {
                if (entity[field] is not JsonArray ports) continue;
                if (!supportsPorts) errors.Add($"{doc}: {where}.{side}.{field}: rules that specify ports must set protocol to TCP or UDP or SCTP");
                foreach (var p in ports) Port(doc, $"{where}.{side}.{field}", p, errors);
            }
            Entity(doc, $"{where}.{side}", entity, errors);
        }
        if ((rule["icmp"] is not null || rule["notICMP"] is not null) && !icmp)
            errors.Add($"{doc}: {where}: rules that specify ICMP fields must set protocol to ICMP");

        // validateRule: every net of a rule (source and destination, nets and notNets) must be of one IP version.
        bool seenV4 = false, seenV6 = false;
        foreach (var (side, field) in new[] { ("source", "nets"), ("source", "notNets"), ("destination", "nets"), ("destination", "notNets") })
        {
            if (rule[side]?[field] is not JsonArray nets) continue;
            bool v4 = false, v6 = false;
            foreach (var n in nets)
            {
                var version = CidrVersion((string?)n);
                if (version is null) errors.Add($"{doc}: {where}.{side}.{field}: invalid CIDR '{n}'");
                v4 |= version == 4;
                v6 |= version == 6;
            }
            if ((v4 && seenV6) || (v6 && seenV4) || (v4 && v6))
                errors.Add($"{doc}: {where}.{side}.{field}: rule contains both IPv4 and IPv6 CIDRs");
            seenV4 |= v4;
            seenV6 |= v6;
        }
    }

    /// <summary>validator.go validateEntityRule: selectors parse, global() only as a whole namespaceSelector.</summary>
    private static void Entity(PolicyDocument doc, string where, JsonObject entity, List<string> errors)
    {
        foreach (var field in new[] { "selector", "notSelector" })
            if (entity[field] is JsonNode s) Selector(doc, $"{where}.{field}", (string?)s, errors, allowGlobal: false);
        if (entity["namespaceSelector"] is JsonNode ns)
        {
            string text = (string?)ns ?? "";
            Selector(doc, $"{where}.namespaceSelector", text, errors, allowGlobal: true);
            if (text.Contains("global(", StringComparison.Ordinal) && text != "global()" && !CalicoSelector.StartsWithGlobalOnly(text))
                errors.Add($"{doc}: {where}.namespaceSelector: global() cannot be combined with other selectors");
        }
    }

    private static void Selector(PolicyDocument doc, string where, string? selector, List<string> errors, bool allowGlobal)
    {
        if (selector is null) return;
        var (_, error) = CalicoSelector.Parse(selector);
        if (error is not null) errors.Add($"{doc}: {where} \"{selector}\" does not parse: {error}");
        if (!allowGlobal && selector.Contains("global()", StringComparison.Ordinal))
            errors.Add($"{doc}: {where}: global() can only be used in an EntityRule namespaceSelector");
    }

    /// <summary>numorstring.Port: a number 1-65535, or "min:max" / a named port string.</summary>
    private static void Port(PolicyDocument doc, string where, JsonNode? port, List<string> errors)
    {
        if (port is JsonValue v && v.TryGetValue(out long n))
        {
            if (n is < 1 or > 65535) errors.Add($"{doc}: {where}: port {n} is not in 1-65535");
            return;
        }
        string text = (string?)port ?? "";
        var parts = text.Split(':');
        if (parts.Length == 2 && ushort.TryParse(parts[0], out var min) && ushort.TryParse(parts[1], out var max) && min >= 1 && min <= max) return;
        if (text.Length is > 0 and <= 128 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')) return;
        errors.Add($"{doc}: {where}: '{text}' is not a port");
    }

    /// <summary>
    /// cnet.ParseCIDR then IPNet.Version(): the version is 4 whenever the address has a 4-byte form (Go's To4), so an
    /// IPv4-mapped IPv6 block such as ::ffff:0:0/96 counts as IPv4. Null for text that is not a CIDR.
    /// </summary>
    public static int? CidrVersion(string? text)
    {
        if (text is null) return null;
        int slash = text.IndexOf('/');
        string address = slash < 0 ? text : text[..slash];
        if (!IPAddress.TryParse(address, out var ip)) return null;
        int max = ip.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (slash >= 0 && (!int.TryParse(text[(slash + 1)..], out int length) || length < 0 || length > max)) return null;
        if (ip.AddressFamily == AddressFamily.InterNetwork || ip.IsIPv4MappedToIPv6) return 4;
        return 6;
    }
}

/// <summary>
/// Istio's ValidateAuthorizationPolicy, ported from istio/istio pkg/config/validation/validation.go (as stored by the
/// search index, the version that uses security.ValidateIPs / ValidatePorts from pkg/config/security/security.go with
/// netip), plus what makes a rule meaningful for the principals it names.
/// </summary>
internal static class IstioRules
{
    /// <summary>spec.rules maxItems in the AuthorizationPolicy CRD (istio 1.29.2 crd-all.gen.yaml).</summary>
    public const int MaxRules = 512;

    public static void Check(PolicyDocument doc, List<string> errors)
    {
        if (doc.ApiVersion == "networking.istio.io/v1" && doc.Kind == "ServiceEntry")
        {
            CheckServiceEntry(doc, errors);
            return;
        }
        if (doc.ApiVersion != "security.istio.io/v1" || doc.Kind != "AuthorizationPolicy")
        {
            errors.Add($"{doc}: not an Istio AuthorizationPolicy");
            return;
        }
        var spec = doc.Spec ?? new JsonObject();
        // validateWorkloadSelector: label keys and values valid.
        if (spec["selector"]?["matchLabels"] is JsonObject labels) KubernetesObjectRules.CheckLabels(doc, "spec.selector.matchLabels", labels, errors);
        string action = (string?)spec["action"] ?? "ALLOW";
        var rules = spec["rules"] as JsonArray;
        if (action == "DENY" && rules is null) errors.Add($"{doc}: DENY action without `rules` is meaningless");
        if (spec["provider"] is not null && action != "CUSTOM") errors.Add($"{doc}: `provider` must not be with non CUSTOM action");
        if (rules is null) return;
        if (rules.Count > MaxRules) errors.Add($"{doc}: {rules.Count} rules, over the CRD's {MaxRules}");
        for (int i = 0; i < rules.Count; i++)
        {
            if (rules[i] is not JsonObject rule)
            {
                errors.Add($"{doc}: `rule` must not be nil, found at rule {i}");
                continue;
            }
            if (rule["from"] is JsonArray from)
            {
                if (from.Count == 0) errors.Add($"{doc}: `from` must not be empty, found at rule {i}");
                foreach (var f in from)
                {
                    if (f?["source"] is not JsonObject src)
                    {
                        errors.Add($"{doc}: `from.source` must not be nil, found at rule {i}");
                        continue;
                    }
                    string[] fields = ["principals", "requestPrincipals", "namespaces", "ipBlocks", "remoteIpBlocks", "notPrincipals", "notRequestPrincipals", "notNamespaces", "notIpBlocks", "notRemoteIpBlocks"];
                    if (fields.All(name => src[name] is not JsonArray { Count: > 0 })) errors.Add($"{doc}: `from.source` must not be empty, found at rule {i}");
                    foreach (var name in fields)
                    {
                        if (src[name] is not JsonArray values) continue;
                        foreach (var value in values)
                        {
                            string text = (string?)value ?? "";
                            // security.CheckEmptyValues
                            if (text.Length == 0) errors.Add($"{doc}: rule {i}: empty value in {name}");
                            else if (name.EndsWith("pBlocks", StringComparison.Ordinal) && !ValidIp(text)) errors.Add($"{doc}: rule {i}: bad CIDR or IP ({text}) in {name}");
                            else if (name is "principals" or "notPrincipals") Principal(doc, i, text, errors);
                            else if (name is "namespaces" or "notNamespaces" && !KubernetesObjectRules.IsDns1123Label(text.Trim('*')) && text != "*")
                                errors.Add($"{doc}: rule {i}: namespace '{text}' can never match (not a DNS-1123 label)");
                        }
                    }
                }
            }
            if (rule["to"] is JsonArray to)
            {
                if (to.Count == 0) errors.Add($"{doc}: `to` must not be empty, found at rule {i}");
                foreach (var t in to)
                {
                    if (t?["operation"] is not JsonObject op)
                    {
                        errors.Add($"{doc}: `to.operation` must not be nil, found at rule {i}");
                        continue;
                    }
                    string[] fields = ["ports", "methods", "paths", "hosts", "notPorts", "notMethods", "notPaths", "notHosts"];
                    if (fields.All(name => op[name] is not JsonArray { Count: > 0 })) errors.Add($"{doc}: `to.operation` must not be empty, found at rule {i}");
                    foreach (var name in fields)
                    {
                        if (op[name] is not JsonArray values) continue;
                        foreach (var value in values)
                        {
                            string text = value is JsonValue jv && jv.TryGetValue(out string? s) ? s : value?.ToJsonString() ?? "";
                            if (text.Length == 0) errors.Add($"{doc}: rule {i}: empty value in {name}");
                            // security.ValidatePorts: strconv.ParseUint(port, 10, 32) <= 65535; port 0 matches nothing (ours).
                            if (name is "ports" or "notPorts" && (!uint.TryParse(text, out uint port) || port > 65535 || port == 0))
                                errors.Add($"{doc}: rule {i}: bad port ({text})");
                            if (name is "paths" or "notPaths" && !text.StartsWith('/') && text != "*" && !text.StartsWith('*'))
                                errors.Add($"{doc}: rule {i}: path '{text}' does not start with '/'");
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// The parts of Istio's ValidateServiceEntry (istio/istio pkg/config/validation, as the docs of ServiceEntry state
    /// them) that a ServiceEntry FlowPolicy writes can break: hosts present and valid (a DNS name, or "*." and one),
    /// wildcard hosts not with resolution DNS, ports with unique numbers 1..65535 and unique names and a known
    /// protocol, a known location and resolution.
    /// </summary>
    private static void CheckServiceEntry(PolicyDocument doc, List<string> errors)
    {
        var spec = doc.Spec ?? new JsonObject();
        var hosts = (spec["hosts"] as JsonArray ?? []).Select(h => (string?)h ?? "").ToList();
        if (hosts.Count == 0) errors.Add($"{doc}: ServiceEntry must have at least one host");
        string resolution = (string?)spec["resolution"] ?? "NONE";
        if (resolution is not ("NONE" or "STATIC" or "DNS" or "DNS_ROUND_ROBIN")) errors.Add($"{doc}: unknown resolution {resolution}");
        if ((string?)spec["location"] is { } location && location is not ("MESH_EXTERNAL" or "MESH_INTERNAL")) errors.Add($"{doc}: unknown location {location}");
        foreach (var host in hosts)
        {
            bool wildcard = host.StartsWith("*.", StringComparison.Ordinal);
            var name = wildcard ? host[2..] : host;
            if (name.Length == 0 || name.Length > 253 || !name.Split('.').All(l => KubernetesObjectRules.IsDns1123Label(l)))
                errors.Add($"{doc}: host '{host}' is not a DNS name or a '*.' wildcard of one");
            if (wildcard && resolution is "DNS" or "DNS_ROUND_ROBIN") errors.Add($"{doc}: wildcard host '{host}' with {resolution} resolution");
        }
        var numbers = new HashSet<long>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var port in spec["ports"] as JsonArray ?? [])
        {
            long number = port?["number"] is JsonValue v && v.TryGetValue(out long n) ? n : 0;
            string portName = (string?)port?["name"] ?? "";
            if (number is < 1 or > 65535) errors.Add($"{doc}: port number {number} out of range");
            if (!numbers.Add(number)) errors.Add($"{doc}: port number {number} repeated");
            if (portName.Length == 0 || !names.Add(portName)) errors.Add($"{doc}: port name '{portName}' empty or repeated");
            if ((string?)port?["protocol"] is not ("HTTP" or "HTTPS" or "GRPC" or "HTTP2" or "MONGO" or "TCP" or "TLS" or "UDP"))
                errors.Add($"{doc}: port {number}: unknown protocol");
        }
    }

    /// <summary>security.ValidateIPs: a CIDR when it has '/', else an address.</summary>
    private static bool ValidIp(string text) => text.Contains('/') ? KubernetesObjectRules.IsCidr(text) : IPAddress.TryParse(text, out _);

    /// <summary>A principal FlowPolicy writes: cluster.local/ns/NAMESPACE/sa/SERVICEACCOUNT, each part a name Kubernetes allows (else it never matches).</summary>
    private static void Principal(PolicyDocument doc, int rule, string principal, List<string> errors)
    {
        var parts = principal.Split('/');
        if (parts.Length != 5 || parts[1] != "ns" || parts[3] != "sa" || parts[0].Length == 0
            || !KubernetesObjectRules.IsDns1123Label(parts[2]) || !KubernetesObjectRules.IsDns1123Subdomain(parts[4]))
            errors.Add($"{doc}: rule {rule}: principal '{principal}' is not TRUST-DOMAIN/ns/NAMESPACE/sa/SERVICE-ACCOUNT with valid names");
    }
}

internal static partial class KubernetesObjectRules
{
    /// <summary>A CIDR as Go's net.ParseCIDR / netip.ParsePrefix take it.</summary>
    public static bool IsCidr(string text)
    {
        int slash = text.IndexOf('/');
        if (slash < 0 || !IPAddress.TryParse(text[..slash], out var ip)) return false;
        int max = ip.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        return int.TryParse(text[(slash + 1)..], out int length) && length >= 0 && length <= max && !text[(slash + 1)..].StartsWith('+');
    }
}
