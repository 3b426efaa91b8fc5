using FlowPolicy.Tests.Cli;
using YamlDotNet.RepresentationModel;

namespace FlowPolicy.Tests.Deploy;

/// <summary>
/// deploy/grafana/provisioning/alerting as Grafana's file provisioning reads it (apiVersion 1, groups of rules): every
/// field Grafana requires is there, uids are unique, every query names a provisioned data source (or the expression
/// engine), the condition and every expression refer to refIds of the rule, and docs/grafana.md documents each rule.
/// Their SQL runs on both ClickHouse versions in the integration tests (DashboardQueryTests).
/// </summary>
public sealed class GrafanaAlertRulesTests
{
    private static string Root => CliProcess.RepositoryRoot();
    private static string Provisioning => Path.Combine(Root, "deploy", "grafana", "provisioning");

    private static YamlMappingNode Load(string path)
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(path)) yaml.Load(reader);
        return (YamlMappingNode)yaml.Documents[0].RootNode;
    }

    private static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(key, out var value) && value is YamlScalarNode scalar ? scalar.Value : null;

    [Fact]
    public void Every_alert_rule_is_complete_refers_to_existing_refIds_and_data_sources_and_is_documented()
    {
        var sources = Directory.GetFiles(Path.Combine(Provisioning, "datasources"), "*.yaml")
            .SelectMany(f => ((YamlSequenceNode)Load(f)["datasources"]).Cast<YamlMappingNode>())
            .ToDictionary(d => Scalar(d, "uid")!, d => Scalar(d, "type")!);
        var files = Directory.GetFiles(Path.Combine(Provisioning, "alerting"), "*.yaml");
        Assert.NotEmpty(files);
        var uids = new List<string>();
        var docs = File.ReadAllText(Path.Combine(Root, "docs", "grafana.md"));
        foreach (var file in files)
        {
            var root = Load(file);
            Assert.Equal("1", Scalar(root, "apiVersion"));
            foreach (YamlMappingNode group in (YamlSequenceNode)root["groups"])
            {
                foreach (var key in new[] { "name", "folder", "interval" }) Assert.False(string.IsNullOrWhiteSpace(Scalar(group, key)), $"{file}: a group lacks {key}");
                Assert.Matches("^[0-9]+[smh]$", Scalar(group, "interval"));
                foreach (YamlMappingNode rule in (YamlSequenceNode)group["rules"])
                {
                    var uid = Scalar(rule, "uid")!;
                    Assert.False(string.IsNullOrWhiteSpace(uid));
                    Assert.True(uid.Length <= 40, $"{uid}: Grafana caps rule uids at 40 characters");
                    uids.Add(uid);
                    foreach (var key in new[] { "title", "condition", "for", "noDataState", "execErrState" })
                        Assert.False(string.IsNullOrWhiteSpace(Scalar(rule, key)), $"{uid}: lacks {key}");
                    Assert.Contains(Scalar(rule, "noDataState"), new[] { "OK", "NoData", "Alerting" });
                    Assert.Contains(Scalar(rule, "execErrState"), new[] { "OK", "Error", "Alerting" });
                    Assert.Contains(Scalar((YamlMappingNode)rule["labels"], "severity"), new[] { "warning", "critical" });
                    Assert.False(string.IsNullOrWhiteSpace(Scalar((YamlMappingNode)rule["annotations"], "summary")), uid);

                    var data = ((YamlSequenceNode)rule["data"]).Cast<YamlMappingNode>().ToList();
                    var refIds = data.Select(d => Scalar(d, "refId")!).ToList();
                    Assert.Equal(refIds.Count, refIds.Distinct().Count());
                    Assert.Contains(Scalar(rule, "condition"), refIds);
                    foreach (var item in data)
                    {
                        var model = (YamlMappingNode)item["model"];
                        Assert.Equal(Scalar(item, "refId"), Scalar(model, "refId"));
                        var source = Scalar(item, "datasourceUid")!;
                        if (source == "__expr__")
                        {
                            Assert.Contains(Scalar(model, "type"), new[] { "threshold", "reduce", "math" });
                            var input = Scalar(model, "expression")!;
                            Assert.True(refIds.Contains(input) && input != Scalar(item, "refId"), $"{uid}: expression {Scalar(item, "refId")} reads {input}, not another refId of the rule");
                            continue;
                        }
                        Assert.True(sources.ContainsKey(source), $"{uid}: data source {source} is not provisioned");
                        var ds = (YamlMappingNode)model["datasource"];
                        Assert.Equal(source, Scalar(ds, "uid"));
                        Assert.Equal(sources[source], Scalar(ds, "type"));
                        var range = (YamlMappingNode)item["relativeTimeRange"];
                        Assert.True(int.Parse(Scalar(range, "from")!) > int.Parse(Scalar(range, "to")!), $"{uid}: empty relativeTimeRange");
                        Assert.False(string.IsNullOrWhiteSpace(Scalar(model, "rawSql")), uid);
                        Assert.Equal("table", Scalar(model, "queryType"));
                    }
                    // The condition is a threshold: the value each row's instance is compared with.
                    var condition = (YamlMappingNode)data.Single(d => Scalar(d, "refId") == Scalar(rule, "condition"))["model"];
                    Assert.Equal("threshold", Scalar(condition, "type"));
                    Assert.Contains($"`{uid}`", docs);
                }
            }
        }
        Assert.Equal(uids.Count, uids.Distinct().Count());
    }

    [Fact]
    public void Compose_mounts_the_alerting_provisioning_where_Grafana_reads_it()
    {
        var compose = File.ReadAllText(Path.Combine(Root, "deploy", "compose", "docker-compose.yaml"));
        Assert.Contains("../grafana/provisioning:/etc/grafana/provisioning:ro", compose, StringComparison.Ordinal);
    }
}
