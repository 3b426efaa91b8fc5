using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace FlowPolicy.Core.Net;

/// <summary>
/// An IPv4 or IPv6 address packed into 16 bytes, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d).
/// The same bytes ClickHouse stores in a FixedString(16) column, so the insert path copies it as is.
/// A value type so a flow record carries two addresses without allocating.
/// </summary>
public readonly struct PackedIp : IEquatable<PackedIp>, IComparable<PackedIp>
{
    // Network byte order, split in two big-endian halves so comparisons sort like the addresses.
    private readonly ulong _high;
    private readonly ulong _low;

    private const ulong V4MappedPrefix = 0x0000_FFFF_0000_0000UL;

    public PackedIp(ulong high, ulong low)
    {
        _high = high;
        _low = low;
    }

    public static PackedIp None => default;

    public ulong High => _high;
    public ulong Low => _low;

    public bool IsNone => _high == 0 && _low == 0;
    public bool IsV4 => _high == 0 && (_low & 0xFFFF_FFFF_0000_0000UL) == V4MappedPrefix;

    /// <summary>The IPv4 address as a host-order integer (only meaningful when <see cref="IsV4"/>).</summary>
    public uint V4 => (uint)_low;

    public static PackedIp FromV4(uint hostOrder) => new(0, V4MappedPrefix | hostOrder);

    public static PackedIp FromV4(byte a, byte b, byte c, byte d) =>
        FromV4(((uint)a << 24) | ((uint)b << 16) | ((uint)c << 8) | d);

    public static PackedIp FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length == 4) return FromV4(BinaryPrimitives.ReadUInt32BigEndian(bytes));
        if (bytes.Length != 16) throw new ArgumentException("An IP address has 4 or 16 bytes.", nameof(bytes));
        return new PackedIp(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]));
    }

    public static PackedIp FromIPAddress(IPAddress address)
    {
        Span<byte> buffer = stackalloc byte[16];
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            address.TryWriteBytes(buffer, out _);
            return FromBytes(buffer[..4]);
        }
        address.TryWriteBytes(buffer, out _);
        return FromBytes(buffer);
    }

    /// <summary>Writes the 16 bytes in network order (the FixedString(16) layout).</summary>
    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _high);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _low);
    }

    public IPAddress ToIPAddress()
    {
        Span<byte> buffer = stackalloc byte[16];
        WriteTo(buffer);
        return IsV4 ? new IPAddress(buffer[12..]) : new IPAddress(buffer);
    }

    /// <summary>Parses dotted IPv4 or any IPv6 text from UTF-8 without allocating for IPv4.</summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8, out PackedIp ip)
    {
        if (TryParseV4(utf8, out uint v4))
        {
            ip = FromV4(v4);
            return true;
        }
        if (utf8.Length is >= 2 and < 64 && utf8.IndexOf((byte)':') >= 0 && IPAddress.TryParse(utf8, out var parsed))
        {
            ip = FromIPAddress(parsed);
            return true;
        }
        ip = default;
        return false;
    }

    public static bool TryParse(ReadOnlySpan<char> text, out PackedIp ip)
    {
        if (text.Length < 64)
        {
            Span<byte> utf8 = stackalloc byte[text.Length];
            for (int i = 0; i < text.Length; i++)
            {
                char c = text[i];
                if (c > 127) { ip = default; return false; }
                utf8[i] = (byte)c;
            }
            return TryParse(utf8, out ip);
        }
        ip = default;
        return false;
    }

    public static PackedIp Parse(string text) =>
        TryParse(text.AsSpan(), out var ip) ? ip : throw new FormatException($"'{text}' is not an IP address.");

    /// <summary>
    /// The address with every bit past <paramref name="prefixLength"/> cleared (IPv4 /n is /96+n here). Raw bit
    /// arithmetic, blind to the family: prefixes (and their family rules) are <see cref="IpPrefix"/>.
    /// </summary>
    public PackedIp Mask(int prefixLength)
    {
        if (prefixLength >= 128) return this;
        if (prefixLength <= 0) return default;
        if (prefixLength <= 64)
            return new PackedIp(prefixLength == 64 ? _high : _high & ~(ulong.MaxValue >> prefixLength), 0);
        return new PackedIp(_high, _low & ~(ulong.MaxValue >> (prefixLength - 64)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryParseV4(ReadOnlySpan<byte> s, out uint value)
    {
        value = 0;
        if (s.Length is < 7 or > 15) return false;
        uint result = 0;
        int octets = 0, i = 0;
        while (true)
        {
            int start = i;
            uint octet = 0;
            while (i < s.Length && (uint)(s[i] - '0') <= 9)
            {
                octet = octet * 10 + (uint)(s[i] - '0');
                i++;
            }
            int digits = i - start;
            if (digits == 0 || digits > 3 || octet > 255) return false;
            result = (result << 8) | octet;
            octets++;
            if (octets == 4) break;
            if (i >= s.Length || s[i] != '.') return false;
            i++;
        }
        if (i != s.Length) return false;
        value = result;
        return true;
    }

    /// <summary>
    /// Addresses that are not routed on the internet: RFC 1918, CGNAT, loopback, link-local, ULA.
    /// Unknown addresses in these ranges stay as IPs; the rest are "external".
    /// </summary>
    public bool IsPrivate
    {
        get
        {
            if (IsV4)
            {
                uint a = V4;
                return (a >> 24) == 10
                    || (a >> 20) == ((172u << 4) | 1) // 172.16.0.0/12
                    || (a >> 16) == ((192u << 8) | 168)
                    || (a >> 22) == ((100u << 2) | 1) // 100.64.0.0/10
                    || (a >> 24) == 127
                    || (a >> 16) == ((169u << 8) | 254)
                    || a == 0;
            }
            ushort first = (ushort)(_high >> 48);
            return (first & 0xFE00) == 0xFC00 // fc00::/7
                || (first & 0xFFC0) == 0xFE80 // fe80::/10
                || (_high == 0 && _low == 1); // ::1
        }
    }

    public bool Equals(PackedIp other) => _high == other._high && _low == other._low;
    public override bool Equals(object? obj) => obj is PackedIp other && Equals(other);
    public override int GetHashCode() => HashCode.Combine(_high, _low);
    public int CompareTo(PackedIp other) => _high != other._high ? _high.CompareTo(other._high) : _low.CompareTo(other._low);
    public static bool operator ==(PackedIp left, PackedIp right) => left.Equals(right);
    public static bool operator !=(PackedIp left, PackedIp right) => !left.Equals(right);

    public override string ToString()
    {
        if (IsNone) return "";
        if (IsV4)
        {
            uint a = V4;
            return $"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}";
        }
        return ToIPAddress().ToString();
    }
}
