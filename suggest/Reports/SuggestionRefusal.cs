using System.Text.Json;

namespace FlowPolicy.Suggest.Reports;

/// <summary>Why a suggestion was not written over the earlier output.</summary>
public enum SuggestionRefusal
{
    /// <summary>No rules at all: no usable records, an empty window, or every edge left out as noise.</summary>
    Empty,
    /// <summary>Far fewer rules than the output it would replace.</summary>
    Shrunk,
}

/// <summary>The rule count a new suggestion is compared with, and where it comes from (for the message).</summary>
internal sealed record SuggestionBaseline(int Rules, string Source);

/// <summary>
/// A suggestion refused before anything was written, because writing it would take away the policies a user (or a
/// GitOps tool that prunes) applied from the earlier output. The earlier output is untouched.
/// </summary>
public sealed class SuggestionRefusedException : Exception
{
    internal SuggestionRefusedException(SuggestionRefusal reason, int rules, SuggestionBaseline? baseline, string problem, string directory)
        : base($"{problem}: nothing written, {directory} is as it was")
    {
        Reason = reason;
        Problem = problem;
        Rules = rules;
        Baseline = baseline;
    }

    public SuggestionRefusal Reason { get; }
    /// <summary>What is wrong with the suggestion, without what was (not) done about it.</summary>
    public string Problem { get; }
    public int Rules { get; }
    /// <summary>What it was compared with (<see cref="SuggestionRefusal.Shrunk"/>).</summary>
    internal SuggestionBaseline? Baseline { get; }
}

/// <summary>
/// `.flowpolicy-output` in an output directory: per format written there, the rule count of the run that wrote it
/// (no time: the same input still gives byte-identical output), so the next run can tell whether it is about to replace many rules with few. JSON, but named without a
/// .json/.yaml extension and hidden, so `kubectl apply -f`, `--intent` and GitOps tools never take it for a policy.
/// </summary>
internal sealed class OutputRecord
{
    public const string FileName = ".flowpolicy-output";

    private readonly Dictionary<string, int> _formats;

    private OutputRecord(Dictionary<string, int> formats) => _formats = formats;

    /// <summary>The record in <paramref name="root"/>; empty when there is none or it cannot be read (a run of an older version).</summary>
    public static OutputRecord Read(string root)
    {
        var formats = new Dictionary<string, int>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(root, FileName)));
            foreach (var format in doc.RootElement.GetProperty("formats").EnumerateObject())
                formats[format.Name] = format.Value.GetProperty("rules").GetInt32();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            // Missing (first run, or an output written before the record existed) or unreadable: nothing to compare with.
        }
        return new OutputRecord(formats);
    }

    /// <summary>The largest rule count among the formats this run replaces; null when none was recorded.</summary>
    public SuggestionBaseline? BaselineFor(IEnumerable<string> formats, string root)
    {
        string? largest = null;
        foreach (var format in formats)
            if (_formats.TryGetValue(format, out int rules) && (largest is null || rules > _formats[largest]))
                largest = format;
        if (largest is null) return null;
        return new SuggestionBaseline(_formats[largest], Path.Combine(root, largest == "json" ? "suggestions.json" : largest));
    }

    /// <summary>A copy with <paramref name="formats"/> written with <paramref name="rules"/> rules; the other formats as they were.</summary>
    public OutputRecord Update(IEnumerable<string> formats, int rules)
    {
        var copy = new Dictionary<string, int>(_formats, StringComparer.Ordinal);
        foreach (var format in formats) copy[format] = rules;
        return new OutputRecord(copy);
    }

    /// <summary>Written in <paramref name="staging"/> and moved into <paramref name="root"/>, so a reader never sees half of it.</summary>
    public void Write(string root, string staging)
    {
        var temp = Path.Combine(staging, FileName);
        using (var stream = File.Create(temp))
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteNumber("version", 1);
            writer.WriteStartObject("formats");
            foreach (var (format, rules) in _formats.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                writer.WriteStartObject(format);
                writer.WriteNumber("rules", rules);
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        File.Move(temp, Path.Combine(root, FileName), overwrite: true);
    }
}
