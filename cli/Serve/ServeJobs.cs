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
using FlowPolicy.Core.Net;
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

/// <summary>Builds the configured jobs; shared by serve, `jobs run` and demo so all run the same code.</summary>
internal sealed class ScheduledJobFactory(ServeConfig config, ClickHouseHttpClient client, ILoggerFactory logs)
{
    /// <summary>
    /// Loads the intended policy; the default reads config.Intent (re-read every run: policy edits apply at the next
    /// window), with the namespace labels of the Namespace objects among the inventory files for namespaceSelectors
    /// (the flows table does not store the labels Hubble records carried).
    /// </summary>
    public Func<IIntentEvaluator?> LoadIntent { get; init; } = () => LoadIntentPolicies(config) is not var (policies, labels, nodes) ? null
        : new IntentEvaluator(policies, new IntentEvaluatorOptions { NamespaceLabels = labels, NodeAddresses = nodes });

    /// <summary>
    /// The L7 rules of the intended policy (Cilium http/kafka/dns/toFQDNs, Istio operations), loaded as <see cref="LoadIntent"/>
    /// loads the rest, for analyze's per-operation SLIs; null without `intent`.
    /// </summary>
    public Func<L7IntentEvaluator?> LoadL7Intent { get; init; } = () => LoadIntentPolicies(config) is not var (policies, labels, _) ? null
        : new L7IntentEvaluator(policies, new L7IntentEvaluatorOptions { NamespaceLabels = labels });

    /// <summary>The intent's policies with what the inventory knows for them: namespace labels, node addresses by node name.</summary>
    private static (IntentPolicySet Policies, IReadOnlyDictionary<string, IReadOnlyList<KeyValuePair<string, string>>>? NamespaceLabels,
        IReadOnlyDictionary<string, IReadOnlyList<PackedIp>>? NodeAddresses)? LoadIntentPolicies(ServeConfig config)
    {
        if (config.Intent is null) return null;
        var policies = new IntentPolicyLoader(new IntentPolicyLoaderOptions()).Load([config.Intent]);
        if (config.Inventory.Count == 0) return (policies, null, null);
        var inventory = InventoryLoader.Load(config.Inventory);
        return (policies, inventory.NamespaceLabels, inventory.Index.NodeAddressesByName);
    }

    /// <summary>
    /// The node addresses policies need for egress to the nodes, from the configured inventory (re-read every run;
    /// none without an inventory: then namespaces reaching the nodes get no egress default deny, as the report says).
    /// </summary>
    public Func<ClusterFacts> LoadCluster { get; init; } = () => config.Inventory.Count == 0
        ? ClusterFacts.Unknown
        : new ClusterFacts(InventoryLoader.Load(config.Inventory).Index.NodeAddresses);

    /// <summary>Where analyze and anomalies runs report what they recorded (SLO breaches, anomalies); null: nowhere.</summary>
    public WebhookNotifier? Webhook { get; init; }

    /// <summary>
    /// The intent files for a report's drift remediation, loaded as <see cref="LoadIntent"/> loads them (the inventory's
    /// namespace labels read once per call: once per report); null without `intent`.
    /// </summary>
    public IntentFiles? IntentFiles()
    {
        if (config.Intent is not { } path) return null;
        var inventory = config.Inventory.Count == 0 ? null : InventoryLoader.Load(config.Inventory);
        return new IntentFiles(path, dir => new IntentEvaluator(new IntentPolicyLoader(new IntentPolicyLoaderOptions()).Load([dir]),
            new IntentEvaluatorOptions { NamespaceLabels = inventory?.NamespaceLabels, NodeAddresses = inventory?.Index.NodeAddressesByName }));
    }

    public IScheduledJob Create(JobConfig job) => job.Kind switch
    {
        JobKinds.Analyze => new AnalyzeWindowJob(job, client, LoadIntent, config.AnalysisScope)
        {
            LoadL7Intent = LoadL7Intent,
            Recorded = Webhook is { } hook ? (window, report) => hook.SlisRecorded(job.Name, window, report) : null,
            LoadIntentFiles = IntentFiles,
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

internal sealed class AnalyzeWindowJob(JobConfig config, ClickHouseHttpClient client, Func<IIntentEvaluator?> loadIntent, NamespaceScope scope) : IScheduledJob
{
    public JobConfig Config => config;

    /// <summary>Called with the SLIs a run stored (the webhook notifier); it only queues, never waits.</summary>
    public Action<AnalysisWindow, SliReport>? Recorded { get; init; }

    /// <summary>The intent's L7 rules (re-read every run, as the intent is); null: per-operation SLIs judged by port only.</summary>
    public Func<L7IntentEvaluator?> LoadL7Intent { get; init; } = () => null;

    /// <summary>The intent as files (called per run), for each drift event's remediation in sli_drift; null: none stored ('').</summary>
    public Func<IntentFiles?> LoadIntentFiles { get; init; } = () => null;

    /// <summary>The drift events' remediations, as the report computes them (no suggestion here: no rule ids, no noise).</summary>
    private DriftRemediator? Remediator() => LoadIntentFiles()?.StoredRemediations();

    public async Task<string> RunAsync(JobWindow window, CancellationToken cancellationToken)
    {
        var intent = loadIntent() ?? throw new ConfigException("analyze needs an intended policy (intent: DIR)");
        var data = ScheduledJobFactory.DataWindow(config, window);
        var result = await new AnalyzeJob(new AnalyzeJobOptions(), intent, client, LoadL7Intent()) { Remediate = Remediator() }.RunAsync(data, new ScopedEdgeSource(new ClickHouseEdgeSource(client), scope), cancellationToken).ConfigureAwait(false);
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
