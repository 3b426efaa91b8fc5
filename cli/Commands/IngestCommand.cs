using System.CommandLine;
using System.Globalization;
using FlowPolicy.Cli.Terminal;
using FlowPolicy.ClickHouse;
using FlowPolicy.ClickHouse.Schema;
using FlowPolicy.Ingest.Workers;
using Microsoft.Extensions.Logging;

namespace FlowPolicy.Cli.Commands;

/// <summary>`flowpolicy ingest`: the Kafka -> ClickHouse worker (docs/ingest.md).</summary>
internal static class IngestCommand
{
    public static Command Create()
    {
        var brokers = ServerOptions.Brokers();
        var topic = ServerOptions.Topic();
        var clickhouse = ServerOptions.ClickHouse();
        var database = ServerOptions.Database();
        var properties = ServerOptions.KafkaProperties();
        var group = new Option<string>("--group") { Description = "Kafka consumer group; processes in one group split the partitions.", DefaultValueFactory = _ => Ingest.Kafka.KafkaOptions.DefaultGroup };
        var workers = new Option<int>("--workers") { Description = "Parallel lanes in this process (decode, enrich, orient, insert); partitions are spread over them.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var batchRows = new Option<int>("--batch-rows") { Description = "Rows per INSERT at most (per partition and UTC day; below 1048576).", DefaultValueFactory = _ => 50_000 };
        var batchInterval = new Option<double>("--batch-interval") { Description = "Seconds a batch may wait before it is inserted.", DefaultValueFactory = _ => 2 };
        var inventory = CommonOptions.Inventory();
        inventory.Description += " Reloaded when the files change.";
        var format = CommonOptions.Format();
        format.Description = $"Decode every message as this format instead of detecting it per message: {Ingest.Formats.FlowFormats.NameList}.";
        var rollupInterval = new Option<double>("--rollup-interval") { Description = "Seconds between edge rollup rebuilds of changed days (run by the worker holding partition 0); 0 disables.", DefaultValueFactory = _ => 300 };
        var groupInstanceId = ServerOptions.GroupInstanceId();
        var metricsInterval = new Option<double>("--metrics-interval") { Description = "Seconds between metrics log lines (and ingest_progress writes).", DefaultValueFactory = _ => 10 };
        var metricsListen = new Option<string?>("--metrics-listen")
        {
            Description = "Serve the metrics at http://HOST:PORT/metrics in the Prometheus text format (docs/metrics.md), e.g. 127.0.0.1:9464 or 0.0.0.0:9464; off by default.",
        };
        var command = new Command("ingest",
            "Consume flow messages from Kafka, decode (any supported format, detected per message), enrich with workload identities, " +
            "orient client -> server, and store them in ClickHouse exactly once; malformed records go to flows_dead_letter. " +
            "Migrates the schema first. Runs until Ctrl+C or SIGTERM, then flushes, commits and leaves the group.\n\n" +
            "Examples:\n" +
            "  flowpolicy ingest --brokers 127.0.0.1:39092 --topic flows --clickhouse http://127.0.0.1:8123/ --inventory pods.json nodes.json\n" +
            "  flowpolicy ingest --brokers kafka:9093 --kafka-property security.protocol=SSL --group flowpolicy-prod --workers 4 --batch-rows 100000\n" +
            "  flowpolicy ingest --topic vpc-flows --format vpc --rollup-interval 60 --metrics-listen 0.0.0.0:9464")
        {
            brokers, topic, clickhouse, database, group, groupInstanceId, workers, batchRows, batchInterval, inventory, format, properties, rollupInterval, metricsInterval,
            metricsListen,
        };
        command.SetAction(parse =>
        {
            var kafka = ServerOptions.Kafka(parse.GetValue(brokers)!, parse.GetValue(topic)!, parse.GetValue(group), parse.GetValue(properties),
                parse.GetValue(groupInstanceId));
            var clickhouseOptions = ServerOptions.ClickHouseClient(parse.GetValue(clickhouse)!, parse.GetValue(database)!);
            var inventoryFiles = parse.GetValue(inventory) ?? [];
            foreach (var path in inventoryFiles)
                if (!File.Exists(path) && !Directory.Exists(path)) throw new UsageException($"--inventory: no such file or directory '{path}'");
            double rollup = parse.GetValue(rollupInterval), metrics = parse.GetValue(metricsInterval), interval = parse.GetValue(batchInterval);
            if (rollup < 0) throw new UsageException("--rollup-interval must be 0 (off) or a number of seconds");
            if (metrics < 0.1) throw new UsageException("--metrics-interval must be at least 0.1 seconds");
            if (interval is <= 0 or > 600) throw new UsageException("--batch-interval must be above 0 and at most 600 seconds");
            var listen = parse.GetValue(metricsListen) is { } l ? MetricsExport.ParseListen(l, "--metrics-listen") : ((string, int)?)null;
            var worker = new IngestWorkerOptions
            {
                Lanes = parse.GetValue(workers),
                BatchRows = parse.GetValue(batchRows),
                BatchInterval = TimeSpan.FromSeconds(interval),
                Format = CommonOptions.ParseFormat(parse.GetValue(format)),
                RollupInterval = rollup == 0 ? null : TimeSpan.FromSeconds(rollup),
                MetricsInterval = TimeSpan.FromSeconds(metrics),
            };
            var options = new IngestPipelineOptions { Kafka = kafka, Worker = worker, Inventory = inventoryFiles };
            try
            {
                options.Validate();
            }
            catch (ArgumentException e)
            {
                throw new UsageException(e.Message);
            }
            return Run(clickhouseOptions, options, listen);
        });
        return command;
    }

    private static int Run(ClickHouseOptions clickhouseOptions, IngestPipelineOptions options, (string Host, int Port)? metricsListen)
    {
        using var logs = ServerOptions.Logs();
        var log = logs.CreateLogger("flowpolicy.ingest");
        using var signal = ServerOptions.OnStopSignal();
        using var client = new ClickHouseHttpClient(clickhouseOptions);
        try
        {
            var report = SchemaMigrator.MigrateAsync(client, cancellationToken: signal.Token).GetAwaiter().GetResult();
            log.LogInformation("Schema: ClickHouse {Version}, schema version {Schema}; {Applied} steps applied{Steps}", report.ServerVersion, report.SchemaVersion,
                report.Applied.Count, report.Applied.Count == 0 ? "" : ": " + string.Join("; ", report.Applied));
        }
        catch (Exception e) when (e is ClickHouseServerException or HttpRequestException or TimeoutException)
        {
            log.LogError("Cannot prepare the ClickHouse schema on {ClickHouse}: {Error}", clickhouseOptions, e.Message);
            return ExitCodes.RuntimeError;
        }
        catch (OperationCanceledException)
        {
            return ExitCodes.Success;
        }

        // Started first and stopped last, so a scrape sees the final counts until the worker has flushed.
        using var exporter = metricsListen is { } listen ? StartMetrics(listen, log) : null;
        var pipeline = new IngestPipeline(options, client, logs);
        pipeline.RunAsync(signal.Token).GetAwaiter().GetResult();
        var metrics = pipeline.Metrics;
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"flowpolicy: stored {metrics.FlowRows} flows and {metrics.DeadLetters} dead letters from {metrics.Messages} messages"));
        return ExitCodes.Success;
    }

    private static OpenTelemetry.Metrics.MeterProvider StartMetrics((string Host, int Port) listen, ILogger log)
    {
        try
        {
            var provider = MetricsExport.Listen(listen.Host, listen.Port);
            log.LogInformation("Metrics on http://{Host}:{Port}/metrics", listen.Host, listen.Port);
            return provider;
        }
        catch (Exception e) when (e is System.Net.HttpListenerException or InvalidOperationException)
        {
            throw new UsageException($"--metrics-listen {listen.Host}:{listen.Port}: cannot listen there ({e.Message}); choose a free port");
        }
    }
}
