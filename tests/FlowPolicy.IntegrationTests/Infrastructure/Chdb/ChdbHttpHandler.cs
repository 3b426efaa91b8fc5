using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using System.Web;

namespace FlowPolicy.IntegrationTests.Infrastructure.Chdb;

/// <summary>
/// Answers <see cref="FlowPolicy.ClickHouse.ClickHouseHttpClient"/>'s HTTP requests from the chDB engine in
/// this process, as a ClickHouse server's HTTP interface would: the <c>database</c> parameter becomes a USE, other
/// URL parameters are settings (SET before the statement, back to DEFAULT after), the statement is the body, or the
/// <c>query</c> parameter with the body as its data (an INSERT's RowBinary rows, gzip undone, read FROM INFILE: rows
/// given inline after the statement are cut short by chDB without an error, measured: 2,570 of 50,000 arrived), and an error is a 500 whose
/// body is the engine's message with its code in <c>X-ClickHouse-Exception-Code</c>. So every statement the project
/// sends (migrate, ingest inserts, rollups, analytics, Grafana panels) runs unchanged on the current engine.
/// </summary>
internal sealed partial class ChdbHttpHandler(ChdbSession session) : HttpMessageHandler
{
    // URL parameters of the HTTP interface that are not settings (query_id names the query in system.processes; one
    // statement at a time runs here, so there is never one in flight to find).
    private static readonly HashSet<string> NotSettings = new(StringComparer.Ordinal) { "database", "query", "query_id", "wait_end_of_query" };
    private readonly Lock _gate = new(); // USE and SET are session state: one request at a time

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var parameters = HttpUtility.ParseQueryString(request.RequestUri!.Query);
        byte[] body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        if (request.Content?.Headers.ContentEncoding.Contains("gzip") == true)
        {
            using var gzip = new GZipStream(new MemoryStream(body), CompressionMode.Decompress);
            using var plain = new MemoryStream();
            await gzip.CopyToAsync(plain, cancellationToken).ConfigureAwait(false);
            body = plain.ToArray();
        }
        string? dataFile = null;
        byte[] statement = body;
        if (parameters["query"] is { } inline)
        {
            var format = inline.LastIndexOf(" FORMAT ", StringComparison.Ordinal);
            if (format < 0) throw new InvalidOperationException("An INSERT with a data body must end in FORMAT <name>: " + inline);
            dataFile = Path.Combine(Path.GetTempPath(), "flowpolicy-chdb-insert-" + Guid.NewGuid().ToString("N") + ".bin");
            await File.WriteAllBytesAsync(dataFile, body, cancellationToken).ConfigureAwait(false);
            statement = Encoding.UTF8.GetBytes(inline[..format] + " FROM INFILE " + Literal(dataFile) + inline[format..]);
        }
        var settings = parameters.AllKeys.Where(k => k is not null && !NotSettings.Contains(k)).Select(k => (Name: k!, Value: parameters[k]!)).ToList();
        lock (_gate)
        {
            try
            {
                session.Query("USE " + Quote(parameters["database"] ?? "default"));
                foreach (var (name, value) in settings) session.Query($"SET {name} = {Literal(value)}");
                try
                {
                    var output = session.QueryBytes(statement);
                    return new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(output), RequestMessage = request };
                }
                finally
                {
                    foreach (var (name, _) in settings) session.Query($"SET {name} = DEFAULT");
                    if (dataFile is not null) File.Delete(dataFile);
                }
            }
            catch (ChdbQueryException e)
            {
                var response = new HttpResponseMessage(HttpStatusCode.InternalServerError)
                {
                    Content = new StringContent(e.Message + "\n"),
                    RequestMessage = request,
                };
                if (ErrorCode().Match(e.Message) is { Success: true } code)
                    response.Headers.TryAddWithoutValidation("X-ClickHouse-Exception-Code", code.Groups[1].Value);
                return response;
            }
        }
    }

    private static string Quote(string identifier) => "`" + identifier.Replace("\\", "\\\\").Replace("`", "\\`") + "`";

    // Numbers as they are, anything else as a quoted string: SET takes both for every setting type.
    private static string Literal(string value) =>
        long.TryParse(value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out _) ? value : "'" + value.Replace("\\", "\\\\").Replace("'", "\\'") + "'";

    [GeneratedRegex(@"^Code: (\d+)\.")]
    private static partial Regex ErrorCode();
}
