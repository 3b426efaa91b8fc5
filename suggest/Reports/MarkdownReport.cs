using System.Globalization;
using System.Text;
using FlowPolicy.Analytics.Baseline;
using FlowPolicy.Core.Edges;
using FlowPolicy.Suggest.Emitters;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Reports;

/// <summary>report.md: what a reviewer reads before applying anything.</summary>
internal static class MarkdownReport
{
    /// <summary>
    /// Entries a list or table of the report shows; the rest are counted and left to suggestions.json. A million rules
    /// made a report of 436 MB (690,000 warnings, a million table rows) that nobody can read.
    /// </summary>
    public const int ListLimit = 1000;

    public static string Write(SuggestionSet set, IReadOnlyList<EmitResult> emitted, IReadOnlyDictionary<string, string> assumptions, IntentDiff? diff, bool json = true)
    {
        var text = new StringWriter(CultureInfo.InvariantCulture);
        WriteBody(text, set, diff, json);
        WriteFormats(text, emitted, assumptions, json);
        return text.ToString();
    }

    /// <summary>Workloads of the rules whose labels changed within the window, once each, by key.</summary>
    private static List<Endpoint> Relabelled(SuggestionSet set)
    {
        var seen = new Dictionary<string, Endpoint>(StringComparer.Ordinal);
        foreach (var rule in set.Rules)
            foreach (var edge in rule.Edges)
            {
                if (edge.Client.LabelsChanged && rule.Client.IsWorkload) seen.TryAdd(edge.Client.Key, edge.Client);
                if (edge.Server.LabelsChanged && rule.Server.IsWorkload) seen.TryAdd(edge.Server.Key, edge.Server);
            }
        return [.. seen.Values.OrderBy(e => e.Key, StringComparer.Ordinal)];
    }

    /// <summary>The line after a list cut at <see cref="ListLimit"/>: how many more, and where they all are.</summary>
    internal static string More(int more, string what, bool json) => json
        ? string.Create(CultureInfo.InvariantCulture, $"… and {more:N0} more {what}: every one is in suggestions.json.")
        : string.Create(CultureInfo.InvariantCulture, $"… and {more:N0} more {what}: `--emit json` writes every one to suggestions.json.");

