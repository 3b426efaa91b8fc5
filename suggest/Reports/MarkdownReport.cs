using System.Globalization;
using System.Text;
using FlowPolicy.Suggest.Emitters;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Reports;

/// <summary>report.md: what a reviewer reads before applying anything.</summary>
internal static class MarkdownReport
{
    public static string Write(SuggestionSet set, IReadOnlyList<EmitResult> emitted, IReadOnlyDictionary<string, string> assumptions, IntentDiff? diff)
    {
        var text = new StringWriter(CultureInfo.InvariantCulture);
        Write(text, set, emitted, assumptions, diff);
        return text.ToString();
    }

    /// <summary>Streams the report (a million rules make a table of hundreds of megabytes).</summary>
    public static void Write(TextWriter sb, SuggestionSet set, IReadOnlyList<EmitResult> emitted, IReadOnlyDictionary<string, string> assumptions, IntentDiff? diff)
    {
        WriteBody(sb, set, diff);
        WriteFormats(sb, emitted, assumptions);
    }

    /// <summary>Everything but the last section: it needs no emitter's result, so it can be written while they run.</summary>
    public static void WriteBody(TextWriter sb, SuggestionSet set, IntentDiff? diff)
    {
        void Line(string text = "")
        {
            sb.Write(text);
            sb.Write('\n');
        }
        string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

        Line("# Suggested least-privilege policy");
        Line();
        Line(I($"Window {set.WindowStart:yyyy-MM-dd HH:mm} to {set.WindowEnd:yyyy-MM-dd HH:mm} UTC ({set.WindowDays:0.#} days). {set.InputEdges} observed edges -> {set.Rules.Count} allow rules; {set.LeftOut.Count} edges left out."));
        Line();
        Line("The rules allow what the baseline used and nothing else, except where a generalisation below says so. " +
             "Apply the staged or audit form first, watch for drops, then enforce.");
        Line();
        if (set.Warnings.Count > 0)
        {
            Line("## Warnings");
            Line();
            foreach (var warning in set.Warnings) Line("- " + warning);
            Line();
        }
        var flagged = set.Rules.Where(r => r.Flags.Any(f => f is "periodic" or "startup-only" or "rare")).ToList();
        if (flagged.Count > 0)
        {
            Line("## Rare and periodic dependencies (kept)");
            Line();
            Line("These are the outages waiting to happen: rarely seen, but needed. They are in the rules.");
            Line();
            foreach (var rule in flagged) Line($"- `{rule}` ({rule.Id}): {rule.Periodicity.Pattern}. {rule.Periodicity.Note}.");
            Line();
        }
        var generalised = set.Rules.Where(r => r.Generalisation is not null).ToList();
        Line("## Generalisations");
        Line();
        if (generalised.Count == 0) Line("None: every address rule is an exact /32 or /128.");
        foreach (var rule in generalised) Line($"- `{rule}` ({rule.Id}): {rule.Generalisation}.");
        Line();
        if (set.Groups.Count > 0)
        {
            Line("## Parallel groups");
            Line();
            foreach (var group in set.Groups)
                Line(I($"- `{group.Namespace}`: label `{group.LabelKey}` splits workloads into {string.Join("; ", group.Members.Select(m => $"{m.Key}: {string.Join(", ", m.Value)}"))}. All {group.EdgesInside} edges between them stay inside a group; every selector includes `{group.LabelKey}`, so no rule opens a path across groups."));
            Line();
        }
        Line("## Rules");
        Line();
        Line("| id | client | server | port | flows | bytes | first seen | last seen | days | replicas | confidence | flags |");
        Line("|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var rule in set.Rules)
        {
            var e = rule.Evidence;
            Line(I($"| {rule.Id} | {Cell(rule.Client.Key)} | {Cell(rule.Server.Key)} | {rule.Port}/{rule.ProtocolName} | {e.Flows} | {e.Bytes} | {new TimeText(e.FirstSeen, Seconds: false)} | {new TimeText(e.LastSeen, Seconds: false)} | {e.DaysSeen} | {e.ClientReplicas} | {rule.Confidence} | {string.Join(", ", rule.Flags)} |"));
        }
        Line();
        Line("## Left out");
        Line();
        if (set.LeftOut.Count == 0) Line("Nothing.");
        foreach (var reason in set.LeftOut.GroupBy(l => l.Reason).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            Line(I($"### {reason.Key} ({reason.Count()} edges)"));
            Line();
            foreach (var client in reason.GroupBy(l => l.Edge.Client.Key))
            {
                var first = client.First();
                var targets = client.Select(l => $"{l.Edge.Server.Key}:{l.Edge.Port}/{l.Edge.ProtocolName}").ToList();
                string shown = targets.Count <= 6 ? string.Join(", ", targets) : string.Join(", ", targets.Take(6)) + I($" and {targets.Count - 6} more");
                Line($"- `{client.Key}` -> {shown}: {first.Detail}");
            }
            Line();
        }
        if (diff is not null)
        {
            Line("## Against the current policy");
            Line();
            Line(I($"{diff.ToAdd.Count} rules to add, {diff.Approved.Count} already allowed (kept), {diff.Unused.Count} existing rules never used in the window."));
            Line();
            foreach (var rule in diff.ToAdd) Line($"- add `{rule}` ({rule.Id})");
            foreach (var approved in diff.Approved) Line($"- keep `{approved.Rule}` ({approved.Rule.Id}), allowed by {string.Join(", ", approved.IntentRules)}");
            foreach (var unused in diff.Unused) Line($"- unused: {unused.Policy} {unused.Rule} ({unused.Kind})");
            Line();
        }
    }

    /// <summary>The last section: what each format's files assume and could not express.</summary>
    public static void WriteFormats(TextWriter sb, IReadOnlyList<EmitResult> emitted, IReadOnlyDictionary<string, string> assumptions)
    {
        void Line(string text = "")
        {
            sb.Write(text);
            sb.Write('\n');
        }
        string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

        Line("## Formats and assumptions");
        Line();
        foreach (var result in emitted)
        {
            Line(I($"### {result.Format} ({result.ObjectCount} policy objects)"));
            Line();
            if (assumptions.TryGetValue(result.Format, out var text)) Line(text);
            Line();
            foreach (var note in result.Notes) Line("- " + note);
            if (result.Notes.Count > 0) Line();
        }
    }

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);
}
