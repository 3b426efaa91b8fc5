namespace FlowPolicy.Analytics.Intent.Internal;

internal enum SelectorOperator : byte { In, NotIn, Exists, DoesNotExist }

internal readonly record struct SelectorRequirement(string Key, SelectorOperator Operator, string[] Values);

/// <summary>
/// A Kubernetes label selector: matchLabels and matchExpressions, all ANDed. An empty selector (`{}`) matches
/// everything; callers represent an absent selector as null, which means something else per field.
/// </summary>
internal sealed class LabelSelector
{
    public static readonly LabelSelector Everything = new([]);

    public LabelSelector(SelectorRequirement[] requirements) => Requirements = requirements;

    public SelectorRequirement[] Requirements { get; }
    public bool IsEmpty => Requirements.Length == 0;

    public bool Matches(IReadOnlyList<KeyValuePair<string, string>> labels)
    {
        foreach (var requirement in Requirements)
        {
            string? value = null;
            foreach (var pair in labels)
                if (pair.Key == requirement.Key) { value = pair.Value; break; }
            bool ok = requirement.Operator switch
            {
                SelectorOperator.In => value is not null && Array.IndexOf(requirement.Values, value) >= 0,
                // NotIn matches pods without the key too, as Kubernetes does.
                SelectorOperator.NotIn => value is null || Array.IndexOf(requirement.Values, value) < 0,
                SelectorOperator.Exists => value is not null,
                _ => value is null,
            };
            if (!ok) return false;
        }
        return true;
    }

    public static LabelSelector Parse(PolicyNode node)
    {
        node.RequireKnownFields("a label selector", "matchLabels", "matchExpressions");
        var requirements = new List<SelectorRequirement>();
        foreach (var (key, value) in node.StringMap("matchLabels"))
            requirements.Add(new SelectorRequirement(key, SelectorOperator.In, [value]));
        foreach (var expression in node.List("matchExpressions") ?? [])
        {
            if (expression.Kind != PolicyNodeKind.Map) throw PolicyNode.Error(expression, "a matchExpressions item must be a map with key, operator, values");
            expression.RequireKnownFields("a matchExpressions item", "key", "operator", "values");
            string key = expression.String("key") ?? throw PolicyNode.Error(expression, "a matchExpressions item needs 'key'");
            string op = expression.String("operator") ?? throw PolicyNode.Error(expression, "a matchExpressions item needs 'operator' (In, NotIn, Exists, DoesNotExist)");
            var values = (expression.List("values") ?? []).Select(v => v.Value ?? "").ToArray();
            var parsed = op switch
            {
                "In" => SelectorOperator.In,
                "NotIn" => SelectorOperator.NotIn,
                "Exists" => SelectorOperator.Exists,
                "DoesNotExist" => SelectorOperator.DoesNotExist,
                _ => throw PolicyNode.Error(expression, $"unknown operator '{op}'; use In, NotIn, Exists or DoesNotExist"),
            };
            if (parsed is SelectorOperator.In or SelectorOperator.NotIn && values.Length == 0)
                throw PolicyNode.Error(expression, $"operator {op} needs a non-empty 'values' list");
            if (parsed is SelectorOperator.Exists or SelectorOperator.DoesNotExist && values.Length > 0)
                throw PolicyNode.Error(expression, $"operator {op} takes no 'values'");
            requirements.Add(new SelectorRequirement(key, parsed, values));
        }
        return requirements.Count == 0 ? Everything : new LabelSelector(requirements.ToArray());
    }
}
