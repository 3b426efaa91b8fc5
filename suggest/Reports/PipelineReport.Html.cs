using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using FlowPolicy.Analytics.Baseline;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Core.Edges;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Reports;

/// <summary>
/// report.html: one method per section, run in the order of <see cref="HtmlSections"/>; a section with nothing to say
/// writes nothing. Sections of other components come through <see cref="PipelineReportInput.Sections"/>.
/// </summary>
internal static partial class PipelineReport
{
    /// <summary>What a section method writes into: the page's buffer with the report's input and facts.</summary>
    private sealed class Page(PipelineReportInput input, Facts facts)
    {
        public PipelineReportInput Input { get; } = input;
        public Facts Facts { get; } = facts;
        public StringBuilder Sb { get; } = new();
        public void A(string s) => Sb.Append(s).Append('\n');
        /// <summary>Opens a section box with its heading; <paramref name="id"/> is the anchor the numbers link to.</summary>
        public void Open(string title, string? id = null) => A((id is null ? "<section>" : $"<section id=\"{id}\">") + $"<h2>{E(title)}</h2>");
        public void Close() => A("</section>");
    }

    private static readonly Action<Page>[] HtmlSections =
        [Cards, Numbers, Map, Slis, Unintended, NewEdges, RuleChanges, Periodic, StaleRules, TopDeniedFlows, NoiseLeftOut, Warnings];

