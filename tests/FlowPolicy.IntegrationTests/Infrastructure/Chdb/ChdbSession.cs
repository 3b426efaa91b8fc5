using System.Runtime.InteropServices;
using System.Text;

namespace FlowPolicy.IntegrationTests.Infrastructure.Chdb;

/// <summary>
/// The ClickHouse engine in this process: chDB's libchdb.so (npm package @chdb/lib-linux-x64-gnu, installed into a
/// cache by deploy/local/install-chdb.sh) through its C API, chdb_connect / chdb_query_n / chdb_result_*.
/// Two traps, both handled here: chDB installs its own SIGSEGV/SIGBUS/... handlers at connect, which breaks .NET
/// (a managed NullReferenceException then hangs the process), so the handlers .NET owns are saved, chDB's are turned
/// off (<c>chdb_set_signal_handlers_enabled(0)</c>, which also resets those signals) and .NET's are put back; and the
/// engine takes one storage path per process, so there is one session per process (<see cref="Shared"/>).
/// Signatures from chdb.h (chdb-io/chdb-core, programs/local/chdb.h).
/// </summary>
internal sealed class ChdbSession : IDisposable
{
    /// <summary>Where the tests look for libchdb.so first; else the cache install-chdb.sh fills.</summary>
    public const string LibraryVariable = "FLOWPOLICY_CHDB_LIB";

    /// <summary>The chDB release the tests pin (deploy/local/install-chdb.sh installs this one).</summary>
    public const string PinnedVersion = "26.5.3";

    /// <summary>The largest statement a session takes (ClickHouse's max_query_size default, 256 KiB); larger ones are refused.</summary>
    public const int MaxStatementBytes = 256 * 1024;

    private static readonly Lock SharedGate = new();
    private static ChdbSession? _shared;

    private readonly Lock _gate = new();
    private readonly IntPtr _library;
    private readonly IntPtr _connection; // chdb_connection* (a pointer to the handle)
    private readonly string _path;
    private readonly QueryN _query;
    private readonly ResultPointer _buffer;
    private readonly ResultLength _length;
    private readonly ResultPointer _error;
    private readonly ResultFree _free;
    private readonly CloseConnection _close;
    private bool _disposed;

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr Connect(int argc, IntPtr[] argv);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void CloseConnection(IntPtr connection);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr QueryN(IntPtr connection, byte[] query, UIntPtr queryLength, byte[] format, UIntPtr formatLength);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr ResultPointer(IntPtr result);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate UIntPtr ResultLength(IntPtr result);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void ResultFree(IntPtr result);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void SetSignalHandlersEnabled(int enabled);

    private ChdbSession(string libraryPath)
    {
        _library = NativeLibrary.Load(libraryPath);
        T Export<T>(string name) where T : Delegate => Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(_library, name));
        _query = Export<QueryN>("chdb_query_n");
        _buffer = Export<ResultPointer>("chdb_result_buffer");
        _length = Export<ResultLength>("chdb_result_length");
        _error = Export<ResultPointer>("chdb_result_error");
        _free = Export<ResultFree>("chdb_destroy_query_result");
        _close = Export<CloseConnection>("chdb_close_conn");
        var connect = Export<Connect>("chdb_connect");
        var disableHandlers = Export<SetSignalHandlersEnabled>("chdb_set_signal_handlers_enabled");

