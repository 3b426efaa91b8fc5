using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Analytics.Baseline;
using FlowPolicy.Core.Edges;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Reports;

/// <summary>Everything one scheduled report shows. SLIs and the map need the intended policy; without it they are absent.</summary>
public sealed class PipelineReportInput
{
    public required string Title { get; init; }
    public required AnalysisWindow Window { get; init; }
    public required IReadOnlyList<Edge> Edges { get; init; }
    public required SuggestionSet Suggestions { get; init; }
    public IntentDiff? Diff { get; init; }
    public SliReport? Slis { get; init; }
    /// <summary>Graphviz SVG of the dependency graph (analytics/Graph), inlined; null when not rendered.</summary>
    public string? GraphSvg { get; init; }
    /// <summary>Edges not drawn on the map (noise: scanners, debug pods), said under it.</summary>
    public int MapEdgesLeftOut { get; init; }
    /// <summary>Edge keys (<see cref="PipelineReport.EdgeKey"/>) of the previous report; null for the first report.</summary>
    public IReadOnlySet<string>? PreviousEdges { get; init; }
    public string? PreviousReport { get; init; }
    /// <summary>Anomalies of the window's last hours (docs/anomalies.md); null leaves the section out.</summary>
    public IReadOnlyList<Analytics.Anomalies.FlowAnomaly>? Anomalies { get; init; }
    public DateTime GeneratedAt { get; init; } = DateTime.UtcNow;
}

/// <summary>
/// report.html (one self-contained file: inline CSS, SVG and scripts (the interactive map), no external assets), report.md and
/// report.json for a scheduled suggestion run. report.json carries every edge key so the next report can say which
/// edges are new.
/// </summary>
public static class PipelineReport
{
    public const int TopDenied = 15;

    public static string EdgeKey(Edge e) => $"{e.Client.Key} -> {e.Server.Key}:{e.Port}/{e.ProtocolName}";

