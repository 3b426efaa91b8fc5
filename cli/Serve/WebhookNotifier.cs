using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using FlowPolicy.Analytics.Anomalies;
using FlowPolicy.Analytics.Slis;
using FlowPolicy.Core.Edges;
using FlowPolicy.Core.Retry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FlowPolicy.Cli.Serve;

/// <summary>The JSON a webhook receives.</summary>
internal enum WebhookFormat
{
    /// <summary>Alertmanager's <c>POST /api/v2/alerts</c>: an array of alerts with labels, annotations and times.</summary>
    Alertmanager,
    /// <summary>A Slack incoming webhook: <c>{"text": "..."}</c> (Mattermost and Teams' Slack-compatible hooks take it too).</summary>
    Slack,
}

/// <summary>The `webhook` section of the serve config (docs/serve.md).</summary>
internal sealed class WebhookOptions
{
    public required Uri Url { get; init; }
    public WebhookFormat Format { get; init; } = WebhookFormat.Alertmanager;
    /// <summary>Longest wait for one POST's answer; a receiver that hangs costs this per attempt, never the job.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>POSTs per notification, the first included (a non-2xx answer, a refused connection or a timeout fails one).</summary>
    public int Attempts { get; init; } = 5;
    public TimeSpan Backoff { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromMinutes(1);
    /// <summary>Notifications waiting to be sent; one more is dropped (and counted) rather than wait.</summary>
    public int Queue { get; init; } = 100;
    /// <summary>The compliance objective: an analyze window below it is an SLO breach (0.99 = 99% of flows intended).</summary>
    public double ComplianceObjective { get; init; } = 0.99;
    /// <summary>Send anomalies (the `anomalies` jobs).</summary>
    public bool Anomalies { get; init; } = true;
    /// <summary>Send SLO breaches (the `analyze` jobs).</summary>
    public bool SloBreaches { get; init; } = true;

    /// <summary>Throws <see cref="ArgumentException"/> naming the setting.</summary>
    public void Validate()
    {
        if (Url.Scheme is not ("http" or "https")) throw new ArgumentException($"webhook.url must be an http or https URL, not '{Url}'");
        if (Timeout <= TimeSpan.Zero) throw new ArgumentException("webhook.timeout must be above zero");
        if (Attempts is < 1 or > 100) throw new ArgumentException("webhook.attempts must be 1..100");
        if (Queue is < 1 or > 100_000) throw new ArgumentException("webhook.queue must be 1..100000");
        if (ComplianceObjective is <= 0 or >= 1 || double.IsNaN(ComplianceObjective)) throw new ArgumentException("webhook.slo must be a percentage above 0 and below 100, e.g. 99");
        try
        {
            Core.Retry.Backoff.Validate(Backoff, MaxBackoff);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException("webhook.backoff / webhook.max_backoff: " + e.Message);
        }
    }
}

/// <summary>One message for the webhook: what happened, in both formats' terms.</summary>
/// <param name="Name">The alert name (Alertmanager's <c>alertname</c>).</param>
/// <param name="Labels">What identifies the instance (job, kind, subject ...).</param>
/// <param name="Summary">One line a person reads.</param>
internal sealed record WebhookAlert(string Name, string Severity, IReadOnlyDictionary<string, string> Labels, string Summary, string Description, DateTime StartsAt, DateTime EndsAt);

/// <summary>
/// Sends what the jobs record (anomalies, SLO breaches) to a webhook without ever holding a job up: <see cref="Enqueue"/>
/// puts the notification in a bounded queue and returns (a full queue drops it, counted); one background loop POSTs each,
/// retrying with the project's <see cref="Core.Retry.Backoff"/> up to <see cref="WebhookOptions.Attempts"/> times, each
/// POST bounded by <see cref="WebhookOptions.Timeout"/>. Counted on the Meter <see cref="MeterName"/>:
/// <c>flowpolicy.webhook.notifications</c> by outcome (sent, failed, dropped) and <c>flowpolicy.webhook.retries</c>.
/// Start and stop as a hosted service; stopping waits up to <see cref="DrainTimeout"/> for the queue, and what is still
/// in it is counted as dropped.
/// </summary>
internal sealed class WebhookNotifier : IHostedService, IDisposable
{
    public const string MeterName = "FlowPolicy.Webhook";

