using FlowPolicy.Cli.Serve;
using FlowPolicy.Suggest.Reports;
using FlowPolicy.Tests.Cli;

namespace FlowPolicy.Tests.Serve;

public sealed class ServeConfigTests
{
    [Fact]
    public void The_example_config_under_deploy_parses_and_validates()
    {
        var config = ServeConfig.Load(Path.Combine(CliProcess.RepositoryRoot(), "deploy", "config", "flowpolicy.yaml"));
        config.Validate();
        Assert.Equal(["rollup", "analyze", "suggest", "retention", "anomalies"], config.Jobs.Select(j => j.Name));
        Assert.Equal(TimeSpan.FromDays(7), config.Job("suggest").Window);
        Assert.Equal(TimeSpan.FromSeconds(30), config.RetryBackoff);
        // Relative paths resolve against the file's directory.
        Assert.Equal(Path.Combine(CliProcess.RepositoryRoot(), "docs", "examples", "sample-policies"), config.Intent);
    }

    [Fact]
    public void The_istio_mesh_is_read_and_defaults_to_istio_system_and_cluster_local()
    {
        Assert.Equal(FlowPolicy.Analytics.Intent.IstioMesh.Default, ServeConfig.Parse("http:\n  port: 0\n").Istio);
        var config = ServeConfig.Parse("istio:\n  root_namespace: mesh-root\n  trust_domain: corp.example\n");
        config.Istio.Validate();
        Assert.Equal(new FlowPolicy.Analytics.Intent.IstioMesh("mesh-root", "corp.example"), config.Istio);
        Assert.Equal("corp.example", new FlowPolicy.Cli.Serve.ScheduledJobFactory(config, null!, null!).LoadCluster().IstioTrustDomain);
    }

    [Fact]
    public void Json_is_read_like_yaml_and_unnamed_settings_keep_their_defaults()
    {
        var config = ServeConfig.Parse("""{"clickhouse": {"url": "https://ch.example.com:8443/"}, "jobs": {"hourly": {"kind": "rollup", "schedule": "0 0 * * * ?"}}}""");
        Assert.Equal("https://ch.example.com:8443/", config.ClickHouseUrl);
        Assert.Equal("flowpolicy", config.ClickHouseDatabase);
        var job = Assert.Single(config.Jobs);
        Assert.Equal(("hourly", "rollup"), (job.Name, job.Kind));
        Assert.Equal("127.0.0.1", config.HttpListen);
    }

    [Fact]
    public void Environment_variables_fill_secrets_and_a_missing_one_is_named()
    {
        var env = new Dictionary<string, string> { ["KAFKA_PASSWORD"] = "s3cret" };
        var config = ServeConfig.Parse("kafka:\n  properties:\n    sasl.password: ${KAFKA_PASSWORD}\n", "f.yaml", k => env.GetValueOrDefault(k));
        Assert.Equal(["sasl.password=s3cret"], config.KafkaProperties);

        var error = Assert.Throws<ConfigException>(() => ServeConfig.Parse("kafka:\n  brokers: ${NOT_SET_ANYWHERE}\n", "f.yaml", _ => null));
        Assert.Contains("f.yaml:2", error.Message);
        Assert.Contains("NOT_SET_ANYWHERE", error.Message);
    }

    [Theory]
    [InlineData("kafka:\n  brokerz: x\n", "f.yaml:2", "kafka.brokerz")]
    [InlineData("retry:\n  backoff: soon\n", "f.yaml:2", "retry.backoff")]
    [InlineData("jobs:\n  analyze:\n    window: 1h\n", "f.yaml", "needs a schedule")]
    [InlineData("http:\n  port: eighty\n", "f.yaml:2", "http.port")]
    [InlineData("jobs:\n  suggest:\n    schedule: \"0 0 * * * ?\"\n    layout: flat\n", "f.yaml:4", "'jobs.suggest.layout' is 'flat'; use one of: workload, namespace")]
    public void Bad_settings_are_errors_naming_file_line_and_setting(string yaml, string where, string what)
    {
        var error = Assert.Throws<ConfigException>(() => ServeConfig.Parse(yaml, "f.yaml"));
        Assert.Contains(where, error.Message);
        Assert.Contains(what, error.Message);
    }

