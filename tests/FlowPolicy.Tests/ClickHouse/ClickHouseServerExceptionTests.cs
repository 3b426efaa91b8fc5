using System.Net;
using FlowPolicy.ClickHouse;

namespace FlowPolicy.Tests.ClickHouse;

public sealed class ClickHouseServerExceptionTests
{
    [Fact]
    public void The_18_16_error_format_yields_code_and_bare_message()
    {
        var e = ClickHouseServerException.FromResponse(HttpStatusCode.NotFound,
            "Code: 60, e.displayText() = DB::Exception: Table default.nope doesn't exist., e.what() = DB::Exception\n", null, "SELECT 1");
        Assert.Equal(60, e.Code);
        Assert.Equal("Table default.nope doesn't exist.", e.ServerMessage);
        Assert.Null(e.ErrorName);
        Assert.StartsWith("ClickHouse error 60: Table default.nope", e.Message);
    }

    [Fact]
    public void The_20_x_format_with_version_suffix_is_understood()
    {
        var e = ClickHouseServerException.FromResponse(HttpStatusCode.InternalServerError,
            "Code: 62, e.displayText() = DB::Exception: Syntax error: failed at position 1 (version 20.8.3.18)", null, null);
        Assert.Equal(62, e.Code);
        Assert.Equal("Syntax error: failed at position 1", e.ServerMessage);
    }

    [Fact]
    public void The_current_format_yields_code_name_and_message()
    {
        var e = ClickHouseServerException.FromResponse(HttpStatusCode.NotFound,
            "Code: 60. DB::Exception: Table default.nope does not exist. (UNKNOWN_TABLE) (version 24.3.2.23 (official build))\n", "60", null);
        Assert.Equal(60, e.Code);
        Assert.Equal("UNKNOWN_TABLE", e.ErrorName);
        Assert.Equal("Table default.nope does not exist.", e.ServerMessage);
    }

    [Fact]
    public void The_exception_code_header_wins_and_non_ClickHouse_bodies_still_make_an_error()
    {
        var e = ClickHouseServerException.FromResponse(HttpStatusCode.BadGateway, "<html>bad gateway</html>", null, null);
        Assert.Equal(-1, e.Code);
        Assert.Equal("<html>bad gateway</html>", e.ServerMessage);
        var withHeader = ClickHouseServerException.FromResponse(HttpStatusCode.Unauthorized, "Authentication failed", "516", null);
        Assert.Equal(516, withHeader.Code);
    }
}