    private readonly WebhookOptions _options;
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly Channel<IReadOnlyList<WebhookAlert>> _queue;
    private readonly Meter _meter = new(MeterName);
    private readonly Counter<long> _notifications;
    private readonly Counter<long> _retries;
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private long _sent, _failed, _dropped;

    /// <param name="http">Tests: a client of their own; by default one owned by the notifier (no timeout of its own: each POST has <see cref="WebhookOptions.Timeout"/>).</param>
    public WebhookNotifier(WebhookOptions options, ILogger log, HttpClient? http = null, TimeProvider? time = null)
    {
        options.Validate();
        _options = options;
        _log = log;
        _time = time ?? TimeProvider.System;
        _ownsHttp = http is null;
        _http = http ?? new HttpClient { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        _queue = Channel.CreateBounded<IReadOnlyList<WebhookAlert>>(new BoundedChannelOptions(options.Queue) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _notifications = _meter.CreateCounter<long>("flowpolicy.webhook.notifications", "{notification}", "Webhook notifications by outcome: sent, failed (every attempt failed), dropped (queue full or still queued at stop)");
        _retries = _meter.CreateCounter<long>("flowpolicy.webhook.retries", "{request}", "Webhook POSTs sent again after a failed one");
    }

    /// <summary>How long <see cref="StopAsync"/> lets the queue drain before dropping what is left.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public WebhookOptions Options => _options;
    public long Sent => Interlocked.Read(ref _sent);
    public long Failed => Interlocked.Read(ref _failed);
    public long Dropped => Interlocked.Read(ref _dropped);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop ??= Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        if (_loop is null) return;
        try
        {
            await _loop.WaitAsync(DrainTimeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        while (_queue.Reader.TryRead(out _)) Count(ref _dropped, "dropped");
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
        _meter.Dispose();
        if (_ownsHttp) _http.Dispose();
    }

    /// <summary>Queues one notification (its alerts go in one POST); never waits. False when the queue was full or stopped: dropped, counted.</summary>
    public bool Enqueue(IReadOnlyList<WebhookAlert> alerts)
    {
        if (alerts.Count == 0) return true;
        if (_queue.Writer.TryWrite(alerts)) return true;
        Count(ref _dropped, "dropped");
        _log.LogWarning("Webhook queue full ({Queue}): a notification of {Alerts} alerts was dropped", _options.Queue, alerts.Count);
        return false;
    }

    /// <summary>The anomalies a run of an `anomalies` job recorded, one alert each (nothing when there are none or anomalies are off).</summary>
    public void AnomaliesRecorded(string job, AnalysisWindow window, AnomalyReport report)
    {
        if (!_options.Anomalies || report.Anomalies.Count == 0) return;
        Enqueue(report.Anomalies.Select(a => new WebhookAlert("FlowPolicyAnomaly", a.Kind == AnomalyKind.DeniedSpike || a.Kind == AnomalyKind.Scan ? "warning" : "info",
            new Dictionary<string, string>
            {
                ["job"] = job,
                ["kind"] = AnomalyText.Name(a.Kind),
                ["scope"] = AnomalyText.Name(a.Scope),
                ["subject"] = a.Subject,
                ["metric"] = AnomalyText.Name(a.Metric),
            }, a.Explanation,
            a.Edges.Count == 0 ? "" : "Edges: " + string.Join(", ", a.Edges.Select(e => e.ToString())), a.Start, a.End)).ToList());
    }

    /// <summary>An `analyze` window whose compliance fell below the objective: one alert (nothing otherwise).</summary>
    public void SlisRecorded(string job, AnalysisWindow window, SliReport report)
    {
        if (!_options.SloBreaches || report.Overall.ComplianceRate is not { } rate || rate >= _options.ComplianceObjective) return;
        string P(double r) => (r * 100).ToString("0.##", CultureInfo.InvariantCulture) + "%";
        Enqueue([new WebhookAlert("FlowPolicyComplianceSloBreach", "warning",
            new Dictionary<string, string> { ["job"] = job, ["slo"] = "compliance" },
            $"Compliance {P(rate)} from {SliJson.Time(window.From)} to {SliJson.Time(window.To)}, below the objective {P(_options.ComplianceObjective)}",
            string.Create(CultureInfo.InvariantCulture, $"{report.Overall.Flows} flows, {report.UnintendedEdges.Count} unintended edges: {string.Join(", ", report.UnintendedEdges.Take(5).Select(e => $"{e.Edge.Client.Key} -> {e.Edge.Server.Key}:{e.Edge.Port}"))}{(report.UnintendedEdges.Count > 5 ? " ..." : "")}"),
            window.From, window.To)]);
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var alerts in _queue.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                await SendAsync(alerts, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped with notifications left: StopAsync counts them as dropped.
        }
    }

    private async Task SendAsync(IReadOnlyList<WebhookAlert> alerts, CancellationToken cancellationToken)
    {
        var body = Body(alerts, _options.Format);
        var backoff = new Backoff(_options.Backoff, _options.MaxBackoff);
        for (int attempt = 1; ; attempt++)
        {
            string? problem;
            try
            {
                using var attemptLimit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                attemptLimit.CancelAfter(_options.Timeout);
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
                using var response = await _http.PostAsync(_options.Url, content, attemptLimit.Token).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    Count(ref _sent, "sent");
                    return;
                }
                problem = $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}";
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                problem = $"no answer within {_options.Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s";
            }
            catch (HttpRequestException e)
            {
                problem = e.Message;
            }
            if (attempt >= _options.Attempts)
            {
                Count(ref _failed, "failed");
                _log.LogWarning("Webhook {Url}: a notification of {Alerts} alerts was not delivered after {Attempts} attempts: {Problem}", Redacted(_options.Url), alerts.Count, attempt, problem);
                return;
            }
            _retries.Add(1);
            _log.LogDebug("Webhook {Url}: attempt {Attempt} failed ({Problem}); retrying", Redacted(_options.Url), attempt, problem);
            try
            {
                await backoff.WaitAsync(cancellationToken, _time).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopped between attempts: this notification is not delivered.
                Count(ref _dropped, "dropped");
                throw;
            }
        }
    }

    private void Count(ref long field, string outcome)
    {
        Interlocked.Increment(ref field);
        _notifications.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
    }

    /// <summary>The URL without its path and query: Slack's webhook path is its secret.</summary>
    private static string Redacted(Uri url) => url.GetLeftPart(UriPartial.Authority);

    /// <summary>The POST body in the receiver's format.</summary>
    internal static byte[] Body(IReadOnlyList<WebhookAlert> alerts, WebhookFormat format)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            if (format == WebhookFormat.Alertmanager)
            {
                w.WriteStartArray();
                foreach (var a in alerts)
                {
                    w.WriteStartObject();
                    w.WriteStartObject("labels");
                    w.WriteString("alertname", a.Name);
                    w.WriteString("severity", a.Severity);
                    foreach (var (key, value) in a.Labels) w.WriteString(key, value);
                    w.WriteEndObject();
                    w.WriteStartObject("annotations");
                    w.WriteString("summary", a.Summary);
                    if (a.Description.Length > 0) w.WriteString("description", a.Description);
                    w.WriteEndObject();
                    w.WriteString("startsAt", SliJson.Time(a.StartsAt));
                    // A window's finding is over when the window is: Alertmanager resolves it then, not after its own timeout.
                    w.WriteString("endsAt", SliJson.Time(a.EndsAt));
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            else
            {
                var text = new StringBuilder();
                foreach (var a in alerts.Take(20))
                {
                    text.Append(a.Severity == "info" ? "• " : ":warning: ").Append('*').Append(a.Name).Append("* ").Append(a.Summary);
                    if (a.Description.Length > 0) text.Append("\n    ").Append(a.Description);
                    text.Append('\n');
                }
                if (alerts.Count > 20) text.Append(CultureInfo.InvariantCulture, $"... and {alerts.Count - 20} more\n");
                w.WriteStartObject();
                w.WriteString("text", text.ToString().TrimEnd('\n'));
                w.WriteEndObject();
            }
        }
        return buffer.ToArray();
    }
}
