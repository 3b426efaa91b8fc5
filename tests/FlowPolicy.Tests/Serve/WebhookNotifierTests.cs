using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using FlowPolicy.Analytics.Anomalies;
using FlowPolicy.Cli.Serve;
using FlowPolicy.Core.Edges;
using Microsoft.Extensions.Logging.Abstractions;

namespace FlowPolicy.Tests.Serve;

/// <summary>
/// The serve webhook against a local <see cref="HttpListener"/>: both body formats, retries with the backoff until the
/// receiver answers, a receiver that hangs (the job that recorded the anomaly finishes at once; notifications beyond the
/// queue are dropped and counted), the counters on the Meter, and the config section's errors.
/// </summary>
public sealed class WebhookNotifierTests : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Channel<(string Body, string ContentType)> _received = Channel.CreateUnbounded<(string, string)>();
    private readonly CancellationTokenSource _stop = new();
    private readonly Uri _url;

    public WebhookNotifierTests()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        _url = new Uri($"http://127.0.0.1:{port}/api/v2/alerts");
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        _listener.Start();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Close();
        _stop.Dispose();
    }

    /// <summary>Answers each POST with the status <paramref name="answer"/> gives for its number (1 = the first); null: never answers.</summary>
    private Task Receive(Func<int, HttpStatusCode?> answer) => Task.Run(async () =>
    {
        for (int n = 1; !_stop.IsCancellationRequested; n++)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().WaitAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or HttpListenerException or ObjectDisposedException)
            {
                return;
            }
            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            await _received.Writer.WriteAsync((await reader.ReadToEndAsync(), context.Request.ContentType ?? ""));
            if (answer(n) is not { } status) continue; // hangs: the request stays open
            context.Response.StatusCode = (int)status;
            context.Response.Close();
        }
    });

    private async Task<(string Body, string ContentType)> NextPostAsync() => await _received.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));

    private WebhookNotifier Notifier(WebhookFormat format = WebhookFormat.Alertmanager, int attempts = 3, TimeSpan? timeout = null, int queue = 10) =>
        new(new WebhookOptions { Url = _url, Format = format, Attempts = attempts, Backoff = TimeSpan.FromMilliseconds(20), MaxBackoff = TimeSpan.FromMilliseconds(50),
            Timeout = timeout ?? TimeSpan.FromSeconds(10), Queue = queue }, NullLogger.Instance) { DrainTimeout = TimeSpan.FromSeconds(20) };

    private static AnomalyReport Report(int anomalies)
    {
        var from = new DateTime(2026, 11, 9, 10, 0, 0, DateTimeKind.Utc);
        var list = Enumerable.Range(0, anomalies).Select(i => new FlowAnomaly(AnomalyKind.DeniedSpike, AnomalyScope.Service, $"shop/cart-{i}", AnomalyMetric.DeniedFlows,
            from, from.AddHours(1), 500, 2, 0, 9, 99, BaselineKind.HourOfDay, [new AnomalyEdge("shop/frontend", $"shop/cart-{i}", 7070, 6, 480, 1)])).ToList();
        return new AnomalyReport(from, from.AddHours(1), from, 10, list);
    }

    private static AnalysisWindow Window => new(new DateTime(2026, 11, 9, 10, 0, 0, DateTimeKind.Utc), new DateTime(2026, 11, 9, 11, 0, 0, DateTimeKind.Utc));

    /// <summary>Sums flowpolicy.webhook.notifications by outcome as a scraper would see them.</summary>
    private static MeterListener Outcomes(Dictionary<string, long> counts)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == WebhookNotifier.MeterName && instrument.Name == "flowpolicy.webhook.notifications") l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag.Key == "outcome")
                    lock (counts) counts[(string)tag.Value!] = counts.GetValueOrDefault((string)tag.Value!) + value;
        });
        listener.Start();
        return listener;
    }

    [Fact]
    public async Task An_anomaly_run_posts_one_Alertmanager_array_with_an_alert_per_anomaly()
    {
        _ = Receive(_ => HttpStatusCode.OK);
        var counts = new Dictionary<string, long>();
        using var meter = Outcomes(counts);
        using var notifier = Notifier();
        await notifier.StartAsync(default);
        notifier.AnomaliesRecorded("anomalies", Window, Report(2));
        var (body, type) = await NextPostAsync();
        await notifier.StopAsync(default);

        Assert.StartsWith("application/json", type);
        using var doc = JsonDocument.Parse(body);
        var alerts = doc.RootElement.EnumerateArray().ToList();
        Assert.Equal(2, alerts.Count);
        var labels = alerts[0].GetProperty("labels");
        Assert.Equal("FlowPolicyAnomaly", labels.GetProperty("alertname").GetString());
        Assert.Equal("denied_spike", labels.GetProperty("kind").GetString());
        Assert.Equal("shop/cart-0", labels.GetProperty("subject").GetString());
        Assert.Equal("anomalies", labels.GetProperty("job").GetString());
        Assert.Contains("shop/cart-0", alerts[0].GetProperty("annotations").GetProperty("summary").GetString());
        Assert.Equal("2026-11-09T10:00:00Z", alerts[0].GetProperty("startsAt").GetString());
        Assert.Equal("2026-11-09T11:00:00Z", alerts[0].GetProperty("endsAt").GetString());
        Assert.Equal((1, 0, 0), (notifier.Sent, notifier.Failed, notifier.Dropped));
        lock (counts) Assert.Equal(1, counts["sent"]);
    }

    [Fact]
    public async Task The_Slack_format_is_one_text_message_and_a_run_without_anomalies_sends_nothing()
    {
        _ = Receive(_ => HttpStatusCode.OK);
        using var notifier = Notifier(WebhookFormat.Slack);
        await notifier.StartAsync(default);
        notifier.AnomaliesRecorded("anomalies", Window, Report(0));
        notifier.AnomaliesRecorded("anomalies", Window, Report(1));
        var (body, _) = await NextPostAsync();
        await notifier.StopAsync(default);

        using var doc = JsonDocument.Parse(body);
        Assert.Equal(["text"], doc.RootElement.EnumerateObject().Select(p => p.Name));
        var text = doc.RootElement.GetProperty("text").GetString()!;
        Assert.Contains("*FlowPolicyAnomaly*", text);
        Assert.Contains("shop/cart-0", text);
        Assert.False(_received.Reader.TryRead(out _), "the run without anomalies posted");
        Assert.Equal(1, notifier.Sent);
    }

    [Fact]
    public async Task A_receiver_failing_twice_then_answering_gets_the_notification_on_the_third_attempt()
    {
        _ = Receive(n => n <= 2 ? HttpStatusCode.ServiceUnavailable : HttpStatusCode.OK);
        var counts = new Dictionary<string, long>();
        using var meter = Outcomes(counts);
        using var notifier = Notifier(attempts: 3);
        await notifier.StartAsync(default);
        notifier.AnomaliesRecorded("anomalies", Window, Report(1));
        var bodies = new[] { await NextPostAsync(), await NextPostAsync(), await NextPostAsync() };
        await notifier.StopAsync(default);

        Assert.All(bodies, b => Assert.Equal(bodies[0].Body, b.Body)); // the same notification, sent again
        Assert.Equal((1, 0, 0), (notifier.Sent, notifier.Failed, notifier.Dropped));
        lock (counts) Assert.Equal(["sent"], counts.Keys);
    }

    [Fact]
    public async Task A_receiver_failing_every_time_fails_the_notification_after_the_configured_attempts()
    {
        _ = Receive(_ => HttpStatusCode.InternalServerError);
        using var notifier = Notifier(attempts: 2);
        await notifier.StartAsync(default);
        notifier.AnomaliesRecorded("anomalies", Window, Report(1));
        await NextPostAsync();
        await NextPostAsync();
        await notifier.StopAsync(default);
        Assert.Equal((0, 1, 0), (notifier.Sent, notifier.Failed, notifier.Dropped));
        Assert.False(_received.Reader.TryRead(out _), "a third attempt was sent");
    }

    [Fact]
    public async Task A_receiver_that_hangs_never_holds_the_job_up_and_what_the_queue_cannot_hold_is_dropped_and_counted()
    {
        _ = Receive(_ => null);
        var counts = new Dictionary<string, long>();
        using var meter = Outcomes(counts);
        // One notification in flight (hanging), two queued, the rest dropped.
        using var notifier = Notifier(attempts: 1, timeout: TimeSpan.FromSeconds(1), queue: 2);
        await notifier.StartAsync(default);
        // A job that records anomalies through the hook, as AnomalyWindowJob does, then finishes.
        var job = Task.Run(async () =>
        {
            notifier.AnomaliesRecorded("anomalies", Window, Report(1));
            await NextPostAsync(); // the sender is now stuck on the hanging receiver
            for (int i = 0; i < 5; i++) notifier.AnomaliesRecorded("anomalies", Window, Report(1));
            return "done";
        });
        // Bounded waits as guards only: the job must not wait on the receiver at all.
        Assert.Equal("done", await job.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(3, notifier.Dropped);
        await notifier.StopAsync(default).WaitAsync(TimeSpan.FromSeconds(30));
        // The one in flight and the two queued each got no answer within the timeout.
        Assert.Equal((0, 3, 3), (notifier.Sent, notifier.Failed, notifier.Dropped));
        lock (counts) Assert.Equal((3, 3), (counts["failed"], counts["dropped"]));
    }

    [Fact]
    public async Task Serve_builds_its_anomalies_and_analyze_jobs_with_the_webhook_as_their_hook()
    {
        _ = Receive(_ => HttpStatusCode.OK);
        using var notifier = Notifier();
        await notifier.StartAsync(default);
        var config = ServeConfig.Parse("intent: /nonexistent\n");
        using var client = new FlowPolicy.ClickHouse.ClickHouseHttpClient(FlowPolicy.Cli.Commands.ServerOptions.ClickHouseClient("http://127.0.0.1:1/", "flowpolicy"));
        var factory = new ScheduledJobFactory(config, client, NullLoggerFactory.Instance) { Webhook = notifier };
        var anomalies = Assert.IsType<AnomalyWindowJob>(factory.Create(config.Job("anomalies")));
        var analyze = Assert.IsType<AnalyzeWindowJob>(factory.Create(config.Job("analyze")));
        anomalies.Recorded!(Window, Report(1));
        analyze.Recorded!(Window, SliReportWith(flows: 10, intended: 1));
        var first = JsonDocument.Parse((await NextPostAsync()).Body);
        var second = JsonDocument.Parse((await NextPostAsync()).Body);
        await notifier.StopAsync(default);
        Assert.Equal("anomalies", first.RootElement[0].GetProperty("labels").GetProperty("job").GetString());
        Assert.Equal("FlowPolicyComplianceSloBreach", second.RootElement[0].GetProperty("labels").GetProperty("alertname").GetString());
        Assert.Null(((AnomalyWindowJob)new ScheduledJobFactory(config, client, NullLoggerFactory.Instance).Create(config.Job("anomalies"))).Recorded);
    }

    [Fact]
    public async Task An_analyze_window_below_the_objective_is_one_breach_alert_and_one_above_it_is_none()
    {
        _ = Receive(_ => HttpStatusCode.OK);
        using var notifier = Notifier();
        await notifier.StartAsync(default);
        notifier.SlisRecorded("analyze", Window, SliReportWith(flows: 1000, intended: 995)); // 99.5% >= 99%
        notifier.SlisRecorded("analyze", Window, SliReportWith(flows: 1000, intended: 900)); // 90%
        var (body, _) = await NextPostAsync();
        await notifier.StopAsync(default);
        using var doc = JsonDocument.Parse(body);
        var alert = doc.RootElement.EnumerateArray().Single();
        Assert.Equal("FlowPolicyComplianceSloBreach", alert.GetProperty("labels").GetProperty("alertname").GetString());
        Assert.Contains("Compliance 90%", alert.GetProperty("annotations").GetProperty("summary").GetString());
        Assert.Contains("objective 99%", alert.GetProperty("annotations").GetProperty("summary").GetString());
        Assert.Equal(1, notifier.Sent);
    }

    private static FlowPolicy.Analytics.Slis.SliReport SliReportWith(long flows, long intended) => new()
    {
        Window = Window,
        Overall = new FlowPolicy.Analytics.Slis.ServiceSli { Service = "", Flows = flows, FlowsAllowedByIntent = intended },
        PerService = new(StringComparer.Ordinal),
        UnintendedEdges = [],
        StaleRules = [],
        VerdictMismatches = [],
        BlastRadius = new(StringComparer.Ordinal),
        Edges = [],
    };

    [Theory]
    [InlineData("webhook:\n  format: slack\n", "needs a url")]
    [InlineData("webhook:\n  url: ftp://x/\n", "http or https URL")]
    [InlineData("webhook:\n  url: http://am:9093/api/v2/alerts\n  format: teams\n", "use alertmanager or slack")]
    [InlineData("webhook:\n  url: http://am:9093/api/v2/alerts\n  queue: 0\n", "webhook.queue")]
    [InlineData("webhook:\n  url: http://am:9093/api/v2/alerts\n  slo: 100\n", "webhook.slo")]
    [InlineData("webhook:\n  url: http://am:9093/api/v2/alerts\n  send: [pages]\n", "anomalies and/or slo_breaches")]
    [InlineData("webhook:\n  url: http://am:9093/api/v2/alerts\n  backoff: 1m\n  max_backoff: 1s\n", "webhook.backoff")]
    [InlineData("webhook:\n  url: http://am:9093/api/v2/alerts\n  colour: red\n", "unknown setting 'webhook.colour'")]
    public void A_bad_webhook_section_is_a_config_error_naming_the_setting(string yaml, string message)
    {
        var e = Assert.Throws<ConfigException>(() => ServeConfig.Parse(yaml, "serve.yaml"));
        Assert.Contains(message, e.Message);
        Assert.StartsWith("serve.yaml:", e.Message);
    }

    [Fact]
    public void The_webhook_section_sets_every_option()
    {
        var config = ServeConfig.Parse("webhook:\n  url: https://hooks.slack.com/services/T/B/X\n  format: slack\n  timeout: 3s\n  attempts: 7\n  backoff: 2s\n  max_backoff: 30s\n  queue: 50\n  slo: 99.5\n  send: anomalies\n");
        var w = config.Webhook!;
        Assert.Equal((WebhookFormat.Slack, TimeSpan.FromSeconds(3), 7, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(30), 50), (w.Format, w.Timeout, w.Attempts, w.Backoff, w.MaxBackoff, w.Queue));
        Assert.Equal(0.995, w.ComplianceObjective, 9);
        Assert.True(w.Anomalies);
        Assert.False(w.SloBreaches);
        Assert.Null(ServeConfig.Parse("http:\n  port: 0\n").Webhook);
    }
}
