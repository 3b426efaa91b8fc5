using System.Buffers;
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using FlowPolicy.Cli.Terminal;
using FlowPolicy.Core.Edges;
using FlowPolicy.Ingest.Embedded;
using FlowPolicy.Ingest.Files;
using Spectre.Console;

namespace FlowPolicy.Cli.Commands;

/// <summary>`flowpolicy edges`: aggregate flow files into client -> server:port edges with their evidence.</summary>
internal static class EdgesCommand
{
    public static Command Create()
    {
        var flows = CommonOptions.Flows(required: true);
        var inventory = CommonOptions.Inventory();
        var format = CommonOptions.Format();
        var recordTime = CommonOptions.RecordTime();
        var threads = CommonOptions.Threads();
        var from = CommonOptions.From();
        var to = CommonOptions.To();
        var json = new Option<bool>("--json") { Description = "Print JSON lines (one edge per line) instead of a table." };
        var rejects = new Option<string?>("--rejects") { Description = "Write every malformed record (position, reason, excerpt) to this file as JSON lines." };
        var command = new Command("edges",
            "Aggregate flow logs into service edges (client -> server:port/proto) with flows, bytes, first/last seen, days seen.\n\n" +
            "Examples:\n" +
            "  flowpolicy edges --flows vpc.log.gz hubble.json --inventory leases.jsonl nodes.json\n" +
            "  flowpolicy edges --flows flows.jsonl --from 2026-11-01T00:00:00Z --to 2026-11-08T00:00:00Z --json > edges.jsonl\n" +
            "  flowpolicy edges --flows capture.txt --format vpc")
        {
            flows, inventory, format, recordTime, threads, from, to, json, rejects,
        };
        command.SetAction(parse =>
        {
            var options = new FileEdgeSourceOptions
            {
                FlowFiles = parse.GetValue(flows) ?? [],
                InventoryFiles = parse.GetValue(inventory) ?? [],
                Format = CommonOptions.ParseFormat(parse.GetValue(format)),
                RecordTime = CommonOptions.ParseTime(parse.GetValue(recordTime), "--time"),
                Threads = parse.GetValue(threads),
                From = CommonOptions.ParseTime(parse.GetValue(from), "--from"),
                To = CommonOptions.ParseTime(parse.GetValue(to), "--to"),
            };
            if (parse.GetValue(rejects) is { } path) CommonOptions.RequireWritableFile(path, "--rejects");
            var load = LoadEdges(options);
            if (parse.GetValue(rejects) is { } rejectsPath) WriteRejects(load, rejectsPath);
            var clock = new LoadPhase.Clock();
            if (parse.GetValue(json)) WriteJsonLines(Console.OpenStandardOutput(), load.Edges, options.Threads);
            else WriteTable(load.Edges);
            clock.End("output");
            ReportTimings(clock.Phases);
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Reads the files with progress and reports what was read on stderr; shared by every embedded-mode command.</summary>
    public static FileEdgeLoad LoadEdges(FileEdgeSourceOptions options)
    {
        CommonOptions.RequireFiles(options.FlowFiles, "--flows");
        CommonOptions.RequireFiles(options.InventoryFiles, "--inventory");
        FileEdgeSource source;
        try
        {
            source = new FileEdgeSource(options);
        }
        catch (ArgumentException ex)
        {
            throw new UsageException(ex.Message);
        }
        FileEdgeLoad load;
        try
        {
            load = Terminal.Progress.Run("Reading flows", 1.0, report => source.Load((done, total) => report(total == 0 ? 1 : (double)done / total)));
        }
        catch (FlowFileException ex)
        {
            throw new UsageException(ex.Message);
        }
        ReportLoad(load);
        ReportTimings(load.Phases);
        RequireUsableRecords(load, options.Format is not null);
        return load;
    }

    /// <summary>Set to 1: each step's wall and CPU time on stderr (where the time of a run goes, for benchmarks/README.md).</summary>
    public const string TimingsVariable = "FLOWPOLICY_TIMINGS";

    internal static void ReportTimings(IReadOnlyList<LoadPhase> phases)
    {
        if (Environment.GetEnvironmentVariable(TimingsVariable) != "1") return;
        foreach (var phase in phases)
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"flowpolicy: timing: {phase.Name}: {phase.Wall.TotalSeconds:F3} s wall, {phase.Cpu.TotalSeconds:F3} s CPU"));
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"flowpolicy: timing: garbage collections so far: {GC.CollectionCount(0)} gen0, {GC.CollectionCount(1)} gen1, {GC.CollectionCount(2)} gen2, {GC.GetTotalPauseDuration().TotalSeconds:F3} s paused"));
    }

    /// <summary>
    /// Files in which every record is malformed are the wrong files or the wrong --format, not a quiet window: exit 2
    /// rather than an empty table, an empty graph, a check that passes on nothing, or a suggestion that replaces the
    /// policies a user applied with none.
    /// </summary>
    internal static void RequireUsableRecords(FileEdgeLoad load, bool formatForced)
    {
        if (load.Records > 0 || load.Rejected == 0) return;
        var first = load.Errors.Count > 0 ? $"; the first: {load.Errors[0]}" : "";
        throw new UsageException(string.Create(CultureInfo.InvariantCulture,
            $"every one of the {load.Rejected} records read is malformed, so there is nothing to work on{first}. ") +
            (formatForced ? "Is --format right for these files? Leave it out to detect the format." : "Are these flow log files? --rejects FILE (edges) lists every problem."));
    }

    private static void ReportLoad(FileEdgeLoad load)
    {
        var error = Console.Error;
        foreach (var file in load.Files)
            if (file.Note is { } note) error.WriteLine($"flowpolicy: {file.Path}: {note}");
        foreach (var problem in load.InventoryErrors.Take(5)) error.WriteLine($"flowpolicy: inventory: {problem}");
        if (load.InventoryErrors.Count > 5) error.WriteLine($"flowpolicy: inventory: {load.InventoryErrors.Count - 5} more inventory errors");
        foreach (var problem in load.Errors.Take(5)) error.WriteLine($"flowpolicy: skipped malformed record {problem}");
        if (load.Rejected > 5) error.WriteLine($"flowpolicy: {load.Rejected - 5} more malformed records skipped (--rejects FILE lists them all)");
        var skipped = load.Skipped.Count == 0 ? "" : ", " + string.Join(", ", load.Skipped.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Value} {p.Key}"));
        var formats = string.Join(", ", load.Files.GroupBy(f => Ingest.Formats.FlowFormats.Name(f.Format) + (f.Parquet ? " parquet" : "")).Select(g => $"{g.Count()} {g.Key}"));
        error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"flowpolicy: {load.Records} records from {load.Files.Count} files ({formats}); {load.Rejected} malformed{skipped}; " +
            $"{load.RepliesFolded} replies folded into their requests; {load.OutsideWindow} outside the window; {load.Edges.Count} edges"));
    }

    private static void WriteRejects(FileEdgeLoad load, string path)
    {
        using var file = File.Create(path);
        foreach (var problem in load.Errors)
        {
            using (var writer = new Utf8JsonWriter(file))
            {
                writer.WriteStartObject();
                writer.WriteString("source", problem.Position.Source);
                writer.WriteNumber("line", problem.Position.Line);
                writer.WriteString("reason", problem.Reason);
                writer.WriteString("excerpt", problem.Excerpt);
                writer.WriteEndObject();
            }
            file.WriteByte((byte)'\n');
        }
    }

    /// <summary>
    /// One edge per line. Blocks of edges are rendered on every core into buffers of their own and written in order (a
    /// million edges are ~0.5 GB of JSON: on one core this was a fifth of `edges`).
    /// </summary>
    public static void WriteJsonLines(Stream output, IReadOnlyList<Edge> edges, int threads = 0)
    {
        const int BlockEdges = 2048;
        if (threads < 1) threads = Environment.ProcessorCount;
        var blocks = new ArrayBufferWriter<byte>[2 * threads];
        for (int i = 0; i < blocks.Length; i++) blocks[i] = new ArrayBufferWriter<byte>(1 << 20);
        for (int start = 0; start < edges.Count; start += blocks.Length * BlockEdges)
        {
            int first = start;
            int count = Math.Min(blocks.Length, (edges.Count - first + BlockEdges - 1) / BlockEdges);
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = threads }, b =>
            {
                var block = blocks[b];
                block.ResetWrittenCount();
                using var writer = new Utf8JsonWriter(block);
                int end = Math.Min(edges.Count, first + (b + 1) * BlockEdges);
                for (int i = first + b * BlockEdges; i < end; i++)
                {
                    writer.Reset(block); // one top-level value per line
                    EdgeJson.Write(writer, edges[i]);
                    writer.Flush();
                    block.GetSpan(1)[0] = (byte)'\n';
                    block.Advance(1);
                }
            });
            for (int b = 0; b < count; b++) output.Write(blocks[b].WrittenSpan);
        }
        output.Flush();
    }

    private static void WriteTable(IReadOnlyList<Edge> edges)
    {
        var table = new Table().Border(TableBorder.Simple);
        foreach (var column in new[] { "SRC", "DST", "PORT", "PROTO", "FLOWS", "BYTES", "FIRST SEEN", "LAST SEEN", "DAYS", "REPLICAS", "DENIED" })
            table.AddColumn(new TableColumn(column) { NoWrap = true });
        foreach (var edge in edges)
            table.AddRow(
                Markup.Escape(edge.Client.Key), Markup.Escape(edge.Server.Key),
                edge.Port.ToString(CultureInfo.InvariantCulture), edge.ProtocolName,
                edge.Flows.ToString(CultureInfo.InvariantCulture), edge.Bytes.ToString(CultureInfo.InvariantCulture),
                edge.FirstSeen.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture), edge.LastSeen.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture),
                edge.DaysSeen.ToString(CultureInfo.InvariantCulture), edge.ClientReplicas.ToString(CultureInfo.InvariantCulture),
                edge.DeniedFlows.ToString(CultureInfo.InvariantCulture));
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        if (Console.IsOutputRedirected) console.Profile.Width = 400; // no wrapping in files and pipes
        console.Write(table);
    }
}
