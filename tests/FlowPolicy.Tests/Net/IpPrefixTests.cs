using System.Net;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Tests.Net;

public sealed class IpPrefixTests
{
    [Theory]
    [InlineData("10.0.0.0/8", "10.0.0.0/8", true, 8)]
    [InlineData("10.1.2.3/24", "10.1.2.0/24", true, 24)]
    [InlineData("0.0.0.0/0", "0.0.0.0/0", true, 0)]
    [InlineData("203.0.113.7/32", "203.0.113.7/32", true, 32)]
    [InlineData("::/0", "::/0", false, 0)]
    [InlineData("2001:db8::1/32", "2001:db8::/32", false, 32)]
    [InlineData("::1/128", "::1/128", false, 128)]
    [InlineData("fe80::/10", "fe80::/10", false, 10)]
    [InlineData("::ffff:0:0/96", "::ffff:0:0/96", false, 96)]
    [InlineData("::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104", false, 104)]
    public void Parses_in_the_family_of_its_notation_and_formats_back(string text, string formatted, bool v4, int familyLength)
    {
        var prefix = IpPrefix.Parse(text);
        Assert.Equal(formatted, prefix.ToString());
        Assert.Equal(v4, prefix.IsV4);
        Assert.Equal(familyLength, prefix.FamilyPrefixLength);
        Assert.Equal(prefix, IpPrefix.Parse(formatted));
    }

    [Theory]
    [InlineData("10.0.0.0")]
    [InlineData("10.0.0.0/33")]
    [InlineData("::/129")]
    [InlineData("10.0.0.0/-1")]
    [InlineData("10.0.0.0/ 8")]
    [InlineData("10.0.0.0/0008")]
    [InlineData("/8")]
    [InlineData("example.com/8")]
    [InlineData("10.0.0/8")]
    [InlineData("")]
    public void Rejects_what_is_not_a_prefix(string text) => Assert.False(IpPrefix.TryParse(text, out _));

    [Fact]
    public void A_prefix_contains_only_addresses_of_its_own_family()
    {
        Assert.False(IpPrefix.AllV6.Contains(PackedIp.Parse("10.0.0.1")));
        Assert.False(IpPrefix.AllV6.Contains(PackedIp.Parse("203.0.113.9")));
        Assert.True(IpPrefix.AllV6.Contains(PackedIp.Parse("2001:db8::1")));
        Assert.False(IpPrefix.AllV4.Contains(PackedIp.Parse("2001:db8::1")));
        Assert.True(IpPrefix.AllV4.Contains(PackedIp.Parse("203.0.113.9")));
        Assert.False(IpPrefix.Parse("::/1").Contains(PackedIp.Parse("10.0.0.1")));
        // IPv4-mapped addresses are IPv4: an IPv6 prefix over ::ffff:0:0/96 holds none of them.
        Assert.False(IpPrefix.Parse("::ffff:0:0/96").Contains(PackedIp.Parse("10.0.0.1")));
        Assert.False(IpPrefix.Parse("::ffff:0:0/96").Contains(PackedIp.Parse("::ffff:10.0.0.1")));
        Assert.NotEqual(IpPrefix.AllV4, IpPrefix.Parse("::ffff:0:0/96"));
        Assert.False(IpPrefix.AllV4.Contains(PackedIp.None));
        Assert.False(IpPrefix.AllV6.Contains(PackedIp.None));
    }

    [Fact]
    public void Prefix_containment_respects_the_family()
    {
        Assert.True(IpPrefix.Parse("10.0.0.0/8").Contains(IpPrefix.Parse("10.1.0.0/16")));
        Assert.False(IpPrefix.Parse("10.1.0.0/16").Contains(IpPrefix.Parse("10.0.0.0/8")));
        Assert.False(IpPrefix.AllV6.Contains(IpPrefix.Parse("10.0.0.0/8")));
        Assert.True(IpPrefix.AllV6.Contains(IpPrefix.Parse("fc00::/7")));
    }

    [Theory]
    [InlineData("10.0.1.5", "10.0.1.200", "10.0.1.0/24")]
    [InlineData("10.0.1.5", "10.0.1.5", "10.0.1.5/32")]
    [InlineData("0.0.0.0", "255.255.255.255", "0.0.0.0/0")]
    [InlineData("2001:db8::1", "2001:db8::ff", "2001:db8::/120")]
    [InlineData("::1", "8000::", "::/0")]
    public void Covering_is_the_smallest_block_of_the_family_holding_both(string a, string b, string expected)
    {
        var covering = IpPrefix.Covering(PackedIp.Parse(a), PackedIp.Parse(b));
        Assert.Equal(expected, covering?.ToString());
        Assert.True(covering!.Value.Contains(PackedIp.Parse(a)) && covering.Value.Contains(PackedIp.Parse(b)));
    }

    [Fact]
    public void Covering_addresses_of_two_families_is_no_block() =>
        Assert.Null(IpPrefix.Covering(PackedIp.Parse("10.0.0.1"), PackedIp.Parse("2001:db8::1")));

    [Fact]
    public void Containment_agrees_with_dotnets_IPNetwork_on_random_prefixes_and_addresses()
    {
        var random = new Random(16);
        int checkedCases = 0, inside = 0;
        for (int i = 0; i < 4000; i++)
        {
            var network = RandomAddress(random);
            var address = random.Next(3) == 0 ? RandomAddress(random) : Near(network, random);
            int length = network.IsV4 ? random.Next(0, 33) : random.Next(0, 129);
            var prefix = IpPrefix.Parse(network + "/" + length);
            var reference = new IPNetwork(prefix.Network.ToIPAddress(), length);
            bool expected = reference.Contains(address.ToIPAddress());
            Assert.True(expected == prefix.Contains(address), $"{prefix} contains {address}: IPNetwork says {expected}");
            Assert.Equal(reference.ToString(), prefix.ToString());
            checkedCases++;
            if (expected) inside++;
        }
        Assert.Equal(4000, checkedCases);
        Assert.InRange(inside, 400, 3600); // both outcomes exercised
    }

    private static PackedIp RandomAddress(Random random)
    {
        if (random.Next(2) == 0) return PackedIp.FromV4((uint)random.NextInt64(0, 1L << 32));
        var v6 = PackedIp.FromBytes(Enumerable.Range(0, 16).Select(_ => (byte)random.Next(256)).ToArray());
        return v6.IsV4 || v6.IsNone ? PackedIp.Parse("2001:db8::1") : v6;
    }

    // An address sharing a random number of leading bits with the network (and its family).
    private static PackedIp Near(PackedIp network, Random random)
    {
        var other = RandomAddress(random);
        if (other.IsV4 != network.IsV4) other = network.IsV4 ? PackedIp.FromV4((uint)random.NextInt64(0, 1L << 32)) : PackedIp.Parse("2001:db8::2");
        int keep = network.IsV4 ? 96 + random.Next(0, 33) : random.Next(0, 129);
        var kept = network.Mask(keep);
        var rest = new PackedIp(other.High & ~MaskHigh(keep), other.Low & ~MaskLow(keep));
        var result = new PackedIp(kept.High | rest.High, kept.Low | rest.Low);
        return result.IsNone ? network : result;
    }

    private static ulong MaskHigh(int length) => length >= 64 ? ulong.MaxValue : length == 0 ? 0 : ~(ulong.MaxValue >> length);
    private static ulong MaskLow(int length) => length <= 64 ? 0 : length >= 128 ? ulong.MaxValue : ~(ulong.MaxValue >> (length - 64));
}
