using Confluent.Kafka;

namespace FlowPolicy.Ingest.Kafka;

/// <summary>
/// Asks the brokers for their metadata before a producer starts: librdkafka itself retries an unreachable or
/// misconfigured cluster quietly until each message times out (message.timeout.ms, 5 minutes), so without this a wrong
/// --brokers or security setting looks like a hang. Uses only the AdminClient calls Confluent.Kafka has kept stable.
/// </summary>
public static class KafkaBrokerCheck
{
    /// <summary>Null when the brokers answered within <paramref name="timeout"/>; else why not, in librdkafka's words.</summary>
    public static string? Problem(KafkaOptions options, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(options);
        KafkaNativeLibrary.EnsureLoaded();
        string? lastError = null;
        using var admin = new AdminClientBuilder(options.ToAdminClientConfig())
            // The error callback says why (connection refused, SSL handshake, SASL): more use than "timed out".
            .SetErrorHandler((_, e) => lastError = e.Reason)
            .SetLogHandler((_, _) => { })
            .Build();
        try
        {
            admin.GetMetadata(timeout);
            return null;
        }
        catch (KafkaException e)
        {
            return lastError is null ? e.Error.Reason : $"{e.Error.Reason} ({lastError})";
        }
    }
}
