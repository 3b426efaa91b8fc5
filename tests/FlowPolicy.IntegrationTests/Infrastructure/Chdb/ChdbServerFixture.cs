using FlowPolicy.ClickHouse;

namespace FlowPolicy.IntegrationTests.Infrastructure.Chdb;

/// <summary>
/// The current ClickHouse engine (chDB, in this process) for the "CurrentClickHouse" collection: a
/// <see cref="ClickHouseHttpClient"/> whose requests <see cref="ChdbHttpHandler"/> answers, so the project's own client
/// and SQL run unchanged. One engine per process (<see cref="ChdbSession.Shared"/>), a fresh database per test.
/// </summary>
public sealed class ChdbServerFixture : IClickHouseTestServer, IAsyncLifetime
{
    private ChdbHttpHandler? _handler;
    private ClickHouseHttpClient? _root;

    public ClickHouseHttpClient Root => _root ?? throw new InvalidOperationException("chDB did not start.");
    public ClickHouseServerVersion Version { get; private set; } = ClickHouseServerVersion.Parse("0.0");
    public Uri Url { get; } = new("http://127.0.0.1:1/");
    public HttpClient Http => _http ?? throw new InvalidOperationException("chDB did not start.");
    private HttpClient? _http;

    public ClickHouseHttpClient NewClient(string database, bool compressInserts) =>
        new(new ClickHouseOptions { Url = Url, Database = database, CompressInserts = compressInserts }, _handler);

    public async Task InitializeAsync()
    {
        var session = ChdbSession.Shared;
        _handler = new ChdbHttpHandler(session);
        // The URL is never dialled: the handler answers. Inserts stay gzipped (the default), so the handler undoes gzip as a server does.
        _root = new ClickHouseHttpClient(new ClickHouseOptions { Url = Url }, _handler);
        _http = new HttpClient(_handler, disposeHandler: false);
        Version = await _root.GetServerVersionAsync();
        Console.WriteLine($"ClickHouse server for tests: {Version} (chDB {ChdbSession.PinnedVersion} in process, {session.LibraryPath})");
    }

    public Task DisposeAsync()
    {
        _root?.Dispose();
        _http?.Dispose();
        _handler?.Dispose();
        return Task.CompletedTask;
    }

    public async Task<ClickHouseHttpClient> CreateDatabaseAsync()
    {
        var client = Root.ForDatabase("test_" + Guid.NewGuid().ToString("N"));
        await client.EnsureDatabaseAsync();
        return client;
    }
}

[CollectionDefinition(Name)]
public sealed class CurrentClickHouseCollection : ICollectionFixture<ChdbServerFixture>
{
    public const string Name = "CurrentClickHouse";
}

/// <summary>Base for tests on the current engine; tagged so they can be run alone: --filter server=current.</summary>
[Collection(CurrentClickHouseCollection.Name)]
[Trait("server", "current")]
public abstract class CurrentClickHouseTest(ChdbServerFixture server) : ClickHouseTest<ChdbServerFixture>(server);
