using System.Text.Json;

namespace FlowPolicy.Tests.Cli;

/// <summary>
/// The built-in sample, suggest's policies for it in some formats, and `check --json` of a policy directory against the
/// same flows: what the per-format check tests (Cilium, Istio) compare with the Kubernetes output.
/// </summary>
internal sealed class SuggestedSample
{
    private static readonly string[] Lists = ["blocked", "blocked_noise", "already_denied"];

    public required string[] Flows { get; init; }
    public required string[] Inventory { get; init; }
    public required string Output { get; init; }

    /// <summary>Writes the sample (7 days, rate 2) under <paramref name="directory"/> and runs suggest with <paramref name="suggestArguments"/>.</summary>
    public static SuggestedSample Create(string directory, params string[] suggestArguments)
    {
        var sample = CliProcess.Run("sample", "--out", Path.Combine(directory, "sample"), "--days", "7", "--rate", "2");
        Assert.Equal(0, sample.ExitCode);
        var files = sample.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var run = new SuggestedSample
        {
            Flows = files.Where(f => f.EndsWith(".json") && !f.Contains("inventory") || f.EndsWith(".gz")).ToArray(),
            Inventory = files.Where(f => f.Contains("inventory")).ToArray(),
            Output = Path.Combine(directory, "suggested"),
        };
        run.Suggest(run.Output, suggestArguments);
        return run;
    }

    public void Suggest(string output, params string[] arguments)
    {
        var suggest = CliProcess.Run(["suggest", "--flows", .. Flows, "--inventory", .. Inventory, .. arguments, "--out", output]);
        Assert.True(suggest.ExitCode == 0, suggest.Stderr);
    }

    /// <summary>`check --json` of <paramref name="policies"/>, asserting its exit code.</summary>
    public JsonElement Check(string policies, int exitCode, params string[] arguments)
    {
        var run = CliProcess.Run(["check", "--json", "--policies", policies, "--flows", .. Flows, "--inventory", .. Inventory, .. arguments]);
        Assert.True(run.ExitCode == exitCode, $"exit {run.ExitCode}\n{run.Stderr}\n{run.Stdout}");
        return JsonDocument.Parse(run.Stdout).RootElement;
    }

    /// <summary>Each denied edge (src dst port proto) by the list it is in; an edge in none of them is allowed.</summary>
    public static SortedSet<string> DeniedEdges(JsonElement root) =>
        new(Lists.SelectMany(list => root.GetProperty(list).EnumerateArray().Select(e =>
            $"{list}: {e.GetProperty("src").GetString()} -> {e.GetProperty("dst").GetString()}:{e.GetProperty("port").GetInt32()}/{e.GetProperty("proto").GetString()}")),
            StringComparer.Ordinal);
}
