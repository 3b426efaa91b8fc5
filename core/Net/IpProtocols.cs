namespace FlowPolicy.Core.Net;

/// <summary>IANA protocol numbers and their names as policy formats spell them.</summary>
public static class IpProtocols
{
    public const byte Icmp = 1;
    public const byte Tcp = 6;
    public const byte Udp = 17;
    public const byte IcmpV6 = 58;
    public const byte Sctp = 132;

    public static string Name(byte protocol) => protocol switch
    {
        Icmp => "ICMP",
        Tcp => "TCP",
        Udp => "UDP",
        IcmpV6 => "ICMPv6",
        Sctp => "SCTP",
        2 => "IGMP",
        47 => "GRE",
        50 => "ESP",
        51 => "AH",
        _ => protocol.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>Parses a protocol name (any case) or number.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out byte protocol)
    {
        if (byte.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out protocol))
            return true;
        protocol = text.ToString().ToUpperInvariant() switch
        {
            "TCP" => Tcp,
            "UDP" => Udp,
            "ICMP" => Icmp,
            "ICMPV6" or "ICMP6" or "IPV6-ICMP" => IcmpV6,
            "SCTP" => Sctp,
            "IGMP" => 2,
            "GRE" => 47,
            "ESP" => 50,
            "AH" => 51,
            _ => 0,
        };
        return protocol != 0;
    }

    /// <summary>Protocols whose flows have ports; for the others port fields are meaningless.</summary>
    public static bool HasPorts(byte protocol) => protocol is Tcp or Udp or Sctp;
}
