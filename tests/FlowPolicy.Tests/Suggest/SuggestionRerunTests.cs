using FlowPolicy.Suggest.Inference;
using FlowPolicy.Suggest.Reports;

namespace FlowPolicy.Tests.Suggest;

/// <summary>
/// suggest into a directory that holds an earlier run's output: files are rewritten in place, and what the new run does
/// not write is gone from the formats it writes, so no stale policy is applied with the new ones.
/// </summary>
public sealed class SuggestionRerunTests(SampleSuggestion sample) : IClassFixture<SampleSuggestion>
{
    /// <summary>Every file under the directory, relative, with its bytes.</summary>
    private static Dictionary<string, byte[]> Tree(string dir) =>
        Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(dir, f).Replace('\\', '/'), File.ReadAllBytes, StringComparer.Ordinal);

    private static IReadOnlyList<string> Write(string dir, SuggestionSet set, SuggestionLayout layout = SuggestionLayout.Workload, IReadOnlyCollection<string>? formats = null)
    {
        var options = new SuggestionOutputOptions { Directory = dir, Layout = layout, Formats = formats?.ToList() ?? SuggestionOutputOptions.AllFormats };
        return new SuggestionOutput(options).Write(set);
    }

    /// <summary>The sample's suggestion without one busy server's edges: its policies go, its clients' change.</summary>
    private SuggestionSet Smaller()
    {
        var server = sample.Edges.Where(e => !e.Server.IsAddress).GroupBy(e => e.Server.Key).OrderByDescending(g => g.Count()).First().Key;
        return new RuleInference().Infer(sample.Edges.Where(e => e.Server.Key != server).ToList());
    }

    [Fact]
    public void A_rerun_leaves_exactly_what_a_fresh_run_writes_and_rewrites_files_in_place()
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
        // Files whose text the rerun changes, held open: a file rewritten in place shows its new text through the old
        // handle; a file deleted and created again would not.
        var changed = expected.Keys.Where(k => before.TryGetValue(k, out var old) && !old.AsSpan().SequenceEqual(expected[k]) && k.EndsWith(".yaml", StringComparison.Ordinal)).Take(5).ToList();
        Assert.NotEmpty(changed);
        var handles = changed.Select(k => new FileStream(Path.Combine(dir, k), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete)).ToList();
        try
        {
            Write(dir, smaller);
            foreach (var (key, handle) in changed.Zip(handles))
            {
                var through = new MemoryStream();
                handle.Position = 0;
                handle.CopyTo(through);
                Assert.Equal(expected[key], through.ToArray());
            }
        }
        finally
        {
            foreach (var handle in handles) handle.Dispose();
        }

        var after = Tree(dir);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), after.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, bytes) in expected) Assert.Equal(bytes, after[key]);
        Assert.Contains(before.Keys, k => !after.ContainsKey(k)); // the dropped server's policies were there before
        Assert.False(Directory.Exists(Path.Combine(dir, "k8s", "gone-ns")));
        // No directory is left empty.
        Assert.DoesNotContain(Directory.EnumerateDirectories(dir, "*", SearchOption.AllDirectories), d => !Directory.EnumerateFileSystemEntries(d).Any());
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
        Assert.Equal(back.Order(StringComparer.Ordinal), Tree(dir).Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void An_entry_of_another_kind_where_a_file_or_directory_goes_is_replaced()
    {
        var fresh = Path.Combine(sample.Directory, "kinds-fresh");
        var files = Write(fresh, sample.Set, SuggestionLayout.Namespace, formats: ["k8s"]);
        var namespaceFile = files.First(f => f.StartsWith("k8s/", StringComparison.Ordinal));
        var workloadFiles = Write(Path.Combine(sample.Directory, "kinds-workload"), sample.Set, formats: ["k8s"]);
        var workloadDir = Path.GetDirectoryName(workloadFiles.First(f => f.StartsWith("k8s/", StringComparison.Ordinal)))!;

        var dir = Path.Combine(sample.Directory, "kinds");
        // A directory where the namespace layout writes a file.
        Directory.CreateDirectory(Path.Combine(dir, namespaceFile, "inside"));
        Write(dir, sample.Set, SuggestionLayout.Namespace, formats: ["k8s"]);
        Assert.Equal(File.ReadAllBytes(Path.Combine(fresh, namespaceFile)), File.ReadAllBytes(Path.Combine(dir, namespaceFile)));
        // A file where the workload layout needs a directory.
        File.WriteAllText(Path.Combine(dir, workloadDir), "not a directory");
        Write(dir, sample.Set, formats: ["k8s"]);
        Assert.True(Directory.Exists(Path.Combine(dir, workloadDir)));
        Assert.Equal(workloadFiles.Order(StringComparer.Ordinal), Tree(dir).Keys.Order(StringComparer.Ordinal));
    }
}
