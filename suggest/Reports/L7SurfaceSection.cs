using System.Globalization;
using FlowPolicy.Core.Edges;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Reports;

/// <summary>
/// The report's "L7 surface and external names" section (docs/l7.md): per server workload the operations its clients
/// used, with evidence; per client workload the DNS names of the external servers it reached. Self-contained: nothing
/// is written when the rules' edges carry no L7 facts (no Hubble L7 records in the input).
/// </summary>
internal static class L7SurfaceSection
{
    /// <summary>At most this many operations or names per service (the files and suggestions.json carry the rest).</summary>
    private const int PerService = 50;

    private static void Line(TextWriter text, string line = "")
    {
        text.Write(line);
        text.Write('\n');
    }

    public static void Write(TextWriter text, SuggestionSet set)
    {
        var operations = new SortedDictionary<string, Dictionary<(string Client, string Operation), L7Operation>>(StringComparer.Ordinal);
        var names = new SortedDictionary<string, SortedDictionary<string, long>>(StringComparer.Ordinal);
        foreach (var rule in set.Rules)
            foreach (var edge in rule.Edges)
            {
                if (edge.L7 is not { } facts) continue;
                foreach (var op in facts.Operations)
                {
                    if (!operations.TryGetValue(edge.Server.Key, out var byOp)) operations[edge.Server.Key] = byOp = new();
                    var key = (edge.Client.Key, $"{op.Protocol} {op}");
                    byOp[key] = byOp.TryGetValue(key, out var seen) && seen.Requests >= op.Requests ? seen : op;
                }
                foreach (var name in facts.Names)
                {
                    if (!names.TryGetValue(edge.Client.Key, out var byName)) names[edge.Client.Key] = byName = new(StringComparer.Ordinal);
                    byName[name.Name] = byName.GetValueOrDefault(name.Name) + name.Flows;
                }
            }
        if (operations.Count == 0 && names.Count == 0) return;
        Line(text, "## L7 surface and external names");
        Line(text);
        Line(text, "From Hubble's L7 records and DNS answers (docs/l7.md). `suggest --l7` turns them into Cilium HTTP/Kafka rules and toFQDNs, and Istio paths and a ServiceEntry; without it the rules stay L4.");
        Line(text);
        foreach (var (server, byOp) in operations)
        {
            Line(text, $"### `{server}` serves");
            Line(text);
            foreach (var ((client, _), op) in byOp.OrderBy(p => p.Key.Operation, StringComparer.Ordinal).ThenBy(p => p.Key.Client, StringComparer.Ordinal).Take(PerService))
                Line(text, string.Create(CultureInfo.InvariantCulture,
                    $"- {op.Protocol} `{op}` from `{client}`: {op.Requests} requests, {op.Errors} errors, first {new TimeText(op.FirstSeen, Seconds: false)}, last {new TimeText(op.LastSeen, Seconds: false)}, {op.Days.Count} days{(op.DistinctPaths > 1 ? $", {op.DistinctPaths} paths under the template" : "")}"));
            if (byOp.Count > PerService) Line(text, string.Create(CultureInfo.InvariantCulture, $"- ... and {byOp.Count - PerService} more"));
            Line(text);
        }
        foreach (var (client, byName) in names)
        {
            Line(text, $"### `{client}` reaches by name");
            Line(text);
            var matches = RuleL7.Matches(byName.Keys);
            Line(text, "- " + string.Join(", ", byName.Take(PerService).Select(p => string.Create(CultureInfo.InvariantCulture, $"`{p.Key}` ({p.Value} connections)"))));
            if (matches.Any(m => m.IsPattern))
                Line(text, "- as rules: " + string.Join(", ", matches.Select(m => $"`{m.Text}`")) + $" ({RuleL7.WildcardMinNames}+ sibling names become one `*.parent` pattern)");
            Line(text);
        }
    }
}
