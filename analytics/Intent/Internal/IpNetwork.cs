using FlowPolicy.Core.Net;

namespace FlowPolicy.Analytics.Intent.Internal;

/// <summary>A CIDR on <see cref="PackedIp"/>: IPv4 lives at ::ffff:0:0/96, so an IPv4 /n is a /96+n here.</summary>
internal readonly record struct IpNetwork(PackedIp Network, int PrefixLength, string Text)
{
    public bool Contains(PackedIp ip) => Mask(ip, PrefixLength).Equals(Network);

    private static PackedIp Mask(PackedIp ip, int prefixLength)
    {
        if (prefixLength >= 128) return ip;
        if (prefixLength <= 0) return default;
        if (prefixLength <= 64)
            return new PackedIp(prefixLength == 64 ? ip.High : ip.High & ~(ulong.MaxValue >> prefixLength), 0);
        return new PackedIp(ip.High, ip.Low & ~(ulong.MaxValue >> (prefixLength - 64)));
    }

    /// <summary>"a.b.c.d/n" or "v6/n". Host bits are cleared, as Kubernetes normalises "10.1.2.3/24" too.</summary>
    public static bool TryParse(string text, out IpNetwork network)
    {
        network = default;
        int slash = text.IndexOf('/');
        if (slash <= 0) return false;
        PackedIp ip = default; // "::/0" is shorter than PackedIp.TryParse accepts
        if (!text.AsSpan(0, slash).SequenceEqual("::") && !PackedIp.TryParse(text.AsSpan(0, slash), out ip)) return false;
        if (!int.TryParse(text.AsSpan(slash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int length))
            return false;
        if (ip.IsV4)
        {
            if (length > 32) return false;
            length += 96;
        }
        else if (length > 128) return false;
        network = new IpNetwork(Mask(ip, length), length, text);
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
