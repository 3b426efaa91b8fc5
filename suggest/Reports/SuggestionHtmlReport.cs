using FlowPolicy.Analytics.Intent;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Core.Edges;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Reports;

/// <summary>
/// report.html for a one-off `suggest` run (serve's scheduled runs write theirs with <see cref="PipelineReport.Write"/>):
/// the same page, interactive map included, with SLIs when an intended policy is given. report.md and
/// suggestions.json are suggest's own and stay as they are. No Graphviz picture: a one-off run does not need the dot
/// binary, so the printed page has no map (the tables print).
/// </summary>
public static class SuggestionHtmlReport
{
    public static string Write(string directory, IReadOnlyList<Edge> edges, SuggestionSet set, IntentDiff? diff, IIntentEvaluator? intent,
        DateTime? from, DateTime? to)
    {
        var spanning = AnalysisWindow.Spanning(edges);
        var window = new AnalysisWindow(from ?? spanning.From, to ?? spanning.To);
        return PipelineReport.WriteHtml(directory, new PipelineReportInput
        {
            Title = "FlowPolicy suggestion " + window.From.ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture)
                + " to " + window.To.ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture) + " UTC",
            Window = window,
            Edges = edges,
            Suggestions = set,
            Diff = diff,
            Slis = intent is null ? null : SliCalculator.Compute(edges, intent, window),
        });
    }
}
