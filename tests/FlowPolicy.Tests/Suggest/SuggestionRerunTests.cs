using FlowPolicy.Suggest.Inference;
using FlowPolicy.Suggest.Reports;

namespace FlowPolicy.Tests.Suggest;

/// <summary>
/// suggest into a directory that holds an earlier run's output: each format it writes holds exactly the new run's files
/// (no stale policy applied with the new ones), formats it does not write stay, and a run that fails half-way leaves the
/// earlier output as it was.
/// </summary>
public sealed class SuggestionRerunTests(SampleSuggestion sample) : IClassFixture<SampleSuggestion>
{
    /// <summary>Every file under the directory, relative, with its bytes.</summary>
    private static Dictionary<string, byte[]> Tree(string dir) =>
        Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(dir, f).Replace('\\', '/'), File.ReadAllBytes, StringComparer.Ordinal);

    private static IReadOnlyList<string> Write(string dir, SuggestionSet set, SuggestionLayout layout = SuggestionLayout.Workload, IReadOnlyCollection<string>? formats = null,
        Action<string>? afterPolicyFile = null)
    {
        var options = new SuggestionOutputOptions
        {
            Directory = dir, Layout = layout, Formats = formats?.ToList() ?? SuggestionOutputOptions.AllFormats, AfterPolicyFile = afterPolicyFile,
        };
        return new SuggestionOutput(options).Write(set);
    }

    /// <summary>The sample's suggestion without one busy server's edges: its policies go, its clients' change.</summary>
    private SuggestionSet Smaller()
    {
        var server = sample.Edges.Where(e => !e.Server.IsAddress).GroupBy(e => e.Server.Key).OrderByDescending(g => g.Count()).First().Key;
        return new RuleInference().Infer(sample.Edges.Where(e => e.Server.Key != server).ToList());
    }

    [Fact]
    public void A_rerun_leaves_exactly_what_a_fresh_run_writes()
    {
        var smaller = Smaller();
        var fresh = Path.Combine(sample.Directory, "rerun-fresh");
        Write(fresh, smaller);
        var expected = Tree(fresh);

        var dir = Path.Combine(sample.Directory, "rerun");
        Write(dir, sample.Set);
        var before = Tree(dir);
        // Left by hand or by an older version: stale too.
        Directory.CreateDirectory(Path.Combine(dir, "k8s", "gone-ns", "deeper"));
        File.WriteAllText(Path.Combine(dir, "k8s", "gone-ns", "deeper", "old.yaml"), "kind: NetworkPolicy\n");
        // And the staging directory of a run that was killed.
        Directory.CreateDirectory(Path.Combine(dir, SuggestionOutput.StagingPrefix + "killed", "k8s"));

        Write(dir, smaller);
        var after = Tree(dir);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), after.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, bytes) in expected) Assert.Equal(bytes, after[key]);
        Assert.Contains(before.Keys, k => !after.ContainsKey(k)); // the dropped server's policies were there before
        Assert.Equal(Directory.EnumerateDirectories(fresh, "*", SearchOption.AllDirectories).Select(d => Path.GetRelativePath(fresh, d)).Order(StringComparer.Ordinal),
            Directory.EnumerateDirectories(dir, "*", SearchOption.AllDirectories).Select(d => Path.GetRelativePath(dir, d)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_run_that_fails_half_way_leaves_the_earlier_output_as_it_was()
    {
        var dir = Path.Combine(sample.Directory, "failing");
        Write(dir, sample.Set);
        var before = Tree(dir);
        int written = 0;
        var failure = Assert.Throws<IOException>(() => Write(dir, Smaller(), afterPolicyFile: _ =>
        {
            if (++written == 40) throw new IOException("disk full (test)");
        }));
        Assert.Equal("disk full (test)", failure.Message);
        var after = Tree(dir);
        Assert.Equal(before.Keys.Order(StringComparer.Ordinal), after.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, bytes) in before) Assert.Equal(bytes, after[key]);
        Assert.Empty(Directory.EnumerateDirectories(dir, SuggestionOutput.StagingPrefix + "*"));
    }

    [Fact]
    public void Switching_layouts_leaves_only_the_new_layouts_files_and_formats_not_written_are_kept()
    {
        var dir = Path.Combine(sample.Directory, "layouts");
        var byWorkload = Write(dir, sample.Set);
        var byNamespace = Write(dir, sample.Set, SuggestionLayout.Namespace, formats: ["k8s", "cilium", "calico", "json"]);
        var tree = Tree(dir);
        foreach (var format in new[] { "k8s", "cilium", "calico" })
            Assert.Equal(byNamespace.Where(f => f.StartsWith(format + "/", StringComparison.Ordinal)).Order(StringComparer.Ordinal),
                tree.Keys.Where(f => f.StartsWith(format + "/", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        // istio was not asked for this time: the earlier run's files stay as they were.
        Assert.Equal(byWorkload.Where(f => f.StartsWith("istio/", StringComparison.Ordinal)).Order(StringComparer.Ordinal),
            tree.Keys.Where(f => f.StartsWith("istio/", StringComparison.Ordinal)).Order(StringComparer.Ordinal));

        var back = Write(dir, sample.Set);
        // Plus the record of each format's rule count, which the next run compares with.
        Assert.Equal(back.Append(OutputRecord.FileName).Order(StringComparer.Ordinal), Tree(dir).Keys.Order(StringComparer.Ordinal));
    }
}
