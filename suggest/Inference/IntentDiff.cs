using FlowPolicy.Analytics.Intent;

namespace FlowPolicy.Suggest.Inference;

/// <summary>A suggested rule the current policy already allows, with the intent rules that allow it.</summary>
public sealed record ApprovedRule(SuggestedRule Rule, IReadOnlyList<IntentRule> IntentRules);

/// <summary>The suggestion against the current (intended) policy: what to add, what is approved, what is never used.</summary>
public sealed class IntentDiff
{
    public required IReadOnlyList<SuggestedRule> ToAdd { get; init; }
    public required IReadOnlyList<ApprovedRule> Approved { get; init; }
    public required IReadOnlyList<IntentRule> Unused { get; init; }

    /// <summary>
    /// A rule is approved when the intent allows every observed edge behind it; an intent rule is used when it
    /// matched any observed edge of the window, noise included (it was used, wanted or not).
    /// </summary>
    public static IntentDiff Compute(SuggestionSet set, IIntentEvaluator intent)
    {
        var used = new HashSet<IntentRule>();
        var add = new List<SuggestedRule>();
        var approved = new List<ApprovedRule>();
        foreach (var rule in set.Rules)
        {
            bool all = true;
            var matched = new List<IntentRule>();
            foreach (var edge in rule.Edges)
            {
                var decision = intent.Evaluate(edge);
                all &= decision.Allowed;
                matched.AddRange(decision.MatchedRules);
            }
            used.UnionWith(matched);
            if (all) approved.Add(new ApprovedRule(rule, matched.Distinct().OrderBy(r => r.ToString(), StringComparer.Ordinal).ToList()));
            else add.Add(rule);
        }
        foreach (var left in set.LeftOut)
            used.UnionWith(intent.Evaluate(left.Edge).MatchedRules);
        var unused = intent.Rules.Where(r => !used.Contains(r)).OrderBy(r => r.ToString(), StringComparer.Ordinal).ToList();
        return new IntentDiff { ToAdd = add, Approved = approved, Unused = unused };
    }
}
