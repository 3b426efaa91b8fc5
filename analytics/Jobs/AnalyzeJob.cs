using System.Diagnostics;
using System.Diagnostics.Metrics;
using FlowPolicy.Analytics.Graph;
using FlowPolicy.Analytics.Intent;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.ClickHouse;
using FlowPolicy.Core.Edges;

namespace FlowPolicy.Analytics.Jobs;

public sealed class AnalyzeJobOptions
{
    /// <summary>Where slis.json, graph.json and graph.svg go; null writes no files.</summary>
    public string? OutputDirectory { get; init; }
    /// <summary>Render graph.svg with Graphviz; when `dot` fails, graph.dot is written instead and the run goes on.</summary>
    public bool RenderSvg { get; init; } = true;
    public GraphvizOptions Graphviz { get; init; } = new();

    public void Validate()
    {
        if (OutputDirectory is { Length: 0 }) throw new ArgumentException("the output directory is empty");
        Graphviz.Validate();
    }
}

/// <summary>What one run produced.</summary>
public sealed record AnalyzeResult(SliReport Report, DependencyGraph Graph, IReadOnlyList<string> FilesWritten,
    SliStoreResult? Stored, string? SvgProblem);

/// <summary>
/// The analyze batch job: edges of a window (from ClickHouse rollups or files) -> intent decisions -> dependency graph
/// and SLIs -> files and/or the SLI tables. Stateless between runs, so a scheduler can call
/// <see cref="RunAsync"/> for each closed window; rerunning a window replaces its stored rows.
/// </summary>
public sealed class AnalyzeJob
{
    private readonly AnalyzeJobOptions _options;
    private readonly IIntentEvaluator _intent;
    private readonly L7IntentEvaluator? _l7;
    private readonly ClickHouseHttpClient? _store;

    /// <param name="store">Where the SLI rows go; null writes none (embedded mode).</param>
    /// <param name="l7">The intent's L7 rules, for the SLIs per L7 operation; null judges operations by their port alone.</param>
    public AnalyzeJob(AnalyzeJobOptions options, IIntentEvaluator intent, ClickHouseHttpClient? store = null, L7IntentEvaluator? l7 = null)
    {
        _l7 = l7;
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _intent = intent ?? throw new ArgumentNullException(nameof(intent));
        _store = store;
    }

    /// <summary>
    /// The analyze job's Meter (docs/metrics.md). Static, as a library's meters are: the job is a stateless function of
    /// its window, created per run, and a process runs one kind of it.
    /// </summary>
    public const string MeterName = "FlowPolicy.Analytics";
    private static readonly Meter Meter = new(MeterName);
    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("flowpolicy.analyze.duration", "s",
        "Time of one analyze run (read edges, SLIs, graph, files, SLI tables)",
        advice: Core.Metrics.DurationBuckets.Runs);
    private static readonly Counter<long> EdgesRead = Meter.CreateCounter<long>("flowpolicy.analyze.edges", "{edge}", "Edges analyze runs read");
    private static readonly Counter<long> RowsStored = Meter.CreateCounter<long>("flowpolicy.analyze.rows.stored", "{row}", "Rows analyze runs stored, by table");
    private static readonly Counter<long> RenderFailures = Meter.CreateCounter<long>("flowpolicy.analyze.render.failures", "{failure}",
        "Dependency graphs Graphviz could not render (graph.dot is written instead)");

    /// <summary>Computes the drift events' remediations stored in sli_drift.remediation (serve passes suggest's); null stores ''.</summary>
    public DriftRemediator? Remediate { get; init; }

    public async Task<AnalyzeResult> RunAsync(AnalysisWindow window, IEdgeSource source, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        var edges = await source.ReadEdgesAsync(window, cancellationToken).ConfigureAwait(false);
        EdgesRead.Add(edges.Count);
        var report = SliCalculator.Compute(edges, _intent, window, _l7);
        var graph = DependencyGraph.Build(window, report.Edges);

        var files = new List<string>();
        string? svgProblem = null;
        if (_options.OutputDirectory is { } dir)
        {
            Directory.CreateDirectory(dir);
            // Two independent documents of hundreds of megabytes each at a million edges: written side by side.
            var slis = Task.Run(() => WriteFileAsync(dir, "slis.json", s => SliJson.Write(s, report), cancellationToken), cancellationToken);
            var graphFile = Task.Run(() => WriteFileAsync(dir, "graph.json", s => GraphJson.Write(s, graph), cancellationToken), cancellationToken);
            files.Add(await slis.ConfigureAwait(false));
            files.Add(await graphFile.ConfigureAwait(false));
            if (_options.RenderSvg)
            {
                var dot = GraphDot.Render(graph);
                try
                {
                    var svg = await new GraphvizRenderer(_options.Graphviz).RenderSvgAsync(dot, cancellationToken).ConfigureAwait(false);
                    var path = Path.Combine(dir, "graph.svg");
                    await File.WriteAllTextAsync(path, svg, cancellationToken).ConfigureAwait(false);
                    files.Add(path);
                }
                catch (GraphvizException ex)
                {
                    // The SLIs are the product; a missing Graphviz must not lose them. The DOT source renders later.
                    RenderFailures.Add(1);
                    svgProblem = ex.Message;
                    var path = Path.Combine(dir, "graph.dot");
                    await File.WriteAllTextAsync(path, dot, cancellationToken).ConfigureAwait(false);
                    files.Add(path);
                }
            }
        }

        SliStoreResult? stored = null;
        if (_store is not null)
        {
            var remediations = Remediate?.Invoke(report);
            stored = await SliStore.ReplaceWindowAsync(_store, report, DateTime.UtcNow, cancellationToken, remediations).ConfigureAwait(false);
            RowsStored.Add(stored.SliRows, new KeyValuePair<string, object?>("table", "sli_windows"));
            RowsStored.Add(stored.DriftRows, new KeyValuePair<string, object?>("table", "sli_drift"));
            RowsStored.Add(stored.L7OperationRows, new KeyValuePair<string, object?>("table", "sli_l7_operations"));
        }
        Duration.Record(clock.Elapsed.TotalSeconds);
        return new AnalyzeResult(report, graph, files, stored, svgProblem);
    }

    private static Task<string> WriteFileAsync(string dir, string name, Action<Stream> write, CancellationToken cancellationToken)
    {
        var path = Path.Combine(dir, name);
        // Streamed to a temporary file that replaces the old one only when complete: an exception while writing JSON
        // leaves no half document behind, and a large document is never held in memory whole.
        var temporary = path + ".tmp";
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 64 * 1024))
                write(stream);
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
        return Task.FromResult(path);
    }
}
