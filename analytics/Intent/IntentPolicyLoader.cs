using FlowPolicy.Analytics.Intent.Internal;

namespace FlowPolicy.Analytics.Intent;

/// <summary>Everything the policy files declare: policies of both kinds, namespace labels, and what was skipped.</summary>
public sealed class IntentPolicySet
{
    internal IntentPolicySet(List<NetworkPolicyDefinition> networkPolicies, List<FlowPolicyDefinition> flowPolicies,
        Dictionary<string, IReadOnlyList<KeyValuePair<string, string>>> namespaceLabels, List<string> notes, int files,
        List<CiliumPolicyDefinition>? ciliumPolicies = null, List<IstioPolicyDefinition>? istioPolicies = null)
    {
        NetworkPolicies = networkPolicies;
        FlowPolicies = flowPolicies;
        CiliumPolicies = ciliumPolicies ?? [];
        IstioPolicies = istioPolicies ?? [];
        NamespaceLabels = namespaceLabels;
        Notes = notes;
        Files = files;
    }

    public static IntentPolicySet Empty { get; } = new([], [], new(StringComparer.Ordinal), [], 0);

    internal IReadOnlyList<NetworkPolicyDefinition> NetworkPolicies { get; }
    internal IReadOnlyList<FlowPolicyDefinition> FlowPolicies { get; }
    /// <summary>
    /// Cilium policies, one per spec: their L3/L4 rules count in <see cref="IntentEvaluator"/> (one policy repository with
    /// the NetworkPolicies, as in Cilium), their L7 rules and toFQDNs names in <see cref="L7IntentEvaluator"/>.
    /// </summary>
    internal IReadOnlyList<CiliumPolicyDefinition> CiliumPolicies { get; }
    /// <summary>
    /// Istio AuthorizationPolicies: their sources and ports count in <see cref="IntentEvaluator"/> (a layer at the
    /// server's sidecar, ANDed with the network layer), their methods and paths in <see cref="L7IntentEvaluator"/>.
    /// </summary>
    internal IReadOnlyList<IstioPolicyDefinition> IstioPolicies { get; }
    /// <summary>Labels of Namespace objects found (namespace -> labels), for namespaceSelector.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string>>> NamespaceLabels { get; }
    /// <summary>"file:line: skipped ..." for every object that is not a policy.</summary>
    public IReadOnlyList<string> Notes { get; }
    public int Files { get; }
    public int NetworkPolicyCount => NetworkPolicies.Count;
    public int FlowPolicyCount => FlowPolicies.Count;
    public int CiliumPolicyCount => CiliumPolicies.Select(p => p.Id).Distinct(StringComparer.Ordinal).Count();
    public int IstioPolicyCount => IstioPolicies.Count;
    /// <summary>Whether any Cilium policy has L7 rules or toFQDNs, or any Istio ALLOW/DENY policy exists (what <see cref="L7IntentEvaluator"/> judges with).</summary>
    public bool HasL7Rules => CiliumPolicies.Any(p => p.HasL7) || IstioPolicies.Any(p => p.Action is IstioAction.Allow or IstioAction.Deny);
}

public sealed class IntentPolicyLoaderOptions
{
    /// <summary>Namespace for NetworkPolicies without metadata.namespace (what `kubectl apply` without -n does).</summary>
    public string DefaultNamespace { get; init; } = "default";
    /// <summary>Extra files with Namespace objects (`kubectl get namespaces -o json`), for namespaceSelector labels.</summary>
    public IReadOnlyList<string> NamespaceFiles { get; init; } = [];

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(DefaultNamespace)) throw new ArgumentException("the default namespace cannot be empty");
    }
}

/// <summary>
/// Reads the intended policy from a directory tree (or single files): .yaml/.yml/.json, multi-document YAML,
/// Kubernetes `List` objects (kubectl -o json/yaml output). NetworkPolicy and FlowPolicy objects become policies,
/// Namespace objects give namespace labels, anything else is skipped with a note. A file that is not valid YAML or
/// JSON, or a policy that is not valid, is an error naming the file and line: a CI gate must not pass on a policy
/// it could not read.
/// </summary>
public sealed class IntentPolicyLoader
{
    private readonly IntentPolicyLoaderOptions _options;

    public IntentPolicyLoader(IntentPolicyLoaderOptions? options = null)
    {
        _options = options ?? new IntentPolicyLoaderOptions();
        _options.Validate();
    }

