using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Net;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Emitters;

/// <summary>Which address families a rule opens for an address peer.</summary>
[Flags]
internal enum AddressFamilies
{
    None = 0,
    V4 = 1,
    V6 = 2,
    Both = V4 | V6,
}

/// <summary>
/// One neutral rule as the emitters write it, for one direction: the peer on the other side, and the protocol and port
/// (a DNS rule also gives its companion on the other transport, <see cref="AddedForDns"/>).
/// </summary>
internal readonly record struct EmitRule(SuggestedRule Rule, Peer Peer, byte Protocol, ushort Port, bool AddedForDns)
{
    /// <summary>Whether the rule names a port: TCP, UDP or SCTP with a port above 0 (port 0 is "every port").</summary>
    public bool HasPort => IpProtocols.HasPorts(Protocol) && Port != 0;
    public string ProtocolName => IpProtocols.Name(Protocol);
    public override string ToString() => AddedForDns ? $"{Rule} (+{Port}/{ProtocolName} for DNS)" : Rule.ToString();
}

/// <summary>
/// What the emitted files allow beyond or short of the neutral rule set, in one place (tests judge emitters by it):
/// <list type="bullet">
/// <item>DNS: a rule allowing UDP 53 also allows TCP 53 to the same peer and the reverse (resolvers fall back to TCP
/// for answers over 512 bytes, RFC 7766);</item>
/// <item>an internet peer opens only the address families its observed addresses had: IPv4-only clients do not
/// open <c>::/0</c>, IPv6-only clients do not open <c>0.0.0.0/0</c>.</item>
/// </list>
/// </summary>
internal static class EmittedRules
{
    public const ushort DnsPort = 53;

    /// <summary>The rules of one direction, each with its DNS companion added when the list lacks it for that peer.</summary>
    public static List<EmitRule> Of(IEnumerable<SuggestedRule> rules, bool ingress)
    {
        var list = new List<EmitRule>();
        var have = new HashSet<(string, byte, ushort)>();
        foreach (var rule in rules)
        {
            var peer = ingress ? rule.Client : rule.Server;
            list.Add(new EmitRule(rule, peer, rule.Protocol, rule.Port, false));
            have.Add((peer.Key, rule.Protocol, rule.Port));
        }
        int count = list.Count;
        for (int i = 0; i < count; i++)
        {
            var r = list[i];
            if (DnsCompanion(r.Protocol, r.Port) is not { } other) continue;
            if (have.Add((r.Peer.Key, other, DnsPort))) list.Add(r with { Protocol = other, AddedForDns = true });
        }
        return list;
    }

    /// <summary>The other transport of DNS for a rule on port 53 (TCP for UDP, UDP for TCP); null for other rules.</summary>
    public static byte? DnsCompanion(byte protocol, ushort port) =>
        port != DnsPort ? null : protocol == IpProtocols.Udp ? IpProtocols.Tcp : protocol == IpProtocols.Tcp ? IpProtocols.Udp : null;

    /// <summary>
    /// The families an address peer is opened for: for the internet, those of the addresses observed on that side of
    /// the rule's edges (both when none carries an address); for listed networks, their own blocks decide.
    /// </summary>
    public static AddressFamilies Families(SuggestedRule rule, Peer peer)
    {
        if (peer.Kind != PeerKind.Internet) return AddressFamilies.Both;
        bool clientSide = ReferenceEquals(peer, rule.Client) || peer.Key == rule.Client.Key;
        var families = AddressFamilies.None;
        foreach (var edge in rule.Edges)
        {
            var endpoint = clientSide ? edge.Client : edge.Server;
            if (!endpoint.IsAddress) continue;
            families |= endpoint.Address.IsV4 ? AddressFamilies.V4 : AddressFamilies.V6;
            if (families == AddressFamilies.Both) break;
        }
        return families == AddressFamilies.None ? AddressFamilies.Both : families;
    }

    /// <summary>
    /// IPv6 special-purpose ranges (IANA IPv6 Special-Purpose Address Registry) that "any internet client" never
    /// includes, beyond the private, link-local and loopback ranges inference already leaves out: IPv4-mapped addresses
    /// (would reopen private IPv4 space through ::/0), local-use NAT64 (RFC 8215), discard-only (RFC 6666) and
    /// documentation (RFC 3849) addresses.
    /// </summary>
    public static readonly IReadOnlyList<string> SpecialUseV6 = ["::ffff:0:0/96", "64:ff9b:1::/48", "100::/64", "2001:db8::/32"];

    /// <summary>
    /// The IPv4-mapped range. Calico reads it as IPv4 (libcalico-go/lib/net: a CIDR's version is 4 when its address has
    /// a 4-byte form), so next to ::/0 it would make a rule "contain both IPv4 and IPv6 CIDRs": Calico leaves it out
    /// (its IPv6 dataplane never sees mapped addresses on the wire).
    /// </summary>
    public const string V4MappedV6 = "::ffff:0:0/96";

