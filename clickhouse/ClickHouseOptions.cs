namespace FlowPolicy.ClickHouse;

/// <summary>
/// Where and as whom to talk to ClickHouse over HTTP(S). Defaults in code, <see cref="Validate"/> before use.
/// The password never appears in <see cref="ToString"/>, exceptions or logs.
/// </summary>
public sealed class ClickHouseOptions
{
    public const string UserVariable = "FLOWPOLICY_CLICKHOUSE_USER";
    public const string PasswordVariable = "FLOWPOLICY_CLICKHOUSE_PASSWORD";
    public const string PasswordFileVariable = "FLOWPOLICY_CLICKHOUSE_PASSWORD_FILE";

    /// <summary>Base URL of the HTTP interface, http or https (e.g. https://ch.example.com:8443/).</summary>
    public Uri Url { get; set; } = new("http://127.0.0.1:8123/");

    /// <summary>Database every statement runs in (sent as the <c>database</c> URL parameter).</summary>
    public string Database { get; set; } = "flowpolicy";

    /// <summary>User name; null falls back to FLOWPOLICY_CLICKHOUSE_USER, then to "default".</summary>
    public string? User { get; set; }

    /// <summary>Password; null falls back to <see cref="PasswordFile"/>, then FLOWPOLICY_CLICKHOUSE_PASSWORD(_FILE).</summary>
    public string? Password { get; set; }

    /// <summary>A file holding the password (a mounted secret); one trailing newline is ignored.</summary>
    public string? PasswordFile { get; set; }

    /// <summary>Upper bound for one request, including streaming the response.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Gzip request bodies of inserts. Every supported server version decompresses them.</summary>
    public bool CompressInserts { get; set; } = true;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad option and how to fix it.</summary>
    public void Validate()
    {
        if (!Url.IsAbsoluteUri || (Url.Scheme != Uri.UriSchemeHttp && Url.Scheme != Uri.UriSchemeHttps))
            throw new ArgumentException($"ClickHouse URL must be an absolute http:// or https:// URL, got '{Redact(Url)}'.");
        if (!string.IsNullOrEmpty(Url.UserInfo))
            throw new ArgumentException("Put ClickHouse credentials in the user/password options or environment, not in the URL.");
        if (string.IsNullOrWhiteSpace(Database))
            throw new ArgumentException("ClickHouse database name must not be empty.");
        if (Timeout <= TimeSpan.Zero)
            throw new ArgumentException("ClickHouse timeout must be positive.");
        if (PasswordFile is not null && !File.Exists(PasswordFile))
            throw new ArgumentException($"ClickHouse password file '{PasswordFile}' does not exist.");
    }

    /// <summary>The user to authenticate as: option, then environment, then "default".</summary>
    public string ResolveUser() =>
        !string.IsNullOrEmpty(User) ? User
        : Environment.GetEnvironmentVariable(UserVariable) is { Length: > 0 } fromEnv ? fromEnv
        : "default";

    /// <summary>The password: option, option file, environment variable, environment file; empty when none.</summary>
    public string ResolvePassword()
    {
        if (Password is not null) return Password;
        if (PasswordFile is not null) return ReadSecretFile(PasswordFile);
        if (Environment.GetEnvironmentVariable(PasswordVariable) is { } fromEnv) return fromEnv;
        if (Environment.GetEnvironmentVariable(PasswordFileVariable) is { Length: > 0 } file) return ReadSecretFile(file);
        return "";
    }

    private static string ReadSecretFile(string path)
    {
        var text = File.ReadAllText(path);
        // Secret files written by `echo` or editors end with a newline that is not part of the password.
        if (text.EndsWith("\r\n", StringComparison.Ordinal)) return text[..^2];
        if (text.EndsWith('\n')) return text[..^1];
        return text;
    }

    public ClickHouseOptions Clone() => (ClickHouseOptions)MemberwiseClone();

    /// <summary>Safe to log: URL without credentials, database, user, and only whether a password is set.</summary>
    public override string ToString()
    {
        bool hasPassword = Password is not null || PasswordFile is not null
            || Environment.GetEnvironmentVariable(PasswordVariable) is not null
            || Environment.GetEnvironmentVariable(PasswordFileVariable) is not null;
        return $"{Redact(Url)} database={Database} user={ResolveUser()} password={(hasPassword ? "<redacted>" : "<none>")}";
    }

    private static string Redact(Uri url)
    {
        if (!url.IsAbsoluteUri || string.IsNullOrEmpty(url.UserInfo)) return url.ToString();
        var builder = new UriBuilder(url) { UserName = "", Password = "" };
        return builder.Uri.ToString();
    }
}
