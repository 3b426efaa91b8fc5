using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using FlowPolicy.ClickHouse.Internal;
using FlowPolicy.ClickHouse.RowBinary;

namespace FlowPolicy.ClickHouse;

/// <summary>
/// ClickHouse over its HTTP interface: commands, small reads (TSV, JSONEachRow) and streamed RowBinary inserts.
/// Thread-safe; create one per process (or per database with <see cref="ForDatabase"/>) and reuse it.
/// Works with 18.16 and newer: the database goes in the <c>database</c> URL parameter because 18.16 ignores
/// the X-ClickHouse-Database header; settings go in URL parameters too.
/// </summary>
public sealed class ClickHouseHttpClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly ClickHouseOptions _options;
    private readonly AuthenticationHeaderValue? _basicAuth;
    private readonly string _user;
    private readonly string _password;
    private Task<ClickHouseServerVersion>? _version;

    public ClickHouseHttpClient(ClickHouseOptions options, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options.Clone();
        _http = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        _http.Timeout = System.Threading.Timeout.InfiniteTimeSpan; // per-request timeouts below tell timeouts from cancellation
        _ownsHttp = true;
        _user = _options.ResolveUser();
        _password = _options.ResolvePassword();
        _basicAuth = NeedsBasicAuth(_user, _password)
            ? new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(_user + ":" + _password)))
            : null;
    }

    private ClickHouseHttpClient(ClickHouseHttpClient parent, string database)
    {
        _http = parent._http;
        _ownsHttp = false;
        _options = parent._options.Clone();
        _options.Database = database;
        _user = parent._user;
        _password = parent._password;
        _basicAuth = parent._basicAuth;
        _version = parent._version;
    }

    /// <summary>The database statements run in.</summary>
    public string Database => _options.Database;

    /// <summary>Server URL and user, safe to log.</summary>
    public override string ToString() => _options.ToString();

    /// <summary>A client for another database on the same server sharing this one's connections; dispose the parent last.</summary>
    public ClickHouseHttpClient ForDatabase(string database) => new(this, database);

    /// <summary>Detected once per client (<c>SELECT version()</c>), then cached.</summary>
    public Task<ClickHouseServerVersion> GetServerVersionAsync(CancellationToken cancellationToken = default)
    {
        var existing = _version;
        if (existing is { IsCompletedSuccessfully: true }) return existing;
        var fresh = DetectVersionAsync(cancellationToken);
        _version = fresh;
        return fresh;
    }

    private async Task<ClickHouseServerVersion> DetectVersionAsync(CancellationToken cancellationToken)
    {
        var text = await QueryScalarAsync("SELECT version()", cancellationToken, useDatabase: false).ConfigureAwait(false);
        return ClickHouseServerVersion.Parse(text ?? "");
    }

    /// <summary>Creates <see cref="Database"/> when missing (runs without the database parameter).</summary>
    public Task EnsureDatabaseAsync(CancellationToken cancellationToken = default) =>
        ExecuteAsync("CREATE DATABASE IF NOT EXISTS " + ClickHouseSql.QuoteIdentifier(Database), cancellationToken, useDatabase: false);

    /// <summary>Runs a statement that returns nothing useful (DDL, INSERT ... SELECT, ALTER).</summary>
    public async Task ExecuteAsync(string sql, CancellationToken cancellationToken = default,
        IEnumerable<KeyValuePair<string, string>>? settings = null, bool useDatabase = true)
    {
        using var response = await SendAsync(sql, settings, useDatabase, waitEndOfQuery: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs a query and returns its rows as TabSeparated fields, unescaped.</summary>
    public async Task<IReadOnlyList<string[]>> QueryTsvAsync(string sql, CancellationToken cancellationToken = default,
        IEnumerable<KeyValuePair<string, string>>? settings = null, bool useDatabase = true)
    {
        using var response = await SendAsync(sql + "\nFORMAT TabSeparated", settings, useDatabase, waitEndOfQuery: true, cancellationToken).ConfigureAwait(false);
        var body = await ReadBodyAsync(response, cancellationToken).ConfigureAwait(false);
        return TabSeparated.Parse(body);
    }

    /// <summary>The first field of the first row, or null when there is no row.</summary>
    public async Task<string?> QueryScalarAsync(string sql, CancellationToken cancellationToken = default, bool useDatabase = true)
    {
        var rows = await QueryTsvAsync(sql, cancellationToken, useDatabase: useDatabase).ConfigureAwait(false);
        return rows.Count == 0 || rows[0].Length == 0 ? null : rows[0][0];
    }

    /// <summary>Runs a query in JSONEachRow format; each row is a detached JSON object (not for hot paths).</summary>
    public async Task<IReadOnlyList<JsonElement>> QueryJsonEachRowAsync(string sql, CancellationToken cancellationToken = default,
        IEnumerable<KeyValuePair<string, string>>? settings = null)
    {
        using var response = await SendAsync(sql + "\nFORMAT JSONEachRow", settings, useDatabase: true, waitEndOfQuery: true, cancellationToken).ConfigureAwait(false);
        var body = await ReadBodyAsync(response, cancellationToken).ConfigureAwait(false);
        var rows = new List<JsonElement>();
        foreach (var line in body.Split('\n'))
        {
            if (line.Length == 0) continue;
            using var document = JsonDocument.Parse(line);
            rows.Add(document.RootElement.Clone());
        }
        return rows;
    }

    /// <summary>Sends the rows already written to <paramref name="rows"/> as one INSERT ... FORMAT RowBinary.</summary>
    public Task InsertRowBinaryAsync(string table, IReadOnlyList<string> columns, RowBinaryWriter rows,
        CancellationToken cancellationToken = default, IEnumerable<KeyValuePair<string, string>>? settings = null) =>
        InsertRowBinaryAsync(table, columns, (stream, ct) => rows.CopyToAsync(stream, ct), cancellationToken, settings);

    /// <summary>
    /// <c>INSERT INTO db.table (columns) FORMAT RowBinary</c> with a body that <paramref name="writeBody"/> streams
    /// (gzip-compressed when <see cref="ClickHouseOptions.CompressInserts"/>). One call is one INSERT: keep it
    /// below max_insert_block_size rows and inside one table partition so the server stores it as one atomic part.
    /// </summary>
    public async Task InsertRowBinaryAsync(string table, IReadOnlyList<string> columns,
        Func<Stream, CancellationToken, ValueTask> writeBody, CancellationToken cancellationToken = default,
        IEnumerable<KeyValuePair<string, string>>? settings = null)
    {
        ArgumentNullException.ThrowIfNull(columns);
        if (columns.Count == 0) throw new ArgumentException("An insert needs at least one column.", nameof(columns));
        var sql = new StringBuilder("INSERT INTO ").Append(ClickHouseSql.QuoteIdentifier(Database, table)).Append(" (");
        for (int i = 0; i < columns.Count; i++)
        {
            if (i > 0) sql.Append(", ");
            sql.Append(ClickHouseSql.QuoteIdentifier(columns[i]));
        }
        sql.Append(") FORMAT RowBinary");
        var query = sql.ToString();
        using var request = CreateRequest(query, settings, useDatabase: true, waitEndOfQuery: false, inlineQuery: true);
        request.Content = new StreamingBody(writeBody, _options.CompressInserts);
        using var response = await SendAsync(request, query, cancellationToken).ConfigureAwait(false);
    }

    private async Task<HttpResponseMessage> SendAsync(string sql, IEnumerable<KeyValuePair<string, string>>? settings,
        bool useDatabase, bool waitEndOfQuery, CancellationToken cancellationToken)
    {
        using var request = CreateRequest(sql, settings, useDatabase, waitEndOfQuery, inlineQuery: false);
        request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(sql));
        return await SendAsync(request, sql, cancellationToken).ConfigureAwait(false);
    }

    private HttpRequestMessage CreateRequest(string sql, IEnumerable<KeyValuePair<string, string>>? settings,
        bool useDatabase, bool waitEndOfQuery, bool inlineQuery)
    {
        var query = new StringBuilder();
        void Add(string name, string value)
        {
            query.Append(query.Length == 0 ? '?' : '&').Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(value));
        }
        if (useDatabase) Add("database", Database);
        // Buffer results server-side so an error mid-query arrives as an HTTP error, not appended to a 200 body.
        if (waitEndOfQuery) Add("wait_end_of_query", "1");
        if (inlineQuery) Add("query", sql);
        if (settings is not null)
            foreach (var (name, value) in settings) Add(name, value);

        var baseUri = _options.Url.AbsoluteUri.TrimEnd('/') + "/";
        var request = new HttpRequestMessage(HttpMethod.Post, baseUri + query);
        if (_basicAuth is not null) request.Headers.Authorization = _basicAuth;
        else
        {
            request.Headers.TryAddWithoutValidation("X-ClickHouse-User", _user);
            if (_password.Length > 0) request.Headers.TryAddWithoutValidation("X-ClickHouse-Key", _password);
        }
        return request;
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, string sql, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.Timeout);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"ClickHouse did not answer within {_options.Timeout} ({_options.Url.GetLeftPart(UriPartial.Authority)}).");
        }
        catch (HttpRequestException e)
        {
            throw new HttpRequestException($"Cannot reach ClickHouse at {_options.Url.GetLeftPart(UriPartial.Authority)}: {e.Message}", e, e.StatusCode);
        }
        if (response.IsSuccessStatusCode) return response;
        using (response)
        {
            var body = await ReadBodyAsync(response, cancellationToken).ConfigureAwait(false);
            string? headerCode = response.Headers.TryGetValues("X-ClickHouse-Exception-Code", out var values) ? values.FirstOrDefault() : null;
            throw ClickHouseServerException.FromResponse(response.StatusCode, body, headerCode, sql);
        }
    }

    private async Task<string> ReadBodyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.Timeout);
        try
        {
            var bytes = await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
            return Encoding.UTF8.GetString(bytes);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"ClickHouse response did not finish within {_options.Timeout}.");
        }
    }

    private static bool NeedsBasicAuth(string user, string password)
    {
        // Header values must be visible ASCII; anything else travels base64-encoded in Basic auth (18.16 accepts both).
        static bool Plain(string s)
        {
            foreach (char c in s)
                if (c < 0x20 || c > 0x7E) return false;
            return true;
        }
        return !Plain(user) || !Plain(password);
    }

    public void Dispose()
    {
        if (_ownsHttp) _http.Dispose();
    }

    /// <summary>A request body produced by a callback while it is being sent (chunked), optionally gzipped.</summary>
    private sealed class StreamingBody : HttpContent
    {
        private readonly Func<Stream, CancellationToken, ValueTask> _write;
        private readonly bool _gzip;

        public StreamingBody(Func<Stream, CancellationToken, ValueTask> write, bool gzip)
        {
            _write = write;
            _gzip = gzip;
            Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            if (gzip) Headers.ContentEncoding.Add("gzip");
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            if (!_gzip)
            {
                await _write(stream, cancellationToken).ConfigureAwait(false);
                return;
            }
            await using var gzip = new GZipStream(stream, CompressionLevel.Fastest, leaveOpen: true);
            await _write(gzip, cancellationToken).ConfigureAwait(false);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
