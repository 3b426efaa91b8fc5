using System.Globalization;
using FlowPolicy.Analytics.Baseline;
using FlowPolicy.Analytics.Edges;
using FlowPolicy.Analytics.Graph;
using FlowPolicy.Analytics.Intent;
using FlowPolicy.Analytics.Jobs;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Core.Edges;
using FlowPolicy.Ingest.Enrichment;
using FlowPolicy.Ingest.Workers;
using FlowPolicy.Suggest.Emitters;
using FlowPolicy.Suggest.Inference;
using FlowPolicy.Suggest.Reports;
using Microsoft.Extensions.Logging;

namespace FlowPolicy.Cli.Serve;

/// <summary>A job serve schedules: runs one window, returns a one-line summary; throws to fail (and be retried).</summary>
internal interface IScheduledJob
{
    JobConfig Config { get; }
    Task<string> RunAsync(JobWindow window, CancellationToken cancellationToken);
}

/// <summary>The intended policy as one run reads it (the policy files and the inventory once).</summary>
/// <param name="Evaluator">L3/L4: NetworkPolicies, Cilium, Istio and FlowPolicies.</param>
/// <param name="L7">The L7 rules, for the per-operation SLIs.</param>
/// <param name="Files">The files drift remediation checks its diffs against.</param>
internal sealed record RunIntent(IIntentEvaluator Evaluator, L7IntentEvaluator L7, IntentFiles Files);

/// <summary>Builds the configured jobs; shared by serve, `jobs run` and demo so all run the same code.</summary>
internal sealed class ScheduledJobFactory(ServeConfig config, ClickHouseHttpClient client, ILoggerFactory logs)
{
    private readonly ServeInventory _inventory = new(config.Inventory);

    /// <summary>
    /// Loads the intended policy: config.Intent, re-read every run (policy edits apply at the next window), and the
    /// inventory for the namespace labels of its Namespace objects (namespaceSelectors: the flows table does not store
    /// the labels Hubble records carried) and its node addresses (ipBlocks of nodes).
    /// </summary>
    public RunIntent? LoadRunIntent()
    {
        if (config.Intent is not { } path) return null;
        var policies = new IntentPolicyLoader(new IntentPolicyLoaderOptions()).Load([path]);
        var inventory = _inventory.Load();
        return new RunIntent(new IntentEvaluator(policies, EvaluatorOptions(inventory, config.Istio)),
            new L7IntentEvaluator(policies, new L7IntentEvaluatorOptions { NamespaceLabels = inventory?.NamespaceLabels, Istio = config.Istio }),
            IntentFilesOf(path, inventory, config.Istio));
    }

    /// <summary>The intended policy's L3/L4 evaluator (<see cref="LoadRunIntent"/>'s); null without `intent`.</summary>
    public IIntentEvaluator? LoadIntent() => LoadRunIntent()?.Evaluator;

    private static IntentEvaluatorOptions EvaluatorOptions(InventoryLoadResult? inventory, IstioMesh istio) =>
        new() { NamespaceLabels = inventory?.NamespaceLabels, NodeAddresses = inventory?.Index.NodeAddressesByName, Istio = istio };

    private static IntentFiles IntentFilesOf(string path, InventoryLoadResult? inventory, IstioMesh istio) =>
        new(path, dir => new IntentEvaluator(new IntentPolicyLoader(new IntentPolicyLoaderOptions()).Load([dir]), EvaluatorOptions(inventory, istio)));

    /// <summary>
    /// The node addresses policies need for egress to the nodes, from the configured inventory (none without one: then
    /// namespaces reaching the nodes get no egress default deny, as the report says), and the mesh's trust domain.
    /// </summary>
    public ClusterFacts LoadCluster() =>
        new ClusterFacts(_inventory.Load()?.Index.NodeAddresses ?? []) { IstioTrustDomain = config.Istio.TrustDomain };

    /// <summary>Where analyze and anomalies runs report what they recorded (SLO breaches, anomalies); null: nowhere.</summary>
    public WebhookNotifier? Webhook { get; init; }

    /// <summary>The intent files for a report's drift remediation, loaded as <see cref="LoadRunIntent"/> loads them; null without `intent`.</summary>
    public IntentFiles? IntentFiles() => config.Intent is not { } path ? null : IntentFilesOf(path, _inventory.Load(), config.Istio);

