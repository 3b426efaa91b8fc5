using System.Globalization;
using System.Text;

namespace FlowPolicy.IntegrationTests.Infrastructure;

/// <summary>One sample of a scrape: its name, labels and value.</summary>
public sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>
/// A strict parser of the Prometheus text exposition format 0.0.4 (what Prometheus scrapes;
/// https://prometheus.io/docs/instrumenting/exposition_formats/): # HELP and # TYPE lines, samples
/// <c>name{label="value",...} value [timestamp]</c> with the format's escapes. Anything malformed throws
/// <see cref="FormatException"/> naming the line, as does a sample whose family has no # TYPE before it, a family typed
/// twice, a sample name not of its family (histograms: _bucket, _sum, _count), or the same series twice.
/// </summary>
public static class PrometheusText
{
    private static readonly HashSet<string> Types = ["counter", "gauge", "histogram", "summary", "untyped"];

    public static IReadOnlyList<PrometheusSample> Parse(string text)
    {
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        var samples = new List<PrometheusSample>();
        var series = new HashSet<string>(StringComparer.Ordinal);
        int number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = raw.TrimEnd('\r');
            if (line.Length == 0) continue;
            if (line[0] == '#')
            {
                var parts = line.Split(' ', 4);
                if (parts.Length >= 3 && parts[1] == "TYPE")
                {
                    if (parts.Length != 4 || !Types.Contains(parts[3])) throw Bad(number, line, "a TYPE line is '# TYPE name type' with a known type");
                    RequireName(parts[2], number, line);
                    if (!types.TryAdd(parts[2], parts[3])) throw Bad(number, line, $"family {parts[2]} typed twice");
                }
                else if (parts.Length >= 3 && parts[1] == "HELP") RequireName(parts[2], number, line);
                continue; // other comments are allowed
            }
            var sample = ParseSample(line, number);
            var family = FamilyOf(sample.Name, types) ?? throw Bad(number, line, $"sample {sample.Name} has no # TYPE line before it");
            if (types[family] == "histogram" && sample.Name == family) throw Bad(number, line, "a histogram's samples are _bucket, _sum and _count");
            if (types[family] == "histogram" && sample.Name == family + "_bucket" && !sample.Labels.ContainsKey("le")) throw Bad(number, line, "a bucket without le");
            var key = sample.Name + "{" + string.Join(",", sample.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => l.Key + "=" + l.Value)) + "}";
            if (!series.Add(key)) throw Bad(number, line, "the same series twice");
            samples.Add(sample);
        }
        return samples;
    }

    private static string? FamilyOf(string name, Dictionary<string, string> types)
    {
        if (types.ContainsKey(name)) return name;
        foreach (var suffix in new[] { "_bucket", "_sum", "_count" })
            if (name.EndsWith(suffix, StringComparison.Ordinal) && types.TryGetValue(name[..^suffix.Length], out var type) && type is "histogram" or "summary")
                return name[..^suffix.Length];
        return null;
    }

    private static PrometheusSample ParseSample(string line, int number)
    {
        int i = 0;
        while (i < line.Length && IsNameChar(line[i], i == 0, colonAllowed: true)) i++;
        if (i == 0) throw Bad(number, line, "a sample starts with a metric name");
        var name = line[..i];
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (true)
            {
                if (i < line.Length && line[i] == '}') { i++; break; }
                int start = i;
                while (i < line.Length && IsNameChar(line[i], i == start, colonAllowed: false)) i++;
                if (i == start || i + 1 >= line.Length || line[i] != '=' || line[i + 1] != '"') throw Bad(number, line, "a label is name=\"value\"");
                var label = line[start..i];
                i += 2;
                var value = new StringBuilder();
                while (true)
                {
                    if (i >= line.Length) throw Bad(number, line, "an unterminated label value");
                    char c = line[i++];
                    if (c == '"') break;
                    if (c == '\\')
                    {
                        if (i >= line.Length) throw Bad(number, line, "a dangling escape");
                        value.Append(line[i++] switch
                        {
                            '\\' => '\\',
                            '"' => '"',
                            'n' => '\n',
                            var other => throw Bad(number, line, $"unknown escape \\{other}"),
                        });
                    }
                    else value.Append(c);
                }
                if (!labels.TryAdd(label, value.ToString())) throw Bad(number, line, $"label {label} twice");
                if (i < line.Length && line[i] == ',') i++;
                else if (i >= line.Length || line[i] != '}') throw Bad(number, line, "labels are separated by ',' and closed by '}'");
            }
        }
        if (i >= line.Length || line[i] != ' ') throw Bad(number, line, "a space before the value");
        var rest = line[(i + 1)..].Split(' ');
        if (rest.Length is < 1 or > 2) throw Bad(number, line, "a value and at most a timestamp");
        double parsed = rest[0] switch
        {
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            "NaN" => double.NaN,
            var v when double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
            _ => throw Bad(number, line, $"'{rest[0]}' is not a value"),
        };
        if (rest.Length == 2 && !long.TryParse(rest[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
            throw Bad(number, line, $"'{rest[1]}' is not a timestamp");
        return new PrometheusSample(name, labels, parsed);
    }

    private static void RequireName(string name, int number, string line)
    {
        if (name.Length == 0 || !name.Select((c, k) => IsNameChar(c, k == 0, colonAllowed: true)).All(ok => ok)) throw Bad(number, line, $"'{name}' is not a metric name");
    }

    private static bool IsNameChar(char c, bool first, bool colonAllowed) =>
        c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_' || (colonAllowed && c == ':') || (!first && c is >= '0' and <= '9');

    private static FormatException Bad(int number, string line, string problem) => new($"line {number}: {problem}: {line}");

    /// <summary>The value of the one sample named <paramref name="name"/> with (at least) <paramref name="labels"/>; 0 when none.</summary>
    public static double Value(this IReadOnlyList<PrometheusSample> samples, string name, params (string Key, string Value)[] labels)
    {
        var matches = samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Key, out var v) && v == l.Value)).ToList();
        if (matches.Count > 1) throw new InvalidOperationException($"{matches.Count} series of {name} match; name more labels");
        return matches.Count == 0 ? 0 : matches[0].Value;
    }
}
