using FlowPolicy.Tests.Evaluation.Scenarios;
using FlowPolicy.Tests.Evaluation.Traffic;

namespace FlowPolicy.Tests.Evaluation;

/// <summary>
/// Runs the whole evaluation once per test run (every scenario in every format, two at a time) and keeps the scores
/// for the tests that assert on them. FLOWPOLICY_SCORECARD=PATH also writes the scorecard there, and
/// FLOWPOLICY_EVALUATION_DIR=DIR keeps every input and suggestion in DIR instead of a temporary directory (tests/evaluate
/// sets both).
/// </summary>
public sealed class EvaluationFixture : IDisposable
{
    private readonly string? _kept = Environment.GetEnvironmentVariable("FLOWPOLICY_EVALUATION_DIR") is { Length: > 0 } dir ? dir : null;
    private readonly string _directory;

    public EvaluationFixture()
    {
        _directory = _kept is not null ? Directory.CreateDirectory(_kept).FullName : Directory.CreateTempSubdirectory("flowpolicy-evaluation-").FullName;
        var runs = EvaluationRun.Scenarios().SelectMany(s => EvaluationRun.Formats().Select(f => (Scenario: s, Format: f))).ToList();
        var scores = new ScenarioScore[runs.Count];
        Parallel.For(0, runs.Count, new ParallelOptions { MaxDegreeOfParallelism = 2 }, i =>
            scores[i] = EvaluationRun.Run(runs[i].Scenario, runs[i].Format, Path.Combine(_directory, $"{runs[i].Scenario.Name}-{runs[i].Format}")));
        Scores = scores;
        Text = Scorecard.Render(scores);
        if (Environment.GetEnvironmentVariable("FLOWPOLICY_SCORECARD") is { Length: > 0 } path) File.WriteAllText(path, Text);
    }

    internal IReadOnlyList<ScenarioScore> Scores { get; }
    public string Text { get; }

    /// <summary>The score of a case, or null when FLOWPOLICY_EVALUATION_SCENARIOS/FORMATS left it out of this run.</summary>
    internal ScenarioScore? Score(string scenario, string format) =>
        Scores.SingleOrDefault(s => s.Scenario == scenario && s.Format.ToString() == format);

    /// <summary>(scenario, format) pairs for theories; strings so test names read well.</summary>
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var scenario in EvaluationRun.AllScenarios())
            foreach (var format in Enum.GetNames<EvaluationFormat>())
                data.Add(scenario.Name, format);
        return data;
    }

    public void Dispose()
    {
        if (_kept is null) Directory.Delete(_directory, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class EvaluationCollection : ICollectionFixture<EvaluationFixture>
{
    public const string Name = "evaluation";
}
