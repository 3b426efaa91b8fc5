using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using FlowPolicy.Analytics.Baseline;
using FlowPolicy.Analytics.Graph;
using FlowPolicy.Analytics.Intent;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Core.Edges;
using FlowPolicy.Suggest.Emitters;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Reports;

/// <summary>
/// A report folder declined: no rules, or far fewer than the previous report (<see cref="Reason"/>). Nothing was written,
/// so the latest report (and the policies a GitOps tool takes from it) stays what it was. serve records the window as skipped.
/// </summary>
public sealed class SuggestReportSkippedException(SuggestionRefusal reason, string message) : Exception(message)
{
    public SuggestionRefusal Reason { get; } = reason;
}

/// <summary>
/// The suggest job of serve (and demo): one dated report folder of a window's edges: the suggested policies, the SLIs and
/// the service map when an intended policy is given, and the comparison with the previous report. The scheduler in
/// cli/Serve only wires it to a window and records the outcome.
/// </summary>
public static class SuggestReport
{
    /// <summary>Suggest's Meter (docs/metrics.md), shared with inference (<see cref="SuggestMetrics"/>); static, as the report writer is a function of its inputs.</summary>
    public const string MeterName = SuggestMetrics.MeterName;
    private static Meter Meter => SuggestMetrics.Meter;
    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("flowpolicy.suggest.duration", "s",
        "Time to write one report folder (inference, policy files, SLIs, service map)",
        advice: Core.Metrics.DurationBuckets.Runs);
    private static readonly Counter<long> Runs = Meter.CreateCounter<long>("flowpolicy.suggest.reports", "{report}", "Report folders written or declined, by outcome");
    private static readonly Counter<long> Rules = Meter.CreateCounter<long>("flowpolicy.suggest.rules", "{rule}", "Rules in the reports written");

    /// <summary>Writes one dated report folder under <paramref name="jobDirectory"/>; returns its path.</summary>
    /// <param name="scope">Namespaces that get policies; null: <see cref="NamespaceScope.ForPolicies"/> with no patterns (system namespaces excluded).</param>
    /// <param name="allowEmpty">Write a report whose suggestion has no rules; by default such a window is skipped.</param>
    /// <param name="shrinkThreshold">Skip a window with fewer rules than this share of the previous report's; 0: never.</param>
    /// <param name="l7">Write L7 rules and toFQDNs where the edges carry L7 facts, as `suggest --l7` (docs/l7.md).</param>
    /// <exception cref="SuggestReportSkippedException">No rules, or far fewer than the previous report: no folder is written, so the
    /// latest report (and the policies a GitOps tool takes from it) stays what it was.</exception>
    public static async Task<string> WriteAsync(string jobDirectory, string folder, AnalysisWindow data, IReadOnlyList<Edge> edges,
        IIntentEvaluator? intent, IReadOnlyList<string> emit, SuggestionLayout layout, CancellationToken cancellationToken,
        NamespaceScope? scope = null, bool allowEmpty = false, double shrinkThreshold = 0.5, ClusterFacts? cluster = null,
        IReadOnlyList<Analytics.Anomalies.FlowAnomaly>? anomalies = null, EdgeInputCounts? counts = null, IntentFiles? intentFiles = null, bool l7 = false)
    {
        var clock = Stopwatch.StartNew();
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
            Directory = directory, Formats = emit, Layout = layout, AllowEmpty = allowEmpty, ShrinkThreshold = shrinkThreshold, L7 = l7,
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
            Runs.Add(1, new KeyValuePair<string, object?>("outcome", "skipped"));
            throw new SuggestReportSkippedException(refused.Reason, $"{SliJson.Time(data.From)}..{SliJson.Time(data.To)}: {refused.Problem}; no report written, {latest} ({force} writes it anyway)");
        }
        var suggestionMarkdown = await File.ReadAllTextAsync(Path.Combine(directory, "report.md"), cancellationToken).ConfigureAwait(false);

        SliReport? slis = null;
        string? svg = null;
        if (intent is not null)
        {
            slis = SliCalculator.Compute(edges, intent, data);
            // The map shows the dependencies; noise (scanners, debug pods) would bury them in red and has its own table.
            var noise = set.LeftOut.Where(l => l.Reason is LeaveOutReason.Scanner or LeaveOutReason.BarePod).Select(l => PipelineReport.EdgeKey(l.Edge)).ToHashSet(StringComparer.Ordinal);
            var drawn = slis.Edges.Where(a => !noise.Contains(PipelineReport.EdgeKey(a.Edge))).ToList();
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
            Counts = counts,
            PreviousEdges = previousEdges,
            PreviousReport = previousEdges is null ? null : previous,
            Sections = [.. L7SurfaceSection.For(set.Rules.SelectMany(r => r.Edges), slis?.L7Operations) is { } l7Section ? [l7Section] : Array.Empty<IReportSection>(),
                .. anomalies is null ? Array.Empty<IReportSection>() : [new AnomalySection(anomalies)],
                .. slis is null || intentFiles is null ? Array.Empty<IReportSection>() : [new DriftSection(DriftRemediation.Compute(slis, set, set.LeftOut, intentFiles))]],
        }, suggestionMarkdown);
        Runs.Add(1, new KeyValuePair<string, object?>("outcome", "written"));
        Rules.Add(set.Rules.Count);
        Duration.Record(clock.Elapsed.TotalSeconds);
        return directory;
    }
}