    private static readonly IReadOnlyList<Cidr> SpecialUseV6Blocks = SpecialUseV6.Where(s => s != V4MappedV6).Select(Cidr.Parse).ToList();

    /// <summary>The peer's blocks of the given families, each with the exceptions of its family (for the internet, the special-use IPv6 ranges too).</summary>
    public static IEnumerable<(Cidr Block, IReadOnlyList<string> Except)> Blocks(Peer peer, AddressFamilies families)
    {
        foreach (var block in peer.Cidrs)
        {
            if (!Includes(families, block)) continue;
            var except = peer.Except.Where(x => x.IsV4 == block.IsV4).Select(x => x.ToString()).ToList();
            if (peer.Kind == PeerKind.Internet && !block.IsV4)
                foreach (var extra in SpecialUseV6)
                    if (!except.Contains(extra)) except.Add(extra);
            yield return (block, except);
        }
    }

    public static bool Includes(AddressFamilies families, Cidr block) =>
        (families & (block.IsV4 ? AddressFamilies.V4 : AddressFamilies.V6)) != 0;

    /// <summary>
    /// Whether the emitted files (any format that can express the rule) allow the connection: the neutral decision
    /// with the DNS companions and the internet families above.
    /// </summary>
    public static bool Allows(SuggestionSet set, Endpoint client, Endpoint server, ushort port, byte protocol)
    {
        foreach (var rule in set.Rules)
        {
            if (!rule.Client.Matches(client) || !rule.Server.Matches(server)) continue;
            bool sameTransport = protocol == rule.Protocol && (!IpProtocols.HasPorts(protocol) || rule.Port == 0 || port == rule.Port);
            bool dns = DnsCompanion(rule.Protocol, rule.Port) == protocol && port == DnsPort;
            if (!sameTransport && !dns) continue;
            if (!FamilyAllowed(rule, rule.Client, client) || !FamilyAllowed(rule, rule.Server, server)) continue;
            return true;
        }
        return false;
    }

    private static bool FamilyAllowed(SuggestedRule rule, Peer peer, Endpoint endpoint)
    {
        if (peer.Kind != PeerKind.Internet || !endpoint.IsAddress) return true;
        foreach (var special in SpecialUseV6Blocks)
            if (special.Contains(endpoint.Address)) return false;
        var families = Families(rule, peer);
        return (families & (endpoint.Address.IsV4 ? AddressFamilies.V4 : AddressFamilies.V6)) != 0;
    }

    /// <summary>Groups in the order their first member appears (output stays byte-stable for the same input).</summary>
    public static List<(TKey Key, List<T> Items)> GroupInOrder<T, TKey>(IEnumerable<T> items, Func<T, TKey> key) where TKey : notnull
    {
        var groups = new List<(TKey, List<T>)>();
        var index = new Dictionary<TKey, int>();
        foreach (var item in items)
        {
            var k = key(item);
            if (!index.TryGetValue(k, out int i))
            {
                index[k] = i = groups.Count;
                groups.Add((k, new List<T>()));
            }
            groups[i].Item2.Add(item);
        }
        return groups;
    }

    /// <summary>Consecutive chunks of at most <paramref name="maxCount"/> items and about <paramref name="maxSize"/> in size (an item larger than that gets a chunk of its own).</summary>
    public static IEnumerable<List<T>> Chunks<T>(IReadOnlyList<T> items, int maxCount, Func<T, long> size, long maxSize)
    {
        var chunk = new List<T>();
        long total = 0;
        foreach (var item in items)
        {
            long s = size(item);
            if (chunk.Count > 0 && (chunk.Count >= maxCount || total + s > maxSize))
            {
                yield return chunk;
                chunk = new List<T>();
                total = 0;
            }
            chunk.Add(item);
            total += s;
        }
        if (chunk.Count > 0) yield return chunk;
    }

    /// <summary>A rough size in bytes of a peer written into a rule (selector labels or blocks), to keep objects small.</summary>
    public static long PeerSize(Peer peer) => peer.Kind switch
    {
        PeerKind.Workload => 80 + peer.Selector.Sum(p => p.Key.Length + p.Value.Length + 16),
        PeerKind.Nodes => 60,
        _ => 40 + peer.Cidrs.Count * 48 + peer.Except.Count * 48,
    };

    /// <summary>
    /// Objects are kept under this estimate of their stored size: the API server refuses an object over etcd's
    /// request limit (1.5 MiB by default), and client-side apply keeps a copy in an annotation; 1 MiB leaves room for
    /// the estimate's error.
    /// </summary>
    public const long MaxObjectBytes = 1024 * 1024;

    /// <summary>Peers in one merged rule, at most: a rule stays readable and a single rule never nears the object limit.</summary>
    public const int MaxPeersPerRule = 256;
}
