using System.Globalization;
using FlowPolicy.Cli.Serve;
using FlowPolicy.Cli.Terminal;
using FlowPolicy.Ingest.Enrichment;
using FlowPolicy.Ingest.Workers;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace FlowPolicy.Cli.Commands;

/// <summary>
/// Exposes FlowPolicy's meters (docs/metrics.md) in the Prometheus text format through OpenTelemetry's exporter (chosen
/// over prometheus-net by measurement: docs/design.md). <c>serve</c> maps /metrics on its own HTTP endpoint;
/// <c>ingest</c> has no HTTP endpoint, so <c>--metrics-listen</c> starts a listener of its own (<see cref="Listen"/>).
/// </summary>
internal static class MetricsExport
{
    /// <summary>Every component's Meter: one per component.</summary>
    public static IReadOnlyList<string> Meters { get; } =
    [
        IngestMetrics.MeterName,
        IngestPipeline.InventoryMeterName,
        JobMetrics.MeterName,
        Analytics.Edges.ClickHouseEdgeSource.MeterName,
        Analytics.Intent.IntentEvaluator.MeterName,
        Analytics.Jobs.AnalyzeJob.MeterName,
        Suggest.Reports.SuggestReport.MeterName,
    ];

    /// <summary>Adds every FlowPolicy meter to an OpenTelemetry metrics pipeline.</summary>
    public static MeterProviderBuilder AddFlowPolicyMeters(this MeterProviderBuilder builder)
    {
        foreach (var name in Meters) builder.AddMeter(name);
        return builder;
    }

    /// <summary>
    /// Parses <c>HOST:PORT</c> (<c>0.0.0.0</c> or <c>*</c> for every interface; a bare port means 127.0.0.1).
    /// </summary>
    /// <exception cref="UsageException">Not an address with a port 1..65535.</exception>
    public static (string Host, int Port) ParseListen(string value, string option)
    {
        var text = value.Trim();
        int colon = text.LastIndexOf(':');
        var host = colon < 0 ? "127.0.0.1" : text[..colon].Trim('[', ']');
        var portText = colon < 0 ? text : text[(colon + 1)..];
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535 || host.Length == 0)
            throw new UsageException($"{option} must be HOST:PORT (e.g. 127.0.0.1:9464, or 0.0.0.0:9464 for every interface), not '{value}'");
        return (host is "0.0.0.0" or "*" or "::" ? "+" : host, port);
    }

    /// <summary>Starts an HTTP listener serving /metrics on <paramref name="host"/>:<paramref name="port"/>; disposing it stops it.</summary>
    public static MeterProvider Listen(string host, int port) =>
        Sdk.CreateMeterProviderBuilder()
            .AddFlowPolicyMeters()
            .AddPrometheusHttpListener(o =>
            {
                o.Host = host;
                o.Port = port;
                o.ScrapeEndpointPath = "/metrics";
            })
            .Build();
}
