using System.Globalization;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Suggest.Inference;

/// <summary>
/// An address block. IPv4 is kept as the IPv4-mapped block (::ffff:a.b.c.d/96+n) like <see cref="PackedIp"/>, and
/// written in the family's own notation.
/// </summary>
public readonly record struct Cidr(PackedIp Network, int PrefixLength) : IComparable<Cidr>
{
    /// <summary>Private, loopback, link-local and carrier-grade NAT ranges: never part of "any internet client".</summary>
    public static readonly IReadOnlyList<Cidr> NonInternetV4 =
        [Parse("10.0.0.0/8"), Parse("100.64.0.0/10"), Parse("127.0.0.0/8"), Parse("169.254.0.0/16"), Parse("172.16.0.0/12"), Parse("192.168.0.0/16")];
    public static readonly IReadOnlyList<Cidr> NonInternetV6 = [Parse("fc00::/7"), Parse("fe80::/10"), Parse("::1/128")];
    public static readonly Cidr AllV4 = Parse("0.0.0.0/0");
    public static readonly Cidr AllV6 = Parse("::/0");

    public bool IsV4 => PrefixLength >= 96 && Network.IsV4;
    /// <summary>Prefix length in the family's notation (0-32 for IPv4).</summary>
    public int FamilyPrefixLength => IsV4 ? PrefixLength - 96 : PrefixLength;

    public static Cidr Host(PackedIp ip) => new(ip, 128);

    public static Cidr Of(PackedIp ip, int prefixLength) => new(ip.Mask(prefixLength), prefixLength);

    public bool Contains(PackedIp ip) => !ip.IsNone && IsV4 == ip.IsV4 && ip.Mask(PrefixLength) == Network;

    /// <summary>Addresses in the block (capped at 2^63 for the large IPv6 ones).</summary>
    public double Size => Math.Pow(2, 128 - PrefixLength);

    public static Cidr Parse(string text) =>
        TryParse(text, out var cidr) ? cidr : throw new FormatException($"'{text}' is not a CIDR block");

    public static bool TryParse(string text, out Cidr cidr)
    {
        cidr = default;
        int slash = text.IndexOf('/');
        if (slash <= 0) return false;
        var address = text.AsSpan(0, slash);
        PackedIp ip = default;
        bool v4;
        if (address.SequenceEqual("::")) v4 = false;
        else if (PackedIp.TryParse(address, out ip)) v4 = ip.IsV4;
        else return false;
        if (!int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int length)) return false;
        if (v4 ? length > 32 : length > 128) return false;
        // 0.0.0.0/0 must stay an IPv4 block: keep the mapped prefix.
        if (v4) length += 96;
        cidr = new Cidr(ip.Mask(length), length);
        return true;
    }

    public override string ToString()
    {
        if (IsV4) return string.Create(CultureInfo.InvariantCulture, $"{Network}/{PrefixLength - 96}");
        return string.Create(CultureInfo.InvariantCulture, $"{(Network.IsNone ? "::" : Network.ToString())}/{PrefixLength}");
    }

    public int CompareTo(Cidr other)
    {
        int c = Network.CompareTo(other.Network);
        return c != 0 ? c : PrefixLength.CompareTo(other.PrefixLength);
    }
}