    [Theory]
    [InlineData("jobs:\n  x: {kind: rollup, schedule: \"every hour\"}\n", "schedule")]
    [InlineData("jobs:\n  x: {kind: backup, schedule: \"0 0 * * * ?\"}\n", "kind 'backup'")]
    [InlineData("jobs:\n  x: {kind: suggest, schedule: \"0 0 * * * ?\", window: 90m}\n", "whole hours")]
    [InlineData("jobs:\n  x: {kind: analyze, schedule: \"0 0 * * * ?\"}\n", "intent")]
    [InlineData("istio:\n  trust_domain: corp/example\n", "istio: the Istio trust domain 'corp/example'")]
    [InlineData("istio:\n  root_namespace: Mesh_Root\n", "istio: the Istio root namespace 'Mesh_Root'")]
    public void Validation_refuses_jobs_that_cannot_run(string yaml, string message)
    {
        var config = ServeConfig.Parse(yaml, "f.yaml");
        var error = Assert.Throws<ConfigException>(config.Validate);
        Assert.Contains(message, error.Message);
    }

    [Theory]
    [InlineData("30s", 30)]
    [InlineData("5m", 300)]
    [InlineData("2h", 7200)]
    [InlineData("7d", 604800)]
    [InlineData("45", 45)]
    [InlineData("500ms", 0.5)]
    public void Durations_take_a_unit(string text, double seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), ServeConfig.ParseDuration(text));

    [Fact]
    public void A_suggest_job_takes_the_layouts_suggest_takes_and_defaults_to_workload()
    {
        var config = ServeConfig.Parse("jobs:\n  a: {kind: suggest, schedule: \"0 0 * * * ?\", layout: namespace}\n  b: {kind: suggest, schedule: \"0 0 * * * ?\", layout: workload}\n  c: {kind: suggest, schedule: \"0 0 * * * ?\"}\n");
        config.Validate();
        Assert.Equal([SuggestionLayout.Namespace, SuggestionLayout.Workload, SuggestionLayout.Workload], config.Jobs.Select(j => j.Layout));
        Assert.Equal(SuggestionLayout.Workload, ServeConfig.Parse("").Job("suggest").Layout);
    }

    [Fact]
    public void An_empty_file_gives_the_default_jobs() =>
        Assert.Equal(["rollup", "analyze", "suggest", "retention", "anomalies"], ServeConfig.Parse("").Jobs.Select(j => j.Name));

    [Fact]
    public void Namespaces_and_the_suggest_guards_are_read_and_default_to_the_safe_side()
    {
        var defaults = ServeConfig.Parse("jobs:\n  suggest: {schedule: \"0 0 * * * ?\"}\n");
        Assert.False(defaults.Job("suggest").AllowEmpty);
        Assert.Equal(0.5, defaults.Job("suggest").ShrinkThreshold);
        Assert.False(defaults.Job("suggest").L7);
        Assert.False(defaults.PolicyScope.Includes("kube-system"));
        Assert.True(defaults.AnalysisScope.Includes("kube-system"));

        var config = ServeConfig.Parse("""
            namespaces: {include: [team-*, kube-system], exclude: [team-sandbox]}
            jobs:
              suggest: {schedule: "0 0 * * * ?", allow_empty: true, shrink_threshold: 20, l7: true}
            """);
        config.Validate();
        Assert.True(config.Job("suggest").AllowEmpty);
        Assert.True(config.Job("suggest").L7);
        Assert.True(config.Job("suggest").WithWindow(TimeSpan.FromHours(1)).L7);
        Assert.Equal(0.2, config.Job("suggest").ShrinkThreshold);
        Assert.True(config.PolicyScope.Includes("kube-system"));
        Assert.True(config.PolicyScope.Includes("team-a"));
        Assert.False(config.PolicyScope.Includes("team-sandbox"));
        Assert.False(config.AnalysisScope.Includes("shop"));

        Assert.Contains("namespaces.exclud", Assert.Throws<ConfigException>(() => ServeConfig.Parse("namespaces: {exclud: [x]}\n", "f.yaml")).Message);
        var badThreshold = ServeConfig.Parse("jobs:\n  suggest: {schedule: \"0 0 * * * ?\", shrink_threshold: 150}\n");
        Assert.Contains("shrink_threshold", Assert.Throws<ConfigException>(badThreshold.Validate).Message);
    }
}
