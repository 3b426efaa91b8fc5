using System.Globalization;
using System.Net;
using System.Text;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Core.Edges;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Reports;

/// <summary>
/// The report's "L7 surface and external names" section (docs/l7.md): per server workload the operations its clients
/// used, with evidence, and (analyze) the SLIs per operation with what the intent's L7 rules deny; per client workload
/// the DNS names of the external servers it reached. report.html and report.md render the same lines from one model, so
/// they cannot disagree. <see cref="For"/> gives null when the edges carry no L7 facts (no Hubble L7 records).
/// </summary>
internal sealed class L7SurfaceSection : IReportSection
{
    /// <summary>At most this many operations or names per service (the files, suggestions.json and slis.json carry the rest).</summary>
    private const int PerService = 50;

    /// <summary>A run of text, code (a name, an operation) or plain.</summary>
    private readonly record struct Span(string Text, bool Code);

    /// <summary>One workload's part: "`subject` verb" as its heading, a list, and (analyze) the SLI table.</summary>
    private sealed record Block(string Subject, string Verb, List<List<Span>> Items, List<string[]>? Table = null);

    private static readonly string[] SliColumns = ["operation", "port", "clients", "requests", "errors", "compliance", "denied at L7", "undetermined"];

    private readonly List<Block> _blocks = [];
    private readonly string _intro;

    private L7SurfaceSection(string intro) => _intro = intro;

    public string Title => "L7 surface and external names";

