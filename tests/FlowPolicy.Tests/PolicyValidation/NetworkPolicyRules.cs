using System.Net;
using System.Net.Sockets;
using System.Numerics;
using System.Text.Json.Nodes;

namespace FlowPolicy.Tests.PolicyValidation;

/// <summary>
/// The checks the API server makes on a NetworkPolicy beyond its OpenAPI schema (kubernetes/kubernetes
/// pkg/apis/networking/validation/validation.go: ValidateNetworkPolicyPort, ValidateIPBlock, label selectors), and
/// Cilium's CIDR and label rules (cilium/cilium pkg/policy/api: CIDRRule.sanitize, EndpointSelector labels).
/// </summary>
internal static class NetworkPolicyRules
{
    public static void CheckKubernetes(PolicyDocument doc, List<string> errors)
    {
        var spec = doc.Spec;
        if (spec is null) return;
        Selector(doc, "spec.podSelector", spec["podSelector"], errors);
        foreach (var t in spec["policyTypes"] as JsonArray ?? [])
            if ((string?)t is not ("Ingress" or "Egress")) errors.Add($"{doc}: policyTypes has '{t}'");
        foreach (var (direction, peersKey) in new[] { ("ingress", "from"), ("egress", "to") })
        {
            foreach (var rule in spec[direction] as JsonArray ?? [])
            {
                foreach (var port in rule?["ports"] as JsonArray ?? [])
                {
                    string protocol = (string?)port?["protocol"] ?? "TCP";
                    if (protocol is not ("TCP" or "UDP" or "SCTP")) errors.Add($"{doc}: {direction} port protocol '{protocol}' is not TCP, UDP or SCTP");
                    if (port?["port"] is JsonValue p && p.TryGetValue(out long n) && n is < 1 or > 65535) errors.Add($"{doc}: {direction} port {n} is not in 1-65535");
                }
                foreach (var peer in rule?[peersKey] as JsonArray ?? [])
                {
                    Selector(doc, $"{direction}.{peersKey}.podSelector", peer?["podSelector"], errors);
                    Selector(doc, $"{direction}.{peersKey}.namespaceSelector", peer?["namespaceSelector"], errors);
                    if (peer?["ipBlock"] is JsonObject block) Block(doc, direction, block, errors);
                }
            }
        }
    }

    public static void CheckCilium(PolicyDocument doc, List<string> errors)
    {
        var spec = doc.Spec;
        if (spec is null) return;
        CiliumSelector(doc, "spec.endpointSelector", spec["endpointSelector"], errors);
        foreach (var direction in new[] { "ingress", "egress" })
        {
            foreach (var rule in spec[direction] as JsonArray ?? [])
            {
                foreach (var field in new[] { "fromEndpoints", "toEndpoints" })
                    foreach (var sel in rule?[field] as JsonArray ?? []) CiliumSelector(doc, $"{direction}.{field}", sel, errors);
                foreach (var field in new[] { "fromCIDRSet", "toCIDRSet" })
                    foreach (var block in rule?[field] as JsonArray ?? []) Block(doc, direction, (JsonObject)block!, errors);
                foreach (var icmp in rule?["icmps"] as JsonArray ?? [])
                    foreach (var f in icmp?["fields"] as JsonArray ?? [])
                    {
                        // Echo request is type 8 in ICMP, 128 in ICMPv6; type 8 in ICMPv6 is unassigned.
                        string family = (string?)f?["family"] ?? "IPv4";
                        long type = f?["type"] is JsonValue v && v.TryGetValue(out long t) ? t : -1;
                        if (family == "IPv6" && type == 8)
                            errors.Add($"{doc}: {direction} ICMPv6 type 8 is IPv4's echo request; ICMPv6 echo request is 128");
                    }
            }
        }
    }

    private static void Selector(PolicyDocument doc, string where, JsonNode? selector, List<string> errors)
    {
        if (selector?["matchLabels"] is JsonObject labels) KubernetesObjectRules.CheckLabels(doc, where + ".matchLabels", labels, errors);
    }

    /// <summary>Cilium label keys carry a source prefix ("k8s:", "any:"): the rest is a Kubernetes label key.</summary>
    private static void CiliumSelector(PolicyDocument doc, string where, JsonNode? selector, List<string> errors)
    {
        if (selector?["matchLabels"] is JsonObject labels)
            KubernetesObjectRules.CheckLabels(doc, where + ".matchLabels", labels, errors, key => key.IndexOf(':') is int c and >= 0 ? key[(c + 1)..] : key);
    }

    /// <summary>ValidateIPBlock: a CIDR; each except a CIDR of the same family strictly inside it.</summary>
    private static void Block(PolicyDocument doc, string direction, JsonObject block, List<string> errors)
    {
        string cidr = (string?)block["cidr"] ?? "";
        if (!TryPrefix(cidr, out var network, out int length, out bool v4))
        {
            errors.Add($"{doc}: {direction} ipBlock cidr '{cidr}' is not a CIDR");
            return;
        }
        foreach (var x in block["except"] as JsonArray ?? [])
        {
            string text = (string?)x ?? "";
            if (!TryPrefix(text, out var exceptNetwork, out int exceptLength, out bool exceptV4))
                errors.Add($"{doc}: {direction} except '{text}' is not a CIDR");
            else if (exceptV4 != v4 || exceptLength <= length || (exceptNetwork >> (128 - length)) != (network >> (128 - length)) && length > 0)
                errors.Add($"{doc}: {direction} except '{text}' is not inside {cidr}");
        }
    }

    private static bool TryPrefix(string text, out BigInteger network, out int length, out bool v4)
    {
        network = 0;
        length = 0;
        v4 = false;
        if (!KubernetesObjectRules.IsCidr(text)) return false;
        int slash = text.IndexOf('/');
        var ip = IPAddress.Parse(text[..slash]);
        v4 = ip.AddressFamily == AddressFamily.InterNetwork;
        length = int.Parse(text[(slash + 1)..]) + (v4 ? 96 : 0);
        var bytes = (v4 ? ip.MapToIPv6() : ip).GetAddressBytes();
        network = new BigInteger(bytes, isUnsigned: true, isBigEndian: true);
        return true;
    }
}
