using System.Globalization;
using FlowPolicy.Analytics.Baseline;
using FlowPolicy.Analytics.Intent;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Core.Edges;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Reports;

/// <summary>
/// report.html (and report.json, the state the next run compares with) for a one-off `suggest` or `analyze` run; serve's
/// scheduled runs write theirs with <see cref="PipelineReport.Write"/>. The same page, interactive map included. "New
/// since the last report" compares with the report.json an earlier run left in the same output directory.
/// </summary>
public static class OneOffReport
{
    /// <summary>For `suggest`: the rule sections, SLIs when an intended policy is given. No Graphviz picture: a one-off
    /// suggestion does not need the dot binary, so the printed page has no map (the tables print).</summary>
    public static IReadOnlyList<string> WriteSuggestion(string directory, IReadOnlyList<Edge> edges, SuggestionSet set, IntentDiff? diff, IIntentEvaluator? intent,
        DateTime? from, DateTime? to, EdgeInputCounts? counts, IntentFiles? intentFiles = null)
    {
        var window = Window(edges, from, to);
        var slis = intent is null ? null : SliCalculator.Compute(edges, intent, window);
        var (previous, previousName) = PipelineReport.ReadPrevious(directory);
        return PipelineReport.WriteHtml(directory, new PipelineReportInput
        {
            Title = "FlowPolicy suggestion " + Span(window),
            Window = window,
            Edges = edges,
            Suggestions = set,
            Diff = diff,
            Slis = slis,
            Counts = counts,
            PreviousEdges = previous,
            PreviousReport = previousName,
            Sections = [.. L7SurfaceSection.For(set.Rules.SelectMany(r => r.Edges), slis: null) is { } l7 ? [l7] : Array.Empty<IReportSection>(),
                .. slis is null || intentFiles is null ? Array.Empty<IReportSection>() : [new DriftSection(DriftRemediation.Compute(slis, set, set.LeftOut, intentFiles))]],
        });
    }

    /// <summary>
    /// For `analyze` (report.html, report.md and report.json): SLIs, unintended edges and the map (with graph.svg as its static fallback when rendered), noise as
    /// the classifier suggest uses judges it (the map hides scanners and debug pods), no rule sections.
    /// </summary>
    /// <param name="scope">The namespace scope the edges were narrowed to, as the page names it; null when none was.</param>
    public static IReadOnlyList<string> WriteAnalysis(string directory, SliReport slis, string? graphSvg, EdgeInputCounts? counts, string? scope, IntentFiles? intentFiles = null)
    {
        var edges = slis.Edges.Select(a => a.Edge).ToList();
        var classification = new BaselineClassifier().Classify(edges, BaselineWindow.Of(edges, slis.Window.From, slis.Window.To));
        var noise = new List<LeftOutEdge>();
        for (int i = 0; i < edges.Count; i++)
            if (classification.Verdicts[i] is { } verdict) noise.Add(new LeftOutEdge(edges[i], verdict.Reason, verdict.Detail));
        var (previous, previousName) = PipelineReport.ReadPrevious(directory);
        return PipelineReport.Write(directory, new PipelineReportInput
        {
            Title = "FlowPolicy analysis " + Span(slis.Window),
            Window = slis.Window,
            Edges = edges,
            Noise = noise,
            Slis = slis,
            Counts = counts,
            EdgeScope = scope,
            GraphSvg = graphSvg,
            PreviousEdges = previous,
            PreviousReport = previousName,
            Sections = [.. L7SurfaceSection.For(edges, slis.L7Operations) is { } l7 ? [l7] : Array.Empty<IReportSection>(),
                .. intentFiles is null ? Array.Empty<IReportSection>() : [new DriftSection(DriftRemediation.Compute(slis, null, noise, intentFiles))]],
        }, suggestionMarkdown: "");
    }

    private static AnalysisWindow Window(IReadOnlyList<Edge> edges, DateTime? from, DateTime? to)
    {
        var spanning = AnalysisWindow.Spanning(edges);
        return new AnalysisWindow(from ?? spanning.From, to ?? spanning.To);
    }

    private static string Span(AnalysisWindow window) =>
        window.From.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) + " to " + window.To.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) + " UTC";
}
