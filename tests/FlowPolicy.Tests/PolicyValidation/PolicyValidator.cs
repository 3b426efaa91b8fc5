using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FlowPolicy.Suggest.Emitters;

namespace FlowPolicy.Tests.PolicyValidation;

/// <summary>A [Fact] that is skipped, saying why, when node is not installed (CI has it: the schema check needs it).</summary>
public sealed class NodeFactAttribute : FactAttribute
{
    public NodeFactAttribute()
    {
        if (OfficialSchemas.NodePath is null) Skip = "node is not installed: the official-schema checks (kubernetes-models, @kubernetes-models/cilium, @kubernetes-models/istio) need node 20+ and npm";
    }
}

/// <summary>A [Fact] run only when FLOWPOLICY_VALIDATE_DIR names a suggestion output directory to validate.</summary>
public sealed class ValidateDirFactAttribute : FactAttribute
{
    public const string Variable = "FLOWPOLICY_VALIDATE_DIR";

    public ValidateDirFactAttribute()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(Variable))) Skip = $"set {Variable}=DIR to validate a suggestion output directory";
    }
}

/// <summary>
/// The official schemas (npm packages kubernetes-models 5.1.0, @kubernetes-models/cilium 4.0.0,
/// @kubernetes-models/istio 3.0.1: ajv validators generated from the Kubernetes OpenAPI, Cilium's Go API types and
/// Istio 1.29.2's crd-all.gen.yaml), installed into a cache by deploy/local/install-policy-schemas.sh and driven by
/// validate-policies.mjs.
/// </summary>
internal static class OfficialSchemas
{
    public static readonly string? NodePath = Find("node");

    private static readonly Lazy<string> ModulesDirectory = new(Install);

    /// <summary>Package versions the validator loaded (its first output line).</summary>
    public static IReadOnlyDictionary<string, string> Versions { get; private set; } = new Dictionary<string, string>();

    /// <summary>Errors per document (by its description; an empty list: valid).</summary>
    public static Dictionary<string, List<string>> Validate(IReadOnlyList<PolicyDocument> docs)
    {
        var modules = ModulesDirectory.Value;
        var script = Path.Combine(RepositoryRoot(), "tests", "FlowPolicy.Tests", "PolicyValidation", "validate-policies.mjs");
        var start = new ProcessStartInfo(NodePath!, [script, modules])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = Encoding.UTF8,
        };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        // Ids are positions: file names repeat across formats.
        for (int i = 0; i < docs.Count; i++)
            process.StandardInput.WriteLine(new JsonObject { ["id"] = i.ToString(System.Globalization.CultureInfo.InvariantCulture), ["doc"] = docs[i].Json.DeepClone() }.ToJsonString());
        process.StandardInput.Close();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"validate-policies.mjs exited {process.ExitCode}: {stderr.Result}");
        var results = new Dictionary<string, List<string>>();
        foreach (var line in stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var node = JsonNode.Parse(line)!;
            if (node["versions"] is JsonObject versions)
            {
                Versions = versions.ToDictionary(v => v.Key, v => (string)v.Value!);
                continue;
            }
            results[docs[int.Parse((string)node["id"]!, System.Globalization.CultureInfo.InvariantCulture)].ToString()] = node["errors"]!.AsArray().Select(e => (string)e!).ToList();
        }
        if (results.Count != docs.Count) throw new InvalidOperationException($"validate-policies.mjs answered for {results.Count} of {docs.Count} documents: {stderr.Result}");
        return results;
    }

    private static string Install()
    {
        var script = Path.Combine(RepositoryRoot(), "deploy", "local", "install-policy-schemas.sh");
        var start = new ProcessStartInfo("bash", [script]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{script} failed ({process.ExitCode}): {stderr.Result}");
        return Path.Combine(output.Split('\n')[^1], "node_modules");
    }

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Analytics.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root (Analytics.sln) not found above " + AppContext.BaseDirectory);
    }

    private static string? Find(string program)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var path = Path.Combine(dir, program);
            if (File.Exists(path)) return path;
        }
        return null;
    }
}

/// <summary>Every check of the suite over one suggestion output directory: each document as its server would judge it, and the set as kubectl apply would take it.</summary>
internal static class PolicyValidator
{
    /// <summary>Every problem found, one line each (empty: every document applies as it is).</summary>
    public static List<string> Check(string outputDirectory, bool schemas = true)
    {
        var errors = new List<string>();
        var all = new List<PolicyDocument>();
        foreach (var format in new[] { "k8s", "cilium", "istio", "calico" })
        {
            var docs = PolicyDocuments.Load(Path.Combine(outputDirectory, format)).Select(d => d with { File = format + "/" + d.File }).ToList();
            all.AddRange(docs);
            foreach (var doc in docs)
            {
                KubernetesObjectRules.Check(doc, errors);
                switch (format)
                {
                    case "k8s": NetworkPolicyRules.CheckKubernetes(doc, errors); break;
                    case "cilium": NetworkPolicyRules.CheckCilium(doc, errors); break;
                    case "istio": IstioRules.Check(doc, errors); break;
                    case "calico": CalicoRules.Check(doc, errors); break;
                }
            }
            switch (format)
            {
                case "k8s":
                    KubernetesObjectRules.CheckSet(docs, PolicyNames.DefaultDeny, d => d.Spec?["podSelector"] is JsonObject { Count: 0 } && d.Spec["ingress"] is null && d.Spec["egress"] is null, errors);
                    break;
                case "cilium":
                    KubernetesObjectRules.CheckSet(docs, PolicyNames.DefaultDeny, d => d.Spec?["endpointSelector"] is JsonObject { Count: 0 }, errors);
                    break;
                case "istio":
                    KubernetesObjectRules.CheckSet(docs, PolicyNames.AllowNothing, d => d.Spec is JsonObject { Count: 0 }, errors);
                    break;
                case "calico":
                    KubernetesObjectRules.CheckSet(docs, PolicyNames.DefaultDeny, d => (string?)d.Spec?["selector"] == "all()" && d.Spec["ingress"] is null && d.Spec["egress"] is null, errors);
                    break;
            }
        }
        if (schemas && OfficialSchemas.NodePath is not null)
        {
            var schemaChecked = all.Where(d => d.ApiVersion != "projectcalico.org/v3").ToList();
            foreach (var (id, problems) in OfficialSchemas.Validate(schemaChecked))
                foreach (var problem in problems) errors.Add($"{id} (official schema): {problem}");
        }
        return errors;
    }

    public static string Summary(IEnumerable<string> errors) => string.Join("\n", errors.Take(40));
}
