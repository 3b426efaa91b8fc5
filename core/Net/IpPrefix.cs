using System.Globalization;
using System.Net;

namespace FlowPolicy.Core.Net;

/// <summary>
/// An IPv4 or IPv6 prefix (CIDR block): the one address-block type of the product (policy ipBlocks in check, analyze
/// and SLIs; suggested network rules; inventory CIDR leases). Kept on the <see cref="PackedIp"/> layout, IPv4 as the
/// IPv4-mapped block (an IPv4 /n is ::ffff:a.b.c.d/96+n here), with its family held explicitly:
/// <list type="bullet">
/// <item>A prefix contains only addresses of its own family: <c>::/0</c> contains no IPv4 address and
/// <c>0.0.0.0/0</c> no IPv6 one, as Kubernetes, Cilium and Calico match IPv4 packets with IPv4 CIDRs only.</item>
/// <item>The family comes from the notation. <c>::ffff:0:0/96</c> (or any IPv6 prefix inside it) is an IPv6 prefix
/// over IPv4-mapped addresses; such addresses never appear on the wire (the kernel sends IPv4), and a
/// <see cref="PackedIp"/> in that range is an IPv4 address, so it contains nothing we observe. It is never read as
/// <c>0.0.0.0/0</c>.</item>
/// <item><see cref="PackedIp.None"/> (no address) is in no prefix.</item>
/// </list>
/// </summary>
public readonly struct IpPrefix : IEquatable<IpPrefix>, IComparable<IpPrefix>
{
    private readonly PackedIp _network;
    private readonly byte _length;
    private readonly bool _v4;

    private IpPrefix(PackedIp network, int length, bool v4)
    {
        _network = network;
        _length = (byte)length;
        _v4 = v4;
    }

    /// <summary>Private, loopback, link-local and carrier-grade NAT ranges: never part of "any internet client".</summary>
    public static readonly IReadOnlyList<IpPrefix> NonInternetV4 =
        [Parse("10.0.0.0/8"), Parse("100.64.0.0/10"), Parse("127.0.0.0/8"), Parse("169.254.0.0/16"), Parse("172.16.0.0/12"), Parse("192.168.0.0/16")];
    public static readonly IReadOnlyList<IpPrefix> NonInternetV6 = [Parse("fc00::/7"), Parse("fe80::/10"), Parse("::1/128")];
    public static readonly IpPrefix AllV4 = Parse("0.0.0.0/0");
    public static readonly IpPrefix AllV6 = Parse("::/0");

    /// <summary>The first address, host bits cleared (on the packed layout: IPv4 mapped).</summary>
    public PackedIp Network => _network;
    /// <summary>Prefix length on the packed layout: 96 + n for an IPv4 /n, n for an IPv6 /n.</summary>
    public int PrefixLength => _length;
    public bool IsV4 => _v4;
    /// <summary>Prefix length in the family's notation (0-32 for IPv4, 0-128 for IPv6).</summary>
    public int FamilyPrefixLength => _v4 ? _length - 96 : _length;
    /// <summary>Addresses in the block, as a double (2^128 for ::/0).</summary>
    public double Size => Math.Pow(2, 128 - _length);

    /// <summary>
    /// The block of <paramref name="ip"/>'s family holding it, <paramref name="prefixLength"/> on the packed layout
    /// (an IPv4 /24 is 120). An IPv4 address with a length below 96 gives an IPv6 block (the packed layout's own
    /// arithmetic; callers generalising IPv4 stay at 96 or more).
    /// </summary>
    public static IpPrefix Of(PackedIp ip, int prefixLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(prefixLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixLength, 128);
        return new(ip.Mask(prefixLength), prefixLength, ip.IsV4 && prefixLength >= 96);
    }

    /// <summary>The single address as a /32 (IPv4) or /128 (IPv6).</summary>
    public static IpPrefix Host(PackedIp ip) => Of(ip, 128);

    /// <summary>
    /// The smallest block of their family holding both addresses, or null when they are of different families.
    /// IPv4 blocks stop at /0 (0.0.0.0/0), never spilling into the IPv6 layout.
    /// </summary>
    public static IpPrefix? Covering(PackedIp a, PackedIp b)
    {
        if (a.IsV4 != b.IsV4) return null;
        int floor = a.IsV4 ? 96 : 0;
        int length = 128;
        while (length > floor && a.Mask(length) != b.Mask(length)) length--;
        return Of(a, length);
    }

    /// <summary>True when <paramref name="ip"/> is an address of this prefix's family inside it.</summary>
    public bool Contains(PackedIp ip) => !ip.IsNone && ip.IsV4 == _v4 && ip.Mask(_length) == _network;

    /// <summary>True when <paramref name="other"/> (same family) lies wholly inside this prefix.</summary>
    public bool Contains(IpPrefix other) => other._v4 == _v4 && other._length >= _length && other._network.Mask(_length) == _network;

    public static IpPrefix Parse(string text) =>
        TryParse(text, out var prefix) ? prefix : throw new FormatException($"'{text}' is not a CIDR block");

    public static bool TryParse(string? text, out IpPrefix prefix) => TryParse(text.AsSpan(), out prefix);

    /// <summary>
    /// "a.b.c.d/n" (n 0-32) or "v6/n" (n 0-128). Host bits are cleared, a lenient reading of "10.1.2.3/24" (Kubernetes
    /// normalises it the same way). The family is the notation's: any text with ':' is IPv6.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, out IpPrefix prefix)
    {
        prefix = default;
        int slash = text.IndexOf('/');
        if (slash <= 0) return false;
        var address = text[..slash];
        bool v6 = address.Contains(':');
        PackedIp ip = default; // "::" (the IPv6 default route) is shorter than PackedIp.TryParse accepts
        if (!address.SequenceEqual("::") && !PackedIp.TryParse(address, out ip)) return false;
        var digits = text[(slash + 1)..];
        if (digits.Length is 0 or > 3 || !int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int length)) return false;
        if (v6 ? length > 128 : length > 32) return false;
        int packed = v6 ? length : length + 96;
        prefix = new IpPrefix(ip.Mask(packed), packed, !v6);
        return true;
    }

    /// <summary>The family's own notation: "10.0.0.0/8", "2001:db8::/32", "::/0", "::ffff:0:0/96".</summary>
    public override string ToString()
    {
        if (_v4) return string.Create(CultureInfo.InvariantCulture, $"{_network}/{_length - 96}");
        if (_network.IsNone) return string.Create(CultureInfo.InvariantCulture, $"::/{_length}");
        Span<byte> bytes = stackalloc byte[16];
        _network.WriteTo(bytes);
        return string.Create(CultureInfo.InvariantCulture, $"{new IPAddress(bytes)}/{_length}");
    }

    public bool Equals(IpPrefix other) => _network == other._network && _length == other._length && _v4 == other._v4;
    public override bool Equals(object? obj) => obj is IpPrefix other && Equals(other);
    public override int GetHashCode() => HashCode.Combine(_network, _length, _v4);
    public static bool operator ==(IpPrefix left, IpPrefix right) => left.Equals(right);
    public static bool operator !=(IpPrefix left, IpPrefix right) => !left.Equals(right);

    /// <summary>By first address, then length (IPv4 blocks sort inside ::ffff:0:0/96, as their addresses do).</summary>
    public int CompareTo(IpPrefix other)
    {
        int c = _network.CompareTo(other._network);
        if (c != 0) return c;
        c = _length.CompareTo(other._length);
        return c != 0 ? c : _v4.CompareTo(other._v4);
    }
}
