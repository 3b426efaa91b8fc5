using FlowPolicy.Analytics.Intent;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Tests.Intent;

/// <summary>Writes policy YAML into a temporary directory and loads it, plus endpoint builders.</summary>
internal sealed class PolicyFiles : IDisposable
{
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("flowpolicy-intent-").FullName;

    public string Write(string relative, string text)
    {
        var path = Path.Combine(Directory, relative);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    public IntentPolicySet Load() => new IntentPolicyLoader().Load(Directory);

    public IntentEvaluator Evaluator(IntentEvaluatorOptions? options = null) => new(Load(), options);

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);

    /// <summary>Evaluates the YAML in a fresh directory.</summary>
    public static IntentEvaluator From(string yaml, IntentEvaluatorOptions? options = null)
    {
        using var files = new PolicyFiles();
        files.Write("policy.yaml", yaml);
        return files.Evaluator(options);
    }

    public static Endpoint Pod(string ns, string workload, params (string Key, string Value)[] labels) =>
        Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, ns, workload, "Deployment",
            labels: labels.Select(l => new KeyValuePair<string, string>(l.Key, l.Value))));

    public static Endpoint Service(string ns, string name, params (string Key, string Value)[] labels) =>
        Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Service, ns, name,
            labels: labels.Select(l => new KeyValuePair<string, string>(l.Key, l.Value))));

    public static Endpoint Node(string name) => Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Node, null, name, "Node"));

    public static Endpoint Ip(string address) => Endpoint.FromAddress(PackedIp.Parse(address));

    public static bool Allows(IIntentEvaluator evaluator, Endpoint client, Endpoint server, ushort port, byte protocol = IpProtocols.Tcp) =>
        evaluator.Evaluate(client, server, port, protocol).Allowed;
}
