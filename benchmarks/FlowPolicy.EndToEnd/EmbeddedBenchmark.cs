using System.Diagnostics;
using System.Globalization;
using System.Text;
using FlowPolicy.Benchmarks.Data;
using FlowPolicy.LocalServers.ClickHouse;

namespace FlowPolicy.EndToEnd;

public sealed class EmbeddedBenchmarkOptions
{
    public int Records { get; init; } = 2_000_000;
    /// <summary>Formats to generate and read: vpc, canonical, hubble.</summary>
    public IReadOnlyList<string> Formats { get; init; } = ["vpc", "canonical", "hubble"];
    /// <summary>Runs per side and format, alternating sides (A B A B ...), so load changes hit both alike.</summary>
    public int Rounds { get; init; } = 3;
    /// <summary>An earlier build's flowpolicy.dll to run beside this one (A/B); null runs only this build.</summary>
    public string? BaselineCli { get; init; }
    public bool ClickHouse { get; init; } = true;
    public string? Directory { get; init; }
}

/// <summary>One measured process run: wall, user + system CPU, peak RSS (from /usr/bin/time).</summary>
public sealed record EmbeddedRun(string Format, string Side, int Round, double WallSeconds, double CpuSeconds, long PeakRssBytes, string? Problem);

/// <summary>
/// `flowpolicy edges --flows FILE --json` on generated files of one format each (the same flows as the micro suite, 2M
/// records by default), against ClickHouse 18.16 loading the same file (clickhouse-client, CSV / JSONEachRow into a
/// MergeTree) and grouping it by (src, dst, dst port, protocol), in the same run, sides alternating. The CLI runs as a
/// child under /usr/bin/time: wall, user + system CPU and peak RSS of exactly that process. With a baseline build
/// (--baseline-cli), its output must be byte-for-byte the same as this build's.
/// </summary>
internal static class EmbeddedBenchmark
{
    public const string ThisBuild = "flowpolicy edges";
    public const string Baseline = "flowpolicy edges (baseline build)";
    public const string ClickHouseSide = "ClickHouse load + group";

