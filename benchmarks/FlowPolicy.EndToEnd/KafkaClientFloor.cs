using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using Confluent.Kafka;
using FlowPolicy.Ingest.Kafka;
using FlowPolicy.LocalServers.Kafka;

namespace FlowPolicy.EndToEnd;

/// <summary>
/// The Kafka client alone: a child process (`FlowPolicy.EndToEnd consume-child`) that reads every message of the topic
/// with the worker's client and settings (Confluent.Kafka 2.16 with the librdkafka of librdkafka.redist, one consumer, no auto offset
/// store, `consume.result.fields = none`, a <c>byte[]</c> value per message) and throws each one away. Its CPU per
/// million messages is what ingest pays before decoding anything: the floor under the worker's cost on this machine.
/// </summary>
internal static class KafkaClientFloor
{
    /// <summary>
    /// Prints one tab-separated line: messages, value bytes, seconds and CPU seconds from the first message to the
    /// last (so the group join is left out), and the process's peak RSS. Exit 1 when fewer than
    /// <paramref name="expected"/> messages arrive before <paramref name="timeout"/>.
    /// </summary>
    public static int RunChild(string brokers, string topic, string group, long expected, TimeSpan timeout, bool raw = false)
    {
        var kafka = new KafkaOptions { Brokers = brokers, Topic = topic, Group = group };
        var config = kafka.ToConsumerConfig();
        config.EnableAutoOffsetStore = false; // as IngestWorker.ConsumeLoop
        config.EnablePartitionEof = false;
        config.ConsumeResultFields = "none";
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(config).SetLogHandler((_, _) => { }).Build();
        consumer.Subscribe(topic);
        var process = Process.GetCurrentProcess();
        var deadline = Stopwatch.StartNew();
        Stopwatch? clock = null;
        TimeSpan cpuAtFirst = default;
        long messages = 0, bytes = 0;
        // --raw: librdkafka's rd_kafka_consumer_poll on the same handle, the message read in place (no ConsumeResult, no
        // byte[]): what a binding of our own would cost, for comparison only.
        var handle = raw ? RawHandle(consumer) : IntPtr.Zero;
        while (messages < expected && deadline.Elapsed < timeout)
        {
            int length;
            if (raw)
            {
                var message = RdKafka.ConsumerPoll(handle, 100);
                if (message == IntPtr.Zero) continue;
                bool ok = Marshal.ReadInt32(message) == 0;
                length = (int)Marshal.ReadInt64(message, 32); // rd_kafka_message_t.len
                RdKafka.MessageDestroy(message);
                if (!ok) continue;
            }
            else
            {
                var result = consumer.Consume(100);
                if (result?.Message is null) continue;
                length = result.Message.Value.Length;
            }
            if (clock is null)
            {
                process.Refresh();
                cpuAtFirst = process.TotalProcessorTime;
                clock = Stopwatch.StartNew();
            }
            messages++;
            bytes += length;
        }
        double seconds = clock?.Elapsed.TotalSeconds ?? 0;
        process.Refresh();
        double cpu = (process.TotalProcessorTime - cpuAtFirst).TotalSeconds;
        consumer.Close();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{messages}\t{bytes}\t{seconds:F3}\t{cpu:F2}\t{ProcessMemory.Peak(Environment.ProcessId)}"));
        return messages >= expected ? 0 : 1;
    }

    /// <summary>The rd_kafka_t behind a Confluent.Kafka client (Handle.LibrdkafkaHandle is internal; still so in 2.16).</summary>
    private static IntPtr RawHandle(IClient client)
    {
        var property = client.Handle.GetType().GetProperty("LibrdkafkaHandle", BindingFlags.Instance | BindingFlags.NonPublic)
                       ?? throw new InvalidOperationException("Confluent.Kafka's Handle.LibrdkafkaHandle was not found (another version?)");
        return ((SafeHandle)property.GetValue(client.Handle)!).DangerousGetHandle();
    }

    // Bound to the library Confluent.Kafka loaded (LibrdkafkaBinding), so the handle above belongs to it.
    private static class RdKafka
    {
        static RdKafka() => LibrdkafkaBinding.Register(typeof(RdKafka).Assembly);

        [DllImport(LibrdkafkaBinding.Name, EntryPoint = "rd_kafka_consumer_poll")]
        public static extern IntPtr ConsumerPoll(IntPtr rk, int timeoutMs);

        [DllImport(LibrdkafkaBinding.Name, EntryPoint = "rd_kafka_message_destroy")]
        public static extern void MessageDestroy(IntPtr message);
    }
}
