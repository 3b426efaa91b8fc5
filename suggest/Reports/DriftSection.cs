using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace FlowPolicy.Suggest.Reports;

/// <summary>A report section that also writes a property of report.json (scripts read the same facts as the page).</summary>
internal interface IReportJsonSection
{
    /// <summary>The report.json property the section writes.</summary>
    string JsonName { get; }
    /// <summary>Writes the property's value.</summary>
    void WriteJson(Utf8JsonWriter writer);
}

/// <summary>
/// The report's "Drift and remediation" section (docs/report.md): each drift event of the window with the change to the
/// intended policy files that remedies it, as a unified diff against the intent in force (<see cref="DriftRemediation"/>).
/// Kept in its own file so the report's layout stays the report's.
/// </summary>
internal sealed class DriftSection(IReadOnlyList<DriftRemediationItem> items) : IReportSection, IReportJsonSection
{
    private const int Shown = 100;

    public string Title => "Drift and remediation";

    public string JsonName => "drift";

    public string Html()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<p>{items.Count} drift events; {items.Count(i => i.Diff is not null)} with a diff of the intended policy files (checked: applied to a copy of the intent, the edge is allowed and no other observed edge changes its verdict). Apply a diff with <code>git apply</code> or <code>patch -p1</code> in the intent directory.</p>\n");
        if (items.Count == 0) return sb.Append("<p class=\"note\">No drift in the window.</p>\n").ToString();
        sb.Append("<ul>\n");
        foreach (var item in items.Take(Shown))
        {
            sb.Append("<li><b>").Append(WebUtility.HtmlEncode(item.KindName)).Append("</b> <code>").Append(WebUtility.HtmlEncode(item.Subject)).Append("</code>");
            if (item.Flows > 0) sb.Append(CultureInfo.InvariantCulture, $" ({item.Flows:N0} flows)");
            sb.Append(": ").Append(item.ChangeName).Append(" — ").Append(WebUtility.HtmlEncode(item.Note));
            if (item.Diff is not null)
                sb.Append("<details><summary>").Append(WebUtility.HtmlEncode(item.File!)).Append("</summary><pre>").Append(WebUtility.HtmlEncode(item.Diff)).Append("</pre></details>");
            sb.Append("</li>\n");
        }
        sb.Append("</ul>\n");
        if (items.Count > Shown) sb.Append(CultureInfo.InvariantCulture, $"<p class=\"note\">{items.Count - Shown} more in report.json (<code>drift</code>).</p>\n");
        return sb.ToString();
    }

    public string Markdown()
    {
        var sb = new StringBuilder();
        if (items.Count == 0) return "No drift in the window.\n";
        foreach (var item in items.Take(Shown))
        {
            sb.Append("- **").Append(item.KindName).Append("** `").Append(item.Subject).Append('`');
            if (item.Flows > 0) sb.Append(CultureInfo.InvariantCulture, $" ({item.Flows:N0} flows)");
            sb.Append(": ").Append(item.ChangeName).Append(" — ").Append(item.Note).Append('\n');
            if (item.Diff is not null) sb.Append("\n  ```diff\n").Append(string.Concat(item.Diff.Split('\n').Where(l => l.Length > 0).Select(l => "  " + l + "\n"))).Append("  ```\n\n");
        }
        if (items.Count > Shown) sb.Append(CultureInfo.InvariantCulture, $"- ... {items.Count - Shown} more in report.json\n");
        return sb.ToString();
    }

    public void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartArray();
        foreach (var item in items)
        {
            w.WriteStartObject();
            w.WriteString("kind", item.KindName);
            w.WriteString("subject", item.Subject);
            w.WriteNumber("flows", item.Flows);
            w.WriteString("change", item.ChangeName);
            if (item.SuggestedRule is null) w.WriteNull("suggested_rule"); else w.WriteString("suggested_rule", item.SuggestedRule);
            if (item.File is null) w.WriteNull("file"); else w.WriteString("file", item.File);
            if (item.Diff is null) w.WriteNull("diff"); else w.WriteString("diff", item.Diff);
            w.WriteString("note", item.Note);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }
}