    private static string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
    private static string Time(DateTime t) => t.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
    private static string Percent(double? rate) => rate is { } r ? (r * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%" : "n/a";
    private static string E(string text) => WebUtility.HtmlEncode(text);

    internal static string Html(PipelineReportInput input, Facts facts)
    {
        var page = new Page(input, facts);
        page.A("<!DOCTYPE html>");
        page.A("<html lang=\"en\"><head><meta charset=\"utf-8\">");
        page.A($"<title>{E(input.Title)}</title>");
        page.A("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        page.A("<style>" + Css + "</style></head><body>");
        page.A("<header>");
        page.A($"<h1>{E(input.Title)}</h1>");
        page.A($"<p class=\"sub\">Window {E(Time(input.Window.From))} to {E(Time(input.Window.To))} UTC &middot; generated {E(Time(input.GeneratedAt))} UTC"
          + (input.PreviousReport is null ? " &middot; first report" : $" &middot; compared with {E(input.PreviousReport)}") + "</p>");
        page.A("</header><main>");
        foreach (var section in HtmlSections) section(page);
        foreach (var extra in input.Sections)
        {
            page.Open(extra.Title);
            page.A(extra.Html());
            page.Close();
        }
        page.A(input.Suggestions is null
            ? "<footer>slis.json and graph.json in this folder hold every edge with its intent decision; report.json the edge keys the next report compares with.</footer>"
            : "<footer>Policy files for Kubernetes, Cilium, Istio and Calico and suggestions.json are in this folder: the policy files and suggestions.json hold every rule with its evidence, report.md the first 1,000 of each list.</footer>");
        page.A("</main></body></html>");
        return page.Sb.ToString();
    }

    /// <summary>Headline numbers first: what an on-call reader checks before anything else. Each card says what it counts.</summary>
    private static void Cards(Page p)
    {
        var (input, facts, sb) = (p.Input, p.Facts, p.Sb);
        p.A("<section class=\"cards\">");
        Card(sb, "Flows", facts.Flows.ToString("N0", CultureInfo.InvariantCulture), input.Counts is { } c
            ? I($"{input.Edges.Count:N0} edges; {c.RecordsRead:N0} records read, {c.RepliesFolded:N0} replies folded (see below)")
            : I($"{input.Edges.Count:N0} edges"));
        if (input.Slis is { } slis)
        {
            Card(sb, "Compliance", Percent(slis.Overall.ComplianceRate), "flows the intended policy allows", Tone(slis.Overall.ComplianceRate));
            Card(sb, "Denied", slis.Overall.DeniedFlowsPerMinute.ToString("0.###", CultureInfo.InvariantCulture) + "/min", I($"{slis.Overall.DeniedFlows:N0} flows denied in the log"), slis.Overall.DeniedFlows > 0 ? "warn" : "ok");
            Card(sb, "Unintended edges", slis.UnintendedEdges.Count.ToString(CultureInfo.InvariantCulture), "observed, not allowed by intent: listed below", slis.UnintendedEdges.Count > 0 ? "warn" : "ok");
        }
        else Card(sb, "Denied", facts.DeniedFlows.ToString("N0", CultureInfo.InvariantCulture), "flows denied in the log");
        Card(sb, "New edges", input.PreviousEdges is null ? "&ndash;" : facts.NewEdges.Count.ToString(CultureInfo.InvariantCulture),
            input.PreviousEdges is null ? "first report: nothing to compare with" : "since " + (input.PreviousReport ?? "the last report"), facts.NewEdges.Count > 0 ? "warn" : "ok", raw: true);
        if (input.Suggestions is { } set)
            Card(sb, "Suggested rules", set.Rules.Count.ToString(CultureInfo.InvariantCulture), input.Diff is null ? "allow rules" : I($"{input.Diff.ToAdd.Count} to add to the intended policy"));
        if (input.LeftOut.Count > 0 || input.Suggestions is not null)
            Card(sb, "Left out", input.LeftOut.Count.ToString("N0", CultureInfo.InvariantCulture), input.Suggestions is null ? "edges judged noise" : "noise edges the candidate policy blocks");
        p.A("</section>");
    }

    /// <summary>Every count on the page, from the records read down, each with what it is and how it follows from those above.</summary>
    private static void Numbers(Page p)
    {
        p.Open("What the numbers mean", "numbers");
        p.A("<table class=\"numbers\"><thead><tr><th>count</th><th class=\"n\">value</th><th>what it is</th></tr></thead><tbody>");
        foreach (var row in p.Facts.Numbers)
        {
            var label = row.Link is null ? E(row.Label) : $"<a href=\"{row.Link}\">{E(row.Label)}</a>";
            p.A($"<tr class=\"d{row.Depth}\"><td>{label}</td><td class=\"n\">{E(row.Value)}</td><td class=\"meaning\">{E(row.Meaning)}</td></tr>");
        }
        p.A("</tbody></table>");
        p.A("<p class=\"note\">An edge is client &rarr; server:port/protocol over the whole window; a flow is one connection (its request record). docs/report.md explains every number.</p>");
        p.Close();
    }

    /// <summary>The interactive map (ServiceMap: scripts inlined) with the static Graphviz picture as the fallback for printing and no script.</summary>
    private static void Map(Page p)
    {
        var map = ServiceMap.Html(p.Facts.Map);
        if (map.Length == 0 && p.Input.GraphSvg is null) return;
        p.Open("Service map", "smap");
        p.A(map);
        if (p.Input.GraphSvg is { } svg)
        {
            // Without scripts the interactive map is an empty box: the static picture opens by itself then (noscript).
            if (map.Length > 0) p.A("<noscript><style>.smap{display:none}</style><p class=\"note\">Scripts are off: the static map below stands in for the interactive one.</p></noscript>");
            // Open in the file, so it shows without scripts; the map's script folds it away, and opens it again to print.
            p.A(map.Length > 0 ? "<details class=\"map-static\" open><summary>Static map (printed instead of the interactive one)</summary>" : "<div>");
            p.A("<p class=\"note\">A box per namespace; edge width by flows; <span class=\"red\">red</span>: denials observed (dashed when all denied); <span class=\"orange\">orange</span>: not allowed by the intended policy.</p>");
            p.A("<div class=\"map\">" + InlineSvg(svg) + "</div>");
            if (p.Facts.Map.NoiseHidden > 0) p.A(I($"<p class=\"note\">{p.Facts.Map.NoiseHidden} noise edges (scanners, debug pods) are not drawn; they are listed under \"Noise left out\".</p>"));
            p.A(map.Length > 0 ? "</details>" : "</div>");
        }
        p.Close();
    }

    private static void Slis(Page p)
    {
        if (p.Input.Slis is not { } s) return;
        p.Open("SLIs per service");
        p.A("<table><thead><tr><th>service</th><th class=\"n\">flows</th><th class=\"n\">compliance</th><th class=\"n\">bytes compliance</th><th class=\"n\">denied</th><th class=\"n\">denied/min</th><th class=\"n\">unintended edges</th><th class=\"n\">mismatches</th></tr></thead><tbody>");
        foreach (var (name, sli) in s.PerService.OrderBy(x => x.Value.ComplianceRate ?? 2).ThenByDescending(x => x.Value.Flows).ThenBy(x => x.Key, StringComparer.Ordinal))
            p.A(I($"<tr><td>{E(name)}</td><td class=\"n\">{sli.Flows:N0}</td><td class=\"n {Tone(sli.ComplianceRate)}\">{Percent(sli.ComplianceRate)}</td><td class=\"n\">{Percent(sli.BytesComplianceRate)}</td><td class=\"n\">{sli.DeniedFlows:N0}</td><td class=\"n\">{sli.DeniedFlowsPerMinute:0.###}</td><td class=\"n\">{sli.UnintendedEdges}</td><td class=\"n\">{sli.VerdictMismatches}</td></tr>"));
        p.A("</tbody></table>");
        p.A("<p class=\"note\">Per server (the destination of the edges). Compliance: the share of its flows the intended policy allows. Bytes compliance counts only flows whose log carries byte counts (Hubble flows do not; VPC, GoFlow2, GCP and Azure logs do): n/a means no bytes were logged. Mismatches: edges whose verdicts in the log disagree with the intent.</p>");
        int outage = s.VerdictMismatches.Count(m => m.Kind == MismatchKind.ObservedAllowedIntentDenies);
        if (outage > 0) p.A(I($"<p class=\"alert\">{outage} edges are allowed today but denied by the intended policy: they break when the intent is enforced (marked below).</p>"));
        p.Close();
    }

    /// <summary>Every unintended edge (up to the list limit), with its evidence and what to do.</summary>
    private static void Unintended(Page p)
    {
        if (p.Input.Slis is null) return;
        var list = p.Facts.Unintended;
        p.Open(I($"Unintended edges ({list.Count:N0})"), "unintended");
        if (list.Count == 0)
        {
            p.A("<p class=\"note\">None: the intended policy allows every observed edge.</p>");
            p.Close();
            return;
        }
        p.A("<p class=\"note\">Observed in the window and not allowed by the intended policy, busiest first.</p>");
        p.A("<table><thead><tr><th>client</th><th>server</th><th>port</th><th class=\"n\">flows</th><th class=\"n\">allowed / denied</th><th>first seen</th><th>last seen</th><th class=\"n\">days</th><th>why not allowed</th><th>suggested fix</th></tr></thead><tbody>");
        foreach (var u in list.Take(MarkdownReport.ListLimit))
        {
            var e = u.Assessed.Edge;
            p.A(I($"<tr{(u.BreaksWhenEnforced ? " class=\"breaks\"" : "")}><td>{E(e.Client.Key)}</td><td>{E(e.Server.Key)}</td><td>{e.Port}/{E(e.ProtocolName)}</td><td class=\"n\">{e.Flows:N0}</td><td class=\"n\">{e.AllowedFlows:N0} / {e.DeniedFlows:N0}</td><td>{E(Time(e.FirstSeen))}</td><td>{E(Time(e.LastSeen))}</td><td class=\"n\">{e.DaysSeen}</td><td>{E(u.Assessed.Intent.Reason)}</td><td>{E(u.Fix)}</td></tr>"));
        }
        p.A("</tbody></table>");
        if (list.Count > MarkdownReport.ListLimit) p.A(I($"<p class=\"note\">… and {list.Count - MarkdownReport.ListLimit:N0} more (report.json and slis.json hold them all).</p>"));
        p.Close();
    }

