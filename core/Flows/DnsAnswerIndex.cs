using FlowPolicy.Core.Net;

namespace FlowPolicy.Core.Flows;

/// <summary>
/// The DNS answers clients received (Hubble DNS responses), to name the external addresses they then connected to: a
/// connection from a client to an address at time t is by name N when that client got N -> address in an answer at a
/// time a with a - 1 s &lt;= t &lt;= a + max(TTL, <see cref="MinValidity"/>). Clients are keyed by workload (namespace
/// and workload, else pod), else by address, so the answers of one replica name the connections of its siblings
/// too only when they are of one workload. Not thread-safe; built in the embedded mode's first pass, read in the second.
/// </summary>
public sealed class DnsAnswerIndex
{
    /// <summary>
    /// How long an answer names connections at least, whatever its TTL: applications cache answers and keep
    /// connections open past a short TTL (Cilium itself keeps a name's addresses allowed for --tofqdns-min-ttl).
    /// </summary>
    public static readonly TimeSpan MinValidity = TimeSpan.FromHours(1);
    private static readonly TimeSpan Skew = TimeSpan.FromSeconds(1);

    private readonly Dictionary<(ClientKey Client, PackedIp Address), List<Answer>> _answers = new();

    public int Count { get; private set; }
    public bool IsEmpty => Count == 0;

    /// <summary>One answer: <paramref name="name"/> resolved to <paramref name="addresses"/> for a client at a time.</summary>
    public void Add(WorkloadIdentity? client, PackedIp clientAddress, string name, IReadOnlyList<PackedIp> addresses, DateTime at, uint ttlSeconds) =>
        Add(ClientKey.Of(client, clientAddress), name, addresses, at, ttlSeconds);

    /// <summary>
    /// The same for a client read back from storage (ClickHouse rows): <paramref name="clientWorkload"/> is the pod's
    /// workload (else its pod name) when the client is a pod, null otherwise (then the address keys it).
    /// </summary>
    public void Add(string? clientNamespace, string? clientWorkload, PackedIp clientAddress, string name, IReadOnlyList<PackedIp> addresses, DateTime at, uint ttlSeconds) =>
        Add(ClientKey.Of(clientNamespace, clientWorkload, clientAddress), name, addresses, at, ttlSeconds);

    private void Add(ClientKey key, string name, IReadOnlyList<PackedIp> addresses, DateTime at, uint ttlSeconds)
    {
        var until = at + TimeSpan.FromSeconds(Math.Max(ttlSeconds, MinValidity.TotalSeconds));
        foreach (var address in addresses)
        {
            if (!_answers.TryGetValue((key, address), out var list)) _answers[(key, address)] = list = [];
            foreach (var existing in list)
                if (existing.Name == name && existing.From <= at && at <= existing.Until)
                {
                    // A repeated answer extends the one it overlaps instead of piling up.
                    existing.Until = until > existing.Until ? until : existing.Until;
                    goto next;
                }
            list.Add(new Answer(name, at - Skew, until));
            Count++;
        next:;
        }
    }

    /// <summary>The names that client had for the address at that time (none: an empty list, no allocation).</summary>
    public IReadOnlyList<string> NamesFor(WorkloadIdentity? client, PackedIp clientAddress, PackedIp address, DateTime at) =>
        NamesFor(ClientKey.Of(client, clientAddress), address, at);

    /// <summary>The same for a client read back from storage (see the matching <c>Add</c>).</summary>
    public IReadOnlyList<string> NamesFor(string? clientNamespace, string? clientWorkload, PackedIp clientAddress, PackedIp address, DateTime at) =>
        NamesFor(ClientKey.Of(clientNamespace, clientWorkload, clientAddress), address, at);

    private IReadOnlyList<string> NamesFor(ClientKey key, PackedIp address, DateTime at)
    {
        if (Count == 0 || !_answers.TryGetValue((key, address), out var list)) return [];
        List<string>? names = null;
        foreach (var answer in list)
            if (answer.From <= at && at <= answer.Until && (names is null || !names.Contains(answer.Name))) (names ??= []).Add(answer.Name);
        return (IReadOnlyList<string>?)names ?? [];
    }

    private sealed class Answer(string name, DateTime from, DateTime until)
    {
        public string Name { get; } = name;
        public DateTime From { get; } = from;
        public DateTime Until { get; set; } = until;
    }

    private readonly record struct ClientKey(string? Namespace, string? Workload, PackedIp Address)
    {
        public static ClientKey Of(WorkloadIdentity? identity, PackedIp address) =>
            identity is { Kind: EndpointKind.Pod } && (identity.Workload ?? identity.Name) is { } workload
                ? new ClientKey(identity.Namespace, workload, default)
                : new ClientKey(null, null, address);

        public static ClientKey Of(string? ns, string? workload, PackedIp address) =>
            string.IsNullOrEmpty(workload) ? new ClientKey(null, null, address) : new ClientKey(string.IsNullOrEmpty(ns) ? null : ns, workload, default);
    }
}