    public static async Task<IReadOnlyList<EmbeddedRun>> RunAsync(EmbeddedBenchmarkOptions options, TextWriter log, CancellationToken cancellationToken)
    {
        var work = options.Directory is { } d ? System.IO.Directory.CreateDirectory(d) : System.IO.Directory.CreateTempSubdirectory("flowpolicy-e2e-embedded-");
        var runs = new List<EmbeddedRun>();
        LocalClickHouseServer? server = null;
        try
        {
            if (options.ClickHouse)
                server = await LocalClickHouseServer.StartAsync(new LocalClickHouseServerOptions { DataDirectory = Path.Combine(work.FullName, "clickhouse"), DeleteDataOnStop = true }, cancellationToken);
            var cli = Path.Combine(AppContext.BaseDirectory, "flowpolicy.dll");
            foreach (var format in options.Formats)
            {
                var file = Path.Combine(work.FullName, $"{format}-{options.Records}.{(format == "vpc" ? "log" : "jsonl")}");
                if (!File.Exists(file))
                {
                    log.WriteLine($"e2e embedded: writing {options.Records:N0} {format} records to {file}");
                    using var output = new StreamWriter(file + ".tmp", false, new UTF8Encoding(false), 1 << 20);
                    switch (format)
                    {
                        case "vpc": BenchData.WriteAwsVpc(output, options.Records); break;
                        case "canonical": BenchData.WriteCanonical(output, options.Records); break;
                        case "hubble": BenchData.WriteHubble(output, options.Records); break;
                        default: throw new ArgumentException($"unknown format {format} (vpc, canonical, hubble)");
                    }
                    output.Close();
                    File.Move(file + ".tmp", file);
                }
                string? reference = null;
                for (int round = 1; round <= options.Rounds; round++)
                {
                    var sides = new List<(string Side, string Cli)> { (ThisBuild, cli) };
                    if (options.BaselineCli is { } baseline) sides.Add((Baseline, baseline));
                    if (round % 2 == 0) sides.Reverse(); // A B, B A, ...: neither side always runs first
                    foreach (var (side, dll) in sides)
                    {
                        var outputFile = Path.Combine(work.FullName, "edges.jsonl");
                        var run = await TimeAsync(format, side, round, "dotnet", [dll, "edges", "--flows", file, "--json"], outputFile, cancellationToken);
                        // Both builds must print the same edges, byte for byte.
                        var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(outputFile)));
                        if (reference is null) reference = hash;
                        else if (hash != reference) run = run with { Problem = "output differs from the first run's" };
                        runs.Add(run);
                        log.WriteLine($"e2e embedded: {format} {side} round {round}: {run.WallSeconds:F2} s wall, {run.CpuSeconds:F2} s CPU, {ProcessMemory.Mib(run.PeakRssBytes)} {run.Problem}");
                    }
                    if (server is not null && format is "vpc" or "canonical")
                    {
                        var run = await ClickHouseAsync(server, format, file, round, work.FullName, log, cancellationToken);
                        runs.Add(run);
                        log.WriteLine($"e2e embedded: {format} {ClickHouseSide} round {round}: {run.WallSeconds:F2} s wall, {run.CpuSeconds:F2} s CPU {run.Problem}");
                    }
                }
            }
        }
        finally
        {
            if (server is not null) await server.DisposeAsync();
            if (options.Directory is null) work.Delete(recursive: true);
        }
        return runs;
    }

    /// <summary>Load + group by ClickHouse: a fresh MergeTree table, clickhouse-client INSERT of the file, then the GROUP BY.</summary>
    private static async Task<EmbeddedRun> ClickHouseAsync(LocalClickHouseServer server, string format, string file, int round, string work, TextWriter log, CancellationToken cancellationToken)
    {
        string table = $"flows_{format}_{round}";
        // Columns of the records' own fields; the canonical lines' nested identity objects are skipped. VPC's spaces become
        // tabs on the way (18.16's CSV reader skips spaces around fields, so a space delimiter does not parse).
        string columns = format == "vpc"
            ? "version UInt8, account_id String, interface_id String, srcaddr String, dstaddr String, srcport UInt16, dstport UInt16, protocol UInt8, packets UInt64, bytes UInt64, start UInt32, end UInt32, action String, log_status String"
            : "start String, end String, src_ip String, src_port UInt16, dst_ip String, dst_port UInt16, protocol String, bytes UInt64, packets UInt64, verdict String";
        string group = format == "vpc"
            ? $"SELECT srcaddr, dstaddr, dstport, protocol, count(), sum(bytes), sum(packets), min(start), max(end), uniqExact(intDiv(start, 86400)) FROM {table} GROUP BY srcaddr, dstaddr, dstport, protocol FORMAT Null"
            : $"SELECT src_ip, dst_ip, dst_port, protocol, count(), sum(bytes), sum(packets), min(start), max(end), uniqExact(substring(start, 1, 10)) FROM {table} GROUP BY src_ip, dst_ip, dst_port, protocol FORMAT Null";
        string port = server.TcpPort.ToString(CultureInfo.InvariantCulture);
        await RunClientAsync(port, $"CREATE TABLE {table} ({columns}) ENGINE = MergeTree() ORDER BY tuple()", null, cancellationToken);
        var pid = IngestBenchmark.ServerPid(server);
        double serverCpu = ProcessMemory.CpuSeconds(pid);
        var script = Path.Combine(work, "load-group.sh");
        string insert = format == "vpc"
            ? $"tail -n +2 '{file}' | tr ' ' '\\t' | clickhouse-client --port {port} --query 'INSERT INTO {table} FORMAT TabSeparated'"
            : $"clickhouse-client --port {port} --input_format_skip_unknown_fields 1 --query 'INSERT INTO {table} FORMAT JSONEachRow' < '{file}'";
        await File.WriteAllTextAsync(script, $"set -e\n{insert}\nclickhouse-client --port {port} --query '{group}'\n", cancellationToken);
        var run = await TimeAsync(format, ClickHouseSide, round, "bash", [script], "/dev/null", cancellationToken);
        double serverUsed = ProcessMemory.CpuSeconds(pid) - serverCpu;
        var rows = await RunClientAsync(port, $"SELECT count() FROM {table}", null, cancellationToken);
        await RunClientAsync(port, $"DROP TABLE {table}", null, cancellationToken);
        string? problem = run.Problem;
        if (problem is null && long.Parse(rows.Trim(), CultureInfo.InvariantCulture) == 0) problem = "no rows loaded";
        return run with { CpuSeconds = run.CpuSeconds + serverUsed, PeakRssBytes = -1, Problem = problem };
    }

    private static async Task<string> RunClientAsync(string port, string query, string? input, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("clickhouse-client") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--port", port, "--query", query }) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = await process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0) throw new InvalidOperationException($"clickhouse-client {query}: {error}");
        return output;
    }

    /// <summary>Runs a program under /usr/bin/time (wall, user, system, max RSS), stdout to <paramref name="outputFile"/>.</summary>
    private static async Task<EmbeddedRun> TimeAsync(string format, string side, int round, string program, string[] arguments, string outputFile,
        CancellationToken cancellationToken)
    {
        var times = Path.GetTempFileName();
        var start = new ProcessStartInfo("bash") { RedirectStandardError = true, UseShellExecute = false };
        var command = new StringBuilder($"exec /usr/bin/time -o '{times}' -f '%e %U %S %M' {program}");
        foreach (var a in arguments) command.Append(" '").Append(a).Append('\'');
        command.Append($" > '{outputFile}'");
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(command.ToString());
        using var process = Process.Start(start)!;
        var error = await process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var fields = (await File.ReadAllTextAsync(times, cancellationToken)).Trim().Split('\n')[^1].Split(' ');
        File.Delete(times);
        double F(int i) => double.Parse(fields[i], CultureInfo.InvariantCulture);
        string? problem = process.ExitCode == 0 ? null : $"exit {process.ExitCode}: {error.Trim().Split('\n')[^1]}";
        return new EmbeddedRun(format, side, round, F(0), F(1) + F(2), long.Parse(fields[3], CultureInfo.InvariantCulture) * 1024, problem);
    }

    public static string Table(EmbeddedBenchmarkOptions options, IReadOnlyList<EmbeddedRun> runs)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"Embedded: `flowpolicy edges --flows FILE --json` on {options.Records:N0} records per format, {options.Rounds} rounds, sides alternating\n\n");
        text.Append("| Format | Side | Runs | Median wall | Median CPU (user + sys) | Records/s (wall) | Peak RSS | Ratio vs ClickHouse: wall | CPU |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
        foreach (var format in options.Formats)
        {
            var ch = runs.Where(r => r.Format == format && r.Side == ClickHouseSide && r.Problem is null).ToList();
            double chWall = Results.Median(ch.Select(r => r.WallSeconds));
            double chCpu = Results.Median(ch.Select(r => r.CpuSeconds));
            foreach (var side in new[] { ThisBuild, Baseline, ClickHouseSide })
            {
                var mine = runs.Where(r => r.Format == format && r.Side == side).ToList();
                if (mine.Count == 0) continue;
                var valid = mine.Where(r => r.Problem is null).ToList();
                double wall = Results.Median(valid.Select(r => r.WallSeconds));
                string problems = string.Join("; ", mine.Where(r => r.Problem is not null).Select(r => $"round {r.Round}: {r.Problem}"));
                text.Append(CultureInfo.InvariantCulture,
                    $"| {format} | {side} | {valid.Count}{(problems.Length > 0 ? " (" + problems + ")" : "")} | {wall:F2} s ({string.Join(" / ", mine.Select(r => r.WallSeconds.ToString("F2", CultureInfo.InvariantCulture)))}) | " +
                    $"{Results.Median(valid.Select(r => r.CpuSeconds)):F2} s | {options.Records / wall:N0} | " +
                    $"{(side == ClickHouseSide ? "(server)" : ProcessMemory.Mib((long)Results.Median(valid.Select(r => (double)r.PeakRssBytes))))} | " +
                    $"{(side == ClickHouseSide || double.IsNaN(chWall) ? "" : (chWall / wall).ToString("F2", CultureInfo.InvariantCulture) + "x")} | " +
                    $"{(side == ClickHouseSide || double.IsNaN(chCpu) ? "" : (chCpu / Results.Median(valid.Select(r => r.CpuSeconds))).ToString("F2", CultureInfo.InvariantCulture) + "x")} |\n");
            }
        }
        return text.ToString();
    }
}