    private static void NewEdges(Page p)
    {
        p.Open("New edges since the last report", "new");
        if (p.Input.PreviousEdges is null) p.A("<p class=\"note\">This is the first report; the next one lists edges that were not seen here.</p>");
        else if (p.Facts.NewEdges.Count == 0) p.A("<p class=\"note\">None: every edge was already in the previous report.</p>");
        else EdgeTable(p.Sb, p.Facts.NewEdges.Take(50), "flows");
        p.Close();
    }

    private static void RuleChanges(Page p)
    {
        var (input, facts) = (p.Input, p.Facts);
        if (input.Suggestions is null) return;
        p.Open("Suggested rule changes", "rules");
        p.A(input.Diff is null
            ? "<p class=\"note\">No intended policy configured: every suggested allow rule is listed.</p>"
            : I($"<p class=\"note\">{input.Diff.ToAdd.Count} rules to add, {input.Diff.Approved.Count} already allowed by the intended policy (kept).</p>"));
        if (facts.Changes.Count == 0) p.A("<p class=\"note\">Nothing to add: the intended policy already allows every dependency observed in the window.</p>");
        else
        {
            p.A("<table><thead><tr><th>rule</th><th>client</th><th>server</th><th>port</th><th class=\"n\">flows</th><th class=\"n\">days</th><th class=\"n\">replicas</th><th>last seen</th><th>confidence</th><th>flags</th></tr></thead><tbody>");
            foreach (var rule in facts.Changes.Take(MarkdownReport.ListLimit))
            {
                var ev = rule.Evidence;
                var flags = string.Join(" ", rule.Flags.Select(f => $"<span class=\"tag\">{E(f)}</span>"));
                p.A(I($"<tr><td class=\"mono\">{E(rule.Id)}</td><td>{E(rule.Client.Key)}</td><td>{E(rule.Server.Key)}</td><td>{rule.Port}/{E(rule.ProtocolName)}</td><td class=\"n\">{ev.Flows:N0}</td><td class=\"n\">{ev.DaysSeen}</td><td class=\"n\">{ev.ClientReplicas}</td><td>{E(Time(ev.LastSeen))}</td><td class=\"{(rule.Confidence == RuleConfidence.High ? "ok" : "warn")}\">{E(rule.ConfidenceName)}</td><td>{flags}</td></tr>"));
            }
            p.A("</tbody></table>");
            if (facts.Changes.Count > MarkdownReport.ListLimit) p.A($"<p class=\"note\">{E(MarkdownReport.More(facts.Changes.Count - MarkdownReport.ListLimit, "rules", json: true))}</p>");
        }
        p.Close();
    }

