using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using FlowPolicy.Tests.PolicyValidation;

namespace FlowPolicy.Tests.Evaluation.Judge;

/// <summary>What the judge says about one HTTP request on a connection.</summary>
internal enum HttpJudgement { PortDenied, Allowed, DeniedAtL7 }

/// <summary>
/// An independent reading of CiliumNetworkPolicy ingress rules for HTTP (no code shared with analytics/Intent): written
/// from Cilium's documentation (Documentation/security/policy/layer7.rst and language.rst) for what suggest emits —
/// endpointSelector and fromEndpoints with matchLabels (k8s:io.kubernetes.pod.namespace, else the policy's namespace),
/// toPorts with numeric ports, rules.http with method and path regexes matched against the whole value. A request
/// passes when some rule selecting the server covers the client and port and either carries no L7 rules or has an http
/// rule matching method and path. Anything else in a policy it judges is a test failure, not a guess.
/// </summary>
internal sealed class CiliumHttpJudge(IReadOnlyList<PolicyDocument> documents)
{
    public HttpJudgement Judge(string serverNamespace, IReadOnlyDictionary<string, string> serverLabels, string clientNamespace,
        IReadOnlyDictionary<string, string> clientLabels, int port, string method, string path)
    {
        bool portAllowed = false;
        foreach (var doc in documents.Where(d => d.Kind == "CiliumNetworkPolicy" && d.Namespace == serverNamespace))
        {
            if (!Selects(doc.Spec!["endpointSelector"]!.AsObject(), serverLabels, serverNamespace, serverNamespace)) continue;
            foreach (var rule in doc.Spec!["ingress"]?.AsArray() ?? [])
            {
                if (rule!["fromEndpoints"] is not JsonArray peers) continue; // entities and CIDRs: never a pod of the sample's clients here
                if (!peers.Any(p => Selects(p!.AsObject(), clientLabels, clientNamespace, serverNamespace))) continue;
                foreach (var entry in rule["toPorts"]?.AsArray() ?? [])
                {
                    if (!entry!["ports"]!.AsArray().Any(p => (string?)p!["port"] == port.ToString(System.Globalization.CultureInfo.InvariantCulture))) continue;
                    portAllowed = true;
                    if (entry["rules"] is not JsonObject rules) return HttpJudgement.Allowed;
                    Assert.True(rules.Count == 1 && rules["http"] is JsonArray, $"{doc}: the judge reads rules.http only, got {rules.ToJsonString()}");
                    foreach (var http in rules["http"]!.AsArray())
                    {
                        Assert.True(http!.AsObject().All(f => f.Key is "method" or "path"), $"{doc}: the judge reads method and path only");
                        if (FullMatch((string?)http["method"], method) && FullMatch((string?)http["path"], path)) return HttpJudgement.Allowed;
                    }
                }
            }
        }
        return portAllowed ? HttpJudgement.DeniedAtL7 : HttpJudgement.PortDenied;
    }

    private static bool FullMatch(string? pattern, string value) => string.IsNullOrEmpty(pattern) || Regex.IsMatch(value, "^(?:" + pattern + ")$");

    private static bool Selects(JsonObject selector, IReadOnlyDictionary<string, string> labels, string ns, string policyNamespace)
    {
        Assert.True(selector.All(f => f.Key == "matchLabels"), $"the judge reads matchLabels only, got {selector.ToJsonString()}");
        var match = selector["matchLabels"]?.AsObject() ?? [];
        bool namesNamespace = false;
        foreach (var (key, value) in match)
        {
            string wanted = (string)value!;
            if (key == "k8s:io.kubernetes.pod.namespace") { namesNamespace = true; if (ns != wanted) return false; continue; }
            if (!labels.TryGetValue(key.StartsWith("k8s:", StringComparison.Ordinal) ? key[4..] : key, out var actual) || actual != wanted) return false;
        }
        return namesNamespace || ns == policyNamespace;
    }
}