    /// <summary>Edge keys stored in an earlier report.json; null when the file is missing or unreadable.</summary>
    public static HashSet<string>? ReadEdgeKeys(string reportJson)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(reportJson));
            return doc.RootElement.GetProperty("edges").EnumerateArray().Select(e => e.GetString()!).ToHashSet(StringComparer.Ordinal);
        }
        catch (Exception e) when (e is IOException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>The rule count stored in an earlier report.json; null when the file is missing or unreadable.</summary>
    public static int? ReadRuleCount(string reportJson)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(reportJson));
            return doc.RootElement.GetProperty("rules").GetInt32();
        }
        catch (Exception e) when (e is IOException or JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    /// <summary>Writes report.html, report.md and report.json into <paramref name="directory"/>; returns the paths.</summary>
    public static IReadOnlyList<string> Write(string directory, PipelineReportInput input, string suggestionMarkdown)
    {
        Directory.CreateDirectory(directory);
        var facts = Facts.From(input);
        var html = Path.Combine(directory, "report.html");
        var md = Path.Combine(directory, "report.md");
        var json = Path.Combine(directory, "report.json");
        File.WriteAllText(html, Html(input, facts), new UTF8Encoding(false));
        File.WriteAllText(md, Markdown(input, facts, suggestionMarkdown), new UTF8Encoding(false));
        File.WriteAllBytes(json, Json(input, facts));
        return [html, md, json];
    }

    /// <summary>Writes report.html alone (suggest's own report.md and suggestions.json stay as they are); returns its path.</summary>
    public static string WriteHtml(string directory, PipelineReportInput input)
    {
        var html = Path.Combine(directory, "report.html");
        File.WriteAllText(html, Html(input, Facts.From(input)), new UTF8Encoding(false));
        return html;
    }

    /// <summary>The numbers and lists every rendering shows, computed once.</summary>
    internal sealed record Facts(
        IReadOnlyList<Edge> NewEdges,
        IReadOnlyList<SuggestedRule> Changes,
        IReadOnlyList<SuggestedRule> Periodic,
        IReadOnlyList<Edge> TopDenied,
        IReadOnlyList<(string Policy, string Rule, string Kind)> StaleRules,
        long Flows,
        long DeniedFlows)
    {
        public static Facts From(PipelineReportInput input)
        {
            var newEdges = input.PreviousEdges is null ? [] : input.Edges.Where(e => !input.PreviousEdges.Contains(EdgeKey(e))).OrderByDescending(e => e.Flows).ToList();
            var changes = input.Diff?.ToAdd ?? input.Suggestions.Rules;
            var periodic = input.Suggestions.Rules.Where(r => (r.FlagSet & (RuleFlags.Periodic | RuleFlags.StartupOnly | RuleFlags.Rare | RuleFlags.ScheduledJob)) != 0).ToList();
            var denied = input.Edges.Where(e => e.DeniedFlows > 0).OrderByDescending(e => e.DeniedFlows).ThenBy(EdgeKey, StringComparer.Ordinal).Take(PipelineReport.TopDenied).ToList();
            var stale = (input.Slis?.StaleRules ?? input.Diff?.Unused ?? []).Select(r => (r.Policy, r.Rule, r.Kind)).ToList();
            return new Facts(newEdges, changes, periodic, denied, stale, input.Edges.Sum(e => e.Flows), input.Edges.Sum(e => e.DeniedFlows));
        }
    }

    private static string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
    private static string Time(DateTime t) => t.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
    private static string Percent(double? rate) => rate is { } r ? (r * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%" : "n/a";
    private static string E(string text) => WebUtility.HtmlEncode(text);

    internal static string Html(PipelineReportInput input, Facts facts)
    {
        var sb = new StringBuilder();
        void A(string s) => sb.Append(s).Append('\n');
        var set = input.Suggestions;
        A("<!DOCTYPE html>");
        A("<html lang=\"en\"><head><meta charset=\"utf-8\">");
        A($"<title>{E(input.Title)}</title>");
        A("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        A("<style>" + Css + "</style></head><body>");
        A("<header>");
        A($"<h1>{E(input.Title)}</h1>");
        A($"<p class=\"sub\">Window {E(Time(input.Window.From))} to {E(Time(input.Window.To))} UTC &middot; generated {E(Time(input.GeneratedAt))} UTC"
          + (input.PreviousReport is null ? " &middot; first report" : $" &middot; compared with {E(input.PreviousReport)}") + "</p>");
        A("</header><main>");

        // Headline numbers first: what an on-call reader checks before anything else.
        A("<section class=\"cards\">");
        Card(sb, "Flows", facts.Flows.ToString("N0", CultureInfo.InvariantCulture), I($"{input.Edges.Count} edges"));
        if (input.Slis is { } slis)
        {
            Card(sb, "Compliance", Percent(slis.Overall.ComplianceRate), "flows the intended policy allows", Tone(slis.Overall.ComplianceRate));
            Card(sb, "Denied", slis.Overall.DeniedFlowsPerMinute.ToString("0.###", CultureInfo.InvariantCulture) + "/min", I($"{slis.Overall.DeniedFlows:N0} denied flows"), slis.Overall.DeniedFlows > 0 ? "warn" : "ok");
            Card(sb, "Unintended edges", slis.UnintendedEdges.Count.ToString(CultureInfo.InvariantCulture), "observed, not allowed by intent", slis.UnintendedEdges.Count > 0 ? "warn" : "ok");
        }
        else Card(sb, "Denied", facts.DeniedFlows.ToString("N0", CultureInfo.InvariantCulture), "denied flows");
        Card(sb, "New edges", input.PreviousEdges is null ? "&ndash;" : facts.NewEdges.Count.ToString(CultureInfo.InvariantCulture), "since the last report", facts.NewEdges.Count > 0 ? "warn" : "ok", raw: true);
        Card(sb, "Suggested rules", set.Rules.Count.ToString(CultureInfo.InvariantCulture), input.Diff is null ? "allow rules" : I($"{input.Diff.ToAdd.Count} to add"));
        A("</section>");

        // The interactive map (ServiceMap: scripts inlined) with the static Graphviz picture as the fallback for printing.
        var map = ServiceMap.Html(input, out _);
        if (map.Length > 0 || input.GraphSvg is not null)
        {
            A("<section><h2>Service map</h2>");
            A(map);
            if (input.GraphSvg is { } svg)
            {
                A(map.Length > 0 ? "<details class=\"map-static\"><summary>Static map (printed instead of the interactive one)</summary>" : "<div>");
                A("<p class=\"note\">A box per namespace; edge width by flows; <span class=\"red\">red</span>: denials observed (dashed when all denied); <span class=\"orange\">orange</span>: not allowed by the intended policy.</p>");
                A("<div class=\"map\">" + InlineSvg(svg) + "</div>");
                if (input.MapEdgesLeftOut > 0) A(I($"<p class=\"note\">{input.MapEdgesLeftOut} noise edges (scanners, debug pods) are not drawn; they are listed under \"Noise left out\".</p>"));
                A(map.Length > 0 ? "</details>" : "</div>");
            }
            A("</section>");
        }

        if (input.Slis is { } s)
        {
            A("<section><h2>SLIs per service</h2>");
            A("<table><thead><tr><th>service</th><th class=\"n\">flows</th><th class=\"n\">compliance</th><th class=\"n\">bytes compliance</th><th class=\"n\">denied</th><th class=\"n\">denied/min</th><th class=\"n\">unintended edges</th><th class=\"n\">mismatches</th></tr></thead><tbody>");
            foreach (var (name, sli) in s.PerService.OrderBy(p => p.Value.ComplianceRate ?? 2).ThenByDescending(p => p.Value.Flows).ThenBy(p => p.Key, StringComparer.Ordinal))
                A(I($"<tr><td>{E(name)}</td><td class=\"n\">{sli.Flows:N0}</td><td class=\"n {Tone(sli.ComplianceRate)}\">{Percent(sli.ComplianceRate)}</td><td class=\"n\">{Percent(sli.BytesComplianceRate)}</td><td class=\"n\">{sli.DeniedFlows:N0}</td><td class=\"n\">{sli.DeniedFlowsPerMinute:0.###}</td><td class=\"n\">{sli.UnintendedEdges}</td><td class=\"n\">{sli.VerdictMismatches}</td></tr>"));
            A("</tbody></table>");
            A("<p class=\"note\">Bytes compliance counts only flows whose log carries byte counts (Hubble flows do not; VPC, GoFlow2, GCP and Azure logs do): n/a means no bytes were logged.</p>");
            int outage = s.VerdictMismatches.Count(m => m.Kind == MismatchKind.ObservedAllowedIntentDenies);
            if (outage > 0) A(I($"<p class=\"alert\">{outage} edges are allowed today but denied by the intended policy: they break when the intent is enforced.</p>"));
            A("</section>");
        }

        A("<section><h2>New edges since the last report</h2>");
        if (input.PreviousEdges is null) A("<p class=\"note\">This is the first report; the next one lists edges that were not seen here.</p>");
        else if (facts.NewEdges.Count == 0) A("<p class=\"note\">None: every edge was already in the previous report.</p>");
        else EdgeTable(sb, facts.NewEdges.Take(50), "flows");
        A("</section>");

        A("<section><h2>Suggested rule changes</h2>");
        A(input.Diff is null
            ? "<p class=\"note\">No intended policy configured: every suggested allow rule is listed.</p>"
            : I($"<p class=\"note\">{input.Diff.ToAdd.Count} rules to add, {input.Diff.Approved.Count} already allowed by the intended policy (kept).</p>"));
        if (facts.Changes.Count == 0) A("<p class=\"note\">Nothing to add: the intended policy already allows every dependency observed in the window.</p>");
        else
        {
            A("<table><thead><tr><th>rule</th><th>client</th><th>server</th><th>port</th><th class=\"n\">flows</th><th class=\"n\">days</th><th class=\"n\">replicas</th><th>last seen</th><th>confidence</th><th>flags</th></tr></thead><tbody>");
            foreach (var rule in facts.Changes)
            {
                var ev = rule.Evidence;
                var flags = string.Join(" ", rule.Flags.Select(f => $"<span class=\"tag\">{E(f)}</span>"));
                A(I($"<tr><td class=\"mono\">{E(rule.Id)}</td><td>{E(rule.Client.Key)}</td><td>{E(rule.Server.Key)}</td><td>{rule.Port}/{E(rule.ProtocolName)}</td><td class=\"n\">{ev.Flows:N0}</td><td class=\"n\">{ev.DaysSeen}</td><td class=\"n\">{ev.ClientReplicas}</td><td>{E(Time(ev.LastSeen))}</td><td class=\"{(rule.Confidence == RuleConfidence.High ? "ok" : "warn")}\">{E(rule.ConfidenceName)}</td><td>{flags}</td></tr>"));
            }
            A("</tbody></table>");
        }
        A("</section>");

        A("<section><h2>Rare and periodic dependencies (kept)</h2>");
        if (facts.Periodic.Count == 0) A("<p class=\"note\">None found in this window.</p>");
        else
        {
            A("<ul>");
            foreach (var rule in facts.Periodic.Take(MarkdownReport.ListLimit)) A($"<li><b>{E(rule.ToString())}</b> &mdash; {E(rule.Periodicity.PatternName)}: {E(rule.Periodicity.Note)}</li>");
            if (facts.Periodic.Count > MarkdownReport.ListLimit) A($"<li>{E(MarkdownReport.More(facts.Periodic.Count - MarkdownReport.ListLimit, "rare or periodic rules", json: true))}</li>");
            A("</ul>");
        }
        A("</section>");

        A("<section><h2>Stale rules</h2>");
        if (facts.StaleRules.Count == 0) A("<p class=\"note\">" + (input.Slis is null && input.Diff is null ? "No intended policy configured." : "None: every allow rule matched traffic.") + "</p>");
        else
        {
            A("<table><thead><tr><th>policy</th><th>rule</th><th>kind</th></tr></thead><tbody>");
            foreach (var (policy, rule, kind) in facts.StaleRules) A($"<tr><td>{E(policy)}</td><td>{E(rule)}</td><td>{E(kind)}</td></tr>");
            A("</tbody></table>");
        }
        A("</section>");

        AnomalySection.Html(sb, input.Anomalies);
        A("<section><h2>Top denied flows</h2>");
        if (facts.TopDenied.Count == 0) A("<p class=\"note\">No denied flows in the window.</p>");
        else EdgeTable(sb, facts.TopDenied, "denied");
        A("</section>");

        A("<section><h2>Noise left out</h2>");
        if (set.LeftOut.Count == 0) A("<p class=\"note\">Nothing was left out.</p>");
        else
        {
            A("<table><thead><tr><th>reason</th><th>client</th><th class=\"n\">edges</th><th class=\"n\">flows</th><th>detail</th></tr></thead><tbody>");
            foreach (var group in set.LeftOut.GroupBy(l => (l.Reason, l.Edge.Client.Key)).OrderBy(g => g.Key.Reason.Name(), StringComparer.Ordinal).ThenByDescending(g => g.Count()))
                A(I($"<tr><td><span class=\"tag\">{E(group.Key.Reason.Name())}</span></td><td>{E(group.Key.Key)}</td><td class=\"n\">{group.Count()}</td><td class=\"n\">{group.Sum(l => l.Edge.Flows):N0}</td><td>{E(group.First().Detail)}</td></tr>"));
            A("</tbody></table>");
        }
        A("</section>");

        if (set.Warnings.Count > 0)
        {
            A("<section><h2>Warnings</h2><ul>");
            foreach (var w in set.Warnings.Take(MarkdownReport.ListLimit)) A($"<li>{E(w)}</li>");
            if (set.Warnings.Count > MarkdownReport.ListLimit) A($"<li>{E(MarkdownReport.More(set.Warnings.Count - MarkdownReport.ListLimit, "warnings", json: true))}</li>");
            A("</ul></section>");
        }
        A("<footer>Policy files for Kubernetes, Cilium, Istio and Calico and suggestions.json are in this folder: the policy files and suggestions.json hold every rule with its evidence, report.md the first 1,000 of each list.</footer>");
        A("</main></body></html>");
        return sb.ToString();
    }

    private static void Card(StringBuilder sb, string label, string value, string detail, string tone = "", bool raw = false) =>
        sb.Append($"<div class=\"card {tone}\"><div class=\"label\">{E(label)}</div><div class=\"value\">{(raw ? value : E(value))}</div><div class=\"detail\">{E(detail)}</div></div>\n");

    private static string Tone(double? rate) => rate switch { null => "", >= 0.99 => "ok", >= 0.9 => "warn", _ => "bad" };

    private static void EdgeTable(StringBuilder sb, IEnumerable<Edge> edges, string emphasis)
    {
        sb.Append("<table><thead><tr><th>client</th><th>server</th><th>port</th><th class=\"n\">flows</th><th class=\"n\">denied</th><th>first seen</th><th>last seen</th></tr></thead><tbody>\n");
        foreach (var e in edges)
            sb.Append(I($"<tr><td>{E(e.Client.Key)}</td><td>{E(e.Server.Key)}</td><td>{e.Port}/{E(e.ProtocolName)}</td><td class=\"n\">{e.Flows:N0}</td><td class=\"n{(emphasis == "denied" ? " bad" : "")}\">{e.DeniedFlows:N0}</td><td>{E(Time(e.FirstSeen))}</td><td>{E(Time(e.LastSeen))}</td></tr>\n"));
        sb.Append("</tbody></table>\n");
    }

    /// <summary>Graphviz output without its XML prolog and DOCTYPE, scaled by CSS to the page width.</summary>
    internal static string InlineSvg(string svg)
    {
        int start = svg.IndexOf("<svg", StringComparison.Ordinal);
        if (start < 0) return "";
        var body = svg[start..];
        // Graphviz sizes in points; drop them so the viewBox scales to the container.
        return Regex.Replace(body, "^<svg([^>]*?)\\s(width|height)=\"[^\"]*\"([^>]*?)\\s(width|height)=\"[^\"]*\"", "<svg$1$3", RegexOptions.None, TimeSpan.FromSeconds(1));
    }

    private const string Css = """
        :root{--ink:#1f2933;--muted:#616e7c;--line:#e4e7eb;--bg:#f5f7fa;--ok:#1f7a4d;--warn:#b7791f;--bad:#c53030;--accent:#2c5282}
        *{box-sizing:border-box}body{margin:0;font:14px/1.45 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:var(--bg)}
        header{background:var(--accent);color:#fff;padding:20px 32px}header h1{margin:0;font-size:22px}.sub{margin:4px 0 0;opacity:.85}
        main{max-width:1320px;margin:0 auto;padding:16px 32px 40px}
        section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:14px 18px;margin:16px 0}
        h2{font-size:16px;margin:0 0 10px;color:var(--accent)}
        .cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;background:none;border:none;padding:0}
        .card{background:#fff;border:1px solid var(--line);border-left:4px solid var(--accent);border-radius:8px;padding:10px 14px}
        .card.ok{border-left-color:var(--ok)}.card.warn{border-left-color:var(--warn)}.card.bad{border-left-color:var(--bad)}
        .label{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}.value{font-size:26px;font-weight:600}.detail{font-size:12px;color:var(--muted)}
        table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top;overflow-wrap:anywhere}
        th{background:#f0f4f8;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
        td.ok{color:var(--ok)}td.warn{color:var(--warn)}td.bad{color:var(--bad);font-weight:600}
        .mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
        .tag{display:inline-block;background:#ebf4ff;color:var(--accent);border-radius:10px;padding:0 8px;font-size:12px;margin:1px 2px 1px 0}
        .note{color:var(--muted);margin:4px 0 8px}.alert{color:var(--bad);font-weight:600}.red{color:var(--bad)}.orange{color:#dd6b20}
        .map{overflow:auto;border:1px solid var(--line);border-radius:6px;background:#fff;padding:8px}.map svg{display:block;width:100%;height:auto;max-height:1100px}
        footer{color:var(--muted);font-size:12px;margin-top:24px}
        """;

    internal static string Markdown(PipelineReportInput input, Facts facts, string suggestionMarkdown)
    {
        var sb = new StringBuilder();
        void L(string s = "") => sb.Append(s).Append('\n');
        L($"# {input.Title}");
        L();
        L(I($"Window {Time(input.Window.From)} to {Time(input.Window.To)} UTC. {facts.Flows} flows on {input.Edges.Count} edges; {facts.DeniedFlows} denied flows."));
        if (input.Slis is { } s)
            L(I($"Compliance {Percent(s.Overall.ComplianceRate)} of flows ({Percent(s.Overall.BytesComplianceRate)} of bytes); {s.UnintendedEdges.Count} unintended edges, {s.StaleRules.Count} stale rules, {s.VerdictMismatches.Count} verdict mismatches."));
        L("The service map and per-service SLIs are in report.html.");
        L();
        L("## New edges since the last report");
        L();
        if (input.PreviousEdges is null) L("First report.");
        else if (facts.NewEdges.Count == 0) L("None.");
        foreach (var e in facts.NewEdges.Take(50)) L(I($"- `{EdgeKey(e)}`: {e.Flows} flows, first seen {Time(e.FirstSeen)}"));
        L();
        L("## Stale rules");
        L();
        if (facts.StaleRules.Count == 0) L("None.");
        foreach (var (policy, rule, kind) in facts.StaleRules) L($"- {policy} {rule} ({kind})");
        L();
        AnomalySection.Markdown(sb, input.Anomalies);
        L("## Top denied flows");
        L();
        if (facts.TopDenied.Count == 0) L("None.");
        foreach (var e in facts.TopDenied) L(I($"- `{EdgeKey(e)}`: {e.DeniedFlows} denied of {e.Flows}"));
        L();
        // The suggestion report (rules with evidence, rare/periodic, left out, assumptions) one heading level down.
        foreach (var line in suggestionMarkdown.Split('\n'))
            L(line.StartsWith('#') ? "#" + line : line);
        return sb.ToString();
    }

    internal static byte[] Json(PipelineReportInput input, Facts facts)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteNumber("version", 1);
            w.WriteString("title", input.Title);
            w.WriteStartObject("window");
            w.WriteString("from", SliJson.Time(input.Window.From));
            w.WriteString("to", SliJson.Time(input.Window.To));
            w.WriteEndObject();
            w.WriteString("generated_at", SliJson.Time(input.GeneratedAt));
            if (input.PreviousReport is null) w.WriteNull("previous_report"); else w.WriteString("previous_report", input.PreviousReport);
            w.WriteNumber("flows", facts.Flows);
            w.WriteNumber("denied_flows", facts.DeniedFlows);
            if (input.Slis is { } s)
            {
                w.WritePropertyName("compliance_rate");
                if (s.Overall.ComplianceRate is { } r) w.WriteNumberValue(r); else w.WriteNullValue();
                w.WriteNumber("unintended_edges", s.UnintendedEdges.Count);
                w.WriteNumber("verdict_mismatches", s.VerdictMismatches.Count);
            }
            w.WriteNumber("rules", input.Suggestions.Rules.Count);
            w.WriteNumber("rules_to_add", input.Diff?.ToAdd.Count ?? input.Suggestions.Rules.Count);
            w.WriteNumber("left_out", input.Suggestions.LeftOut.Count);
            w.WriteStartArray("new_edges");
            foreach (var e in facts.NewEdges) w.WriteStringValue(EdgeKey(e));
            w.WriteEndArray();
            w.WriteStartArray("stale_rules");
            foreach (var (policy, rule, kind) in facts.StaleRules)
            {
                w.WriteStartObject();
                w.WriteString("policy", policy);
                w.WriteString("rule", rule);
                w.WriteString("kind", kind);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("top_denied");
            foreach (var e in facts.TopDenied)
            {
                w.WriteStartObject();
                w.WriteString("edge", EdgeKey(e));
                w.WriteNumber("denied", e.DeniedFlows);
                w.WriteNumber("flows", e.Flows);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("edges");
            foreach (var key in input.Edges.Select(EdgeKey).Order(StringComparer.Ordinal)) w.WriteStringValue(key);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }
}
