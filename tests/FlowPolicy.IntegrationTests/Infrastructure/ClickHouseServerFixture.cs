using FlowPolicy.Core.ClickHouse;

namespace FlowPolicy.IntegrationTests.Infrastructure;

/// <summary>
/// One private ClickHouse server for the whole "ClickHouse" test collection, started by
/// <see cref="LocalClickHouseServer"/> (not the system service) and deleted afterwards. Tests get a fresh
/// database each through <see cref="ClickHouseTest"/>.
/// </summary>
public sealed class ClickHouseServerFixture : IAsyncLifetime
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

    public async Task InitializeAsync()
    {
        if (LocalClickHouseServer.FindBinary() is null)
            throw new InvalidOperationException(
                $"These tests need a ClickHouse server binary (apt install clickhouse-server, or set {LocalClickHouseServer.BinaryVariable}).");
        _server = await LocalClickHouseServer.StartAsync(new LocalClickHouseServerOptions { User = PasswordUser, Password = Password });
        _root = new ClickHouseHttpClient(_server.ClientOptions());
        Version = await _root.GetServerVersionAsync();
    }

    public async Task DisposeAsync()
    {
        _root?.Dispose();
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

/// <summary>Base for tests against ClickHouse: a fresh database per test, dropped after it.</summary>
[Collection(ClickHouseCollection.Name)]
public abstract class ClickHouseTest(ClickHouseServerFixture server) : IAsyncLifetime
{
    private ClickHouseHttpClient? _db;

    protected ClickHouseServerFixture Server { get; } = server;

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