    /// <param name="edges">The edges whose L7 facts are shown (a suggestion's rule edges, or every analysed edge).</param>
    /// <param name="slis">SLIs per operation (analyze); null for a suggestion.</param>
    public static L7SurfaceSection? For(IEnumerable<Edge> edges, IReadOnlyList<L7OperationSli>? slis)
    {
        var operations = new SortedDictionary<string, Dictionary<(string Client, string Operation), L7Operation>>(StringComparer.Ordinal);
        var names = new SortedDictionary<string, SortedDictionary<string, long>>(StringComparer.Ordinal);
        foreach (var edge in edges)
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
        if (operations.Count == 0 && names.Count == 0) return null;
        var section = new L7SurfaceSection(slis is null
            ? "From Hubble's L7 records and DNS answers (docs/l7.md). `suggest --l7` turns them into Cilium HTTP/Kafka rules and toFQDNs, and Istio paths and a ServiceEntry; without it the rules stay L4."
            : "From Hubble's L7 records and DNS answers (docs/l7.md). Compliance per operation: the share of its requests the intended policy allows (the port by the L4 intent, the operation by the intent's L7 rules: Cilium rules.http/kafka/dns, Istio methods and paths).");
        var slisByServer = (slis ?? []).GroupBy(s => s.Server, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        foreach (var (server, byOp) in operations)
        {
            var items = new List<List<Span>>();
            foreach (var ((client, _), op) in byOp.OrderBy(p => p.Key.Operation, StringComparer.Ordinal).ThenBy(p => p.Key.Client, StringComparer.Ordinal).Take(PerService))
                items.Add([new($"{op.Protocol} ", false), new(op.ToString(), true), new(" from ", false), new(client, true), new(string.Create(CultureInfo.InvariantCulture,
                    $": {op.Requests} requests, {op.Errors} errors, first {new TimeText(op.FirstSeen, Seconds: false)}, last {new TimeText(op.LastSeen, Seconds: false)}, {op.Days.Count} days{(op.DistinctPaths > 1 ? $", {op.DistinctPaths} paths under the template" : "")}"), false)]);
            if (byOp.Count > PerService) items.Add([new(string.Create(CultureInfo.InvariantCulture, $"... and {byOp.Count - PerService} more"), false)]);
            List<string[]>? table = null;
            if (slisByServer.TryGetValue(server, out var rows))
            {
                table = [];
                foreach (var row in rows.Take(PerService))
                {
                    table.Add([$"{row.Protocol} {row}", Num(row.Port), Num(row.Clients), Num(row.Requests), Num(row.Errors), Percent(row.ComplianceRate), Num(row.RequestsDeniedAtL7), Num(row.RequestsUndetermined)]);
                    if (row.DeniedReason is { } reason)
                        items.Add([new("denied at L7: ", false), new($"{row.Protocol} {row}", true), new(string.Create(CultureInfo.InvariantCulture, $", {row.RequestsDeniedAtL7} requests: {reason}"), false)]);
                }
            }
            section._blocks.Add(new Block(server, "serves", items, table));
        }
        foreach (var (client, byName) in names)
        {
            var item = new List<Span>();
            foreach (var (name, flows) in byName.Take(PerService))
            {
                if (item.Count > 0) item.Add(new(", ", false));
                item.Add(new(name, true));
                item.Add(new(string.Create(CultureInfo.InvariantCulture, $" ({flows} connections)"), false));
            }
            var items = new List<List<Span>> { item };
            var matches = RuleL7.Matches(byName.Keys);
            if (matches.Any(m => m.IsPattern))
            {
                var rules = new List<Span> { new("as rules: ", false) };
                foreach (var match in matches)
                {
                    if (rules.Count > 1) rules.Add(new(", ", false));
                    rules.Add(new(match.Text, true));
                }
                rules.Add(new($" ({RuleL7.WildcardMinNames}+ sibling names become one `*.parent` pattern)", false));
                items.Add(rules);
            }
            section._blocks.Add(new Block(client, "reaches by name", items));
        }
        return section;
    }

    private static string Num(long n) => n.ToString(CultureInfo.InvariantCulture);
    private static string Percent(double? rate) => rate is { } r ? (r * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%" : "n/a";

    public string Markdown()
    {
        var sb = new StringBuilder();
        sb.Append(_intro).Append("\n\n");
        foreach (var block in _blocks)
        {
            sb.Append("### `").Append(block.Subject).Append("` ").Append(block.Verb).Append("\n\n");
            foreach (var item in block.Items)
            {
                sb.Append("- ");
                // Text spans already spelling a pattern in backticks (`*.parent`) stay as they are.
                foreach (var span in item) sb.Append(span.Code ? "`" + span.Text + "`" : span.Text);
                sb.Append('\n');
            }
            if (block.Table is { Count: > 0 } table)
            {
                sb.Append('\n').Append("| ").Append(string.Join(" | ", SliColumns)).Append(" |\n");
                sb.Append('|').Append(string.Concat(Enumerable.Repeat("---|", SliColumns.Length))).Append('\n');
                foreach (var row in table) sb.Append("| ").Append(string.Join(" | ", row.Select((c, i) => i == 0 ? "`" + c + "`" : c))).Append(" |\n");
            }
            sb.Append('\n');
        }
        return sb.ToString();
    }

    public string Html()
    {
        var sb = new StringBuilder();
        sb.Append("<p class=\"note\">").Append(Encode(_intro)).Append("</p>\n");
        foreach (var block in _blocks)
        {
            sb.Append("<h3 class=\"l7\"><code>").Append(WebUtility.HtmlEncode(block.Subject)).Append("</code> ").Append(WebUtility.HtmlEncode(block.Verb)).Append("</h3>\n<ul>\n");
            foreach (var item in block.Items)
            {
                sb.Append("<li>");
                foreach (var span in item) sb.Append(span.Code ? "<code>" + WebUtility.HtmlEncode(span.Text) + "</code>" : Encode(span.Text));
                sb.Append("</li>\n");
            }
            sb.Append("</ul>\n");
            if (block.Table is { Count: > 0 } table)
            {
                sb.Append("<table class=\"l7-slis\"><thead><tr>");
                foreach (var column in SliColumns) sb.Append("<th>").Append(WebUtility.HtmlEncode(column)).Append("</th>");
                sb.Append("</tr></thead><tbody>\n");
                foreach (var row in table)
                {
                    sb.Append("<tr>");
                    for (int i = 0; i < row.Length; i++)
                        sb.Append(i == 0 ? "<td><code>" : "<td class=\"num\">").Append(WebUtility.HtmlEncode(row[i])).Append(i == 0 ? "</code></td>" : "</td>");
                    sb.Append("</tr>\n");
                }
                sb.Append("</tbody></table>\n");
            }
        }
        return sb.ToString();
    }

    /// <summary>Plain text with `code` spans (the intro) as HTML.</summary>
    private static string Encode(string text)
    {
        var parts = text.Split('`');
        var sb = new StringBuilder();
        for (int i = 0; i < parts.Length; i++)
            sb.Append(i % 2 == 1 ? "<code>" + WebUtility.HtmlEncode(parts[i]) + "</code>" : WebUtility.HtmlEncode(parts[i]));
        return sb.ToString();
    }

    /// <summary>suggest's report.md: the section with its heading, when the rules' edges carry L7 facts.</summary>
    public static void Write(TextWriter text, SuggestionSet set)
    {
        if (For(set.Rules.SelectMany(r => r.Edges), slis: null) is not { } section) return;
        text.Write("## " + section.Title + "\n\n");
        text.Write(section.Markdown());
    }
}
