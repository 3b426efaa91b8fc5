using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace FlowPolicy.IntegrationTests.Grafana;

/// <summary>A query of a dashboard: a panel target's rawSql or a template variable's query.</summary>
internal sealed record DashboardQuery(string Dashboard, string Title, string PanelType, string Format, string Sql)
{
    public override string ToString() => $"{Dashboard} / {Title}";
}

/// <summary>Reads deploy/grafana/dashboards/*.json the way Grafana would: panels' targets and the template variables.</summary>
internal static class GrafanaDashboards
{
    public static string Directory => Path.Combine(RepositoryRoot(), "deploy", "grafana", "dashboards");

    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Analytics.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root (Analytics.sln) not found above " + AppContext.BaseDirectory);
    }

    public static IReadOnlyList<DashboardQuery> Panels(string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        var name = Path.GetFileNameWithoutExtension(file);
        var result = new List<DashboardQuery>();
        foreach (var panel in doc.RootElement.GetProperty("panels").EnumerateArray())
            foreach (var target in panel.GetProperty("targets").EnumerateArray())
                result.Add(new DashboardQuery(name, panel.GetProperty("title").GetString()!, panel.GetProperty("type").GetString()!,
                    target.GetProperty("queryType").GetString()!, target.GetProperty("rawSql").GetString()!));
        return result;
    }

    public static IReadOnlyList<(string Name, string Query, string AllValue)> Variables(string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        return doc.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray()
            .Select(v => (v.GetProperty("name").GetString()!, v.GetProperty("query").GetString()!, v.GetProperty("allValue").GetString()!))
            .ToList();
    }
}

/// <summary>
/// Expands what the Grafana ClickHouse plugin (grafana-clickhouse-datasource v4, pkg/macros/macros.go) expands before a
/// query reaches ClickHouse, with the same output text, plus Grafana's template variables. Single-value variables are
/// substituted as they are (the SQL quotes them); "All" becomes the variable's allValue. Any other $__ macro is an error,
/// so a dashboard cannot use one this test does not check.
/// </summary>
internal static partial class GrafanaMacros
{
    public static string Expand(string sql, DateTime from, DateTime to, int intervalSeconds, IReadOnlyDictionary<string, string> variables)
    {
        long f = new DateTimeOffset(from).ToUnixTimeSeconds(), t = new DateTimeOffset(to).ToUnixTimeSeconds();
        string DateTime(long s) => string.Create(CultureInfo.InvariantCulture, $"toDateTime({s})");
        string Date(DateTime d) => $"toDate('{d:yyyy-MM-dd}')";
        var text = OneArgument().Replace(sql, m => m.Groups[1].Value switch
        {
            "timeFilter" => $"{m.Groups[2].Value} >= {DateTime(f)} AND {m.Groups[2].Value} <= {DateTime(t)}",
            "dateFilter" => $"{m.Groups[2].Value} >= {Date(from)} AND {m.Groups[2].Value} <= {Date(to)}",
            // Current plugin text; toStartOfInterval needs ClickHouse 19.1+, so the dashboards do not use it (see docs/grafana.md).
            "timeInterval" => string.Create(CultureInfo.InvariantCulture, $"toStartOfInterval(toDateTime({m.Groups[2].Value}), INTERVAL {Math.Max(intervalSeconds, 1)} second)"),
            var other => throw new InvalidOperationException($"macro $__{other}(...) is not expanded by this test"),
        });
        text = text.Replace("$__fromTime", DateTime(f), StringComparison.Ordinal)
            .Replace("$__toTime", DateTime(t), StringComparison.Ordinal)
            .Replace("$__interval_s", Math.Max(intervalSeconds, 1).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        if (text.Contains("$__", StringComparison.Ordinal))
            throw new InvalidOperationException("unexpanded macro in: " + text);
        text = Variable().Replace(text, m =>
        {
            var name = m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value;
            return variables.TryGetValue(name, out var value) ? value : throw new InvalidOperationException($"unknown template variable ${name}");
        });
        return text;
    }

    [GeneratedRegex(@"\$__(timeFilter|dateFilter|timeInterval|timeFilter_ms|timeInterval_ms)\(([^()]*)\)")]
    private static partial Regex OneArgument();

    [GeneratedRegex(@"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")]
    private static partial Regex Variable();
}