    public IScheduledJob Create(JobConfig job) => job.Kind switch
    {
        JobKinds.Analyze => new AnalyzeWindowJob(job, client, LoadRunIntent, config.AnalysisScope)
        {
            Recorded = Webhook is { } hook ? (window, report) => hook.SlisRecorded(job.Name, window, report) : null,
        },
        JobKinds.Suggest => new SuggestReportJob(job, client, config.Output, LoadIntent, config.PolicyScope) { LoadCluster = LoadCluster, LoadIntentFiles = IntentFiles },
        JobKinds.Rollup => new RollupJob(job, client, logs.CreateLogger("flowpolicy.rollup")),
        JobKinds.Retention => new RetentionHousekeepingJob(job, client),
        JobKinds.Anomalies => new AnomalyWindowJob(job, client)
        {
            Recorded = Webhook is { } hook ? (window, report) => hook.AnomaliesRecorded(job.Name, window, report) : null,
        },
        _ => throw new ConfigException($"jobs.{job.Name}: unknown kind '{job.Kind}'"),
    };

    /// <summary>
    /// The data window of a run: whole hours ending at the fire time rounded down to the hour (the rollups are hourly
    /// and an hour is only complete once it has ended), as long as the job's window setting, else the schedule period.
    /// </summary>
    public static AnalysisWindow DataWindow(JobConfig job, JobWindow window)
    {
        var end = new DateTime(window.End.Ticks - window.End.Ticks % TimeSpan.TicksPerHour, DateTimeKind.Utc);
        var length = job.Window ?? TimeSpan.FromHours(Math.Max(1, Math.Ceiling((window.End - window.Start).TotalHours)));
        return new AnalysisWindow(end - length, end);
    }
}

internal sealed class AnalyzeWindowJob(JobConfig config, ClickHouseHttpClient client, Func<RunIntent?> loadIntent, NamespaceScope scope) : IScheduledJob
{
    public JobConfig Config => config;

    /// <summary>Called with the SLIs a run stored (the webhook notifier); it only queues, never waits.</summary>
    public Action<AnalysisWindow, SliReport>? Recorded { get; init; }

    /// <summary>What a run judges with (re-read every run): the L3/L4 evaluator, the L7 rules (per-operation SLIs) and the
    /// files each stored drift event's remediation is checked against.</summary>
    public Func<RunIntent?> LoadIntent => loadIntent;

    public async Task<string> RunAsync(JobWindow window, CancellationToken cancellationToken)
    {
        var intent = loadIntent() ?? throw new ConfigException("analyze needs an intended policy (intent: DIR)");
        var data = ScheduledJobFactory.DataWindow(config, window);
        // The drift remediations as the report computes them, without a suggestion (no rule ids, no noise).
        var job = new AnalyzeJob(new AnalyzeJobOptions(), intent.Evaluator, client, intent.L7) { Remediate = intent.Files.StoredRemediations() };
        var result = await job.RunAsync(data, new ScopedEdgeSource(new ClickHouseEdgeSource(client), scope), cancellationToken).ConfigureAwait(false);
        Recorded?.Invoke(data, result.Report);
        var all = result.Report.Overall;
        return string.Create(CultureInfo.InvariantCulture,
            $"{SliJson.Time(data.From)}..{SliJson.Time(data.To)}: {all.Flows} flows, {result.Report.Edges.Count} edges, compliance {(all.ComplianceRate is { } r ? (r * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%" : "n/a")}, {result.Stored?.SliRows ?? 0} SLI rows");
    }
}

/// <summary>The daily report: suggestions (policy files), SLIs and the service map, in OUTPUT/JOB/&lt;window end&gt;/.</summary>
internal sealed class SuggestReportJob(JobConfig config, ClickHouseHttpClient client, string output, Func<IIntentEvaluator?> loadIntent, NamespaceScope scope) : IScheduledJob
{
    public JobConfig Config => config;

    public Func<ClusterFacts> LoadCluster { get; init; } = () => ClusterFacts.Unknown;

    /// <summary>The intent as files, for the report's drift remediation diffs (called per run); null: the report has no such section.</summary>
    public Func<IntentFiles?> LoadIntentFiles { get; init; } = () => null;

    public static string FolderName(DateTime windowEnd) => windowEnd.ToString("yyyy-MM-dd'T'HH-mm-ss'Z'", CultureInfo.InvariantCulture);

