using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Xml.Linq;
using FlowPolicy.ClickHouse;

namespace FlowPolicy.LocalServers.ClickHouse;

/// <summary>Settings for <see cref="LocalClickHouseServer"/>.</summary>
public sealed class LocalClickHouseServerOptions
{
    /// <summary>The server binary; null finds one (FLOWPOLICY_CLICKHOUSE_BINARY, then `clickhouse server`, then clickhouse-server).</summary>
    public string? BinaryPath { get; set; }

    /// <summary>Where data, logs and config go; null makes a fresh temp directory that is deleted on stop.</summary>
    public string? DataDirectory { get; set; }

    /// <summary>Delete <see cref="DataDirectory"/> on stop even when the caller chose it (always true for temp directories).</summary>
    public bool DeleteDataOnStop { get; set; }

    /// <summary>An extra user with a password (besides the password-less "default"), to exercise authentication.</summary>
    public string? User { get; set; }
    public string? Password { get; set; }

    /// <summary>How long to wait for GET /ping to answer.</summary>
    public TimeSpan StartupTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Server log level (logs go to the data directory, not to the console).</summary>
    public string LogLevel { get; set; } = "warning";

    /// <summary>Ports to listen on; null picks free ones. Fixed ports let servers name each other (remote_servers) before they start.</summary>
    public int? HttpPort { get; set; }
    public int? TcpPort { get; set; }

    /// <summary>Extra top-level config.xml elements (e.g. remote_servers for a test cluster), added after the defaults.</summary>
    public IList<XElement> ExtraConfig { get; } = [];

    /// <summary>Extra settings of the default profile in users.xml (e.g. insert_distributed_sync = 1).</summary>
    public IDictionary<string, string> ProfileSettings { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal);
}

/// <summary>
/// A private ClickHouse server for tests and demos: its own data directory, generated config, HTTP and TCP ports
/// picked free at start, listening on 127.0.0.1 only, no interserver port. Not the system service.
/// Start with <see cref="StartAsync"/>; <see cref="DisposeAsync"/> stops it and deletes temporary data.
/// </summary>
public sealed class LocalClickHouseServer : IAsyncDisposable
{
    public const string BinaryVariable = "FLOWPOLICY_CLICKHOUSE_BINARY";

    private readonly LocalClickHouseServerOptions _options;
    private readonly bool _deleteOnStop;
    private Process? _process;
    private (string FileName, string[] PrefixArguments) _binary;
    private readonly Queue<string> _output = new();

    private LocalClickHouseServer(LocalClickHouseServerOptions options, string directory, bool deleteOnStop)
    {
        _options = options;
        DataDirectory = directory;
        _deleteOnStop = deleteOnStop;
    }

    public string DataDirectory { get; }
    public int HttpPort { get; private set; }
    public int TcpPort { get; private set; }
    public Uri Url => new($"http://127.0.0.1:{HttpPort}/");
    /// <summary>From process start until /ping answered.</summary>
    public TimeSpan StartupTime { get; private set; }

    /// <summary>Client options for this server as the password-less default user.</summary>
    public ClickHouseOptions ClientOptions(string database = "default") =>
        new() { Url = Url, Database = database, User = "default", Password = "" };

