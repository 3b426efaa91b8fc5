using System.CommandLine;
using System.Globalization;
using FlowPolicy.Analytics.Edges;
using FlowPolicy.Cli.Terminal;
using FlowPolicy.Core.Edges;

namespace FlowPolicy.Cli.Commands;

/// <summary>
/// `flowpolicy demo`: the README's first command. Generates the built-in sample, runs the pipeline on it and
/// says where the results are, checking them against the graph the sample was generated from.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Directory for the sample and the results.", DefaultValueFactory = _ => Path.Combine("out", "demo") };
        var command = new Command("demo",
            "Run the pipeline end to end on the built-in sample app (no servers needed) and print where the results are.\n\n" +
            "Examples:\n" +
            "  flowpolicy demo\n" +
            "  flowpolicy demo --out /tmp/demo")
        {
            output,
        };
        command.SetAction(parse => Run(parse.GetValue(output)!));
        return command;
    }

    private static int Run(string directory)
    {
        var sampleDir = Path.Combine(directory, "sample");
        Console.Error.WriteLine($"flowpolicy: writing the sample app's flow logs to {sampleDir}");
        var files = SampleCommand.Write(sampleDir, SampleCommand.DefaultStart, days: 7, seed: 42, rate: 6);

        var load = EdgesCommand.LoadEdges(new FileEdgeSourceOptions { FlowFiles = files.FlowFiles, InventoryFiles = files.InventoryFiles });
        var edgesPath = Path.Combine(directory, "edges.jsonl");
        using (var edgesFile = File.Create(edgesPath))
            EdgesCommand.WriteJsonLines(edgesFile, load.Edges);

        // The sample knows the graph it was generated from: show how much of it came back out of the logs.
        var expected = File.ReadAllLines(files.TruthFile).ToHashSet(StringComparer.Ordinal);
        var found = load.Edges.Select(Describe).ToHashSet(StringComparer.Ordinal);
        int recovered = expected.Count(found.Contains);
        var unexpected = found.Where(e => !expected.Contains(e)).OrderBy(e => e, StringComparer.Ordinal).ToList();
        var services = load.Edges.Where(e => !e.Client.IsAddress || !e.Server.IsAddress)
            .GroupBy(e => (e.Client.Key, e.Server.Key)).Count();

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Edges: {load.Edges.Count} ({services} service pairs) from {load.Records} flow records -> {edgesPath}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Recovered {recovered} of the {expected.Count} dependencies the sample was generated from; {unexpected.Count} edges not in it."));
        foreach (var edge in unexpected.Take(10)) Console.WriteLine($"  not expected: {edge}");
        Console.WriteLine($"Sample input: {sampleDir}   (try: ./flowpolicy edges --flows {string.Join(' ', files.FlowFiles)} --inventory {string.Join(' ', files.InventoryFiles)})");
        return recovered == expected.Count && unexpected.Count == 0 ? ExitCodes.Success : ExitCodes.RuntimeError;
    }

    internal static string Describe(Edge edge) => $"{edge.Client.Key} -> {edge.Server.Key}:{edge.Port}/{edge.ProtocolName}";
}
