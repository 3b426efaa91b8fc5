using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using FlowPolicy.Analytics.Anomalies;
using FlowPolicy.Ingest.Embedded;
using FlowPolicy.Cli.Terminal;
using Spectre.Console;

namespace FlowPolicy.Cli.Commands;

/// <summary>`flowpolicy anomalies`: the embedded mode of the anomalies job (docs/anomalies.md).</summary>
internal static class AnomaliesCommand
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
        var evaluate = new Option<int>("--evaluate") { Description = "Hours at the end of the data to judge; everything before them is the history (default 24).", DefaultValueFactory = _ => 24 };
        var json = new Option<bool>("--json") { Description = "Print JSON lines (one anomaly per line, with its evidence) instead of a table." };
        var command = new Command("anomalies",
            "Find unusual traffic in flow logs: spikes, drops, denied-flow spikes, level shifts, scans and new heavy talkers, per edge, " +
            "service and source, each judged against the same hour of the week in its own history (median/MAD) with its evidence.\n\n" +
            "Examples:\n" +
            "  flowpolicy anomalies --flows flows/*.jsonl.gz --inventory leases.jsonl\n" +
            "  flowpolicy anomalies --flows hubble.json --evaluate 1 --json > anomalies.jsonl\n" +
            "  flowpolicy anomalies --flows vpc/*.log.gz --from 2026-10-05T00:00:00Z --to 2026-11-09T00:00:00Z --evaluate 168")
        {
            flows, inventory, format, recordTime, threads, from, to, evaluate, json,
        };
        command.SetAction(parse =>
        {
            int evaluateHours = parse.GetValue(evaluate);
            if (evaluateHours < 1) throw new UsageException($"--evaluate {evaluateHours}: judge at least one hour");
            var fromTime = CommonOptions.ParseTime(parse.GetValue(from), "--from");
            var toTime = CommonOptions.ParseTime(parse.GetValue(to), "--to");
            foreach (var (name, time) in new[] { ("--from", fromTime), ("--to", toTime) })
                if (time is { } t && t.Ticks % TimeSpan.TicksPerHour != 0) throw new UsageException($"{name} {t:O} is not on a whole hour; anomalies are judged hour by hour");
            var load = EdgesCommand.LoadEdges(new FileEdgeSourceOptions
            {
                FlowFiles = parse.GetValue(flows) ?? [],
                InventoryFiles = parse.GetValue(inventory) ?? [],
                Format = CommonOptions.ParseFormat(parse.GetValue(format)),
                RecordTime = CommonOptions.ParseTime(parse.GetValue(recordTime), "--time"),
                Threads = parse.GetValue(threads),
                From = fromTime,
                To = toTime,
                KeepHours = true,
            });
            var report = Detect(load, toTime, evaluateHours, Console.Error);
            if (parse.GetValue(json)) WriteJsonLines(Console.OpenStandardOutput(), report.Anomalies);
            else WriteTable(report);
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>
    /// Judges the last <paramref name="evaluateHours"/> hours of the loaded series (up to --to, else the last hour with
    /// flows) against everything before; says on <paramref name="notes"/> when the history is too short to know the week.
    /// </summary>
    internal static AnomalyReport Detect(FileEdgeLoad load, DateTime? to, int evaluateHours, TextWriter notes)
    {
        int lastHour = load.HourlySeries.Count == 0 ? 0 : load.HourlySeries.Max(s => s.Hours.Length == 0 ? 0 : s.Hours[^1]);
        int hours = to is { } end ? (int)((end - load.SeriesStart).Ticks / TimeSpan.TicksPerHour) : lastHour + 1;
        hours = Math.Max(hours, 1);
        int evaluateFrom = Math.Max(0, hours - evaluateHours);
        var options = new AnomalyOptions();
        int history = Math.Max(0, evaluateFrom - options.ContextHours);
        if (history < options.MinSlotSamples * 168)
            notes.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"flowpolicy: {history} hours of history before the judged hours; with fewer than {options.MinSlotSamples} weeks each hour is judged against {(history >= options.MinSlotSamples * 24 ? "the same hour of earlier days" : "all earlier hours")}, so weekly rhythms can look unusual"));
        return AnomalyDetector.Detect(load.HourlySeries, options, load.SeriesStart, hours, evaluateFrom);
    }

    public static void WriteJsonLines(Stream output, IReadOnlyList<FlowAnomaly> anomalies)
    {
        using var buffered = new BufferedStream(output, 1 << 16);
        foreach (var anomaly in anomalies)
        {
            using (var writer = new Utf8JsonWriter(buffered))
                AnomalyJson.Write(writer, anomaly);
            buffered.WriteByte((byte)'\n');
        }
    }

    private static void WriteTable(AnomalyReport report)
    {
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"flowpolicy: {report.Anomalies.Count} anomalies in {report.EvaluatedFrom:yyyy-MM-dd HH:00}..{report.To:yyyy-MM-dd HH:00} UTC over {report.SeriesExamined} edges"));
        if (report.Anomalies.Count == 0) return;
        var table = new Table().Border(TableBorder.Simple);
        foreach (var column in new[] { "START", "HOURS", "KIND", "SCOPE", "SUBJECT", "METRIC", "OBSERVED", "EXPECTED", "NORMAL RANGE", "SCORE", "BASELINE", "TOP EDGE" })
            table.AddColumn(new TableColumn(column) { NoWrap = true });
        foreach (var a in report.Anomalies)
            table.AddRow(
                a.Start.ToString("yyyy-MM-dd HH:00", CultureInfo.InvariantCulture), ((int)(a.End - a.Start).TotalHours).ToString(CultureInfo.InvariantCulture),
                AnomalyText.Kind(a.Kind), AnomalyText.Name(a.Scope), Markup.Escape(a.Subject), AnomalyText.Metric(a.Metric),
                AnomalyText.Number(a.Observed), AnomalyText.Number(a.Expected), $"{AnomalyText.Number(a.ExpectedLow)}-{AnomalyText.Number(a.ExpectedHigh)}",
                a.Score.ToString("0.0", CultureInfo.InvariantCulture), AnomalyText.Baseline(a.Baseline), Markup.Escape(a.Edges.FirstOrDefault()?.ToString() ?? ""));
        AnsiConsole.Write(table);
    }
}
