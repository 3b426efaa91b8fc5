using System.Globalization;
using System.Text;
using FlowPolicy.Analytics.Intent;
using FlowPolicy.Analytics.Jobs;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Suggest.Emitters;
using FlowPolicy.Suggest.Inference;
using YamlDotNet.RepresentationModel;
using YamlNode = FlowPolicy.Suggest.Emitters.YamlNode;

namespace FlowPolicy.Suggest.Reports;

/// <summary>The intended policy as files: where they are, and how the run loads them (the same loader options and namespace labels).</summary>
/// <param name="Path">The intent directory (or one file) the run read.</param>
/// <param name="Load">Loads an evaluator from a directory laid out as <paramref name="Path"/>; the remediation checks its diffs with it.</param>
public sealed record IntentFiles(string Path, Func<string, IIntentEvaluator> Load)
{
    /// <summary>
    /// The remediations the SLI store writes to sli_drift.remediation (serve's analyze job, for the debug dashboard):
    /// computed as analyze's report computes them, without a suggestion (no rule ids) or noise classification.
    /// </summary>
    public DriftRemediator StoredRemediations() => report => DriftRemediation.StoredText(DriftRemediation.Compute(report, null, [], this));
}

/// <summary>What a drift event's remediation changes in the intended policy files.</summary>
internal enum DriftChange
{
    /// <summary>No policy-file change fixes it (or none could be written and checked): the note says what to do.</summary>
    None,
    /// <summary>Add the rule in the diff (a new file beside the intent), if the traffic is wanted.</summary>
    Add,
    /// <summary>Remove the rule in the diff: nothing used it.</summary>
    Remove,
}

/// <summary>The kind of drift, as sli_drift names it.</summary>
internal enum DriftKind
{
    UnintendedEdge,
    StaleRule,
    ObservedDeniedIntentAllows,
}

/// <summary>
/// One drift event with its remediation: the change to the intended policy files as a unified diff against the intent
/// in force, checked by loading the changed files: an added rule makes the edge allowed and no observed edge the intent
/// allowed becomes denied; a removed rule leaves every observed edge's verdict as it was.
/// </summary>
internal sealed record DriftRemediationItem(DriftKind Kind, string Subject, long Flows, DriftChange Change, string? SuggestedRule, string? File, string? Diff, string Note)
{
    public string KindName => Kind switch
    {
        DriftKind.UnintendedEdge => "unintended_edge",
        DriftKind.StaleRule => "stale_rule",
        _ => "observed_denied_intent_allows",
    };

    public string ChangeName => Change switch { DriftChange.Add => "add", DriftChange.Remove => "remove", _ => "none" };
}

/// <summary>
/// Turns the SLIs' drift (unintended edges, stale rules, edges the network denied that the intent allows) into
/// remediations with diffs of the intent's policy files (docs/report.md, "Drift and remediation"). An unintended edge
/// gets a new file allowing exactly it: a Kubernetes NetworkPolicy on the server's ingress, else on the client's egress,
/// else both, else a FlowPolicy rule, whichever is the first that allows the edge without denying any observed edge
/// the intent allowed (a new egress policy isolates its pods, so this is checked, not assumed). A stale rule gets its
/// lines removed from the file that holds it. Each candidate is checked on a copy of the intent directory.
/// </summary>
internal static class DriftRemediation
{
    /// <summary>Events with a diff at most (each is checked by loading the intent again); the rest are listed without one.</summary>
    public const int MaxDiffs = 50;

