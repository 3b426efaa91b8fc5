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

/// <summary>Builds the configured jobs; shared by serve, `jobs run` and demo so all run the same code.</summary>
internal sealed class ScheduledJobFactory(ServeConfig config, ClickHouseHttpClient client, ILoggerFactory logs)
{
    /// <summary>
    /// Loads the intended policy; the default reads config.Intent (re-read every run: policy edits apply at the next
    /// window), with the namespace labels of the Namespace objects among the inventory files for namespaceSelectors
    /// (the flows table does not store the labels Hubble records carried).
    /// </summary>
    public Func<IIntentEvaluator?> LoadIntent { get; init; } = () => config.Intent is null ? null : new IntentEvaluator(
        new IntentPolicyLoader(new IntentPolicyLoaderOptions()).Load([config.Intent]),
        new IntentEvaluatorOptions
        {
            NamespaceLabels = config.Inventory.Count == 0 ? null : Ingest.Enrichment.InventoryLoader.Load(config.Inventory).NamespaceLabels,
        });

    /// <summary>
    /// The node addresses policies need for egress to the nodes, from the configured inventory (re-read every run;
    /// none without an inventory: then namespaces reaching the nodes get no egress default deny, as the report says).
    /// </summary>
    public Func<ClusterFacts> LoadCluster { get; init; } = () => config.Inventory.Count == 0
        ? ClusterFacts.Unknown
        : new ClusterFacts(InventoryLoader.Load(config.Inventory).Index.NodeAddresses);

