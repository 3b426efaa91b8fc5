using System.Text;
using Confluent.Kafka;

namespace FlowPolicy.Ingest.Kafka;

/// <summary>
/// Where FlowPolicy's Kafka clients connect and how: brokers, topic, consumer group, and any librdkafka property
/// passed through as given (security.protocol, sasl.*, ssl.*, compression.type ...). Secrets never appear in
/// <see cref="Describe"/> or in error messages.
/// </summary>
public sealed class KafkaOptions
{
    public const string DefaultBrokers = "127.0.0.1:9092";
    public const string DefaultTopic = "flows";
    public const string DefaultGroup = "flowpolicy-ingest";

    /// <summary>
    /// librdkafka (2.2+) waits <c>fetch.queue.backoff.ms</c> (default 1000) before fetching again once its local queue
    /// holds <c>queued.min.messages</c>; a worker that drains the queue faster than that then sits idle. Measured here
    /// (1M x 412 B, 64 partitions): the default reads at 0.5-0.7x Confluent.Kafka 1.9.3 on librdkafka 2.0.2, 10 ms at
    /// ~1.5x (~1M messages/s) for the same CPU per message (docs/kafka.md).
    /// </summary>
    public const int FetchQueueBackoffMs = 10;

    // Set through their own options so there is one way to say them.
    private static readonly HashSet<string> OwnKeys = new(StringComparer.Ordinal) { "bootstrap.servers", "metadata.broker.list", "group.id", "group.instance.id" };

    /// <summary>The <c>--group-instance-id</c> value that turns static membership off.</summary>
    public const string NoGroupInstanceId = "none";

    /// <summary>Comma-separated host:port list (librdkafka <c>bootstrap.servers</c>).</summary>
    public string Brokers { get; set; } = DefaultBrokers;

    public string Topic { get; set; } = DefaultTopic;

    /// <summary>Consumer group id of the ingest workers.</summary>
    public string Group { get; set; } = DefaultGroup;

    /// <summary>
    /// Static group membership (KIP-345, <c>group.instance.id</c>): a consumer that comes back with the same id within
    /// <c>session.timeout.ms</c> gets its partitions back at once, without a rebalance of the group; null for dynamic
    /// membership. Two live consumers with one id fence each other, so each process needs its own.
    /// </summary>
    public string? GroupInstanceId { get; set; }

