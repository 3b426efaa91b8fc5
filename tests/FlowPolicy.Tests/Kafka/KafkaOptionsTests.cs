using Confluent.Kafka;
using FlowPolicy.Ingest.Kafka;

namespace FlowPolicy.Tests.Kafka;

public sealed class KafkaOptionsTests
{
    [Fact]
    public void Security_properties_pass_through_to_every_client_config()
    {
        var options = new KafkaOptions { Brokers = "k1:9093,k2:9093", Topic = "vpc-flows", Group = "ingest-a" };
        options.AddProperty("security.protocol=SASL_SSL");
        options.AddProperty("sasl.mechanism=SCRAM-SHA-512");
        options.AddProperty("sasl.username=flowpolicy");
        options.AddProperty("sasl.password=s3cr=t"); // '=' inside a value stays in the value

        var producer = options.ToProducerConfig();
        var consumer = options.ToConsumerConfig();
        var admin = options.ToAdminClientConfig();

        foreach (ClientConfig config in new ClientConfig[] { producer, consumer, admin })
        {
            Assert.Equal("k1:9093,k2:9093", config.BootstrapServers);
            Assert.Equal("SASL_SSL", config.Get("security.protocol")); // librdkafka spelling, passed as given
            Assert.Equal("s3cr=t", config.SaslPassword);
        }
        Assert.Equal("ingest-a", consumer.GroupId);
        Assert.False(consumer.EnableAutoCommit);
    }

    [Fact]
    public void User_properties_override_flowpolicy_defaults()
    {
        var options = new KafkaOptions();
        options.AddProperty("compression.type=zstd");
        options.AddProperty("enable.auto.commit=true");

        Assert.Equal(CompressionType.Zstd, options.ToProducerConfig().CompressionType);
        Assert.True(options.ToConsumerConfig().EnableAutoCommit);
    }

    [Fact]
    public void The_static_member_id_comes_from_the_pod_then_the_host_and_none_turns_it_off()
    {
        Dictionary<string, string?> env = new() { ["POD_NAME"] = "flowpolicy-ingest-7d9f-x2k4q", ["HOSTNAME"] = "node-1" };
        Assert.Equal("flowpolicy-ingest-7d9f-x2k4q", KafkaOptions.ResolveGroupInstanceId(null, k => env.GetValueOrDefault(k)));
        env.Remove("POD_NAME");
        Assert.Equal("node-1", KafkaOptions.ResolveGroupInstanceId("", k => env.GetValueOrDefault(k)));
        env["HOSTNAME"] = "host with spaces/and:colons";
        Assert.Equal("host-with-spaces-and-colons", KafkaOptions.ResolveGroupInstanceId(null, k => env.GetValueOrDefault(k)));
        Assert.Equal("ingest-a", KafkaOptions.ResolveGroupInstanceId("ingest-a", k => env.GetValueOrDefault(k)));
        Assert.Null(KafkaOptions.ResolveGroupInstanceId(KafkaOptions.NoGroupInstanceId, k => env.GetValueOrDefault(k)));

        var options = new KafkaOptions { GroupInstanceId = "ingest-a" };
        Assert.Equal("ingest-a", options.ToConsumerConfig().GroupInstanceId);
        Assert.Contains("group.instance.id=ingest-a", options.Describe());
        Assert.Null(new KafkaOptions().ToConsumerConfig().GroupInstanceId);
        options.GroupInstanceId = "a b";
        Assert.Contains("not a valid group instance id", options.Validate());
        Assert.Throws<FormatException>(() => new KafkaOptions().AddProperty("group.instance.id=x"));
    }

    [Fact]
    public void The_consumer_refills_its_fetch_queue_after_10_ms_unless_told_otherwise()
    {
        var options = new KafkaOptions();
        Assert.Equal(10, options.ToConsumerConfig().FetchQueueBackoffMs);
        options.AddProperty("fetch.queue.backoff.ms=1000");
        Assert.Equal(1000, options.ToConsumerConfig().FetchQueueBackoffMs);
    }

    [Fact]
    public void Describe_never_shows_secret_values()
    {
        var options = new KafkaOptions();
        options.AddProperty("sasl.username=flowpolicy");
        options.AddProperty("sasl.password=hunter2");
        options.AddProperty("ssl.key.password=keypass");
        options.AddProperty("ssl.key.pem=-----BEGIN PRIVATE KEY-----");
        options.AddProperty("sasl.oauthbearer.client.secret=clientsecret");
        options.AddProperty("sasl.jaas.config=org.apache.kafka...password=\"jaaspass\"");

        var text = options.Describe();

        Assert.Contains("sasl.username=flowpolicy", text);
        Assert.Contains("sasl.password=***", text);
        foreach (var secret in new[] { "hunter2", "keypass", "BEGIN PRIVATE KEY", "clientsecret", "jaaspass" })
        {
            Assert.DoesNotContain(secret, text);
        }
    }

    [Fact]
    public void A_value_starting_with_at_is_read_from_that_file()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "from-a-file\n");
            var options = new KafkaOptions();
            options.AddProperty($"sasl.password=@{path}");
            Assert.Equal("from-a-file", options.Properties["sasl.password"]);

            var missing = Assert.Throws<FormatException>(() => options.AddProperty("sasl.password=@/nonexistent/secret"));
            Assert.Contains("/nonexistent/secret", missing.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("security.protocol")]
    [InlineData("=value")]
    [InlineData("bootstrap.servers=k:9092")]
    [InlineData("group.id=other")]
    public void Malformed_or_duplicated_properties_are_usage_errors(string property)
    {
        Assert.Throws<FormatException>(() => new KafkaOptions().AddProperty(property));
    }

    [Fact]
    public void A_malformed_secret_is_not_echoed_in_the_error()
    {
        var error = Assert.Throws<FormatException>(() => new KafkaOptions().AddProperty("sasl.password hunter2"));
        Assert.DoesNotContain("hunter2", error.Message);
    }

    [Theory]
    [InlineData("flows", true)]
    [InlineData("vpc.flow-logs_2", true)]
    [InlineData("", false)]
    [InlineData("..", false)]
    [InlineData("has space", false)]
    [InlineData("ümlaut", false)]
    public void Topic_names_follow_kafkas_rules(string topic, bool valid)
    {
        Assert.Equal(valid, KafkaOptions.ValidateTopicName(topic) is null);
        Assert.Equal(valid, new KafkaOptions { Topic = topic }.Validate() is null);
    }
}