    /// <param name="suggestions">The suggested rules (suggest and serve reports), for the rule id that covers an edge; null for analyze.</param>
    /// <param name="noise">Edges left out as noise (the suggestion's, or analyze's classifier's): they get no rule to add.</param>
    public static IReadOnlyList<DriftRemediationItem> Compute(SliReport slis, SuggestionSet? suggestions, IReadOnlyList<LeftOutEdge> noise, IntentFiles intent)
    {
        var items = new List<DriftRemediationItem>();
        string copy = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "flowpolicy-drift-" + Guid.NewGuid().ToString("N")[..10]);
        try
        {
            bool single = File.Exists(intent.Path);
            // Hidden files and folders (.git) are not policies, as the loader skips them; they are not copied.
            var files = single ? [intent.Path] : Directory.EnumerateFiles(intent.Path, "*", SearchOption.AllDirectories)
                .Where(f => !System.IO.Path.GetRelativePath(intent.Path, f).Split(System.IO.Path.DirectorySeparatorChar, System.IO.Path.AltDirectorySeparatorChar).Any(p => p.StartsWith('.')))
                .Order(StringComparer.Ordinal).ToList();
            string root = single ? System.IO.Path.GetDirectoryName(intent.Path)! : intent.Path;
            foreach (var file in files)
            {
                var target = System.IO.Path.Combine(copy, System.IO.Path.GetRelativePath(root, file));
                Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }
            Directory.CreateDirectory(copy);
            var allowedBefore = slis.Edges.Where(e => e.Intent.Allowed).Select(e => e.Edge).ToList();
            int rulesBefore = slis.StaleRules.Count == 0 ? 0 : intent.Load(copy).Rules.Count;
            int checkedCount = 0;
            var noiseByKey = new Dictionary<string, LeftOutEdge>(StringComparer.Ordinal);
            foreach (var l in noise) noiseByKey.TryAdd(PipelineReport.EdgeKey(l.Edge), l);

            foreach (var u in slis.UnintendedEdges.OrderByDescending(u => u.Edge.Flows).ThenBy(u => PipelineReport.EdgeKey(u.Edge), StringComparer.Ordinal))
            {
                var e = u.Edge;
                var key = PipelineReport.EdgeKey(e);
                var rule = suggestions?.Rules.FirstOrDefault(r => r.Allows(e.Client, e.Server, e.Port, e.Protocol));
                var leftOut = noiseByKey.GetValueOrDefault(key);
                if (leftOut is not null)
                {
                    items.Add(new(DriftKind.UnintendedEdge, key, e.Flows, DriftChange.None, null, null, null,
                        $"left out of the suggestion as noise ({leftOut.Detail}): keep it blocked; no rule to add"));
                    continue;
                }
                if (checkedCount >= MaxDiffs)
                {
                    items.Add(new(DriftKind.UnintendedEdge, key, e.Flows, DriftChange.None, rule?.Id, null, null, $"no diff: only the {MaxDiffs} busiest drift events get one (report.json lists all)"));
                    continue;
                }
                checkedCount++;
                var found = AllowingChange(e, allowedBefore, intent, copy);
                items.Add(found is { } f
                    ? new(DriftKind.UnintendedEdge, key, e.Flows, DriftChange.Add, rule?.Id, f.File, f.Diff,
                        (rule is null ? "if it is wanted, add this rule" : $"if it is wanted, add this rule (suggested rule {rule.Id})") + "; if not, find what started it")
                    : new(DriftKind.UnintendedEdge, key, e.Flows, DriftChange.None, rule?.Id, null, null,
                        "no single policy file allows exactly this edge without denying another observed one (" + u.Intent.Reason + ")"));
            }

            foreach (var stale in slis.StaleRules)
            {
                var subject = stale.ToString();
                if (checkedCount >= MaxDiffs)
                {
                    items.Add(new(DriftKind.StaleRule, subject, 0, DriftChange.None, null, null, null, $"no diff: only the {MaxDiffs} first drift events get one"));
                    continue;
                }
                checkedCount++;
                var found = RemovingChange(stale, rulesBefore, slis, intent, copy, out var problem);
                items.Add(found is { } f
                    ? new(DriftKind.StaleRule, subject, 0, DriftChange.Remove, null, f.File, f.Diff, "no observed flow used it in the window; remove it if nothing needs it (a rare job may)")
                    : new(DriftKind.StaleRule, subject, 0, DriftChange.None, null, null, null, "unused in the window; no diff: " + (problem ?? "its lines were not found in a block-style YAML list") + " (remove it by hand if nothing needs it)"));
            }

            foreach (var m in slis.VerdictMismatches.Where(m => m.Kind == MismatchKind.ObservedDeniedIntentAllows))
                items.Add(new(DriftKind.ObservedDeniedIntentAllows, PipelineReport.EdgeKey(m.Edge), m.Flows, DriftChange.None, null, null, null,
                    "the intent allows it but the network denied it: the policies in force differ from the intent (apply the intent, or find the deny outside it); no change to the intent"));
        }
        finally
        {
            if (Directory.Exists(copy)) Directory.Delete(copy, recursive: true);
        }
        return items;
    }

    /// <summary>
    /// The remediations as sli_drift.remediation stores them (serve's analyze job): the note, then the unified diff when
    /// there is one, keyed by the event as the SLI store names it (the kind names, and subjects as Edge.ToString and
    /// IntentRule.ToString print them, which is what the items carry).
    /// </summary>
    public static IReadOnlyDictionary<DriftEvent, string> StoredText(IReadOnlyList<DriftRemediationItem> items)
    {
        var texts = new Dictionary<DriftEvent, string>();
        foreach (var item in items)
            texts.TryAdd(new DriftEvent(item.KindName, item.Subject), item.Diff is null ? item.Note : item.Note + "\n" + item.Diff);
        return texts;
    }

    // ---------------- adding an edge

    private static (string File, string Diff)? AllowingChange(Edge edge, IReadOnlyList<Edge> allowedBefore, IntentFiles intent, string copy)
    {
        var ingress = IngressPolicy(edge);
        var egress = EgressPolicy(edge);
        var candidates = new List<string>();
        if (ingress is not null) candidates.Add(ingress);
        if (egress is not null) candidates.Add(egress);
        if (ingress is not null && egress is not null) candidates.Add(ingress + "---\n" + egress[(egress.IndexOf('\n', StringComparison.Ordinal) + 1)..]);
        if (FlowPolicyRule(edge) is { } flow) candidates.Add(flow);
        var ns = Slug(edge.Server.Namespace ?? edge.Client.Namespace ?? "cluster");
        var relative = $"{ns}/flowpolicy-allow-{Slug(edge.Client.Name)}-to-{Slug(edge.Server.Name)}-{edge.Port}-{IpProtocols.Name(edge.Protocol).ToLowerInvariant()}.yaml";
        var path = System.IO.Path.Combine(copy, relative);
        if (File.Exists(path)) return null;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        try
        {
            foreach (var text in candidates)
            {
                File.WriteAllText(path, text);
                IIntentEvaluator after;
                try
                {
                    after = intent.Load(copy);
                }
                catch (Exception e) when (e is PolicyLoadException or IOException)
                {
                    continue;
                }
                if (!after.Evaluate(edge).Allowed) continue;
                if (allowedBefore.Any(b => !after.Evaluate(b).Allowed)) continue;
                return (relative, NewFileDiff(relative, text));
            }
            return null;
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static bool Selectable(Endpoint e) => e.Kind == EndpointKind.Pod && e.Namespace is not null && e.Selector.Count > 0;

    private static string? Cidr(Endpoint e) => e.IsAddress ? e.Address + (e.Address.IsV4 ? "/32" : "/128") : null;

    private static string? IngressPolicy(Edge edge) => NetworkPolicy(edge, ingress: true);

    private static string? EgressPolicy(Edge edge) => NetworkPolicy(edge, ingress: false);

    /// <summary>
    /// A NetworkPolicy selecting one side of the edge (the server for ingress, the client for egress) that allows exactly
    /// the other side on the edge's port; written by the emitters' YAML writer (same quoting). Null when the selected
    /// side is not a labelled pod, the other side cannot be named, or the protocol has no ports (TCP, UDP, SCTP only).
    /// </summary>
    private static string? NetworkPolicy(Edge edge, bool ingress)
    {
        var (selected, peer) = ingress ? (edge.Server, edge.Client) : (edge.Client, edge.Server);
        if (!Selectable(selected) || !IpProtocols.HasPorts(edge.Protocol)) return null;
        YamlMap peerNode;
        if (Selectable(peer))
            peerNode = YamlNode.Map()
                .Add("namespaceSelector", YamlNode.Map().Add("matchLabels", YamlNode.Map().Add("kubernetes.io/metadata.name", peer.Namespace!)))
                .Add("podSelector", YamlNode.Map().Add("matchLabels", PolicyText.MatchLabels(peer.Selector)));
        else if (Cidr(peer) is { } cidr) peerNode = YamlNode.Map().Add("ipBlock", YamlNode.Map().Add("cidr", cidr));
        else return null;
        var port = YamlNode.Map().Add("protocol", IpProtocols.Name(edge.Protocol)).Add("port", YamlNode.Int(edge.Port));
        var rule = YamlNode.Map().Add(ingress ? "from" : "to", YamlNode.Seq().Add(peerNode)).Add("ports", YamlNode.Seq().Add(port));
        var name = PolicyName(ingress ? "allow-from" : "allow-to", peer, edge);
        var doc = YamlNode.Map()
            .Add("apiVersion", "networking.k8s.io/v1")
            .Add("kind", "NetworkPolicy")
            .Add("metadata", YamlNode.Map().Add("name", name).Add("namespace", selected.Namespace!))
            .Add("spec", YamlNode.Map()
                .Add("podSelector", YamlNode.Map().Add("matchLabels", PolicyText.MatchLabels(selected.Selector)))
                .Add("policyTypes", YamlNode.Seq().Add(YamlNode.Str(ingress ? "Ingress" : "Egress")))
                .Add(ingress ? "ingress" : "egress", YamlNode.Seq().Add(rule)));
        return Comment(edge) + YamlWriter.Write([doc]);
    }

    private static string Comment(Edge edge) =>
        $"# Remediation of the unintended edge {PipelineReport.EdgeKey(edge)} ({edge.Flows.ToString(CultureInfo.InvariantCulture)} flows, {edge.FirstSeen:yyyy-MM-dd HH:mm} to {edge.LastSeen:yyyy-MM-dd HH:mm} UTC).\n";

    /// <summary>A FlowPolicy allow rule naming exactly the edge's workloads (for intents written as FlowPolicy).</summary>
    private static string? FlowPolicyRule(Edge edge)
    {
        static YamlNode? Peer(Endpoint e) => e.Kind switch
        {
            EndpointKind.Pod when e.Namespace is not null => YamlNode.Map().Add("namespace", e.Namespace).Add("workload", e.Name),
            EndpointKind.Node => YamlNode.Str("node"),
            _ => Cidr(e) is { } cidr ? YamlNode.Map().Add("cidr", cidr) : null,
        };
        if (Peer(edge.Client) is not { } from || Peer(edge.Server) is not { } to) return null;
        var name = Trim63(Slug($"allow-{edge.Client.Name}-to-{edge.Server.Name}-{edge.Port}"));
        var rule = YamlNode.Map().Add("name", name).Add("from", from).Add("to", to);
        if (IpProtocols.HasPorts(edge.Protocol))
            rule.Add("ports", YamlNode.Seq().Add(YamlNode.Str(string.Create(CultureInfo.InvariantCulture, $"{edge.Port}/{IpProtocols.Name(edge.Protocol)}"))));
        var doc = YamlNode.Map()
            .Add("apiVersion", "flowpolicy.dev/v1")
            .Add("kind", "FlowPolicy")
            .Add("metadata", YamlNode.Map().Add("name", name))
            .Add("spec", YamlNode.Map().Add("rules", YamlNode.Seq().Add(rule)));
        return Comment(edge) + YamlWriter.Write([doc]);
    }

    private static string PolicyName(string prefix, Endpoint peer, Edge edge) =>
        Trim63(Slug($"flowpolicy-{prefix}-{(peer.Namespace is { } ns ? ns + "-" : "")}{peer.Name}-{edge.Port}"));

    private static string Trim63(string name) => name.Length <= 63 ? name : name[..63].TrimEnd('-');

    /// <summary>A DNS-1123 label fragment: lower case, [a-z0-9-].</summary>
    private static string Slug(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (char c in text.ToLowerInvariant()) sb.Append(char.IsAsciiLetterOrDigit(c) ? c : '-');
        var slug = sb.ToString().Trim('-');
        while (slug.Contains("--", StringComparison.Ordinal)) slug = slug.Replace("--", "-", StringComparison.Ordinal);
        return slug.Length == 0 ? "x" : slug;
    }

    // ---------------- removing a stale rule

    private static (string File, string Diff)? RemovingChange(IntentRule rule, int rulesBefore, SliReport slis, IntentFiles intent, string copy, out string? problem)
    {
        problem = null;
        foreach (var path in Directory.EnumerateFiles(copy, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            if (System.IO.Path.GetExtension(path) is not (".yaml" or ".yml")) continue;
            var relative = System.IO.Path.GetRelativePath(copy, path).Replace('\\', '/');
            var original = File.ReadAllText(path);
            var lines = original.Split('\n');
            if (FindRuleLines(rule, relative, original) is not { } range) continue;
            var changed = string.Join('\n', lines.Take(range.First).Concat(lines.Skip(range.Last + 1)));
            try
            {
                File.WriteAllText(path, changed);
                IIntentEvaluator after;
                try
                {
                    after = intent.Load(copy);
                }
                catch (Exception e) when (e is PolicyLoadException or IOException)
                {
                    problem = $"{relative} without its lines does not load ({e.Message})";
                    return null;
                }
                // One rule fewer (the names of the rules after it shift: ingress[1] becomes ingress[0]), and no observed
                // edge changes its verdict (it matched none).
                if (after.Rules.Count != rulesBefore - 1)
                {
                    problem = $"removing lines {range.First + 1}-{range.Last + 1} of {relative} leaves {after.Rules.Count} rules of {rulesBefore}";
                    return null;
                }
                if (slis.Edges.FirstOrDefault(e => e.Intent.Allowed != after.Evaluate(e.Edge).Allowed) is { } flipped)
                {
                    problem = $"removing it changes the verdict of {PipelineReport.EdgeKey(flipped.Edge)}";
                    return null;
                }
                return (relative, RemovalDiff(relative, lines, range.First, range.Last));
            }
            finally
            {
                File.WriteAllText(path, original);
            }
        }
        return null;
    }

    /// <summary>The 0-based line range of the rule's list item in a block-style YAML file; null when the file does not hold it that way.</summary>
    private static (int First, int Last)? FindRuleLines(IntentRule rule, string relativeFile, string text)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlDotNet.Core.YamlException)
        {
            return null;
        }
        // Each document's object, or the items of a List (kubectl get -o yaml).
        var objects = stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>()
            .SelectMany(root => Scalar(root, "kind") is { } k && k.EndsWith("List", StringComparison.Ordinal) && root.Children.TryGetValue("items", out var items) && items is YamlSequenceNode list
                ? list.Children.OfType<YamlMappingNode>()
                : [root]);
        foreach (var root in objects)
        {
            if (Scalar(root, "kind") is not { } kind || Map(root, "metadata") is not { } metadata) continue;
            if (Map(root, "spec") is not { } spec) continue;
            YamlSequenceNode? list = null;
            int index = -1;
            if (kind == "NetworkPolicy" && rule.Kind == "NetworkPolicy")
            {
                var id = (Scalar(metadata, "namespace") ?? "default") + "/" + Scalar(metadata, "name");
                var bracket = rule.Rule.IndexOf('[', StringComparison.Ordinal);
                if (id != rule.Policy || bracket < 0 || !int.TryParse(rule.Rule.AsSpan(bracket + 1, rule.Rule.Length - bracket - 2), NumberStyles.None, CultureInfo.InvariantCulture, out index)) continue;
                list = spec.Children.TryGetValue(rule.Rule[..bracket], out var node) ? node as YamlSequenceNode : null;
            }
            else if (kind == "FlowPolicy" && rule.Policy == relativeFile + "#" + Scalar(metadata, "name"))
            {
                list = spec.Children.TryGetValue("rules", out var node) ? node as YamlSequenceNode : null;
                index = list?.Children.Select((r, i) => (r, i)).FirstOrDefault(x => x.r is YamlMappingNode m && Scalar(m, "name") == rule.Rule, (null!, -1)).Item2 ?? -1;
            }
            if (list is null || index < 0 || index >= list.Children.Count || list.Style == YamlDotNet.Core.Events.SequenceStyle.Flow) continue;
            // The item runs from its "- " line to the line before the next item (comments above it go with it), or, for
            // the last item, to its own last line; trailing blank lines stay.
            var lines = text.Split('\n');
            int first = (int)list.Children[index].Start.Line - 1;
            var item = list.Children[index];
            // A block collection's end mark is where the next token starts; a scalar's or a flow collection's is just past
            // its last character. The item's last line is the furthest of those inside it.
            int itemLast = item.AllNodes
                .Where(n => n is YamlScalarNode || n is YamlSequenceNode { Style: YamlDotNet.Core.Events.SequenceStyle.Flow } || n is YamlMappingNode { Style: YamlDotNet.Core.Events.MappingStyle.Flow })
                .Select(n => (int)n.End.Line - (n.End.Column <= 1 ? 2 : 1)).DefaultIfEmpty(first).Max();
            int last = Math.Min(lines.Length - 1, index + 1 < list.Children.Count ? (int)list.Children[index + 1].Start.Line - 2 : itemLast);
            while (last > first && string.IsNullOrWhiteSpace(lines[last])) last--;
            if (first < 0 || last < first) continue;
            return (first, last);
        }
        return null;
    }

    private static YamlMappingNode? Map(YamlMappingNode node, string key) => node.Children.TryGetValue(key, out var value) ? value as YamlMappingNode : null;

    private static string? Scalar(YamlMappingNode node, string key) => node.Children.TryGetValue(key, out var value) && value is YamlScalarNode s ? s.Value : null;

    // ---------------- unified diffs

    private static string NewFileDiff(string relative, string text)
    {
        var lines = text.TrimEnd('\n').Split('\n');
        var sb = new StringBuilder();
        sb.Append("--- /dev/null\n+++ b/").Append(relative).Append('\n');
        sb.Append(CultureInfo.InvariantCulture, $"@@ -0,0 +1,{lines.Length} @@\n");
        foreach (var line in lines) sb.Append('+').Append(line).Append('\n');
        return sb.ToString();
    }

    /// <summary>A unified diff removing lines <paramref name="first"/>..<paramref name="last"/> (0-based) with 3 lines of context.</summary>
    internal static string RemovalDiff(string relative, IReadOnlyList<string> lines, int first, int last)
    {
        int count = lines.Count;
        if (count > 0 && lines[^1].Length == 0) count--; // the text's final newline is not a line
        int from = Math.Max(0, first - 3), to = Math.Min(count - 1, last + 3);
        int oldLength = to - from + 1, newLength = oldLength - (last - first + 1);
        var sb = new StringBuilder();
        sb.Append("--- a/").Append(relative).Append("\n+++ b/").Append(relative).Append('\n');
        sb.Append(CultureInfo.InvariantCulture, $"@@ -{from + 1},{oldLength} +{(newLength == 0 ? from : from + 1)},{newLength} @@\n");
        for (int i = from; i <= to; i++) sb.Append(i >= first && i <= last ? '-' : ' ').Append(lines[i]).Append('\n');
        return sb.ToString();
    }
}
