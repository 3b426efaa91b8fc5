using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.RegularExpressions;
using FlowPolicy.Cli.Commands;
using FlowPolicy.Cli.Serve;
using FlowPolicy.Ingest.Enrichment;
using FlowPolicy.Ingest.Workers;
using FlowPolicy.Tests.Cli;
using YamlDotNet.RepresentationModel;

namespace FlowPolicy.Tests.Deploy;

/// <summary>
/// deploy/prometheus/flowpolicy-alerts.yaml against the instruments the code publishes: promtool accepts it (when
/// installed: Debian's prometheus package), every rule is complete, every metric it names is one the exporter writes,
/// and docs/metrics.md lists every instrument.
/// </summary>
public sealed partial class PrometheusRulesTests
{
    private static string RulesFile => Path.Combine(CliProcess.RepositoryRoot(), "deploy", "prometheus", "flowpolicy-alerts.yaml");

    [Fact]
    public void Promtool_accepts_the_rules_when_it_is_installed()
    {
        var promtool = Environment.GetEnvironmentVariable("PATH")?.Split(':').Select(d => Path.Combine(d, "promtool")).FirstOrDefault(File.Exists);
        if (promtool is null) return; // the structural test below still runs
        var start = new ProcessStartInfo(promtool, ["check", "rules", RulesFile]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, output);
        Assert.Contains("SUCCESS: 6 rules found", output);
    }

    [Fact]
    public void Every_rule_is_complete_and_names_only_metrics_the_exporter_writes()
    {
        var published = PrometheusNames(PublishedInstruments());
        var yaml = new YamlStream();
        using (var reader = new StreamReader(RulesFile)) yaml.Load(reader);
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        var alerts = new List<string>();
        foreach (YamlMappingNode group in (YamlSequenceNode)root["groups"])
            foreach (YamlMappingNode rule in (YamlSequenceNode)group["rules"])
            {
                var alert = rule["alert"].ToString();
                alerts.Add(alert);
                var labels = (YamlMappingNode)rule["labels"];
                Assert.Contains(labels["severity"].ToString(), new[] { "warning", "critical" });
                Assert.False(string.IsNullOrWhiteSpace(((YamlMappingNode)rule["annotations"])["summary"].ToString()), alert);
                foreach (Match m in MetricName().Matches(rule["expr"].ToString()))
                    Assert.True(published.Contains(m.Value), $"{alert}: {m.Value} is not a metric FlowPolicy exposes");
            }
        Assert.Equal(alerts.Count, alerts.Distinct().Count());
        // The thresholds are documented per alert.
        var docs = File.ReadAllText(Path.Combine(CliProcess.RepositoryRoot(), "docs", "metrics.md"));
        Assert.All(alerts, a => Assert.Contains($"`{a}`", docs));
    }

    [Fact]
    public void Docs_list_every_instrument_of_every_meter()
    {
        var docs = File.ReadAllText(Path.Combine(CliProcess.RepositoryRoot(), "docs", "metrics.md"));
        var instruments = PublishedInstruments();
        Assert.True(instruments.Count > 30, $"only {instruments.Count} instruments published");
        Assert.All(instruments, i => Assert.Contains($"`{i.Name}`", docs));
        Assert.Equal(MetricsExport.Meters.Order(), instruments.Select(i => i.Meter.Name).Distinct().Order());
    }

    /// <summary>Every instrument of the exported meters, published the way the components publish them.</summary>
    private static List<Instrument> PublishedInstruments()
    {
        var found = new List<Instrument>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (MetricsExport.Meters.Contains(instrument.Meter.Name))
                    lock (found) found.Add(instrument);
            },
        };
        listener.Start();
        using var ingest = new IngestMetrics();
        ingest.Publish();
        using var inventory = new InventoryWatcherMetrics();
        inventory.Publish();
        using var jobs = new JobMetrics();
        jobs.Publish([]);
        // The static meters of the edge source, the intent evaluator, analyze and suggest publish when their types initialise.
        foreach (var type in new[]
                 {
                     typeof(FlowPolicy.Analytics.Edges.ClickHouseEdgeSourceMetrics), typeof(FlowPolicy.Analytics.Intent.IntentEvaluatorMetrics),
                     typeof(FlowPolicy.Analytics.Jobs.AnalyzeJob), typeof(FlowPolicy.Suggest.Inference.SuggestMetrics), typeof(FlowPolicy.Suggest.Reports.SuggestReport),
                 })
            System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(type.TypeHandle);
        lock (found) return found.GroupBy(i => (i.Meter.Name, i.Name)).Select(g => g.First()).ToList();
    }

    /// <summary>The names OpenTelemetry's Prometheus exporter gives the instruments: dots to underscores, a unit suffix, _total on counters.</summary>
    private static HashSet<string> PrometheusNames(IEnumerable<Instrument> instruments)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var i in instruments)
        {
            var name = i.Name.Replace('.', '_') + i.Unit switch { "s" => "_seconds", "By" => "_bytes", _ => "" };
            var type = i.GetType().GetGenericTypeDefinition();
            if (type == typeof(Counter<>) || type == typeof(ObservableCounter<>)) names.Add(name + "_total");
            else if (type == typeof(Histogram<>))
                foreach (var suffix in new[] { "_bucket", "_sum", "_count" }) names.Add(name + suffix);
            else names.Add(name);
        }
        return names;
    }

    [GeneratedRegex(@"\bflowpolicy_[a-z_]+\b")]
    private static partial Regex MetricName();
}
