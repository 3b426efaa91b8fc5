using System.Text.Json;

namespace FlowPolicy.Tests.Cli;

/// <summary>
/// `flowpolicy suggest` run as a user would, into a directory holding an earlier run's policies: a run that yields
/// nothing or far less must fail (exit 2) and leave them as they were; namespaces are scoped; --out is checked first.
/// </summary>
public sealed class SuggestCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("flowpolicy-suggest-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Pod(string ns, string workload) =>
        $$$"""{"kind":"pod","namespace":"{{{ns}}}","workload":"{{{workload}}}","workload_kind":"Deployment","pod":"{{{workload}}}-7d9f-x1","labels":{"app":"{{{workload}}}"}}""";

    /// <summary>Canonical JSON lines: each (client, server, port, proto) seen on three days, with pod identities.</summary>
    private string Flows(string name, params (string ClientNs, string Client, string ServerNs, string Server, int Port, string Proto)[] edges)
    {
        var lines = new List<string>();
        int n = 0;
        foreach (var (cns, c, sns, s, port, proto) in edges)
            for (int day = 2; day <= 4; day++)
            {
                n++;
                lines.Add($$$"""{"start":"2026-11-0{{{day}}}T10:00:00Z","src_ip":"10.0.{{{n / 200}}}.{{{n % 200 + 1}}}","src_port":{{{40000 + n}}},"dst_ip":"10.1.0.{{{port % 200 + 1}}}","dst_port":{{{port}}},"proto":"{{{proto}}}","bytes":500,"packets":4,"verdict":"allowed","direction":"request","src":{{{Pod(cns, c)}}},"dst":{{{Pod(sns, s)}}}}""");
            }
        var path = Path.Combine(_dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    private string Shop() => Flows("shop.jsonl",
        ("shop", "frontend", "shop", "cart", 7070, "TCP"),
        ("shop", "frontend", "shop", "catalog", 8080, "TCP"),
        ("shop", "cart", "shop", "redis", 6379, "TCP"),
        ("shop", "catalog", "shop", "postgres", 5432, "TCP"),
        ("shop", "checkout", "shop", "payment", 8443, "TCP"),
        ("shop", "frontend", "kube-system", "coredns", 53, "UDP"),
        ("kube-system", "coredns", "kube-system", "etcd-proxy", 2379, "TCP"));

    /// <summary>Every file under the directory, relative, with its bytes.</summary>
    private static Dictionary<string, byte[]> Tree(string dir) =>
        Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(dir, f).Replace('\\', '/'), File.ReadAllBytes, StringComparer.Ordinal);

    /// <summary>Every k8s policy of a namespace as one text (file names are the emitters' business).</summary>
    private static string K8s(string output, string ns) =>
        string.Concat(Directory.EnumerateFiles(Path.Combine(output, "k8s", ns), "*.yaml", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(File.ReadAllText));

    private static void AssertSame(Dictionary<string, byte[]> before, string dir)
    {
        var after = Tree(dir);
        Assert.Equal(before.Keys.Order(StringComparer.Ordinal), after.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, bytes) in before) Assert.True(bytes.AsSpan().SequenceEqual(after[key]), key + " changed");
    }

    private string FirstRun()
    {
        var output = Path.Combine(_dir, "policies");
        var first = CliProcess.Run("suggest", "--flows", Shop(), "--out", output);
        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.True(Directory.EnumerateFiles(Path.Combine(output, "k8s", "shop")).Count() > 3);
        return output;
    }

    [Fact]
    public void A_rerun_that_yields_nothing_exits_2_and_leaves_the_applied_policies_as_they_were()
    {
        var output = FirstRun();
        var before = Tree(output);
        var shop = Path.Combine(_dir, "shop.jsonl");

        // The wrong --format: every record malformed.
        var wrongFormat = CliProcess.Run("suggest", "--flows", shop, "--format", "vpc", "--out", output);
        Assert.Equal(2, wrongFormat.ExitCode);
        Assert.Contains("every one of the 21 records read is malformed", wrongFormat.Stderr);
        Assert.Contains("--format", wrongFormat.Stderr);
        AssertSame(before, output);

        // A window without flows.
        var emptyWindow = CliProcess.Run("suggest", "--flows", shop, "--from", "2025-01-01T00:00:00Z", "--to", "2025-01-08T00:00:00Z", "--out", output);
        Assert.Equal(2, emptyWindow.ExitCode);
        Assert.Contains("the suggestion has no rules", emptyWindow.Stderr);
        Assert.Contains("--allow-empty", emptyWindow.Stderr);
        AssertSame(before, output);

        // A JSON array whose every record is malformed.
        var array = Path.Combine(_dir, "array.json");
        File.WriteAllText(array, """[{"start":"yesterday","src_ip":"nope"},{"start":"2026-11-02T10:00:00Z","src_ip":"10.0.0.1"}]""");
        var malformed = CliProcess.Run("suggest", "--flows", array, "--format", "canonical", "--out", output);
        Assert.Equal(2, malformed.ExitCode);
        Assert.Contains("malformed", malformed.Stderr);
        AssertSame(before, output);

        // Forced: the user asked for an empty set, and gets one.
        var forced = CliProcess.Run("suggest", "--flows", shop, "--from", "2025-01-01T00:00:00Z", "--to", "2025-01-08T00:00:00Z", "--allow-empty", "--out", output);
        Assert.True(forced.ExitCode == 0, forced.Stderr);
        Assert.False(Directory.Exists(Path.Combine(output, "k8s", "shop")));
    }

    [Fact]
    public void A_rerun_with_under_half_the_rules_exits_2_unless_allowed_and_the_threshold_is_an_option()
    {
        var output = FirstRun();
        var before = Tree(output);
        using (var record = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output, ".flowpolicy-output"))))
            Assert.Equal(6, record.RootElement.GetProperty("formats").GetProperty("k8s").GetProperty("rules").GetInt32());
        // One source of three: two of the six rules.
        var partial = Flows("partial.jsonl", ("shop", "frontend", "shop", "cart", 7070, "TCP"), ("shop", "cart", "shop", "redis", 6379, "TCP"));

        var shrunk = CliProcess.Run("suggest", "--flows", partial, "--out", output);
        Assert.Equal(2, shrunk.ExitCode);
        Assert.Contains("the suggestion has 2 rules, fewer than 50% of the 6 rules of the output it would replace", shrunk.Stderr);
        Assert.Contains("--allow-shrink", shrunk.Stderr);
        AssertSame(before, output);

        var lowerThreshold = CliProcess.Run("suggest", "--flows", partial, "--shrink-threshold", "30", "--out", output);
        Assert.True(lowerThreshold.ExitCode == 0, lowerThreshold.Stderr);
        Assert.DoesNotContain("payment", K8s(output, "shop"));

        // From 2 rules back to 6 and down again: --allow-shrink replaces whatever the count.
        Assert.Equal(0, CliProcess.Run("suggest", "--flows", Path.Combine(_dir, "shop.jsonl"), "--out", output).ExitCode);
        var allowed = CliProcess.Run("suggest", "--flows", partial, "--allow-shrink", "--out", output);
        Assert.True(allowed.ExitCode == 0, allowed.Stderr);
        Assert.Contains("redis", K8s(output, "shop"));
        Assert.DoesNotContain("payment", K8s(output, "shop"));
    }

    [Fact]
    public void System_namespaces_get_no_policies_by_default_but_egress_to_them_is_kept()
    {
        var output = FirstRun();
        Assert.False(Directory.Exists(Path.Combine(output, "k8s", "kube-system")));
        Assert.False(Directory.Exists(Path.Combine(output, "cilium", "kube-system")));
        Assert.False(Directory.Exists(Path.Combine(output, "calico", "kube-system")));
        Assert.False(Directory.Exists(Path.Combine(output, "istio", "kube-system")));
        // frontend still may ask CoreDNS.
        var shop = K8s(output, "shop");
        Assert.Contains("kube-system", shop);
        Assert.Contains("53", shop);
        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output, "suggestions.json")));
        var rules = json.RootElement.GetProperty("rules").EnumerateArray().Select(r => r.GetProperty("client").GetProperty("key").GetString() + " -> " + r.GetProperty("server").GetProperty("key").GetString()).ToList();
        Assert.Contains("shop/frontend -> kube-system/coredns", rules);
        Assert.DoesNotContain("kube-system/coredns -> kube-system/etcd-proxy", rules);

        var all = Path.Combine(_dir, "all");
        var included = CliProcess.Run("suggest", "--flows", Path.Combine(_dir, "shop.jsonl"), "--include-namespace", "*", "--out", all);
        Assert.True(included.ExitCode == 0, included.Stderr);
        Assert.Contains("etcd-proxy", K8s(all, "kube-system"));

        var noShop = Path.Combine(_dir, "no-shop");
        var excluded = CliProcess.Run("suggest", "--flows", Path.Combine(_dir, "shop.jsonl"), "--include-namespace", "kube-*", "--exclude-namespace", "sh?p", "--out", noShop);
        Assert.True(excluded.ExitCode == 0, excluded.Stderr);
        Assert.False(Directory.Exists(Path.Combine(noShop, "k8s", "shop")));
        Assert.Contains("coredns", K8s(noShop, "kube-system"));
    }

    [Theory]
    [InlineData("file")]
    [InlineData("under-file")]
    [InlineData("unwritable")]
    public void An_unusable_out_exits_2_before_any_input_is_read(string kind)
    {
        var file = Path.Combine(_dir, "a-file");
        File.WriteAllText(file, "x");
        string output = kind switch
        {
            "file" => file,
            "under-file" => Path.Combine(file, "policies"),
            _ => "/proc/flowpolicy-cannot-write-here", // procfs refuses new entries, even to root
        };
        // The input would be an error of its own (every record malformed): the --out error must come first.
        var garbage = Path.Combine(_dir, "garbage.jsonl");
        File.WriteAllText(garbage, "{\"x\":1}\n");
        foreach (var args in new[]
        {
            new[] { "suggest", "--flows", garbage, "--format", "canonical", "--out", output },
            ["analyze", "--flows", garbage, "--format", "canonical", "--intent", _dir, "--out", output],
            ["sample", "--out", output],
            ["edges", "--flows", garbage, "--format", "canonical", "--rejects", kind == "file" ? _dir : Path.Combine(output, "r.jsonl")],
        })
        {
            var result = CliProcess.Run(args);
            Assert.True(result.ExitCode == 2, $"{string.Join(' ', args)}: {result.ExitCode} {result.Stderr}");
            Assert.Contains(args[0] == "edges" ? "--rejects" : "--out", result.Stderr);
            Assert.DoesNotContain("malformed", result.Stderr);
            Assert.DoesNotContain("   at ", result.Stderr);
        }
    }
}
