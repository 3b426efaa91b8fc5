using System.Net;
using System.Text;
using FlowPolicy.Analytics.Anomalies;

namespace FlowPolicy.Suggest.Reports;

/// <summary>
/// The report's "Unusual traffic" section (docs/anomalies.md): each anomaly of the judged hours with its explanation and
/// the edges behind it. Kept in its own file so the report's layout stays the report's.
/// </summary>
internal sealed class AnomalySection(IReadOnlyList<FlowAnomaly> anomalies) : IReportSection
{
    private const int Shown = 100;

    public string Title => "Unusual traffic";

    public string Html()
    {
        var sb = new StringBuilder();
        if (anomalies.Count == 0) sb.Append("<p class=\"note\">No anomaly in the judged hours.</p>\n");
        else
        {
            sb.Append("<ul>\n");
            foreach (var a in anomalies.Take(Shown))
                sb.Append("<li>").Append(WebUtility.HtmlEncode(a.Explanation))
                    .Append(a.Edges.Count == 0 ? "" : "<br><small>" + WebUtility.HtmlEncode(string.Join(", ", a.Edges.Select(e => e.ToString()))) + "</small>")
                    .Append("</li>\n");
            sb.Append("</ul>\n");
            if (anomalies.Count > Shown) sb.Append($"<p class=\"note\">{anomalies.Count - Shown} more in flow_anomalies / `flowpolicy anomalies`.</p>\n");
        }
        return sb.ToString();
    }

    public string Markdown()
    {
        var sb = new StringBuilder();
        if (anomalies.Count == 0) sb.Append("None in the judged hours.\n");
        foreach (var a in anomalies.Take(Shown))
            sb.Append("- ").Append(a.Explanation).Append(a.Edges.Count == 0 ? "" : "; edges: " + string.Join(", ", a.Edges.Select(e => $"`{e}`"))).Append('\n');
        if (anomalies.Count > Shown) sb.Append($"- ... {anomalies.Count - Shown} more\n");
        return sb.ToString();
    }
}