    private static void Periodic(Page p)
    {
        if (p.Input.Suggestions is null) return;
        var periodic = p.Facts.Periodic;
        p.Open("Rare and periodic dependencies (kept)");
        if (periodic.Count == 0) p.A("<p class=\"note\">None found in this window.</p>");
        else
        {
            p.A("<ul>");
            foreach (var rule in periodic.Take(MarkdownReport.ListLimit)) p.A($"<li><b>{E(rule.ToString())}</b> &mdash; {E(rule.Periodicity.PatternName)}: {E(rule.Periodicity.Note)}</li>");
            if (periodic.Count > MarkdownReport.ListLimit) p.A($"<li>{E(MarkdownReport.More(periodic.Count - MarkdownReport.ListLimit, "rare or periodic rules", json: true))}</li>");
            p.A("</ul>");
        }
        p.Close();
    }

    private static void StaleRules(Page p)
    {
        p.Open("Stale rules");
        if (p.Facts.StaleRules.Count == 0) p.A("<p class=\"note\">" + (p.Input.Slis is null && p.Input.Diff is null ? "No intended policy configured." : "None: every allow rule matched traffic.") + "</p>");
        else
        {
            p.A("<p class=\"note\">Allow rules of the intended policy no observed edge used in the window: candidates to remove (or traffic that did not happen this time).</p>");
            p.A("<table><thead><tr><th>policy</th><th>rule</th><th>kind</th></tr></thead><tbody>");
            foreach (var (policy, rule, kind) in p.Facts.StaleRules) p.A($"<tr><td>{E(policy)}</td><td>{E(rule)}</td><td>{E(kind)}</td></tr>");
            p.A("</tbody></table>");
        }
        p.Close();
    }