    public IScheduledJob Create(JobConfig job) => job.Kind switch
    {
        JobKinds.Analyze => new AnalyzeWindowJob(job, client, LoadIntent, config.AnalysisScope),
        JobKinds.Suggest => new SuggestReportJob(job, client, config.Output, LoadIntent, config.PolicyScope) { LoadCluster = LoadCluster },
        JobKinds.Rollup => new RollupJob(job, client, logs.CreateLogger("flowpolicy.rollup")),
        JobKinds.Retention => new RetentionHousekeepingJob(job, client),
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

    public async Task<string> RunAsync(JobWindow window, CancellationToken cancellationToken)
    {
        var intent = loadIntent() ?? throw new ConfigException("analyze needs an intended policy (intent: DIR)");
        var data = ScheduledJobFactory.DataWindow(config, window);
        var result = await new AnalyzeJob(new AnalyzeJobOptions(), intent, client).RunAsync(data, new ScopedEdgeSource(new ClickHouseEdgeSource(client), scope), cancellationToken).ConfigureAwait(false);
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

    public static string FolderName(DateTime windowEnd) => windowEnd.ToString("yyyy-MM-dd'T'HH-mm-ss'Z'", CultureInfo.InvariantCulture);

    public async Task<string> RunAsync(JobWindow window, CancellationToken cancellationToken)
    {
        var data = ScheduledJobFactory.DataWindow(config, window);
        var edges = await new ClickHouseEdgeSource(client).ReadEdgesAsync(data, cancellationToken).ConfigureAwait(false);
        var directory = await WriteReportAsync(Path.Combine(output, config.Name), FolderName(window.End), data, edges, loadIntent(), config.Emit, config.Layout, cancellationToken,
            scope, config.AllowEmpty, config.ShrinkThreshold, LoadCluster()).ConfigureAwait(false);
        return $"{edges.Count} edges -> {directory}";
    }

    /// <summary>Writes one dated report folder under <paramref name="jobDirectory"/>; returns its path.</summary>
    /// <param name="scope">Namespaces that get policies; null: <see cref="NamespaceScope.ForPolicies"/> with no patterns (system namespaces excluded).</param>
    /// <param name="allowEmpty">Write a report whose suggestion has no rules; by default such a window is skipped.</param>
    /// <param name="shrinkThreshold">Skip a window with fewer rules than this share of the previous report's; 0: never.</param>
    /// <exception cref="JobSkippedException">No rules, or far fewer than the previous report: no folder is written, so the
    /// latest report (and the policies a GitOps tool takes from it) stays what it was.</exception>
    public static async Task<string> WriteReportAsync(string jobDirectory, string folder, AnalysisWindow data, IReadOnlyList<Edge> edges,
        IIntentEvaluator? intent, IReadOnlyList<string> emit, SuggestionLayout layout, CancellationToken cancellationToken,
        NamespaceScope? scope = null, bool allowEmpty = false, double shrinkThreshold = 0.5, ClusterFacts? cluster = null)
    {
        var directory = Path.Combine(jobDirectory, folder);
        // The previous report is the newest other folder: its edges tell which ones are new.
        var previous = Directory.Exists(jobDirectory)
            ? Directory.GetDirectories(jobDirectory).Select(Path.GetFileName).Where(n => string.CompareOrdinal(n, folder) < 0 && File.Exists(Path.Combine(jobDirectory, n!, "report.json")))
                .OrderByDescending(n => n, StringComparer.Ordinal).FirstOrDefault()
            : null;
        var previousEdges = previous is null ? null : PipelineReport.ReadEdgeKeys(Path.Combine(jobDirectory, previous, "report.json"));

        var inference = new RuleInference(new SuggestOptions { WindowStart = data.From, WindowEnd = data.To });
        var set = SuggestionScope.Restrict(inference.Infer(edges), scope ?? NamespaceScope.ForPolicies([], []));
        var diff = intent is null ? null : IntentDiff.Compute(set, intent);
        // Each report is a new folder, so "the output it replaces" is the previous report: the newest one is what
        // /reports/latest and a GitOps tool reading the newest folder take as the policies.
        var previousRules = previous is null ? null : PipelineReport.ReadRuleCount(Path.Combine(jobDirectory, previous, "report.json"));
        var outputOptions = new SuggestionOutputOptions
        {
            Directory = directory, Formats = emit, Layout = layout, AllowEmpty = allowEmpty, ShrinkThreshold = shrinkThreshold,
            Cluster = cluster ?? ClusterFacts.Unknown,
            Baseline = previousRules is { } count ? new SuggestionBaseline(count, $"report {previous}") : null,
        };
        try
        {
            new SuggestionOutput(outputOptions).Write(set, diff);
        }
        catch (SuggestionRefusedException refused)
        {
            var latest = previous is null ? "there is no earlier report" : $"report {previous} stays the latest";
            var force = refused.Reason == SuggestionRefusal.Empty ? "allow_empty: true" : "shrink_threshold: 0";
            throw new JobSkippedException($"{SliJson.Time(data.From)}..{SliJson.Time(data.To)}: {refused.Problem}; no report written, {latest} ({force} writes it anyway)");
        }
        var suggestionMarkdown = await File.ReadAllTextAsync(Path.Combine(directory, "report.md"), cancellationToken).ConfigureAwait(false);

        SliReport? slis = null;
        string? svg = null;
        int hidden = 0;
        if (intent is not null)
        {
            slis = SliCalculator.Compute(edges, intent, data);
            // The map shows the dependencies; noise (scanners, debug pods) would bury them in red and has its own table.
            var noise = set.LeftOut.Where(l => l.Reason is LeaveOutReason.Scanner or LeaveOutReason.BarePod).Select(l => PipelineReport.EdgeKey(l.Edge)).ToHashSet(StringComparer.Ordinal);
            var drawn = slis.Edges.Where(a => !noise.Contains(PipelineReport.EdgeKey(a.Edge))).ToList();
            hidden = slis.Edges.Count - drawn.Count;
            var graph = DependencyGraph.Build(data, drawn);
            try
            {
                svg = await new GraphvizRenderer().RenderSvgAsync(GraphDot.Render(graph), cancellationToken).ConfigureAwait(false);
            }
            catch (GraphvizException)
            {
                svg = null; // the report is still useful without the map; the SLIs are in it
            }
        }
        PipelineReport.Write(directory, new PipelineReportInput
        {
            Title = "FlowPolicy report " + data.To.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) + " UTC",
            Window = data,
            Edges = edges,
            Suggestions = set,
            Diff = diff,
            Slis = slis,
            GraphSvg = svg,
            MapEdgesLeftOut = hidden,
            PreviousEdges = previousEdges,
            PreviousReport = previousEdges is null ? null : previous,
        }, suggestionMarkdown);
        return directory;
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
        var dropped = await RetentionJob.DropExpiredPartitionsAsync(client, new SchemaOptions(), DateTime.UtcNow, cancellationToken).ConfigureAwait(false);
        return dropped.Count == 0 ? "nothing expired" : "dropped " + string.Join(", ", dropped);
    }
}
