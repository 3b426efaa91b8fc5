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

/// <summary>
/// Everything one report shows (serve's scheduled report, `suggest`, `analyze`). SLIs need the intended policy, rule
/// sections the suggestion; a report without one leaves its sections out.
/// </summary>
internal sealed class PipelineReportInput
{
    public required string Title { get; init; }
    public required AnalysisWindow Window { get; init; }
    public required IReadOnlyList<Edge> Edges { get; init; }
    /// <summary>The candidate policy; null for `analyze` (no rule sections, no "to add" edges).</summary>
    public SuggestionSet? Suggestions { get; init; }
    /// <summary>Noise left out, when there is no suggestion to take it from (`analyze` classifies it itself).</summary>
    public IReadOnlyList<LeftOutEdge>? Noise { get; init; }
    public IntentDiff? Diff { get; init; }
    public SliReport? Slis { get; init; }
    /// <summary>What the edges were made from (records read, replies folded); null when the caller gave edges alone.</summary>
    public EdgeInputCounts? Counts { get; init; }
    /// <summary>The namespace scope the edges were narrowed to (analyze --include-namespace); null: every edge read is here.</summary>
    public string? EdgeScope { get; init; }
    /// <summary>Graphviz SVG of the dependency graph (analytics/Graph), inlined; null when not rendered.</summary>
    public string? GraphSvg { get; init; }
    /// <summary>Edge keys (<see cref="PipelineReport.EdgeKey"/>) of the previous report; null for the first report.</summary>
    public IReadOnlySet<string>? PreviousEdges { get; init; }
    /// <summary>The previous report as the page names it ("report 2026-11-03T00-00-00Z", "the run of 2026-11-03 10:00 UTC").</summary>
    public string? PreviousReport { get; init; }
    /// <summary>Sections other components add (anomalies, L7), after the built-in ones, in this order.</summary>
    public IReadOnlyList<IReportSection> Sections { get; init; } = [];
    public DateTime GeneratedAt { get; init; } = DateTime.UtcNow;

    internal IReadOnlyList<LeftOutEdge> LeftOut => Suggestions?.LeftOut ?? Noise ?? [];
}

/// <summary>
/// A section of report.html and report.md that another component writes (anomalies, L7 policies): the page gives it a
/// heading and a box; it writes its own body.
/// </summary>
internal interface IReportSection
{
    /// <summary>The heading, plain text.</summary>
    string Title { get; }
    /// <summary>The section's HTML body; the section escapes what it shows (<see cref="System.Net.WebUtility.HtmlEncode(string)"/>).</summary>
    string Html();
    /// <summary>The section's Markdown body, without the heading.</summary>
    string Markdown();
}

