using System.Text;
using FlowPolicy.Ingest.Formats.Internal;

namespace FlowPolicy.Tests.Formats;

/// <summary>The RFC 3339 fast path must give exactly what the general (DateTimeOffset) parser gives, or defer to it.</summary>
public sealed class FlowTimestampsTests
{
    [Theory]
    [InlineData("2026-11-01T10:00:00Z")]
    [InlineData("2026-11-01T10:00:00.25Z")]
    [InlineData("2026-11-01T10:11:12.123456789Z")]
    [InlineData("2026-11-01T10:11:12.1234567Z")]
    [InlineData("2026-11-01T10:00:09+02:00")]
    [InlineData("2026-11-01T01:00:09.5-05:30")]
    [InlineData("2024-02-29T23:59:59.9999999+14:00")]
    [InlineData("0001-01-01T00:00:00Z")]
    [InlineData("9999-12-31T23:59:59.9999999Z")]
    [InlineData("2026-11-01 10:00:00Z")]
    [InlineData("2026-11-01T10:00:00")]
    [InlineData("2026-11-01t10:00:00z")]
    public void Fast_path_agrees_with_the_general_parser_on_valid_text(string text)
    {
        var utf8 = Encoding.UTF8.GetBytes(text);
        bool general = FlowTimestamps.TryParseGeneral(utf8, out var expected);
        Assert.True(general, "test input must be valid for the general parser");
        Assert.True(FlowTimestamps.TryParseRfc3339(utf8, out var actual));
        Assert.Equal(expected, actual);
        Assert.Equal(DateTimeKind.Utc, actual.Kind);
    }

    [Theory]
    [InlineData("2026-02-29T10:00:00Z")]
    [InlineData("2026-13-01T10:00:00Z")]
    [InlineData("2026-11-01T24:00:00Z")]
    [InlineData("2026-11-01T10:60:00Z")]
    [InlineData("2026-11-01T10:00:00.Z")]
    [InlineData("2026-11-01T10:00:00+14:30")]
    [InlineData("2026-11-01T10:00:00+02:00x")]
    [InlineData("0001-01-01T00:00:00+01:00")]
    [InlineData("2026-1x-01T10:00:00Z")]
    [InlineData("yesterday at noon, roughly")]
    public void Text_the_general_parser_rejects_is_rejected(string text)
    {
        var utf8 = Encoding.UTF8.GetBytes(text);
        Assert.False(FlowTimestamps.TryParseGeneral(utf8, out _));
        Assert.False(FlowTimestamps.TryParseRfc3339(utf8, out _));
    }
}