    /// <param name="paths">Directories (read recursively, in ordinal path order) or files.</param>
    /// <exception cref="PolicyLoadException">A file cannot be parsed or a policy is invalid.</exception>
    /// <exception cref="FileNotFoundException">A path does not exist.</exception>
    public IntentPolicySet Load(IEnumerable<string> paths)
    {
        var networkPolicies = new List<NetworkPolicyDefinition>();
        var flowPolicies = new List<FlowPolicyDefinition>();
        var ciliumPolicies = new List<CiliumPolicyDefinition>();
        var istioPolicies = new List<IstioPolicyDefinition>();
        var namespaces = new Dictionary<string, IReadOnlyList<KeyValuePair<string, string>>>(StringComparer.Ordinal);
        var notes = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int ordinal = 0, files = 0;

        void Read(string file, string relative, bool namespacesOnly)
        {
            files++;
            foreach (var document in ReadDocuments(file))
                Accept(document, relative, namespacesOnly);
        }

        void Accept(PolicyNode document, string relative, bool namespacesOnly)
        {
            if (document.Kind != PolicyNodeKind.Map)
            {
                notes.Add($"{document.Where}: skipped a document that is not an object");
                return;
            }
            string? kind = document.String("kind");
            string? apiVersion = document.String("apiVersion");
            switch (kind)
            {
                case "List" or "NetworkPolicyList" or "NamespaceList":
                    foreach (var item in document.List("items") ?? []) Accept(item, relative, namespacesOnly);
                    return;
                case "Namespace":
                    var metadata = document.Map("metadata") ?? throw PolicyNode.Error(document, "a Namespace needs metadata.name");
                    string name = metadata.String("name") ?? throw PolicyNode.Error(metadata, "a Namespace needs metadata.name");
                    namespaces[name] = metadata.StringMap("labels");
                    return;
                case "NetworkPolicy" when !namespacesOnly && apiVersion is "networking.k8s.io/v1":
                    var policy = NetworkPolicyDefinition.Parse(document, _options.DefaultNamespace, ref ordinal);
                    if (!seen.Add("np:" + policy.Id)) throw PolicyNode.Error(document, $"NetworkPolicy {policy.Id} is defined twice");
                    networkPolicies.Add(policy);
                    return;
                case FlowPolicyDefinition.Kind when !namespacesOnly && apiVersion is FlowPolicyDefinition.ApiVersion:
                    var flowPolicy = FlowPolicyDefinition.Parse(document, relative, ref ordinal);
                    if (!seen.Add("fp:" + flowPolicy.Id)) throw PolicyNode.Error(document, $"FlowPolicy {flowPolicy.Id} is defined twice in this file");
                    flowPolicies.Add(flowPolicy);
                    return;
                case "CiliumNetworkPolicy" or "CiliumClusterwideNetworkPolicy" when !namespacesOnly && apiVersion is "cilium.io/v2":
                    var cilium = L7PolicyParser.ParseCilium(document, _options.DefaultNamespace, clusterwide: kind == CiliumPolicyDefinition.ClusterwideKind,
                        ref ordinal, out string ciliumId, out int hostPolicies);
                    if (!seen.Add("cilium:" + ciliumId)) throw PolicyNode.Error(document, $"{ciliumId} is defined twice");
                    ciliumPolicies.AddRange(cilium);
                    // Said once per policy: beside a k8s/ directory of the same rules, both now count (their allows add up).
                    notes.Add($"{document.Where}: {ciliumId}: its L3/L4 rules are evaluated with the NetworkPolicies as one policy repository, as Cilium does " +
                              "(isolated if any selects, allows add up, deny rules win); its L7 rules and toFQDNs names also against L7 history");
                    if (hostPolicies > 0)
                        notes.Add($"{document.Where}: {ciliumId}: {hostPolicies} spec{(hostPolicies == 1 ? "" : "s")} with a nodeSelector (host policies) not evaluated: they govern nodes, which FlowPolicy does not judge as the selected side");
                    return;
                case "AuthorizationPolicy" when !namespacesOnly && apiVersion is "security.istio.io/v1" or "security.istio.io/v1beta1":
                    var istio = L7PolicyParser.ParseIstio(document, _options.DefaultNamespace, ref ordinal);
                    if (!seen.Add("istio:" + istio.Id)) throw PolicyNode.Error(document, $"{istio.Id} is defined twice");
                    istioPolicies.Add(istio);
                    notes.Add($"{document.Where}: {istio.Id}: " + istio switch
                    {
                        { Action: IstioAction.Custom } => "action CUSTOM (an external authoriser) is not evaluated",
                        { Action: IstioAction.Audit } => "action AUDIT decides nothing; not evaluated",
                        { HasTargetRefs: true } => "targetRef(s) (gateways, services) are not resolved: not evaluated at L3/L4 (its methods and paths may apply at L7)",
                        _ => "its sources and ports are evaluated at the server's sidecar, ANDed with the NetworkPolicies and Cilium policies (TCP; " +
                             "a DENY that matches denies; an ALLOW policy applying means one must match); its methods and paths against L7 history",
                    });
                    return;
                case var _ when !namespacesOnly && OtherPolicyEngine(apiVersion) is { } engine:
                    // A policy directory often holds every format `suggest` writes (calico/, cilium/, istio/ beside k8s/).
                    notes.Add($"{document.Where}: skipped {engine} {kind ?? "object"} {document.Map("metadata")?.String("name") ?? "unnamed"} " +
                              $"({apiVersion}): only Kubernetes NetworkPolicy, FlowPolicy, Cilium policies and Istio AuthorizationPolicies are evaluated");
                    return;
                case "NetworkPolicy" or FlowPolicyDefinition.Kind when !namespacesOnly:
                    throw PolicyNode.Error(document, $"{kind} with apiVersion '{apiVersion}' is not supported; use " +
                        (kind == "NetworkPolicy" ? "networking.k8s.io/v1" : FlowPolicyDefinition.ApiVersion));
                default:
                    string objectName = document.Map("metadata")?.String("name") ?? "unnamed";
                    notes.Add($"{document.Where}: skipped {kind ?? "an object without kind"} {objectName} (not a policy)");
                    return;
            }
        }

        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                var found = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                    .Where(file => IsPolicyFile(Path.GetRelativePath(path, file)))
                    .Order(StringComparer.Ordinal)
                    .ToList();
                if (found.Count == 0) notes.Add($"{path}: no .yaml, .yml or .json files");
                foreach (var file in found) Read(file, Path.GetRelativePath(path, file).Replace('\\', '/'), namespacesOnly: false);
            }
            else if (File.Exists(path)) Read(path, Path.GetFileName(path), namespacesOnly: false);
            else throw new FileNotFoundException($"no such policy file or directory '{path}'", path);
        }
        foreach (var file in _options.NamespaceFiles)
        {
            if (!File.Exists(file)) throw new FileNotFoundException($"no such namespaces file '{file}'", file);
            Read(file, Path.GetFileName(file), namespacesOnly: true);
        }
        return new IntentPolicySet(networkPolicies, flowPolicies, namespaces, notes, files, ciliumPolicies, istioPolicies);
    }

    public IntentPolicySet Load(string path) => Load([path]);

    /// <summary>The product whose policy API group <paramref name="apiVersion"/> is in (Calico has a kind NetworkPolicy too), or null.</summary>
    private static string? OtherPolicyEngine(string? apiVersion)
    {
        if (apiVersion is null) return null;
        int slash = apiVersion.IndexOf('/');
        var group = slash < 0 ? apiVersion : apiVersion[..slash];
        if (group == "projectcalico.org" || group.EndsWith(".projectcalico.org", StringComparison.Ordinal)) return "Calico";
        if (group == "cilium.io" || group.EndsWith(".cilium.io", StringComparison.Ordinal)) return "Cilium";
        if (group.EndsWith(".istio.io", StringComparison.Ordinal)) return "Istio";
        return null;
    }

    private static bool IsPolicyFile(string relative)
    {
        // Hidden files and folders (.git, editor state) are never policy.
        foreach (var segment in relative.Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar))
            if (segment.StartsWith('.')) return false;
        string file = relative;
        string extension = Path.GetExtension(file);
        return extension.Equals(".yaml", StringComparison.OrdinalIgnoreCase) || extension.Equals(".yml", StringComparison.OrdinalIgnoreCase)
            || extension.Equals(".json", StringComparison.OrdinalIgnoreCase);
    }

    private static List<PolicyNode> ReadDocuments(string file)
    {
        // Errors name the path as the user gave it, so they can open it.
        if (Path.GetExtension(file).Equals(".json", StringComparison.OrdinalIgnoreCase))
            return [PolicyNode.ReadJson(file, File.ReadAllBytes(file))];
        using var reader = new StreamReader(file);
        return PolicyNode.ReadYaml(file, reader);
    }
}
