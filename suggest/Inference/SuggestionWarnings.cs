using System.Globalization;
using System.Runtime.CompilerServices;
using FlowPolicy.Analytics.Baseline;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;

namespace FlowPolicy.Suggest.Inference;

/// <summary>What to be careful about before enforcing a suggestion: a short window, unconfirmed periods, shared selectors, group crossings.</summary>
internal static class SuggestionWarnings
{
    public static WarningList Of(SuggestOptions options, SuggestedRule[] rules, IReadOnlyList<WorkloadGroups> groups, IReadOnlyList<Endpoint> workloads,
        List<Peer> workloadPeers, double windowDays)
    {
        var warnings = new WarningList(windowDays);
        if (windowDays < options.MinTrustedWindowDays)
            warnings.Add(string.Create(CultureInfo.InvariantCulture,
                $"The window is {windowDays:0.#} days, shorter than {options.MinTrustedWindowDays:0} days: weekly jobs and other rare dependencies may be missing, and enforcing these rules may block them. Use a window of at least two weeks before enforcing."));
        foreach (var rule in rules)
        {
            if (rule.Periodicity.PeriodDays is { } p && windowDays < 2 * p) warnings.AddUnconfirmedPeriod(rule);
            else if ((rule.FlagSet & RuleFlags.ScheduledJob) != 0) warnings.AddUnconfirmedSchedule(rule);
        }
        // A workload peer only matches pods of its own namespace: look there, not at every workload.
        var workloadsByNamespace = workloads.ToLookup(w => w.Namespace);
        foreach (var peer in workloadPeers)
        {
            var others = workloadsByNamespace[peer.Namespace].Where(w => w.Key != peer.Key && peer.Matches(w)).Select(w => w.Key).ToList();
            if (others.Count > 0)
                warnings.Add($"The selector of {peer.Key} also selects {string.Join(", ", others)}: they share every label; give each workload a distinguishing label, or the rules reach both.");
        }
        if (groups.Count == 0) return warnings;
        // Workload -> workload rules inside one namespace, by namespace (only the namespaces with groups), in rule order.
        var rulesInsideNamespace = new Dictionary<string, List<SuggestedRule>>(StringComparer.Ordinal);
        foreach (var group in groups) rulesInsideNamespace.TryAdd(group.Namespace, []);
        foreach (var r in rules)
            if (r.Client.IsWorkload && r.Server.IsWorkload && r.Client.Namespace is { } ns && ns == r.Server.Namespace
                && rulesInsideNamespace.TryGetValue(ns, out var inside))
                inside.Add(r);
        foreach (var group in groups)
            foreach (var rule in rulesInsideNamespace[group.Namespace])
                if (!HasLabel(rule.Client.Selector, group.LabelKey) || !HasLabel(rule.Server.Selector, group.LabelKey))
                    warnings.AddCrossing(rule, group);
        return warnings;
    }

    private static bool HasLabel(IReadOnlyList<KeyValuePair<string, string>> selector, string key)
    {
        for (int i = 0; i < selector.Count; i++)
            if (selector[i].Key == key) return true;
        return false;
    }
}

/// <summary>
/// The warnings of a suggestion, each made when read: a dense graph over a short window has a warning for most of
/// its hundreds of thousands of periodic rules, and holding their texts took hundreds of megabytes.
/// </summary>
internal sealed class WarningList(double windowDays) : IReadOnlyList<string>
{
    private enum Kind : byte { Text, UnconfirmedPeriod, UnconfirmedSchedule, Crossing }

    private readonly List<(Kind Kind, string? Text, SuggestedRule? Rule, WorkloadGroups? Group)> _items = [];

    public int Count => _items.Count;

    public string this[int index]
    {
        get
        {
            var (kind, text, rule, group) = _items[index];
            return kind switch
            {
                Kind.UnconfirmedPeriod => string.Create(CultureInfo.InvariantCulture,
                    $"{rule!.Id} ({rule}): {rule.Periodicity.PatternName} dependency, but the window ({windowDays:0.#} days) is shorter than two periods ({2 * rule.Periodicity.PeriodDays} days): the period is not confirmed."),
                Kind.UnconfirmedSchedule => string.Create(CultureInfo.InvariantCulture,
                    $"{rule!.Id} ({rule}): {rule.Periodicity.PatternName} from a CronJob/Job client, kept as a scheduled dependency; the window ({windowDays:0.#} days) holds no second run, so its schedule is not confirmed: a window of at least two periods would confirm it."),
                Kind.Crossing => $"{rule!.Id} ({rule}) crosses the '{group!.LabelKey}' groups of {group.Namespace}: one side lacks the label.",
                _ => text!,
            };
        }
    }

    public void Add(string text) => _items.Add((Kind.Text, text, null, null));

    public void AddUnconfirmedPeriod(SuggestedRule rule) => _items.Add((Kind.UnconfirmedPeriod, null, rule, null));

    public void AddUnconfirmedSchedule(SuggestedRule rule) => _items.Add((Kind.UnconfirmedSchedule, null, rule, null));

    public void AddCrossing(SuggestedRule rule, WorkloadGroups group) => _items.Add((Kind.Crossing, null, rule, group));

    public IEnumerator<string> GetEnumerator()
    {
        for (int i = 0; i < _items.Count; i++) yield return this[i];
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
