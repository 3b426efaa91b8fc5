using FlowPolicy.Core.Net;

namespace FlowPolicy.Analytics.Intent.Internal;

/// <summary>A CIDR on <see cref="PackedIp"/>: IPv4 lives at ::ffff:0:0/96, so an IPv4 /n is a /96+n here.</summary>
internal readonly record struct IpNetwork(PackedIp Network, int PrefixLength, string Text)
{
    public bool Contains(PackedIp ip) => ip.Mask(PrefixLength).Equals(Network);

    /// <summary>"a.b.c.d/n" or "v6/n". Host bits are cleared, as Kubernetes normalises "10.1.2.3/24" too.</summary>
    public static bool TryParse(string text, out IpNetwork network)
    {
        if (!PackedIp.TryParseCidr(text, out var ip, out int length))
        {
            network = default;
            return false;
        }
        network = new IpNetwork(ip, length, text);
        return true;
    }
}

/// <summary>A NetworkPolicy ipBlock: inside cidr and outside every except.</summary>
internal sealed record IpBlock(IpNetwork Cidr, IpNetwork[] Except)
{
    public bool Contains(PackedIp ip)
    {
        if (!Cidr.Contains(ip)) return false;
        foreach (var except in Except)
            if (except.Contains(ip)) return false;
        return true;
    }
}
