using FlowPolicy.ClickHouse;
using FlowPolicy.Ingest.Enrichment;
using FlowPolicy.Ingest.Kafka;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FlowPolicy.Ingest.Workers;

/// <summary>Options of <see cref="IngestPipeline"/>: where to read, how to batch, which inventory enriches.</summary>
public sealed class IngestPipelineOptions
{
    public required KafkaOptions Kafka { get; init; }
    public IngestWorkerOptions Worker { get; init; } = new();
    /// <summary>Inventory files and directories; none: flows are stored without workload identities from an inventory.</summary>
    public IReadOnlyList<string> Inventory { get; init; } = [];
    public TimeSpan InventoryPollInterval { get; init; } = new InventoryWatcherOptions().PollInterval;

    /// <exception cref="ArgumentException">A setting is invalid; the message names it.</exception>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Kafka);
        if (Kafka.Validate() is { } error) throw new ArgumentException(error, nameof(Kafka));
        Worker.Validate();
        if (Inventory.Count > 0) new InventoryWatcherOptions { Paths = Inventory, PollInterval = InventoryPollInterval }.Validate();
    }
}

/// <summary>
/// The one ingest composition, used by <c>flowpolicy ingest</c>, <c>demo</c> and <c>serve</c>: the inventory watcher
/// (when inventory files are given) and the Kafka -> ClickHouse worker enriching with it. The constructor builds both
/// and starts nothing; <see cref="StartAsync"/> starts them in that order (the index is loaded before the first flow is
/// enriched), <see cref="StopAsync"/> stops them in reverse (the worker flushes its batches first).
/// </summary>
public sealed class IngestPipeline : IHostedService
{
    /// <summary>The inventory watcher's Meter (its metrics type is internal to ingest).</summary>
    public const string InventoryMeterName = InventoryWatcherMetrics.MeterName;

    private readonly ILogger _log;

    /// <exception cref="ArgumentException">The options are invalid; the message names the setting.</exception>
    public IngestPipeline(IngestPipelineOptions options, ClickHouseHttpClient client, ILoggerFactory logs)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(logs);
        options.Validate();
        _log = logs.CreateLogger("flowpolicy.ingest");
        Inventory = options.Inventory.Count == 0 ? null : new InventoryWatcher(
            new InventoryWatcherOptions { Paths = options.Inventory, PollInterval = options.InventoryPollInterval }, LogLoad);
        Worker = new IngestWorker(options.Kafka, client, options.Worker, Inventory, logs);
    }

    internal InventoryWatcher? Inventory { get; }
    public IngestWorker Worker { get; }
    public IngestMetrics Metrics => Worker.Metrics;

    /// <summary>Completes when the worker stopped; faulted when it failed on its own (Kafka fenced it, say).</summary>
    public Task Completion => Worker.Completion;

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (Inventory is not null) await Inventory.StartAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await Worker.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            if (Inventory is not null) await Inventory.StopAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await Worker.StopAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (Inventory is not null) await Inventory.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Starts, runs until <paramref name="stop"/> is cancelled or the worker fails, then stops (in reverse).</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        await StartAsync(stop).ConfigureAwait(false);
        try
        {
            await Completion.WaitAsync(stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        finally
        {
            await StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    private void LogLoad(InventoryLoadResult result)
    {
        _log.LogInformation("Inventory loaded: {Files} files, {Errors} bad records", result.FileCount, result.Errors.Count);
        foreach (var error in result.Errors.Take(5)) _log.LogWarning("Inventory: {Error}", error.ToString());
    }
}
