using System.Globalization;
using System.Runtime.CompilerServices;
using FlowPolicy.Analytics.Baseline;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Suggest.Inference;

/// <summary>
/// Address generalisation: exact /32 (/128) blocks by default, the covering block where enough addresses share a /24
/// (/64), any internet client where enough public clients reach one port; each widening says how much it adds.
/// </summary>
internal sealed class AddressGeneralisation(SuggestOptions options)
{
    private readonly SuggestOptions _options = options;

    /// <summary>
    /// Drafts with an address on one side, in the order of the old two passes: address clients of a workload (internet
    /// clients, generalised blocks, or exact addresses), then address servers (egress to exact addresses or generalised
    /// blocks). The workload side's peer is left null, with its endpoint, for the caller's peer table.
    /// </summary>
    public List<(Draft Draft, Endpoint Workload, bool WorkloadIsServer)> AddressDrafts(List<Edge> kept)
    {
        var peers = new PeerTable();
        var result = new List<(Draft, Endpoint, bool)>();
        // Both groupings in one pass over the edges (each has its own ids; neither depends on the other's order).
        var byServer = new Grouping();
        var byClient = new Grouping();
        foreach (var e in kept)
        {
            if (e.Client.IsAddress) byServer.Add(new GroupKey(-1, peers.RawKeyId(e.Server), e.Port, e.Protocol), e);
            else if (e.Server.IsAddress) byClient.Add(new GroupKey(peers.KeyId(e.Client), -1, e.Port, e.Protocol), e);
        }
        foreach (var group in byServer.Groups)
        {
            var list = group;
            var first = list[0];
            var publicClients = list.Where(e => e.Client.Kind == EndpointKind.External).Select(e => e.Client.Address).Distinct().Count();
            if (publicClients >= _options.InternetClientThreshold)
            {
                var internet = list.Where(e => Peer.Internet.Matches(e.Client)).ToArray();
                result.Add((new Draft(Peer.Internet, null!, first.Port, first.Protocol, internet,
                    string.Create(CultureInfo.InvariantCulture,
                        $"{publicClients} distinct internet clients on one port: any public address (0.0.0.0/0, ::/0 minus private ranges), about {AddedSpace(Peer.Internet, publicClients)} addresses more than observed")),
                    first.Server, true));
                list = list.Where(e => !Peer.Internet.Matches(e.Client)).ToList();
            }
            foreach (var (block, blockEdges, note) in Generalise(list, clients: true))
                result.Add((new Draft(peers.Of(block), null!, first.Port, first.Protocol, blockEdges, note), first.Server, true));
        }
        foreach (var list in byClient.Groups)
        {
            var first = list[0];
            foreach (var (block, blockEdges, note) in Generalise(list, clients: false))
                result.Add((new Draft(null!, peers.Of(block), first.Port, first.Protocol, blockEdges, note), first.Client, false));
        }
        return result;
    }

    /// <summary>
    /// Exact /32 (/128) blocks, except where at least <see cref="SuggestOptions.CidrMinAddresses"/> addresses share a
    /// /24 (/64): those become their smallest covering block, with the added address space in the note. Networks in
    /// order, then addresses in order; each block's edges in input order.
    /// </summary>
    private List<(Cidr Block, Edge[] Edges, string? Note)> Generalise(List<Edge> edges, bool clients)
    {
        var result = new List<(Cidr, Edge[], string?)>();
        var sorted = new (Cidr Network, PackedIp Address, int Index)[edges.Count];
        for (int i = 0; i < edges.Count; i++)
        {
            var ip = clients ? edges[i].Client.Address : edges[i].Server.Address;
            sorted[i] = (Cidr.Of(ip, ip.IsV4 ? 96 + 24 : 64), ip, i);
        }
        Array.Sort(sorted, static (a, b) =>
        {
            int c = a.Network.CompareTo(b.Network);
            if (c == 0) c = a.Address.CompareTo(b.Address);
            return c != 0 ? c : a.Index.CompareTo(b.Index);
        });
        for (int from = 0; from < sorted.Length;)
        {
            var network = sorted[from].Network;
            int to = from, distinct = 0;
            for (; to < sorted.Length && sorted[to].Network == network; to++)
                if (to == from || sorted[to].Address != sorted[to - 1].Address) distinct++;
            if (distinct >= _options.CidrMinAddresses)
            {
                var lowest = sorted[from].Address;
                var highest = sorted[to - 1].Address;
                int prefix = network.PrefixLength;
                while (prefix < 128 && Cidr.Of(lowest, prefix + 1).Contains(highest)) prefix++;
                var block = Cidr.Of(lowest, prefix);
                double added = block.Size - distinct;
                var indexes = new int[to - from];
                for (int i = from; i < to; i++) indexes[i - from] = sorted[i].Index;
                Array.Sort(indexes);
                var members = new Edge[indexes.Length];
                for (int i = 0; i < indexes.Length; i++) members[i] = edges[indexes[i]];
                result.Add((block, members, string.Create(CultureInfo.InvariantCulture,
                    $"{distinct} addresses of {network} on one port generalised to {block}: {added:0} addresses more than observed")));
            }
            else
            {
                for (int a = from; a < to;)
                {
                    int b = a;
                    while (b < to && sorted[b].Address == sorted[a].Address) b++;
                    var members = new Edge[b - a];
                    for (int i = a; i < b; i++) members[i - a] = edges[sorted[i].Index];
                    result.Add((Cidr.Host(sorted[a].Address), members, null));
                    a = b;
                }
            }
            from = to;
        }
        return result;
    }

    private static string AddedSpace(Peer peer, int observed) => peer.Kind == PeerKind.Internet ? "3.7e9 IPv4 and all public IPv6" : observed.ToString(CultureInfo.InvariantCulture);
}
