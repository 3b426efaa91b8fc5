using FlowPolicy.Core.Net;

namespace FlowPolicy.Analytics.Intent.Internal;

/// <summary>
/// A NetworkPolicy ipBlock: inside cidr and outside every except. Family-correct through <see cref="IpPrefix"/>: an
/// IPv6 block (<c>::/0</c>) never allows an IPv4 peer, nor an IPv4 block an IPv6 one.
/// </summary>
internal sealed record IpBlock(IpPrefix Cidr, IpPrefix[] Except)
{
    public bool Contains(PackedIp ip)
    {
        if (!Cidr.Contains(ip)) return false;
        foreach (var except in Except)
            if (except.Contains(ip)) return false;
        return true;
    }
}
