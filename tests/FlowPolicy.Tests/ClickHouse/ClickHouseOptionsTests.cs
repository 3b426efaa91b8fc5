using FlowPolicy.ClickHouse;

namespace FlowPolicy.Tests.ClickHouse;

public sealed class ClickHouseOptionsTests
{
    [Fact]
    public void ToString_never_shows_the_password()
    {
        var options = new ClickHouseOptions { Url = new Uri("https://ch.example.com:8443/"), User = "ingest", Password = "hunter2" };
        var text = options.ToString();
        Assert.DoesNotContain("hunter2", text);
        Assert.Contains("https://ch.example.com:8443/", text);
        Assert.Contains("password=<redacted>", text);
    }

    [Fact]
    public void Credentials_in_the_URL_are_refused_without_echoing_them()
    {
        var options = new ClickHouseOptions { Url = new Uri("http://u:secret@host:8123/") };
        var error = Assert.Throws<ArgumentException>(options.Validate);
        Assert.DoesNotContain("secret", error.Message);
    }

    [Theory]
    [InlineData("ftp://host/")]
    [InlineData("file:///tmp/x")]
    public void Only_http_and_https_URLs_are_accepted(string url) =>
        Assert.Throws<ArgumentException>(new ClickHouseOptions { Url = new Uri(url) }.Validate);

    [Fact]
    public void A_password_file_loses_one_trailing_newline_only()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, " pa ss\n\n");
            Assert.Equal(" pa ss\n", new ClickHouseOptions { PasswordFile = file }.ResolvePassword());
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void An_explicit_password_wins_over_the_file() =>
        Assert.Equal("x", new ClickHouseOptions { Password = "x", PasswordFile = "/nonexistent" }.ResolvePassword());
}
