using FlowPolicy.Core.Edges;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.ClickHouse;

namespace FlowPolicy.Analytics.Anomalies;

public sealed class AnomalyJobOptions
{
    public AnomalyOptions Detection { get; init; } = new();
    /// <summary>History read before the evaluated window: four weeks give every hour of the week four earlier samples.</summary>
    public TimeSpan History { get; init; } = TimeSpan.FromDays(28);

    public void Validate()
    {
        Detection.Validate();
        if (History < TimeSpan.Zero || History.Ticks % TimeSpan.TicksPerHour != 0) throw new ArgumentException("the anomaly history must be whole hours");
    }
}

/// <summary>
/// The scheduled anomalies job: the evaluated window's edges with <see cref="AnomalyJobOptions.History"/> before it,
/// hour by hour from the rollups -> <see cref="AnomalyDetector"/> -> <see cref="AnomalyStore"/> (the window's rows
/// replaced: exactly once per window with the scheduler's job_runs). Stateless between runs.
/// </summary>
public sealed class AnomalyJob
{
    private readonly AnomalyJobOptions _options;
    private readonly ClickHouseHttpClient _client;
    private readonly TimeProvider _time;

    public AnomalyJob(AnomalyJobOptions options, ClickHouseHttpClient client, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _client = client ?? throw new ArgumentNullException(nameof(client));
        _time = time ?? TimeProvider.System;
    }

    public async Task<(AnomalyReport Report, int Stored)> RunAsync(AnalysisWindow window, CancellationToken cancellationToken = default)
    {
        var read = new AnalysisWindow(window.From - _options.History, window.To);
        var series = await new ClickHouseHourlySeries(_client).ReadAsync(read, cancellationToken).ConfigureAwait(false);
        int hours = (int)((read.To - read.From).Ticks / TimeSpan.TicksPerHour);
        var report = AnomalyDetector.Detect(series, _options.Detection, read.From, hours, (int)(_options.History.Ticks / TimeSpan.TicksPerHour));
        int stored = await AnomalyStore.ReplaceWindowAsync(_client, window, report.Anomalies, _time.GetUtcNow().UtcDateTime, cancellationToken).ConfigureAwait(false);
        return (report, stored);
    }
}