    /// <summary>Finds a ClickHouse binary or returns null (tests skip, the CLI explains what to install).</summary>
    public static (string FileName, string[] PrefixArguments)? FindBinary(string? configured = null)
    {
        if ((configured ?? Environment.GetEnvironmentVariable(BinaryVariable)) is { Length: > 0 } chosen)
            return File.Exists(chosen) ? (chosen, Path.GetFileName(chosen) == "clickhouse" ? ["server"] : []) : null;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Append("/usr/bin").Append("/usr/sbin"))
        {
            if (dir.Length == 0) continue;
            var single = Path.Combine(dir, "clickhouse");
            if (File.Exists(single)) return (single, ["server"]);
        }
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Append("/usr/bin").Append("/usr/sbin"))
        {
            if (dir.Length == 0) continue;
            var server = Path.Combine(dir, "clickhouse-server");
            if (File.Exists(server)) return (server, []);
        }
        return null;
    }

    public static async Task<LocalClickHouseServer> StartAsync(LocalClickHouseServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new LocalClickHouseServerOptions();
        var binary = FindBinary(options.BinaryPath)
            ?? throw new FileNotFoundException($"No ClickHouse server binary found. Install clickhouse-server or set {BinaryVariable}.");
        bool temporary = options.DataDirectory is null;
        var directory = options.DataDirectory ?? Path.Combine(Path.GetTempPath(), "flowpolicy-clickhouse-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        var server = new LocalClickHouseServer(options, Path.GetFullPath(directory), temporary || options.DeleteDataOnStop);
        try
        {
            // Free ports are only free until someone else binds them: on a busy machine retry with new ones.
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    await server.LaunchAsync(binary, cancellationToken).ConfigureAwait(false);
                    return server;
                }
                catch (ClickHouseStartException) when (attempt < 3 && server.PortConflict())
                {
                }
            }
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>True while the server process runs (false after <see cref="StopAsync"/>).</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Stops the server (SIGTERM, then kill) but keeps its data directory and ports for <see cref="RestartAsync"/>.</summary>
    public Task StopAsync() => StopProcessAsync();

    /// <summary>Starts the server again on the same data directory and ports (an outage that ends, for tests).</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        if (IsRunning) return;
        // The old process's ports may linger briefly; retry the launch for a few seconds.
        var backoff = new Core.Retry.Backoff(TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(1));
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await LaunchAsync(_binary, cancellationToken, keepPorts: true).ConfigureAwait(false);
                return;
            }
            catch (ClickHouseStartException) when (attempt < 10 && PortConflict())
            {
                await backoff.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task LaunchAsync((string FileName, string[] PrefixArguments) binary, CancellationToken cancellationToken, bool keepPorts = false)
    {
        _binary = binary;
        if (!keepPorts)
        {
            HttpPort = _options.HttpPort ?? FreePort();
            TcpPort = _options.TcpPort ?? FreePort();
            while (TcpPort == HttpPort) TcpPort = FreePort();
        }
        lock (_output) _output.Clear();
        var configPath = WriteConfig();

        var start = new ProcessStartInfo(binary.FileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = DataDirectory,
        };
        foreach (var argument in binary.PrefixArguments) start.ArgumentList.Add(argument);
        start.ArgumentList.Add("--config-file=" + configPath);

        var clock = Stopwatch.StartNew();
        var process = Process.Start(start) ?? throw new ClickHouseStartException("ClickHouse did not start.");
        _process = process;
        process.OutputDataReceived += (_, e) => Remember(e.Data);
        process.ErrorDataReceived += (_, e) => Remember(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + _options.StartupTimeout;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (process.HasExited)
            {
                _process = null;
                throw new ClickHouseStartException($"ClickHouse exited with code {process.ExitCode} during startup.\n{Diagnostics()}");
            }
            try
            {
                var answer = await http.GetStringAsync(new Uri(Url, "ping"), cancellationToken).ConfigureAwait(false);
                if (answer.StartsWith("Ok", StringComparison.Ordinal)) break;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested) { }
            if (DateTime.UtcNow > deadline)
            {
                await StopProcessAsync().ConfigureAwait(false);
                throw new ClickHouseStartException($"ClickHouse did not answer /ping within {_options.StartupTimeout}.\n{Diagnostics()}");
            }
            await Task.Delay(25, cancellationToken).ConfigureAwait(false);
        }
        StartupTime = clock.Elapsed;
    }

    private string WriteConfig()
    {
        string Dir(string name)
        {
            var path = Path.Combine(DataDirectory, name) + Path.DirectorySeparatorChar;
            Directory.CreateDirectory(path);
            return path;
        }
        var logs = Dir("log");
        // <yandex> is the root 18.16 requires; newer servers still accept it.
        var config = new XElement("yandex",
            new XElement("logger",
                new XElement("level", _options.LogLevel),
                new XElement("log", Path.Combine(logs, "server.log")),
                new XElement("errorlog", Path.Combine(logs, "server.err.log")),
                new XElement("size", "10M"),
                new XElement("count", "1")),
            new XElement("http_port", HttpPort),
            new XElement("tcp_port", TcpPort),
            new XElement("listen_host", "127.0.0.1"),
            new XElement("path", Dir("data")),
            new XElement("tmp_path", Dir("tmp")),
            new XElement("user_files_path", Dir("user_files")),
            new XElement("format_schema_path", Dir("format_schemas")),
            new XElement("users_config", "users.xml"),
            new XElement("default_profile", "default"),
            new XElement("default_database", "default"),
            new XElement("timezone", "UTC"),
            new XElement("mark_cache_size", 64L << 20),
            new XElement("uncompressed_cache_size", 64L << 20),
            new XElement("max_concurrent_queries", 50),
            new XElement("mlock_executable", "false"));
        foreach (var element in _options.ExtraConfig) config.Add(new XElement(element));

        static XElement User(string name, string password) => new(name,
            new XElement("password", password),
            new XElement("networks", new XElement("ip", "127.0.0.1"), new XElement("ip", "::1")),
            new XElement("profile", "default"),
            new XElement("quota", "default"));
        var users = new XElement("users", User("default", ""));
        if (_options.User is { Length: > 0 } user) users.Add(User(user, _options.Password ?? ""));
        var usersConfig = new XElement("yandex",
            new XElement("profiles", new XElement("default",
                new XElement("max_memory_usage", 2_000_000_000),
                new XElement("max_threads", 2),
                _options.ProfileSettings.Select(s => new XElement(s.Key, s.Value)))),
            users,
            new XElement("quotas", new XElement("default", new XElement("interval",
                new XElement("duration", 3600), new XElement("queries", 0), new XElement("errors", 0),
                new XElement("result_rows", 0), new XElement("read_rows", 0), new XElement("execution_time", 0)))));

        var configPath = Path.Combine(DataDirectory, "config.xml");
        new XDocument(config).Save(configPath);
        new XDocument(usersConfig).Save(Path.Combine(DataDirectory, "users.xml"));
        return configPath;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void Remember(string? line)
    {
        if (line is null) return;
        lock (_output)
        {
            _output.Enqueue(line);
            while (_output.Count > 50) _output.Dequeue();
        }
    }

    private bool PortConflict() => Diagnostics().Contains("Address already in use", StringComparison.OrdinalIgnoreCase);

    /// <summary>Last lines of the server's output and error log, for startup failures.</summary>
    public string Diagnostics()
    {
        var lines = new List<string>();
        lock (_output) lines.AddRange(_output);
        var errorLog = Path.Combine(DataDirectory, "log", "server.err.log");
        if (File.Exists(errorLog))
        {
            try { lines.AddRange(File.ReadLines(errorLog).TakeLast(20)); }
            catch (IOException) { }
        }
        return string.Join('\n', lines);
    }

    /// <summary>Stops the server (SIGTERM, then kill after 10 s) and deletes temporary data.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopProcessAsync().ConfigureAwait(false);
        if (_deleteOnStop)
        {
            try { Directory.Delete(DataDirectory, recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    private async Task StopProcessAsync()
    {
        var process = _process;
        _process = null;
        if (process is null) return;
        using (process)
        {
            if (process.HasExited) return;
            if (!OperatingSystem.IsWindows() && SendSigterm(process.Id))
            {
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try
                {
                    await process.WaitForExitAsync(grace.Token).ConfigureAwait(false);
                    return;
                }
                catch (OperationCanceledException) { }
            }
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().ConfigureAwait(false);
        }
    }

    private static bool SendSigterm(int pid)
    {
        const int SigTerm = 15;
        try { return kill(pid, SigTerm) == 0; }
        catch (DllNotFoundException) { return false; }
        catch (EntryPointNotFoundException) { return false; }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}

/// <summary>The local server could not be started; the message carries its last output lines.</summary>
internal sealed class ClickHouseStartException(string message) : Exception(message);
