using System.CommandLine;
using System.Globalization;
using FlowPolicy.Cli.Terminal;
using FlowPolicy.Ingest.Formats;

namespace FlowPolicy.Cli.Commands;

/// <summary>Options several commands share, so they are spelled and validated the same everywhere.</summary>
internal static class CommonOptions
{
    public static Option<string[]> Flows(bool required) => new("--flows")
    {
        Description = "Flow log files (any supported format, optionally gzip-compressed).",
        Required = required,
        AllowMultipleArgumentsPerToken = true,
        Arity = required ? ArgumentArity.OneOrMore : ArgumentArity.ZeroOrMore,
    };

    public static Option<string[]> Inventory() => new("--inventory")
    {
        Description = "Inventory files mapping addresses to workloads: lease JSON lines, `kubectl get pods -A -o json`, `kubectl get nodes -o json`; " +
            "`kubectl get namespaces -o json` gives namespace labels for namespaceSelectors (with --clickhouse, only that part is used).",
        AllowMultipleArgumentsPerToken = true,
        Arity = ArgumentArity.ZeroOrMore,
    };

    public static Option<string?> Format() => new("--format")
    {
        Description = $"Decode every file as this format instead of detecting it: {FlowFormats.NameList}.",
    };

    public static Option<string?> From() => new("--from") { Description = "Window start (inclusive), RFC 3339 UTC, e.g. 2026-11-01T00:00:00Z." };

    public static Option<string?> RecordTime() => new("--time")
    {
        Description = "The time of AWS VPC records whose custom format has no start/end field, RFC 3339 UTC; without it their time comes from " +
            "the file's S3 delivery path (AWSLogs/ACCOUNT/vpcflowlogs/REGION/YYYY/MM/DD/...).",
    };

    public static Option<string?> To() => new("--to") { Description = "Window end (exclusive), RFC 3339 UTC." };

    public static FlowFormat? ParseFormat(string? text)
    {
        if (text is null) return null;
        if (FlowFormats.TryParse(text, out var format)) return format;
        throw new UsageException($"unknown format '{text}'; use one of: {FlowFormats.NameList}");
    }

    public static DateTime? ParseTime(string? text, string option)
    {
        if (text is null) return null;
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
            return parsed.UtcDateTime;
        throw new UsageException($"{option} '{text}' is not a time; use RFC 3339, e.g. 2026-11-01T00:00:00Z");
    }

    /// <summary>Checks every input file exists before any work starts, so a typo costs nothing.</summary>
    public static void RequireFiles(IEnumerable<string> paths, string option)
    {
        foreach (var path in paths)
            if (!File.Exists(path))
                throw new UsageException(Directory.Exists(path)
                    ? $"{option}: '{path}' is a directory; pass the files in it (e.g. {path}/*)"
                    : $"{option}: no such file '{path}'");
    }
}
