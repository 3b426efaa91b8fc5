namespace FlowPolicy.Analytics.Intent;

/// <summary>A policy file that cannot be read as written: the message names the file, the line and what to fix.</summary>
public sealed class PolicyLoadException : Exception
{
    public PolicyLoadException(string file, int line, string problem)
        : base(line > 0 ? $"{file}:{line}: {problem}" : $"{file}: {problem}")
    {
        File = file;
        Line = line;
        Problem = problem;
    }

    public string File { get; }
    /// <summary>1-based; 0 when the position is unknown.</summary>
    public int Line { get; }
    public string Problem { get; }
}