    private static void TopDeniedFlows(Page p)
    {
        p.Open("Top denied flows", "denied");
        if (p.Facts.TopDenied.Count == 0) p.A("<p class=\"note\">No denied flows in the window.</p>");
        else
        {
            p.A(I($"<p class=\"note\">The {p.Facts.TopDenied.Count} edges with the most flows the network denied (the log's verdict, not the intent's).</p>"));
            EdgeTable(p.Sb, p.Facts.TopDenied, "denied");
        }
        p.Close();
    }

    private static void NoiseLeftOut(Page p)
    {
        var (input, facts) = (p.Input, p.Facts);
        if (input.Suggestions is null && input.LeftOut.Count == 0) return;
        p.Open("Noise left out", "noise");
        if (input.LeftOut.Count == 0)
        {
            p.A("<p class=\"note\">Nothing was left out.</p>");
            p.Close();
            return;
        }
        p.A(input.Suggestions is null
            ? "<p class=\"note\">Edges the classifier suggest uses judges noise rather than dependencies; the map does not draw scanners and debug pods.</p>"
            : "<p class=\"note\">Edges no suggested rule allows: the candidate policy blocks them where it puts a default deny. The map does not draw scanners and debug pods; the others show as \"suggested to remove\".</p>");
        p.A("<table><thead><tr><th>reason</th><th class=\"n\">edges</th><th class=\"n\">flows</th><th>what it means</th></tr></thead><tbody>");
        foreach (var (reason, edges, flows) in facts.LeftOutByReason)
            p.A(I($"<tr><td><span class=\"tag\">{E(reason.Name())}</span></td><td class=\"n\">{edges:N0}</td><td class=\"n\">{flows:N0}</td><td>{E(reason.Description())}</td></tr>"));
        p.A("</tbody></table>");
        p.A("<table><thead><tr><th>reason</th><th>client</th><th class=\"n\">edges</th><th class=\"n\">flows</th><th>detail</th></tr></thead><tbody>");
        foreach (var group in input.LeftOut.GroupBy(l => (l.Reason, l.Edge.Client.Key)).OrderBy(g => g.Key.Reason.Name(), StringComparer.Ordinal).ThenByDescending(g => g.Count()).Take(MarkdownReport.ListLimit))
            p.A(I($"<tr><td><span class=\"tag\">{E(group.Key.Reason.Name())}</span></td><td>{E(group.Key.Key)}</td><td class=\"n\">{group.Count()}</td><td class=\"n\">{group.Sum(l => l.Edge.Flows):N0}</td><td>{E(group.First().Detail)}</td></tr>"));
        p.A("</tbody></table>");
        p.Close();
    }

    private static void Warnings(Page p)
    {
        if (p.Input.Suggestions is not { Warnings.Count: > 0 } set) return;
        p.Open("Warnings");
        p.A("<ul>");
        foreach (var w in set.Warnings.Take(MarkdownReport.ListLimit)) p.A($"<li>{E(w)}</li>");
        if (set.Warnings.Count > MarkdownReport.ListLimit) p.A($"<li>{E(MarkdownReport.More(set.Warnings.Count - MarkdownReport.ListLimit, "warnings", json: true))}</li>");
        p.A("</ul>");
        p.Close();
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
        .numbers td.meaning{color:var(--muted)}.numbers tr.d1 td:first-child{padding-left:24px}.numbers tr.d2 td:first-child{padding-left:44px}
        .numbers a{color:inherit}tr.breaks td{background:#fff5f5}
        .map{overflow:auto;border:1px solid var(--line);border-radius:6px;background:#fff;padding:8px}.map svg{display:block;width:100%;height:auto;max-height:1100px}
        footer{color:var(--muted);font-size:12px;margin-top:24px}
        """;
}
