using FlowPolicy.ClickHouse;
using FlowPolicy.LocalServers.ClickHouse;

namespace FlowPolicy.IntegrationTests.Infrastructure;

/// <summary>
/// One private ClickHouse server for the whole "ClickHouse" test collection, started by
/// <see cref="LocalClickHouseServer"/> (not the system service) and deleted afterwards. Tests get a fresh
/// database each through <see cref="ClickHouseTest"/>.
/// </summary>
public sealed class ClickHouseServerFixture : IClickHouseTestServer, IAsyncLifetime
{
    /// <summary>A user with a password, to prove authentication and redaction against a real server.</summary>
    public const string PasswordUser = "flowpolicy_test";
    public string Password { get; } = "p'w\"d\\" + Guid.NewGuid().ToString("N")[..8];

    private LocalClickHouseServer? _server;
    private ClickHouseHttpClient? _root;

    public LocalClickHouseServer Server => _server ?? throw new InvalidOperationException("The ClickHouse server did not start.");
    public Uri Url => Server.Url;
    public ClickHouseHttpClient Root => _root ?? throw new InvalidOperationException("The ClickHouse server did not start.");
    public ClickHouseServerVersion Version { get; private set; } = ClickHouseServerVersion.Parse("0.0");
    public HttpClient Http { get; } = new();

    public ClickHouseHttpClient NewClient(string database, bool compressInserts)
    {
        var options = Server.ClientOptions(database);
        options.CompressInserts = compressInserts;
        return new ClickHouseHttpClient(options);
    }

    public async Task InitializeAsync()
    {
        if (LocalClickHouseServer.FindBinary() is null)
            throw new InvalidOperationException(
                $"These tests need a ClickHouse server binary (apt install clickhouse-server, or set {LocalClickHouseServer.BinaryVariable}).");
        _server = await LocalClickHouseServer.StartAsync(new LocalClickHouseServerOptions { User = PasswordUser, Password = Password });
        _root = new ClickHouseHttpClient(_server.ClientOptions());
        Version = await _root.GetServerVersionAsync();
        Console.WriteLine($"ClickHouse server for tests: {Version} (LocalClickHouseServer)");
    }

    public async Task DisposeAsync()
    {
        _root?.Dispose();
        Http.Dispose();
        if (_server is not null) await _server.DisposeAsync();
    }

    /// <summary>A fresh database named test_&lt;guid&gt;; the caller drops it (see <see cref="ClickHouseTest"/>).</summary>
    public async Task<ClickHouseHttpClient> CreateDatabaseAsync()
    {
        var client = Root.ForDatabase("test_" + Guid.NewGuid().ToString("N"));
        await client.EnsureDatabaseAsync();
        return client;
    }
}

[CollectionDefinition(Name)]
public sealed class ClickHouseCollection : ICollectionFixture<ClickHouseServerFixture>
{
    public const string Name = "ClickHouse";
}

/// <summary>
/// Tests that read process-wide state run alone, after the parallel collections, on a 18.16 server of their own:
/// serve's /metrics scrape sees every Meter of the process by name, so another collection's ingest worker running
/// meanwhile (the chDB tier's, the Kafka tests') would report into the same series.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClickHouseAloneCollection : ICollectionFixture<ClickHouseServerFixture>
{
    public const string Name = "ClickHouse, alone";
}

/// <summary>What a test needs of a ClickHouse it runs on: the 18.16 server (<see cref="ClickHouseServerFixture"/>) or
/// the current engine in process (<see cref="Chdb.ChdbServerFixture"/>).</summary>
public interface IClickHouseTestServer
{
    ClickHouseHttpClient Root { get; }
    ClickHouseServerVersion Version { get; }
    Task<ClickHouseHttpClient> CreateDatabaseAsync();

    /// <summary>The HTTP interface's URL and a client that reaches it, for requests sent as other tools send them (Grafana's plugin).</summary>
    Uri Url { get; }
    HttpClient Http { get; }

    /// <summary>A new client for <paramref name="database"/> with its own options (the caller disposes it).</summary>
    ClickHouseHttpClient NewClient(string database, bool compressInserts);
}

/// <summary>Base for tests against ClickHouse: a fresh database per test, dropped after it.</summary>
public abstract class ClickHouseTest<TServer>(TServer server) : IAsyncLifetime where TServer : IClickHouseTestServer
{
    private ClickHouseHttpClient? _db;

    protected TServer Server { get; } = server;

    /// <summary>Client bound to this test's own database.</summary>
    protected ClickHouseHttpClient Db => _db ?? throw new InvalidOperationException("Database not created yet.");

    public async Task InitializeAsync() => _db = await Server.CreateDatabaseAsync();

    public async Task DisposeAsync()
    {
        if (_db is null) return;
        await Server.Root.ExecuteAsync("DROP DATABASE IF EXISTS " + ClickHouseSql.QuoteIdentifier(_db.Database), useDatabase: false);
        _db.Dispose();
    }
}

/// <summary>Base for tests against the private ClickHouse 18.16 server.</summary>
[Collection(ClickHouseCollection.Name)]
public abstract class ClickHouseTest(ClickHouseServerFixture server) : ClickHouseTest<ClickHouseServerFixture>(server);
