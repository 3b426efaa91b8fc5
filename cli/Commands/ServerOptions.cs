using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using FlowPolicy.Cli.Terminal;
using FlowPolicy.ClickHouse;
using FlowPolicy.Ingest.Kafka;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace FlowPolicy.Cli.Commands;

/// <summary>Kafka and ClickHouse options of the server-mode commands (produce, migrate, ingest), spelled the same everywhere.</summary>
internal static class ServerOptions
{
    public static Option<string> Brokers() => new("--brokers")
    {
        Description = "Kafka bootstrap servers, host:port[,host:port...] (`flowpolicy dev-broker` prints one).",
        DefaultValueFactory = _ => KafkaOptions.DefaultBrokers,
    };

    public static Option<string> Topic() => new("--topic") { Description = "Kafka topic of the flow messages.", DefaultValueFactory = _ => KafkaOptions.DefaultTopic };

    public static Option<string[]> KafkaProperties() => new("--kafka-property")
    {
        Description = "A librdkafka property key=value, passed through (security.protocol, sasl.*, ssl.*, ...); value @FILE reads it from a file. Repeatable.",
        Arity = ArgumentArity.ZeroOrMore,
    };

    public static Option<string> ClickHouse() => new("--clickhouse")
    {
        Description = $"ClickHouse HTTP(S) URL. User and password come from {ClickHouseOptions.UserVariable} and {ClickHouseOptions.PasswordVariable} (or {ClickHouseOptions.PasswordFileVariable}).",
        DefaultValueFactory = _ => "http://127.0.0.1:8123/",
    };

    public static Option<string> Database() => new("--database") { Description = "ClickHouse database.", DefaultValueFactory = _ => "flowpolicy" };

    public static Option<string> GroupInstanceId() => new("--group-instance-id")
    {
        Description = "Static group membership id (Kafka group.instance.id): a worker restarted with the same id gets its partitions back at once, " +
                      $"without a rebalance. Default: the pod name (POD_NAME, else HOSTNAME), else the host name. '{KafkaOptions.NoGroupInstanceId}' turns it off; " +
                      "two processes on one host in one group need ids of their own.",
    };

    /// <summary>Kafka client options for a consumer of the ingest group; <paramref name="groupInstanceId"/> as given (null: from the pod or host name).</summary>
    public static KafkaOptions Kafka(string brokers, string topic, string? group, string[]? properties, string? groupInstanceId = KafkaOptions.NoGroupInstanceId)
    {
        var options = new KafkaOptions { Brokers = brokers, Topic = topic, GroupInstanceId = KafkaOptions.ResolveGroupInstanceId(groupInstanceId) };
        if (group is not null) options.Group = group;
        try
        {
            foreach (var property in properties ?? []) options.AddProperty(property);
        }
        catch (FormatException e)
        {
            throw new UsageException(e.Message);
        }
        if (options.Validate() is { } error) throw new UsageException(error);
        return options;
    }

    public static ClickHouseOptions ClickHouseClient(string url, string database)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
            throw new UsageException($"--clickhouse '{url}' is not a URL; use e.g. http://127.0.0.1:8123/");
        // Gzip saves bandwidth on a network but only costs CPU against a server on this machine: measured in
        // benchmarks/README.md (end to end), compressing was ~18% of the ingest worker's CPU and halved its throughput.
        var options = new ClickHouseOptions { Url = uri, Database = database, CompressInserts = !uri.IsLoopback };
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
        return options;
    }

    /// <summary>Log lines on stderr, one per event, with UTC time (stdout stays for results).</summary>
    public static ILoggerFactory Logs(LogLevel level = LogLevel.Information) => LoggerFactory.Create(builder => builder
        .SetMinimumLevel(level)
        .AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.ColorBehavior = Progress.Interactive ? LoggerColorBehavior.Default : LoggerColorBehavior.Disabled;
        })
        .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
        .AddFilter("Microsoft", LogLevel.Warning));

    /// <summary>
    /// A token cancelled by Ctrl+C or SIGTERM. Commands that shut down gracefully run synchronously and use this
    /// instead of System.CommandLine's cancellation, which exits the process two seconds after the signal.
    /// </summary>
    public static StopSignal OnStopSignal() => new();

    internal sealed class StopSignal : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly PosixSignalRegistration? _term;
        private readonly PosixSignalRegistration? _interrupt;

        public StopSignal()
        {
            void Handler(PosixSignalContext context)
            {
                context.Cancel = true; // we exit on our own once flushed
                if (_stop.IsCancellationRequested) return;
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"flowpolicy: {context.Signal} received, stopping (flushing what is held)..."));
                _stop.Cancel();
            }
            _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handler);
            _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Handler);
        }

        public CancellationToken Token => _stop.Token;

        public void Dispose()
        {
            _term?.Dispose();
            _interrupt?.Dispose();
            _stop.Dispose();
        }
    }
}
