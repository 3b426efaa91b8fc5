using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace FlowPolicy.IntegrationTests.Grafana;

/// <summary>
/// One alert rule of deploy/grafana/provisioning/alerting: its ClickHouse query (refId A), the query's relative time
/// range in seconds, and the threshold expression C applies to each row's value.
/// </summary>
internal sealed record GrafanaAlertRule(string Uid, string Title, string Sql, int FromSeconds, int ToSeconds, string Evaluator, double Threshold)
{
    /// <summary>Whether a value fires the rule as Grafana's threshold expression decides it (gt / lt).</summary>
    public bool Fires(double value) => Evaluator switch
    {
        "gt" => value > Threshold,
        "lt" => value < Threshold,
        _ => throw new InvalidOperationException($"{Uid}: evaluator {Evaluator} is not checked by the tests"),
    };

    public override string ToString() => Uid;
}

/// <summary>Reads the alert rule provisioning files the way Grafana would: groups, rules, their queries and thresholds.</summary>
internal static class GrafanaAlertRules
{
    public static string Directory => Path.Combine(GrafanaDashboards.RepositoryRoot(), "deploy", "grafana", "provisioning", "alerting");

    public static IReadOnlyList<GrafanaAlertRule> Load()
    {
        var rules = new List<GrafanaAlertRule>();
        foreach (var file in System.IO.Directory.GetFiles(Directory, "*.yaml").Order(StringComparer.Ordinal))
        {
            var yaml = new YamlStream();
            using (var reader = new StreamReader(file)) yaml.Load(reader);
            var root = (YamlMappingNode)yaml.Documents[0].RootNode;
            foreach (YamlMappingNode group in (YamlSequenceNode)root["groups"])
                foreach (YamlMappingNode rule in (YamlSequenceNode)group["rules"])
                {
                    var data = ((YamlSequenceNode)rule["data"]).Cast<YamlMappingNode>().ToList();
                    var query = data.Single(d => d["datasourceUid"].ToString() != "__expr__");
                    var range = (YamlMappingNode)query["relativeTimeRange"];
                    var condition = data.Single(d => d["refId"].ToString() == rule["condition"].ToString());
                    var model = (YamlMappingNode)condition["model"];
                    var evaluator = (YamlMappingNode)((YamlMappingNode)((YamlSequenceNode)model["conditions"])[0])["evaluator"];
                    rules.Add(new GrafanaAlertRule(rule["uid"].ToString(), rule["title"].ToString(), ((YamlMappingNode)query["model"])["rawSql"].ToString(),
                        int.Parse(range["from"].ToString(), CultureInfo.InvariantCulture), int.Parse(range["to"].ToString(), CultureInfo.InvariantCulture),
                        evaluator["type"].ToString(), double.Parse(((YamlSequenceNode)evaluator["params"])[0].ToString(), CultureInfo.InvariantCulture)));
                }
        }
        return rules;
    }
}
