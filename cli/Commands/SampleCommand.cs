using System.CommandLine;
using System.Globalization;
using FlowPolicy.Cli.Sample;
using FlowPolicy.Cli.Terminal;

namespace FlowPolicy.Cli.Commands;

/// <summary>`flowpolicy sample`: write the built-in sample app's flow logs and inventory.</summary>
internal static class SampleCommand
{
    /// <summary>A Monday, so a default week runs Monday to Sunday and includes the Sunday batch job.</summary>
    public static readonly DateTime DefaultStart = new(2026, 11, 2, 0, 0, 0, DateTimeKind.Utc);

    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Directory to write the sample into.", Required = true };
        var days = new Option<int>("--days") { Description = "Days of traffic (7 or more includes the weekly job).", DefaultValueFactory = _ => 7 };
        var seed = new Option<int>("--seed") { Description = "Random seed; the same seed gives byte-identical files.", DefaultValueFactory = _ => 42 };
        var rate = new Option<double>("--rate") { Description = "Connections per hour on a busy dependency (scales the volume).", DefaultValueFactory = _ => 6 };
        var start = CommonOptions.From();
        start.Description = "First day of traffic, UTC (default 2026-11-02, a Monday).";
        var command = new Command("sample",
            "Write the built-in sample app's traffic: Hubble JSON (pod to pod), gzip AWS VPC Flow Logs (traffic crossing the VPC), " +
            "canonical JSON and GoFlow2 NetFlow (second sightings of part of it), an inventory (lease history, nodes) and " +
            "expected-edges.txt, the dependency graph the traffic was generated from.\n\n" +
            "Examples:\n" +
            "  flowpolicy sample --out /tmp/sample\n" +
            "  flowpolicy sample --out /tmp/big --days 14 --rate 60")
        {
            output, days, seed, rate, start,
        };
        command.SetAction(parse =>
        {
            int dayCount = parse.GetValue(days);
            double perHour = parse.GetValue(rate);
            if (dayCount is < 1 or > 366) throw new UsageException("--days must be between 1 and 366");
            if (perHour is <= 0 or > 100_000) throw new UsageException("--rate must be above 0 and at most 100000");
            CommonOptions.RequireWritableDirectory(parse.GetValue(output)!, "--out");
            var files = Write(parse.GetValue(output)!, CommonOptions.ParseTime(parse.GetValue(start), "--from") ?? DefaultStart, dayCount, parse.GetValue(seed), perHour);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"flowpolicy: wrote {files.Records} flow records to {files.Directory}"));
            foreach (var file in files.FlowFiles.Concat(files.InventoryFiles).Append(files.TruthFile))
                Console.WriteLine(file);
            return ExitCodes.Success;
        });
        return command;
    }

    public static SampleFiles Write(string directory, DateTime start, int days, int seed, double rate)
    {
        var app = new SampleApp(start, days);
        var traffic = new SampleTraffic(app, seed, rate).Generate();
        return new SampleWriter(app, seed).Write(traffic, directory);
    }
}
