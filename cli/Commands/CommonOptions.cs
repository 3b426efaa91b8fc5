using FlowPolicy.Analytics.Intent;
using System.CommandLine;
using System.Globalization;
using FlowPolicy.Cli.Terminal;
using FlowPolicy.Core.Edges;
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

    /// <summary>Threads the embedded mode (--flows) reads, aggregates and writes edges on; the edges are the same for any number.</summary>
    public static Option<int> Threads() => new("--threads")
    {
        Description = "Threads that read the flow files and aggregate edges (default: every core, here " + Environment.ProcessorCount + "); any number gives the same edges.",
        DefaultValueFactory = _ => Environment.ProcessorCount,
    };

    public static Option<string?> To() => new("--to") { Description = "Window end (exclusive), RFC 3339 UTC." };

    /// <summary>The mesh-wide Istio settings an AuthorizationPolicy's meaning depends on (<see cref="IstioMesh"/>).</summary>
    public static (Option<string?> RootNamespace, Option<string?> TrustDomain) Istio() =>
    (
        new("--istio-root-namespace") { Description = "Istio's root namespace (meshConfig.rootNamespace; default istio-system): an AuthorizationPolicy there applies to every namespace." },
        new("--istio-trust-domain")
        {
            Description = "The mesh's trust domain (meshConfig.trustDomain; default cluster.local): Istio principals are TRUST-DOMAIN/ns/NAMESPACE/sa/SERVICE-ACCOUNT, " +
                "so with the wrong one no principal matches.",
        }
    );

    /// <summary>The mesh the two <see cref="Istio"/> options name; exit 2 on a value that is no namespace or trust domain.</summary>
    public static IstioMesh ParseIstio(ParseResult parse, (Option<string?> RootNamespace, Option<string?> TrustDomain) options)
    {
        try
        {
            return IstioMesh.Parse(parse.GetValue(options.RootNamespace), parse.GetValue(options.TrustDomain));
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
    }

    public static Option<string[]> IncludeNamespace() => new("--include-namespace")
    {
        Description = "Only workloads in namespaces matching this pattern (repeatable; * and ? wildcards). Replaces the default exclusions: '*' is every namespace.",
        AllowMultipleArgumentsPerToken = false,
        Arity = ArgumentArity.ZeroOrMore,
    };

    /// <param name="defaults">The command excludes <see cref="NamespaceScope.SystemNamespaces"/> by default (suggest).</param>
    public static Option<string[]> ExcludeNamespace(bool defaults) => new("--exclude-namespace")
    {
        Description = "Leave out workloads in namespaces matching this pattern (repeatable; * and ? wildcards)" + (defaults
            ? $". Without --include-namespace, {string.Join(", ", NamespaceScope.SystemNamespaces)} are excluded as well: they get no policies, and rules of other namespaces to and from them are kept."
            : "; traffic between them and other namespaces is kept."),
        AllowMultipleArgumentsPerToken = false,
        Arity = ArgumentArity.ZeroOrMore,
    };

    public static NamespaceScope ParseScope(string[]? include, string[]? exclude, Func<IReadOnlyList<string>, IReadOnlyList<string>, NamespaceScope> make)
    {
        try
        {
            return make(include ?? [], exclude ?? []);
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"--include-namespace/--exclude-namespace: {e.Message}");
        }
    }

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

    /// <summary>
    /// Checks, before any input is read, that <paramref name="path"/> can be an output directory: not a file, not under
    /// a file, and writable (it is created, as the command would create it anyway). An hour of reading must not end in
    /// "cannot write".
    /// </summary>
    public static void RequireWritableDirectory(string path, string option)
    {
        if (File.Exists(path)) throw new UsageException($"{option}: '{path}' is a file; give a directory (it is created if missing)");
        RequireNoFileAbove(path, option);
        try
        {
            Directory.CreateDirectory(path);
            // The only sure test of "writable" (permissions, ACLs, read-only mounts) is to write.
            using (new FileStream(Path.Combine(path, $".flowpolicy-write-test-{Environment.ProcessId}"), FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new UsageException($"{option}: cannot write in '{path}': {e.Message}");
        }
    }

    /// <summary>The same for an output file: not a directory, its directory writable; the file itself is not created.</summary>
    public static void RequireWritableFile(string path, string option)
    {
        if (Directory.Exists(path)) throw new UsageException($"{option}: '{path}' is a directory; give a file name");
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        RequireNoFileAbove(path, option);
        if (!Directory.Exists(directory)) throw new UsageException($"{option}: the directory of '{path}' does not exist");
        try
        {
            using (new FileStream(Path.Combine(directory, $".flowpolicy-write-test-{Environment.ProcessId}"), FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new UsageException($"{option}: cannot write in '{directory}': {e.Message}");
        }
    }

    private static void RequireNoFileAbove(string path, string option)
    {
        string full;
        try
        {
            full = Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new UsageException($"{option}: '{path}' is not a usable path: {e.Message}");
        }
        for (var dir = Path.GetDirectoryName(full); dir is not null; dir = Path.GetDirectoryName(dir))
            if (File.Exists(dir)) throw new UsageException($"{option}: '{path}' is under '{dir}', which is a file");
    }
}
