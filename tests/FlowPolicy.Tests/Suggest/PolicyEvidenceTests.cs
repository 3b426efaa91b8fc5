using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Suggest.Emitters;
using FlowPolicy.Suggest.Inference;
using FlowPolicy.Suggest.Reports;
using YamlDotNet.RepresentationModel;
using YamlNode = FlowPolicy.Suggest.Emitters.YamlNode;

namespace FlowPolicy.Tests.Suggest;

/// <summary>Every rule in a policy file carries its evidence, and no object grows past what the Kubernetes API accepts.</summary>
public sealed class PolicyEvidenceTests(SampleSuggestion sample) : IClassFixture<SampleSuggestion>
{
    /// <summary>Kubernetes rejects an object whose annotations (keys and values) exceed 256 KiB in all.</summary>
    private const int AnnotationLimit = 256 * 1024;

    [Theory]
    [InlineData("k8s")]
    [InlineData("cilium")]
    [InlineData("calico")]
    [InlineData("istio")]
    public void Each_rule_has_its_evidence_in_a_comment_right_before_the_rule_that_allows_it(string format)
    {
        var byId = sample.Set.Rules.ToDictionary(r => r.Id);
        var seen = new HashSet<string>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(sample.Out, format), "*.yaml", SearchOption.AllDirectories))
        {
            var lines = File.ReadAllLines(file);
            for (int i = 0; i < lines.Length; i++)
            {
                var line = lines[i].TrimStart();
                if (!line.StartsWith("# ", StringComparison.Ordinal)) continue;
                var text = line[2..];
                // A rule k8s cannot or need not express keeps its evidence with the reason in front; a DNS rule's
                // companion on the other transport repeats the rule's evidence after saying so.
                bool explained = text.StartsWith("not emitted", StringComparison.Ordinal);
                bool lead = explained || text.StartsWith("DNS on ", StringComparison.Ordinal);
                var id = lead ? text[(text.IndexOf(": r-", StringComparison.Ordinal) + 2)..].Split(' ')[0] : text.Split(' ')[0];
                Assert.True(byId.TryGetValue(id, out var rule), $"{file}:{i + 1}: no rule {id}");
                Assert.EndsWith(PolicyText.Evidence(rule), text);
                seen.Add(id);
                if (explained) continue;
                // The comments before a rule (one per peer it lists) end at the rule's item, at their indentation.
                int next = i + 1;
                while (lines[next].TrimStart().StartsWith("# ", StringComparison.Ordinal)) next++;
                Assert.Equal(lines[i].Length - line.Length, lines[next].Length - lines[next].TrimStart().Length);
                Assert.StartsWith("- ", lines[next].TrimStart());
            }
            var doc = Assert.Single(Documents(file));
            var metadata = PolicyYaml.Get(doc, "metadata");
            var spec = PolicyYaml.Get(doc, "spec");
            int rules = PolicyYaml.Seq(spec, "ingress").Count() + PolicyYaml.Seq(spec, "egress").Count() + PolicyYaml.Seq(spec, "rules").Count();
            if (PolicyYaml.Str(metadata, "name") == PolicyNames.DefaultDeny) rules = 0; // Cilium's deny has one empty rule per direction
            var annotations = PolicyYaml.Pairs(PolicyYaml.Get(metadata, "annotations")).ToDictionary(p => p.Key, p => p.Value);
            Assert.DoesNotContain(annotations.Keys, k => k.StartsWith("flowpolicy.io/rule.", StringComparison.Ordinal));
            Assert.Equal(rules == 0 ? null : rules.ToString(System.Globalization.CultureInfo.InvariantCulture), annotations.GetValueOrDefault("flowpolicy.io/rules"));
        }
        var expected = sample.Set.Rules
            .Where(r => format != "istio" || (r.Server.IsWorkload && r.Client.Kind != PeerKind.Nodes
                && (r.Protocol == IpProtocols.Tcp || EmittedRules.DnsCompanion(r.Protocol, r.Port) == IpProtocols.Tcp)))
            .Select(r => r.Id);
        Assert.Equal(expected.Order(StringComparer.Ordinal), seen.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_server_with_thousands_of_clients_stays_within_the_annotation_limit_and_keeps_every_rule_and_its_evidence()
    {
        var server = Workload("data", "shared-postgres", ("app", "shared-postgres"));
        var edges = new List<Edge>();
        for (int i = 0; i < 3000; i++)
        {
            var client = Workload($"team-{i % 40:D2}", $"a-rather-long-service-name-{i:D4}", ("app", $"a-rather-long-service-name-{i:D4}"), ("tier", "backend"));
            edges.Add(new Edge(client, server, 5432, IpProtocols.Tcp)
            {
                Flows = 500 + i, Bytes = 1_000_000UL + (ulong)i, FirstSeen = T(0), LastSeen = T(24 * 7 - 1),
                Days = Enumerable.Range(0, 7).Select(d => DateOnly.FromDateTime(T(24 * d))).ToList(),
            });
        }
        var set = new RuleInference(new SuggestOptions { WindowStart = T(0), WindowEnd = T(24 * 7) }).Infer(edges);
        Assert.Equal(3000, set.Rules.Count);
        var dir = Path.Combine(sample.Directory, "crowded");
        new SuggestionOutput(new SuggestionOutputOptions { Directory = dir }).Write(set);

        foreach (var file in Directory.EnumerateFiles(dir, "*.yaml", SearchOption.AllDirectories))
            foreach (var doc in Documents(file))
            {
                long size = PolicyYaml.Pairs(PolicyYaml.Get(PolicyYaml.Get(doc, "metadata"), "annotations")).Sum(p => (long)p.Key.Length + p.Value.Length);
                Assert.True(size < AnnotationLimit, $"{file}: {size} bytes of annotations");
            }
        foreach (var file in new[] { "k8s/data/shared-postgres-ingress.yaml", "cilium/data/shared-postgres.yaml", "calico/data/shared-postgres.yaml", "istio/data/shared-postgres.yaml" })
        {
            var text = File.ReadAllText(Path.Combine(dir, file));
            foreach (var rule in set.Rules) Assert.Contains("# " + PolicyText.Evidence(rule) + "\n", text);
            var policy = Assert.Single(Documents(Path.Combine(dir, file)));
            var spec = PolicyYaml.Get(policy, "spec");
            // Clients on one port share rules: a few rules listing every client, not 3,000 rules.
            var items = PolicyYaml.Seq(spec, file.StartsWith("istio", StringComparison.Ordinal) ? "rules" : "ingress").ToList();
            Assert.InRange(items.Count, 3000 / EmittedRules.MaxPeersPerRule, 40);
            Assert.Contains($"a-rather-long-service-name-2999", text.Split('\n').Where(l => !l.TrimStart().StartsWith('#')).Last(l => l.Contains("2999", StringComparison.Ordinal)));
            // Too large for client-side kubectl apply: the report says how to apply it.
            long bytes = new FileInfo(Path.Combine(dir, file)).Length;
            Assert.True(bytes > SuggestionOutput.ClientSideApplyLimit, $"{file}: {bytes} bytes");
            Assert.Contains("- " + SuggestionOutput.LargeObjectNote(file, bytes) + "\n", File.ReadAllText(Path.Combine(dir, "report.md")));
        }
        Assert.DoesNotContain("kubectl apply --server-side", File.ReadAllText(Path.Combine(sample.Out, "report.md")));

        // suggestions.json: a rule per line, in rule order (rendered in chunks on every core), and valid JSON.
        var ruleLines = File.ReadLines(Path.Combine(dir, "suggestions.json")).Where(l => l.StartsWith("{\"id\":\"r-", StringComparison.Ordinal)).ToList();
        Assert.Equal(set.Rules.Select(r => r.Id), ruleLines.Select(l => l[7..17]));
        using (var json = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "suggestions.json"))))
            Assert.Equal(set.Rules.Select(r => r.Id), json.RootElement.GetProperty("rules").EnumerateArray().Select(r => r.GetProperty("id").GetString()));

        // The report stays readable: the first rules, then how many more and where they are.
        var report = File.ReadAllLines(Path.Combine(dir, "report.md"));
        Assert.Equal(MarkdownReport.ListLimit, report.Count(l => l.StartsWith("| r-", StringComparison.Ordinal)));
        Assert.Contains(MarkdownReport.More(3000 - MarkdownReport.ListLimit, "rules", json: true) + " The policy files hold them all, each with its evidence.", report);
        Assert.Equal(set.Rules.Take(MarkdownReport.ListLimit).Select(r => r.Id), report.Where(l => l.StartsWith("| r-", StringComparison.Ordinal)).Select(l => l.Split(' ')[1]));
        Assert.DoesNotContain(File.ReadAllLines(Path.Combine(sample.Out, "report.md")), l => l.Contains("… and", StringComparison.Ordinal));
    }

    [Fact]
    public void The_namespace_layout_holds_the_workload_layout_files_of_each_namespace_in_one_file_in_the_same_order()
    {
        var byWorkload = Path.Combine(sample.Directory, "by-workload");
        var byNamespace = Path.Combine(sample.Directory, "by-namespace");
        var workloadFiles = new SuggestionOutput(new SuggestionOutputOptions { Directory = byWorkload }).Write(sample.Set);
        var namespaceFiles = new SuggestionOutput(new SuggestionOutputOptions { Directory = byNamespace, Layout = SuggestionLayout.Namespace }).Write(sample.Set);

        var policyFiles = workloadFiles.Where(f => f.EndsWith(".yaml", StringComparison.Ordinal)).ToList();
        var expected = policyFiles.GroupBy(f => Path.GetDirectoryName(f)! + ".yaml")
            .ToDictionary(g => g.Key, g => string.Join("---\n", g.Select(f => File.ReadAllText(Path.Combine(byWorkload, f)))));
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), namespaceFiles.Where(f => f.EndsWith(".yaml", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.Contains("calico/staged/shop.yaml", expected.Keys);
        foreach (var (file, text) in expected)
            Assert.Equal(text, File.ReadAllText(Path.Combine(byNamespace, file)));
        Assert.Equal(File.ReadAllText(Path.Combine(byWorkload, "suggestions.json")), File.ReadAllText(Path.Combine(byNamespace, "suggestions.json")));
        // An independent YAML reader finds the same documents in both layouts.
        Assert.Equal(PolicyYaml.Load(byWorkload).Count, PolicyYaml.Load(byNamespace).Count);
    }

    [Fact]
    public void An_icmp_rule_is_an_icmps_rule_in_cilium_and_a_portless_rule_with_a_note_in_kubernetes()
    {
        var client = Workload("ops", "pinger", ("app", "pinger"));
        var server = Workload("shop", "db", ("app", "db"));
        var edges = new List<Edge>
        {
            new(client, server, 0, IpProtocols.Icmp) { Flows = 900, Bytes = 90_000, FirstSeen = T(0), LastSeen = T(24 * 7 - 1), Days = Enumerable.Range(0, 7).Select(d => DateOnly.FromDateTime(T(24 * d))).ToList() },
            new(client, server, 5432, IpProtocols.Tcp) { Flows = 900, Bytes = 90_000, FirstSeen = T(0), LastSeen = T(24 * 7 - 1), Days = Enumerable.Range(0, 7).Select(d => DateOnly.FromDateTime(T(24 * d))).ToList() },
        };
        var set = new RuleInference(new SuggestOptions { WindowStart = T(0), WindowEnd = T(24 * 7) }).Infer(edges);
        var icmp = Assert.Single(set.Rules, r => r.Protocol == IpProtocols.Icmp);
        var dir = Path.Combine(sample.Directory, "icmp");
        new SuggestionOutput(new SuggestionOutputOptions { Directory = dir }).Write(set);

        var cilium = PolicyYaml.Get(Assert.Single(Documents(Path.Combine(dir, "cilium", "shop", "db.yaml"))), "spec");
        var ingress = PolicyYaml.Seq(cilium, "ingress").ToList();
        Assert.Equal(2, ingress.Count);
        var icmps = PolicyYaml.Seq(ingress.Single(r => PolicyYaml.Get(r, "icmps") is not null), "icmps").Single();
        var field = PolicyYaml.Seq(icmps, "fields").Single();
        Assert.Equal(("IPv4", "8"), (PolicyYaml.Str(field, "family"), PolicyYaml.Str(field, "type")));
        Assert.Equal("5432", PolicyYaml.Str(PolicyYaml.Seq(PolicyYaml.Seq(ingress.Single(r => PolicyYaml.Get(r, "toPorts") is not null), "toPorts").Single(), "ports").Single(), "port"));

        var k8s = PolicyYaml.Get(Assert.Single(Documents(Path.Combine(dir, "k8s", "shop", "db-ingress.yaml"))), "spec");
        Assert.Single(PolicyYaml.Seq(k8s, "ingress"), r => PolicyYaml.Get(r, "ports") is null);
        Assert.Contains($"{icmp.Id} ({icmp}): NetworkPolicy cannot name ICMP", File.ReadAllText(Path.Combine(dir, "report.md")));
    }

    [Fact]
    public void Comments_are_one_line_and_the_yaml_around_them_parses_unchanged()
    {
        var doc = YamlNode.Map()
            .Add(YamlNode.Comment("before the first key\nwith a line break"))
            .Add("empty", YamlNode.Seq().Add(YamlNode.Comment("only a comment")))
            .Add("items", YamlNode.Seq()
                .Add(YamlNode.Comment("first"))
                .Add(YamlNode.Map().Add(YamlNode.Comment("on the dash line")).Add("a", "1").Add("b", "x"))
                .Add(YamlNode.Comment("second"))
                .Add(YamlNode.Str("plain")))
            .Add("map", YamlNode.Map().Add(YamlNode.Comment("only")));
        var text = YamlWriter.Write([doc]);
        Assert.Contains("# before the first key with a line break\n", text);
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        var root = (YamlMappingNode)stream.Documents.Single().RootNode;
        Assert.Empty(((YamlSequenceNode)root["empty"]).Children);
        var items = ((YamlSequenceNode)root["items"]).Children;
        Assert.Equal(2, items.Count);
        Assert.Equal("1", ((YamlScalarNode)((YamlMappingNode)items[0])["a"]).Value);
        Assert.Equal("x", ((YamlScalarNode)((YamlMappingNode)items[0])["b"]).Value);
        Assert.Equal("plain", ((YamlScalarNode)items[1]).Value);
        Assert.Empty(((YamlMappingNode)root["map"]).Children);
    }

    private static List<YamlMappingNode> Documents(string file)
    {
        var stream = new YamlStream();
        using (var reader = new StreamReader(file)) stream.Load(reader);
        return stream.Documents.Select(d => (YamlMappingNode)d.RootNode).ToList();
    }

    private static DateTime T(int hours) => new DateTime(2026, 11, 2, 0, 0, 0, DateTimeKind.Utc).AddHours(hours);

    private static Endpoint Workload(string ns, string name, params (string, string)[] labels) =>
        Endpoint.FromIdentity(new WorkloadIdentity(EndpointKind.Pod, ns, name, "Deployment", labels: labels.Select(l => KeyValuePair.Create(l.Item1, l.Item2))));
}
