using System.Globalization;
using System.Text;

namespace FlowPolicy.Tests.Evaluation;

/// <summary>The evaluation's scorecard as Markdown: one row per scenario and format, then what failed and why.</summary>
internal static class Scorecard
{
    private const int Listed = 12;
    private const int PerReason = 5;

    public static string Render(IReadOnlyList<ScenarioScore> scores)
    {
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        text.AppendLine("| scenario | format | days | records | edges | rules | k8s policies | required | blocked | noise | noise allowed | forbidden probed | extra allowed | check exit | pass |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var s in scores)
            text.AppendLine(string.Create(c,
                $"| {s.Scenario} | {s.Format} | {s.Days} | {s.Records} | {s.Edges} | {s.Rules} | {s.NetworkPolicies} | {s.Required} | **{s.Blocked.Count}** | {s.Noise} | {s.NoiseAllowed.Count} | {s.Forbidden} | **{s.ExtraAllowed.Count}** | **{s.CheckExit}** | {(s.Passes ? "yes" : "no")} |"));
        text.AppendLine();
        foreach (var s in scores)
        {
            text.AppendLine(string.Create(c, $"### {s.Scenario} / {s.Format} ({s.Seconds:F1} s, {s.JudgedPairs} judged pairs)"));
            if (s.SuggestExit != 0) text.AppendLine(string.Create(c, $"- suggest exited {s.SuggestExit}: {Last(s.SuggestStderr)}"));
            text.AppendLine($"- check: {s.CheckVerdict}");
            if (s.Blocked.Count > 0)
            {
                text.AppendLine(string.Create(c, $"- blocked required dependencies ({s.Blocked.Count}), by reason: {ByReason(s.Blocked.Select(b => b.Reason.ToString()))}"));
                foreach (var b in s.Blocked.Take(Listed)) text.AppendLine($"  - {b}");
                if (s.Blocked.Count > Listed) text.AppendLine(string.Create(c, $"  - … {s.Blocked.Count - Listed} more"));
            }
            if (s.ExtraAllowed.Count > 0)
            {
                text.AppendLine(string.Create(c, $"- allowed outside the truth ({s.ExtraAllowed.Count}), by reason: {ByReason(s.ExtraAllowed.Select(b => b.Reason.ToString()))}"));
                // The first few of each reason, so a small class is not hidden behind a large one.
                var listed = s.ExtraAllowed.GroupBy(e => e.Reason).SelectMany(g => g.Take(PerReason)).ToList();
                foreach (var e in listed) text.AppendLine($"  - {e}");
                if (s.ExtraAllowed.Count > listed.Count) text.AppendLine(string.Create(c, $"  - … {s.ExtraAllowed.Count - listed.Count} more"));
            }
            text.AppendLine();
        }
        return text.ToString();
    }

    private static string ByReason(IEnumerable<string> reasons) =>
        string.Join(", ", reasons.GroupBy(r => r).OrderByDescending(g => g.Count()).Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Key} {g.Count()}")));

    private static string Last(string stderr) => stderr.Trim().Split('\n').LastOrDefault() ?? "";
}
