using FlowPolicy.Ingest.Kafka;

namespace FlowPolicy.LocalServers.Kafka;

/// <summary>
/// The body of <c>flowpolicy dev-broker</c>: starts a <see cref="MockKafkaCluster"/>, prints where it listens and how
/// to use it, and keeps it up until cancelled (Ctrl+C). Messages live only in this process's memory.
/// </summary>
public sealed class DevBrokerRunner
{
    private readonly MockKafkaClusterOptions _options;
    private readonly TextWriter _output;
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="output">Receives the bootstrap address (first line, alone, so scripts can read it) and usage notes.</param>
    public DevBrokerRunner(MockKafkaClusterOptions options, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        _options = options;
        _output = output;
    }

    /// <summary>Completes with the bootstrap address once the cluster is up (for tests and embedding hosts).</summary>
    public Task<string> Ready => _ready.Task;

    /// <summary>Runs until <paramref name="cancellationToken"/> is cancelled; returns exit code 0.</summary>
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        MockKafkaCluster cluster;
        try
        {
            cluster = MockKafkaCluster.Start(_options);
        }
        catch (Exception e)
        {
            _ready.TrySetException(e);
            throw;
        }
        using (cluster)
        {
            var topics = _options.Topics.Count == 0
                ? $"topics are created on first use with {MockKafkaCluster.AutoCreatedPartitions} partitions"
                : $"topics {string.Join(", ", _options.Topics)} have {_options.Partitions} partitions; others are created on first use with {MockKafkaCluster.AutoCreatedPartitions}";
            await _output.WriteLineAsync(cluster.BootstrapServers).ConfigureAwait(false);
            await _output.WriteLineAsync(
                $"""
                Kafka mock cluster up: {cluster.Brokers} broker(s) on {cluster.BootstrapServers} (librdkafka {LibrdkafkaBinding.Version} mock); {topics}.
                  list topics:  kcat -b {cluster.BootstrapServers} -L
                  send flows:   flowpolicy produce --brokers {cluster.BootstrapServers} --topic {KafkaOptions.DefaultTopic} FILES...
                Development only: data lives in memory, each partition keeps only about 5 MB (older messages are dropped silently), no security. Ctrl+C stops it.
                """).ConfigureAwait(false);
            await _output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            _ready.TrySetResult(cluster.BootstrapServers);
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C is how this command ends.
            }
        }
        return 0;
    }
}
