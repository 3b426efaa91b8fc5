using System.Diagnostics;
using Confluent.Kafka;
using FlowPolicy.LocalServers.Kafka;

namespace FlowPolicy.IntegrationTests.Kafka;

public sealed class MockKafkaClusterTests
{
    [Fact]
    public void Bootstrap_lists_one_loopback_port_per_broker_and_metadata_agrees()
    {
        using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Brokers = 3 });
        var addresses = cluster.BootstrapServers.Split(',');
        Assert.Equal(3, addresses.Length);
        Assert.All(addresses, a => Assert.StartsWith("127.0.0.1:", a));

        using var admin = new AdminClientBuilder(KafkaTestClients.Options(cluster, "t").ToAdminClientConfig()).Build();
        var metadata = admin.GetMetadata(TimeSpan.FromSeconds(10));
        Assert.Equal(addresses.Order(), metadata.Brokers.Select(b => $"{b.Host}:{b.Port}").Order());
    }

    [Fact]
    public void Topics_created_up_front_get_the_requested_partitions_and_others_get_four()
    {
        using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Brokers = 2, Partitions = 6, Topics = ["flows"] });
        using var producer = KafkaTestClients.Producer(cluster);
        producer.Produce("elsewhere", new Message<byte[], byte[]> { Value = [1] });
        producer.Flush(TimeSpan.FromSeconds(10));

        using var admin = new AdminClientBuilder(KafkaTestClients.Options(cluster, "t").ToAdminClientConfig()).Build();
        Assert.Equal(6, admin.GetMetadata("flows", TimeSpan.FromSeconds(10)).Topics.Single().Partitions.Count);
        Assert.Equal(MockKafkaCluster.AutoCreatedPartitions, admin.GetMetadata("elsewhere", TimeSpan.FromSeconds(10)).Topics.Single().Partitions.Count);
    }

    [Fact]
    public void Creating_an_existing_topic_fails_with_a_clear_error()
    {
        using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Topics = ["flows"] });
        var error = Assert.Throws<InvalidOperationException>(() => cluster.CreateTopic("flows", 3));
        Assert.Contains("flows", error.Message);
    }

    [Fact]
    public void Invalid_options_are_rejected_before_anything_starts()
    {
        Assert.Throws<ArgumentException>(() => MockKafkaCluster.Start(new MockKafkaClusterOptions { Brokers = 0 }));
        Assert.Throws<ArgumentException>(() => MockKafkaCluster.Start(new MockKafkaClusterOptions { Topics = ["bad topic"] }));
    }

    [Fact]
    public async Task Kcat_in_another_process_sees_the_mock_brokers_and_topics()
    {
        using var cluster = MockKafkaCluster.Start(new MockKafkaClusterOptions { Brokers = 2, Partitions = 3, Topics = ["flows"] });
        using var kcat = Process.Start(new ProcessStartInfo("kcat", ["-b", cluster.BootstrapServers, "-L", "-m", "10"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("kcat did not start (apt-get install kcat)");
        var output = await kcat.StandardOutput.ReadToEndAsync();
        await kcat.WaitForExitAsync();

        Assert.Equal(0, kcat.ExitCode);
        Assert.Contains("2 brokers:", output);
        Assert.Contains("topic \"flows\" with 3 partitions", output);
    }

    [Fact]
    public async Task Dev_broker_prints_its_bootstrap_first_and_stops_cleanly_on_cancel()
    {
        using var output = new StringWriter();
        var runner = new DevBrokerRunner(new MockKafkaClusterOptions { Topics = ["flows"], Partitions = 2 }, output);
        using var stop = new CancellationTokenSource();
        var run = runner.RunAsync(stop.Token);
        var bootstrap = await runner.Ready.WaitAsync(TimeSpan.FromSeconds(30));

        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build())
        {
            Assert.Equal(2, admin.GetMetadata("flows", TimeSpan.FromSeconds(10)).Topics.Single().Partitions.Count);
        }
        await stop.CancelAsync();

        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(bootstrap, output.ToString().Split('\n')[0].TrimEnd('\r'));
    }
}
