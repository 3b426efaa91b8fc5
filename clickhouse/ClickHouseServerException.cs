using System.Net;
using System.Text.RegularExpressions;

namespace FlowPolicy.ClickHouse;

/// <summary>An error the ClickHouse server reported, with its numeric code (e.g. 60 UNKNOWN_TABLE) and message.</summary>
public sealed partial class ClickHouseServerException : Exception
{
    public ClickHouseServerException(int code, string serverMessage, string? errorName, HttpStatusCode status, string? query)
        : base(FormatMessage(code, serverMessage, errorName, query))
    {
        Code = code;
        ServerMessage = serverMessage;
        ErrorName = errorName;
        Status = status;
    }

    /// <summary>ClickHouse error code, or -1 when the response did not carry one (a proxy error page, say).</summary>
    public int Code { get; }
    /// <summary>The server's message without the "Code: NNN" prefix, version or stack trace decoration.</summary>
    public string ServerMessage { get; }
    /// <summary>The symbolic name newer servers add (UNKNOWN_TABLE); null on 18.16 and up to 21.x.</summary>
    public string? ErrorName { get; }
    public HttpStatusCode Status { get; }

    public const int UnknownTable = 60;
    public const int UnknownDatabase = 81;
    public const int SyntaxError = 62;
    public const int WrongPassword = 193;
    public const int AuthenticationFailed = 516;

    /// <summary>
    /// Parses both shapes of ClickHouse error text:
    /// 18.16 to 21.9: <c>Code: 60, e.displayText() = DB::Exception: Table x doesn't exist., e.what() = DB::Exception</c> (later with " (version ...)"),
    /// 21.10 and newer: <c>Code: 60. DB::Exception: Table x does not exist. (UNKNOWN_TABLE) (version 24.3.1.1)</c>.
    /// <paramref name="headerCode"/> is X-ClickHouse-Exception-Code when the server sent it.
    /// </summary>
    public static ClickHouseServerException FromResponse(HttpStatusCode status, string body, string? headerCode, string? query)
    {
        int code = -1;
        if (headerCode is not null && int.TryParse(headerCode, out var fromHeader)) code = fromHeader;
        string message = body.Trim();
        string? name = null;

        var match = CodePrefix().Match(message);
        if (match.Success)
        {
            if (code < 0) code = int.Parse(match.Groups[1].ValueSpan);
            message = message[(match.Index + match.Length)..];
        }
        // Only the first line is the message; later lines are stack traces on some builds.
        int newline = message.IndexOf('\n');
        if (newline >= 0) message = message[..newline];
        message = OldWhatSuffix().Replace(message, "");
        message = VersionSuffix().Replace(message, "");
        var nameMatch = ErrorNameSuffix().Match(message);
        if (nameMatch.Success)
        {
            name = nameMatch.Groups[1].Value;
            message = message[..nameMatch.Index];
        }
        message = message.Trim();
        if (message.Length == 0) message = $"HTTP {(int)status} {status} with an empty body";
        return new ClickHouseServerException(code, message, name, status, query);
    }

    private static string FormatMessage(int code, string message, string? name, string? query)
    {
        var text = code >= 0
            ? $"ClickHouse error {code}{(name is null ? "" : " " + name)}: {message}"
            : $"ClickHouse error: {message}";
        if (query is null) return text;
        // Queries carry only identifiers and escaped literals we built; never credentials. Keep them short.
        var shown = query.Length > 300 ? query[..300] + "..." : query;
        return text + " [query: " + shown.ReplaceLineEndings(" ") + "]";
    }

    [GeneratedRegex(@"^Code:\s*(\d+)\s*[.,]\s*(?:e\.displayText\(\)\s*=\s*)?(?:DB::Exception:\s*)?")]
    private static partial Regex CodePrefix();

    [GeneratedRegex(@",\s*e\.what\(\)\s*=\s*DB::Exception\s*$")]
    private static partial Regex OldWhatSuffix();

    [GeneratedRegex(@"\s*\(version [^\n]*\)\s*$")]
    private static partial Regex VersionSuffix();

    [GeneratedRegex(@"\s*\(([A-Z][A-Z0-9_]+)\)\s*$")]
    private static partial Regex ErrorNameSuffix();
}