    public async Task<string> RunAsync(JobWindow window, CancellationToken cancellationToken)
    {
        var data = ScheduledJobFactory.DataWindow(config, window);
        var source = new ClickHouseEdgeSource(client);
        var edges = await source.ReadEdgesAsync(data, cancellationToken).ConfigureAwait(false);
        var counts = await source.ReadInputCountsAsync(data, cancellationToken).ConfigureAwait(false);
        // The report's "Unusual traffic": the window's last day judged against the days before it in the window.
        var series = await new Analytics.Anomalies.ClickHouseHourlySeries(client).ReadAsync(data, cancellationToken).ConfigureAwait(false);
        int hours = (int)((data.To - data.From).Ticks / TimeSpan.TicksPerHour);
        var anomalies = Analytics.Anomalies.AnomalyDetector.Detect(series, new Analytics.Anomalies.AnomalyOptions(), data.From, hours, Math.Max(0, hours - 24)).Anomalies;
        try
        {
            var directory = await SuggestReport.WriteAsync(Path.Combine(output, config.Name), FolderName(window.End), data, edges, loadIntent(), config.Emit, config.Layout,
                cancellationToken, scope, config.AllowEmpty, config.ShrinkThreshold, LoadCluster(), anomalies, counts, LoadIntentFiles(), config.L7).ConfigureAwait(false);
            return $"{edges.Count} edges -> {directory}";
        }
        catch (SuggestReportSkippedException skipped)
        {
            throw new JobSkippedException(skipped.Message);
        }
    }
}

/// <summary>Anomalies of the window's hours against the history before them -> flow_anomalies (the window's rows replaced).</summary>
internal sealed class AnomalyWindowJob(JobConfig config, ClickHouseHttpClient client) : IScheduledJob
{
    public JobConfig Config => config;

    /// <summary>Called with what a run recorded (the webhook notifier); never awaited by the run.</summary>
    public Action<AnalysisWindow, Analytics.Anomalies.AnomalyReport>? Recorded { get; init; }

    public async Task<string> RunAsync(JobWindow window, CancellationToken cancellationToken)
    {
        var data = ScheduledJobFactory.DataWindow(config, window);
        var options = new Analytics.Anomalies.AnomalyJobOptions { History = config.History ?? TimeSpan.FromDays(28) };
        var (report, stored) = await new Analytics.Anomalies.AnomalyJob(options, client).RunAsync(data, cancellationToken).ConfigureAwait(false);
        Recorded?.Invoke(data, report);
        return string.Create(CultureInfo.InvariantCulture,
            $"{SliJson.Time(data.From)}..{SliJson.Time(data.To)}: {report.SeriesExamined} edges, {stored} anomalies");
    }
}

internal sealed class RollupJob(JobConfig config, ClickHouseHttpClient client, ILogger log) : IScheduledJob
{
    public JobConfig Config => config;

    public async Task<string> RunAsync(JobWindow window, CancellationToken cancellationToken)
    {
        var metrics = new IngestMetrics();
        int rebuilt = await new EdgeRollupJob(client, metrics, log).RunOnceAsync(cancellationToken).ConfigureAwait(false);
        // EdgeRollupJob logs and counts its failures for ingest's loop; here a failure must fail the run so it is retried.
        if (metrics.RollupFailures > 0) throw new InvalidOperationException($"{metrics.RollupFailures} edge rollup rebuilds failed (see the log)");
        return string.Create(CultureInfo.InvariantCulture, $"{rebuilt} days rebuilt");
    }
}

internal sealed class RetentionHousekeepingJob(JobConfig config, ClickHouseHttpClient client) : IScheduledJob
{
    public JobConfig Config => config;

    public async Task<string> RunAsync(JobWindow window, CancellationToken cancellationToken)
    {
        // The window's end is the fire time on the scheduler's clock: no wall-clock read here.
        var dropped = await RetentionJob.DropExpiredPartitionsAsync(client, new SchemaOptions(), window.End, cancellationToken).ConfigureAwait(false);
        return dropped.Count == 0 ? "nothing expired" : "dropped " + string.Join(", ", dropped);
    }
}

/// <summary>
/// The configured inventory files, read again only when they changed: a suggest run needs them three times (the
/// intent's evaluator, the cluster facts, the drift remediation files) and each job runs every window. A change is a
/// file added, removed, resized or rewritten (its last write time), so an edit is seen at the next run as before.
/// </summary>
internal sealed class ServeInventory(IReadOnlyList<string> paths)
{
    private readonly Lock _gate = new();
    private string? _signature;
    private InventoryLoadResult? _loaded;

    /// <summary>The inventory as the files are now; null when none is configured.</summary>
    public InventoryLoadResult? Load()
    {
        if (paths.Count == 0) return null;
        string signature = InventoryLoader.Signature(paths);
        lock (_gate)
        {
            if (_loaded is null || signature != _signature)
            {
                _loaded = InventoryLoader.Load(paths);
                _signature = signature;
            }
            return _loaded;
        }
    }
}
