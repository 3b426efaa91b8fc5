using System.Diagnostics;
using FlowPolicy.ClickHouse;
using FlowPolicy.IntegrationTests.Infrastructure;
using FlowPolicy.LocalServers.ClickHouse;
using Xunit.Abstractions;

namespace FlowPolicy.IntegrationTests.ClickHouse;

public sealed class ClickHouseHttpClientTests(ClickHouseServerFixture server, ITestOutputHelper output) : ClickHouseTest(server)
{
    [Fact]
    public void Local_server_started_quickly_on_private_ports()
    {
        output.WriteLine($"ClickHouse {Server.Version} started in {Server.Server.StartupTime.TotalMilliseconds:F0} ms on HTTP {Server.Server.HttpPort}, TCP {Server.Server.TcpPort}, data in {Server.Server.DataDirectory}");
        Assert.NotEqual(8123, Server.Server.HttpPort);
        Assert.NotEqual(9000, Server.Server.TcpPort);
        Assert.True(Server.Server.StartupTime < TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_second_server_starts_on_other_ports_and_its_directory_is_deleted_on_dispose()
    {
        var clock = Stopwatch.StartNew();
        string directory;
        await using (var second = await LocalClickHouseServer.StartAsync())
        {
            output.WriteLine($"second server ready in {second.StartupTime.TotalMilliseconds:F0} ms (incl. launch {clock.ElapsedMilliseconds} ms)");
            directory = second.DataDirectory;
            Assert.NotEqual(Server.Server.HttpPort, second.HttpPort);
            using var client = new ClickHouseHttpClient(second.ClientOptions());
            Assert.Equal("1", await client.QueryScalarAsync("SELECT 1"));
        }
        Assert.False(Directory.Exists(directory));
    }

    [Fact]
    public async Task Server_errors_carry_code_and_message_without_decoration()
    {
        var error = await Assert.ThrowsAsync<ClickHouseServerException>(() => Db.QueryTsvAsync("SELECT * FROM no_such_table"));
        Assert.Equal(ClickHouseServerException.UnknownTable, error.Code);
        Assert.Contains("no_such_table", error.ServerMessage);
        Assert.DoesNotContain("Code:", error.ServerMessage);
        Assert.DoesNotContain("e.what()", error.ServerMessage);
        Assert.Contains("no_such_table", error.Message);
    }

    [Fact]
    public async Task Statements_run_in_the_configured_database()
    {
        Assert.Equal(Db.Database, await Db.QueryScalarAsync("SELECT currentDatabase()"));
    }

    [Fact]
    public async Task Password_user_authenticates_and_a_wrong_password_is_a_clear_error()
    {
        var options = Server.Server.ClientOptions(Db.Database);
        options.User = ClickHouseServerFixture.PasswordUser;
        options.Password = Server.Password;
        using (var good = new ClickHouseHttpClient(options))
            Assert.Equal("1", await good.QueryScalarAsync("SELECT 1"));

        options.Password = "wrong";
        using var bad = new ClickHouseHttpClient(options);
        var error = await Assert.ThrowsAsync<ClickHouseServerException>(() => bad.QueryScalarAsync("SELECT 1"));
        Assert.Contains(error.Code, new[] { ClickHouseServerException.WrongPassword, ClickHouseServerException.AuthenticationFailed });
        Assert.DoesNotContain(Server.Password, error.Message);
        Assert.DoesNotContain(Server.Password, options.ToString());
    }

    [Fact]
    public async Task Password_from_a_secret_file_and_environment_is_used()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, Server.Password + "\n");
            var options = Server.Server.ClientOptions(Db.Database);
            options.User = ClickHouseServerFixture.PasswordUser;
            options.Password = null;
            options.PasswordFile = file;
            using var client = new ClickHouseHttpClient(options);
            Assert.Equal("1", await client.QueryScalarAsync("SELECT 1"));
            Assert.DoesNotContain(Server.Password, options.ToString());
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Non_ASCII_credentials_authenticate_through_basic_auth()
    {
        const string password = "pässwörd-日本-\u00e9";
        await using var local = await LocalClickHouseServer.StartAsync(new LocalClickHouseServerOptions { User = "ünicode", Password = password });
        var options = local.ClientOptions();
        options.User = "ünicode";
        options.Password = password;
        using (var client = new ClickHouseHttpClient(options))
            Assert.Equal("1", await client.QueryScalarAsync("SELECT 1"));
        options.Password = "pässwörd";
        using var wrong = new ClickHouseHttpClient(options);
        await Assert.ThrowsAsync<ClickHouseServerException>(() => wrong.QueryScalarAsync("SELECT 1"));
    }

    [Fact]
    public async Task A_slow_query_times_out_with_TimeoutException()
    {
        var options = Server.Server.ClientOptions(Db.Database);
        options.Timeout = TimeSpan.FromMilliseconds(300);
        using var client = new ClickHouseHttpClient(options);
        await Assert.ThrowsAsync<TimeoutException>(() => client.QueryScalarAsync("SELECT sleep(2)"));
    }

    [Fact]
    public async Task Cancellation_stops_a_query_with_OperationCanceledException()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Db.QueryScalarAsync("SELECT sleep(2)", cancel.Token));
    }

    [Fact]
    public async Task JSONEachRow_reads_rows_as_objects()
    {
        var rows = await Db.QueryJsonEachRowAsync("SELECT number AS n, toString(number) AS s FROM system.numbers LIMIT 3");
        Assert.Equal(3, rows.Count);
        Assert.Equal("2", rows[2].GetProperty("s").GetString());
    }

    [Fact]
    public async Task TSV_reads_unescape_special_characters()
    {
        var value = "tab\there\nnewline back\\slash quote' nul\0";
        var rows = await Db.QueryTsvAsync("SELECT " + ClickHouseSql.QuoteString(value) + ", 2");
        Assert.Equal([value, "2"], rows[0]);
    }

    [Fact]
    public async Task Insert_into_a_missing_column_fails_with_the_server_message()
    {
        await Db.ExecuteAsync("CREATE TABLE t (a UInt8) ENGINE = MergeTree ORDER BY a");
        using var rows = new global::FlowPolicy.ClickHouse.RowBinary.RowBinaryWriter();
        rows.WriteUInt8(1);
        rows.EndRow();
        var error = await Assert.ThrowsAsync<ClickHouseServerException>(() => Db.InsertRowBinaryAsync("t", ["b"], rows));
        Assert.True(error.Code > 0);
        output.WriteLine(error.Message);
    }
}
