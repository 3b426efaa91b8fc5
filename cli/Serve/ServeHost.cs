using System.Text.Json;
using FlowPolicy.Cli.Commands;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Ingest.Enrichment;
using FlowPolicy.Ingest.Workers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using OpenTelemetry.Metrics;

namespace FlowPolicy.Cli.Serve;

/// <summary>
/// `flowpolicy serve`: one host (ASP.NET Core minimal API on Microsoft.Extensions.Hosting) running the ingest
/// pipeline (<see cref="IngestPipeline"/>: inventory, then workers), the job scheduler and a small HTTP endpoint (health,
/// readiness, job status, latest reports, /metrics). Components start in order (schema, ingest, scheduler, HTTP) and
/// the host stops them in reverse. The scheduled jobs are the configured list (<see cref="ScheduledJobFactory"/>).
/// </summary>
internal sealed class ServeHost : IAsyncDisposable
{
    private readonly ServeConfig _config;
    private readonly ILoggerFactory _logs;
    private readonly ClickHouseHttpClient _client;
    private IHost? _app;
    private JobScheduler? _scheduler;
    private readonly JobMetrics _jobMetrics = new();
    private MeterProvider? _metricsProvider;
    private readonly Func<JobConfig, IScheduledJob?>? _jobOverride;
    private readonly TimeProvider _time;

    /// <param name="jobOverride">Tests: a job to run instead of the configured kind (null keeps the configured one).</param>
    /// <param name="time">The clock of the scheduler and its jobs' records and retries (tests: a fake one); the system clock by default.</param>
    public ServeHost(ServeConfig config, ILoggerFactory logs, Func<JobConfig, IScheduledJob?>? jobOverride = null, TimeProvider? time = null)
    {
        _jobOverride = jobOverride;
        _time = time ?? TimeProvider.System;
        config.Validate();
        _config = config;
        _logs = logs;
        _client = new ClickHouseHttpClient(ServerOptions.ClickHouseClient(config.ClickHouseUrl, config.ClickHouseDatabase));
    }

    /// <summary>The HTTP address, e.g. http://127.0.0.1:8089 (the real port when 0 was configured); null when HTTP is off.</summary>
    public string? HttpAddress { get; private set; }
    public IngestWorker? Ingest => Pipeline?.Worker;
    public IngestPipeline? Pipeline { get; private set; }
    public JobScheduler Scheduler => _scheduler ?? throw new InvalidOperationException("not started");
    public bool SchemaReady { get; private set; }
    /// <summary>Cancelled when the host stops on its own (a component failed fatally).</summary>
    public CancellationToken Stopping { get; private set; }

    /// <summary>Migrates the schema, then starts every component. Throws when ClickHouse is unreachable.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var log = _logs.CreateLogger("flowpolicy.serve");
        var report = await SchemaMigrator.MigrateAsync(_client, cancellationToken: cancellationToken).ConfigureAwait(false);
        SchemaReady = true;
        log.LogInformation("Schema: ClickHouse {Version}, schema version {Schema}; {Applied} steps applied", report.ServerVersion, report.SchemaVersion, report.Applied.Count);

        var factory = new ScheduledJobFactory(_config, _client, _logs);
        var retry = new RetryPolicy(_config.RetryAttempts, _config.RetryBackoff, _config.RetryMaxBackoff);
        var runners = _config.Jobs.Where(j => j.Enabled)
            .Select(j => new JobRunner(_jobOverride?.Invoke(j) ?? factory.Create(j), _client, retry, _config.CatchUpMaxWindows, _logs.CreateLogger("flowpolicy.jobs"),
                time: _time, meter: _jobMetrics))
            .ToList();
        _scheduler = new JobScheduler(runners, _logs.CreateLogger("flowpolicy.scheduler"), _jobMetrics, _time);

