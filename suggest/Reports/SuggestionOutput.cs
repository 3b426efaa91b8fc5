using System.Text;
using FlowPolicy.Suggest.Emitters;
using FlowPolicy.Suggest.Inference;

namespace FlowPolicy.Suggest.Reports;

/// <summary>Which outputs to write.</summary>
public sealed class SuggestionOutputOptions
{
    public static readonly IReadOnlyList<string> AllFormats = ["k8s", "cilium", "istio", "calico", "json"];

    public required string Directory { get; init; }
    /// <summary>Any of <see cref="AllFormats"/>; report.md is always written.</summary>
    public IReadOnlyList<string> Formats { get; init; } = AllFormats;

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Directory)) throw new ArgumentException("an output directory is needed");
        foreach (var format in Formats)
            if (!AllFormats.Contains(format)) throw new ArgumentException($"unknown --emit format '{format}'; use any of: {string.Join(",", AllFormats)}");
    }
}

/// <summary>
/// Writes the suggestion: policy files per format, suggestions.json and report.md. Every path is built from
/// sanitised names and checked to stay inside the output directory; files are written byte-identically for the
/// same input.
/// </summary>
public sealed class SuggestionOutput
{
    private static readonly UTF8Encoding Utf8 = new(false);
    private readonly SuggestionOutputOptions _options;

    public SuggestionOutput(SuggestionOutputOptions options)
    {
        options.Validate();
        _options = options;
    }

    /// <summary>Returns the written paths, relative to the directory, in order.</summary>
    public IReadOnlyList<string> Write(SuggestionSet set, IntentDiff? diff = null)
    {
        var root = Path.GetFullPath(_options.Directory);
        var emitters = Emitters().Where(e => _options.Formats.Contains(e.Format)).ToList();
        var assumptions = Emitters().ToDictionary(e => e.Format, e => e.Assumptions, StringComparer.Ordinal);
        var written = new List<string>();
        var directories = new HashSet<string>(StringComparer.Ordinal);
        var results = new List<EmitResult>(emitters.Count);
        foreach (var emitter in emitters)
        {
            // Stale files of an earlier run would be applied with the new ones: the format's directory is ours.
            var formatDir = Confine(root, emitter.Format);
            if (System.IO.Directory.Exists(formatDir)) System.IO.Directory.Delete(formatDir, recursive: true);
            // Each file is written as it is made (a large set is gigabytes of YAML).
            results.Add(emitter.Emit(set, new EmittedFiles(file =>
            {
                WriteFile(root, file.RelativePath, file.Content, directories);
                written.Add(file.RelativePath);
            })));
        }
        if (_options.Formats.Contains("json"))
        {
            using (var stream = Create(root, "suggestions.json", directories))
                SuggestionsJson.Write(stream, set, assumptions, diff);
            written.Add("suggestions.json");
        }
        using (var report = new StreamWriter(Create(root, "report.md", directories), Utf8, 64 * 1024))
            MarkdownReport.Write(report, set, results, assumptions, diff);
        written.Add("report.md");
        return written;
    }

    internal static IReadOnlyList<IPolicyEmitter> Emitters() => [new KubernetesEmitter(), new CiliumEmitter(), new IstioEmitter(), new CalicoEmitter()];

    private static void WriteFile(string root, string relative, string content, HashSet<string> directories)
    {
        var path = Confine(root, relative);
        CreateDirectory(path, directories);
        File.WriteAllBytes(path, Utf8.GetBytes(content));
    }

    private static FileStream Create(string root, string relative, HashSet<string> directories)
    {
        var path = Confine(root, relative);
        CreateDirectory(path, directories);
        return new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 64 * 1024);
    }

    /// <summary>Tens of thousands of files share a few hundred directories: create each once.</summary>
    private static void CreateDirectory(string path, HashSet<string> directories)
    {
        var dir = Path.GetDirectoryName(path)!;
        if (directories.Add(dir)) System.IO.Directory.CreateDirectory(dir);
    }

    /// <summary>The full path of <paramref name="relative"/> under <paramref name="root"/>; throws if it would leave it.</summary>
    internal static string Confine(string root, string relative)
    {
        var full = Path.GetFullPath(Path.Combine(root, relative));
        var prefix = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        if (!full.StartsWith(prefix, StringComparison.Ordinal))
            throw new InvalidOperationException($"refusing to write '{relative}': it leaves the output directory {root}");
        return full;
    }
}
