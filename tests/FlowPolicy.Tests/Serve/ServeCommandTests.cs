using FlowPolicy.Tests.Cli;

namespace FlowPolicy.Tests.Serve;

/// <summary>serve and jobs as the user runs them: help, and config mistakes refused before any work (exit 2).</summary>
public sealed class ServeCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "flowpolicy-servecli-" + Guid.NewGuid().ToString("N"));

    public ServeCommandTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("serve")]
    [InlineData("jobs")]
    [InlineData("jobs", "list")]
    [InlineData("jobs", "run")]
    [InlineData("demo")]
    public void Help_has_examples(params string[] command)
    {
        var result = CliProcess.Run([.. command, "--help"]);
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Examples:", result.Stdout);
    }

    [Fact]
    public void A_missing_config_file_is_a_usage_error()
    {
        var result = CliProcess.Run("serve", "--config", Path.Combine(_dir, "nope.yaml"));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("no such config file", result.Stderr);
    }

    [Fact]
    public void A_bad_setting_is_refused_naming_its_line_before_connecting_anywhere()
    {
        var path = Path.Combine(_dir, "bad.yaml");
        File.WriteAllText(path, "clickhouse:\n  url: http://127.0.0.1:1/\njobs:\n  rollup: {schedule: \"0 0 * * * ?\"}\n  suggest: {schedule: \"0 0 * * * ?\", window: 30m}\n");
        var result = CliProcess.Run("serve", "--config", path);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("jobs.suggest.window must be whole hours", result.Stderr);
    }

    [Fact]
    public void A_bad_webhook_is_refused_with_exit_2_naming_its_line()
    {
        var path = Path.Combine(_dir, "hook.yaml");
        File.WriteAllText(path, "clickhouse:\n  url: http://127.0.0.1:1/\nwebhook:\n  url: http://am:9093/api/v2/alerts\n  format: pagerduty\n");
        var result = CliProcess.Run("serve", "--config", path);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("hook.yaml:5: 'webhook.format' is 'pagerduty'; use alertmanager or slack", result.Stderr);
    }

    [Fact]
    public void Running_an_unknown_job_names_the_configured_ones()
    {
        var path = Path.Combine(_dir, "ok.yaml");
        File.WriteAllText(path, "clickhouse: {url: \"http://127.0.0.1:1/\"}\njobs:\n  rollup: {schedule: \"0 0 * * * ?\"}\n");
        var result = CliProcess.Run("jobs", "run", "analyse", "--config", path);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("no job named 'analyse'; configured: rollup", result.Stderr);
        var unreachable = CliProcess.Run("jobs", "list", "--config", path);
        Assert.Equal(3, unreachable.ExitCode);
    }

    [Fact]
    public void Serve_with_an_unreachable_ClickHouse_exits_3_naming_it()
    {
        var path = Path.Combine(_dir, "down.yaml");
        File.WriteAllText(path, "clickhouse: {url: \"http://127.0.0.1:1/\"}\nhttp: {port: 0}\njobs:\n  rollup: {schedule: \"0 0 * * * ?\"}\n");
        var result = CliProcess.Run("serve", "--config", path);
        Assert.Equal(3, result.ExitCode);
        Assert.Contains("127.0.0.1:1", result.Stderr);
    }

    [Fact]
    public void An_output_where_reports_cannot_be_written_is_refused_at_start()
    {
        var file = Path.Combine(_dir, "a-file");
        File.WriteAllText(file, "x");
        var path = Path.Combine(_dir, "out.yaml");
        File.WriteAllText(path, $"clickhouse: {{url: \"http://127.0.0.1:1/\"}}\noutput: {file}/reports\njobs:\n  suggest: {{schedule: \"0 0 * * * ?\"}}\n");
        foreach (var args in new[] { new[] { "serve", "--config", path }, ["jobs", "run", "suggest", "--config", path] })
        {
            var result = CliProcess.Run(args);
            Assert.Equal(2, result.ExitCode);
            Assert.Contains($"output ({path}): '{file}/reports' is under '{file}', which is a file", result.Stderr);
        }
    }
}