/// <summary>
/// report.html (one self-contained file: inline CSS, SVG and scripts (the interactive map), no external assets), report.md and
/// report.json. report.json carries every edge key so the next report can say which edges are new (docs/report.md).
/// </summary>
internal static partial class PipelineReport
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
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>
    /// The state a one-off run (suggest --out, analyze --out) compares with: the report.json an earlier run left in
    /// <paramref name="directory"/>, as (edge keys, how the page names it); nulls when there is none.
    /// </summary>
    public static (HashSet<string>? Edges, string? Name) ReadPrevious(string directory)
    {
        var path = Path.Combine(directory, "report.json");
        var keys = ReadEdgeKeys(path);
        if (keys is null) return (null, null);
        string name = "the previous run";
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.TryGetProperty("generated_at", out var at) && at.GetString() is { } text)
                name = "the run of " + text.Replace('T', ' ').TrimEnd('Z') + " UTC";
        }
        catch (Exception e) when (e is IOException or JsonException or InvalidOperationException)
        {
            // The keys were readable a moment ago; the name is only a label.
        }
        return (keys, name);
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

    /// <summary>
    /// Writes report.html and report.json (the state the next run compares with) for a one-off run whose report.md is
    /// its own (suggest's, or none); returns their paths.
    /// </summary>
    public static IReadOnlyList<string> WriteHtml(string directory, PipelineReportInput input)
    {
        Directory.CreateDirectory(directory);
        var facts = Facts.From(input);
        var html = Path.Combine(directory, "report.html");
        var json = Path.Combine(directory, "report.json");
        File.WriteAllText(html, Html(input, facts), new UTF8Encoding(false));
        File.WriteAllBytes(json, Json(input, facts));
        return [html, json];
    }

    internal static string Markdown(PipelineReportInput input, Facts facts, string suggestionMarkdown)
    {
        var sb = new StringBuilder();
        void L(string s = "") => sb.Append(s).Append('\n');
        L($"# {input.Title}");
        L();
        L(I($"Window {Time(input.Window.From)} to {Time(input.Window.To)} UTC. {facts.Flows} flows on {input.Edges.Count} edges; {facts.DeniedFlows} denied flows."));
        if (input.Slis is { } s)
            L(I($"Compliance {Percent(s.Overall.ComplianceRate)} of flows ({Percent(s.Overall.BytesComplianceRate)} of bytes); {s.UnintendedEdges.Count} unintended edges, {s.StaleRules.Count} stale rules, {s.VerdictMismatches.Count} verdict mismatches."));
        L("The interactive service map is in report.html.");
        L();
        L("## What the numbers mean");
        L();
        foreach (var row in facts.Numbers) L($"{new string(' ', 2 * row.Depth)}- **{row.Label}**: {row.Value} — {row.Meaning}");
        L();
        if (input.Slis is not null)
        {
            L(I($"## Unintended edges ({facts.Unintended.Count})"));
            L();
            if (facts.Unintended.Count == 0) L("None.");
            foreach (var u in facts.Unintended.Take(MarkdownReport.ListLimit))
            {
                var e = u.Assessed.Edge;
                L(I($"- `{EdgeKey(e)}`: {e.Flows} flows ({e.AllowedFlows} allowed, {e.DeniedFlows} denied in the log), {Time(e.FirstSeen)} to {Time(e.LastSeen)}, {e.DaysSeen} days; {u.Assessed.Intent.Reason}. Fix: {u.Fix}"));
            }
            if (facts.Unintended.Count > MarkdownReport.ListLimit) L(I($"- … and {facts.Unintended.Count - MarkdownReport.ListLimit:N0} more (report.json holds them all)."));
            L();
        }
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
        L("## Top denied flows");
        L();
        if (facts.TopDenied.Count == 0) L("None.");
        foreach (var e in facts.TopDenied) L(I($"- `{EdgeKey(e)}`: {e.DeniedFlows} denied of {e.Flows}"));
        L();
        // The suggestion report (rules with evidence, rare/periodic, left out, assumptions) one heading level down.
        foreach (var line in suggestionMarkdown.Split('\n'))
            L(line.StartsWith('#') ? "#" + line : line);
        foreach (var extra in input.Sections)
        {
            // The suggestion's own report.md already has its L7 section (now one level down): not twice.
            if (suggestionMarkdown.Contains("## " + extra.Title + "\n", StringComparison.Ordinal)) continue;
            L();
            L("## " + extra.Title);
            L();
            L(extra.Markdown());
        }
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
            if (input.Counts is { } counts)
            {
                w.WriteStartObject("records");
                w.WriteString("source", counts.Source);
                w.WriteNumber("read", counts.RecordsRead);
                w.WriteNumber("outside_window", counts.OutsideWindow);
                w.WriteNumber("replies_folded", counts.RepliesFolded);
                if (counts.Rejected is { } rejected) w.WriteNumber("rejected", rejected);
                w.WriteEndObject();
            }
            w.WriteNumber("flows", facts.Flows);
            w.WriteNumber("denied_flows", facts.DeniedFlows);
            if (input.Slis is { } s)
            {
                w.WritePropertyName("compliance_rate");
                if (s.Overall.ComplianceRate is { } r) w.WriteNumberValue(r); else w.WriteNullValue();
                w.WriteNumber("unintended_edges", s.UnintendedEdges.Count);
                w.WriteStartArray("unintended");
                foreach (var u in facts.Unintended)
                {
                    w.WriteStartObject();
                    w.WriteString("edge", EdgeKey(u.Assessed.Edge));
                    w.WriteNumber("flows", u.Assessed.Edge.Flows);
                    w.WriteString("reason", u.Assessed.Intent.Reason);
                    w.WriteBoolean("breaks_when_enforced", u.BreaksWhenEnforced);
                    w.WriteString("fix", u.Fix);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteNumber("verdict_mismatches", s.VerdictMismatches.Count);
                if (s.L7Operations.Count > 0) SliJson.WriteL7Operations(w, s.L7Operations);
            }
            if (input.Suggestions is { } set)
            {
                w.WriteNumber("rules", set.Rules.Count);
                w.WriteNumber("rules_to_add", input.Diff?.ToAdd.Count ?? set.Rules.Count);
            }
            w.WriteNumber("left_out", input.LeftOut.Count);
            w.WriteStartObject("left_out_by_reason");
            foreach (var (reason, edges, flows) in facts.LeftOutByReason)
            {
                w.WriteStartObject(reason.Name());
                w.WriteNumber("edges", edges);
                w.WriteNumber("flows", flows);
                w.WriteEndObject();
            }
            w.WriteEndObject();
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
            foreach (var extra in input.Sections.OfType<IReportJsonSection>())
            {
                w.WritePropertyName(extra.JsonName);
                extra.WriteJson(w);
            }
            w.WriteStartArray("edges");
            foreach (var key in input.Edges.Select(EdgeKey).Order(StringComparer.Ordinal)) w.WriteStringValue(key);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }
}
