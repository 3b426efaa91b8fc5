using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;

namespace FlowPolicy.Benchmarks;

/// <summary>
/// One job for the whole suite, sized so `benchmarks/run.sh` finishes well under 20 minutes on two shared cores.
/// In-process: the build machines' partial NuGet mirror makes BenchmarkDotNet's generated per-benchmark project
/// fragile to restore, and every benchmark here runs 100k records per operation, so the in-process harness'
/// overhead is noise. Medians, not means: the machine is shared and outliers are other people's builds.
/// </summary>
internal static class BenchConfig
{
    public static IConfig Create(bool quick)
    {
        var job = Job.Default
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithLaunchCount(1)
            .WithWarmupCount(quick ? 1 : 3)
            .WithIterationCount(quick ? 3 : 15)
            .WithIterationTime(TimeInterval.FromMilliseconds(quick ? 150 : 400))
            .WithId(quick ? "quick" : "suite");
        return ManualConfig.CreateEmpty()
            .AddJob(job)
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddColumn(StatisticColumn.Median, new PerSecondColumn())
            .AddLogger(BenchmarkDotNet.Loggers.ConsoleLogger.Default)
            .AddExporter(BenchmarkDotNet.Exporters.MarkdownExporter.GitHub)
            .WithSummaryStyle(SummaryStyle.Default.WithRatioStyle(RatioStyle.Trend))
            .WithOrderer(new BenchmarkDotNet.Order.DefaultOrderer(BenchmarkDotNet.Order.SummaryOrderPolicy.Declared))
            .WithOptions(ConfigOptions.DisableLogFile);
    }
}

/// <summary>
/// Items per second from the median: every benchmark sets OperationsPerInvoke to the items it processes, so one
/// "operation" is one record, lookup or row.
/// </summary>
internal sealed class PerSecondColumn : IColumn
{
    public string Id => "PerSecondMedian";
    public string ColumnName => "Items/s (median)";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Statistics;
    public int PriorityInCategory => 10;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Records, lookups or rows per second on one core (1 s / median)";
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var statistics = summary[benchmarkCase]?.ResultStatistics;
        if (statistics is null || statistics.Median <= 0) return "NA";
        double perSecond = 1e9 / statistics.Median; // Median is in nanoseconds per operation
        return perSecond >= 1e6 ? $"{perSecond / 1e6:0.00} M" : $"{perSecond / 1e3:0.0} k";
    }
}
