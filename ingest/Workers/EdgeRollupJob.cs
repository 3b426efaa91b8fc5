using System.Diagnostics;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.Schema;
using Microsoft.Extensions.Logging;

namespace FlowPolicy.Ingest.Workers;

/// <summary>
/// Keeps the edge rollups equal to the raw flows: rebuilds (<see cref="EdgeRollup.RebuildDayAsync"/>) every UTC day
/// whose flows parts changed since its rollup was last written. Stateless, so days a crashed worker touched are
/// found too: it compares, per day, the newest modification time of the flows parts with that of the edges_1h parts
/// (system.parts). A rebuild reads the raw rows as they were when it started, so a day counts as clean only when
/// its flows are older than its rollup by <see cref="Margin"/> (longer than any rebuild); days written just before
/// a rebuild are rebuilt once more, which is harmless (a rebuild replaces the day).
/// </summary>
public sealed class EdgeRollupJob
{
    private readonly ClickHouseHttpClient _client;
    private readonly IngestMetrics _metrics;
    private readonly ILogger _log;

    public EdgeRollupJob(ClickHouseHttpClient client, IngestMetrics metrics, ILogger log)
    {
        _client = client;
        _metrics = metrics;
        _log = log;
    }

    public TimeSpan Margin { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The days whose rollups are older than their raw flows (unit-tested rule).</summary>
    public static List<DateOnly> StaleDays(IEnumerable<(DateOnly Day, DateTime FlowsModified, DateTime? EdgesModified)> times, TimeSpan margin) =>
        times.Where(t => t.EdgesModified is not { } edges || t.FlowsModified >= edges - margin).Select(t => t.Day).ToList();

    /// <summary>Rebuilds every stale day; returns how many were rebuilt. Failures are logged and counted, retried next run.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        List<DateOnly> days;
        try
        {
            days = StaleDays(await IngestQueries.PartitionTimesAsync(_client, cancellationToken).ConfigureAwait(false), Margin);
        }
        catch (Exception e) when (e is ClickHouseServerException or HttpRequestException or TimeoutException or IOException)
        {
            _metrics.CountError(IngestError.Rollup);
            _log.LogWarning("Edge rollups: cannot list changed days: {Error}", e.Message);
            return 0;
        }
        int rebuilt = 0;
        foreach (var day in days)
        {
            var clock = Stopwatch.StartNew();
            try
            {
                var result = await EdgeRollup.RebuildDayAsync(_client, day, cancellationToken).ConfigureAwait(false);
                rebuilt++;
                Interlocked.Increment(ref _metrics.RollupsField);
                _log.LogInformation("Edge rollups rebuilt for {Day}: {Hourly} hourly and {Daily} daily edges in {Millis} ms",
                    day.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), result.HourlyRows, result.DailyRows, clock.ElapsedMilliseconds);
                if (clock.Elapsed > Margin / 2)
                    _log.LogWarning("Edge rollup of one day took {Seconds:F0} s, close to the {Margin:F0} s margin that decides which days are stale", clock.Elapsed.TotalSeconds, Margin.TotalSeconds);
            }
            catch (Exception e) when (e is ClickHouseServerException or HttpRequestException or TimeoutException or IOException)
            {
                _metrics.CountError(IngestError.Rollup);
                _log.LogWarning("Edge rollup of {Day} failed: {Error}; retried on the next run", day, e.Message);
            }
        }
        return rebuilt;
    }
}
