using System.Diagnostics.Metrics;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Direction;
using Microsoft.Extensions.Hosting;

namespace FlowPolicy.Ingest.Enrichment;

/// <summary>Options of <see cref="InventoryWatcher"/>.</summary>
internal sealed class InventoryWatcherOptions
{
    /// <summary>Inventory files and directories (every non-hidden file directly inside).</summary>
    public IReadOnlyList<string> Paths { get; set; } = [];
    /// <summary>How often file sizes and modification times are checked.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(10);

    public void Validate()
    {
        if (Paths.Count == 0) throw new ArgumentException("The inventory needs at least one file or directory (--inventory).");
        if (PollInterval < TimeSpan.FromMilliseconds(10)) throw new ArgumentException("The inventory poll interval must be at least 10 ms.");
    }
}

/// <summary>
/// Counters of <see cref="InventoryWatcher"/>, published on the Meter <see cref="MeterName"/> while the watcher runs:
/// <c>flowpolicy.inventory.reloads</c> and <c>flowpolicy.inventory.errors</c> (bad records, unreadable files, polls that
/// could not read the directory).
/// </summary>
internal sealed class InventoryWatcherMetrics : IDisposable
{
    public const string MeterName = "FlowPolicy.Inventory";

    internal long LoadsField;
    internal long LoadErrorsField;
    internal long PollErrorsField;
    private Meter? _meter;

    /// <summary>Completed loads, the first one included.</summary>
    public long Loads => Interlocked.Read(ref LoadsField);
    /// <summary>Bad records (or unreadable files) found over all loads.</summary>
    public long LoadErrors => Interlocked.Read(ref LoadErrorsField);
    /// <summary>Polls that could not read the inventory files' sizes and times (a directory being replaced).</summary>
    public long PollErrors => Interlocked.Read(ref PollErrorsField);

    internal void Publish()
    {
        if (_meter is not null) return;
        var meter = new Meter(MeterName);
        meter.CreateObservableCounter("flowpolicy.inventory.reloads", () => Loads, "{load}", "Inventory loads, the first one included");
        meter.CreateObservableCounter("flowpolicy.inventory.errors", () => new Measurement<long>[]
        {
            new(LoadErrors, new KeyValuePair<string, object?>("error.type", "record")),
            new(PollErrors, new KeyValuePair<string, object?>("error.type", "poll")),
        }, "{error}", "Bad inventory records (or unreadable files) over all loads, and failed polls");
        _meter = meter;
    }

    public void Dispose()
    {
        _meter?.Dispose();
        _meter = null;
    }
}

/// <summary>
/// Keeps a <see cref="LeaseIndex"/> current with the inventory files. Polls sizes and modification times; a
/// change is applied once the files look the same on two polls in a row (a half-written file is not loaded),
/// then a new index is built off the hot path and swapped in with one reference write. Readers take
/// <see cref="Current"/> once per batch. Write inventory files atomically (write + rename) all the same.
/// The component shape: options validated by the constructor (which reads nothing), <see cref="StartAsync"/> (loads,
/// then polls), <see cref="StopAsync"/>.
/// </summary>
internal sealed class InventoryWatcher : IServedPorts, IHostedService, IAsyncDisposable
{
    private readonly InventoryWatcherOptions _options;
    private readonly Action<InventoryLoadResult>? _onLoad;
    private LeaseIndex _current = LeaseIndex.Empty;
    private string? _loadedSignature;
    private string? _pendingSignature;
    private CancellationTokenSource? _stopping;
    private Task? _loop;

    /// <param name="onLoad">Called after every load with its result (the CLI prints the errors); must not throw.</param>
    /// <exception cref="ArgumentException">The options are invalid (the message names the setting).</exception>
    public InventoryWatcher(InventoryWatcherOptions options, Action<InventoryLoadResult>? onLoad = null)
    {
        options.Validate();
        _options = options;
        _onLoad = onLoad;
    }

    public LeaseIndex Current => Volatile.Read(ref _current);
    internal InventoryWatcherMetrics Metrics { get; } = new();

    public bool Serves(PackedIp ip, ushort port, byte protocol, DateTime at) => Current.Serves(ip, port, protocol, at);

    /// <summary>The result of the first load (null before <see cref="StartAsync"/>).</summary>
    public InventoryLoadResult? FirstLoad { get; private set; }

    /// <summary>Loads the inventory now (so the index is ready when this returns) and starts polling.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_loop is not null) throw new InvalidOperationException("The inventory watcher is already started.");
        Metrics.Publish();
        FirstLoad = Reload(Signature());
        _stopping = new CancellationTokenSource();
        _loop = PollLoopAsync(_stopping.Token);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_stopping is null || _loop is null) return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        _stopping.Dispose();
        _stopping = null;
        _loop = null;
        Metrics.Dispose();
    }

    public ValueTask DisposeAsync() => new(StopAsync());

    private async Task PollLoopAsync(CancellationToken cancellation)
    {
        using var timer = new PeriodicTimer(_options.PollInterval);
        while (await timer.WaitForNextTickAsync(cancellation).ConfigureAwait(false))
            PollOnce();
    }

    /// <summary>One poll: returns true when it swapped in a new index.</summary>
    internal bool PollOnce()
    {
        string signature;
        try
        {
            signature = Signature();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Interlocked.Increment(ref Metrics.PollErrorsField);
            return false; // a directory being replaced; look again next time
        }
        if (signature == _loadedSignature)
        {
            _pendingSignature = null;
            return false;
        }
        if (signature != _pendingSignature)
        {
            _pendingSignature = signature; // changed since last poll: let it settle
            return false;
        }
        Reload(signature);
        return true;
    }

    private InventoryLoadResult Reload(string signature)
    {
        var result = InventoryLoader.Load(_options.Paths);
        Volatile.Write(ref _current, result.Index);
        _loadedSignature = signature;
        _pendingSignature = null;
        Interlocked.Increment(ref Metrics.LoadsField);
        Interlocked.Add(ref Metrics.LoadErrorsField, result.Errors.Count);
        _onLoad?.Invoke(result);
        return result;
    }

    /// <summary>Names, sizes and modification times of every inventory file, as one comparable string.</summary>
    private string Signature() => InventoryLoader.Signature(_options.Paths);
}