    /// <summary>Everything but the last section: it needs no emitter's result, so it can be written while they run.</summary>
    public static void WriteBody(TextWriter sb, SuggestionSet set, IntentDiff? diff, bool json)
    {
        void Line(string text = "")
        {
            sb.Write(text);
            sb.Write('\n');
        }
        string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
        // Up to ListLimit entries, then one line saying how many more.
        void List<T>(IReadOnlyList<T> items, Func<T, string> line, string what, int limit = ListLimit)
        {
            for (int i = 0; i < items.Count && i < limit; i++) Line(line(items[i]));
            if (items.Count > limit) Line("- " + More(items.Count - limit, what, json));
        }

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
            List(set.Warnings, w => "- " + w, "warnings");
            Line();
        }
        var relabelled = Relabelled(set);
        if (relabelled.Count > 0)
        {
            Line("## Relabelled within the window");
            Line();
            Line("These workloads' pods changed labels during the window (a rollout, most often). They are selected by the " +
                 "labels that stayed on every pod, never by the ones that changed.");
            Line();
            List(relabelled, e => $"- `{e.Key}`: {string.Join(", ", e.ChangedLabelKeys.Select(k => $"`{k}`"))} changed; selected by " +
                (e.Selector.Count == 0 ? "no label (nothing stayed)" : string.Join(", ", e.Selector.Select(l => $"`{l.Key}={l.Value}`"))) + ".",
                "relabelled workloads");
            Line();
        }
        var flagged = set.Rules.Where(r => (r.FlagSet & (RuleFlags.Periodic | RuleFlags.StartupOnly | RuleFlags.Rare | RuleFlags.ScheduledJob)) != 0).ToList();
        if (flagged.Count > 0)
        {
            Line("## Rare and periodic dependencies (kept)");
            Line();
            Line("These are the outages waiting to happen: rarely seen, but needed. They are in the rules.");
            Line();
            List(flagged, rule => $"- `{rule}` ({rule.Id}): {rule.Periodicity.PatternName}. {rule.Periodicity.Note}.", "rare or periodic rules");
            Line();
        }
        var generalised = set.Rules.Where(r => r.Generalisation is not null).ToList();
        Line("## Generalisations");
        Line();
        if (generalised.Count == 0) Line("None: every address rule is an exact /32 or /128.");
        List(generalised, rule => $"- `{rule}` ({rule.Id}): {rule.Generalisation}.", "generalised rules");
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
        for (int i = 0; i < set.Rules.Count && i < ListLimit; i++)
        {
            var rule = set.Rules[i];
            var e = rule.Evidence;
            Line(I($"| {rule.Id} | {Cell(rule.Client.Key)} | {Cell(rule.Server.Key)} | {rule.Port}/{rule.ProtocolName} | {e.Flows} | {e.Bytes} | {new TimeText(e.FirstSeen, Seconds: false)} | {new TimeText(e.LastSeen, Seconds: false)} | {e.DaysSeen} | {e.ClientReplicas} | {rule.ConfidenceName} | {string.Join(", ", rule.Flags)} |"));
        }
        Line();
        if (set.Rules.Count > ListLimit)
        {
            Line(More(set.Rules.Count - ListLimit, "rules", json) + " The policy files hold them all, each with its evidence.");
            Line();
        }
        L7SurfaceSection.Write(sb, set);
        Line("## Left out");
        Line();
        if (set.LeftOut.Count == 0) Line("Nothing.");
        foreach (var reason in set.LeftOut.GroupBy(l => l.Reason).OrderBy(g => g.Key.Name(), StringComparer.Ordinal))
        {
            Line(I($"### {reason.Key.Name()} ({reason.Count()} edges)"));
            Line();
            List(reason.GroupBy(l => l.Edge.Client.Key).ToList(), client =>
            {
                var first = client.First();
                var targets = client.Select(l => $"{l.Edge.Server.Key}:{l.Edge.Port}/{l.Edge.ProtocolName}").ToList();
                string shown = targets.Count <= 6 ? string.Join(", ", targets) : string.Join(", ", targets.Take(6)) + I($" and {targets.Count - 6} more");
                return $"- `{client.Key}` -> {shown}: {first.Detail}";
            }, "clients");
            Line();
        }
        if (diff is not null)
        {
            Line("## Against the current policy");
            Line();
            Line(I($"{diff.ToAdd.Count} rules to add, {diff.Approved.Count} already allowed (kept), {diff.Unused.Count} existing rules never used in the window."));
            Line();
            List(diff.ToAdd, rule => $"- add `{rule}` ({rule.Id})", "rules to add");
            List(diff.Approved, approved => $"- keep `{approved.Rule}` ({approved.Rule.Id}), allowed by {string.Join(", ", approved.IntentRules)}", "approved rules");
            List(diff.Unused, unused => $"- unused: {unused.Policy} {unused.Rule} ({unused.Kind})", "unused intent rules");
            Line();
        }
    }

    /// <summary>The last section: what each format's files assume and could not express.</summary>
    public static void WriteFormats(TextWriter sb, IReadOnlyList<EmitResult> emitted, IReadOnlyDictionary<string, string> assumptions, bool json)
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
            for (int i = 0; i < result.Notes.Count && i < ListLimit; i++) Line("- " + result.Notes[i]);
            // The notes are about rules (a protocol a format cannot name, egress it cannot enforce): the rest are alike.
            if (result.Notes.Count > ListLimit) Line("- " + string.Create(CultureInfo.InvariantCulture, $"… and {result.Notes.Count - ListLimit:N0} more notes of the kinds above."));
            if (result.Notes.Count > 0) Line();
        }
    }

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);
}
