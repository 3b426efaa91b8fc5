using FlowPolicy.Core.Net;

namespace FlowPolicy.Ingest.Enrichment.Internal;

/// <summary>CIDR arithmetic on <see cref="PackedIp"/> (IPv4 lives at ::ffff:0:0/96, so an IPv4 /n is /96+n).</summary>
internal static class IpPrefix
{
    public static PackedIp Mask(PackedIp ip, int prefixLength)
    {
        if (prefixLength >= 128) return ip;
        if (prefixLength <= 0) return default;
        if (prefixLength <= 64)
            return new PackedIp(prefixLength == 64 ? ip.High : ip.High & ~(ulong.MaxValue >> prefixLength), 0);
        return new PackedIp(ip.High, ip.Low & ~(ulong.MaxValue >> (prefixLength - 64)));
    }

    /// <summary>Parses "a.b.c.d/n" or "v6/n"; host bits are cleared (a lenient reading of "10.1.2.3/24").</summary>
    public static bool TryParseCidr(string text, out PackedIp network, out int prefixLength)
    {
        network = default;
        prefixLength = 0;
        int slash = text.IndexOf('/');
        if (slash <= 0) return false;
        PackedIp ip = default; // "::" (the IPv6 default route) is shorter than PackedIp.TryParse accepts
        if (!text.AsSpan(0, slash).SequenceEqual("::") && !PackedIp.TryParse(text.AsSpan(0, slash), out ip)) return false;
        if (!int.TryParse(text.AsSpan(slash + 1), System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out int length))
            return false;
        if (ip.IsV4)
        {
            if (length > 32) return false;
            length += 96;
        }
        else if (length > 128) return false;
        prefixLength = length;
        network = Mask(ip, length);
        return true;
    }
}