    /// <summary>librdkafka properties applied last, so they override FlowPolicy's defaults.</summary>
    public IDictionary<string, string> Properties { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// Adds one <c>key=value</c> property, as given to <c>--kafka-property</c>. A value <c>@/path</c> is read from that
    /// file (trailing newline trimmed), so passwords need not appear on the command line.
    /// Throws <see cref="FormatException"/> with a message fit for the user.
    /// </summary>
    public void AddProperty(string keyEqualsValue)
    {
        ArgumentNullException.ThrowIfNull(keyEqualsValue);
        var eq = keyEqualsValue.IndexOf('=');
        if (eq <= 0)
        {
            throw new FormatException(
                $"A Kafka property must look like key=value (for example security.protocol=SASL_SSL), not '{Redact(keyEqualsValue)}'.");
        }
        var key = keyEqualsValue[..eq].Trim();
        var value = keyEqualsValue[(eq + 1)..];
        if (OwnKeys.Contains(key))
        {
            throw new FormatException(key switch
            {
                "group.id" => "Set the consumer group with the group option (--group), not as a Kafka property.",
                "group.instance.id" => "Set the static member id with --group-instance-id (or kafka.group_instance_id), not as a Kafka property.",
                _ => "Set the brokers with the brokers option (--brokers), not as a Kafka property.",
            });
        }
        if (value.StartsWith('@'))
        {
            var path = value[1..];
            try
            {
                value = File.ReadAllText(path).TrimEnd('\r', '\n');
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                throw new FormatException($"Could not read the value of Kafka property {key} from '{path}': {e.Message}");
            }
        }
        Properties[key] = value;
    }

    /// <summary>Returns what is wrong, or null when the options are usable.</summary>
    public string? Validate()
    {
        if (string.IsNullOrWhiteSpace(Brokers))
        {
            return "No Kafka brokers given: pass host:port[,host:port...] (--brokers).";
        }
        if (string.IsNullOrWhiteSpace(Group))
        {
            return "The consumer group must not be empty (--group).";
        }
        if (GroupInstanceId is not null && ValidateGroupInstanceId(GroupInstanceId) is { } instanceError)
        {
            return instanceError;
        }
        return ValidateTopicName(Topic);
    }

    /// <summary>
    /// The static member id to use: <paramref name="given"/> as it is, none for <see cref="NoGroupInstanceId"/>, and
    /// when nothing is given the pod's name (<c>POD_NAME</c>, set from the downward API in deploy/kubernetes; else
    /// <c>HOSTNAME</c>, which Kubernetes sets to the pod name) or the host's name, made a legal id.
    /// </summary>
    public static string? ResolveGroupInstanceId(string? given, Func<string, string?>? environment = null)
    {
        if (given == NoGroupInstanceId)
        {
            return null;
        }
        if (!string.IsNullOrEmpty(given))
        {
            return given;
        }
        environment ??= Environment.GetEnvironmentVariable;
        var name = new[] { environment("POD_NAME"), environment("HOSTNAME"), Environment.MachineName }
            .FirstOrDefault(n => !string.IsNullOrWhiteSpace(n)) ?? "flowpolicy";
        var id = new string(name.Trim().Select(c => IsIdChar(c) ? c : '-').ToArray());
        return id.Length <= 249 ? id : id[..249];
    }

    /// <summary>Kafka checks a group.instance.id like a topic name: 1-249 characters of [a-zA-Z0-9._-].</summary>
    public static string? ValidateGroupInstanceId(string id) =>
        id.Length is >= 1 and <= 249 && id is not ("." or "..") && id.All(IsIdChar)
            ? null
            : $"'{id}' is not a valid group instance id: use 1 to 249 letters, digits, '.', '_' or '-' (or '{NoGroupInstanceId}').";

    private static bool IsIdChar(char c) => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '_' or '-';

    /// <summary>Kafka's own rule: 1-249 characters of [a-zA-Z0-9._-], and not "." or "..".</summary>
    public static string? ValidateTopicName(string? topic)
    {
        if (string.IsNullOrEmpty(topic) || topic.Length > 249 || topic is "." or ".." ||
            !topic.All(c => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '_' or '-'))
        {
            return $"'{topic}' is not a valid Kafka topic name: use 1 to 249 letters, digits, '.', '_' or '-'.";
        }
        return null;
    }

    /// <summary>True for properties whose values must never be shown (passwords, keys, tokens, JAAS configs).</summary>
    public static bool IsSecret(string key) =>
        key.Contains("password", StringComparison.OrdinalIgnoreCase) ||
        key.Contains("secret", StringComparison.OrdinalIgnoreCase) ||
        key.Contains("jaas", StringComparison.OrdinalIgnoreCase) ||
        key.Contains("token", StringComparison.OrdinalIgnoreCase) ||
        key.StartsWith("sasl.oauthbearer.config", StringComparison.OrdinalIgnoreCase) ||
        key.StartsWith("ssl.key", StringComparison.OrdinalIgnoreCase) ||            // ssl.key.pem, ssl.key.password, ssl.keystore.*
        key.StartsWith("ssl_key", StringComparison.OrdinalIgnoreCase);

    /// <summary>One line for logs: brokers, topic, group and properties, secrets shown as ***.</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        text.Append("brokers=").Append(Brokers).Append(" topic=").Append(Topic).Append(" group=").Append(Group);
        if (GroupInstanceId is not null)
        {
            text.Append(" group.instance.id=").Append(GroupInstanceId);
        }
        foreach (var (key, value) in Properties)
        {
            text.Append(' ').Append(key).Append('=').Append(IsSecret(key) ? "***" : value);
        }
        return text.ToString();
    }

    /// <summary>Producer settings: durable (acks=all, idempotent) and batched, then the user's properties.</summary>
    public ProducerConfig ToProducerConfig()
    {
        var config = new ProducerConfig
        {
            BootstrapServers = Brokers,
            Acks = Acks.All,
            EnableIdempotence = true,
            LingerMs = 20,
            CompressionType = CompressionType.Lz4,
        };
        return Apply(config);
    }

    /// <summary>
    /// Consumer settings for the ingest workers: start at the earliest offset of a new group and never commit
    /// automatically (workers commit after their batch is stored; see DESIGN "Exactly once"), refill the fetch queue
    /// after <see cref="FetchQueueBackoffMs"/>, then the user's properties.
    /// </summary>
    public ConsumerConfig ToConsumerConfig()
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = Brokers,
            GroupId = Group,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            FetchQueueBackoffMs = FetchQueueBackoffMs,
            GroupInstanceId = GroupInstanceId,
        };
        return Apply(config);
    }

    public AdminClientConfig ToAdminClientConfig() => Apply(new AdminClientConfig { BootstrapServers = Brokers });

    private T Apply<T>(T config) where T : ClientConfig
    {
        foreach (var (key, value) in Properties)
        {
            config.Set(key, value);
        }
        return config;
    }

    // "sasl.password=hunter2" given without '=' in the right place must not echo the secret back.
    private static string Redact(string keyEqualsValue) =>
        IsSecret(keyEqualsValue) ? "***" : keyEqualsValue;
}
