using FlowPolicy.Core.Net;

namespace FlowPolicy.Tests.Net;

public sealed class PackedIpTests
{
    [Theory]
    [InlineData("10.244.1.7")]
    [InlineData("0.0.0.0")]
    [InlineData("255.255.255.255")]
    [InlineData("2001:db8::1")]
    [InlineData("fe80::1ff:fe23:4567:890a")]
    public void Text_round_trips(string text)
    {
        Assert.True(PackedIp.TryParse(text.AsSpan(), out var ip));
        Assert.Equal(text, ip.ToString());
        Assert.Equal(System.Net.IPAddress.Parse(text), ip.ToIPAddress());
    }

    [Theory]
    [InlineData("")]
    [InlineData("10.0.0")]
    [InlineData("10.0.0.256")]
    [InlineData("10.0.0.1.")]
    [InlineData("1.2.3.04444")]
    [InlineData("abc")]
    [InlineData("10.0.0.1 ")]
    public void Bad_text_is_rejected(string text) => Assert.False(PackedIp.TryParse(text.AsSpan(), out _));

    [Fact]
    public void V4_is_stored_as_v4_mapped_v6_bytes()
    {
        var ip = PackedIp.Parse("192.168.1.2");
        Span<byte> bytes = stackalloc byte[16];
        ip.WriteTo(bytes);
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 2 }, bytes.ToArray());
        Assert.True(ip.IsV4);
        Assert.Equal(ip, PackedIp.FromBytes(bytes));
    }

    [Theory]
    [InlineData("10.1.2.3", true)]
    [InlineData("172.16.0.1", true)]
    [InlineData("172.31.255.255", true)]
    [InlineData("172.32.0.1", false)]
    [InlineData("192.168.0.1", true)]
    [InlineData("100.64.0.1", true)]
    [InlineData("8.8.8.8", false)]
    [InlineData("fd00::1", true)]
    [InlineData("2600::1", false)]
    public void Private_ranges_are_recognised(string text, bool isPrivate) =>
        Assert.Equal(isPrivate, PackedIp.Parse(text).IsPrivate);
}
