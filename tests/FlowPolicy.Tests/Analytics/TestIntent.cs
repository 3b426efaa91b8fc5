using FlowPolicy.Analytics.Intent;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Tests.Analytics;

/// <summary>
/// A hand-written intended policy for tests: allow rules "client key -> server key:port/proto" (client "*" matches
/// any client, "internet" any external address), default deny. Counts evaluations.
/// </summary>
internal sealed class TestIntent : IIntentEvaluator
{
    private readonly List<(string Client, string Server, ushort Port, byte Protocol, IntentRule Rule)> _allows = new();

    public int Evaluations { get; private set; }

    public TestIntent Allow(string client, string server, ushort port, string name, byte protocol = IpProtocols.Tcp)
    {
        _allows.Add((client, server, port, protocol, new IntentRule("test/" + name, "ingress[0]", "Test")));
        return this;
    }

    public IReadOnlyList<IntentRule> Rules => _allows.Select(a => a.Rule).ToList();

    public IntentDecision Evaluate(Endpoint client, Endpoint server, ushort port, byte protocol)
    {
        Evaluations++;
        var matched = _allows.Where(a => a.Server == server.Key && a.Port == port && a.Protocol == protocol
                && (a.Client == "*" || a.Client == client.Key || (a.Client == "internet" && client.IsAddress && client.Kind == EndpointKind.External)))
            .Select(a => a.Rule).ToList();
        return matched.Count > 0
            ? new IntentDecision(true, matched, "allowed by " + string.Join(", ", matched))
            : new IntentDecision(false, [], $"no rule allows {client} to {server}:{port}");
    }
}

/// <summary>Allows everything, with no rules (as an empty namespace without policies does).</summary>
internal sealed class AllowAllIntent : IIntentEvaluator
{
    public IReadOnlyList<IntentRule> Rules => [];
    public IntentDecision Evaluate(Endpoint client, Endpoint server, ushort port, byte protocol) => new(true, [], "no policy isolates either side");
}

internal static class TestEdges
{
    public static readonly DateTime Start = new(2026, 11, 2, 10, 0, 0, DateTimeKind.Utc);

    public static Endpoint Workload(string ns, string name, params (string Key, string Value)[] labels) =>
        Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, ns, name, "Deployment", labels: labels.Select(l => new KeyValuePair<string, string>(l.Key, l.Value))));

    public static Endpoint Address(string ip) => Endpoint.FromAddress(PackedIp.Parse(ip));

    public static Edge Edge(Endpoint client, Endpoint server, ushort port, long allowed, long denied = 0, long unknown = 0, ulong bytes = 0,
        byte protocol = IpProtocols.Tcp, int minute = 0) => new(client, server, port, protocol)
    {
        Flows = allowed + denied + unknown,
        AllowedFlows = allowed,
        DeniedFlows = denied,
        UnknownVerdictFlows = unknown,
        Bytes = bytes,
        Packets = bytes / 100,
        FirstSeen = Start.AddMinutes(minute),
        LastSeen = Start.AddMinutes(minute + 1),
        Days = [DateOnly.FromDateTime(Start)],
        ClientReplicas = 1,
    };
}
