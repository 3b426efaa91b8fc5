using FlowPolicy.ClickHouse;

namespace FlowPolicy.Tests.ClickHouse;

public sealed class ClickHouseServerVersionTests
{
    [Fact]
    public void Version_18_16_has_none_of_the_newer_features()
    {
        var v = ClickHouseServerVersion.Parse("18.16.1\n");
        Assert.Equal((18, 16, 1), (v.Major, v.Minor, v.Patch));
        Assert.False(v.SupportsTtl || v.SupportsLowCardinality || v.SupportsInsertDeduplicationToken || v.SupportsNonReplicatedDeduplication);
        Assert.True(v.LowCardinalityNeedsExperimentalSetting);
    }

    [Fact]
    public void Version_24_has_all_gated_features()
    {
        var v = ClickHouseServerVersion.Parse("24.3.2.23");
        Assert.True(v.SupportsTtl && v.SupportsLowCardinality && v.SupportsInsertDeduplicationToken && v.SupportsNonReplicatedDeduplication);
        Assert.False(v.LowCardinalityNeedsExperimentalSetting);
    }

    [Theory]
    [InlineData("19.5.1", false)]
    [InlineData("19.6.2", true)]
    public void TTL_starts_at_19_6(string version, bool expected) =>
        Assert.Equal(expected, ClickHouseServerVersion.Parse(version).SupportsTtl);

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    public void Unparseable_versions_throw(string text) =>
        Assert.Throws<FormatException>(() => ClickHouseServerVersion.Parse(text));
}
