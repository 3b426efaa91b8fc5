using System.Text.Json;

namespace FlowPolicy.Tests.Cli;

public sealed class EdgesCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("flowpolicy-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Sample_traffic_comes_back_as_exactly_the_generated_edges()
    {
        var sample = CliProcess.Run("sample", "--out", _dir, "--days", "7", "--rate", "2");
        Assert.Equal(0, sample.ExitCode);
        var files = sample.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var flows = files.Where(f => f.EndsWith(".json") && !f.Contains("inventory") || f.EndsWith(".gz")).ToArray();
        var inventory = files.Where(f => f.Contains("inventory")).ToArray();

        var result = CliProcess.Run(["edges", "--json", "--flows", .. flows, "--inventory", .. inventory]);
        Assert.True(result.ExitCode == 0, result.Stderr);
        var edges = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Select(e => $"{e.GetProperty("src").GetString()} -> {e.GetProperty("dst").GetString()}:{e.GetProperty("port").GetInt32()}/{e.GetProperty("proto").GetString()}")
            .ToHashSet();
        var expected = File.ReadAllLines(Path.Combine(_dir, "expected-edges.txt")).ToHashSet();
        Assert.Equal(expected.Order(), edges.Order());
        // The traps are in there: the licence check made from an address that belonged to cart before the rollout.
        Assert.Contains("shop/catalog -> 198.51.100.7:8443/TCP", edges);
        Assert.DoesNotContain("shop/cart -> 198.51.100.7:8443/TCP", edges);
        Assert.Contains("1 NODATA", result.Stderr);
    }

    [Fact]
    public void Json_lines_carry_the_evidence_fields()
    {
        var path = Path.Combine(_dir, "flows.jsonl");
        File.WriteAllLines(path,
        [
            """{"start":"2026-11-02T10:00:00Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","src_port":40000,"dst_port":5432,"proto":"TCP","bytes":100,"packets":2,"verdict":"allowed","direction":"request"}""",
            """{"start":"2026-11-03T10:00:00Z","src_ip":"10.0.0.2","dst_ip":"10.0.0.1","src_port":5432,"dst_port":40000,"proto":"TCP","bytes":900,"packets":3,"verdict":"allowed","direction":"reply"}""",
            """{"start":"2026-11-03T11:00:00Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","src_port":40001,"dst_port":5432,"proto":"TCP","bytes":50,"packets":1,"verdict":"denied","direction":"request"}""",
        ]);
        var result = CliProcess.Run("edges", "--flows", path, "--json");
        Assert.Equal(0, result.ExitCode);
        var edge = JsonDocument.Parse(result.Stdout.Trim()).RootElement;
        Assert.Equal("10.0.0.1", edge.GetProperty("src").GetString());
        Assert.Equal("10.0.0.2", edge.GetProperty("dst").GetString());
        Assert.Equal(5432, edge.GetProperty("port").GetInt32());
        Assert.Equal("TCP", edge.GetProperty("proto").GetString());
        Assert.Equal(2, edge.GetProperty("flows").GetInt64());
        Assert.Equal(1050, edge.GetProperty("bytes").GetInt64());
        Assert.Equal(6, edge.GetProperty("packets").GetInt64());
        Assert.Equal("2026-11-02T10:00:00Z", edge.GetProperty("first_seen").GetString());
        Assert.Equal("2026-11-03T11:00:00Z", edge.GetProperty("last_seen").GetString());
        Assert.Equal(2, edge.GetProperty("days_seen").GetInt32());
        Assert.Equal(1, edge.GetProperty("denied").GetInt64());
        Assert.Equal("unknown", edge.GetProperty("src_kind").GetString());
    }

    [Fact]
    public void Any_thread_count_prints_the_same_edges_and_timings_go_to_stderr_only()
    {
        var path = Path.Combine(_dir, "many.jsonl");
        var random = new Random(5);
        File.WriteAllLines(path, Enumerable.Range(0, 3000).Select(i =>
            $$"""{"start":"2026-11-0{{1 + i % 7}}T{{i % 24:D2}}:00:00Z","src_ip":"10.0.{{random.Next(4)}}.{{random.Next(1, 60)}}","dst_ip":"10.1.0.{{random.Next(1, 20)}}","src_port":{{40000 + i}},"dst_port":{{(i % 3 == 0 ? 5432 : 8080)}},"proto":"TCP","bytes":{{i}},"packets":1,"verdict":"allowed","direction":"request"}"""));
        var one = CliProcess.Run("edges", "--flows", path, "--json", "--threads", "1");
        Assert.True(one.ExitCode == 0, one.Stderr);
        var timings = new Dictionary<string, string> { ["FLOWPOLICY_TIMINGS"] = "1" };
        var three = CliProcess.Run(timings, "edges", "--flows", path, "--json", "--threads", "3");
        Assert.True(three.ExitCode == 0, three.Stderr);
        Assert.True(one.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length > 100);
        Assert.Equal(one.Stdout, three.Stdout);
        Assert.Contains("timing: pass 1", three.Stderr);
        Assert.Contains("timing: output", three.Stderr);
        Assert.DoesNotContain("timing:", one.Stderr);

        var zero = CliProcess.Run("edges", "--flows", path, "--json", "--threads", "0");
        Assert.Equal(2, zero.ExitCode);
        Assert.Contains("thread", zero.Stderr);
    }

    [Fact]
    public void Malformed_records_are_reported_with_positions_and_the_rest_goes_through()
    {
        var path = Path.Combine(_dir, "mixed.jsonl");
        File.WriteAllLines(path,
        [
            """{"start":"2026-11-02T10:00:00Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","dst_port":80,"proto":6}""",
            """{"start":"2026-11-02T10:00:00Z","src_ip":"10.0.0.999","dst_ip":"10.0.0.2","dst_port":80,"proto":6}""",
            """not json at all""",
            """{"start":"2026-11-02T10:00:00Z","src_ip":"10.0.0.3","dst_ip":"10.0.0.2","dst_port":80,"proto":6}""",
        ]);
        var rejects = Path.Combine(_dir, "rejects.jsonl");
        var result = CliProcess.Run("edges", "--flows", path, "--format", "canonical", "--json", "--rejects", rejects);
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(2, result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("mixed.jsonl:2", result.Stderr);
        Assert.Contains("mixed.jsonl:3", result.Stderr);
        var lines = File.ReadAllLines(rejects).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("line").GetInt64());
        Assert.Equal([2L, 3L], lines);
    }

    [Fact]
    public void Files_whose_every_record_is_malformed_are_an_input_error_for_every_command()
    {
        var path = Path.Combine(_dir, "garbage.jsonl");
        File.WriteAllLines(path, ["""{"start":"2026-11-02T10:00:00Z","src_ip":"10.0.0.999"}""", """{"when":"never"}""", "[1,2,3]"]);
        var policies = Path.Combine(CliProcess.RepositoryRoot(), "docs", "examples", "sample-policies");
        foreach (var args in new[]
        {
            new[] { "edges", "--flows", path, "--format", "canonical" },
            ["check", "--policies", policies, "--flows", path, "--format", "canonical"],
            ["analyze", "--flows", path, "--format", "canonical", "--intent", policies, "--out", Path.Combine(_dir, "analysis")],
            ["suggest", "--flows", path, "--format", "canonical", "--out", Path.Combine(_dir, "policies")],
        })
        {
            var result = CliProcess.Run(args);
            Assert.True(result.ExitCode == 2, $"{args[0]}: exit {result.ExitCode}: {result.Stderr}");
            Assert.Contains("every one of the 3 records read is malformed", result.Stderr);
            Assert.Contains("garbage.jsonl:1", result.Stderr);
            Assert.Equal("", result.Stdout);
        }
        Assert.False(File.Exists(Path.Combine(_dir, "analysis", "slis.json")));
        Assert.False(Directory.Exists(Path.Combine(_dir, "policies", "k8s")));
        // produce decodes until the first good record before it asks any broker (port 1: none there).
        var produce = CliProcess.Run("produce", "--brokers", "127.0.0.1:1", "--connect-timeout", "1", "--format", "canonical", path);
        Assert.Equal(2, produce.ExitCode);
        Assert.Contains("every one of the 3 records in", produce.Stderr);
        Assert.Contains("nothing was sent", produce.Stderr);
    }

    [Fact]
    public void A_missing_file_exits_2_and_names_it()
    {
        var result = CliProcess.Run("edges", "--flows", Path.Combine(_dir, "nope.log"));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("nope.log", result.Stderr);
    }

    [Fact]
    public void A_truncated_gzip_file_exits_2_and_says_it_is_cut_short()
    {
        // What a partial copy or an S3 object still uploading looks like: the first half of a gzip file.
        var lines = string.Concat(Enumerable.Range(1, 4000).Select(i =>
            $"{{\"start\":\"2026-11-02T10:00:00Z\",\"src_ip\":\"10.0.{i / 250}.{i % 250}\",\"dst_ip\":\"10.1.0.1\",\"dst_port\":80,\"proto\":6}}\n"));
        var gz = Files.FlowFileReaderTests.Gzip(System.Text.Encoding.UTF8.GetBytes(lines));
        var path = Path.Combine(_dir, "flows.jsonl.gz");
        File.WriteAllBytes(path, gz.AsSpan(0, gz.Length / 2).ToArray());
        var result = CliProcess.Run("edges", "--flows", path);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"'{path}' is truncated: its gzip stream ended before its trailer", result.Stderr);
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public void An_unknown_format_exits_2_and_lists_the_formats()
    {
        var path = Path.Combine(_dir, "f.log");
        File.WriteAllText(path, "x\n");
        var result = CliProcess.Run("edges", "--flows", path, "--format", "netflow9");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("vpc", result.Stderr);
        Assert.Contains("hubble", result.Stderr);
    }

    [Fact]
    public void Undetectable_content_exits_2_suggesting_format()
    {
        var path = Path.Combine(_dir, "f.log");
        File.WriteAllText(path, "hello\n");
        var result = CliProcess.Run("edges", "--flows", path);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--format", result.Stderr);
    }

    [Fact]
    public void A_usage_error_exits_2_not_1()
    {
        var result = CliProcess.Run("edges");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--flows", result.Stderr);
    }

    [Fact]
    public void Every_command_has_help_with_examples()
    {
        foreach (var command in new[] { "edges", "sample", "demo" })
        {
            var result = CliProcess.Run(command, "--help");
            Assert.Equal(0, result.ExitCode);
            Assert.Contains("Examples:", result.Stdout);
        }
    }
}