        // With HTTP off, a plain host: nothing listens.
        WebApplicationBuilder? web = _config.HttpEnabled ? WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] }) : null;
        IHostApplicationBuilder builder = web is not null ? web : Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(_logs);
        web?.WebHost.UseUrls($"http://{_config.HttpListen}:{_config.HttpPort}");
        if (_config.IngestEnabled)
        {
            var kafka = ServerOptions.Kafka(_config.KafkaBrokers, _config.KafkaTopic, _config.KafkaGroup, _config.KafkaProperties.ToArray(),
                _config.KafkaGroupInstanceId);
            Pipeline = new IngestPipeline(new IngestPipelineOptions
            {
                Kafka = kafka,
                Inventory = _config.Inventory.ToArray(),
                Worker = new IngestWorkerOptions
                {
                    Lanes = _config.IngestWorkers,
                    BatchRows = _config.IngestBatchRows,
                    BatchInterval = _config.IngestBatchInterval,
                    // The rollup job of the scheduler keeps the rollups; ingest's own loop would do the same work twice.
                    RollupInterval = _config.Jobs.Any(j => j.Enabled && j.Kind == JobKinds.Rollup) ? null : TimeSpan.FromMinutes(5),
                },
            }, _client, _logs);
            builder.Services.AddHostedService(_ => new IngestService(Pipeline));
        }
        if (web is not null && _config.HttpMetrics)
            _metricsProvider = OpenTelemetry.Sdk.CreateMeterProviderBuilder().AddFlowPolicyMeters().AddPrometheusExporter().Build();
        builder.Services.AddSingleton<IHostedService>(_scheduler);
        // Jobs finish their window on stop (it is recorded, or it runs again); give them time.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromMinutes(2));

        IHost app;
        if (web is not null)
        {
            var webApp = web.Build();
            MapEndpoints(webApp);
            if (_metricsProvider is not null) webApp.MapPrometheusScrapingEndpoint("/metrics", _metricsProvider, null, null);
            app = webApp;
        }
        else app = ((HostApplicationBuilder)builder).Build();
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        _app = app;
        Stopping = app.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        if (_config.HttpEnabled)
        {
            HttpAddress = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
            log.LogInformation("HTTP on {Address}: /healthz /readyz /jobs /reports /reports/latest{Metrics}", HttpAddress, _config.HttpMetrics ? " /metrics" : "");
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        // The host stops its services in reverse order of start: the scheduler, then ingest (which flushes, then stops the inventory).
        if (_app is not null) await _app.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is IAsyncDisposable disposable) await disposable.DisposeAsync().ConfigureAwait(false);
        else _app?.Dispose();
        _client.Dispose();
        _jobMetrics.Dispose();
        _metricsProvider?.Dispose();
    }

    private void MapEndpoints(WebApplication app)
    {
        var json = new JsonSerializerOptions { WriteIndented = true };
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/readyz", async (CancellationToken ct) =>
        {
            var problems = new List<string>();
            if (!SchemaReady) problems.Add("schema not migrated");
            if (_scheduler is not { Started: true }) problems.Add("scheduler not running");
            try
            {
                using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
                limit.CancelAfter(TimeSpan.FromSeconds(3));
                await _client.QueryScalarAsync("SELECT 1", limit.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or ClickHouseServerException or TimeoutException or OperationCanceledException)
            {
                problems.Add("ClickHouse unreachable: " + e.Message);
            }
            if (Ingest is { } ingest && ingest.AssignedPartitions.Count == 0 && !ingest.FirstAssignment.IsCompleted) problems.Add("ingest has no Kafka partitions yet");
            return problems.Count == 0
                ? Results.Json(new { ready = true }, json)
                : Results.Json(new { ready = false, problems }, json, statusCode: StatusCodes.Status503ServiceUnavailable);
        });
        app.MapGet("/jobs", async (CancellationToken ct) =>
        {
            var store = new JobRunStore(_client);
            var jobs = new List<object>();
            foreach (var runner in Scheduler.Jobs)
            {
                var runs = await store.RecentAsync(runner.Name, 5, ct).ConfigureAwait(false);
                jobs.Add(new
                {
                    name = runner.Name,
                    schedule = runner.Windows.Schedule,
                    next_fire = Scheduler.NextFire(runner),
                    succeeded = runner.Metrics.Succeeded,
                    failed = runner.Metrics.Failed,
                    skipped = runner.Metrics.Skipped,
                    recent = runs.Select(r => new { window_start = r.Window.Start, window_end = r.Window.End, r.Status, r.Attempt, r.Started, r.Finished, r.Trigger, r.Error, r.Summary }),
                });
            }
            return Results.Json(jobs, json);
        });
        app.MapGet("/reports", () => Results.Json(ReportFolders().Select(r => new { job = r.Job, folder = r.Folder, html = $"/reports/{r.Job}/{r.Folder}/report.html", json = $"/reports/{r.Job}/{r.Folder}/report.json" }), json));
        app.MapGet("/reports/latest", () => ReportFolders().FirstOrDefault() is { Job: not null } latest
            ? Results.Redirect($"/reports/{latest.Job}/{latest.Folder}/report.html")
            : Results.NotFound("no report yet\n"));
        app.MapGet("/reports/{job}/{folder}/{**file}", (string job, string folder, string file) =>
        {
            // Only files inside the output directory, by name: no traversal out of it.
            var root = Path.GetFullPath(_config.Output) + Path.DirectorySeparatorChar;
            var path = Path.GetFullPath(Path.Combine(root, job, folder, file));
            if (!path.StartsWith(root, StringComparison.Ordinal) || !File.Exists(path)) return Results.NotFound();
            var type = Path.GetExtension(path) switch
            {
                ".html" => "text/html; charset=utf-8",
                ".json" => "application/json",
                ".svg" => "image/svg+xml",
                _ => "text/plain; charset=utf-8",
            };
            return Results.File(path, type);
        });
    }

    /// <summary>Report folders of every job, newest first.</summary>
    internal IEnumerable<(string Job, string Folder)> ReportFolders()
    {
        if (!Directory.Exists(_config.Output)) return [];
        return Directory.GetDirectories(_config.Output)
            .SelectMany(job => Directory.GetDirectories(job).Where(f => File.Exists(Path.Combine(f, "report.html"))).Select(f => (Job: Path.GetFileName(job), Folder: Path.GetFileName(f))))
            .OrderByDescending(r => r.Folder, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// The ingest pipeline as a hosted service: runs until the host stops, then flushes and leaves the group; a fatal
    /// worker failure faults it, which stops the host (BackgroundService's default).
    /// </summary>
    private sealed class IngestService(IngestPipeline pipeline) : BackgroundService
    {
        protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.Run(() => pipeline.RunAsync(stoppingToken), CancellationToken.None);
    }
}