        _path = Path.Combine(Path.GetTempPath(), "flowpolicy-chdb-" + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_path);
        // No query profiler: its timer signals would need chDB's handlers.
        string[] args = ["clickhouse", "--path=" + _path, "--query_profiler_real_time_period_ns=0", "--query_profiler_cpu_time_period_ns=0"];
        var argv = args.Select(Marshal.StringToCoTaskMemUTF8).ToArray();
        try
        {
            using (SignalHandlers.Keep())
            {
                disableHandlers(0);
                _connection = connect(argv.Length, argv);
            }
        }
        finally
        {
            foreach (var arg in argv) Marshal.FreeCoTaskMem(arg);
        }
        if (_connection == IntPtr.Zero || Marshal.ReadIntPtr(_connection) == IntPtr.Zero)
            throw new InvalidOperationException($"chdb_connect failed (library {libraryPath}, path {_path}).");
        Version = Query("SELECT version()", "TabSeparated").Trim();
        LibraryPath = libraryPath;
    }

    /// <summary>The engine's version, e.g. 26.5.3.1.</summary>
    public string Version { get; }

    public string LibraryPath { get; }

    /// <summary>The process's one session, started on first use; throws saying how to install libchdb.so when it is missing.</summary>
    public static ChdbSession Shared
    {
        get
        {
            lock (SharedGate)
            {
                if (_shared is not null) return _shared;
                var path = FindLibrary() ?? throw new InvalidOperationException(
                    $"The current-ClickHouse tests need chDB {PinnedVersion} (libchdb.so): run deploy/local/install-chdb.sh " +
                    $"(./run-tests does), or set {LibraryVariable}.");
                _shared = new ChdbSession(path);
                AppDomain.CurrentDomain.ProcessExit += (_, _) => _shared.Dispose();
                return _shared;
            }
        }
    }

    /// <summary>$FLOWPOLICY_CHDB_LIB, else the npm cache install-chdb.sh fills; null when neither exists.</summary>
    public static string? FindLibrary()
    {
        var given = Environment.GetEnvironmentVariable(LibraryVariable);
        if (!string.IsNullOrEmpty(given)) return File.Exists(given) ? given : null;
        var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        var path = Path.Combine(cache, "flowpolicy", "chdb-" + PinnedVersion, "node_modules", "@chdb", "lib-linux-x64-gnu", "libchdb.so");
        return File.Exists(path) ? path : null;
    }

    /// <summary>Runs one statement; <paramref name="format"/> is the output format unless the statement names its own.</summary>
    public string Query(string sql, string format = "TabSeparated") => Encoding.UTF8.GetString(QueryBytes(Encoding.UTF8.GetBytes(sql), format));

    /// <summary>
    /// Runs one statement given as bytes (binary-safe: an INSERT ... FORMAT RowBinary may carry its rows after the
    /// statement). Throws <see cref="ChdbQueryException"/> with the engine's message on an error.
    /// </summary>
    public byte[] QueryBytes(byte[] sql, string format = "TabSeparated")
    {
        if (sql.Length > MaxStatementBytes) throw new ChdbQueryException($"Code: 0. A statement of {sql.Length} bytes is over max_query_size; send data FROM INFILE.");
        var formatBytes = Encoding.ASCII.GetBytes(format);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var result = _query(Marshal.ReadIntPtr(_connection), sql, (UIntPtr)sql.Length, formatBytes, (UIntPtr)formatBytes.Length);
            if (result == IntPtr.Zero) throw new ChdbQueryException("chdb_query_n returned no result.");
            try
            {
                var error = _error(result);
                if (error != IntPtr.Zero && Marshal.PtrToStringUTF8(error) is { Length: > 0 } message)
                    throw new ChdbQueryException(message);
                var length = checked((int)(ulong)_length(result));
                var bytes = new byte[length];
                if (length > 0) Marshal.Copy(_buffer(result), bytes, 0, length);
                return bytes;
            }
            finally
            {
                _free(result);
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _close(_connection);
        }
        try { Directory.Delete(_path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>
    /// Saves the handlers of the signals .NET relies on (a null dereference is a SIGSEGV that .NET turns into a
    /// NullReferenceException) and puts back any that changed when disposed.
    /// </summary>
    private sealed class SignalHandlers : IDisposable
    {
        // SIGILL, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGPIPE on Linux x86-64/arm64.
        private static readonly int[] Signals = [4, 6, 7, 8, 11, 13];
        private const int SigactionBytes = 256; // struct sigaction is 152 bytes on glibc x86-64
        private readonly Dictionary<int, byte[]> _saved = [];

        [DllImport("libc", SetLastError = true)]
        private static extern int sigaction(int signal, byte[]? action, byte[]? previous);

        public static SignalHandlers Keep()
        {
            var handlers = new SignalHandlers();
            foreach (var signal in Signals)
            {
                var old = new byte[SigactionBytes];
                if (sigaction(signal, null, old) == 0) handlers._saved[signal] = old;
            }
            return handlers;
        }

        public void Dispose()
        {
            foreach (var (signal, old) in _saved)
            {
                var now = new byte[SigactionBytes];
                if (sigaction(signal, null, now) == 0 && !now.AsSpan(0, 8).SequenceEqual(old.AsSpan(0, 8)))
                    sigaction(signal, old, null);
            }
        }
    }
}

/// <summary>An error the chDB engine reported for a statement (its text starts "Code: N. DB::Exception: ...").</summary>
internal sealed class ChdbQueryException(string message) : Exception(message);
